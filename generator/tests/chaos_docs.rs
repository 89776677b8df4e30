//! Every key of a `[[chaos]]` entry is documented in docs/scenarios.md (the
//! general key test cannot see inside an array of tables).

use watchload_generator::scenario::{ChaosAction, ChaosEntry, Millis};

#[test]
fn every_chaos_entry_key_is_documented() {
    let entry = ChaosEntry {
        at: Millis::secs(1),
        duration: Some(Millis::secs(1)),
        action: ChaosAction::Exec,
        broker: Some(1),
        latency: Some(Millis(5)),
        command: Some("true".into()),
        undo: Some("true".into()),
        timeout: Some(Millis::secs(1)),
    };
    let value = toml::Value::try_from(&entry).unwrap();
    let table = value.as_table().unwrap();
    assert_eq!(
        table.len(),
        8,
        "a field was added: document it and list it here"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/scenarios.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let missing: Vec<String> = table
        .keys()
        .map(|k| format!("`chaos.{k}`"))
        .filter(|k| !doc.contains(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in docs/scenarios.md: {missing:?}");
}
