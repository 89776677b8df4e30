//! Tests of `judge.rs`.

use super::*;
use crate::decode::OutputSession;
use crate::report::Inputs;
use std::collections::BTreeMap;
use watchload_model::{DeviceBreakdown, DeviceType, WatchSession};

fn truth(start: i64, end: i64) -> TruthSession {
    let session = WatchSession {
        user_id: "u1".into(),
        session_start: start,
        session_end: end,
        event_count: 3,
        playbacks: 1,
        content_ids: vec!["c1".into()],
        watch_ms: 7,
        device_switches: 0,
        devices: vec![DeviceBreakdown {
            device_id: "d1".into(),
            device_type: DeviceType::Tv,
            first_event_time: start,
            last_event_time: end,
            watch_ms: 7,
        }],
    };
    TruthSession {
        session_id: session.key(),
        session,
        tolerated: false,
        fault_counts: BTreeMap::new(),
        fault_samples: Vec::new(),
    }
}

fn output(t: &TruthSession, position: u64) -> OutputSession {
    OutputSession::complete(
        &t.session,
        Origin {
            stream: 0,
            position,
        },
    )
}

/// Encodes both sides as phase one does; returns the bucket bytes.
fn spill(truths: &[TruthSession], outputs: &[OutputSession]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut scratch, mut truth_bytes) = (Vec::new(), Vec::new());
    for t in truths {
        let json = serde_json::to_string(t).unwrap();
        let line: compact::TruthLine = serde_json::from_str(&json).unwrap();
        compact::encode_truth(&line, &mut scratch, &mut truth_bytes).unwrap();
    }
    let outputs = outputs
        .iter()
        .map(|o| {
            let mut out = Vec::new();
            let (user, origin) = (&o.user_id, o.origin);
            compact::encode_output(origin, user, "k", Some(o), &mut scratch, &mut out).unwrap();
            out
        })
        .collect();
    (truth_bytes, outputs)
}

fn fast_path(truths: &[TruthSession], outputs: &[OutputSession]) -> Option<[u64; 6]> {
    let (truth_bytes, output_bytes) = spill(truths, outputs);
    let mut users = Users::default();
    let (ts, _) = load_truth(Path::new("t"), &truth_bytes, &mut users).unwrap();
    let os: Vec<OutputRef> = output_bytes
        .iter()
        .map(|bytes| {
            let record: OutputRecord = postcard::from_bytes(bytes).unwrap();
            OutputRef::of(&record, &mut users).expect("an upsert")
        })
        .collect();
    exact_user(&ts, &os).unwrap()
}

fn fast_path_taken(truths: &[TruthSession], outputs: &[OutputSession]) -> bool {
    fast_path(truths, outputs).is_some()
}

fn report(tally: Tally) -> serde_json::Value {
    let inputs = Inputs {
        truth_dir: String::new(),
        sessions: Vec::new(),
        mapping: None,
        output_mode: String::new(),
        scenario: None,
    };
    serde_json::to_value(tally.finish(inputs, SessionRules::default())).unwrap()
}

#[test]
fn exact_users_count_as_the_matcher_would() {
    let truths = vec![truth(0, 10), truth(11, 20), truth(100, 200)];
    let mut outputs: Vec<_> = (0..3).map(|i| output(&truths[i], i as u64 + 1)).collect();
    // Fields an output lacks are not compared, but they are counted.
    outputs[1].devices = None;
    outputs[1].watch_ms = None;
    outputs[2].devices = None;
    let absent = fast_path(&truths, &outputs).expect("every pair is exact");
    assert_eq!(absent, [0, 0, 0, 1, 0, 2]);

    let mut slow = Tally::default();
    let case = UserCase {
        user_id: "u1",
        truths: &truths,
        outputs: &outputs,
        excluded: &[],
        streams: &[],
    };
    slow.add_user(
        &case,
        &classify_user(&truths, &outputs),
        &SessionRules::default(),
    );
    let mut fast = Tally::default();
    fast.add_exact_user(3, 0, absent);
    assert_eq!(report(fast), report(slow));
}

#[test]
fn anything_but_clean_pairs_goes_the_long_way() {
    let truths = vec![truth(0, 10), truth(11, 20)];
    let outputs: Vec<_> = (0..2).map(|i| output(&truths[i], i as u64 + 1)).collect();
    let with = |f: &dyn Fn(&mut Vec<TruthSession>, &mut Vec<OutputSession>)| {
        let (mut t, mut o) = (truths.clone(), outputs.clone());
        f(&mut t, &mut o);
        fast_path_taken(&t, &o)
    };
    assert!(with(&|_, _| {}));
    assert!(!with(&|_, o| o[1].watch_ms = Some(8)));
    assert!(!with(
        &|_, o| o[1].devices.as_mut().unwrap()[0].device_id = "d2".into()
    ));
    assert!(!with(&|_, o| o[0].session_end = 9));
    assert!(with(&|_, o| o[1].event_count = None));
    assert!(!with(&|_, o| {
        o[1].event_count = None;
        o[1].content_ids = Some(vec!["c2".into()]);
    }));
    assert!(!with(&|_, o| {
        o[0].devices = None;
        o[0].playbacks = Some(2);
    }));
    assert!(!with(&|_, o| {
        o.pop();
    }));
    assert!(!with(&|t, _| t[0].tolerated = true));
    assert!(!with(&|_, o| o.swap(0, 1)));
    // Touching spans overlap (bounds are inclusive): one cluster.
    assert!(!with(&|t, o| {
        t[1] = truth(10, 20);
        o[1] = output(&t[1], 2);
    }));
}
