//! Foreign schemas through a mapping file, changelog outputs resolved to a
//! final view (Kafka Streams tombstones, Flink late firings), and malformed
//! records counted instead of crashing.

mod common;

use common::{build_run, count, session_json, verify_files, write_lines, Shape};
use serde_json::json;
use watchload_verifier::OutputMode;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn foreign_schema_with_nested_paths_and_units_scores_perfectly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(&tmp.path().join("run"), 21, Shape::default(), "");
    let lines: Vec<String> = run
        .truth
        .iter()
        .map(|t| {
            let s = &t.session;
            json!({
                "uid": s.user_id,
                "window": {"start": rfc3339(s.session_start), "end": s.session_end as f64 / 1000.0},
                "stats": {"watch_seconds": s.watch_ms as f64 / 1000.0, "events": s.event_count},
                "titles": s.content_ids,
            })
            .to_string()
        })
        .collect();
    let file = tmp.path().join("foreign.jsonl");
    write_lines(&file, &lines);
    let mapping = tmp.path().join("mapping.toml");
    std::fs::write(
        &mapping,
        r#"
user_id = "uid"
session_start = "window.start"
session_end = "window.end"
watch_ms = "stats.watch_seconds"
event_count = "stats.events"
content_ids = "titles"

[units]
session_start = "rfc3339"
session_end = "s"
watch_ms = "s"
"#,
    )
    .unwrap();
    let report = verify_files(&run.dir, &[file], Some(mapping), OutputMode::FinalView);
    assert_eq!(count(&report, "exact"), report.truth.judged);
    assert_eq!(report.scores.f1, 1.0);
    assert_eq!(report.output.malformed, 0);
    // Fields the pipeline does not write are not compared, but counted.
    assert_eq!(
        report.output.fields_absent["devices"],
        run.truth.len() as u64
    );
    assert!(!report.output.fields_absent.contains_key("watch_ms"));
}

#[test]
fn kafka_streams_changelog_with_merge_tombstones_resolves_to_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(&tmp.path().join("run"), 22, Shape::default(), "");
    // Kafka Streams style, keyed by user, window start and end: every
    // session first appears as two separate partial sessions; a later event
    // merges them, which emits a tombstone for each old key, then the
    // merged session under its new key.
    let mut lines = Vec::new();
    let mut merges = 0u64;
    let mut merges_judged = 0u64;
    for t in &run.truth {
        let s = &t.session;
        let key = |a: i64, b: i64| format!("{}@{a}-{b}", s.user_id);
        if s.session_end - s.session_start < 2 {
            lines.push(session_json(
                s,
                json!({"session_id": key(s.session_start, s.session_end)}),
            ));
            continue;
        }
        merges += 1;
        merges_judged += u64::from(!t.tolerated);
        let mid = s.session_start + (s.session_end - s.session_start) / 2;
        let mut a = s.clone();
        a.session_end = mid;
        let mut b = s.clone();
        b.session_start = mid + 1;
        lines.push(session_json(
            &a,
            json!({"session_id": key(a.session_start, a.session_end)}),
        ));
        lines.push(session_json(
            &b,
            json!({"session_id": key(b.session_start, b.session_end)}),
        ));
        for old in [&a, &b] {
            lines.push(
                json!({"session_id": key(old.session_start, old.session_end),
                       "user_id": s.user_id, "op": "delete"})
                .to_string(),
            );
        }
        lines.push(session_json(
            s,
            json!({"session_id": key(s.session_start, s.session_end)}),
        ));
    }
    let file = tmp.path().join("changelog.jsonl");
    write_lines(&file, &lines);

    let report = verify_files(
        &run.dir,
        std::slice::from_ref(&file),
        None,
        OutputMode::FinalView,
    );
    assert_eq!(count(&report, "exact"), report.truth.judged);
    assert_eq!(report.scores.f1, 1.0);
    let cl = &report.output.changelog;
    assert_eq!(cl.tombstones, 2 * merges);
    assert_eq!(cl.deleted, 2 * merges);
    assert_eq!(cl.intermediate_versions, 2 * merges);
    assert_eq!(cl.orphan_tombstones, 0);

    // Read as append, the partial versions are judged too: the final
    // version still pairs exactly, each partial one is an extra output.
    let append = verify_files(&run.dir, &[file], None, OutputMode::Append);
    assert_eq!(count(&append, "exact"), append.truth.judged);
    assert_eq!(count(&append, "spurious"), 2 * merges_judged);
}

