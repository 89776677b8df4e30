//! What the end-to-end tests share: running the `watchload` binary on a
//! scenario and reading the report it wrote. Each test crate uses a part.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `watchload run SCENARIO` from the repository root with `extra`
/// arguments, reports under `reports`; returns the exit code, the parsed
/// `report.json` and the report directory. Panics with the command's
/// output when no single report was written.
pub fn run(reports: &Path, scenario: &str, extra: &[&str]) -> (i32, Value, PathBuf) {
    let output = Command::new(env!("CARGO_BIN_EXE_watchload"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", scenario])
        .arg("--report-dir")
        .arg(reports)
        .args(extra)
        .output()
        .expect("watchload runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let dirs: Vec<_> = std::fs::read_dir(reports)
        .unwrap_or_else(|e| panic!("no report directory ({e}):\n{stdout}\n{stderr}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one report directory:\n{stdout}\n{stderr}");
    let text = std::fs::read_to_string(dirs[0].join("report.json"))
        .unwrap_or_else(|e| panic!("report.json ({e}):\n{stdout}\n{stderr}"));
    let report = serde_json::from_str(&text).unwrap();
    (output.status.code().unwrap_or(-1), report, dirs[0].clone())
}

/// Runs `watchload ARGS...` from the repository root; returns the exit
/// code and a log of the command line, stdout and stderr for messages.
pub fn watchload(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchload"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("watchload runs");
    let log = format!(
        "watchload {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), log)
}
