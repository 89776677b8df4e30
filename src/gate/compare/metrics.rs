//! The metrics `watchload compare` reads from a report, with their
//! direction and default tolerance.
//!
//! Both report kinds are read as JSON: a run report (`watchload run`,
//! correctness under `verification`, plus lag, throughput and delivery) and
//! a verify report (`watchload verify`, correctness only). Metrics a report
//! does not have are skipped, so a verify report can be compared with a run
//! report on correctness.

use super::tolerance::Tolerance;
use serde_json::Value;

/// Which kind of report a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `report.json` of `watchload run`.
    Run,
    /// `report.json` of `watchload verify`.
    Verify,
}

impl ReportKind {
    /// `run` or `verify`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Run => "run",
            ReportKind::Verify => "verify",
        }
    }
}

/// Whether a larger value is better or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// F1, throughput: a drop is a regression.
    HigherIsBetter,
    /// Error rates, lag, loss: a rise is a regression.
    LowerIsBetter,
}

/// How a metric's values are shown and what units its tolerance takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share in [0, 1].
    Ratio,
    /// Milliseconds.
    Ms,
    /// A count.
    Count,
    /// Events or records per second.
    PerSecond,
}

/// One metric compare knows.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Name in the table, the JSON and `--tolerance`.
    pub name: &'static str,
    /// `correctness`, `lag`, `throughput` or `delivery`.
    pub group: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Unit of the value.
    pub unit: Unit,
    /// Tolerance when `--tolerance` does not name the metric.
    pub default: Tolerance,
    /// JSON pointer in a verify report, or in a run report's
    /// `verification` (correctness), or in a run report (the rest).
    pub pointer: &'static str,
    /// For a class rate: pointer of the count shown beside it.
    pub count_pointer: Option<&'static str>,
}

const fn allow(relative: f64, absolute: f64) -> Tolerance {
    Tolerance::Allow { relative, absolute }
}

const fn def(
    name: &'static str,
    group: &'static str,
    direction: Direction,
    unit: Unit,
    default: Tolerance,
    pointer: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        group,
        direction,
        unit,
        default,
        pointer,
        count_pointer: None,
    }
}

const fn class(name: &'static str, rate: &'static str, count: &'static str) -> MetricDef {
    MetricDef {
        name,
        group: "correctness",
        direction: Direction::LowerIsBetter,
        unit: Unit::Ratio,
        default: Tolerance::ZERO,
        pointer: rate,
        count_pointer: Some(count),
    }
}

use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower};

/// Every metric, in table order.
pub const METRICS: &[MetricDef] = &[
    def(
        "f1",
        "correctness",
        Higher,
        Unit::Ratio,
        Tolerance::ZERO,
        "/scores/f1",
    ),
    def(
        "precision",
        "correctness",
        Higher,
        Unit::Ratio,
        Tolerance::ZERO,
        "/scores/precision",
    ),
    def(
        "recall",
        "correctness",
        Higher,
        Unit::Ratio,
        Tolerance::ZERO,
        "/scores/recall",
    ),
    class(
        "boundary_rate",
        "/classes/boundary/rate",
        "/classes/boundary/count",
    ),
    class(
        "watch_time_rate",
        "/classes/watch_time/rate",
        "/classes/watch_time/count",
    ),
    class(
        "device_rate",
        "/classes/device/rate",
        "/classes/device/count",
    ),
    class("field_rate", "/classes/field/rate", "/classes/field/count"),
    class("split_rate", "/classes/split/rate", "/classes/split/count"),
    class(
        "merged_rate",
        "/classes/merged/rate",
        "/classes/merged/count",
    ),
    class(
        "missing_rate",
        "/classes/missing/rate",
        "/classes/missing/count",
    ),
    class(
        "spurious_rate",
        "/classes/spurious/rate",
        "/classes/spurious/count",
    ),
    class(
        "duplicate_rate",
        "/classes/duplicate/rate",
        "/classes/duplicate/count",
    ),
    def(
        "watch_ms_error_p99",
        "correctness",
        Lower,
        Unit::Ms,
        Tolerance::ZERO,
        "/watch_ms_error/p99",
    ),
    def(
        "malformed",
        "correctness",
        Lower,
        Unit::Count,
        Tolerance::ZERO,
        "/output/malformed",
    ),
    def(
        "lag_p50",
        "lag",
        Lower,
        Unit::Ms,
        allow(0.1, 50.0),
        "/lag/summary/p50",
    ),
    def(
        "lag_p90",
        "lag",
        Lower,
        Unit::Ms,
        allow(0.1, 50.0),
        "/lag/summary/p90",
    ),
    def(
        "lag_p99",
        "lag",
        Lower,
        Unit::Ms,
        allow(0.1, 50.0),
        "/lag/summary/p99",
    ),
    def(
        "lag_p999",
        "lag",
        Lower,
        Unit::Ms,
        allow(0.1, 50.0),
        "/lag/summary/p999",
    ),
    def(
        "lag_max",
        "lag",
        Lower,
        Unit::Ms,
        Tolerance::Off,
        "/lag/summary/max",
    ),
    def(
        "lag_unclosed",
        "lag",
        Lower,
        Unit::Count,
        Tolerance::ZERO,
        "/lag/unclosed",
    ),
    def(
        "lag_never_seen",
        "lag",
        Lower,
        Unit::Count,
        Tolerance::ZERO,
        "/lag/never_seen",
    ),
    def(
        "throughput_ratio",
        "throughput",
        Higher,
        Unit::Ratio,
        allow(0.05, 0.0),
        "/throughput/ratio",
    ),
    def(
        "achieved_rate",
        "throughput",
        Higher,
        Unit::PerSecond,
        Tolerance::Off,
        "/throughput/achieved_rate",
    ),
    def(
        "sessions_out_rate",
        "throughput",
        Higher,
        Unit::PerSecond,
        Tolerance::Off,
        "/throughput/sessions_out_rate",
    ),
    def(
        "broker_data_loss",
        "delivery",
        Lower,
        Unit::Count,
        Tolerance::ZERO,
        "/delivery/broker_data_loss",
    ),
];

