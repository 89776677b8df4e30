//! Thresholds: `metric op value[unit]` expressions checked against a report,
//! such as `f1 >= 0.999`, `missing == 0`, `watch_ms_error_p99 <= 1s` or
//! `split_rate < 0.1%`.

use crate::report::{known_metrics, MetricKind, Report, ThresholdResult};
use std::fmt;

/// A threshold expression that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("threshold `{expr}`: {problem}")]
pub struct ThresholdError {
    /// The expression as written.
    pub expr: String,
    /// What was expected.
    pub problem: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    /// Whether `actual OP bound` holds. Equality allows a relative 1e-12,
    /// because ratios come from divisions; NaN never holds.
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        let eq = (actual - bound).abs() <= 1e-12 * bound.abs().max(1.0);
        match self {
            Op::Lt => actual < bound && !eq,
            Op::Le => actual < bound || eq,
            Op::Gt => actual > bound && !eq,
            Op::Ge => actual > bound || eq,
            Op::Eq => eq,
            Op::Ne => !eq,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Op::ALL
            .iter()
            .find(|(_, op)| op == self)
            .map_or("?", |(t, _)| *t);
        f.write_str(text)
    }
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written.
    pub expr: String,
    /// The metric name.
    pub metric: String,
    /// The comparison.
    pub op: Op,
    /// The bound, in the metric's own unit (ms for durations, a fraction
    /// for ratios).
    pub value: f64,
}

impl Threshold {
    /// Parses one expression.
    ///
    /// # Errors
    /// When the metric is unknown (the message lists the known ones), the
    /// operator is missing, or the value or unit does not fit the metric.
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        Threshold::parse_with(expr, &[])
    }

    /// Parses one expression that may also name one of `extra` metrics
    /// (for example the run metrics of [`RUN_METRICS`]).
    ///
    /// # Errors
    /// As [`Threshold::parse`].
    pub fn parse_with(
        expr: &str,
        extra: &[(&str, MetricKind)],
    ) -> Result<Threshold, ThresholdError> {
        let fail = |problem: String| ThresholdError {
            expr: expr.to_string(),
            problem,
        };
        let found = Op::ALL
            .iter()
            .filter_map(|(text, op)| expr.find(text).map(|at| (at, *text, *op)))
            .min_by_key(|(at, text, _)| (*at, std::cmp::Reverse(text.len())));
        let Some((at, text, op)) = found else {
            return Err(fail(
                "expected `metric OP value` with OP one of <, <=, >, >=, ==, !=".to_string(),
            ));
        };
        let metric = expr[..at].trim();
        let value_text = expr[at + text.len()..].trim();
        let mut metrics = known_metrics();
        metrics.extend(extra.iter().map(|(name, kind)| (name.to_string(), *kind)));
        let Some((_, kind)) = metrics.iter().find(|(name, _)| name == metric) else {
            let names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
            let what = if metric.is_empty() {
                "expected a metric name before the operator".to_string()
            } else {
                format!("unknown metric `{metric}`")
            };
            return Err(fail(format!("{what}; known metrics: {}", names.join(", "))));
        };
        let value = parse_value(value_text, *kind).map_err(fail)?;
        Ok(Threshold {
            expr: expr.trim().to_string(),
            metric: metric.to_string(),
            op,
            value,
        })
    }

    /// Checks the threshold against a report.
    pub fn check(&self, report: &Report) -> ThresholdResult {
        self.check_with(report, |_| None)
    }

    /// Checks the threshold against a report, taking metrics the report
    /// does not know from `extra`. A metric neither knows is NaN: it fails.
    pub fn check_with(
        &self,
        report: &Report,
        extra: impl Fn(&str) -> Option<f64>,
    ) -> ThresholdResult {
        let actual = report
            .metric(&self.metric)
            .or_else(|| extra(&self.metric))
            .unwrap_or(f64::NAN);
        ThresholdResult {
            expr: self.expr.clone(),
            actual,
            passed: self.op.holds(actual, self.value),
        }
    }
}

