//! Sharding: `--shard i/n` generates users with index % n == i, and each
//! user's records are the same whatever n is, so the union of the shards is
//! the unsharded run (compared per user, since the interleaving of users in
//! send order is each shard's own).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use watchload_generator::Shard;

/// Records of each user (key from `records.jsonl`), as sorted raw lines.
fn by_user(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let events = common::lines(&dir.join("events.jsonl"));
    let records = common::jsonl(&dir.join("records.jsonl"));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        let line = r["line"].as_u64().unwrap() as usize;
        let user = r["user_id"].as_str().unwrap().to_string();
        out.entry(user).or_default().push(events[line].clone());
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

#[test]
fn union_of_shards_equals_unsharded_per_user() {
    let (s, _) = common::committed("quickstart");
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    common::generate(&s, &whole, s.seed, Shard::default());
    let expected = by_user(&whole);

    let mut union = BTreeMap::new();
    for index in 0..3 {
        let dir = tmp.path().join(format!("shard{index}"));
        let summary = common::generate(&s, &dir, s.seed, Shard { index, count: 3 });
        let part = by_user(&dir);
        assert!(part.keys().all(|u| {
            let n: u32 = u[1..].parse().unwrap();
            n % 3 == index
        }));
        assert!(summary.counts.users > 0);
        union.extend(part);
    }
    assert!(expected.len() > 20, "too few active users to compare");
    assert_eq!(union, expected);
}
