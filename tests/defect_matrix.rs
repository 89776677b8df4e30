//! The defect matrix: proof that the verifier catches real bugs.
//!
//! Each defect switch of the reference pipeline runs against the small
//! scenario in `scenarios/matrix/` that exposes it. Every defect must fail
//! the verdict (exit 1) with its expected class and attribution, and the
//! correct pipeline must pass every matrix scenario over several seeds (no
//! false alarms). Defects that only show on a stream (no flush at shutdown,
//! state lost on a restart) go through `watchload run` on the embedded
//! cluster; the others through file mode (`watchload pipeline --input`,
//! then `watchload verify`), which is faster. `docs/defects.md` has the
//! table of results and the command that reproduces it.

mod common;

use common::watchload;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seeds the correct pipeline must pass with, beside the scenario's own.
const EXTRA_SEEDS: [u64; 2] = [11, 12];

/// The verdict of one command: exit code and report.
struct Verdict {
    code: i32,
    report: Value,
    log: String,
}

impl Verdict {
    fn count(&self, class: &str) -> u64 {
        self.correctness()["classes"][class]["count"]
            .as_u64()
            .unwrap()
    }

    /// Classes other than `exact` and `tolerated` with a count.
    fn errors(&self) -> BTreeMap<String, u64> {
        let classes = self.correctness()["classes"].as_object().unwrap();
        classes
            .iter()
            .filter(|(c, _)| !matches!(c.as_str(), "exact" | "tolerated"))
            .map(|(c, s)| (c.clone(), s["count"].as_u64().unwrap()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// Findings of `class` attributed to `cause`.
    fn attributed(&self, class: &str, cause: &str) -> u64 {
        self.correctness()["attribution"][class][cause]
            .as_u64()
            .unwrap_or(0)
    }

    fn correctness(&self) -> &Value {
        self.report.get("verification").unwrap_or(&self.report)
    }

    fn describe(&self) -> String {
        let c = self.correctness();
        format!(
            "exit {}, F1 {}, errors {:?}, attribution {}\n{}",
            self.code,
            c["scores"]["f1"],
            self.errors(),
            c["attribution"],
            self.log
        )
    }

    fn assert_pass(&self, what: &str) {
        assert_eq!(self.code, 0, "{what} must pass: {}", self.describe());
        assert_eq!(
            self.correctness()["scores"]["f1"],
            1.0,
            "{what}: {}",
            self.describe()
        );
    }

    fn assert_fail(&self, what: &str) {
        assert_eq!(
            self.code,
            1,
            "{what} must fail the verdict: {}",
            self.describe()
        );
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// A generated run of a matrix scenario, judged in file mode.
struct FileRun {
    dir: PathBuf,
}

impl FileRun {
    fn generate(tmp: &Path, scenario: &str, seed: Option<u64>) -> FileRun {
        let dir = tmp.join(format!(
            "{scenario}-{}",
            seed.map_or("s".into(), |s| s.to_string())
        ));
        let file = format!("scenarios/matrix/{scenario}.toml");
        let seed_text = seed.map(|s| s.to_string());
        let mut args = vec!["generate", &file, "--unpaced", "--out", path(&dir)];
        if let Some(seed) = &seed_text {
            args.extend(["--seed", seed]);
        }
        let (code, log) = watchload(&args);
        assert_eq!(code, 0, "{log}");
        FileRun { dir }
    }

    /// The reference pipeline (with `defect`, if any) in file mode, then
    /// `watchload verify` with the scenario's thresholds.
    fn judge(&self, defect: Option<&str>) -> Verdict {
        let name = defect.unwrap_or("correct");
        let sessions = self.dir.join(format!("sessions-{name}.jsonl"));
        let events = self.dir.join("events.jsonl");
        let mut args = vec![
            "pipeline",
            "--input",
            path(&events),
            "--output",
            path(&sessions),
        ];
        if let Some(defect) = defect {
            args.extend(["--defect", defect]);
        }
        let (code, pipeline_log) = watchload(&args);
        assert_eq!(code, 0, "{pipeline_log}");

        let report_dir = self.dir.join(format!("verify-{name}"));
        let junit = self.dir.join(format!("junit-{name}.xml"));
        let (code, log) = watchload(&[
            "verify",
            "--truth",
            path(&self.dir),
            "--sessions",
            path(&sessions),
            "--report-dir",
            path(&report_dir),
            "--junit",
            path(&junit),
        ]);
        let verdict = Verdict {
            code,
            report: read_json(&report_dir.join("report.json")),
            log,
        };
        assert_junit_agrees(&junit, &verdict);
        verdict
    }
}

/// The JUnit file has one failed case per failed threshold.
fn assert_junit_agrees(junit: &Path, verdict: &Verdict) {
    let xml = std::fs::read_to_string(junit).unwrap();
    let failed = verdict.report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .count();
    let failures = xml.matches("<failure ").count();
    assert!(failures >= failed, "{failed} failed thresholds:\n{xml}");
    assert_eq!(failed > 0, verdict.code == 1, "{xml}");
}

/// The correct pipeline passes the scenario's run at its own seed (already
/// judged) and at every extra seed.
fn assert_no_false_alarm(tmp: &Path, scenario: &str, own: &Verdict) {
    own.assert_pass(&format!("the correct pipeline on {scenario}"));
    for seed in EXTRA_SEEDS {
        let run = FileRun::generate(tmp, scenario, Some(seed));
        run.judge(None)
            .assert_pass(&format!("the correct pipeline on {scenario} seed {seed}"));
    }
}

#[test]
fn no_dedup_counts_retried_events_attributed_to_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let run = FileRun::generate(tmp.path(), "duplicate-storm", None);
    let v = run.judge(Some("no-dedup"));
    v.assert_fail("no-dedup");
    let errors = v.errors();
    assert!(
        errors.keys().all(|c| c == "field" || c == "watch_time"),
        "{}",
        v.describe()
    );
    for (class, n) in &errors {
        assert_eq!(v.attributed(class, "duplicate"), *n, "{}", v.describe());
    }
    assert!(v.count("field") > 0, "{}", v.describe());
    assert_no_false_alarm(tmp.path(), "duplicate-storm", &run.judge(None));
}

#[test]
fn processing_time_moves_boundaries_of_skewed_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let run = FileRun::generate(tmp.path(), "clock-skew", None);
    let v = run.judge(Some("processing-time"));
    v.assert_fail("processing-time");
    let boundary = v.count("boundary");
    assert!(boundary > 0, "{}", v.describe());
    assert_eq!(
        v.attributed("boundary", "clock-skew"),
        boundary,
        "{}",
        v.describe()
    );
    assert_eq!(v.attributed("boundary", "none"), 0, "{}", v.describe());
    assert_no_false_alarm(tmp.path(), "clock-skew", &run.judge(None));
}

#[test]
fn single_device_splits_cross_device_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let run = FileRun::generate(tmp.path(), "device-handoff", None);
    let v = run.judge(Some("single-device"));
    v.assert_fail("single-device");
    assert_eq!(
        v.errors().keys().collect::<Vec<_>>(),
        ["split"],
        "{}",
        v.describe()
    );
    let samples = v.report["samples"]["split"].as_array().unwrap();
    assert!(!samples.is_empty());
    for sample in samples {
        let truth = &sample["truth"][0]["session"];
        assert!(
            truth["device_switches"].as_u64().unwrap() >= 1,
            "a split of a session without a device switch: {sample:#}"
        );
    }
    assert_no_false_alarm(tmp.path(), "device-handoff", &run.judge(None));
}

#[test]
fn drop_late_loses_out_of_order_events_attributed_to_jitter_and_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let run = FileRun::generate(tmp.path(), "late-storm", None);
    let v = run.judge(Some("drop-late"));
    v.assert_fail("drop-late");
    let errors = v.errors();
    assert!(v.count("watch_time") > 0, "{}", v.describe());
    for (class, n) in &errors {
        let late = v
            .attributed(class, "jitter")
            .max(v.attributed(class, "offline"));
        assert!(late > 0, "{class}: {}", v.describe());
        assert!(
            v.attributed(class, "none") * 10 <= *n,
            "{class} mostly without a late event: {}",
            v.describe()
        );
    }
    assert!(
        v.attributed("watch_time", "offline") > 0,
        "{}",
        v.describe()
    );
    assert_no_false_alarm(tmp.path(), "late-storm", &run.judge(None));
}

#[test]
fn exclusive_gap_splits_at_boundary_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let run = FileRun::generate(tmp.path(), "boundary", None);
    let v = run.judge(Some("exclusive-gap"));
    v.assert_fail("exclusive-gap");
    assert_eq!(
        v.errors().keys().collect::<Vec<_>>(),
        ["split"],
        "{}",
        v.describe()
    );
    let split = v.count("split");
    assert_eq!(
        v.attributed("split", "boundary-gap"),
        split,
        "{}",
        v.describe()
    );
    assert_no_false_alarm(tmp.path(), "boundary", &run.judge(None));
}

