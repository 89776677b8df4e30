//! Writes a synthetic run directory and a matching output file for
//! measuring the verifier at scale, without the generator.
//!
//! ```text
//! cargo run --release -p watchload-verifier --example synth -- DIR SESSIONS [USERS]
//! ```
//!
//! `DIR/run/` gets `truth.jsonl` (SESSIONS truth sessions of USERS users,
//! default SESSIONS / 10, written round by round so users interleave as they
//! do when truth closes sessions over time), an empty `excluded.jsonl` and
//! `manifest.json`. `DIR/sessions.jsonl` is the same sessions as a pipeline
//! would write them, with one in a thousand given a watch-time error and
//! one in a thousand dropped, so the verifier has real work on both paths.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use watchload_model::{DeviceBreakdown, DeviceType, SessionRules, TruthSession, WatchSession};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth DIR SESSIONS [USERS]");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[1]);
    let sessions: u64 = args[2].parse().expect("SESSIONS is a number");
    let users: u64 = args
        .get(3)
        .map_or(sessions / 10, |u| u.parse().expect("USERS is a number"))
        .max(1);
    std::fs::create_dir_all(dir.join("run"))?;

    let rules = SessionRules::default();
    let manifest = serde_json::json!({
        "watchload_version": env!("CARGO_PKG_VERSION"),
        "scenario_name": "synthetic",
        "scenario_text": "thresholds = [\"recall >= 0.99\"]\n",
        "seed": 1,
        "rules": rules,
    });
    std::fs::write(dir.join("run/manifest.json"), manifest.to_string())?;
    std::fs::write(dir.join("run/excluded.jsonl"), "")?;

    let mut truth =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("run/truth.jsonl"))?);
    let mut output =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("sessions.jsonl"))?);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let t0: i64 = 1_704_067_200_000;
    let rounds = sessions.div_ceil(users);
    let mut written = 0u64;
    'rounds: for round in 0..rounds {
        for user in 0..users {
            if written == sessions {
                break 'rounds;
            }
            written += 1;
            let t = session(&mut rng, user, t0 + round as i64 * 4 * 3_600_000);
            serde_json::to_writer(&mut truth, &t)?;
            truth.write_all(b"\n")?;
            let roll = rng.random_range(0..1000);
            if roll == 0 {
                continue;
            }
            let mut s = t.session;
            if roll == 1 {
                s.watch_ms += 1_500;
            }
            serde_json::to_writer(&mut output, &s)?;
            output.write_all(b"\n")?;
        }
    }
    truth.flush()?;
    output.flush()?;
    eprintln!(
        "wrote {written} truth sessions of {users} users under {}",
        dir.display()
    );
    Ok(())
}

fn session(rng: &mut Xoshiro256PlusPlus, user: u64, base: i64) -> TruthSession {
    let user_id = format!("u{user:08}");
    let start = base + rng.random_range(0..3_600_000);
    let length = rng.random_range(30_000..3 * 3_600_000);
    let end = start + length;
    let device_count = rng.random_range(1..=2);
    let mut devices = Vec::new();
    let mut watch_ms = 0;
    for d in 0..device_count {
        let watch = rng.random_range(0..length as u64 / device_count);
        watch_ms += watch;
        devices.push(DeviceBreakdown {
            device_id: format!("{user_id}-d{d}"),
            device_type: DeviceType::ALL[(user as usize + d as usize) % 3],
            first_event_time: start + if d == 0 { 0 } else { length / 3 },
            last_event_time: end,
            watch_ms: watch,
        });
    }
    let mut content_ids: Vec<String> = (0..rng.random_range(1..=3))
        .map(|_| format!("c{:05}", rng.random_range(0..50_000)))
        .collect();
    content_ids.sort();
    content_ids.dedup();
    let session = WatchSession {
        user_id,
        session_start: start,
        session_end: end,
        event_count: length as u64 / 10_000 + 2,
        playbacks: content_ids.len() as u32,
        content_ids,
        watch_ms,
        device_switches: device_count as u32 - 1,
        devices,
    };
    TruthSession {
        session_id: session.key(),
        session,
        tolerated: false,
        fault_counts: BTreeMap::new(),
        fault_samples: Vec::new(),
    }
}
