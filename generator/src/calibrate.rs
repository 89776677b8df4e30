//! The calibration pilot: simulates a sample of sittings on streams of their
//! own (so the pilot never changes what users do) and measures the mean
//! records per sitting and the mean sitting length, from which
//! [`Plan`](crate::shape::Plan) sets the arrival intensities.

use crate::behaviour::{User, World};
use crate::faults::{FaultModel, Outbox};
use crate::record::Payload;
use crate::scenario::Scenario;
use crate::shape::{Plan, PlanError, SittingStats};

/// Sittings simulated by the pilot. With heavy-tailed watch lengths (sigma
/// 0.8) the standard error of the mean is about 3%.
pub const PILOT_SITTINGS: u32 = 1500;

/// Runs the pilot for scenario `s` with `seed`.
pub fn pilot(s: &Scenario, seed: u64) -> SittingStats {
    let mut world = World::new(s, seed);
    let extra = world.faults.extra_records_per_event();
    world.faults = FaultModel::none();
    world.boundary = false;
    world.end = i64::MAX;

    let mut outbox = Outbox::default();
    let (mut events, mut length) = (0u64, 0i64);
    for i in 0..PILOT_SITTINGS {
        let t0 = world.start;
        let mut user = User::pilot(&world, i, t0);
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        loop {
            let wake = user.wake();
            if wake == i64::MAX {
                break;
            }
            user.step(&world, &mut outbox);
            for r in outbox.records.drain(..) {
                if let Payload::Event(e) = r.payload {
                    first = first.min(e.event_time);
                    last = last.max(e.event_time);
                    events += 1;
                }
            }
        }
        if last >= first {
            length += last - first;
        }
    }
    let n = f64::from(PILOT_SITTINGS);
    SittingStats {
        records: events as f64 / n * (1.0 + extra),
        length_ms: length as f64 / n,
    }
}

/// Pilot plus plan: the arrival intensities of scenario `s`.
///
/// # Errors
/// [`PlanError`] when the population cannot produce the target rate.
pub fn calibrate(s: &Scenario, seed: u64) -> Result<Plan, PlanError> {
    Plan::new(s, pilot(s, seed))
}
