//! The device-handoff scenario's truth contains multi-device sessions,
//! hand-offs (a new playback of the same title on another device, near the
//! same position) and devices playing at the same time.

mod common;

use std::collections::BTreeMap;
use watchload_generator::Shard;

#[test]
fn handoff_truth_has_switches_continuations_and_concurrency() {
    let (mut s, _) = common::committed("device-handoff");
    s.population.users = 600;
    s.duration = watchload_generator::scenario::Millis::mins(120);
    let tmp = tempfile::tempdir().unwrap();
    common::generate(&s, tmp.path(), s.seed, Shard::default());
    let truth = common::jsonl(&tmp.path().join("truth.jsonl"));

    let multi = truth
        .iter()
        .filter(|t| t["devices"].as_array().unwrap().len() > 1)
        .count();
    let switched = truth
        .iter()
        .filter(|t| t["device_switches"].as_u64().unwrap() > 0)
        .count();
    let concurrent = truth
        .iter()
        .filter(|t| {
            let mut d = t["devices"].as_array().unwrap().clone();
            d.sort_by_key(|x| x["first_event_time"].as_i64().unwrap());
            d.windows(2).any(|w| {
                w[1]["first_event_time"].as_i64().unwrap()
                    < w[0]["last_event_time"].as_i64().unwrap()
            })
        })
        .count();
    assert!(
        multi >= 20,
        "{multi} multi-device sessions of {}",
        truth.len()
    );
    assert!(switched >= 20, "{switched} sessions with device switches");
    assert!(
        concurrent >= 5,
        "{concurrent} sessions with devices playing at once"
    );

    // A hand-off: the same user and title continue on another device with a
    // new playback near the position where the first device stopped.
    let events: Vec<serde_json::Value> = common::jsonl(&tmp.path().join("events.jsonl"))
        .into_iter()
        .collect();
    let mut starts: BTreeMap<(String, String), Vec<&serde_json::Value>> = BTreeMap::new();
    let mut last_pos: BTreeMap<String, (&serde_json::Value, u64)> = BTreeMap::new();
    for e in &events {
        let pb = e["playback_id"].as_str().unwrap().to_string();
        last_pos.insert(pb, (e, e["position_ms"].as_u64().unwrap()));
        if e["event_type"] == "start" {
            let key = (
                e["user_id"].as_str().unwrap().into(),
                e["content_id"].as_str().unwrap().into(),
            );
            starts.entry(key).or_default().push(e);
        }
    }
    let continuations = starts
        .values()
        .filter(|v| v.len() > 1)
        .filter(|v| {
            v.windows(2).any(|w| {
                let (a, b) = (w[0], w[1]);
                let (_, pos) = last_pos[a["playback_id"].as_str().unwrap()];
                a["device_id"] != b["device_id"]
                    && b["position_ms"].as_u64().unwrap() + 15_000 >= pos.min(pos)
                    && b["position_ms"].as_u64().unwrap() > 0
            })
        })
        .count();
    assert!(
        continuations >= 20,
        "{continuations} hand-offs continuing the same title"
    );
}
