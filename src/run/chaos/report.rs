//! The report's `faults` and `loss` sections: each fault's window on the
//! run's clock, figures before, during and after it, its recovery time,
//! and which damage falls in it; data lost by the broker told apart from
//! sessions the pipeline lost or got wrong.
//!
//! Times are ms from the run's start (the timelines' bucket 0), so fault
//! `start_ms / 1000` is the timeline bucket it started in.

use super::recovery::{self, Bounds, Series};
use super::{CommandRun, FaultRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use watchload_kafka::{Fate, OutcomeKind};
use watchload_verifier::lag::{lag_histogram, record_lag, LagSummary};
use watchload_verifier::timeline::Timeline;

/// Most damaged sessions listed per fault and in `loss.pipeline`.
const LISTED: usize = 20;

/// One fault in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The action (`broker-down`, ...).
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// When it was injected, ms from the run's start.
    pub start_ms: i64,
    /// When it was undone, ms from the run's start.
    pub end_ms: i64,
    /// Whether it was injected and undone without a problem.
    pub ok: bool,
    /// Problems injecting or undoing it.
    pub errors: Vec<String>,
    /// `exec` commands with their outcomes and logs.
    pub commands: Vec<CommandRun>,
    /// Figures before, during and after the fault.
    pub phases: Phases,
    /// From the end of the fault until lag and output rate were back within
    /// the scenario's `[recovery]` bounds; `null` when they never were
    /// before the load ended (see `recovery_note`).
    pub recovery_ms: Option<u64>,
    /// Why there is no recovery time, or a caveat about it.
    pub recovery_note: Option<String>,
    /// From the end of the fault until the last session due before that
    /// end was first seen correctly: how long the backlog took to clear
    /// (0 when it cleared during the fault; `null` when nothing was due).
    pub catch_up_ms: Option<u64>,
    /// Damage whose time falls from the fault's start to its recovery (or
    /// the end of the load when it never recovered).
    pub damage: Damage,
}

/// Figures of the three phases of a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// From the start of the load to the fault.
    pub before: Phase,
    /// While the fault lasted.
    pub during: Phase,
    /// From the end of the fault to the end of the load.
    pub after: Phase,
}

/// Figures of one phase, `[from_ms, to_ms)` from the run's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Start, ms from the run's start.
    pub from_ms: i64,
    /// End (exclusive).
    pub to_ms: i64,
    /// Records handed to the producer per second; `null` for an empty phase.
    pub produced_per_s: Option<f64>,
    /// Output records seen per second.
    pub output_per_s: Option<f64>,
    /// Truth sessions due in the phase that were measured.
    pub sessions_due: u64,
    /// Lag p50 of those sessions, ms.
    pub lag_p50_ms: Option<u64>,
    /// Lag p99 of those sessions, ms.
    pub lag_p99_ms: Option<u64>,
    /// Delivery outcomes of the records intended to be sent in the phase.
    pub delivery: PhaseDelivery,
}

/// Delivery outcomes and their reconciliation, for records by intended
/// send time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseDelivery {
    /// Records.
    pub records: u64,
    /// Acked.
    pub acked: u64,
    /// Failed.
    pub failed: u64,
    /// Indeterminate.
    pub indeterminate: u64,
    /// Acked but absent from the topic.
    pub broker_data_loss: u64,
    /// Indeterminate and absent.
    pub not_delivered: u64,
}

/// What went wrong in a fault's window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Damage {
    /// Acked records absent from the topic.
    pub broker_data_loss: u64,
    /// Indeterminate records absent from the topic.
    pub not_delivered: u64,
    /// Truth sessions no output version matched.
    pub sessions: u64,
    /// The first of them.
    pub listed: Vec<DamagedSession>,
}

