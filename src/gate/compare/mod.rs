//! `watchload compare`: a report against a baseline report, metric by
//! metric, each with a tolerance; a metric worse than the baseline by more
//! than its tolerance is a regression. Pure: the command reads the files.

pub mod metrics;
pub mod table;
pub mod tolerance;

use crate::gate::junit::{Case, Failure, Suite};
use metrics::{Direction, LoadedReport, MetricDef, METRICS};
use serde::Serialize;
use std::collections::BTreeMap;
use tolerance::Tolerance;

/// Version of the comparison JSON layout.
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// Float noise below which a worsening is no worsening.
const EPSILON: f64 = 1e-9;

/// What became of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricVerdict {
    /// Within tolerance (or better).
    Ok,
    /// Worse than the baseline by more than the tolerance.
    Regression,
    /// Not gated (tolerance `off`): shown for information.
    Info,
    /// Absent from one of the reports.
    Skipped,
}

/// One row of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    /// Metric name.
    pub metric: String,
    /// `correctness`, `lag`, `throughput` or `delivery`.
    pub group: String,
    /// Value in the baseline.
    pub baseline: Option<f64>,
    /// Value in the new report.
    pub new: Option<f64>,
    /// Class count beside a class rate (baseline, new).
    pub counts: Option<(f64, f64)>,
    /// `new - baseline`.
    pub change: Option<f64>,
    /// `change / |baseline|`, when the baseline is not 0.
    pub relative_change: Option<f64>,
    /// The tolerance applied, as written.
    pub tolerance: String,
    /// How much worse than the baseline the value could be.
    pub allowed_worsening: Option<f64>,
    /// The verdict.
    pub verdict: MetricVerdict,
    /// `higher-is-better` or `lower-is-better`.
    pub better: &'static str,
}

/// The whole comparison (`--output` writes it as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// [`COMPARE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Baseline file.
    pub baseline: String,
    /// New report file.
    pub new: String,
    /// `run` or `verify`, per side.
    pub kinds: (String, String),
    /// Scenario names, per side, when recorded.
    pub scenarios: (Option<String>, Option<String>),
    /// Every metric, in table order.
    pub metrics: Vec<MetricRow>,
    /// Number of regressions.
    pub regressions: usize,
    /// `pass` or `regression`.
    pub verdict: String,
}

/// A comparison that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The two reports have different layouts.
    #[error(
        "schema versions differ: baseline {what} schema {baseline}, new {new}; \
         refresh the baseline with this watchload version"
    )]
    Schema {
        /// `run report` or `correctness report`.
        what: &'static str,
        /// Baseline version.
        baseline: u64,
        /// New version.
        new: u64,
    },
    /// A `--tolerance` names no metric or does not parse.
    #[error("--tolerance {given}: {message}")]
    Tolerance {
        /// The flag value.
        given: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses `metric=tolerance` flags into a map.
///
/// # Errors
///
/// [`CompareError::Tolerance`] naming the flag, with the known metrics when
/// the name is unknown.
pub fn parse_tolerances(flags: &[String]) -> Result<BTreeMap<String, Tolerance>, CompareError> {
    let mut out = BTreeMap::new();
    for given in flags {
        let bad = |message: String| CompareError::Tolerance {
            given: given.clone(),
            message,
        };
        let (name, value) = given
            .split_once('=')
            .ok_or_else(|| bad("expected METRIC=TOLERANCE, e.g. lag_p99=10%+50ms".into()))?;
        let metric = metrics::find(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
            bad(format!("unknown metric; known: {}", names.join(", ")))
        })?;
        let duration = metric.unit == metrics::Unit::Ms;
        let tolerance = Tolerance::parse(value, duration).map_err(bad)?;
        out.insert(metric.name.to_string(), tolerance);
    }
    Ok(out)
}

