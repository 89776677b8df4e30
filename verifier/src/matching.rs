//! Matching one user's output sessions to truth sessions, and classifying
//! every difference. Pure: no I/O.
//!
//! The steps, as `docs/verifier.md` states them:
//! 1. Tolerated truth sessions and every output overlapping one are set
//!    aside (class `tolerated`, never an error).
//! 2. Outputs with identical content are collapsed; each extra copy is a
//!    `duplicate`.
//! 3. The rest is cut into clusters of overlapping spans. In each cluster
//!    truth and output sessions are paired by a maximum-weight assignment
//!    (exact equality first, then overlap), so the result does not depend
//!    on input order.
//! 4. Each truth session gets one class: `exact`; `missing` (no output
//!    overlaps it); `merged` (its output also covers another truth session,
//!    or all outputs overlapping it were paired elsewhere); `split` (more
//!    than one output overlaps it); else, by the first differing field,
//!    `boundary`, `watch_time`, `device` or `field`. An output paired with
//!    nothing that overlaps no truth, or only exactly produced ones, is
//!    `spurious`.

use crate::assign::assign;
use crate::decode::OutputSession;
use serde::{Deserialize, Serialize};
use watchload_model::TruthSession;

/// The class of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Output equals truth in every compared field.
    Exact,
    /// Start or end differs.
    Boundary,
    /// Only `watch_ms` (and maybe later fields) differ.
    WatchTime,
    /// The per-device breakdown differs.
    Device,
    /// `event_count`, `playbacks`, `content_ids` or `device_switches` differ.
    Field,
    /// One truth session came out as several outputs.
    Split,
    /// Several truth sessions came out as one output.
    Merged,
    /// No output for a truth session.
    Missing,
    /// An output with no truth session.
    Spurious,
    /// An extra identical copy of an output.
    Duplicate,
    /// A tolerated truth session (either variant accepted).
    Tolerated,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 11] = [
        Class::Exact,
        Class::Boundary,
        Class::WatchTime,
        Class::Device,
        Class::Field,
        Class::Split,
        Class::Merged,
        Class::Missing,
        Class::Spurious,
        Class::Duplicate,
        Class::Tolerated,
    ];

    /// The name used in reports and threshold metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Exact => "exact",
            Class::Boundary => "boundary",
            Class::WatchTime => "watch_time",
            Class::Device => "device",
            Class::Field => "field",
            Class::Split => "split",
            Class::Merged => "merged",
            Class::Missing => "missing",
            Class::Spurious => "spurious",
            Class::Duplicate => "duplicate",
            Class::Tolerated => "tolerated",
        }
    }

    /// Whether the class counts output sessions (else truth sessions).
    pub fn counts_outputs(self) -> bool {
        matches!(self, Class::Spurious | Class::Duplicate)
    }

    /// Whether the class is an error.
    pub fn is_error(self) -> bool {
        !matches!(self, Class::Exact | Class::Tolerated)
    }
}

/// One field that differs between a truth session and its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Field name as in `WatchSession`.
    pub field: String,
    /// Truth value, as compact JSON.
    pub truth: String,
    /// Output value, as compact JSON.
    pub output: String,
    /// Output minus truth, for numeric fields.
    pub delta: Option<i64>,
}

/// One classified group of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What happened.
    pub class: Class,
    /// Indices into the user's truth sessions involved.
    pub truths: Vec<usize>,
    /// Indices into the user's output sessions involved.
    pub outputs: Vec<usize>,
    /// For 1-to-1 pairs: the fields that differ.
    pub diffs: Vec<FieldDiff>,
}

impl Finding {
    /// How many sessions this finding counts in its class.
    pub fn weight(&self) -> u64 {
        if self.class.counts_outputs() {
            self.outputs.len() as u64
        } else {
            self.truths.len() as u64
        }
    }
}

/// The verdict on one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserVerdict {
    /// Findings, in a deterministic order.
    pub findings: Vec<Finding>,
    /// Outputs accepted because they overlap a tolerated truth session.
    pub tolerated_outputs: u64,
    /// For 1-to-1 pairs (exact and field-level classes): truth and output
    /// index, for the watch-time error distribution.
    pub pairs: Vec<(usize, usize)>,
}