/// A truth session no output version matched, placed in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedSession {
    /// `user_id@session_start`.
    pub session_id: String,
    /// The verifier's class when it sampled the session, else
    /// `missing-or-wrong`.
    pub class: String,
    /// When it was due (its closing record's intended send time), ms from
    /// the run's start.
    pub due_ms: i64,
    /// The fault whose window holds it, by index in `faults`.
    pub fault: Option<usize>,
}

/// Data lost, by whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LossSection {
    /// Acked records absent from the events topic: lost by the broker.
    pub broker_records: u64,
    /// Of them, in some fault's window (by intended send time).
    pub broker_records_in_faults: u64,
    /// Truth sessions (built from what landed, so every record of them is
    /// on the topic) no output version matched: lost or spoiled by the
    /// pipeline.
    pub pipeline_sessions: u64,
    /// Of them, due in some fault's window.
    pub pipeline_sessions_in_faults: u64,
    /// The first of them.
    pub pipeline_listed: Vec<DamagedSession>,
}

/// Everything the sections are computed from; times are epoch ms on the
/// harness clock unless named otherwise.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The run's start (timeline bucket 0).
    pub origin_ms: i64,
    /// Start and end (last intended send) of the load.
    pub load: (i64, i64),
    /// What the scheduler did.
    pub records: &'a [FaultRecord],
    /// Recovery bounds.
    pub bounds: Bounds,
    /// The run's timelines (`faults_active` is added).
    pub timeline: &'a mut Timeline,
    /// When each record was sent.
    pub sent_ms: &'a [i64],
    /// Intended send time of each record.
    pub intended_ms: &'a [i64],
    /// Each record's delivery outcome.
    pub outcomes: &'a [OutcomeKind],
    /// Each record's fate in the log.
    pub fates: &'a [Fate],
    /// When each output record was seen.
    pub seen_ms: &'a [i64],
    /// Measured sessions: (due, lag).
    pub lags: &'a [(i64, u64)],
    /// Truth sessions never matched: (session id, due), due by the closing
    /// record or, unclosed, by the intended time of its end.
    pub unmatched: &'a [(String, i64)],
    /// The verifier's class of sampled sessions.
    pub classes: &'a BTreeMap<String, String>,
}

/// Builds both sections.
pub fn build(x: Inputs<'_>) -> (Vec<FaultReport>, LossSection) {
    let rel = |t: i64| t - x.origin_ms;
    let (load_start, load_end) = (rel(x.load.0), rel(x.load.1));
    let mut faults: Vec<FaultReport> = x
        .records
        .iter()
        .map(|r| {
            fault(
                &x,
                r,
                rel(r.start_epoch_ms),
                rel(r.end_epoch_ms),
                (load_start, load_end),
            )
        })
        .collect();
    add_active_series(x.timeline, &faults);

    let windows: Vec<(i64, i64)> = faults
        .iter()
        .map(|f| {
            let until = f
                .recovery_ms
                .map_or(load_end.max(f.end_ms), |r| f.end_ms + r as i64);
            (f.start_ms, until.max(f.end_ms))
        })
        .collect();
    let window_of = |t: i64| windows.iter().position(|&(a, b)| t >= a && t < b);

    let mut loss = LossSection::default();
    for (i, fate) in x.fates.iter().enumerate() {
        let at = x.intended_ms.get(i).map(|&t| rel(t));
        let w = at.and_then(window_of);
        match fate {
            Fate::BrokerDataLoss => {
                loss.broker_records += 1;
                if let Some(w) = w {
                    loss.broker_records_in_faults += 1;
                    faults[w].damage.broker_data_loss += 1;
                }
            }
            Fate::NotDelivered => {
                if let Some(w) = w {
                    faults[w].damage.not_delivered += 1;
                }
            }
            _ => {}
        }
    }
    for (id, due) in x.unmatched {
        let due = rel(*due);
        let w = window_of(due);
        let session = DamagedSession {
            session_id: id.clone(),
            class: x
                .classes
                .get(id)
                .cloned()
                .unwrap_or_else(|| "missing-or-wrong".to_string()),
            due_ms: due,
            fault: w,
        };
        loss.pipeline_sessions += 1;
        if let Some(w) = w {
            loss.pipeline_sessions_in_faults += 1;
            let d = &mut faults[w].damage;
            d.sessions += 1;
            if d.listed.len() < LISTED {
                d.listed.push(session.clone());
            }
        }
        if loss.pipeline_listed.len() < LISTED {
            loss.pipeline_listed.push(session);
        }
    }
    (faults, loss)
}

