//! A sink that drops everything, counting records and bytes: for benchmarks.

use super::{AckedAtOnce, Delivery, OutRecord, Sink, SinkError};

/// Discards records; every one is acknowledged.
#[derive(Debug, Default)]
pub struct NullSink {
    /// Records received.
    pub records: u64,
    /// Payload bytes received.
    pub bytes: u64,
    acked: AckedAtOnce,
    /// Whether to report outcomes (off when nobody polls, to save memory).
    pub report: bool,
}

impl Sink for NullSink {
    fn name(&self) -> &str {
        "null"
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        self.records += 1;
        self.bytes += record.payload.len() as u64;
        if self.report {
            self.acked.ack(record.index);
        }
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.acked.drain_into(out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.acked.drain_into(out);
        Ok(())
    }
}
