//! Progress of a running pipeline, for whoever watches it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Progress of a running pipeline, shared with whoever watches it (tests,
/// the `run` orchestrator).
#[derive(Debug, Default)]
pub struct Progress {
    assigned: Mutex<BTreeSet<i32>>,
    next_offsets: Mutex<BTreeMap<i32, i64>>,
    pub(super) committed_through: Mutex<BTreeMap<i32, i64>>,
    pub(super) commits: AtomicU64,
}

impl Progress {
    /// Input partitions currently assigned to this pipeline. Empty until the
    /// consumer group has given it its share: producing before then only
    /// adds the group join to every lag measured.
    pub fn assigned(&self) -> BTreeSet<i32> {
        self.assigned.lock().expect("progress poisoned").clone()
    }

    pub(super) fn assign(&self, partitions: impl IntoIterator<Item = i32>) {
        self.assigned
            .lock()
            .expect("progress poisoned")
            .extend(partitions);
    }

    pub(super) fn revoke(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut assigned = self.assigned.lock().expect("progress poisoned");
        for partition in partitions {
            assigned.remove(&partition);
        }
    }

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