/// `watchload run` of a matrix scenario on the embedded cluster.
fn kafka_run(tmp: &Path, scenario: &str, seed: Option<u64>, extra: &[&str]) -> Verdict {
    let reports = tmp.join(format!(
        "{scenario}-{}-{}",
        seed.map_or("s".into(), |s| s.to_string()),
        extra.join("_").replace(['-', ' '], "")
    ));
    let file = format!("scenarios/matrix/{scenario}.toml");
    let seed_text = seed.map(|s| s.to_string());
    let junit = reports.join("junit.xml");
    std::fs::create_dir_all(&reports).unwrap();
    let mut args = vec![
        "run",
        &file,
        "--quiet",
        "2s",
        "--deadline",
        "60s",
        // The mock cluster hands a crashed consumer's partitions to its
        // successor after the session timeout less a second: the run's
        // embedded default (6 s) shortened further.
        "-X",
        "session.timeout.ms=3000",
        "-X",
        "heartbeat.interval.ms=500",
        "--report-dir",
        path(&reports),
        "--junit",
        path(&junit),
    ];
    if let Some(seed) = &seed_text {
        args.extend(["--seed", seed]);
    }
    args.extend(extra);
    let (code, log) = watchload(&args);
    let dir = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no report directory:\n{log}"));
    let verdict = Verdict {
        code,
        report: read_json(&dir.join("report.json")),
        log,
    };
    assert_junit_agrees(&junit, &verdict);
    verdict
}

