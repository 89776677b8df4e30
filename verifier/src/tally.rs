//! Accumulating findings into counts, distributions and samples. A tally
//! is built per spill bucket and tallies merge in any order to the same
//! result (samples keep the smallest keys, not the first seen).

use crate::attribution::{attribute, format_ms};
use crate::decode::OutputSession;
use crate::matching::{Class, Finding, UserVerdict};
use crate::report::{
    ratio, ChangelogCounts, ClassStat, Inputs, MalformedSample, OutputSide, Report, Sample, Scores,
    TruthCounts, TruthSide, WatchError, REPORT_SCHEMA_VERSION,
};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use watchload_model::truth::FaultSample;
use watchload_model::{SessionRules, TruthSession};

/// Samples kept per class.
pub const SAMPLES_PER_CLASS: usize = 5;
/// Malformed records kept as samples.
pub const MALFORMED_SAMPLES: usize = 10;

/// Running totals of a verification.
#[derive(Debug)]
pub struct Tally {
    /// Truth-side counts so far.
    pub truth: TruthCounts,
    /// Output records read (malformed included).
    pub records: u64,
    /// Output sessions after changelog resolution.
    pub output_sessions: u64,
    /// Output sessions accepted as tolerated.
    pub output_tolerated: u64,
    /// Malformed output records.
    pub malformed: u64,
    malformed_samples: Vec<MalformedSample>,
    /// Changelog counts.
    pub changelog: ChangelogCounts,
    fields_absent: BTreeMap<String, u64>,
    classes: BTreeMap<Class, u64>,
    watch_error: Histogram<u64>,
    field_mismatches: BTreeMap<String, u64>,
    attribution: BTreeMap<Class, BTreeMap<String, u64>>,
    samples: BTreeMap<Class, BTreeMap<(String, i64, u64), Sample>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            truth: TruthCounts::default(),
            records: 0,
            output_sessions: 0,
            output_tolerated: 0,
            malformed: 0,
            malformed_samples: Vec::new(),
            changelog: ChangelogCounts::default(),
            fields_absent: BTreeMap::new(),
            classes: BTreeMap::new(),
            watch_error: Histogram::new(3).expect("3 significant digits is valid"),
            field_mismatches: BTreeMap::new(),
            attribution: BTreeMap::new(),
            samples: BTreeMap::new(),
        }
    }
}

/// One user's sessions, as the tally needs them.
#[derive(Debug)]
pub struct UserCase<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Truth sessions.
    pub truths: &'a [TruthSession],
    /// Output sessions (final view).
    pub outputs: &'a [OutputSession],
    /// The user's expired events.
    pub excluded: &'a [FaultSample],
    /// Names of output streams, by stream index.
    pub streams: &'a [String],
}

impl Tally {
    /// Counts a malformed record, keeping the earliest few as samples.
    pub fn malformed(&mut self, sample: MalformedSample) {
        self.malformed += 1;
        self.malformed_samples.push(sample);
        if self.malformed_samples.len() > 4 * MALFORMED_SAMPLES {
            self.trim_malformed();
        }
    }

    fn trim_malformed(&mut self) {
        self.malformed_samples.sort();
        self.malformed_samples.truncate(MALFORMED_SAMPLES);
    }

    /// Adds one user's verdict.
    pub fn add_user(&mut self, case: &UserCase<'_>, verdict: &UserVerdict, rules: &SessionRules) {
        self.count_sides(case);
        self.output_tolerated += verdict.tolerated_outputs;
        for &(t, o) in &verdict.pairs {
            if let Some(out) = case.outputs[o].watch_ms {
                let err = out.abs_diff(case.truths[t].session.watch_ms);
                self.watch_error.saturating_record(err);
            }
        }
        for finding in &verdict.findings {
            *self.classes.entry(finding.class).or_insert(0) += finding.weight();
            for diff in &finding.diffs {
                *self.field_mismatches.entry(diff.field.clone()).or_insert(0) += 1;
            }
            if finding.class == Class::Exact {
                continue;
            }
            let attribution = attribute(
                finding,
                case.truths,
                case.outputs,
                case.excluded,
                rules.session_gap_ms,
            );
            if finding.class.is_error() {
                let per_label = self.attribution.entry(finding.class).or_default();
                for cause in &attribution.causes {
                    *per_label.entry(cause.clone()).or_insert(0) += 1;
                }
            }
            self.keep_sample(case, finding, attribution);
        }
    }

