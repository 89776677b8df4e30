//! `watchload validate` reports every problem of a scenario with its file,
//! line and key, thresholds included, and exits 2; good scenarios pass.

use std::process::Command;

fn validate(files: &[&std::path::Path]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchload"))
        .arg("validate")
        .args(files)
        .output()
        .expect("watchload runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn committed_quickstart_is_valid() {
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    let (code, text) = validate(&[std::path::Path::new(quickstart)]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn bad_thresholds_are_each_reported_with_file_and_key() {
    let quickstart = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.toml"
    ))
    .unwrap();
    let broken = quickstart.replace(
        r#"thresholds = ["f1 >= 0.999", "missing == 0"]"#,
        r#"thresholds = ["f1 >= 0.999", "f2 >= 1", "lag_p99 <= 5d", "lag_p99 <= 5s"]"#,
    );
    assert_ne!(broken, quickstart, "the fixture line is in quickstart.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, broken).unwrap();

    let (code, text) = validate(&[&path]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("broken.toml"), "names the file: {text}");
    assert!(text.contains("thresholds"), "names the key: {text}");
    assert!(text.contains("unknown metric `f2`"), "{text}");
    assert!(text.contains("unknown duration unit `d`"), "{text}");
    assert!(
        !text.contains("`lag_p99 <= 5s`"),
        "a run metric is valid: {text}"
    );
}
