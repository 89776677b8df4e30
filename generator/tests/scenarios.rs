//! Every committed scenario validates (parse, checks and calibration), and
//! every scenario key is documented in docs/scenarios.md.

mod common;

use watchload_generator::calibrate::calibrate;
use watchload_generator::scenario::{load_file, Millis};

#[test]
fn every_committed_scenario_validates() {
    let mut count = 0;
    for entry in std::fs::read_dir(common::scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().map_or(true, |e| e != "toml") {
            continue;
        }
        let (s, _) = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        calibrate(&s, s.seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        count += 1;
    }
    assert!(count >= 9, "only {count} scenarios found");
}

fn keys(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    if let toml::Value::Table(t) = value {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push(key.clone());
            keys(&key, v, out);
        }
    }
}

#[test]
fn every_scenario_key_is_documented() {
    let (mut s, _) = common::committed("quickstart");
    s.load.premiere_at = Some(Millis::mins(1));
    let value = toml::Value::try_from(&s).unwrap();
    let mut all = Vec::new();
    keys("", &value, &mut all);
    let doc =
        std::fs::read_to_string(common::scenarios_dir().join("../docs/scenarios.md")).unwrap();
    // A key is documented in a table row (`key`) or, for a section, as its
    // heading (`[key]`).
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")) && !doc.contains(&format!("`[{k}]`")))
        .collect();
    assert!(all.len() > 50, "{} keys", all.len());
    assert!(
        missing.is_empty(),
        "keys not in docs/scenarios.md: {missing:?}"
    );
}