    /// Adds a user whose `sessions` truth sessions each have exactly one
    /// output, equal to it in every field the output has, overlapping no
    /// other session, and none tolerated: what [`Tally::add_user`] counts
    /// for such a user, without building its verdict. `excluded` is the
    /// number of the user's expired events; `absent` counts, per field of
    /// [`crate::compact::OPTIONAL_FIELDS`], the outputs without it.
    pub fn add_exact_user(&mut self, sessions: u64, excluded: u64, absent: [u64; 6]) {
        if sessions > 0 {
            self.truth.users += 1;
            *self.classes.entry(Class::Exact).or_insert(0) += sessions;
        }
        let with_watch_ms = sessions - absent[3];
        if with_watch_ms > 0 {
            self.watch_error.saturating_record_n(0, with_watch_ms);
        }
        for (field, n) in crate::compact::OPTIONAL_FIELDS.iter().zip(absent) {
            if n > 0 {
                *self.fields_absent.entry(field.to_string()).or_insert(0) += n;
            }
        }
        self.truth.sessions += sessions;
        self.truth.judged += sessions;
        self.truth.excluded_events += excluded;
        self.output_sessions += sessions;
    }

    fn count_sides(&mut self, case: &UserCase<'_>) {
        if !case.truths.is_empty() {
            self.truth.users += 1;
        }
        self.truth.sessions += case.truths.len() as u64;
        let tolerated = case.truths.iter().filter(|t| t.tolerated).count() as u64;
        self.truth.tolerated += tolerated;
        self.truth.judged += case.truths.len() as u64 - tolerated;
        self.truth.excluded_events += case.excluded.len() as u64;
        self.output_sessions += case.outputs.len() as u64;
        for out in case.outputs {
            let absent = [
                ("event_count", out.event_count.is_none()),
                ("playbacks", out.playbacks.is_none()),
                ("content_ids", out.content_ids.is_none()),
                ("watch_ms", out.watch_ms.is_none()),
                ("device_switches", out.device_switches.is_none()),
                ("devices", out.devices.is_none()),
            ];
            for (field, is_absent) in absent {
                if is_absent {
                    *self.fields_absent.entry(field.to_string()).or_insert(0) += 1;
                }
            }
        }
    }

    fn keep_sample(
        &mut self,
        case: &UserCase<'_>,
        finding: &Finding,
        attribution: crate::attribution::Attribution,
    ) {
        let first_start = finding
            .truths
            .iter()
            .map(|&t| case.truths[t].session.session_start)
            .chain(
                finding
                    .outputs
                    .iter()
                    .map(|&o| case.outputs[o].session_start),
            )
            .min()
            .unwrap_or(i64::MIN);
        let tiebreak = finding.outputs.first().map_or(0, |&o| {
            let origin = case.outputs[o].origin;
            (u64::from(origin.stream) << 40) ^ origin.position
        });
        let key = (case.user_id.to_string(), first_start, tiebreak);
        let kept = self.samples.entry(finding.class).or_default();
        if kept.len() >= SAMPLES_PER_CLASS && kept.keys().next_back().is_some_and(|k| *k < key) {
            return;
        }
        kept.insert(key, build_sample(case, finding, attribution));
        if kept.len() > SAMPLES_PER_CLASS {
            kept.pop_last();
        }
    }

    /// Folds another tally into this one.
    pub fn merge(&mut self, other: Tally) {
        let t = &mut self.truth;
        t.sessions += other.truth.sessions;
        t.tolerated += other.truth.tolerated;
        t.judged += other.truth.judged;
        t.users += other.truth.users;
        t.excluded_events += other.truth.excluded_events;
        self.records += other.records;
        self.output_sessions += other.output_sessions;
        self.output_tolerated += other.output_tolerated;
        self.malformed += other.malformed;
        self.malformed_samples.extend(other.malformed_samples);
        self.trim_malformed();
        let c = &mut self.changelog;
        c.upserts += other.changelog.upserts;
        c.tombstones += other.changelog.tombstones;
        c.superseded += other.changelog.superseded;
        c.deleted += other.changelog.deleted;
        c.orphan_tombstones += other.changelog.orphan_tombstones;
        add_counts(&mut self.fields_absent, other.fields_absent);
        add_counts(&mut self.classes, other.classes);
        add_counts(&mut self.field_mismatches, other.field_mismatches);
        self.watch_error
            .add(&other.watch_error)
            .expect("auto-resizing histograms always add");
        for (class, labels) in other.attribution {
            add_counts(self.attribution.entry(class).or_default(), labels);
        }
        for (class, samples) in other.samples {
            let kept = self.samples.entry(class).or_default();
            kept.extend(samples);
            while kept.len() > SAMPLES_PER_CLASS {
                kept.pop_last();
            }
        }
    }

