//! Hand-built cases for the pure matcher: assignment traps, duplicates
//! versus splits, tolerance, and attribution sentences.

use std::collections::BTreeMap;
use watchload_model::truth::FaultSample;
use watchload_model::{Admission, SessionRules, TruthSession, WatchSession};
use watchload_verifier::decode::OutputSession;
use watchload_verifier::matching::{classify_user, Class};
use watchload_verifier::report::Inputs;
use watchload_verifier::tally::{Tally, UserCase};
use watchload_verifier::Origin;

fn session(start: i64, end: i64, watch: u64) -> WatchSession {
    WatchSession {
        user_id: "u1".into(),
        session_start: start,
        session_end: end,
        event_count: 3,
        playbacks: 1,
        content_ids: vec!["c1".into()],
        watch_ms: watch,
        device_switches: 0,
        devices: vec![],
    }
}

fn truth(start: i64, end: i64) -> TruthSession {
    TruthSession {
        session_id: format!("u1@{start}"),
        session: session(start, end, 100),
        tolerated: false,
        fault_counts: BTreeMap::new(),
        fault_samples: vec![],
    }
}

fn output(start: i64, end: i64, line: u64) -> OutputSession {
    let s = session(start, end, 100);
    OutputSession {
        user_id: s.user_id,
        session_start: start,
        session_end: end,
        event_count: Some(3),
        playbacks: Some(1),
        content_ids: Some(s.content_ids),
        watch_ms: Some(100),
        device_switches: Some(0),
        devices: Some(vec![]),
        origin: Origin {
            stream: 0,
            position: line,
        },
    }
}

fn classes(truths: &[TruthSession], outputs: &[OutputSession]) -> BTreeMap<Class, u64> {
    let mut out = BTreeMap::new();
    for f in classify_user(truths, outputs).findings {
        *out.entry(f.class).or_insert(0) += f.weight();
    }
    out
}

#[test]
fn an_exact_output_wins_over_a_stale_merged_one() {
    // o1 equals t1 exactly; o2 is a stale version spanning t1 and t2.
    let truths = [truth(0, 1_000), truth(5_000, 6_000)];
    let outputs = [output(0, 6_000, 1), output(0, 1_000, 2)];
    let got = classes(&truths, &outputs);
    assert_eq!(got, BTreeMap::from([(Class::Exact, 1), (Class::Merged, 1)]));
}

#[test]
fn identical_outputs_are_a_duplicate_not_a_split() {
    let truths = [truth(0, 1_000)];
    let outputs = [output(0, 1_000, 1), output(0, 1_000, 2)];
    let got = classes(&truths, &outputs);
    assert_eq!(
        got,
        BTreeMap::from([(Class::Exact, 1), (Class::Duplicate, 1)])
    );

    let split = [output(0, 400, 1), output(600, 1_000, 2)];
    let got = classes(&truths, &split);
    assert_eq!(got, BTreeMap::from([(Class::Split, 1)]));
}

#[test]
fn boundary_shift_is_reported_with_its_size() {
    let truths = [truth(0, 1_000)];
    let outputs = [output(0, 2_500, 1)];
    let verdict = classify_user(&truths, &outputs);
    assert_eq!(verdict.findings.len(), 1);
    let f = &verdict.findings[0];
    assert_eq!(f.class, Class::Boundary);
    assert_eq!(f.diffs[0].field, "session_end");
    assert_eq!(f.diffs[0].delta, Some(1_500));
}

#[test]
fn tolerated_truth_accepts_any_variant() {
    let mut t = truth(0, 1_000);
    t.tolerated = true;
    let truths = [t, truth(10_000, 11_000)];
    // Two pieces for the tolerated one (the variant without the ambiguous
    // event), an exact one for the other.
    let outputs = [
        output(0, 300, 1),
        output(700, 1_000, 2),
        output(10_000, 11_000, 3),
    ];
    let verdict = classify_user(&truths, &outputs);
    assert_eq!(verdict.tolerated_outputs, 2);
    let got = classes(&truths, &outputs);
    assert_eq!(
        got,
        BTreeMap::from([(Class::Exact, 1), (Class::Tolerated, 1)])
    );
}

#[test]
fn order_of_outputs_does_not_change_the_verdict() {
    let truths = [truth(0, 1_000), truth(5_000, 6_000), truth(9_000, 9_500)];
    let mut outputs = vec![
        output(0, 1_000, 1),
        output(0, 6_000, 2),
        output(9_000, 9_200, 3),
        output(9_300, 9_500, 4),
        output(20_000, 21_000, 5),
    ];
    let forward = classes(&truths, &outputs);
    outputs.reverse();
    assert_eq!(classes(&truths, &outputs), forward);
    assert_eq!(
        forward,
        BTreeMap::from([
            (Class::Exact, 1),
            (Class::Merged, 1),
            (Class::Split, 1),
            (Class::Spurious, 1)
        ])
    );
}

#[test]
fn attribution_names_the_late_event_and_the_expired_one() {
    let mut t = truth(0, 8_000_000);
    t.fault_counts.insert("offline".into(), 1);
    t.fault_samples.push(FaultSample {
        event_id: "e123".into(),
        event_time: 4_000_000,
        admission: Admission::Kept,
        lateness_ms: 7_200_000,
        labels: vec!["offline".into()],
    });
    let truths = [t];
    let outputs = [
        output(0, 3_000_000, 1),
        output(4_000_000, 8_000_000, 2),
        output(30_000_000, 30_000_000, 3),
    ];
    let expired = [FaultSample {
        event_id: "e999".into(),
        event_time: 30_000_000,
        admission: Admission::Expired,
        lateness_ms: 400_000,
        labels: vec!["offline".into()],
    }];
    let verdict = classify_user(&truths, &outputs);
    let streams = vec!["out.jsonl".to_string()];
    let case = UserCase {
        user_id: "u1",
        truths: &truths,
        outputs: &outputs,
        excluded: &expired,
        streams: &streams,
    };
    let mut tally = Tally::default();
    tally.add_user(&case, &verdict, &SessionRules::default());
    let inputs = Inputs {
        truth_dir: "t".into(),
        sessions: streams.clone(),
        mapping: None,
        output_mode: "final-view".into(),
        scenario: None,
    };
    let report = tally.finish(inputs, SessionRules::default());

    let split = &report.samples["split"][0];
    assert_eq!(
        split.explanations[0],
        "event e123 arrived 2h late (label: offline)"
    );
    assert_eq!(split.output[1].origin, "out.jsonl:2");
    let spurious = &report.samples["spurious"][0];
    assert_eq!(
        spurious.explanations[0],
        "event e999 arrived 6m 40s late and expired (label: offline)"
    );
    assert_eq!(report.attribution["spurious"]["expired"], 1);
    assert_eq!(report.attribution["split"]["offline"], 1);
}
