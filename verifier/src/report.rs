//! The verification report: a versioned JSON document (schema in
//! `docs/report-schema.json`), plus the metric names thresholds refer to.

use crate::attribution::Evidence;
use crate::matching::FieldDiff;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use watchload_model::{SessionRules, WatchSession};

/// Version of the report layout. Bumped on any change that removes or
/// renames a field or changes a meaning; adding a field keeps it.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of watchload that wrote the report.
    pub watchload_version: String,
    /// What was compared.
    pub inputs: Inputs,
    /// Session rules truth was built with.
    pub rules: SessionRules,
    /// Truth-side counts.
    pub truth: TruthCounts,
    /// Output-side counts.
    pub output: OutputCounts,
    /// Count and rate of every class, keyed by class name.
    pub classes: BTreeMap<String, ClassStat>,
    /// Precision, recall and F1 over sessions.
    pub scores: Scores,
    /// Absolute watch-time error over 1-to-1 pairs.
    pub watch_ms_error: WatchError,
    /// How often each field differed in 1-to-1 pairs.
    pub field_mismatches: BTreeMap<String, u64>,
    /// Per error class, how many findings each cause was behind.
    pub attribution: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per class (exact excluded), a few findings with their evidence.
    pub samples: BTreeMap<String, Vec<Sample>>,
    /// Thresholds checked, in the order given.
    pub thresholds: Vec<ThresholdResult>,
    /// `pass` when every threshold held, else `fail`.
    pub verdict: String,
}

/// What was compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The truth run directory.
    pub truth_dir: String,
    /// The output streams (files, partitions) read.
    pub sessions: Vec<String>,
    /// The mapping file, if any.
    pub mapping: Option<String>,
    /// `final-view` or `append`.
    pub output_mode: String,
    /// The scenario name from the manifest, if any.
    pub scenario: Option<String>,
}

/// Truth-side counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthCounts {
    /// Truth sessions read.
    pub sessions: u64,
    /// Of which tolerated.
    pub tolerated: u64,
    /// Of which judged (not tolerated): the denominator of truth-side rates.
    pub judged: u64,
    /// Distinct users with truth sessions.
    pub users: u64,
    /// Expired events read from `excluded.jsonl`.
    pub excluded_events: u64,
}

/// Output-side counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputCounts {
    /// Records read from the sources, malformed included.
    pub records: u64,
    /// Sessions after the changelog was resolved.
    pub sessions: u64,
    /// Sessions accepted because they overlap a tolerated truth session.
    pub tolerated: u64,
    /// Sessions judged: the denominator of output-side rates and precision.
    pub judged: u64,
    /// Records that could not be decoded.
    pub malformed: u64,
    /// A few malformed records, earliest first.
    pub malformed_samples: Vec<MalformedSample>,
    /// How the changelog was resolved.
    pub changelog: ChangelogCounts,
    /// Per field, how many sessions lacked it (absent fields are not
    /// compared).
    pub fields_absent: BTreeMap<String, u64>,
}

/// A malformed record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MalformedSample {
    /// The stream (file) it came from.
    pub source: String,
    /// Line (or offset) in that stream.
    pub line: u64,
    /// What was wrong.
    pub error: String,
}

/// Changelog resolution counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogCounts {
    /// Session versions read (every non-tombstone record).
    pub upserts: u64,
    /// Tombstones read.
    pub tombstones: u64,
    /// Versions replaced by a later version under the same key.
    pub superseded: u64,
    /// Versions removed by a tombstone.
    pub deleted: u64,
    /// Tombstones for a key with no live version (harmless, counted).
    pub orphan_tombstones: u64,
    /// Intermediate versions seen: `superseded + deleted`.
    pub intermediate_versions: u64,
}

/// Count and rate of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassStat {
    /// Sessions in the class (truth sessions, or output sessions for
    /// `spurious` and `duplicate`).
    pub count: u64,
    /// `count` over judged truth sessions (over judged output sessions for
    /// `spurious` and `duplicate`, over all truth sessions for `tolerated`).
    pub rate: f64,
}

