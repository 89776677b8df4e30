//! Progress of a running pipeline, for whoever watches it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Progress of a running pipeline, shared with whoever watches it (tests,
/// the `run` orchestrator).
#[derive(Debug, Default)]
pub struct Progress {
    next_offsets: Mutex<BTreeMap<i32, i64>>,
    pub(super) committed_through: Mutex<BTreeMap<i32, i64>>,
    pub(super) commits: AtomicU64,
}

impl Progress {
    /// Per input partition, the offset after the last record processed.
    pub fn next_offsets(&self) -> BTreeMap<i32, i64> {
        self.next_offsets.lock().expect("progress poisoned").clone()
    }

    /// Per input partition, the offset up to which outputs are acked and
    /// committed: what a restart will not re-send.
    pub fn committed_through(&self) -> BTreeMap<i32, i64> {
        self.committed_through
            .lock()
            .expect("progress poisoned")
            .clone()
    }

    /// Number of successful offset commits.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    pub(super) fn processed(&self, partition: i32, offset: i64) {
        let mut offsets = self.next_offsets.lock().expect("progress poisoned");
        offsets.insert(partition, offset + 1);
    }
}
