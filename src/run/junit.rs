//! JUnit XML for CI systems: one test case per threshold, and one per
//! built-in check of the run (delivery outcomes balanced, no broker data
//! loss, the events topic read back completely, the wait ended quiescent).
//! The XML itself is written by `gate::junit`.

use crate::gate::junit::{self, Case, Suite};
use crate::run::report::RunReport;
use crate::run::wait::WaitEnd;
use std::path::Path;

fn cases(report: &RunReport) -> Vec<Case> {
    let mut out = junit::threshold_cases(&report.thresholds);
    let d = &report.delivery;
    out.push(Case::check(
        "check",
        "generated = acked + failed + indeterminate",
        d.balanced,
        format!("{:?}", d.tally),
    ));
    out.push(Case::check(
        "check",
        "no broker data loss",
        d.broker_data_loss == 0,
        format!("{} acked records absent", d.broker_data_loss),
    ));
    out.push(Case::check(
        "check",
        "events topic read back completely",
        report.landed.read_back.complete,
        "read-back ran out of time".to_string(),
    ));
    out.push(Case::check(
        "check",
        "output wait ended quiescent",
        report.wait.end == WaitEnd::Quiescent,
        "the deadline passed first".to_string(),
    ));
    out
}

/// The JUnit suite of a run report.
pub fn suite(report: &RunReport) -> Suite {
    let v = &report.verification;
    Suite {
        name: format!("watchload run {}", report.scenario),
        time_s: report.elapsed_s,
        properties: vec![
            ("scenario".into(), report.scenario.clone()),
            ("seed".into(), report.seed.to_string()),
            ("pipeline".into(), report.pipeline.clone()),
            ("f1".into(), v.scores.f1.to_string()),
            ("lag_p99_ms".into(), report.lag.summary.p99.to_string()),
            ("verdict".into(), report.verdict.clone()),
        ],
        cases: cases(report),
    }
}

/// Writes the JUnit XML of `report` to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, report: &RunReport) -> anyhow::Result<()> {
    junit::write(path, &[suite(report)])
}