/// The metric named `name`.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// A parsed report: its kind, schema versions and JSON.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    /// Run or verify.
    pub kind: ReportKind,
    /// `schema_version` of the run report (run reports only).
    pub run_schema: Option<u64>,
    /// `schema_version` of the correctness part.
    pub verify_schema: u64,
    json: Value,
}

impl LoadedReport {
    /// Recognizes the kind of `json`.
    ///
    /// # Errors
    ///
    /// A sentence saying what is missing.
    pub fn from_json(json: Value) -> Result<LoadedReport, String> {
        let version = |v: &Value| v.get("schema_version").and_then(Value::as_u64);
        let (kind, run_schema, verify_schema) = if let Some(v) = json.get("verification") {
            let run = version(&json).ok_or("a run report without `schema_version`")?;
            let verify = version(v).ok_or("`verification` without `schema_version`")?;
            (ReportKind::Run, Some(run), verify)
        } else if json.get("scores").is_some() && json.get("classes").is_some() {
            let verify = version(&json).ok_or("a verify report without `schema_version`")?;
            (ReportKind::Verify, None, verify)
        } else {
            return Err(
                "neither a run report (no `verification`) nor a verify report \
                        (no `scores` and `classes`)"
                    .to_string(),
            );
        };
        Ok(LoadedReport {
            kind,
            run_schema,
            verify_schema,
            json,
        })
    }

    /// The value of `metric`, `None` when this report does not have it.
    pub fn value(&self, metric: &MetricDef) -> Option<f64> {
        self.at(metric, metric.pointer)
    }

    /// The class count shown beside a class rate.
    pub fn count(&self, metric: &MetricDef) -> Option<f64> {
        self.at(metric, metric.count_pointer?)
    }

    fn at(&self, metric: &MetricDef, pointer: &str) -> Option<f64> {
        let base = match (self.kind, metric.group) {
            (ReportKind::Run, "correctness") => self.json.get("verification")?,
            (ReportKind::Verify, "correctness") => &self.json,
            (ReportKind::Run, _) => &self.json,
            (ReportKind::Verify, _) => return None,
        };
        base.pointer(pointer)?.as_f64()
    }

    /// `scenario` of the report, if recorded.
    pub fn scenario(&self) -> Option<&str> {
        match self.kind {
            ReportKind::Run => self.json.get("scenario")?.as_str(),
            ReportKind::Verify => self.json.pointer("/inputs/scenario")?.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_unique_and_pointers_absolute() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        assert!(METRICS.iter().all(|m| m.pointer.starts_with('/')));
    }

    #[test]
    fn recognizes_both_kinds_and_reads_correctness_from_either() {
        let verify = serde_json::json!({
            "schema_version": 1, "scores": {"f1": 0.5}, "classes": {}
        });
        let run = serde_json::json!({
            "schema_version": 1, "verification": verify.clone(),
            "lag": {"summary": {"p99": 800}}
        });
        let f1 = find("f1").unwrap();
        let p99 = find("lag_p99").unwrap();
        let v = LoadedReport::from_json(verify).unwrap();
        let r = LoadedReport::from_json(run).unwrap();
        assert_eq!((v.kind, r.kind), (ReportKind::Verify, ReportKind::Run));
        assert_eq!((v.value(f1), r.value(f1)), (Some(0.5), Some(0.5)));
        assert_eq!((v.value(p99), r.value(p99)), (None, Some(800.0)));
        assert!(LoadedReport::from_json(serde_json::json!({"x": 1})).is_err());
    }
}