    /// The report (thresholds not yet applied, verdict `pass`).
    pub fn finish(mut self, inputs: Inputs, rules: SessionRules) -> Report {
        self.trim_malformed();
        let judged_out = self.output_sessions - self.output_tolerated;
        let count = |c: Class| self.classes.get(&c).copied().unwrap_or(0);
        let classes = Class::ALL
            .iter()
            .map(|&class| {
                let den = match class {
                    Class::Tolerated => self.truth.sessions,
                    c if c.counts_outputs() => judged_out,
                    _ => self.truth.judged,
                };
                let n = count(class);
                let stat = ClassStat {
                    count: n,
                    rate: ratio(n, den),
                };
                (class.as_str().to_string(), stat)
            })
            .collect();
        let exact = count(Class::Exact);
        let precision = if judged_out == 0 {
            1.0
        } else {
            ratio(exact, judged_out)
        };
        let recall = if self.truth.judged == 0 {
            1.0
        } else {
            ratio(exact, self.truth.judged)
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        let h = &self.watch_error;
        let watch_ms_error = WatchError {
            pairs: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            mean: if h.is_empty() { 0.0 } else { h.mean() },
        };
        let mut changelog = self.changelog.clone();
        changelog.intermediate_versions = changelog.superseded + changelog.deleted;
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            watchload_version: env!("CARGO_PKG_VERSION").to_string(),
            inputs,
            rules,
            truth: self.truth.clone(),
            output: crate::report::OutputCounts {
                records: self.records,
                sessions: self.output_sessions,
                tolerated: self.output_tolerated,
                judged: judged_out,
                malformed: self.malformed,
                malformed_samples: self.malformed_samples,
                changelog,
                fields_absent: self.fields_absent,
            },
            classes,
            scores: Scores {
                precision,
                recall,
                f1,
            },
            watch_ms_error,
            field_mismatches: self.field_mismatches,
            attribution: name_keys(self.attribution),
            samples: name_keys(
                self.samples
                    .into_iter()
                    .map(|(c, s)| (c, s.into_values().collect()))
                    .collect(),
            ),
            thresholds: Vec::new(),
            verdict: "pass".to_string(),
        }
    }
}

fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

fn name_keys<V>(map: BTreeMap<Class, V>) -> BTreeMap<String, V> {
    map.into_iter()
        .map(|(c, v)| (c.as_str().to_string(), v))
        .collect()
}

fn build_sample(
    case: &UserCase<'_>,
    finding: &Finding,
    attribution: crate::attribution::Attribution,
) -> Sample {
    let truth = finding
        .truths
        .iter()
        .map(|&t| TruthSide {
            session_id: case.truths[t].session_id.clone(),
            tolerated: case.truths[t].tolerated,
            session: case.truths[t].session.clone(),
        })
        .collect();
    let output = finding
        .outputs
        .iter()
        .map(|&o| {
            let s = &case.outputs[o];
            let stream = case
                .streams
                .get(s.origin.stream as usize)
                .cloned()
                .unwrap_or_else(|| format!("stream {}", s.origin.stream));
            OutputSide {
                origin: format!("{stream}:{}", s.origin.position),
                session: serde_json::to_value(s).unwrap_or_default(),
            }
        })
        .collect();
    Sample {
        class: finding.class.as_str().to_string(),
        user_id: case.user_id.to_string(),
        summary: summarize(finding),
        truth,
        output,
        diffs: finding.diffs.clone(),
        causes: attribution.causes.into_iter().collect(),
        explanations: attribution.explanations,
        evidence: attribution.evidence,
    }
}

/// One line saying what is wrong in a finding.
pub fn summarize(f: &Finding) -> String {
    let (t, o) = (f.truths.len(), f.outputs.len());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match f.class {
        Class::Exact => "output equals truth".to_string(),
        Class::Boundary | Class::WatchTime | Class::Device | Class::Field => {
            let parts: Vec<String> = f
                .diffs
                .iter()
                .map(|d| match (d.field.as_str(), d.delta) {
                    ("session_start" | "session_end" | "watch_ms", Some(delta)) => {
                        format!(
                            "{} off by {}{}",
                            d.field,
                            sign(delta),
                            format_ms(delta.abs())
                        )
                    }
                    (_, Some(delta)) => {
                        format!("{} off by {}{}", d.field, sign(delta), delta.abs())
                    }
                    (_, None) => format!("{} differ", d.field),
                })
                .collect();
            parts.join(", ")
        }
        Class::Split => format!("1 truth session came out as {}", plural(o, "output")),
        Class::Merged => format!(
            "{} came out as {}",
            plural(t, "truth session"),
            plural(o, "output")
        ),
        Class::Missing => "no output overlaps the truth session".to_string(),
        Class::Spurious if t == 0 => "output overlaps no truth session".to_string(),
        Class::Spurious => format!(
            "extra output overlapping {} already produced exactly",
            plural(t, "truth session")
        ),
        Class::Duplicate => "identical copy of another output".to_string(),
        Class::Tolerated => format!("tolerated truth session, {} accepted", plural(o, "output")),
    }
}

fn sign(delta: i64) -> &'static str {
    if delta >= 0 {
        "+"
    } else {
        "-"
    }
}
