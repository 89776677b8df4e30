//! Truth from what was sent: records go through [`TruthBuilder`] in send
//! order (partition 0), each once its delivery outcome is known, and every
//! verdict is written to `records.jsonl`. Closed users are drained as the
//! stream goes, so memory stays bounded by the users active within the
//! last gap plus lateness.

use crate::record::Labels;
use crate::rundir::{RecordLine, RunDir, RunDirError};
use crate::sink::{Delivery, DeliveryOutcome};
use std::collections::{BTreeMap, VecDeque};
use watchload_model::{Admission, SessionRules, TruthBuilder, WatchEvent};

/// How many admitted records between two drains of closed users.
const DRAIN_EVERY: u64 = 8192;

/// A sent record waiting for its delivery outcome.
#[derive(Debug)]
pub struct Pending {
    /// Index in send order.
    pub index: u64,
    /// Intended send time.
    pub send_time: i64,
    /// Record key.
    pub user_id: String,
    /// The event; `None` for poison.
    pub event: Option<WatchEvent>,
    /// Fault labels.
    pub labels: Labels,
}

/// Admission counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admissions {
    pub kept: u64,
    pub duplicates: u64,
    pub expired: u64,
    pub ambiguous: u64,
    pub failed: u64,
    pub truth_sessions: u64,
    pub tolerated_sessions: u64,
}

/// The truth side of a run.
#[derive(Debug)]
pub struct TruthStage {
    builder: TruthBuilder,
    pending: VecDeque<Pending>,
    outcomes: BTreeMap<u64, DeliveryOutcome>,
    counts: Admissions,
    since_drain: u64,
}

impl TruthStage {
    /// Truth under `rules`.
    pub fn new(rules: SessionRules) -> Self {
        TruthStage {
            builder: TruthBuilder::new(rules),
            pending: VecDeque::new(),
            outcomes: BTreeMap::new(),
            counts: Admissions::default(),
            since_drain: 0,
        }
    }

    /// Queues a sent record until its outcome is known.
    pub fn push(&mut self, p: Pending) {
        self.pending.push_back(p);
    }

    /// Applies outcomes and admits every record at the front whose outcome
    /// is known.
    ///
    /// # Errors
    /// [`RunDirError`] when a side file cannot be written.
    pub fn resolve(
        &mut self,
        deliveries: &mut Vec<Delivery>,
        dir: &mut RunDir,
    ) -> Result<(), RunDirError> {
        for d in deliveries.drain(..) {
            self.outcomes.insert(d.index, d.outcome);
        }
        while let Some(front) = self.pending.front() {
            let Some(outcome) = self.outcomes.remove(&front.index) else {
                break;
            };
            let p = self.pending.pop_front().expect("front exists");
            self.admit(p, outcome, dir)?;
        }
        if self.since_drain >= DRAIN_EVERY {
            self.since_drain = 0;
            self.drain(dir)?;
        }
        Ok(())
    }

    fn admit(
        &mut self,
        p: Pending,
        outcome: DeliveryOutcome,
        dir: &mut RunDir,
    ) -> Result<(), RunDirError> {
        self.since_drain += 1;
        let labels: Vec<&'static str> = p.labels.iter().map(|l| l.as_str()).collect();
        let (admission, lateness_ms, event_id) = match (&p.event, outcome) {
            (None, _) => ("poison", 0, None),
            (Some(e), DeliveryOutcome::Failed) => {
                self.counts.failed += 1;
                ("failed", 0, Some(e.event_id.as_str()))
            }
            (Some(e), outcome) => {
                let owned: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
                let known = outcome == DeliveryOutcome::Acked;
                let verdict = self.builder.admit(0, e, known, &owned);
                match verdict.admission {
                    Admission::Kept => self.counts.kept += 1,
                    Admission::Duplicate => self.counts.duplicates += 1,
                    Admission::Expired => self.counts.expired += 1,
                    Admission::Ambiguous => self.counts.ambiguous += 1,
                }
                (
                    verdict.admission.as_str(),
                    verdict.lateness_ms,
                    Some(e.event_id.as_str()),
                )
            }
        };
        dir.record(&RecordLine {
            line: p.index,
            send_time: p.send_time,
            user_id: &p.user_id,
            event_id,
            partition: 0,
            labels,
            admission,
            lateness_ms,
        })
    }

    fn drain(&mut self, dir: &mut RunDir) -> Result<(), RunDirError> {
        for s in self.builder.drain_closed() {
            self.write_session(&s, dir)?;
        }
        for e in self.builder.drain_excluded() {
            dir.excluded(&e)?;
        }
        Ok(())
    }

    fn write_session(
        &mut self,
        s: &watchload_model::TruthSession,
        dir: &mut RunDir,
    ) -> Result<(), RunDirError> {
        self.counts.truth_sessions += 1;
        if s.tolerated {
            self.counts.tolerated_sessions += 1;
        }
        dir.truth(s)
    }

    /// Users whose sessions are still open, for memory reporting.
    pub fn open_users(&self) -> usize {
        self.builder.open_users()
    }

    /// Admits what is left (every outcome must be known by now), closes
    /// every user and returns the counts.
    ///
    /// # Errors
    /// [`RunDirError`] when a side file cannot be written.
    pub fn finish(
        mut self,
        deliveries: &mut Vec<Delivery>,
        dir: &mut RunDir,
    ) -> Result<Admissions, RunDirError> {
        self.resolve(deliveries, dir)?;
        // A sink that never reported an outcome: treat as indeterminate.
        while let Some(p) = self.pending.pop_front() {
            self.admit(p, DeliveryOutcome::Indeterminate, dir)?;
        }
        self.drain(dir)?;
        let mut counts = self.counts;
        let rest = std::mem::replace(
            &mut self.builder,
            TruthBuilder::new(SessionRules::default()),
        );
        for s in rest.finish() {
            counts.truth_sessions += 1;
            if s.tolerated {
                counts.tolerated_sessions += 1;
            }
            dir.truth(&s)?;
        }
        Ok(counts)
    }
}
