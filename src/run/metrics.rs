//! Thresholds of a run: the verifier's metrics (`f1 >= 0.999`, `missing ==
//! 0`, ...) plus the metrics only a run against a broker has:
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `lag_p50`, `lag_p90`, `lag_p99`, `lag_p999`, `lag_max` | duration | lag percentiles |
//! | `throughput_ratio` | ratio | achieved over target produce rate |
//! | `broker_data_loss` | count | acked records absent from the topic |
//! | `schedule_misses` | count | records sent later than `load.miss_threshold` |
//! | `lag_unclosed` | count | truth sessions no record closed |
//! | `consumer_lag_max` | count | largest sampled consumer-group lag |
//!
//! Expressions are `metric OP value[unit]`, as in the verifier: durations
//! take `ms`, `s`, `m`, `h`; ratios take `%`.

use anyhow::anyhow;
use watchload_verifier::report::ThresholdResult;
use watchload_verifier::{Report, Threshold};

/// Kinds of run metrics, which decide the units allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Count,
    Ratio,
    Duration,
}

const RUN_METRICS: [(&str, Kind); 10] = [
    ("lag_p50", Kind::Duration),
    ("lag_p90", Kind::Duration),
    ("lag_p99", Kind::Duration),
    ("lag_p999", Kind::Duration),
    ("lag_max", Kind::Duration),
    ("throughput_ratio", Kind::Ratio),
    ("broker_data_loss", Kind::Count),
    ("schedule_misses", Kind::Count),
    ("lag_unclosed", Kind::Count),
    ("consumer_lag_max", Kind::Count),
];

const OPS: [&str; 6] = ["<=", ">=", "==", "!=", "<", ">"];

/// A parsed threshold of either family.
#[derive(Debug, Clone)]
pub enum RunThreshold {
    /// Checked against the verification report.
    Verifier(Threshold),
    /// Checked against the run's own metrics.
    Run {
        /// As written.
        expr: String,
        /// Metric name.
        metric: String,
        /// Operator text.
        op: &'static str,
        /// Bound in the metric's unit (ms, fraction, count).
        value: f64,
    },
}

/// Parses every expression, reporting all problems at once.
///
/// # Errors
///
/// One message listing every expression that failed and why.
pub fn parse_all(exprs: &[String]) -> anyhow::Result<Vec<RunThreshold>> {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    for expr in exprs {
        match parse(expr) {
            Ok(t) => ok.push(t),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(anyhow!("scenario thresholds:\n  {}", problems.join("\n  ")))
    }
}

fn parse(expr: &str) -> Result<RunThreshold, String> {
    let found = OPS
        .iter()
        .filter_map(|op| expr.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())));
    let name = found.map_or(expr, |(at, _)| &expr[..at]).trim();
    let Some(&(_, kind)) = RUN_METRICS.iter().find(|(n, _)| *n == name) else {
        return Threshold::parse(expr)
            .map(RunThreshold::Verifier)
            .map_err(|e| {
                let run: Vec<&str> = RUN_METRICS.iter().map(|(n, _)| *n).collect();
                format!("{e}; run metrics: {}", run.join(", "))
            });
    };
    let (at, op) = found.expect("a metric name was cut at an operator");
    let value = parse_value(expr[at + op.len()..].trim(), kind)
        .map_err(|problem| format!("threshold `{expr}`: {problem}"))?;
    Ok(RunThreshold::Run {
        expr: expr.trim().to_string(),
        metric: name.to_string(),
        op,
        value,
    })
}

fn parse_value(text: &str, kind: Kind) -> Result<f64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e')))
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("expected a number, found `{text}`"))?;
    let scale = match (kind, unit) {
        (_, "") => 1.0,
        (Kind::Ratio, "%") => 0.01,
        (Kind::Duration, "ms") => 1.0,
        (Kind::Duration, "s") => 1_000.0,
        (Kind::Duration, "m" | "min") => 60_000.0,
        (Kind::Duration, "h") => 3_600_000.0,
        (Kind::Ratio, u) => return Err(format!("unit `{u}` does not fit a ratio; use `%`")),
        (Kind::Duration, u) => {
            return Err(format!("unknown duration unit `{u}`; use ms, s, m or h"))
        }
        (Kind::Count, u) => return Err(format!("a count takes no unit, found `{u}`")),
    };
    Ok(n * scale)
}

fn holds(op: &str, actual: f64, bound: f64) -> bool {
    let eq = (actual - bound).abs() <= 1e-12 * bound.abs().max(1.0);
    match op {
        "<" => actual < bound && !eq,
        "<=" => actual < bound || eq,
        ">" => actual > bound && !eq,
        ">=" => actual > bound || eq,
        "==" => eq,
        _ => !eq,
    }
}

/// Checks every threshold; `run_metric` gives the run's own metrics.
pub fn check_all(
    thresholds: &[RunThreshold],
    report: &Report,
    run_metric: impl Fn(&str) -> Option<f64>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| match t {
            RunThreshold::Verifier(t) => t.check(report),
            RunThreshold::Run {
                expr,
                metric,
                op,
                value,
            } => {
                let actual = run_metric(metric).unwrap_or(f64::NAN);
                ThresholdResult {
                    expr: expr.clone(),
                    actual,
                    passed: holds(op, actual, *value),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_metrics_parse_with_units_and_verifier_ones_pass_through() {
        let all = parse_all(&[
            "lag_p99 <= 5s".to_string(),
            "throughput_ratio >= 95%".to_string(),
            "broker_data_loss == 0".to_string(),
            "f1 >= 0.999".to_string(),
        ])
        .unwrap();
        match &all[0] {
            RunThreshold::Run { value, op, .. } => assert_eq!((*value, *op), (5_000.0, "<=")),
            other => panic!("{other:?}"),
        }
        match &all[1] {
            RunThreshold::Run { value, .. } => assert!((value - 0.95).abs() < 1e-12),
            other => panic!("{other:?}"),
        }
        assert!(matches!(all[3], RunThreshold::Verifier(_)));
    }

    #[test]
    fn every_bad_expression_is_reported_with_the_known_names() {
        let err = parse_all(&["lag_p99 <= 5d".to_string(), "lagp99 < 1".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown duration unit `d`"), "{err}");
        assert!(err.contains("unknown metric `lagp99`"), "{err}");
        assert!(err.contains("run metrics: lag_p50"), "{err}");
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(holds("<=", 5_000.0, 5_000.0));
        assert!(!holds("<", 5_000.0, 5_000.0));
        assert!(holds("==", 0.0, 0.0));
        assert!(!holds(">=", f64::NAN, 0.0));
    }
}