fn overlaps(a_start: i64, a_end: i64, b_start: i64, b_end: i64) -> bool {
    a_start <= b_end && b_start <= a_end
}

fn overlap_ms(t: &TruthSession, o: &OutputSession) -> Option<i64> {
    let s = &t.session;
    overlaps(
        s.session_start,
        s.session_end,
        o.session_start,
        o.session_end,
    )
    .then(|| s.session_end.min(o.session_end) - s.session_start.max(o.session_start))
}

/// Classifies one user's sessions. `truths` and `outputs` may come in any
/// order; indices in the result refer to the slices as given.
pub fn classify_user(truths: &[TruthSession], outputs: &[OutputSession]) -> UserVerdict {
    let mut verdict = UserVerdict::default();

    let (judged_outputs, tolerated) = set_aside_tolerated(truths, outputs, &mut verdict);
    let distinct = collapse_duplicates(truths, outputs, judged_outputs, &tolerated, &mut verdict);

    let judged_truths: Vec<usize> = (0..truths.len())
        .filter(|&t| !truths[t].tolerated)
        .collect();
    for (ts, os) in clusters(truths, outputs, &judged_truths, &distinct) {
        classify_cluster(truths, outputs, &ts, &os, &tolerated, &mut verdict);
    }
    verdict
}

/// Step 1. Returns the outputs still to judge and, per output, whether it
/// was set aside.
fn set_aside_tolerated(
    truths: &[TruthSession],
    outputs: &[OutputSession],
    verdict: &mut UserVerdict,
) -> (Vec<usize>, Vec<bool>) {
    let mut tolerated = vec![false; outputs.len()];
    for (t, truth) in truths.iter().enumerate().filter(|(_, t)| t.tolerated) {
        let covered: Vec<usize> = (0..outputs.len())
            .filter(|&o| overlap_ms(truth, &outputs[o]).is_some())
            .collect();
        for &o in &covered {
            tolerated[o] = true;
        }
        verdict.findings.push(Finding {
            class: Class::Tolerated,
            truths: vec![t],
            outputs: covered,
            diffs: Vec::new(),
        });
    }
    verdict.tolerated_outputs = tolerated.iter().filter(|t| **t).count() as u64;
    let judged = (0..outputs.len()).filter(|&o| !tolerated[o]).collect();
    (judged, tolerated)
}

/// Step 2. Returns the outputs left after collapsing identical copies (the
/// first copy in origin order stays).
fn collapse_duplicates(
    truths: &[TruthSession],
    outputs: &[OutputSession],
    mut judged: Vec<usize>,
    tolerated: &[bool],
    verdict: &mut UserVerdict,
) -> Vec<usize> {
    judged.sort_by_key(|&o| {
        let s = &outputs[o];
        (s.session_start, s.session_end, s.origin)
    });
    let mut distinct: Vec<usize> = Vec::with_capacity(judged.len());
    let mut run_start = 0;
    for &o in &judged {
        let same_span = |d: &usize| {
            outputs[*d].session_start == outputs[o].session_start
                && outputs[*d].session_end == outputs[o].session_end
        };
        while run_start < distinct.len() && !same_span(&distinct[run_start]) {
            run_start += 1;
        }
        let copy_of = distinct[run_start..]
            .iter()
            .find(|&&d| outputs[d].same_content(&outputs[o]));
        match copy_of {
            Some(_) => {
                let over = (0..truths.len())
                    .filter(|&t| overlap_ms(&truths[t], &outputs[o]).is_some())
                    .collect();
                verdict.findings.push(Finding {
                    class: Class::Duplicate,
                    truths: over,
                    outputs: vec![o],
                    diffs: Vec::new(),
                });
            }
            None => distinct.push(o),
        }
    }
    debug_assert!(distinct.iter().all(|&o| !tolerated[o]));
    distinct
}

