//! librdkafka's logs and client errors, routed to `tracing`.
//!
//! librdkafka repeats itself while a broker is down (every reconnect
//! attempt logs and raises an error). The first occurrence of each kind is a
//! warning; repeats are counted and logged at debug only.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A client context that logs through `tracing` and counts client errors.
#[derive(Debug, Default)]
pub struct TracingContext {
    seen: Mutex<BTreeMap<String, u64>>,
}

impl TracingContext {
    /// Client errors and librdkafka warnings so far, by kind, in name order.
    pub fn error_counts(&self) -> BTreeMap<String, u64> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }

    /// Counts one occurrence of `kind`; true when it is the first.
    fn first(&self, kind: String) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let count = seen.entry(kind).or_insert(0);
        *count += 1;
        *count == 1
    }
}

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if self.first(format!("log:{facility}")) {
                    tracing::warn!(facility, message, "librdkafka (repeats logged at debug)");
                } else {
                    tracing::debug!(facility, message, "librdkafka");
                }
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(facility, message, "librdkafka");
            }
            RDKafkaLogLevel::Debug => tracing::trace!(facility, message, "librdkafka"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // End of partition is how a reader learns it is caught up: news,
        // not trouble.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!(reason, "end of partition");
            return;
        }
        let kind = match error.rdkafka_error_code() {
            Some(code) => format!("error:{code:?}"),
            None => "error:other".to_string(),
        };
        if self.first(kind) {
            tracing::warn!(%error, reason, "kafka client error (repeats logged at debug)");
        } else {
            tracing::debug!(%error, reason, "kafka client error");
        }
    }
}

impl ConsumerContext for TracingContext {}
