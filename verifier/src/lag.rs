//! Lag: how long after a truth session could have been closed did a correct
//! version of it show up in the output. Pure: no I/O, no clock.
//!
//! For one truth session of user `u` on input partition `p`:
//!
//! - the **closing record** is the first record of `p`, in partition order,
//!   whose `event_time` is greater than `session_end + session_gap`: the
//!   record that lets a per-partition watermark close the session. Only a
//!   record that raises the partition's largest `event_time` so far can be
//!   the first one past a bound, so [`Closers`] keeps just those;
//! - the session is **due** at the closing record's intended send time (on
//!   the absolute schedule, not when it was actually sent, so a stalled
//!   producer cannot hide lag);
//! - it is **seen** at the first time a version equal to it (for a
//!   tolerated session: any version overlapping it) was read from the
//!   output, on the same harness clock;
//! - lag = seen - due. A version seen before it was due (a pipeline that
//!   emits every update) counts as lag 0 and is counted as `early`.
//!
//! Sessions with no closing record (the stream ended first) are `unclosed`;
//! sessions never seen correctly are `never_seen` (the verifier reports
//! them as missing or wrong; lag leaves them out).

use crate::decode::OutputSession;
use crate::matching::is_exact;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use watchload_model::TruthSession;

/// Largest lag the histograms record, ms (one day); longer lags are
/// clamped to it and still counted.
pub const MAX_TRACKED_LAG_MS: u64 = 24 * 3_600_000;

/// A new histogram for lag in ms (3 significant digits).
pub fn lag_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_LAG_MS, 3).expect("bounds are valid")
}

/// Records `lag_ms` in `histogram`, clamped to what it can hold.
pub fn record_lag(histogram: &mut Histogram<u64>, lag_ms: u64) {
    histogram.saturating_record(lag_ms.clamp(1, MAX_TRACKED_LAG_MS));
}

/// A record that raised its partition's largest `event_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closer {
    /// Its `event_time`, epoch ms.
    pub event_time: i64,
    /// Its intended send time on the harness clock, epoch ms.
    pub intended_ms: i64,
}

/// The records that can close sessions, per partition, in partition order.
#[derive(Debug, Clone, Default)]
pub struct Closers {
    partitions: BTreeMap<i32, Vec<Closer>>,
}

impl Closers {
    /// An empty log.
    pub fn new() -> Closers {
        Closers::default()
    }

    /// Takes the next valid event of `partition` (records of one partition
    /// must come in offset order; partitions may interleave).
    pub fn push(&mut self, partition: i32, event_time: i64, intended_ms: i64) {
        let log = self.partitions.entry(partition).or_default();
        if log.last().map_or(true, |last| event_time > last.event_time) {
            log.push(Closer {
                event_time,
                intended_ms,
            });
        }
    }

    /// The first record of `partition` with `event_time > bound`.
    pub fn first_past(&self, partition: i32, bound: i64) -> Option<Closer> {
        let log = self.partitions.get(&partition)?;
        let at = log.partition_point(|c| c.event_time <= bound);
        log.get(at).copied()
    }

    /// Records kept, over all partitions.
    pub fn len(&self) -> usize {
        self.partitions.values().map(Vec::len).sum()
    }

    /// Whether no record was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every version read from the output, with when it was first seen, by
/// user, in the order seen.
#[derive(Debug, Clone, Default)]
pub struct SeenLog {
    users: HashMap<String, Vec<(i64, OutputSession)>>,
    versions: u64,
}

impl SeenLog {
    /// An empty log.
    pub fn new() -> SeenLog {
        SeenLog::default()
    }

    /// Takes a version first seen at `seen_ms` (harness clock, epoch ms).
    /// Versions must come in the order seen.
    pub fn push(&mut self, seen_ms: i64, session: OutputSession) {
        self.versions += 1;
        self.users
            .entry(session.user_id.clone())
            .or_default()
            .push((seen_ms, session));
    }

    /// Versions taken.
    pub fn versions(&self) -> u64 {
        self.versions
    }

    /// When the first version accepted as `truth` was seen.
    pub fn first_accepted(&self, truth: &TruthSession) -> Option<i64> {
        let versions = self.users.get(&truth.session.user_id)?;
        let t = &truth.session;
        versions
            .iter()
            .find(|(_, out)| {
                if truth.tolerated {
                    out.session_start <= t.session_end && t.session_start <= out.session_end
                } else {
                    is_exact(truth, out)
                }
            })
            .map(|(seen, _)| *seen)
    }
}

/// The lag of one truth session that was closed and seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLag {
    /// `user_id@session_start`.
    pub session_id: String,
    /// When it was due (the closing record's intended send time), epoch ms.
    pub due_ms: i64,
    /// When a correct version was first seen, epoch ms.
    pub seen_ms: i64,
    /// `seen_ms - due_ms`, at least 0.
    pub lag_ms: u64,
}

