//! Delivery outcomes: what became of each record handed to the producer.
//!
//! A record resolves to exactly one of three outcomes:
//!
//! - **acked**: the broker acknowledged it at a partition and offset;
//! - **failed**: it was definitely not written. Only errors that are a
//!   property of the record or of the client's rights count (too large,
//!   invalid, not authorized, unknown topic: every attempt fails the same
//!   way), or the record never left the client (refused by `produce`, purged
//!   from the local queue);
//! - **indeterminate**: anything else, above all a message timeout or a
//!   broken connection after the request may have reached the broker. A
//!   timeout does not mean the write failed; the record is resolved later by
//!   reading the topic back (see [`crate::reconcile`]).
//!
//! When in doubt the classification says indeterminate: calling a written
//! record failed would make reconciliation report a write that "should not
//! be there", while calling a failed record indeterminate only costs a
//! look-up.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The three delivery outcomes, without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    /// Acknowledged by the broker.
    Acked,
    /// Definitely not written.
    Failed,
    /// Maybe written: resolved by reading the topic back.
    Indeterminate,
}

impl OutcomeKind {
    /// Lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Acked => "acked",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Indeterminate => "indeterminate",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The delivery outcome of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Acknowledged at this partition and offset.
    Acked {
        /// Partition the broker wrote the record to.
        partition: i32,
        /// Offset of the record in that partition.
        offset: i64,
    },
    /// Definitely not written, with librdkafka's error.
    Failed {
        /// The error that settled it.
        error: RDKafkaErrorCode,
    },
    /// Maybe written, with librdkafka's error.
    Indeterminate {
        /// The error that left it open.
        error: RDKafkaErrorCode,
    },
}

impl DeliveryOutcome {
    /// The outcome without detail.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            DeliveryOutcome::Acked { .. } => OutcomeKind::Acked,
            DeliveryOutcome::Failed { .. } => OutcomeKind::Failed,
            DeliveryOutcome::Indeterminate { .. } => OutcomeKind::Indeterminate,
        }
    }

    /// The outcome of a record whose delivery report carried `error`.
    pub fn from_error(error: &KafkaError) -> DeliveryOutcome {
        let code = error.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
        if is_definite_failure(code) {
            DeliveryOutcome::Failed { error: code }
        } else {
            DeliveryOutcome::Indeterminate { error: code }
        }
    }

    /// librdkafka's name of the error, e.g. `MessageTimedOut`; `None` when
    /// acked.
    pub fn error_name(&self) -> Option<String> {
        match self {
            DeliveryOutcome::Acked { .. } => None,
            DeliveryOutcome::Failed { error } | DeliveryOutcome::Indeterminate { error } => {
                Some(format!("{error:?}"))
            }
        }
    }
}

/// Errors after which the record is certainly not in the log.
fn is_definite_failure(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as E;
    matches!(
        code,
        // Never left the client.
        E::PurgeQueue
            | E::BadMessage
            | E::InvalidArgument
            | E::UnknownPartition
            | E::UnknownTopic
            | E::KeySerialization
            | E::ValueSerialization
            // The broker refuses the record itself on every attempt.
            | E::InvalidMessage
            | E::InvalidMessageSize
            | E::MessageSizeTooLarge
            | E::MessageBatchTooLarge
            | E::InvalidRecord
            | E::InvalidTimestamp
            | E::UnsupportedForMessageFormat
            | E::UnsupportedCompressionType
            | E::PolicyViolation
            | E::InvalidTopic
            | E::UnknownTopicOrPartition
            | E::InvalidRequiredAcks
            // The client may not write at all.
            | E::TopicAuthorizationFailed
            | E::ClusterAuthorizationFailed
            | E::TransactionalIdAuthorizationFailed
            | E::SaslAuthenticationFailed
            | E::Authentication
    )
}

/// Counts of delivery outcomes. Invariant: `generated = acked + failed +
/// indeterminate + pending`, and `pending` is 0 once a producer finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeTally {
    /// Records handed to the producer.
    pub generated: u64,
    /// Acknowledged by the broker.
    pub acked: u64,
    /// Definitely not written.
    pub failed: u64,
    /// Maybe written.
    pub indeterminate: u64,
    /// Not resolved yet.
    pub pending: u64,
}

impl OutcomeTally {
    /// Counts the outcomes of a finished producer.
    pub fn of(outcomes: &[DeliveryOutcome]) -> OutcomeTally {
        let mut tally = OutcomeTally {
            generated: outcomes.len() as u64,
            ..OutcomeTally::default()
        };
        for outcome in outcomes {
            match outcome.kind() {
                OutcomeKind::Acked => tally.acked += 1,
                OutcomeKind::Failed => tally.failed += 1,
                OutcomeKind::Indeterminate => tally.indeterminate += 1,
            }
        }
        tally
    }

    /// Whether every generated record is counted exactly once.
    pub fn is_balanced(&self) -> bool {
        self.generated == self.acked + self.failed + self.indeterminate + self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_indeterminate_not_failed() {
        let outcome = DeliveryOutcome::from_error(&KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        ));
        assert_eq!(outcome.kind(), OutcomeKind::Indeterminate);
        let transport = DeliveryOutcome::from_error(&KafkaError::MessageProduction(
            RDKafkaErrorCode::BrokerTransportFailure,
        ));
        assert_eq!(transport.kind(), OutcomeKind::Indeterminate);
        let inflight = DeliveryOutcome::from_error(&KafkaError::MessageProduction(
            RDKafkaErrorCode::PurgeInflight,
        ));
        assert_eq!(inflight.kind(), OutcomeKind::Indeterminate);
    }

    #[test]
    fn refusals_of_the_record_itself_are_failed() {
        for code in [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::PurgeQueue,
        ] {
            let outcome = DeliveryOutcome::from_error(&KafkaError::MessageProduction(code));
            assert_eq!(outcome.kind(), OutcomeKind::Failed, "{code:?}");
        }
    }

    #[test]
    fn the_tally_counts_each_record_once() {
        let outcomes = [
            DeliveryOutcome::Acked {
                partition: 0,
                offset: 0,
            },
            DeliveryOutcome::Failed {
                error: RDKafkaErrorCode::MessageSizeTooLarge,
            },
            DeliveryOutcome::Indeterminate {
                error: RDKafkaErrorCode::MessageTimedOut,
            },
            DeliveryOutcome::Acked {
                partition: 1,
                offset: 0,
            },
        ];
        let tally = OutcomeTally::of(&outcomes);
        assert_eq!((tally.acked, tally.failed, tally.indeterminate), (2, 1, 1));
        assert!(tally.is_balanced());
    }
}
