//! Generation versus encoding, in the same run.
//!
//! `generate`: simulate users, apply faults, release records in send order,
//! turn each into a `WatchEvent`, encode it as JSON and hand it to the null
//! sink. `encode_only`: encode the very same events (generated once, before
//! timing) into the null sink. The target is generation at no less than
//! half the rate of encoding. Calibration (the pilot) runs once outside the
//! timing; it costs about one run's worth of simulation without encoding.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use watchload_generator::calibrate::calibrate;
use watchload_generator::record::{
    encode_event, to_watch_event, write_user_id, Labels, Payload, Scratch,
};
use watchload_generator::scenario::parse_str;
use watchload_generator::sink::{NullSink, OutRecord, Sink};
use watchload_generator::{Generator, Shard};
use watchload_model::WatchEvent;

const SCENARIO: &str = r#"
name = "bench"
seed = 11
start = "2025-03-01T19:00:00Z"
duration = "1h"
time_scale = 600.0
[population]
users = 5000
[faults]
jitter = { rate = 0.02, max = "2s" }
duplicate = { rate = 0.01 }
offline = { rate = 0.02, min = "2m", max = "30m" }
clock_skew = { rate = 0.02 }
poison = { rate = 0.001 }
[load]
peak_rate = "10k/s"
paced = false
"#;

fn send(sink: &mut NullSink, index: u64, key: &str, payload: &[u8]) {
    let record = OutRecord {
        index,
        send_time: 0,
        key,
        payload,
        labels: Labels::default(),
    };
    sink.send(&record).expect("null sink never fails");
}

fn bench(c: &mut Criterion) {
    let s = parse_str(SCENARIO, "bench").unwrap();
    let plan = calibrate(&s, s.seed).unwrap();

    // The events of one run, for the encode-only baseline.
    let generator = Generator::with_plan(&s, s.seed, Shard::default(), plan.clone());
    let tag = generator.tag().to_string();
    let events: Vec<WatchEvent> = generator
        .filter_map(|r| match r.payload {
            Payload::Event(e) => Some(to_watch_event(&e, &tag)),
            Payload::Poison { .. } => None,
        })
        .collect();
    let n = events.len() as u64;

    let mut group = c.benchmark_group("generation_vs_encoding");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(n));

    group.bench_function("generate", |b| {
        b.iter(|| {
            let mut sink = NullSink::default();
            let mut payload = Vec::with_capacity(512);
            let mut key = String::with_capacity(8);
            let mut scratch = Scratch::default();
            let generator = Generator::with_plan(&s, s.seed, Shard::default(), plan.clone());
            for (i, record) in generator.enumerate() {
                payload.clear();
                key.clear();
                write_user_id(&mut key, record.user());
                match &record.payload {
                    Payload::Event(e) => encode_event(e, &tag, &mut scratch, &mut payload),
                    Payload::Poison { line, .. } => payload.extend_from_slice(line.as_bytes()),
                }
                send(&mut sink, i as u64, &key, &payload);
            }
            sink.records
        })
    });

    group.bench_function("encode_only", |b| {
        b.iter(|| {
            let mut sink = NullSink::default();
            let mut payload = Vec::with_capacity(512);
            for (i, event) in events.iter().enumerate() {
                payload.clear();
                serde_json::to_writer(&mut payload, event).unwrap();
                send(&mut sink, i as u64, &event.user_id, &payload);
            }
            sink.records
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
