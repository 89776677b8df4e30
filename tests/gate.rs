//! The CI gate from the outside: `watchload verify --junit` on real output
//! (parsed into the JUnit structure CI systems read, refusing any element
//! or attribute outside it), and `watchload compare` on a real pair of run
//! reports.
//!
//! The reports in `tests/fixtures/compare/` come from real runs of this
//! repository's binary (debug build, embedded cluster), copied from each
//! run's `report.json`:
//!
//! ```sh
//! watchload run scenarios/quickstart.toml --quiet 2s                     # baseline.json
//! watchload run scenarios/quickstart.toml --quiet 2s                     # rerun.json
//! watchload run scenarios/quickstart.toml --quiet 2s --defect no-dedup  # no-dedup.json
//! ```

mod common;

use common::watchload;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `<testsuites>`: the JUnit structure watchload promises (the common
/// subset of the Jenkins/Ant JUnit schema). Unknown elements or attributes
/// fail the parse.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSuites {
    #[serde(rename = "@name")]
    _name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "@time")]
    time: f64,
    #[serde(rename = "testsuite")]
    suites: Vec<TestSuite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSuite {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "@skipped")]
    skipped: usize,
    #[serde(rename = "@time")]
    time: f64,
    properties: Option<Properties>,
    #[serde(rename = "testcase", default)]
    cases: Vec<TestCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Properties {
    property: Vec<Property>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Property {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@value")]
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    #[serde(rename = "@classname")]
    classname: String,
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@time")]
    _time: f64,
    failure: Option<FailureElement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureElement {
    #[serde(rename = "@message")]
    message: String,
    #[serde(rename = "@type")]
    _kind: String,
    #[serde(rename = "$text", default)]
    _text: Option<String>,
}

/// Parses a JUnit file and checks that every count matches the elements.
fn parse_junit(path: &Path) -> TestSuites {
    let xml = std::fs::read_to_string(path).unwrap();
    let parsed: TestSuites =
        quick_xml::de::from_str(&xml).unwrap_or_else(|e| panic!("not our JUnit ({e}):\n{xml}"));
    let mut tests = 0;
    let mut failures = 0;
    let mut time = 0.0;
    for s in &parsed.suites {
        let failed = s.cases.iter().filter(|c| c.failure.is_some()).count();
        assert_eq!(s.tests, s.cases.len(), "suite {}: tests=\n{xml}", s.name);
        assert_eq!(s.failures, failed, "suite {}: failures=\n{xml}", s.name);
        assert_eq!((s.errors, s.skipped), (0, 0));
        assert!(s.time >= 0.0);
        assert!(s
            .cases
            .iter()
            .all(|c| !c.name.is_empty() && !c.classname.is_empty()));
        tests += s.tests;
        failures += s.failures;
        time += s.time;
    }
    assert_eq!(
        (parsed.tests, parsed.failures, parsed.errors),
        (tests, failures, 0)
    );
    assert!((parsed.time - time).abs() < 0.01, "{xml}");
    parsed
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Generates quickstart, runs the pipeline (with `defect`) in file mode,
/// verifies with `--junit`; returns (exit code, report, JUnit path).
fn verify_quickstart(tmp: &Path, defect: Option<&str>) -> (i32, Value, PathBuf) {
    let run = tmp.join("run");
    if !run.join("truth.jsonl").exists() {
        let (code, log) = watchload(&[
            "generate",
            "scenarios/quickstart.toml",
            "--unpaced",
            "--out",
            s(&run),
        ]);
        assert_eq!(code, 0, "{log}");
    }
    let name = defect.unwrap_or("correct");
    let sessions = tmp.join(format!("{name}.jsonl"));
    let events = run.join("events.jsonl");
    let mut args = vec!["pipeline", "--input", s(&events), "--output", s(&sessions)];
    if let Some(d) = defect {
        args.extend(["--defect", d]);
    }
    let (code, log) = watchload(&args);
    assert_eq!(code, 0, "{log}");
    let report_dir = tmp.join(format!("verify-{name}"));
    let junit = tmp.join(format!("{name}.xml"));
    let (code, log) = watchload(&[
        "verify",
        "--truth",
        s(&run),
        "--sessions",
        s(&sessions),
        "--report-dir",
        s(&report_dir),
        "--junit",
        s(&junit),
        "--threshold",
        "watch_ms_error_p99 <= 0ms",
    ]);
    let report = std::fs::read_to_string(report_dir.join("report.json"))
        .unwrap_or_else(|e| panic!("{e}\n{log}"));
    (code, serde_json::from_str(&report).unwrap(), junit)
}

#[test]
fn verify_junit_has_a_case_per_threshold_and_check_with_measured_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, junit) = verify_quickstart(tmp.path(), None);
    assert_eq!(code, 0);
    let parsed = parse_junit(&junit);
    let suite = &parsed.suites[0];
    assert_eq!(parsed.suites.len(), 1);
    assert_eq!(suite.name, "watchload verify quickstart");
    let thresholds = report["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 3, "two from the scenario, one flag");
    let threshold_cases: Vec<&str> = suite
        .cases
        .iter()
        .filter(|c| c.classname == "threshold")
        .map(|c| c.name.as_str())
        .collect();
    let exprs: Vec<&str> = thresholds
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert_eq!(threshold_cases, exprs);
    let checks = suite
        .cases
        .iter()
        .filter(|c| c.classname == "check")
        .count();
    assert_eq!(checks, 4);
    assert_eq!(parsed.failures, 0);
    let props = &suite.properties.as_ref().unwrap().property;
    assert!(props.iter().any(|p| p.name == "f1" && p.value == "1"));

    let (code, report, junit) = verify_quickstart(tmp.path(), Some("no-dedup"));
    assert_eq!(code, 1);
    let parsed = parse_junit(&junit);
    let failed: Vec<&TestCase> = parsed.suites[0]
        .cases
        .iter()
        .filter(|c| c.failure.is_some())
        .collect();
    let f1 = report["scores"]["f1"].as_f64().unwrap();
    assert!(f1 < 0.999);
    assert_eq!(failed.len(), 1, "only f1 >= 0.999 fails: {failed:?}");
    assert_eq!(failed[0].name, "f1 >= 0.999");
    let message = &failed[0].failure.as_ref().unwrap().message;
    assert_eq!(message, &format!("actual value {f1}"));
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/compare/{name}.json")
}

fn row<'a>(comparison: &'a Value, metric: &str) -> &'a Value {
    comparison["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric)
        .unwrap_or_else(|| panic!("no row {metric}"))
}

#[test]
fn compare_flags_a_real_regression_and_passes_equal_and_rerun_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("comparison.json");
    let junit = tmp.path().join("compare.xml");
    let (baseline, defect) = (fixture("baseline"), fixture("no-dedup"));
    let (code, log) = watchload(&[
        "compare",
        &baseline,
        &defect,
        "--output",
        s(&out),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("REGRESSION"), "{log}");
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(c["verdict"], "regression");
    for metric in ["f1", "recall", "field_rate", "lag_never_seen"] {
        assert_eq!(row(&c, metric)["verdict"], "regression", "{metric}");
    }
    for metric in [
        "missing_rate",
        "lag_p99",
        "throughput_ratio",
        "broker_data_loss",
    ] {
        assert_eq!(row(&c, metric)["verdict"], "ok", "{metric}");
    }
    assert_eq!(
        row(&c, "field_rate")["counts"],
        serde_json::json!([0.0, 14.0])
    );
    let parsed = parse_junit(&junit);
    assert_eq!(parsed.failures, c["regressions"].as_u64().unwrap() as usize);

    for new in [&baseline, &fixture("rerun")] {
        let (code, log) = watchload(&["compare", &baseline, new]);
        assert_eq!(code, 0, "{log}");
        assert!(log.contains("PASS: 0 regression(s)"), "{log}");
    }
    let (code, log) = watchload(&["compare", &baseline, &defect, "--tolerance", "f1=off"]);
    assert_eq!(code, 1, "recall and field_rate still regress: {log}");
}

#[test]
fn compare_reads_a_verify_report_against_a_run_report_on_correctness() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, _) = verify_quickstart(tmp.path(), None);
    let verify = tmp.path().join("verify-correct/report.json");
    let (code, log) = watchload(&["compare", &fixture("baseline"), s(&verify), "--json"]);
    assert_eq!(code, 0, "{log}");
    let json_start = log.find('{').unwrap();
    let c: Value = serde_json::from_str(&log[json_start..]).unwrap();
    assert_eq!(c["kinds"], serde_json::json!(["run", "verify"]));
    assert_eq!(row(&c, "f1")["verdict"], "ok");
    assert_eq!(row(&c, "lag_p99")["verdict"], "skipped");
}