/// Step 3: groups of truth and output indices whose spans chain together
/// by overlap (sorted by start within each group).
fn clusters(
    truths: &[TruthSession],
    outputs: &[OutputSession],
    ts: &[usize],
    os: &[usize],
) -> Vec<(Vec<usize>, Vec<usize>)> {
    // (start, end, is_output, index)
    let mut spans: Vec<(i64, i64, bool, usize)> = ts
        .iter()
        .map(|&t| {
            (
                truths[t].session.session_start,
                truths[t].session.session_end,
                false,
                t,
            )
        })
        .chain(
            os.iter()
                .map(|&o| (outputs[o].session_start, outputs[o].session_end, true, o)),
        )
        .collect();
    spans.sort();
    let mut out: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    let mut reach = i64::MIN;
    for (start, end, is_output, i) in spans {
        if out.is_empty() || start > reach {
            out.push((Vec::new(), Vec::new()));
            reach = end;
        }
        reach = reach.max(end);
        let group = out.last_mut().expect("pushed above");
        if is_output {
            group.1.push(i);
        } else {
            group.0.push(i);
        }
    }
    out
}

/// Step 4 for one cluster.
fn classify_cluster(
    truths: &[TruthSession],
    outputs: &[OutputSession],
    ts: &[usize],
    os: &[usize],
    tolerated: &[bool],
    verdict: &mut UserVerdict,
) {
    let edge = |r: usize, c: usize| overlap_ms(&truths[ts[r]], &outputs[os[c]]);
    let weight = |r: usize, c: usize| {
        edge(r, c).map(|ms| {
            let exact = is_exact(&truths[ts[r]], &outputs[os[c]]);
            ms + 1 + if exact { 1 << 50 } else { 0 }
        })
    };
    let by_row = assign(ts.len(), os.len(), weight);
    let mut row_of_col = vec![None; os.len()];
    for (r, c) in by_row.iter().enumerate() {
        if let Some(c) = c {
            row_of_col[*c] = Some(r);
        }
    }

    let mut classes: Vec<Class> = Vec::with_capacity(ts.len());
    let mut merged_rows = Vec::new();
    for r in 0..ts.len() {
        let over: Vec<usize> = (0..os.len()).filter(|&c| edge(r, c).is_some()).collect();
        let truth = &truths[ts[r]];
        let (class, diffs) = match by_row[r] {
            None if over.is_empty() => (merged_with_tolerated(truth, outputs, tolerated), vec![]),
            None => (Class::Merged, vec![]),
            Some(c) => {
                let exact = is_exact(truth, &outputs[os[c]]);
                let diffs = if exact {
                    vec![]
                } else {
                    diff_fields(truth, &outputs[os[c]])
                };
                let covers_other = (0..ts.len()).any(|r2| r2 != r && edge(r2, c).is_some());
                if exact {
                    verdict.pairs.push((ts[r], os[c]));
                    (Class::Exact, diffs)
                } else if covers_other {
                    (Class::Merged, vec![])
                } else if over.len() > 1 {
                    (Class::Split, vec![])
                } else {
                    verdict.pairs.push((ts[r], os[c]));
                    (class_of_diffs(&diffs), diffs)
                }
            }
        };
        classes.push(class);
        if class == Class::Merged {
            merged_rows.push(r);
            continue;
        }
        verdict.findings.push(Finding {
            class,
            truths: vec![ts[r]],
            outputs: over.iter().map(|&c| os[c]).collect(),
            diffs,
        });
    }

    push_merged_groups(&merged_rows, ts, os, &edge, verdict);

    for c in 0..os.len() {
        if row_of_col[c].is_some() {
            continue;
        }
        let over: Vec<usize> = (0..ts.len()).filter(|&r| edge(r, c).is_some()).collect();
        if over.iter().all(|&r| classes[r] == Class::Exact) {
            verdict.findings.push(Finding {
                class: Class::Spurious,
                truths: over.iter().map(|&r| ts[r]).collect(),
                outputs: vec![os[c]],
                diffs: Vec::new(),
            });
        }
    }
}

/// A truth session with no judged output overlapping it: missing, unless a
/// tolerated output covered it (then it was merged into a tolerated one).
fn merged_with_tolerated(
    truth: &TruthSession,
    outputs: &[OutputSession],
    tolerated: &[bool],
) -> Class {
    let covered =
        (0..outputs.len()).any(|o| tolerated[o] && overlap_ms(truth, &outputs[o]).is_some());
    if covered {
        Class::Merged
    } else {
        Class::Missing
    }
}