fn fault(x: &Inputs<'_>, r: &FaultRecord, start: i64, end: i64, load: (i64, i64)) -> FaultReport {
    let (load_start, load_end) = load;
    let phases = Phases {
        before: phase(x, load_start, start),
        during: phase(x, start, end),
        after: phase(x, end, load_end),
    };
    let output = x.timeline.series.get("sessions_out_per_s");
    let lag = x.timeline.series.get("lag_p99_ms");
    let (recovery_ms, recovery_note) = match (output, lag) {
        (Some(output), Some(lag)) => {
            let baseline = recovery::baseline_output(
                output,
                (load_start.max(0) / 1_000) as usize,
                (start.max(0) / 1_000) as usize,
            );
            let series = Series {
                output,
                lag_p99: lag,
            };
            match recovery::recovery_ms(series, end, load_end, baseline, &x.bounds) {
                Ok(ms) => {
                    let note = (baseline == 0.0).then(|| {
                        "no output before the fault: only the lag bound was applied".to_string()
                    });
                    (Some(ms), note)
                }
                Err(why) => (None, Some(why.note(&x.bounds))),
            }
        }
        _ => (
            None,
            Some("the run has no output or lag timeline".to_string()),
        ),
    };
    FaultReport {
        action: r.action.clone(),
        target: r.target.clone(),
        start_ms: start,
        end_ms: end,
        ok: r.errors.is_empty(),
        errors: r.errors.clone(),
        commands: r.commands.clone(),
        phases,
        recovery_ms,
        recovery_note,
        catch_up_ms: x
            .lags
            .iter()
            .filter(|(due, _)| *due < end + x.origin_ms)
            .map(|(due, lag)| (due + *lag as i64 - x.origin_ms - end).max(0) as u64)
            .max(),
        damage: Damage::default(),
    }
}

fn phase(x: &Inputs<'_>, from: i64, to: i64) -> Phase {
    let (a, b) = (from + x.origin_ms, to + x.origin_ms);
    let within = |t: &i64| *t >= a && *t < b;
    let secs = (to - from) as f64 / 1_000.0;
    let rate = |n: usize| (secs > 0.0).then(|| n as f64 / secs);
    let mut histogram = lag_histogram();
    for (_, lag) in x.lags.iter().filter(|(due, _)| within(due)) {
        record_lag(&mut histogram, *lag);
    }
    let lags = LagSummary::of(&histogram);
    let mut delivery = PhaseDelivery::default();
    for (i, t) in x.intended_ms.iter().enumerate() {
        if !within(t) {
            continue;
        }
        delivery.records += 1;
        match x.outcomes.get(i) {
            Some(OutcomeKind::Acked) => delivery.acked += 1,
            Some(OutcomeKind::Failed) => delivery.failed += 1,
            Some(OutcomeKind::Indeterminate) => delivery.indeterminate += 1,
            _ => {}
        }
        match x.fates.get(i) {
            Some(Fate::BrokerDataLoss) => delivery.broker_data_loss += 1,
            Some(Fate::NotDelivered) => delivery.not_delivered += 1,
            _ => {}
        }
    }
    Phase {
        from_ms: from,
        to_ms: to,
        produced_per_s: rate(x.sent_ms.iter().filter(|t| within(t)).count()),
        output_per_s: rate(x.seen_ms.iter().filter(|t| within(t)).count()),
        sessions_due: lags.count,
        lag_p50_ms: (lags.count > 0).then_some(lags.p50),
        lag_p99_ms: (lags.count > 0).then_some(lags.p99),
        delivery,
    }
}

