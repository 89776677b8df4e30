//! Test fixtures: small deterministic runs built from random events through
//! `model::TruthBuilder`, written in the run directory layout.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};
use watchload_model::truth::Excluded;
use watchload_model::{
    DeviceType, EventType, SessionRules, TruthBuilder, TruthSession, WatchEvent, WatchSession,
};

/// Simulated start of every fixture: 2024-01-01T00:00:00Z.
pub const T0: i64 = 1_704_067_200_000;

/// A built run: truth sessions (file order) and expired events.
pub struct Run {
    pub dir: PathBuf,
    pub truth: Vec<TruthSession>,
    pub excluded: Vec<Excluded>,
    pub rules: SessionRules,
}

/// Knobs for [`build_run`].
#[derive(Clone, Copy)]
pub struct Shape {
    pub users: usize,
    pub sessions_per_user: usize,
    /// Probability that an event is uploaded late by an offline burst.
    pub offline: f64,
    /// Probability that an event arrives right at the lateness bound.
    pub ambiguous: f64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            users: 40,
            sessions_per_user: 4,
            offline: 0.01,
            ambiguous: 0.002,
        }
    }
}

struct Sent {
    send_time: i64,
    order: usize,
    event: WatchEvent,
    labels: Vec<String>,
}

/// Events of one user: `sessions` sessions 2 h apart, each 1 to 3 playbacks
/// of heartbeats every 10 s on the user's devices.
fn user_events(rng: &mut Xoshiro256PlusPlus, user: usize, sessions: usize) -> Vec<WatchEvent> {
    let devices = [
        (format!("d{user}-phone"), DeviceType::Phone),
        (format!("d{user}-tv"), DeviceType::Tv),
        (format!("d{user}-laptop"), DeviceType::Laptop),
    ];
    let mut out = Vec::new();
    let mut t = T0 + rng.random_range(0..3_600_000);
    for s in 0..sessions {
        let playbacks = rng.random_range(1..=3);
        for p in 0..playbacks {
            let (device_id, device_type) = &devices[rng.random_range(0..devices.len())];
            let playback_id = format!("p{user}-{s}-{p}");
            let content_id = format!("c{}", rng.random_range(0..20));
            let beats = rng.random_range(0..40);
            let mut position = rng.random_range(0..1_000_000u64);
            for seq in 0..beats + 2 {
                let event_type = match seq {
                    0 => EventType::Start,
                    n if n == beats + 1 => EventType::Stop,
                    n if n % 13 == 7 => EventType::Pause,
                    n if n % 13 == 8 => EventType::Play,
                    _ => EventType::Heartbeat,
                };
                out.push(WatchEvent {
                    event_id: format!("e{user}-{s}-{p}-{seq}"),
                    schema_version: 1,
                    user_id: format!("u{user:03}"),
                    device_id: device_id.clone(),
                    device_type: *device_type,
                    playback_id: playback_id.clone(),
                    content_id: content_id.clone(),
                    event_type,
                    position_ms: position,
                    seq: seq as u32,
                    event_time: t,
                });
                let step = rng.random_range(9_000..11_000);
                t += step;
                position += step as u64;
            }
            t += rng.random_range(1_000..600_000);
        }
        t += 2 * 3_600_000 + rng.random_range(0..3_600_000);
    }
    out
}

/// Builds a run under `dir`: events with injected faults, fed in send
/// order through `TruthBuilder`, written as truth.jsonl, excluded.jsonl and
/// manifest.json (with `scenario_text`).
pub fn build_run(dir: &Path, seed: u64, shape: Shape, scenario_text: &str) -> Run {
    let rules = SessionRules::default();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut sent = Vec::new();
    for user in 0..shape.users {
        for event in user_events(&mut rng, user, shape.sessions_per_user) {
            let roll: f64 = rng.random();
            let (delay, labels) = if roll < shape.offline {
                (
                    rng.random_range(600_000..7_200_000),
                    vec!["offline".to_string()],
                )
            } else if roll < shape.offline + shape.ambiguous {
                (rules.allowed_lateness_ms, vec!["jitter".to_string()])
            } else if roll < shape.offline + shape.ambiguous + 0.02 {
                (rng.random_range(0..2_000), vec!["jitter".to_string()])
            } else {
                (0, Vec::new())
            };
            if rng.random_bool(0.01) {
                let copy = Sent {
                    send_time: event.event_time + 3_000,
                    order: sent.len(),
                    event: event.clone(),
                    labels: vec!["duplicate".to_string()],
                };
                sent.push(copy);
            }
            sent.push(Sent {
                send_time: event.event_time + delay,
                order: sent.len(),
                event,
                labels,
            });
        }
    }
    sent.sort_by_key(|s| (s.send_time, s.order));

    let mut builder = TruthBuilder::new(rules);
    let mut truth = Vec::new();
    let mut excluded = Vec::new();
    for s in &sent {
        builder.admit(0, &s.event, true, &s.labels);
        truth.extend(builder.drain_closed());
        excluded.extend(builder.drain_excluded());
    }
    excluded.extend(builder.drain_excluded());
    truth.extend(builder.finish());

    std::fs::create_dir_all(dir).unwrap();
    write_jsonl(&dir.join("truth.jsonl"), &truth);
    write_jsonl(&dir.join("excluded.jsonl"), &excluded);
    let manifest = serde_json::json!({
        "watchload_version": "test",
        "scenario_name": "fixture",
        "scenario_text": scenario_text,
        "seed": seed,
        "rules": rules,
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    Run {
        dir: dir.to_path_buf(),
        truth,
        excluded,
        rules,
    }
}

/// Writes one JSON document per line.
pub fn write_jsonl<T: serde::Serialize>(path: &Path, items: &[T]) {
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Writes raw lines.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// A session as JSON with extra top-level fields merged in.
pub fn session_json(session: &WatchSession, extra: serde_json::Value) -> String {
    let mut v = serde_json::to_value(session).unwrap();
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in more {
            obj.insert(k.clone(), x.clone());
        }
    }
    v.to_string()
}

/// Runs the verifier on `sessions` files with default options and `mode`.
pub fn verify_files(
    run: &Path,
    sessions: &[PathBuf],
    mapping: Option<PathBuf>,
    mode: watchload_verifier::OutputMode,
) -> watchload_verifier::Report {
    let mut source = watchload_verifier::JsonlSource::open(sessions).unwrap();
    let options = watchload_verifier::VerifyOptions {
        mapping,
        output_mode: mode,
        buckets: Some(3),
        ..Default::default()
    };
    watchload_verifier::verify(run, &mut source, &options).unwrap()
}

/// Count of class `name` in a report.
pub fn count(report: &watchload_verifier::Report, name: &str) -> u64 {
    report.classes[name].count
}