fn parse_value(text: &str, kind: MetricKind) -> Result<f64, String> {
    if text.is_empty() {
        return Err("expected a value after the operator".to_string());
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("expected a number, found `{text}`"))?;
    let scale = match (kind, unit) {
        (_, "") => 1.0,
        (MetricKind::Ratio, "%") => 0.01,
        (MetricKind::Duration, "ms") => 1.0,
        (MetricKind::Duration, "s") => 1_000.0,
        (MetricKind::Duration, "m" | "min") => 60_000.0,
        (MetricKind::Duration, "h") => 3_600_000.0,
        (MetricKind::Ratio, u) => return Err(format!("unit `{u}` does not fit a ratio; use `%`")),
        (MetricKind::Duration, u) => {
            return Err(format!("unknown duration unit `{u}`; use ms, s, m or h"))
        }
        (MetricKind::Count, u) => return Err(format!("a count takes no unit, found `{u}`")),
    };
    Ok(n * scale)
}

/// Metrics only a run against a broker has (`watchload run`), beside the
/// verifier's own: lag percentiles, throughput and delivery.
///
/// | metric | kind | meaning |
/// |---|---|---|
/// | `lag_p50`, `lag_p90`, `lag_p99`, `lag_p999`, `lag_max` | duration | session lag percentiles |
/// | `throughput_ratio` | ratio | achieved over target produce rate |
/// | `broker_data_loss` | count | acked records absent from the topic |
/// | `schedule_misses` | count | records sent later than `load.miss_threshold` |
/// | `lag_unclosed` | count | truth sessions no record closed |
/// | `consumer_lag_max` | count | largest sampled consumer-group lag |
pub const RUN_METRICS: &[(&str, MetricKind)] = &[
    ("lag_p50", MetricKind::Duration),
    ("lag_p90", MetricKind::Duration),
    ("lag_p99", MetricKind::Duration),
    ("lag_p999", MetricKind::Duration),
    ("lag_max", MetricKind::Duration),
    ("throughput_ratio", MetricKind::Ratio),
    ("broker_data_loss", MetricKind::Count),
    ("schedule_misses", MetricKind::Count),
    ("lag_unclosed", MetricKind::Count),
    ("consumer_lag_max", MetricKind::Count),
];

/// Parses every expression, reporting all problems at once.
///
/// # Errors
/// Every expression that failed, in order.
pub fn parse_thresholds(exprs: &[String]) -> Result<Vec<Threshold>, Vec<ThresholdError>> {
    parse_thresholds_with(exprs, &[])
}