/// Everything [`measure`] needs.
#[derive(Debug, Clone, Copy)]
pub struct LagInputs<'a> {
    /// The truth sessions.
    pub truth: &'a [TruthSession],
    /// The input partition of each user.
    pub user_partition: &'a HashMap<String, i32>,
    /// The records that can close sessions.
    pub closers: &'a Closers,
    /// The output versions with their first-seen times.
    pub seen: &'a SeenLog,
    /// `SessionRules::session_gap_ms`.
    pub session_gap_ms: i64,
}

/// Lag over all truth sessions.
#[derive(Debug, Clone)]
pub struct LagMeasurement {
    /// Sessions closed and seen, sorted by `due_ms` then `session_id`.
    pub sessions: Vec<SessionLag>,
    /// Their lags, ms.
    pub histogram: Histogram<u64>,
    /// Of them, tolerated sessions (seen as any overlapping version).
    pub tolerated: u64,
    /// Of them, seen before they were due.
    pub early: u64,
    /// Truth sessions with no closing record.
    pub unclosed: u64,
    /// Truth sessions closed but never seen correctly.
    pub never_seen: u64,
    /// Truth sessions whose user has no input partition (no input record).
    pub unknown_partition: u64,
}

/// Measures the lag of every truth session.
pub fn measure(inputs: &LagInputs<'_>) -> LagMeasurement {
    let mut m = LagMeasurement {
        sessions: Vec::new(),
        histogram: lag_histogram(),
        tolerated: 0,
        early: 0,
        unclosed: 0,
        never_seen: 0,
        unknown_partition: 0,
    };
    for truth in inputs.truth {
        let s = &truth.session;
        let Some(&partition) = inputs.user_partition.get(&s.user_id) else {
            m.unknown_partition += 1;
            continue;
        };
        let bound = s.session_end.saturating_add(inputs.session_gap_ms);
        let Some(closer) = inputs.closers.first_past(partition, bound) else {
            m.unclosed += 1;
            continue;
        };
        let Some(seen_ms) = inputs.seen.first_accepted(truth) else {
            m.never_seen += 1;
            continue;
        };
        if seen_ms < closer.intended_ms {
            m.early += 1;
        }
        if truth.tolerated {
            m.tolerated += 1;
        }
        let lag_ms = (seen_ms - closer.intended_ms).max(0) as u64;
        record_lag(&mut m.histogram, lag_ms);
        m.sessions.push(SessionLag {
            session_id: truth.session_id.clone(),
            due_ms: closer.intended_ms,
            seen_ms,
            lag_ms,
        });
    }
    m.sessions
        .sort_by(|a, b| (a.due_ms, &a.session_id).cmp(&(b.due_ms, &b.session_id)));
    m
}

