//! Counters of what the sessionizer did, for logs and tests.

use crate::validate::PoisonKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the sessionizer did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Records read, poison included.
    pub records: u64,
    /// Records that failed validation, by class.
    pub poison: BTreeMap<PoisonKind, u64>,
    /// Valid events admitted into state.
    pub admitted: u64,
    /// Valid events dropped as copies of an `event_id` in state.
    pub duplicates: u64,
    /// Valid events dropped as later than allowed lateness.
    pub late: u64,
    /// Session versions emitted (upserts).
    pub upserts: u64,
    /// Session keys removed (tombstones).
    pub tombstones: u64,
    /// Records read again after a restart whose outputs were not re-sent.
    pub replayed: u64,
}

impl Stats {
    /// Total poison records.
    pub fn poison_total(&self) -> u64 {
        self.poison.values().sum()
    }
}
