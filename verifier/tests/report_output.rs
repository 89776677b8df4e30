//! The report's outer forms: the JSON validated against the committed
//! schema (`docs/report-schema.json`) and the Markdown against a golden
//! file. Regenerate the golden file with `UPDATE_GOLDEN=1 cargo test -p
//! watchload-verifier --test report_output` and review the diff.

use std::path::{Path, PathBuf};
use watchload_verifier::run_dir::RunDir;
use watchload_verifier::threshold::{apply, scenario_thresholds};
use watchload_verifier::{
    markdown, parse_thresholds, JsonlSource, OutputMode, Report, VerifyOptions,
};

const GOLDEN: &str = "tests/fixtures/golden";

/// Verifies the golden fixture with the scenario's thresholds applied.
fn golden_report(mode: OutputMode) -> Report {
    let run = Path::new(GOLDEN).join("run");
    let mut source = JsonlSource::open(&[Path::new(GOLDEN).join("sessions.jsonl")]).unwrap();
    let options = VerifyOptions {
        output_mode: mode,
        ..Default::default()
    };
    let mut report = watchload_verifier::verify(&run, &mut source, &options).unwrap();
    let text = RunDir::open(&run)
        .unwrap()
        .manifest()
        .unwrap()
        .scenario_text
        .unwrap();
    let exprs = scenario_thresholds(&text).unwrap().unwrap();
    apply(&mut report, &parse_thresholds(&exprs).unwrap());
    report
}

fn schema() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/report-schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn schema_errors(validator: &jsonschema::Validator, value: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn golden_fixture_classifies_every_case() {
    let r = golden_report(OutputMode::FinalView);
    let counts: Vec<(String, u64)> = r
        .classes
        .iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(c, s)| (c.clone(), s.count))
        .collect();
    let want = [
        ("duplicate", 1),
        ("exact", 1),
        ("merged", 2),
        ("missing", 1),
        ("split", 1),
        ("spurious", 1),
        ("tolerated", 1),
        ("watch_time", 1),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    assert_eq!(counts, want);
    assert_eq!(r.output.malformed, 1);
    assert_eq!(r.verdict, "fail");
    assert!(!r.thresholds[0].passed && r.thresholds[1].passed);
}

#[test]
fn reports_validate_against_the_schema() {
    let validator = schema();
    for mode in [OutputMode::FinalView, OutputMode::Append] {
        let report = golden_report(mode);
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(schema_errors(&validator, &value), Vec::<String>::new());
        // The report reads back into the same struct.
        let back: Report = serde_json::from_value(value).unwrap();
        assert_eq!(back, report);
    }
}

#[test]
fn the_schema_rejects_a_report_that_drifted() {
    let validator = schema();
    let mut value = serde_json::to_value(golden_report(OutputMode::FinalView)).unwrap();
    value["classes"].as_object_mut().unwrap().remove("split");
    value["scores"]["f1"] = serde_json::json!(1.5);
    value["schema_version"] = serde_json::json!(2);
    let errors = schema_errors(&validator, &value);
    assert!(errors.len() >= 3, "{errors:?}");
}

#[test]
fn markdown_matches_the_golden_file() {
    let report = golden_report(OutputMode::FinalView);
    let got = markdown::render(&report, true);
    let path = Path::new(GOLDEN).join("report.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file; set UPDATE_GOLDEN=1 to create");
    assert_eq!(
        got, want,
        "Markdown changed; review and set UPDATE_GOLDEN=1 to accept"
    );
}
