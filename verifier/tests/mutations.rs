//! The mutation suite: apply known mutations to truth in known numbers and
//! check that the verifier reports exactly those counts in exactly those
//! classes, and nothing else.

mod common;

use common::{build_run, count, session_json, verify_files, write_lines, Shape};
use serde_json::json;
use watchload_model::{TruthSession, WatchSession};
use watchload_verifier::{OutputMode, Report};

#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    drop: usize,
    split: usize,
    merge: usize,
    boundary: usize,
    watch: usize,
    duplicate: usize,
    spurious: usize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mutation {
    Drop,
    Split,
    Merge,
    Boundary,
    Watch,
    Duplicate,
}

/// Applies `plan` to the truth, returning output lines and the number of
/// judged (non-tolerated) output sessions written.
fn mutate(truth: &[TruthSession], plan: Plan, dup_ids: bool) -> (Vec<String>, u64) {
    let mut by_user: std::collections::BTreeMap<&str, Vec<&TruthSession>> = Default::default();
    for t in truth {
        by_user.entry(&t.session.user_id).or_default().push(t);
    }
    let mut queue: Vec<Mutation> = Vec::new();
    for (m, n) in [
        (Mutation::Drop, plan.drop),
        (Mutation::Split, plan.split),
        (Mutation::Merge, plan.merge),
        (Mutation::Boundary, plan.boundary),
        (Mutation::Watch, plan.watch),
        (Mutation::Duplicate, plan.duplicate),
    ] {
        queue.extend(std::iter::repeat(m).take(n));
    }
    // Interleave so every user sees a mix of mutations.
    queue.sort_by_key(|m| *m as u8);
    let mut pending: Vec<Mutation> = Vec::new();
    for i in 0..queue.len() {
        let kinds = 6;
        let want = [
            Mutation::Drop,
            Mutation::Split,
            Mutation::Merge,
            Mutation::Boundary,
            Mutation::Watch,
            Mutation::Duplicate,
        ][i % kinds];
        if let Some(at) = queue.iter().position(|m| *m == want) {
            pending.push(queue.remove(at));
        }
    }
    pending.extend(queue);
    pending.reverse();

    let mut lines = Vec::new();
    let mut judged = 0u64;
    let mut out = |s: &WatchSession, extra: serde_json::Value, tolerated: bool| {
        if !tolerated {
            judged += 1;
        }
        lines.push(session_json(s, extra));
    };
    let mut dup_serial = 0;
    for sessions in by_user.values() {
        let mut i = 0;
        while i < sessions.len() {
            let t = sessions[i];
            let s = &t.session;
            let next_ok = sessions.get(i + 1).is_some_and(|n| !n.tolerated);
            let mutation = match pending.last() {
                _ if t.tolerated => None,
                Some(Mutation::Merge) if !next_ok => None,
                Some(Mutation::Split) if s.session_end - s.session_start < 2 => None,
                other => other.copied(),
            };
            if mutation.is_some() {
                pending.pop();
            }
            match mutation {
                None => out(s, json!({}), t.tolerated),
                Some(Mutation::Drop) => {}
                Some(Mutation::Split) => {
                    let mid = s.session_start + (s.session_end - s.session_start) / 2;
                    let mut a = s.clone();
                    let mut b = s.clone();
                    a.session_end = mid;
                    a.watch_ms = s.watch_ms / 2;
                    b.session_start = mid + 1;
                    b.watch_ms = s.watch_ms - a.watch_ms;
                    out(&a, json!({}), false);
                    out(&b, json!({}), false);
                }
                Some(Mutation::Merge) => {
                    let n = &sessions[i + 1].session;
                    let mut m = s.clone();
                    m.session_end = n.session_end;
                    m.watch_ms += n.watch_ms;
                    m.event_count += n.event_count;
                    out(&m, json!({}), false);
                    i += 1;
                }
                Some(Mutation::Boundary) => {
                    let mut b = s.clone();
                    b.session_end += 5_000;
                    out(&b, json!({}), false);
                }
                Some(Mutation::Watch) => {
                    let mut w = s.clone();
                    w.watch_ms += 1_234;
                    out(&w, json!({}), false);
                }
                Some(Mutation::Duplicate) => {
                    dup_serial += 1;
                    let (a, b) = if dup_ids {
                        (
                            json!({"session_id": format!("a{dup_serial}")}),
                            json!({"session_id": format!("b{dup_serial}")}),
                        )
                    } else {
                        (json!({}), json!({}))
                    };
                    out(s, a, false);
                    out(s, b, false);
                }
            }
            i += 1;
        }
    }
    assert!(
        pending.is_empty(),
        "fixture too small for the plan: {pending:?} left"
    );

    for (k, sessions) in by_user.values().take(plan.spurious).enumerate() {
        let last = sessions
            .iter()
            .map(|t| t.session.session_end)
            .max()
            .unwrap();
        let mut s = sessions[0].session.clone();
        s.session_start = last + 10 * 86_400_000 + k as i64;
        s.session_end = s.session_start + 60_000;
        out(&s, json!({}), false);
    }
    (lines, judged)
}

