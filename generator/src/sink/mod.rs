//! Where records go: the seam between the generator and a transport.
//!
//! A sink takes records in send order and reports a *delivery outcome* for
//! each, when it knows it: at once for files and stdout, later for a
//! broker (acknowledged, failed, or indeterminate after a timeout). Truth
//! waits for a record's outcome before admitting it, in order, so a sink
//! may resolve outcomes out of order and late.

mod file;
mod kafka;
mod null;

pub use file::{FileSink, LineSink, StdoutSink};
pub use kafka::KafkaSink;
pub use null::NullSink;

use crate::record::Labels;

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Written and confirmed.
    Acked,
    /// Definitely not written.
    Failed,
    /// Unknown (a timeout): it may or may not have landed.
    Indeterminate,
}

/// The outcome of the record sent with `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The record's index in send order (its line in `events.jsonl`).
    pub index: u64,
    /// Its outcome.
    pub outcome: DeliveryOutcome,
}

/// Outcomes of a sink that knows each one when it sends: every record is
/// acked at once and handed out at the next poll.
#[derive(Debug, Default)]
struct AckedAtOnce(Vec<Delivery>);

impl AckedAtOnce {
    fn ack(&mut self, index: u64) {
        self.0.push(Delivery {
            index,
            outcome: DeliveryOutcome::Acked,
        });
    }

    fn drain_into(&mut self, out: &mut Vec<Delivery>) {
        out.append(&mut self.0);
    }
}

/// One record as a sink receives it.
#[derive(Debug, Clone, Copy)]
pub struct OutRecord<'a> {
    /// Index in send order, from 0.
    pub index: u64,
    /// Intended send time, simulated epoch ms.
    pub send_time: i64,
    /// The record key: the user id.
    pub key: &'a str,
    /// The serialized record, without a trailing newline.
    pub payload: &'a [u8],
    /// Fault labels (harness bookkeeping: never in the payload).
    pub labels: Labels,
}

/// Why a sink failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to a file or stream failed.
    #[error("cannot write to {target}: {source}")]
    Io {
        target: String,
        source: std::io::Error,
    },
    /// A transport-level failure that stops the run.
    #[error("{sink} sink: {message}")]
    Transport { sink: String, message: String },
}

/// A destination for records.
pub trait Sink {
    /// Short name for logs and the summary (`file`, `stdout`, `null`).
    fn name(&self) -> &str;

    /// Sends one record. May return before the outcome is known.
    ///
    /// # Errors
    /// [`SinkError`] when the sink cannot go on at all.
    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError>;

    /// Moves the outcomes resolved since the last call into `out`.
    ///
    /// # Errors
    /// [`SinkError`] when the sink cannot go on at all.
    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError>;

    /// Flushes, waits for every outstanding outcome (a sink may give up and
    /// call the rest indeterminate) and moves them into `out`.
    ///
    /// # Errors
    /// [`SinkError`] when flushing fails.
    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError>;
}