/// Percentiles of a lag histogram, ms, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagSummary {
    /// Sessions measured.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl LagSummary {
    /// Summarizes `histogram`; all zero when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> LagSummary {
        if histogram.is_empty() {
            return LagSummary::default();
        }
        // Values are recorded at least 1 (the histogram's lowest bound):
        // a recorded 1 stands for "0 or 1 ms".
        let at = |q: f64| histogram.value_at_quantile(q);
        LagSummary {
            count: histogram.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Origin;
    use watchload_model::WatchSession;

    const GAP: i64 = 1_000;

    fn session(user: &str, start: i64, end: i64) -> WatchSession {
        WatchSession {
            user_id: user.to_string(),
            session_start: start,
            session_end: end,
            event_count: 2,
            playbacks: 1,
            content_ids: vec!["c".to_string()],
            watch_ms: 10,
            device_switches: 0,
            devices: Vec::new(),
        }
    }

    fn truth(user: &str, start: i64, end: i64, tolerated: bool) -> TruthSession {
        let session = session(user, start, end);
        TruthSession {
            session_id: session.key(),
            session,
            tolerated,
            fault_counts: BTreeMap::new(),
            fault_samples: Vec::new(),
        }
    }

    fn output(s: &WatchSession) -> OutputSession {
        OutputSession::complete(
            s,
            Origin {
                stream: 0,
                position: 0,
            },
        )
    }

    fn partitions(users: &[(&str, i32)]) -> HashMap<String, i32> {
        users.iter().map(|(u, p)| (u.to_string(), *p)).collect()
    }

    #[test]
    fn the_closer_is_the_first_record_strictly_past_end_plus_gap() {
        let mut c = Closers::new();
        // (event_time, intended): 1_000 ties the bound, 900 does not raise
        // the maximum, 1_001 is the first past it.
        for (t, at) in [(100, 10), (1_000, 20), (900, 30), (1_001, 40), (5_000, 50)] {
            c.push(0, t, at);
        }
        assert_eq!(c.len(), 4, "the record at 900 can never close anything");
        assert_eq!(c.first_past(0, 1_000).map(|x| x.intended_ms), Some(40));
        assert_eq!(c.first_past(0, 99).map(|x| x.intended_ms), Some(10));
        assert_eq!(c.first_past(0, 5_000), None);
        assert_eq!(c.first_past(1, 0), None, "other partitions do not close");
    }

    #[test]
    fn lag_runs_from_the_closing_records_intended_send_to_the_first_exact_version() {
        let t = truth("a", 0, 100, false);
        let mut closers = Closers::new();
        closers.push(0, 100, 1_000);
        closers.push(0, 100 + GAP + 1, 2_000); // closes the session
        closers.push(0, 10_000, 3_000);
        let mut seen = SeenLog::new();
        let mut wrong = output(&t.session);
        wrong.watch_ms = Some(9); // an intermediate version, not yet right
        seen.push(2_100, wrong);
        seen.push(2_350, output(&t.session));
        seen.push(2_900, output(&t.session)); // a later copy changes nothing
        let users = partitions(&[("a", 0)]);
        let m = measure(&LagInputs {
            truth: std::slice::from_ref(&t),
            user_partition: &users,
            closers: &closers,
            seen: &seen,
            session_gap_ms: GAP,
        });
        assert_eq!(m.sessions.len(), 1);
        assert_eq!(m.sessions[0].due_ms, 2_000);
        assert_eq!(m.sessions[0].lag_ms, 350);
        let summary = LagSummary::of(&m.histogram);
        assert_eq!(summary.count, 1);
        assert!((349..=351).contains(&summary.max), "{summary:?}");
    }

    #[test]
    fn unclosed_never_seen_and_early_sessions_are_counted_apart() {
        let closed_late = truth("a", 0, 100, false);
        let unclosed = truth("a", 50_000, 50_100, false);
        let never = truth("b", 0, 100, false);
        let early = truth("c", 0, 100, false);
        let orphan = truth("d", 0, 100, false);
        let mut closers = Closers::new();
        closers.push(0, 20_000, 5_000);
        closers.push(1, 20_000, 6_000);
        let mut seen = SeenLog::new();
        seen.push(4_000, output(&early.session)); // before due at 6_000
        seen.push(7_000, output(&closed_late.session));
        let users = partitions(&[("a", 0), ("b", 0), ("c", 1)]);
        let all = [closed_late, unclosed, never, early, orphan];
        let m = measure(&LagInputs {
            truth: &all,
            user_partition: &users,
            closers: &closers,
            seen: &seen,
            session_gap_ms: GAP,
        });
        assert_eq!(m.sessions.len(), 2);
        assert_eq!((m.unclosed, m.never_seen, m.early), (1, 1, 1));
        assert_eq!(m.unknown_partition, 1);
        let early_lag = m.sessions.iter().find(|s| s.session_id == "c@0").unwrap();
        assert_eq!(early_lag.lag_ms, 0);
        let late = m.sessions.iter().find(|s| s.session_id == "a@0").unwrap();
        assert_eq!(late.lag_ms, 2_000);
    }

    #[test]
    fn a_tolerated_session_is_seen_as_any_overlapping_version() {
        let t = truth("a", 0, 100, true);
        let mut closers = Closers::new();
        closers.push(0, 5_000, 1_000);
        let mut seen = SeenLog::new();
        seen.push(1_500, output(&session("a", 200, 300))); // no overlap
        seen.push(1_700, output(&session("a", 50, 60))); // the other variant
        let users = partitions(&[("a", 0)]);
        let m = measure(&LagInputs {
            truth: std::slice::from_ref(&t),
            user_partition: &users,
            closers: &closers,
            seen: &seen,
            session_gap_ms: GAP,
        });
        assert_eq!(m.tolerated, 1);
        assert_eq!(m.sessions[0].lag_ms, 700);
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = lag_histogram();
        for lag in 1..=1_000u64 {
            record_lag(&mut h, lag);
        }
        record_lag(&mut h, 10 * MAX_TRACKED_LAG_MS); // clamped, still counted
        let s = LagSummary::of(&h);
        assert_eq!(s.count, 1_001);
        assert!((499..=501).contains(&s.p50), "{s:?}");
        assert!((989..=991).contains(&s.p99), "{s:?}");
        assert!(s.max >= MAX_TRACKED_LAG_MS, "{s:?}");
        assert_eq!(LagSummary::of(&lag_histogram()), LagSummary::default());
    }
}
