//! Glue between the judged run and the chaos report: gathers per-record
//! and per-session times from what the run measured.

use super::recovery::Bounds;
use super::report::{self, FaultReport, Inputs, LossSection};
use crate::run::assemble::{Drained, Produced};
use crate::run::truth::{LandedTruth, Schedule};
use crate::run::Run;
use std::collections::BTreeMap;
use watchload_verifier::lag::{LagMeasurement, SeenLog};
use watchload_verifier::report::ThresholdResult;
use watchload_verifier::timeline::Timeline;
use watchload_verifier::Report;

/// What [`sections`] reads.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)]
pub struct Judged<'a> {
    /// The run.
    pub run: &'a Run,
    /// Intended send times.
    pub schedule: &'a Schedule,
    /// The produce phase.
    pub produced: &'a Produced,
    /// The drain phase.
    pub drained: &'a Drained,
    /// Truth from what landed.
    pub landed: &'a LandedTruth,
    /// Lag per session.
    pub measured: &'a LagMeasurement,
    /// Output versions with their first-seen times.
    pub seen: &'a SeenLog,
    /// The verifier's report.
    pub verification: &'a Report,
}

/// The `faults` and `loss` sections; adds `faults_active` to `timeline`.
pub fn sections(j: Judged<'_>, timeline: &mut Timeline) -> (Vec<FaultReport>, LossSection) {
    let log = &j.produced.send_log;
    let intended: Vec<i64> = log
        .sim_send_ms
        .iter()
        .enumerate()
        .map(|(i, &sim)| j.schedule.intended_ms(i as u64, sim))
        .collect();
    let load = (
        j.schedule.start_ms,
        intended
            .iter()
            .copied()
            .max()
            .unwrap_or(j.schedule.start_ms),
    );
    let outcomes: Vec<_> = j
        .produced
        .ledger
        .outcomes
        .iter()
        .map(|o| o.kind())
        .collect();
    let seen_ms: Vec<i64> = j.drained.tail.records.iter().map(|s| s.seen_ms).collect();
    let lags: Vec<(i64, u64)> = j
        .measured
        .sessions
        .iter()
        .map(|s| (s.due_ms, s.lag_ms))
        .collect();
    let r = &j.run.scenario.recovery;
    let bounds = Bounds {
        lag_ms: r.lag.ms() as f64,
        output_share: r.output_rate,
        hold_s: (r.hold.ms() / 1_000).max(1) as usize,
    };
    report::build(Inputs {
        origin_ms: j.run.clock.origin_ms(),
        load,
        records: j.run.chaos.records(),
        bounds,
        timeline,
        sent_ms: &log.sent_ms,
        intended_ms: &intended,
        outcomes: &outcomes,
        fates: &j.landed.reconciliation.fates,
        seen_ms: &seen_ms,
        lags: &lags,
        unmatched: &unmatched(&j),
        classes: &sampled_classes(j.verification),
    })
}

/// Truth sessions no output version matched, each with the time it was
/// due: its closing record's intended send time or, with no closing
/// record, the intended send time of its end.
fn unmatched(j: &Judged<'_>) -> Vec<(String, i64)> {
    let gap = j.run.scenario.rules.to_model().session_gap_ms;
    let mut out = Vec::new();
    for truth in &j.landed.truth {
        if j.seen.first_accepted(truth).is_some() {
            continue;
        }
        let s = &truth.session;
        let closer = j.landed.user_partition.get(&s.user_id).and_then(|&p| {
            j.landed
                .closers
                .first_past(p, s.session_end.saturating_add(gap))
        });
        let due = closer.map_or_else(
            || j.schedule.intended_ms(u64::MAX, s.session_end),
            |c| c.intended_ms,
        );
        out.push((truth.session_id.clone(), due));
    }
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    out
}

/// The verifier's class of each truth session it sampled.
fn sampled_classes(report: &Report) -> BTreeMap<String, String> {
    let mut classes = BTreeMap::new();
    for samples in report.samples.values() {
        for sample in samples {
            for t in &sample.truth {
                classes
                    .entry(t.session_id.clone())
                    .or_insert_with(|| sample.class.clone());
            }
        }
    }
    classes
}

/// The built-in chaos check, shown with the thresholds (and in JUnit):
/// every fault was injected and undone as planned.
pub fn check(faults: &[FaultReport]) -> Option<ThresholdResult> {
    if faults.is_empty() {
        return None;
    }
    let failed = faults.iter().filter(|f| !f.ok).count();
    Some(ThresholdResult {
        expr: "chaos: every fault injected and undone".to_string(),
        actual: failed as f64,
        passed: failed == 0,
    })
}
