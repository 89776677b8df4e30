//! Thresholds of a run: the verifier's metrics (`f1 >= 0.999`, `missing ==
//! 0`, ...) plus the metrics only a run against a broker has, listed in
//! [`RUN_METRICS`] (lag percentiles, throughput, delivery).

use anyhow::anyhow;
use watchload_verifier::report::ThresholdResult;
use watchload_verifier::threshold::{parse_thresholds_with, RUN_METRICS};
use watchload_verifier::{Report, Threshold};

/// Parses every expression, reporting all problems at once.
///
/// # Errors
///
/// One message listing every expression that failed and why.
pub fn parse_all(exprs: &[String]) -> anyhow::Result<Vec<Threshold>> {
    parse_thresholds_with(exprs, RUN_METRICS).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!("scenario thresholds:\n  {}", lines.join("\n  "))
    })
}

/// Checks every threshold; `run_metric` gives the run's own metrics.
pub fn check_all(
    thresholds: &[Threshold],
    report: &Report,
    run_metric: impl Fn(&str) -> Option<f64>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| t.check_with(report, &run_metric))
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
        assert_eq!(all[0].value, 5_000.0);
        assert!((all[1].value - 0.95).abs() < 1e-12);
        assert_eq!(all[3].metric, "f1");
    }

    #[test]
    fn every_bad_expression_is_reported_with_the_known_names() {
        let err = parse_all(&["lag_p99 <= 5d".to_string(), "lagp99 < 1".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown duration unit `d`"), "{err}");
        assert!(err.contains("unknown metric `lagp99`"), "{err}");
        assert!(err.contains("lag_p50"), "{err}");
    }
}