/// Session-level scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    /// Exact outputs over judged outputs (1 when there are none).
    pub precision: f64,
    /// Exact truth sessions over judged truth sessions (1 when none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// Distribution of |output watch_ms - truth watch_ms| over 1-to-1 pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchError {
    /// Pairs measured (pairs whose output has `watch_ms`).
    pub pairs: u64,
    /// Median, ms.
    pub p50: u64,
    /// 90th percentile, ms.
    pub p90: u64,
    /// 99th percentile, ms.
    pub p99: u64,
    /// Largest, ms.
    pub max: u64,
    /// Mean, ms.
    pub mean: f64,
}

/// One finding, with both sides and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// The class.
    pub class: String,
    /// The user.
    pub user_id: String,
    /// One line saying what is wrong.
    pub summary: String,
    /// Truth sessions involved.
    pub truth: Vec<TruthSide>,
    /// Output sessions involved.
    pub output: Vec<OutputSide>,
    /// Fields that differ (1-to-1 pairs).
    pub diffs: Vec<FieldDiff>,
    /// Causes: fault labels, `expired`, or `none`.
    pub causes: Vec<String>,
    /// Sentences naming the events behind it.
    pub explanations: Vec<String>,
    /// The events behind it.
    pub evidence: Vec<Evidence>,
}

/// A truth session in a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSide {
    /// `user_id@session_start`.
    pub session_id: String,
    /// Whether tolerated.
    pub tolerated: bool,
    /// The session.
    pub session: WatchSession,
}

/// An output session in a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSide {
    /// `stream:line` of the surviving version.
    pub origin: String,
    /// The session as decoded (absent fields are null).
    pub session: serde_json::Value,
}

/// One threshold's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdResult {
    /// The expression as written.
    pub expr: String,
    /// The metric's value.
    pub actual: f64,
    /// Whether it held.
    pub passed: bool,
}

/// Kind of a metric, which decides the units a threshold may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A count of sessions or records.
    Count,
    /// A ratio in [0, 1]; `%` allowed.
    Ratio,
    /// A duration in ms; `ms`, `s`, `m`, `h` allowed.
    Duration,
}

/// Every metric a threshold may name, with its kind.
pub fn known_metrics() -> Vec<(String, MetricKind)> {
    let mut out = vec![
        ("f1".to_string(), MetricKind::Ratio),
        ("precision".to_string(), MetricKind::Ratio),
        ("recall".to_string(), MetricKind::Ratio),
    ];
    for class in crate::matching::Class::ALL {
        out.push((class.as_str().to_string(), MetricKind::Count));
        out.push((format!("{}_rate", class.as_str()), MetricKind::Ratio));
    }
    for name in ["p50", "p90", "p99", "max"] {
        out.push((format!("watch_ms_error_{name}"), MetricKind::Duration));
    }
    out.extend([
        ("malformed".to_string(), MetricKind::Count),
        ("malformed_rate".to_string(), MetricKind::Ratio),
        ("truth_sessions".to_string(), MetricKind::Count),
        ("output_sessions".to_string(), MetricKind::Count),
        ("intermediate_versions".to_string(), MetricKind::Count),
    ]);
    out
}

impl Report {
    /// The value of metric `name` (see [`known_metrics`]), if known.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let class = |n: &str| self.classes.get(n).copied();
        let value = match name {
            "f1" => self.scores.f1,
            "precision" => self.scores.precision,
            "recall" => self.scores.recall,
            "watch_ms_error_p50" => self.watch_ms_error.p50 as f64,
            "watch_ms_error_p90" => self.watch_ms_error.p90 as f64,
            "watch_ms_error_p99" => self.watch_ms_error.p99 as f64,
            "watch_ms_error_max" => self.watch_ms_error.max as f64,
            "malformed" => self.output.malformed as f64,
            "malformed_rate" => ratio(self.output.malformed, self.output.records),
            "truth_sessions" => self.truth.sessions as f64,
            "output_sessions" => self.output.sessions as f64,
            "intermediate_versions" => self.output.changelog.intermediate_versions as f64,
            other => match other.strip_suffix("_rate") {
                Some(c) => class(c)?.rate,
                None => class(other)?.count as f64,
            },
        };
        Some(value)
    }
}

/// `num / den`, 0 when `den` is 0.
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}
