//! The live tail of the sessions topic: every output record, stamped on
//! the harness clock when this process first sees it.

use crate::run::clock::HarnessClock;
use crate::run::wait::Signals;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use watchload_kafka::{ReadRecord, TailConsumer};

/// An output record and when it was first seen (harness epoch ms).
#[derive(Debug, Clone)]
pub struct SeenOutput {
    /// The record as read.
    pub record: ReadRecord,
    /// First seen, harness epoch ms.
    pub seen_ms: i64,
}

/// What the tail collected.
#[derive(Debug, Default)]
pub struct TailResult {
    /// Every record, in the order seen.
    pub records: Vec<SeenOutput>,
    /// Consumer errors met (the tail retried after each).
    pub errors: u64,
}

/// A running tail; [`TailTask::stop`] ends it and returns what it saw.
#[derive(Debug)]
pub struct TailTask {
    stop: watch::Sender<bool>,
    handle: JoinHandle<TailResult>,
}

impl TailTask {
    /// Starts consuming `tail` on the runtime.
    pub fn spawn(tail: TailConsumer, clock: HarnessClock, signals: Arc<Signals>) -> TailTask {
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(tail, clock, signals, stopped));
        TailTask { stop, handle }
    }

    /// Stops the tail and returns every record it saw.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: cancelling loses the records.
    pub async fn stop(self) -> TailResult {
        let _ = self.stop.send(true);
        self.handle.await.unwrap_or_default()
    }
}

async fn run(
    tail: TailConsumer,
    clock: HarnessClock,
    signals: Arc<Signals>,
    mut stopped: watch::Receiver<bool>,
) -> TailResult {
    let mut result = TailResult::default();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            next = tail.next() => take(next, &clock, &signals, &mut result).await,
        }
    }
    result
}

async fn take(
    next: Result<watchload_kafka::SeenRecord, watchload_kafka::TailError>,
    clock: &HarnessClock,
    signals: &Signals,
    result: &mut TailResult,
) {
    match next {
        Ok(seen) => {
            signals.outputs.fetch_add(1, Ordering::Relaxed);
            result.records.push(SeenOutput {
                seen_ms: clock.epoch_ms(seen.seen_at),
                record: seen.record,
            });
        }
        Err(error) => {
            result.errors += 1;
            tracing::debug!(%error, "sessions tail retrying");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