#[test]
fn compare_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let baseline = fixture("baseline");
    let mut bumped: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    bumped["schema_version"] = 2.into();
    let bumped_path = tmp.path().join("bumped.json");
    std::fs::write(&bumped_path, bumped.to_string()).unwrap();
    let other = tmp.path().join("other.json");
    std::fs::write(&other, r#"{"hello": 1}"#).unwrap();

    let cases: [(&str, Vec<&str>); 4] = [
        ("schema versions differ", vec![&baseline, s(&bumped_path)]),
        (
            "cannot read",
            vec![&baseline, "tests/fixtures/compare/absent.json"],
        ),
        ("neither a run report", vec![&baseline, s(&other)]),
        (
            "unknown metric",
            vec![&baseline, &baseline, "--tolerance", "f2=0"],
        ),
    ];
    for (expected, args) in cases {
        let mut full = vec!["compare"];
        full.extend(args);
        let (code, log) = watchload(&full);
        assert_eq!(code, 2, "{log}");
        assert!(log.contains(expected), "{expected}: {log}");
    }
}

/// A run directory whose scenario also gates on run metrics (lag, broker
/// data loss) is judged offline on the thresholds `verify` can measure;
/// the others are named and left out. Asked for on the command line, a run
/// metric is an error, not a silent pass.
#[test]
fn verify_leaves_out_scenario_thresholds_on_run_metrics_and_refuses_them_as_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let gated = text.replace(
        r#"thresholds = ["f1 >= 0.999", "missing == 0"]"#,
        r#"thresholds = ["f1 >= 0.999", "lag_p99 <= 1ms", "broker_data_loss == 0"]"#,
    );
    assert_ne!(gated, text, "the thresholds line is in quickstart.toml");
    let scenario = tmp.path().join("gated.toml");
    std::fs::write(&scenario, gated).unwrap();
    let run = tmp.path().join("run");
    let (code, log) = watchload(&["generate", s(&scenario), "--unpaced", "--out", s(&run)]);
    assert_eq!(code, 0, "{log}");
    let truth = run.join("truth.jsonl");
    let report_dir = tmp.path().join("verify");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--truth", s(&run), "--sessions", s(&truth)];
        args.extend(["--report-dir", s(&report_dir)]);
        args.extend(extra);
        watchload(&args)
    };

    let (code, log) = verify(&[]);
    assert_eq!(code, 0, "{log}");
    for left_out in ["lag_p99 <= 1ms", "broker_data_loss == 0"] {
        assert!(
            log.contains(&format!("scenario threshold `{left_out}` left out")),
            "{log}"
        );
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let exprs: Vec<&str> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert_eq!(exprs, ["f1 >= 0.999"]);

    let (code, log) = verify(&["--threshold", "lag_p99 <= 5s"]);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("`lag_p99` is a run metric"), "{log}");
}
