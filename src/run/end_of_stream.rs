//! How a run tells the pipeline that the stream has ended.
//!
//! - `flush-records` (the default): one far-future flush record per
//!   partition after the last event (see `run::flush`); the pipeline keeps
//!   running until the output is quiet, and its watermark closes every
//!   session.
//! - `shutdown`: no flush records. Once the output is quiet after the last
//!   event, the pipeline is stopped gracefully (the reference pipeline with
//!   flush on shutdown, a `--pipeline-cmd` child with SIGTERM) and must
//!   emit its open sessions as it stops; the run then waits for those last
//!   outputs. This is how a batch-like job or a test harness ends a finite
//!   stream, and the only way to see a pipeline that loses its open
//!   sessions at shutdown (defect `no-flush-on-shutdown`).

use crate::run::pipeline::Pipeline;
use crate::run::wait::{self, Signals, WaitEnd, WaitPolicy};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use watchload_pipeline::Stats;

/// How the end of the stream reaches the pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EndOfStream {
    /// Flush records on every partition close every session.
    #[default]
    FlushRecords,
    /// The pipeline is stopped and flushes its open sessions as it stops.
    Shutdown,
}

impl EndOfStream {
    /// The name used on the command line and in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            EndOfStream::FlushRecords => "flush-records",
            EndOfStream::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for EndOfStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndOfStream {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flush-records" => Ok(EndOfStream::FlushRecords),
            "shutdown" => Ok(EndOfStream::Shutdown),
            other => Err(format!(
                "unknown end of stream {other:?}; expected flush-records or shutdown"
            )),
        }
    }
}

/// What stopping the pipeline at the end of the stream left.
#[derive(Debug)]
pub struct ShutdownEnd {
    /// The reference pipeline's counters.
    pub stats: Option<Stats>,
    /// How the wait for the outputs written at shutdown ended.
    pub end: WaitEnd,
    /// How long that wait lasted.
    pub waited: Duration,
}

/// Stops `pipeline` gracefully (it flushes as it stops), then waits for
/// the outputs it wrote while stopping. Leaves [`Pipeline::External`] in
/// its place, so stopping it again does nothing.
///
/// # Errors
///
/// When the reference pipeline failed.
///
/// # Cancel safety
///
/// Not cancel safe: a cancelled stop may leave a child running.
pub async fn stop_and_wait(
    pipeline: &mut Option<Pipeline>,
    policy: WaitPolicy,
    signals: &Signals,
) -> anyhow::Result<ShutdownEnd> {
    let stats = match pipeline.replace(Pipeline::External) {
        Some(running) => running.stop().await?,
        None => None,
    };
    tracing::info!("pipeline stopped for the end of the stream");
    let (end, waited) = wait::wait_for_output(policy, signals).await;
    Ok(ShutdownEnd { stats, end, waited })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in [EndOfStream::FlushRecords, EndOfStream::Shutdown] {
            assert_eq!(mode.as_str().parse::<EndOfStream>(), Ok(mode));
        }
        assert!("sigterm".parse::<EndOfStream>().is_err());
    }
}
