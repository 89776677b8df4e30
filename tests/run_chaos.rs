//! The chaos scenarios end to end with the reference pipeline, which is
//! correct: whatever the fault, no session may go missing and no acked
//! record may be lost, and the report must place the fault on the run's
//! timeline with a recovery time.

mod common;

use common::run;
use serde_json::Value;
use std::path::Path;

/// The verdict and the fault section of a chaos run with the correct
/// pipeline: one fault per planned duration, in order.
fn assert_survived(code: i32, report: &Value, planned_ms: &[i64]) {
    let v = &report["verification"];
    assert_eq!(v["classes"]["missing"]["count"], 0, "{:#}", v["classes"]);
    assert!(v["truth"]["sessions"].as_u64().unwrap() > 0);
    assert_eq!(report["delivery"]["broker_data_loss"], 0);
    assert_eq!(report["loss"]["broker_records"], 0);
    assert_eq!(report["loss"]["pipeline_sessions"], 0);
    let faults = report["faults"].as_array().expect("a faults section");
    assert_eq!(faults.len(), planned_ms.len());
    let active = report["timeline"]["series"]["faults_active"]
        .as_array()
        .expect("faults_active on the timeline");
    for (f, planned) in faults.iter().zip(planned_ms) {
        assert_eq!(f["ok"], true, "{f:#}");
        let (start, end) = (
            f["start_ms"].as_i64().unwrap(),
            f["end_ms"].as_i64().unwrap(),
        );
        assert!(
            (end - start - planned).abs() < 1_000,
            "window {start}..{end} is not the planned {planned} ms"
        );
        assert!(f["recovery_ms"].is_u64(), "no recovery time: {f:#}");
        if *planned >= 1_000 {
            let bucket = (start / 1_000 + 1) as usize;
            assert_eq!(active[bucket], 1.0, "fault not on the timeline at {bucket}");
        }
    }
    assert_eq!(report["verdict"], "pass");
    assert_eq!(code, 0);
}

#[test]
fn a_broker_down_under_load_loses_nothing_and_recovers() {
    let reports = tempfile::tempdir().unwrap();
    let (code, report, dir) = run(reports.path(), "scenarios/chaos-broker-down.toml", &[]);
    assert_survived(code, &report, &[6_000]);
    assert_eq!(report["cluster"]["embedded"], true);
    assert_eq!(report["faults"][0]["action"], "broker-down");
    assert_eq!(report["faults"][0]["target"], "broker 2");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Faults") && md.contains("## Data loss"),
        "{md}"
    );
}

/// The pipeline's own faults: a stall, during which nothing comes out and
/// the backlog grows, then a crash without the final commit. The pipeline
/// must resume from its checkpoints, catch up, and lose no session.
#[test]
fn a_paused_then_crashed_pipeline_catches_up_and_loses_nothing() {
    let reports = tempfile::tempdir().unwrap();
    let (code, report, _) = run(reports.path(), "scenarios/chaos-pipeline.toml", &[]);
    assert_survived(code, &report, &[4_000, 0]);
    let (pause, crash) = (&report["faults"][0], &report["faults"][1]);
    assert_eq!(pause["action"], "pipeline-pause");
    assert_eq!(crash["action"], "pipeline-restart");
    // The stall must show: little or nothing comes out while it lasts,
    // and the sessions due in it come out later than those before it.
    let phase = |name: &str, key: &str| pause["phases"][name][key].as_f64();
    let output = |name| phase(name, "output_per_s").expect("an output rate");
    assert!(
        output("during") <= output("before") / 2.0,
        "output went on while frozen: {:#}",
        pause["phases"]
    );
    let lag = |name| phase(name, "lag_p50_ms").expect("sessions due");
    assert!(
        lag("during") > lag("before"),
        "the stall did not delay the sessions due in it: {:#}",
        pause["phases"]
    );
    assert_eq!(report["verification"]["classes"]["spurious"]["count"], 0);
}

/// Needs a Tansu pair (scripts/tansu-pair.sh) and WATCHLOAD_TEST_TANSU_PAIR
/// set to its directory; run by hand with `-- --ignored` (docs/chaos.md).
/// Without the variable it checks nothing and says so, except under CI.
#[test]
#[ignore = "Tansu 0.6.0 brokers sharing one SQLite file fail writes with `database is locked` (docs/chaos.md)"]
fn a_tansu_broker_killed_under_load_fails_over_to_its_twin() {
    let Ok(pair) = std::env::var("WATCHLOAD_TEST_TANSU_PAIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set WATCHLOAD_TEST_TANSU_PAIR to a running Tansu pair (see .ci/run)"
        );
        eprintln!("WATCHLOAD_TEST_TANSU_PAIR not set: Tansu chaos run skipped");
        return;
    };
    let bootstrap = std::fs::read_to_string(Path::new(&pair).join("bootstrap"))
        .expect("the pair directory holds its bootstrap list");
    let reports = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("wlchaos-{nanos}");
    std::env::set_var("WATCHLOAD_TANSU_PAIR", &pair);
    let (code, report, _) = run(
        reports.path(),
        "scenarios/chaos-tansu.toml",
        &["--bootstrap", bootstrap.trim(), "--topic-prefix", &prefix],
    );
    assert_survived(code, &report, &[6_000]);
    assert_eq!(report["faults"][0]["action"], "exec");
    assert_eq!(report["faults"][0]["commands"][0]["exit_code"], 0);
}

/// The supervisor (src/run/supervise.rs): with a 2.5 s message timeout for
/// every client, the reference pipeline's outputs to the partitions of the
/// downed broker fail, so the pipeline stops on a failed delivery; the run
/// starts it again from its last commit, and nothing goes missing. (The
/// generator's records to that broker fail too: truth is built from what
/// landed, so they are not expected.)
#[test]
fn a_pipeline_stopped_by_a_failed_delivery_is_restarted_and_loses_nothing() {
    let reports = tempfile::tempdir().unwrap();
    let (code, report, _) = run(
        reports.path(),
        "scenarios/chaos-broker-down.toml",
        &["-X", "message.timeout.ms=2500"],
    );
    let restarts = report["pipeline_restarts"]
        .as_u64()
        .expect("a restart count");
    assert!(
        restarts >= 1,
        "no delivery failed, so the test proves nothing"
    );
    let v = &report["verification"];
    assert_eq!(v["classes"]["missing"]["count"], 0, "{:#}", v["classes"]);
    assert!(v["truth"]["sessions"].as_u64().unwrap() > 0);
    assert_eq!(report["delivery"]["broker_data_loss"], 0);
    assert_eq!(report["verdict"], "pass", "{:#}", report["thresholds"]);
    assert_eq!(code, 0);
}
