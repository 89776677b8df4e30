//! The live progress line on stderr: records produced and their rate,
//! output records, and the pipeline's consumer-group lag, redrawn once a
//! second. Drawn only when asked (a terminal), never into logs.

use crate::run::clock::HarnessClock;
use crate::run::wait::Signals;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A running progress line.
#[derive(Debug)]
pub struct ProgressLine {
    produced: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// Starts drawing when `enabled`.
    pub fn start(enabled: bool, signals: Arc<Signals>, clock: HarnessClock) -> ProgressLine {
        let produced = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = enabled.then(|| {
            tokio::spawn(draw(
                Arc::clone(&produced),
                signals,
                clock,
                Arc::clone(&stop),
            ))
        });
        ProgressLine {
            produced,
            stop,
            task,
        }
    }

    /// The counter the generator's progress callback updates.
    pub fn produced_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.produced)
    }

    /// Stops drawing and clears the line.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task {
            let _ = task.await;
            eprint!("\r\x1b[2K");
        }
    }
}

async fn draw(
    produced: Arc<AtomicU64>,
    signals: Arc<Signals>,
    clock: HarnessClock,
    stop: Arc<AtomicBool>,
) {
    let started = clock.now_ms();
    let mut last = (started, 0u64);
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = clock.now_ms();
        let count = produced.load(Ordering::Relaxed);
        let rate = (count - last.1.min(count)) as f64 * 1_000.0 / (now - last.0).max(1) as f64;
        last = (now, count);
        let outputs = signals.outputs.load(Ordering::Relaxed);
        let lag = match signals.consumer_lag.load(Ordering::Relaxed) {
            l if l < 0 => "?".to_string(),
            l => l.to_string(),
        };
        eprint!(
            "\r\x1b[2K{:>5}s  produced {count} ({rate:.0}/s)  sessions out {outputs}  consumer lag {lag}",
            (now - started) / 1_000
        );
        let _ = std::io::stderr().flush();
    }
}
