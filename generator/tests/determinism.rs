//! Same seed, same bytes: two runs of a scenario produce byte-identical
//! events and truth; another seed produces different ones.

mod common;

use sha2::{Digest, Sha256};
use std::path::Path;
use watchload_generator::Shard;

fn digest(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("{:x}", Sha256::digest(&bytes))
}

#[test]
fn same_seed_gives_byte_identical_events_and_truth() {
    let (s, _) = common::committed("quickstart");
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    common::generate(&s, &a, s.seed, Shard::default());
    common::generate(&s, &b, s.seed, Shard::default());
    common::generate(&s, &c, s.seed + 1, Shard::default());

    for file in [
        "events.jsonl",
        "truth.jsonl",
        "records.jsonl",
        "excluded.jsonl",
    ] {
        assert_eq!(
            digest(&a.join(file)),
            digest(&b.join(file)),
            "{file} differs between runs"
        );
    }
    assert_ne!(
        digest(&a.join("events.jsonl")),
        digest(&c.join("events.jsonl"))
    );
    assert!(std::fs::metadata(a.join("truth.jsonl")).unwrap().len() > 0);
}
