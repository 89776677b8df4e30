//! The Kafka edge: a consumer group on the events topic drives the
//! [`Sessionizer`](crate::Sessionizer); sessions go to the sessions topic
//! keyed by `session_id`, poison records to the dead-letter topic.
//!
//! Delivery semantics: at-least-once with idempotent updates. The producer
//! is idempotent (no duplicates or reordering within a run); offsets are
//! committed only after every output before them is acked, and the
//! committed offset is the oldest record open state still needs (see
//! [`Checkpoint`](crate::Checkpoint)), so a restarted pipeline rebuilds its
//! state and re-sends at most the outputs written since the last commit,
//! each the same key with the same value.

mod context;
mod error;
mod progress;
mod runner;
mod settings;

pub use error::RunnerError;
pub use progress::Progress;
pub use runner::{run, run_until_signal};
pub use settings::KafkaSettings;

/// Header naming the class of problem on a dead letter (e.g.
/// `invalid-json`).
pub const DLQ_REASON: &str = "watchload.dlq.reason";
/// Header with the full sentence describing the problem on a dead letter.
pub const DLQ_DETAIL: &str = "watchload.dlq.detail";
/// Header with `topic/partition/offset` of the input record of a dead
/// letter.
pub const DLQ_SOURCE: &str = "watchload.dlq.source";
/// Input headers with this prefix (harness bookkeeping such as
/// `watchload.send_time`) are copied onto the outputs they cause.
pub const HARNESS_PREFIX: &str = "watchload.";