/// Merged truth sessions sharing an output form one finding.
fn push_merged_groups(
    rows: &[usize],
    ts: &[usize],
    os: &[usize],
    edge: &impl Fn(usize, usize) -> Option<i64>,
    verdict: &mut UserVerdict,
) {
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for &r in rows {
        let cols: Vec<usize> = (0..os.len()).filter(|&c| edge(r, c).is_some()).collect();
        let joined = groups
            .iter_mut()
            .find(|(_, gc)| gc.iter().any(|c| cols.contains(c)) || cols.is_empty());
        match joined {
            Some((gr, gc)) => {
                gr.push(r);
                for c in cols {
                    if !gc.contains(&c) {
                        gc.push(c);
                    }
                }
            }
            None => groups.push((vec![r], cols)),
        }
    }
    for (rs, mut cs) in groups {
        cs.sort();
        verdict.findings.push(Finding {
            class: Class::Merged,
            truths: rs.iter().map(|&r| ts[r]).collect(),
            outputs: cs.iter().map(|&c| os[c]).collect(),
            diffs: Vec::new(),
        });
    }
}

/// The class of a 1-to-1 pair with differences: the first differing
/// field group in precedence order.
fn class_of_diffs(diffs: &[FieldDiff]) -> Class {
    let has = |names: &[&str]| diffs.iter().any(|d| names.contains(&d.field.as_str()));
    if has(&["session_start", "session_end"]) {
        Class::Boundary
    } else if has(&["watch_ms"]) {
        Class::WatchTime
    } else if has(&["devices"]) {
        Class::Device
    } else {
        Class::Field
    }
}

/// Fields that differ between a truth session and an output (fields the
/// output lacks are not compared).
pub fn diff_fields(truth: &TruthSession, out: &OutputSession) -> Vec<FieldDiff> {
    let t = &truth.session;
    let mut diffs = Vec::new();
    let mut num = |field: &str, a: i64, b: Option<i64>| {
        if let Some(b) = b {
            if a != b {
                diffs.push(FieldDiff {
                    field: field.to_string(),
                    truth: a.to_string(),
                    output: b.to_string(),
                    delta: Some(b - a),
                });
            }
        }
    };
    num("session_start", t.session_start, Some(out.session_start));
    num("session_end", t.session_end, Some(out.session_end));
    num(
        "watch_ms",
        t.watch_ms as i64,
        out.watch_ms.map(|v| v as i64),
    );
    num(
        "event_count",
        t.event_count as i64,
        out.event_count.map(|v| v as i64),
    );
    num(
        "playbacks",
        t.playbacks as i64,
        out.playbacks.map(i64::from),
    );
    num(
        "device_switches",
        t.device_switches as i64,
        out.device_switches.map(i64::from),
    );
    if let Some(ids) = &out.content_ids {
        if *ids != t.content_ids {
            diffs.push(list_diff("content_ids", &t.content_ids, ids));
        }
    }
    if let Some(devices) = &out.devices {
        if *devices != t.devices {
            diffs.push(list_diff("devices", &t.devices, devices));
        }
    }
    diffs
}

/// Whether an output equals its truth session in every compared field.
pub fn is_exact(truth: &TruthSession, out: &OutputSession) -> bool {
    let t = &truth.session;
    t.session_start == out.session_start
        && t.session_end == out.session_end
        && out.watch_ms.map_or(true, |v| v == t.watch_ms)
        && out.event_count.map_or(true, |v| v == t.event_count)
        && out.playbacks.map_or(true, |v| v == t.playbacks)
        && out.device_switches.map_or(true, |v| v == t.device_switches)
        && out
            .content_ids
            .as_ref()
            .map_or(true, |v| *v == t.content_ids)
        && out.devices.as_ref().map_or(true, |v| *v == t.devices)
}

fn list_diff<T: Serialize>(field: &str, truth: &[T], output: &[T]) -> FieldDiff {
    FieldDiff {
        field: field.to_string(),
        truth: serde_json::to_string(truth).unwrap_or_default(),
        output: serde_json::to_string(output).unwrap_or_default(),
        delta: None,
    }
}
