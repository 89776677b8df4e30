//! `watchload run quickstart` end to end: the embedded mock cluster (and,
//! when CI sets WATCHLOAD_TEST_BOOTSTRAP, a real broker) with the reference
//! pipeline in-process. The reference pipeline is correct, so the verdict
//! must be perfect: F1 = 1, nothing missing, no broker data loss, and every
//! generated record accounted for by exactly one delivery outcome.

mod common;

use serde_json::Value;
use std::path::Path;

/// Runs `watchload run scenarios/quickstart.toml` with `extra` arguments
/// and returns the exit code and the parsed `report.json`.
fn run_quickstart(reports: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--quiet", "2s", "--deadline", "60s"];
    args.extend_from_slice(extra);
    let (code, report, _) = common::run(reports, "scenarios/quickstart.toml", &args);
    (code, report)
}

fn assert_perfect(code: i32, report: &Value) {
    let v = &report["verification"];
    assert_eq!(v["scores"]["f1"], 1.0, "F1: {:#}", v["classes"]);
    assert_eq!(v["classes"]["missing"]["count"], 0);
    assert!(
        v["truth"]["sessions"].as_u64().unwrap() > 0,
        "no truth sessions"
    );
    let d = &report["delivery"];
    assert_eq!(d["broker_data_loss"], 0);
    let t = &d["tally"];
    let sum = t["acked"].as_u64().unwrap()
        + t["failed"].as_u64().unwrap()
        + t["indeterminate"].as_u64().unwrap();
    assert_eq!(t["generated"].as_u64().unwrap(), sum, "{t:#}");
    assert!(t["generated"].as_u64().unwrap() > 0);
    assert_eq!(report["landed"]["read_back"]["complete"], true);
    assert_eq!(report["lag"]["never_seen"], 0);
    assert_eq!(report["lag"]["unclosed"], 0);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(code, 0);
}

#[test]
fn quickstart_passes_on_the_embedded_cluster() {
    let reports = tempfile::tempdir().unwrap();
    let (code, report) = run_quickstart(reports.path(), &[]);
    assert_perfect(code, &report);
    assert_eq!(report["cluster"]["embedded"], true);
    assert_eq!(report["wait"]["end"], "quiescent");
}

/// CI starts a Tansu broker and sets WATCHLOAD_TEST_BOOTSTRAP. Outside CI,
/// without it, this test checks nothing and says so; under CI a missing
/// broker fails it.
#[test]
fn quickstart_passes_on_a_real_broker() {
    let Ok(bootstrap) = std::env::var("WATCHLOAD_TEST_BOOTSTRAP") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set WATCHLOAD_TEST_BOOTSTRAP=host:port (see .ci/run)"
        );
        eprintln!("WATCHLOAD_TEST_BOOTSTRAP not set: real-broker run skipped");
        return;
    };
    let reports = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("wltest-{nanos}");
    let (code, report) = run_quickstart(
        reports.path(),
        &["--bootstrap", &bootstrap, "--topic-prefix", &prefix],
    );
    assert_perfect(code, &report);
    assert_eq!(report["cluster"]["embedded"], false);
}
