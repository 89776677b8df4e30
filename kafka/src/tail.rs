//! A live tail of a topic: every record, stamped with the harness clock
//! (`Instant`, monotonic) the moment this process first sees it. The
//! verifier measures lag from these stamps while a run is going on.
//!
//! The tail takes no part in any consumer group: it is assigned every
//! partition the topic has when the tail starts, and commits nothing.

use crate::context::TracingContext;
use crate::readback::ReadRecord;
use crate::settings::KafkaSettings;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A tail that failed.
#[derive(Debug, Error)]
pub enum TailError {
    /// The consumer could not be created or assigned.
    #[error("starting a tail of topic {topic} on {bootstrap}")]
    Start {
        /// Topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The topic does not exist (yet).
    #[error("topic {topic} does not exist on {bootstrap}")]
    NoSuchTopic {
        /// Topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
    },
    /// Consuming failed; the tail stays usable and retries on the next call.
    #[error("tailing topic {topic}")]
    Consume {
        /// Topic.
        topic: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
}

/// Where a tail starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailStart {
    /// The oldest record of each partition: nothing written before the tail
    /// started is missed.
    Beginning,
    /// The end of each partition: only records written from now on.
    End,
}

/// A record and when this process first saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRecord {
    /// The record.
    pub record: ReadRecord,
    /// The harness clock when the record arrived.
    pub seen_at: Instant,
}

/// A live consumer of every partition of one topic.
pub struct TailConsumer {
    consumer: StreamConsumer<TracingContext>,
    topic: String,
    partitions: usize,
}

impl std::fmt::Debug for TailConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailConsumer")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl TailConsumer {
    /// Starts tailing every partition `topic` has now.
    ///
    /// # Errors
    ///
    /// [`TailError::Start`] when the consumer cannot be created or metadata
    /// cannot be read within `timeout`; [`TailError::NoSuchTopic`].
    pub fn start(
        settings: &KafkaSettings,
        bootstrap: &str,
        topic: &str,
        from: TailStart,
        timeout: Duration,
    ) -> Result<TailConsumer, TailError> {
        let start_error = |source| TailError::Start {
            topic: topic.to_string(),
            bootstrap: bootstrap.to_string(),
            source: Box::new(source),
        };
        let mut config = settings.reader_config(bootstrap);
        config.set("enable.partition.eof", "false");
        let consumer: StreamConsumer<TracingContext> = config
            .create_with_context(TracingContext::default())
            .map_err(start_error)?;
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(start_error)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(TailError::NoSuchTopic {
                topic: topic.to_string(),
                bootstrap: bootstrap.to_string(),
            });
        }
        let offset = match from {
            TailStart::Beginning => Offset::Beginning,
            TailStart::End => Offset::End,
        };
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            assignment
                .add_partition_offset(topic, partition, offset)
                .map_err(start_error)?;
        }
        consumer.assign(&assignment).map_err(start_error)?;
        tracing::debug!(topic, partitions = partitions.len(), ?from, "tail started");
        Ok(TailConsumer {
            consumer,
            topic: topic.to_string(),
            partitions: partitions.len(),
        })
    }

    /// The next record, stamped on arrival.
    ///
    /// # Errors
    ///
    /// [`TailError::Consume`] for a consumer error (a broker unreachable,
    /// say); the tail stays usable.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a record is taken from librdkafka's queue only when this
    /// future completes.
    pub async fn next(&self) -> Result<SeenRecord, TailError> {
        let message = self
            .consumer
            .recv()
            .await
            .map_err(|source| TailError::Consume {
                topic: self.topic.clone(),
                source: Box::new(source),
            })?;
        let seen_at = Instant::now();
        Ok(SeenRecord {
            record: ReadRecord::from_message(&message),
            seen_at,
        })
    }
}