fn check(report: &Report, truth: &[TruthSession], plan: Plan, judged_outputs: u64) {
    let tolerated = truth.iter().filter(|t| t.tolerated).count() as u64;
    let judged = truth.len() as u64 - tolerated;
    let p = |n: usize| n as u64;
    let wrong = p(plan.drop + plan.split + 2 * plan.merge + plan.boundary + plan.watch);
    let expected = [
        ("exact", judged - wrong),
        ("missing", p(plan.drop)),
        ("split", p(plan.split)),
        ("merged", p(2 * plan.merge)),
        ("boundary", p(plan.boundary)),
        ("watch_time", p(plan.watch)),
        ("duplicate", p(plan.duplicate)),
        ("spurious", p(plan.spurious)),
        ("device", 0),
        ("field", 0),
        ("tolerated", tolerated),
    ];
    for (class, n) in expected {
        assert_eq!(count(report, class), n, "class {class} for {plan:?}");
    }
    assert_eq!(report.output.judged, judged_outputs);
    let precision = (judged - wrong) as f64 / judged_outputs as f64;
    assert!((report.scores.precision - precision).abs() < 1e-12);
    assert!((report.scores.recall - (judged - wrong) as f64 / judged as f64).abs() < 1e-12);
    assert_eq!(
        report.watch_ms_error.max,
        if plan.watch > 0 { 1_234 } else { 0 }
    );
    assert_eq!(
        report
            .field_mismatches
            .get("session_end")
            .copied()
            .unwrap_or(0),
        p(plan.boundary)
    );
    // Every error finding is attributed to at least one cause.
    for class in [
        "missing",
        "split",
        "boundary",
        "watch_time",
        "duplicate",
        "spurious",
    ] {
        let n = count(report, class);
        let causes: u64 = report
            .attribution
            .get(class)
            .map_or(0, |m| m.values().sum());
        assert!(causes >= n, "{class}: {n} findings, {causes} attributions");
    }
}

fn run_plan(seed: u64, plan: Plan, mode: OutputMode, dup_ids: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let shape = Shape {
        users: 30,
        sessions_per_user: 5,
        ..Shape::default()
    };
    let run = build_run(&tmp.path().join("run"), seed, shape, "");
    let (lines, judged_outputs) = mutate(&run.truth, plan, dup_ids);
    let file = tmp.path().join("sessions.jsonl");
    write_lines(&file, &lines);
    let report = verify_files(&run.dir, &[file], None, mode);
    check(&report, &run.truth, plan, judged_outputs);
}

#[test]
fn each_mutation_alone_lands_in_its_class() {
    let plans = [
        Plan {
            drop: 3,
            ..Plan::default()
        },
        Plan {
            split: 3,
            ..Plan::default()
        },
        Plan {
            merge: 3,
            ..Plan::default()
        },
        Plan {
            boundary: 3,
            ..Plan::default()
        },
        Plan {
            watch: 3,
            ..Plan::default()
        },
        Plan {
            duplicate: 3,
            ..Plan::default()
        },
        Plan {
            spurious: 3,
            ..Plan::default()
        },
    ];
    for plan in plans {
        run_plan(11, plan, OutputMode::FinalView, true);
    }
}

#[test]
fn mixed_mutations_across_seeds() {
    let plan = Plan {
        drop: 4,
        split: 5,
        merge: 3,
        boundary: 6,
        watch: 7,
        duplicate: 2,
        spurious: 4,
    };
    for seed in [1, 2, 3] {
        run_plan(seed, plan, OutputMode::FinalView, true);
    }
}

#[test]
fn duplicates_without_ids_need_append_mode() {
    let plan = Plan {
        duplicate: 4,
        split: 2,
        ..Plan::default()
    };
    run_plan(5, plan, OutputMode::Append, false);
}
