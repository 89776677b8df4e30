//! The comparison as a plain-text table: metric, baseline, new, change,
//! tolerance, verdict.

use super::metrics::{self, Unit};
use super::{Comparison, MetricRow, MetricVerdict};
use std::fmt::Write;

/// A value of `row`'s metric, in its unit (`-` when absent).
pub fn value(row: &MetricRow, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".to_string();
    };
    match metrics::find(&row.metric).map(|m| m.unit) {
        Some(Unit::Ms) => format!("{v:.0} ms"),
        Some(Unit::Count) => format!("{v:.0}"),
        Some(Unit::PerSecond) => format!("{v:.0}/s"),
        Some(Unit::Ratio) | None => format!("{v:.4}"),
    }
}

/// The change, absolute and relative (`-` when either side is absent).
pub fn change(row: &MetricRow) -> String {
    let Some(c) = row.change else {
        return "-".to_string();
    };
    if c == 0.0 {
        return "0".to_string();
    }
    let abs = match metrics::find(&row.metric).map(|m| m.unit) {
        Some(Unit::Ms) => format!("{c:+.0} ms"),
        Some(Unit::Count) => format!("{c:+.0}"),
        Some(Unit::PerSecond) => format!("{c:+.0}/s"),
        Some(Unit::Ratio) | None => format!("{c:+.4}"),
    };
    match row.relative_change {
        Some(r) if c != 0.0 => format!("{abs} ({:+.1}%)", r * 100.0),
        _ => abs,
    }
}

fn with_count(row: &MetricRow, v: Option<f64>, count: Option<f64>) -> String {
    match count {
        Some(n) => format!("{} ({n:.0})", value(row, v)),
        None => value(row, v),
    }
}

/// The table, one line per metric, then the verdict line.
pub fn render(c: &Comparison) -> String {
    let mut lines: Vec<[String; 6]> = vec![[
        "metric".into(),
        "baseline".into(),
        "new".into(),
        "change".into(),
        "tolerance".into(),
        "verdict".into(),
    ]];
    for row in &c.metrics {
        let (bc, nc) = match row.counts {
            Some((b, n)) => (Some(b), Some(n)),
            None => (None, None),
        };
        let verdict = match row.verdict {
            MetricVerdict::Ok => "ok",
            MetricVerdict::Regression => "REGRESSION",
            MetricVerdict::Info => "info",
            MetricVerdict::Skipped => "skipped",
        };
        lines.push([
            row.metric.clone(),
            with_count(row, row.baseline, bc),
            with_count(row, row.new, nc),
            change(row),
            row.tolerance.clone(),
            verdict.to_string(),
        ]);
    }
    let mut widths = [0usize; 6];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "baseline: {} ({} report)", c.baseline, c.kinds.0);
    let _ = writeln!(out, "new:      {} ({} report)\n", c.new, c.kinds.1);
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "\n{}: {} regression(s) beyond tolerance",
        c.verdict.to_uppercase(),
        c.regressions
    );
    out
}