/// Compares `new` with `baseline`.
///
/// # Errors
///
/// [`CompareError::Schema`] when the layouts differ.
pub fn compare(
    baseline: (&str, &LoadedReport),
    new: (&str, &LoadedReport),
    tolerances: &BTreeMap<String, Tolerance>,
) -> Result<Comparison, CompareError> {
    let (b, n) = (baseline.1, new.1);
    if b.verify_schema != n.verify_schema {
        return Err(CompareError::Schema {
            what: "correctness report",
            baseline: b.verify_schema,
            new: n.verify_schema,
        });
    }
    if let (Some(bs), Some(ns)) = (b.run_schema, n.run_schema) {
        if bs != ns {
            return Err(CompareError::Schema {
                what: "run report",
                baseline: bs,
                new: ns,
            });
        }
    }
    let rows: Vec<MetricRow> = METRICS
        .iter()
        .map(|m| {
            let tolerance = tolerances.get(m.name).copied().unwrap_or(m.default);
            row(m, b, n, tolerance)
        })
        .collect();
    let regressions = rows
        .iter()
        .filter(|r| r.verdict == MetricVerdict::Regression)
        .count();
    Ok(Comparison {
        schema_version: COMPARE_SCHEMA_VERSION,
        baseline: baseline.0.to_string(),
        new: new.0.to_string(),
        kinds: (b.kind.as_str().into(), n.kind.as_str().into()),
        scenarios: (
            b.scenario().map(String::from),
            n.scenario().map(String::from),
        ),
        metrics: rows,
        regressions,
        verdict: if regressions == 0 {
            "pass"
        } else {
            "regression"
        }
        .to_string(),
    })
}

fn row(m: &MetricDef, b: &LoadedReport, n: &LoadedReport, tolerance: Tolerance) -> MetricRow {
    let (base, new) = (b.value(m), n.value(m));
    let counts = b.count(m).zip(n.count(m));
    let change = base.zip(new).map(|(b, n)| n - b);
    let relative_change = base
        .zip(change)
        .and_then(|(b, c)| (b != 0.0).then(|| c / b.abs()));
    let allowed = base.and_then(|b| tolerance.allowed(b));
    let verdict = match (change, allowed) {
        (None, _) => MetricVerdict::Skipped,
        (Some(_), None) => MetricVerdict::Info,
        (Some(change), Some(allowed)) => {
            let worsening = match m.direction {
                Direction::HigherIsBetter => -change,
                Direction::LowerIsBetter => change,
            };
            if worsening > allowed + EPSILON {
                MetricVerdict::Regression
            } else {
                MetricVerdict::Ok
            }
        }
    };
    MetricRow {
        metric: m.name.to_string(),
        group: m.group.to_string(),
        baseline: base,
        new,
        counts,
        change,
        relative_change,
        tolerance: tolerance.describe(m.unit == metrics::Unit::Ms),
        allowed_worsening: allowed,
        verdict,
        better: match m.direction {
            Direction::HigherIsBetter => "higher-is-better",
            Direction::LowerIsBetter => "lower-is-better",
        },
    }
}

