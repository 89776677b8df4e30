//! Truth checked against itself must score perfectly.

mod common;

use common::{build_run, count, verify_files, Shape};
use watchload_verifier::threshold::{apply, scenario_thresholds};
use watchload_verifier::{parse_thresholds, OutputMode};

#[test]
fn truth_against_itself_is_perfect() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(
        tmp.path(),
        7,
        Shape::default(),
        "thresholds = [\"f1 >= 0.999\"]",
    );
    let tolerated = run.truth.iter().filter(|t| t.tolerated).count() as u64;
    assert!(
        tolerated > 0,
        "the fixture must exercise tolerated sessions"
    );
    assert!(
        !run.excluded.is_empty(),
        "the fixture must exercise expired events"
    );

    let truth_file = run.dir.join("truth.jsonl");
    let report = verify_files(&run.dir, &[truth_file], None, OutputMode::FinalView);

    let judged = run.truth.len() as u64 - tolerated;
    assert_eq!(report.truth.sessions, run.truth.len() as u64);
    assert_eq!(count(&report, "exact"), judged);
    assert_eq!(count(&report, "tolerated"), tolerated);
    for class in [
        "boundary",
        "watch_time",
        "device",
        "field",
        "split",
        "merged",
        "missing",
    ] {
        assert_eq!(count(&report, class), 0, "{class}");
    }
    assert_eq!(count(&report, "spurious") + count(&report, "duplicate"), 0);
    assert_eq!(report.scores.f1, 1.0);
    assert_eq!(report.watch_ms_error.max, 0);
    assert_eq!(report.output.malformed, 0);

    let mut report = report;
    let scenario = scenario_thresholds("thresholds = [\"f1 >= 0.999\", \"missing == 0\"]")
        .unwrap()
        .unwrap();
    let thresholds = parse_thresholds(&scenario).unwrap();
    assert!(apply(&mut report, &thresholds));
    assert_eq!(report.verdict, "pass");
}

#[test]
fn empty_output_is_all_missing_and_fails_f1() {
    let tmp = tempfile::tempdir().unwrap();
    let run = build_run(tmp.path(), 8, Shape::default(), "");
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let mut report = verify_files(&run.dir, &[empty], None, OutputMode::FinalView);
    assert_eq!(count(&report, "missing"), report.truth.judged);
    assert_eq!(report.scores.recall, 0.0);
    let thresholds = parse_thresholds(&["f1 >= 0.999".to_string()]).unwrap();
    assert!(!apply(&mut report, &thresholds));
    assert_eq!(report.verdict, "fail");
}
