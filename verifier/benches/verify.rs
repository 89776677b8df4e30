//! Sessions verified per second: the pure matcher alone, and the whole
//! `verify` (spill, decode, match, report) over a small generated run.
//!
//! `cargo bench -p watchload-verifier --bench verify`

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;
use watchload_model::TruthSession;
use watchload_verifier::decode::OutputSession;
use watchload_verifier::matching::classify_user;
use watchload_verifier::{JsonlSource, Origin, OutputMode, VerifyOptions};

fn as_output(t: &TruthSession, line: u64) -> OutputSession {
    let origin = Origin {
        stream: 0,
        position: line,
    };
    OutputSession::complete(&t.session, origin)
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let shape = common::Shape {
        users: 500,
        sessions_per_user: 8,
        ..common::Shape::default()
    };
    let run = common::build_run(&tmp.path().join("run"), 3, shape, "");
    let sessions = run.truth.len() as u64;

    let mut by_user: BTreeMap<&str, Vec<TruthSession>> = BTreeMap::new();
    for t in &run.truth {
        by_user
            .entry(&t.session.user_id)
            .or_default()
            .push(t.clone());
    }
    let cases: Vec<(Vec<TruthSession>, Vec<OutputSession>)> = by_user
        .into_values()
        .map(|truths| {
            let outputs = truths
                .iter()
                .enumerate()
                .map(|(i, t)| as_output(t, i as u64))
                .collect();
            (truths, outputs)
        })
        .collect();

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(sessions));
    group.bench_function("classify_user", |b| {
        b.iter(|| {
            cases
                .iter()
                .map(|(t, o)| classify_user(t, o).findings.len())
                .sum::<usize>()
        })
    });

    let truth_file = run.dir.join("truth.jsonl");
    group.sample_size(10);
    group.bench_function("end_to_end", |b| {
        b.iter(|| {
            let mut source = JsonlSource::open(std::slice::from_ref(&truth_file)).unwrap();
            let options = VerifyOptions {
                output_mode: OutputMode::FinalView,
                buckets: Some(4),
                ..Default::default()
            };
            watchload_verifier::verify(&run.dir, &mut source, &options).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