/// [`parse_thresholds`], also accepting the `extra` metrics.
///
/// # Errors
/// Every expression that failed, in order.
pub fn parse_thresholds_with(
    exprs: &[String],
    extra: &[(&str, MetricKind)],
) -> Result<Vec<Threshold>, Vec<ThresholdError>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for expr in exprs {
        match Threshold::parse_with(expr, extra) {
            Ok(t) => ok.push(t),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

/// Checks `thresholds` and records the outcome and verdict in `report`.
/// Returns whether all held.
pub fn apply(report: &mut Report, thresholds: &[Threshold]) -> bool {
    report.thresholds = thresholds.iter().map(|t| t.check(report)).collect();
    let pass = report.thresholds.iter().all(|t| t.passed);
    report.verdict = if pass { "pass" } else { "fail" }.to_string();
    pass
}

/// The `thresholds` of a scenario's TOML text: top-level `thresholds` or
/// `[verify] thresholds`, an array of strings. `None` when neither exists.
///
/// # Errors
/// When the text is not TOML or `thresholds` is not an array of strings.
pub fn scenario_thresholds(scenario_toml: &str) -> Result<Option<Vec<String>>, String> {
    let value: toml::Table = scenario_toml
        .parse()
        .map_err(|e| format!("scenario is not valid TOML: {e}"))?;
    let found = value.get("thresholds").or_else(|| {
        value
            .get("verify")
            .and_then(|v| v.as_table())
            .and_then(|t| t.get("thresholds"))
    });
    let Some(found) = found else {
        return Ok(None);
    };
    let items = found
        .as_array()
        .ok_or("scenario key `thresholds`: expected an array of strings")?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("scenario key `thresholds`: expected strings, found {i}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = Threshold::parse("f1 >= 0.999").unwrap();
        assert_eq!((t.metric.as_str(), t.op, t.value), ("f1", Op::Ge, 0.999));
        let t = Threshold::parse("missing==0").unwrap();
        assert_eq!((t.op, t.value), (Op::Eq, 0.0));
        let t = Threshold::parse("watch_ms_error_p99 <= 1s").unwrap();
        assert_eq!(t.value, 1000.0);
        let t = Threshold::parse("split_rate < 0.1%").unwrap();
        assert!((t.value - 0.001).abs() < 1e-15);
        let t = Threshold::parse("watch_ms_error_max < 2h").unwrap();
        assert_eq!(t.value, 7_200_000.0);
    }

    #[test]
    fn errors_name_the_expression_and_expectation() {
        let e = Threshold::parse("f2 >= 1").unwrap_err();
        assert_eq!(e.expr, "f2 >= 1");
        assert!(e.problem.contains("unknown metric `f2`"), "{e}");
        assert!(e.problem.contains("known metrics: f1, precision"), "{e}");
        let e = Threshold::parse("f1 0.9").unwrap_err();
        assert!(e.problem.contains("OP one of"), "{e}");
        let e = Threshold::parse("f1 >= abc").unwrap_err();
        assert!(e.problem.contains("expected a number, found `abc`"), "{e}");
        let e = Threshold::parse("missing == 1s").unwrap_err();
        assert!(e.problem.contains("a count takes no unit"), "{e}");
        let e = Threshold::parse("watch_ms_error_p99 <= 1d").unwrap_err();
        assert!(e.problem.contains("unknown duration unit `d`"), "{e}");
        let e = Threshold::parse("f1 >=").unwrap_err();
        assert!(e.problem.contains("expected a value"), "{e}");
        let e = Threshold::parse(">= 1").unwrap_err();
        assert!(e.problem.contains("expected a metric name"), "{e}");
    }

    #[test]
    fn run_metrics_are_known_only_when_asked_for() {
        assert!(Threshold::parse("lag_p99 <= 5s").is_err());
        let t = Threshold::parse_with("lag_p99 <= 5s", RUN_METRICS).unwrap();
        assert_eq!(t.value, 5_000.0);
        let t = Threshold::parse_with("throughput_ratio >= 95%", RUN_METRICS).unwrap();
        assert!((t.value - 0.95).abs() < 1e-12);
        let e = Threshold::parse_with("lagp99 < 1", RUN_METRICS).unwrap_err();
        assert!(e.problem.contains("lag_p50"), "{e}");
    }

    #[test]
    fn collects_every_error() {
        let exprs = ["f1 >= 1".to_string(), "x < 1".into(), "y > 2".into()];
        let errors = parse_thresholds(&exprs).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].expr, "y > 2");
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Op::Le.holds(1.0, 1.0));
        assert!(!Op::Lt.holds(1.0, 1.0));
        assert!(Op::Ge.holds(0.1 + 0.2, 0.3));
        assert!(!Op::Gt.holds(0.3, 0.3));
        assert!(Op::Ne.holds(1.0, 2.0));
        assert!(!Op::Eq.holds(f64::NAN, 0.0));
    }

    #[test]
    fn reads_scenario_thresholds() {
        let t = scenario_thresholds("name = \"x\"\nthresholds = [\"f1 >= 0.9\"]").unwrap();
        assert_eq!(t, Some(vec!["f1 >= 0.9".to_string()]));
        let t = scenario_thresholds("[verify]\nthresholds = [\"missing == 0\"]").unwrap();
        assert_eq!(t, Some(vec!["missing == 0".to_string()]));
        assert_eq!(scenario_thresholds("name = \"x\"").unwrap(), None);
        assert!(scenario_thresholds("thresholds = [1]").is_err());
    }
}
