//! The JUnit test cases of a verification (`watchload verify --junit`):
//! one per threshold, with the measured value when it failed, and one per
//! check that a gate should never pass by accident.

use crate::gate::junit::{self, Case, Suite};
use watchload_verifier::Report;

/// The checks of a verification, in order. Each says what would make a
/// passing verdict meaningless:
/// - truth is not empty (a run that generated nothing judges nothing);
/// - the output is not empty when truth is not (a pipeline that wrote
///   nothing, or the wrong path);
/// - every output record decoded (malformed records are counted, and a
///   schema drift shows here first);
/// - every judged truth session is in exactly one class (the verifier's
///   own bookkeeping).
fn checks(report: &Report) -> Vec<Case> {
    let t = &report.truth;
    let o = &report.output;
    let count = |c: &str| report.classes.get(c).map_or(0, |s| s.count);
    let judged_classes = [
        "exact",
        "boundary",
        "watch_time",
        "device",
        "field",
        "split",
        "merged",
        "missing",
    ];
    let classified: u64 = judged_classes.iter().map(|c| count(c)).sum();
    let first_malformed = o
        .malformed_samples
        .first()
        .map(|m| format!("; first at {}:{}: {}", m.source, m.line, m.error))
        .unwrap_or_default();
    vec![
        Case::check(
            "check",
            "truth has sessions",
            t.sessions > 0,
            "truth.jsonl holds no session".to_string(),
        ),
        Case::check(
            "check",
            "output has sessions",
            t.sessions == 0 || o.sessions > 0,
            format!("0 output sessions against {} truth sessions", t.sessions),
        ),
        Case::check(
            "check",
            "output not malformed",
            o.malformed == 0,
            format!(
                "{} of {} output records malformed{first_malformed}",
                o.malformed, o.records
            ),
        ),
        Case::check(
            "check",
            "every judged truth session classified once",
            classified == t.judged,
            format!("{classified} classified, {} judged", t.judged),
        ),
    ]
}

/// The JUnit suite of a verify report, `time_s` wall seconds long.
pub fn suite(report: &Report, time_s: f64) -> Suite {
    let mut cases = junit::threshold_cases(&report.thresholds);
    cases.extend(checks(report));
    let scenario = report.inputs.scenario.clone().unwrap_or_default();
    Suite {
        name: format!("watchload verify {scenario}")
            .trim_end()
            .to_string(),
        time_s,
        properties: vec![
            ("scenario".into(), scenario),
            ("truth_sessions".into(), report.truth.sessions.to_string()),
            ("output_sessions".into(), report.output.sessions.to_string()),
            ("f1".into(), report.scores.f1.to_string()),
            ("verdict".into(), report.verdict.clone()),
        ],
        cases,
    }
}