#[test]
fn no_flush_on_shutdown_misses_the_sessions_open_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let shutdown = ["--end-of-stream", "shutdown"];
    let v = kafka_run(
        tmp.path(),
        "shutdown",
        None,
        &[&shutdown[..], &["--defect", "no-flush-on-shutdown"]].concat(),
    );
    v.assert_fail("no-flush-on-shutdown");
    let missing = v.count("missing");
    assert!(missing > 0, "{}", v.describe());
    assert_eq!(
        v.errors().keys().collect::<Vec<_>>(),
        ["missing"],
        "{}",
        v.describe()
    );
    assert_eq!(v.attributed("missing", "none"), missing, "{}", v.describe());
    assert_eq!(
        v.report["delivery"]["flush_records"], 0,
        "shutdown mode sends none"
    );

    for seed in [None, Some(EXTRA_SEEDS[0])] {
        kafka_run(tmp.path(), "shutdown", seed, &shutdown)
            .assert_pass(&format!("the correct pipeline on shutdown, seed {seed:?}"));
    }
}

#[test]
fn lose_state_on_restart_forgets_sessions_open_at_the_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let v = kafka_run(
        tmp.path(),
        "restart",
        None,
        &["--defect", "lose-state-on-restart"],
    );
    v.assert_fail("lose-state-on-restart");
    let errors = v.errors();
    assert!(
        errors.keys().all(|c| c == "boundary" || c == "missing"),
        "{}",
        v.describe()
    );
    assert!(v.count("boundary") > 0, "{}", v.describe());
    for (class, n) in &errors {
        assert_eq!(v.attributed(class, "none"), *n, "{}", v.describe());
    }

    for seed in [None, Some(EXTRA_SEEDS[0])] {
        kafka_run(tmp.path(), "restart", seed, &[])
            .assert_pass(&format!("the correct pipeline on restart, seed {seed:?}"));
    }
}

/// Every defect switch has a test above; a new switch must get one.
#[test]
fn every_defect_switch_is_in_the_matrix() {
    let source = include_str!("defect_matrix.rs");
    let (_, help) = watchload(&["pipeline", "--defect", "nonsense"]);
    let names = help
        .split("expected one of: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("the error lists the defects: {help}"));
    for name in names.split(',').map(|n| n.trim()) {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "defect {name} has no matrix test"
        );
    }
}
