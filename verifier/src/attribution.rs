//! Attribution: which injected faults lie behind a wrong session.
//!
//! Evidence comes from two places: the fault samples and counts recorded in
//! each truth session involved (events truth kept, with their labels and
//! lateness), and the user's expired events (`excluded.jsonl`) whose time
//! lies within one session gap of the sessions involved: a pipeline that
//! kept an expired event typically makes a spurious or merged session.

use crate::decode::OutputSession;
use crate::matching::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use watchload_model::truth::FaultSample;
use watchload_model::{Admission, TruthSession};

/// At most this many explanation sentences per finding.
pub const MAX_EXPLANATIONS: usize = 3;

/// The label used when no fault evidence was found: the pipeline's own bug.
pub const NO_EVIDENCE: &str = "none";

/// One piece of evidence behind a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `truth` (an event truth kept) or `excluded` (an expired event).
    pub from: String,
    /// The event.
    #[serde(flatten)]
    pub sample: FaultSample,
}

/// Why a finding happened, as far as the injected faults tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Distinct causes: fault labels, plus `expired` for expired events
    /// nearby, or [`NO_EVIDENCE`].
    pub causes: BTreeSet<String>,
    /// The events behind it (up to the truth's samples).
    pub evidence: Vec<Evidence>,
    /// Sentences such as "event e12 arrived 2h late (labels: offline)".
    pub explanations: Vec<String>,
}

/// Attributes `finding` of one user, given the user's expired events.
pub fn attribute(
    finding: &Finding,
    truths: &[TruthSession],
    outputs: &[OutputSession],
    excluded: &[FaultSample],
    gap_ms: i64,
) -> Attribution {
    let spans = finding
        .truths
        .iter()
        .map(|&t| {
            (
                truths[t].session.session_start,
                truths[t].session.session_end,
            )
        })
        .chain(
            finding
                .outputs
                .iter()
                .map(|&o| (outputs[o].session_start, outputs[o].session_end)),
        );
    let (lo, hi) = spans.fold((i64::MAX, i64::MIN), |(lo, hi), (s, e)| {
        (lo.min(s), hi.max(e))
    });

    let mut out = Attribution::default();
    for sample in excluded {
        if sample.event_time >= lo.saturating_sub(gap_ms)
            && sample.event_time <= hi.saturating_add(gap_ms)
        {
            out.causes.insert(Admission::Expired.as_str().to_string());
            out.causes.extend(sample.labels.iter().cloned());
            out.evidence.push(Evidence {
                from: "excluded".into(),
                sample: sample.clone(),
            });
        }
    }
    for &t in &finding.truths {
        out.causes.extend(truths[t].fault_counts.keys().cloned());
        for sample in &truths[t].fault_samples {
            out.evidence.push(Evidence {
                from: "truth".into(),
                sample: sample.clone(),
            });
        }
    }
    if out.causes.is_empty() {
        out.causes.insert(NO_EVIDENCE.to_string());
    }

    // Expired events first, then the latest arrivals: the likeliest causes.
    let mut ranked: Vec<&Evidence> = out.evidence.iter().collect();
    ranked.sort_by_key(|e| {
        (
            e.from != "excluded",
            -e.sample.lateness_ms,
            e.sample.event_time,
        )
    });
    out.explanations = ranked
        .iter()
        .take(MAX_EXPLANATIONS)
        .map(|e| explain(&e.sample))
        .collect();
    out
}

/// One sentence about one event.
pub fn explain(s: &FaultSample) -> String {
    let labels = if s.labels.is_empty() {
        String::new()
    } else {
        let word = if s.labels.len() == 1 {
            "label"
        } else {
            "labels"
        };
        format!(" ({word}: {})", s.labels.join(", "))
    };
    let late = format_ms(s.lateness_ms);
    match s.admission {
        Admission::Expired => {
            format!(
                "event {} arrived {late} late and expired{labels}",
                s.event_id
            )
        }
        Admission::Ambiguous => format!(
            "event {} arrived {late} late, at the lateness bound (ambiguous){labels}",
            s.event_id
        ),
        _ if s.lateness_ms > 0 => format!("event {} arrived {late} late{labels}", s.event_id),
        _ => format!("event {} was faulted{labels}", s.event_id),
    }
}

/// A duration in ms as a short human string: `850ms`, `12s`, `7m 3s`, `2h`.
pub fn format_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let s = ms / 1000;
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    let text = match (h, m, sec) {
        (0, 0, _) if ms % 1000 != 0 => format!("{:.1}s", ms as f64 / 1000.0),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m {sec}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(format_ms(850), "850ms");
        assert_eq!(format_ms(1500), "1.5s");
        assert_eq!(format_ms(12_000), "12s");
        assert_eq!(format_ms(423_000), "7m 3s");
        assert_eq!(format_ms(7_200_000), "2h");
        assert_eq!(format_ms(-2000), "-2s");
    }

    #[test]
    fn explains_an_offline_burst() {
        let s = FaultSample {
            event_id: "e123".into(),
            event_time: 0,
            admission: Admission::Kept,
            lateness_ms: 7_200_000,
            labels: vec!["offline".into()],
        };
        assert_eq!(explain(&s), "event e123 arrived 2h late (label: offline)");
    }
}
