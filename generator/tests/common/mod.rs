//! Helpers shared by the integration tests: run a scenario into a temporary
//! run directory and read the files back.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use watchload_generator::scenario::{parse_str, Scenario};
use watchload_generator::sink::FileSink;
use watchload_generator::{run, RunConfig, RunSummary, Shard};

/// The repository's `scenarios/` directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Loads a committed scenario.
pub fn committed(name: &str) -> (Scenario, String) {
    let path = scenarios_dir().join(format!("{name}.toml"));
    watchload_generator::scenario::load_file(&path).unwrap()
}

/// Parses scenario text.
pub fn scenario(text: &str) -> Scenario {
    parse_str(text, "test.toml").unwrap()
}

/// Runs `s` unpaced into `dir`.
pub fn generate(s: &Scenario, dir: &Path, seed: u64, shard: Shard) -> RunSummary {
    let text = toml::to_string(s).unwrap();
    let mut sink = FileSink::create(&{
        std::fs::create_dir_all(dir).unwrap();
        dir.join("events.jsonl")
    })
    .unwrap();
    let cfg = RunConfig {
        scenario: s,
        scenario_text: &text,
        seed,
        shard,
        paced: false,
        run_dir: Some(dir.to_path_buf()),
    };
    run(&cfg, &mut sink, &mut |_| {}).unwrap()
}

/// Reads a JSONL file as values.
pub fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The raw lines of a file.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether a `records.jsonl` entry carries `label`.
pub fn has_label(record: &Value, label: &str) -> bool {
    record["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == label)
}

/// Asserts `observed` successes out of `n` are consistent with `rate`
/// (within 5 standard deviations, plus 1 for tiny counts).
pub fn assert_rate(what: &str, observed: u64, n: u64, rate: f64) {
    let mean = n as f64 * rate;
    let sd = (n as f64 * rate * (1.0 - rate)).sqrt();
    let diff = (observed as f64 - mean).abs();
    assert!(
        diff <= 5.0 * sd + 1.0,
        "{what}: {observed} of {n} (rate {:.4}), expected rate {rate} (mean {mean:.1}, sd {sd:.1})",
        observed as f64 / n as f64
    );
}
