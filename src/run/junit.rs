//! JUnit XML for CI systems: one test case per threshold, and one per
//! built-in check of the run (delivery outcomes balanced, no broker data
//! loss, the events topic read back completely, the wait ended quiescent).

use crate::run::report::RunReport;
use crate::run::wait::WaitEnd;
use anyhow::Context;
use std::fmt::Write;
use std::path::Path;

/// One test case: name, failure message when failed.
type Case = (String, Option<String>);

fn cases(report: &RunReport) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for t in &report.thresholds {
        let failure = (!t.passed).then(|| format!("actual value {}", t.actual));
        out.push((format!("threshold: {}", t.expr), failure));
    }
    let d = &report.delivery;
    let check = |ok: bool, message: String| (!ok).then_some(message);
    out.push((
        "check: generated = acked + failed + indeterminate".to_string(),
        check(d.balanced, format!("{:?}", d.tally)),
    ));
    out.push((
        "check: no broker data loss".to_string(),
        check(
            d.broker_data_loss == 0,
            format!("{} acked records absent", d.broker_data_loss),
        ),
    ));
    out.push((
        "check: events topic read back completely".to_string(),
        check(
            report.landed.read_back.complete,
            "read-back ran out of time".to_string(),
        ),
    ));
    out.push((
        "check: output wait ended quiescent".to_string(),
        check(
            report.wait.end == WaitEnd::Quiescent,
            "the deadline passed first".to_string(),
        ),
    ));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The JUnit XML of a report.
pub fn render(report: &RunReport) -> String {
    let cases = cases(report);
    let failures = cases.iter().filter(|(_, f)| f.is_some()).count();
    let suite = escape(&format!("watchload run {}", report.scenario));
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        cases.len(),
        report.elapsed_s
    );
    for (name, failure) in &cases {
        let name = escape(name);
        match failure {
            None => {
                let _ = writeln!(xml, "  <testcase classname=\"{suite}\" name=\"{name}\"/>");
            }
            Some(message) => {
                let _ = writeln!(
                    xml,
                    "  <testcase classname=\"{suite}\" name=\"{name}\">\n    \
                     <failure message=\"{}\"/>\n  </testcase>",
                    escape(message)
                );
            }
        }
    }
    xml.push_str("</testsuite>\n");
    xml
}

/// Writes [`render`] to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, report: &RunReport) -> anyhow::Result<()> {
    std::fs::write(path, render(report)).with_context(|| format!("writing {}", path.display()))
}