/// `faults_active`: faults in force during each second.
fn add_active_series(timeline: &mut Timeline, faults: &[FaultReport]) {
    if faults.is_empty() {
        return;
    }
    let mut active = vec![Some(0.0); timeline.buckets];
    for f in faults {
        let first = (f.start_ms.max(0) / 1_000) as usize;
        let last = ((f.end_ms.max(f.start_ms).max(0) + 999) / 1_000) as usize;
        for v in active
            .iter_mut()
            .take(last.max(first + 1))
            .skip(first)
            .flatten()
        {
            *v += 1.0;
        }
    }
    timeline.insert("faults_active", active);
}

/// `## Faults` and `## Data loss` for `report.md`; empty without faults.
pub fn markdown(faults: &[FaultReport], loss: &LossSection) -> String {
    let mut md = String::new();
    if faults.is_empty() {
        return md;
    }
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    let rate = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(
        md,
        "\n## Faults\n\nTimes in seconds from the run's start.\n\n\
         | # | action | target | window | ok | recovery | catch-up | broker loss | sessions damaged |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for (i, f) in faults.iter().enumerate() {
        let recovery = match (f.recovery_ms, &f.recovery_note) {
            (Some(r), _) => format!("{r} ms"),
            (None, Some(note)) => format!("none: {note}"),
            (None, None) => "none".to_string(),
        };
        let _ = writeln!(
            md,
            "| {i} | {} | `{}` | {:.1} to {:.1} | {} | {recovery} | {} | {} | {} |",
            f.action,
            f.target,
            f.start_ms as f64 / 1_000.0,
            f.end_ms as f64 / 1_000.0,
            if f.ok { "yes" } else { "**no**" },
            ms(f.catch_up_ms),
            f.damage.broker_data_loss,
            f.damage.sessions
        );
    }
    let _ = writeln!(
        md,
        "\n| # | phase | produced/s | output/s | sessions due | lag p50 | lag p99 | acked | indeterminate | failed |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for (i, f) in faults.iter().enumerate() {
        let p = &f.phases;
        for (name, ph) in [
            ("before", &p.before),
            ("during", &p.during),
            ("after", &p.after),
        ] {
            let d = &ph.delivery;
            let _ = writeln!(
                md,
                "| {i} | {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
                rate(ph.produced_per_s),
                rate(ph.output_per_s),
                ph.sessions_due,
                ms(ph.lag_p50_ms),
                ms(ph.lag_p99_ms),
                d.acked,
                d.indeterminate,
                d.failed
            );
        }
    }
    for f in faults.iter().filter(|f| !f.ok) {
        for e in &f.errors {
            let _ = writeln!(md, "\n- {} `{}`: {e}", f.action, f.target);
        }
    }
    let _ = writeln!(
        md,
        "\n## Data loss\n\n| lost by | count | in fault windows |\n|---|---|---|\n\
         | broker (acked records absent from the topic) | {} | {} |\n\
         | pipeline (truth sessions not matched, all their records on the topic) | {} | {} |",
        loss.broker_records,
        loss.broker_records_in_faults,
        loss.pipeline_sessions,
        loss.pipeline_sessions_in_faults
    );
    for s in &loss.pipeline_listed {
        let fault = s
            .fault
            .map_or("outside any fault".to_string(), |f| format!("fault {f}"));
        let _ = writeln!(
            md,
            "- `{}` ({}), due at {:.1} s, {fault}",
            s.session_id,
            s.class,
            s.due_ms as f64 / 1_000.0
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchload_verifier::timeline::Axis;

    fn record(start: i64, end: i64) -> FaultRecord {
        FaultRecord {
            index: 0,
            action: "broker-down".into(),
            target: "broker 2".into(),
            start_epoch_ms: start,
            end_epoch_ms: end,
            errors: Vec::new(),
            commands: Vec::new(),
        }
    }

    #[test]
    fn damage_and_phases_fall_in_the_fault_window() {
        let origin = 1_000_000;
        let mut timeline = Timeline::new(Axis::per_second(origin), 10);
        let output: Vec<Option<f64>> = [4., 4., 4., 0., 0., 8., 4., 4., 4., 4.]
            .iter()
            .map(|&v| Some(v))
            .collect();
        timeline.insert("sessions_out_per_s", output);
        let mut lag = vec![Some(100.0); 10];
        lag[3] = Some(3_000.0);
        lag[4] = Some(2_000.0);
        timeline.insert("lag_p99_ms", lag);
        let intended: Vec<i64> = (0..10).map(|s| origin + s * 1_000 + 10).collect();
        let fates = [
            Fate::AckedPresent,
            Fate::AckedPresent,
            Fate::AckedPresent,
            Fate::Delivered,
            Fate::NotDelivered,
            Fate::AckedPresent,
            Fate::AckedPresent,
            Fate::BrokerDataLoss,
            Fate::AckedPresent,
            Fate::AckedPresent,
        ];
        let outcomes = [OutcomeKind::Acked; 10];
        let unmatched = vec![
            ("u1@1".to_string(), origin + 3_500),
            ("u2@1".to_string(), origin + 9_500),
        ];
        let classes = BTreeMap::from([("u1@1".to_string(), "missing".to_string())]);
        let (faults, loss) = build(Inputs {
            origin_ms: origin,
            load: (origin, origin + 10_000),
            records: &[record(origin + 3_000, origin + 5_000)],
            bounds: Bounds {
                lag_ms: 1_000.0,
                output_share: 0.5,
                hold_s: 2,
            },
            timeline: &mut timeline,
            sent_ms: &intended,
            intended_ms: &intended,
            outcomes: &outcomes,
            fates: &fates,
            seen_ms: &[origin + 500, origin + 5_200, origin + 5_300],
            lags: &[(origin + 3_600, 1_500), (origin + 6_000, 100)],
            unmatched: &unmatched,
            classes: &classes,
        });
        let f = &faults[0];
        assert_eq!((f.start_ms, f.end_ms), (3_000, 5_000));
        assert_eq!(f.recovery_ms, Some(0), "{:?}", f.recovery_note);
        // The session due at 3.6 s was seen at 5.1 s: 0.1 s after the end.
        assert_eq!(f.catch_up_ms, Some(100));
        assert_eq!(f.phases.during.sessions_due, 1);
        assert_eq!(f.phases.during.lag_p99_ms, Some(1_500));
        assert_eq!(f.phases.during.delivery.not_delivered, 1);
        assert_eq!(f.phases.before.produced_per_s, Some(1.0));
        assert_eq!(f.phases.after.output_per_s, Some(0.4));
        // The fault window is [3 s, 5 s): one unmatched session, one
        // undelivered record; the broker loss at 7 s is outside it.
        assert_eq!(f.damage.sessions, 1);
        assert_eq!(f.damage.listed[0].class, "missing");
        assert_eq!(f.damage.not_delivered, 1);
        assert_eq!(f.damage.broker_data_loss, 0);
        assert_eq!((loss.broker_records, loss.broker_records_in_faults), (1, 0));
        assert_eq!(
            (loss.pipeline_sessions, loss.pipeline_sessions_in_faults),
            (2, 1)
        );
        assert_eq!(loss.pipeline_listed[1].class, "missing-or-wrong");
        let active = &timeline.series["faults_active"];
        assert_eq!(active[2..6], [Some(0.0), Some(1.0), Some(1.0), Some(0.0)]);
        let md = markdown(&faults, &loss);
        assert!(
            md.contains("| 0 | broker-down | `broker 2` | 3.0 to 5.0 | yes | 0 ms | 100 ms |"),
            "{md}"
        );
    }
}
