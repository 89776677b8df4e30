//! Calibration: the achieved event rate at a constant shape is the target
//! (peak_rate x multiplier / time_scale per simulated second) within 15%,
//! after the first sittings have settled.

mod common;

use watchload_generator::{Generator, Shard};

#[test]
fn achieved_rate_matches_target_within_tolerance() {
    let s = common::scenario(
        r#"
name = "rate"
seed = 5
duration = "3h"
time_scale = 60.0
[population]
users = 1500
heavy_share = 0.1
[faults]
duplicate = { rate = 0.1 }
[load]
peak_rate = "200/s"
multiplier = "10x"
paced = false
"#,
    );
    // Window: from 30 min in to 30 min before the end (offline uploads and
    // the residual first sittings settle by then).
    let (from, to) = (s.start.0 + 30 * 60_000, s.end() - 30 * 60_000);
    let generator = Generator::new(&s, s.seed, Shard::default()).unwrap();
    let sent = generator
        .filter(|r| (from..to).contains(&r.send_time))
        .count() as f64;
    let achieved_wall = sent / ((to - from) as f64 / 1000.0) * s.time_scale;
    let target = 2000.0;
    let error = (achieved_wall - target).abs() / target;
    assert!(
        error < 0.15,
        "achieved {achieved_wall:.0}/s vs target {target}/s"
    );
}