#[test]
fn flink_late_firings_without_retraction_keep_the_last_version() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(&tmp.path().join("run"), 23, Shape::default(), "");
    let mut lines = Vec::new();
    for t in &run.truth {
        let mut early = t.session.clone();
        early.watch_ms /= 2;
        // Same key (user and start): the late firing replaces the early one.
        lines.push(session_json(&early, json!({})));
        lines.push(session_json(&t.session, json!({})));
    }
    let file = tmp.path().join("flink.jsonl");
    write_lines(&file, &lines);
    let report = verify_files(&run.dir, &[file], None, OutputMode::FinalView);
    assert_eq!(report.scores.f1, 1.0);
    assert_eq!(report.output.changelog.superseded, run.truth.len() as u64);
}

#[test]
fn envelope_tombstones_with_null_values() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(&tmp.path().join("run"), 24, Shape::default(), "");
    let mut lines = Vec::new();
    for (i, t) in run.truth.iter().enumerate() {
        let k = json!({"user": t.session.user_id, "start": t.session.session_start});
        if i % 3 == 0 {
            // A bogus session under the same key, then a null value for it.
            let mut bogus = t.session.clone();
            bogus.watch_ms += 99;
            lines.push(json!({"key": k, "value": bogus}).to_string());
            lines.push(json!({"key": k, "value": null}).to_string());
        }
        lines.push(json!({"key": k, "value": t.session}).to_string());
    }
    let file = tmp.path().join("envelope.jsonl");
    write_lines(&file, &lines);
    let mapping = tmp.path().join("mapping.toml");
    let mut text = String::from(
        "user_id = \"key.user\"\nkey = [\"key.user\", \"key.start\"]\ntombstone_null = \"value\"\n",
    );
    for f in [
        "session_start",
        "session_end",
        "event_count",
        "playbacks",
        "content_ids",
        "watch_ms",
        "device_switches",
        "devices",
    ] {
        text.push_str(&format!("{f} = \"value.{f}\"\n"));
    }
    std::fs::write(&mapping, text).unwrap();
    let report = verify_files(&run.dir, &[file], Some(mapping), OutputMode::FinalView);
    assert_eq!(
        report.output.malformed, 0,
        "{:?}",
        report.output.malformed_samples
    );
    assert_eq!(report.scores.f1, 1.0);
    assert_eq!(
        report.output.changelog.deleted,
        run.truth.len().div_ceil(3) as u64
    );
}

#[test]
fn malformed_records_are_counted_and_sampled() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(&tmp.path().join("run"), 25, Shape::default(), "");
    let mut lines: Vec<String> = run
        .truth
        .iter()
        .map(|t| session_json(&t.session, json!({})))
        .collect();
    lines.insert(0, "{not json".to_string());
    lines.insert(
        5,
        json!({"user_id": "u000", "session_start": 5}).to_string(),
    );
    lines.insert(9, json!({"session_start": 1}).to_string());
    lines.insert(
        12,
        json!({"user_id": "u001", "session_start": 9, "session_end": 3}).to_string(),
    );
    let file = tmp.path().join("bad.jsonl");
    let mut bytes = lines.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    std::fs::write(&file, bytes).unwrap();

    let report = verify_files(
        &run.dir,
        std::slice::from_ref(&file),
        None,
        OutputMode::FinalView,
    );
    assert_eq!(report.output.malformed, 5);
    assert_eq!(report.scores.recall, 1.0);
    let samples = &report.output.malformed_samples;
    let at = |line: u64| samples.iter().find(|s| s.line == line).unwrap();
    assert!(at(1).error.contains("invalid record"), "{:?}", at(1));
    assert!(at(6).error.contains("session_end"), "{:?}", at(6));
    assert!(at(10).error.contains("user_id"), "{:?}", at(10));
    assert!(
        at(13).error.contains("before session_start"),
        "{:?}",
        at(13)
    );
    assert!(at(lines.len() as u64 + 1).error.contains("UTF-8"));
    assert!(samples
        .iter()
        .all(|s| s.source == file.display().to_string()));
}