/// The JUnit suite: one case per gated metric present in both reports.
pub fn junit_suite(c: &Comparison) -> Suite {
    let cases = c
        .metrics
        .iter()
        .filter(|r| matches!(r.verdict, MetricVerdict::Ok | MetricVerdict::Regression))
        .map(|r| {
            let failure = (r.verdict == MetricVerdict::Regression).then(|| Failure {
                message: format!(
                    "{}: baseline {}, new {} ({}), tolerance {}",
                    r.metric,
                    table::value(r, r.baseline),
                    table::value(r, r.new),
                    table::change(r),
                    r.tolerance
                ),
                detail: String::new(),
            });
            Case::new(
                "regression",
                format!("{} within tolerance", r.metric),
                failure,
            )
        })
        .collect();
    Suite {
        name: "watchload compare".to_string(),
        time_s: 0.0,
        properties: vec![
            ("baseline".into(), c.baseline.clone()),
            ("new".into(), c.new.clone()),
            ("verdict".into(), c.verdict.clone()),
        ],
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verify_report(f1: f64, missing: u64, p99: u64) -> LoadedReport {
        LoadedReport::from_json(json!({
            "schema_version": 1,
            "scores": {"f1": f1, "precision": f1, "recall": f1},
            "classes": {"missing": {"count": missing, "rate": missing as f64 / 100.0}},
            "watch_ms_error": {"p99": p99},
            "output": {"malformed": 0},
        }))
        .unwrap()
    }

    fn run_report(lag_p99: u64, ratio: f64) -> LoadedReport {
        let v = json!({
            "schema_version": 1,
            "scores": {"f1": 1.0, "precision": 1.0, "recall": 1.0},
            "classes": {},
        });
        LoadedReport::from_json(json!({
            "schema_version": 1,
            "verification": v,
            "lag": {"summary": {"p50": 100, "p99": lag_p99}},
            "throughput": {"ratio": ratio},
        }))
        .unwrap()
    }

    fn verdict_of(c: &Comparison, metric: &str) -> MetricVerdict {
        c.metrics
            .iter()
            .find(|r| r.metric == metric)
            .unwrap()
            .verdict
    }

    #[test]
    fn equal_reports_pass() {
        let a = verify_report(0.98, 2, 0);
        let c = compare(("a", &a), ("b", &a), &BTreeMap::new()).unwrap();
        assert_eq!((c.regressions, c.verdict.as_str()), (0, "pass"));
        assert_eq!(verdict_of(&c, "lag_p99"), MetricVerdict::Skipped);
    }

    #[test]
    fn any_drop_of_f1_and_any_rise_of_an_error_rate_regress() {
        let (a, b) = (verify_report(1.0, 0, 0), verify_report(0.999, 1, 0));
        let c = compare(("a", &a), ("b", &b), &BTreeMap::new()).unwrap();
        assert_eq!(verdict_of(&c, "f1"), MetricVerdict::Regression);
        assert_eq!(verdict_of(&c, "missing_rate"), MetricVerdict::Regression);
        assert_eq!(c.verdict, "regression");
        let improved = compare(("b", &b), ("a", &a), &BTreeMap::new()).unwrap();
        assert_eq!(improved.regressions, 0);
    }

    #[test]
    fn lag_may_grow_ten_percent_plus_fifty_ms_by_default() {
        let base = run_report(1_000, 1.0);
        let within = run_report(1_150, 0.96);
        let beyond = run_report(1_151, 0.94);
        let ok = compare(("a", &base), ("b", &within), &BTreeMap::new()).unwrap();
        assert_eq!(ok.regressions, 0, "{:?}", ok.metrics);
        let bad = compare(("a", &base), ("b", &beyond), &BTreeMap::new()).unwrap();
        assert_eq!(verdict_of(&bad, "lag_p99"), MetricVerdict::Regression);
        assert_eq!(
            verdict_of(&bad, "throughput_ratio"),
            MetricVerdict::Regression
        );
        let loose =
            parse_tolerances(&["lag_p99=off".into(), "throughput_ratio=10%".into()]).unwrap();
        let c = compare(("a", &base), ("b", &beyond), &loose).unwrap();
        assert_eq!(verdict_of(&c, "lag_p99"), MetricVerdict::Info);
        assert_eq!(c.regressions, 0);
    }

    #[test]
    fn different_schema_versions_are_an_error() {
        let a = verify_report(1.0, 0, 0);
        let mut b = a.clone();
        b.verify_schema = 2;
        let err = compare(("a", &a), ("b", &b), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("schema versions differ"), "{err}");
    }

    #[test]
    fn unknown_tolerance_metrics_list_the_known_ones() {
        let err = parse_tolerances(&["lag_p98=1s".into()]).unwrap_err();
        assert!(err.to_string().contains("lag_p99"), "{err}");
        assert!(parse_tolerances(&["f1".into()]).is_err());
    }
}
