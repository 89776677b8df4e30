//! Load shapes and the arrival rate of sittings that produces the target
//! event rate.
//!
//! A user alternates between idle and a *sitting* (one or more playbacks in
//! a row). Sittings arrive as a Poisson process while the user is idle, with
//! intensity `lambda(t)`. A sitting yields `E` records on average and lasts
//! `D` ms (both measured by the pilot in [`crate::calibrate`]). A user who
//! sits down at rate `lambda` while idle is busy a share `lambda D / (1 +
//! lambda D)` of the time and produces `r = lambda E / (1 + lambda D)`
//! records per ms, so the intensity that yields a target per-user rate `r`
//! is `lambda = r / (E - r D)`. The target at time `t` is the peak rate
//! times the shape's level at `t`, spread over users by their weight.

use crate::scenario::{Scenario, Shape};

/// Hourly levels of the diurnal curve (hour 0 to 23, simulated time in UTC),
/// peak at 21:00; linear in between.
const DIURNAL: [f64; 24] = [
    0.30, 0.18, 0.10, 0.06, 0.05, 0.06, 0.10, 0.16, 0.20, 0.22, 0.24, 0.27, 0.32, 0.33, 0.32, 0.34,
    0.40, 0.50, 0.65, 0.82, 0.95, 1.00, 0.85, 0.55,
];

/// The level of load over simulated time, 0 to 1 (1 = peak).
#[derive(Debug, Clone)]
pub struct LoadCurve {
    shape: Shape,
    start: i64,
    duration: i64,
    ramp_from: f64,
    premiere_base: f64,
}

impl LoadCurve {
    /// The curve of a scenario.
    pub fn new(s: &Scenario) -> Self {
        LoadCurve {
            shape: s.load.shape,
            start: s.start.0,
            duration: s.duration.ms().max(1),
            ramp_from: s.load.ramp_from,
            premiere_base: s.load.premiere_base,
        }
    }

    /// Level of the baseline (sittings outside a premiere crowd) at `t`.
    pub fn level(&self, t: i64) -> f64 {
        match self.shape {
            Shape::Constant => 1.0,
            Shape::Ramp => {
                let x = ((t - self.start) as f64 / self.duration as f64).clamp(0.0, 1.0);
                self.ramp_from + (1.0 - self.ramp_from) * x
            }
            Shape::Diurnal => diurnal(t),
            Shape::Premiere => self.premiere_base,
        }
    }

    /// The highest baseline level over the run (bounds thinning).
    pub fn max_level(&self) -> f64 {
        match self.shape {
            Shape::Constant | Shape::Ramp | Shape::Diurnal => 1.0,
            Shape::Premiere => self.premiere_base,
        }
    }
}

/// The diurnal level at epoch ms `t`.
fn diurnal(t: i64) -> f64 {
    let day_ms = 24 * 3_600_000;
    let hours = t.rem_euclid(day_ms) as f64 / 3_600_000.0;
    let h = hours.floor() as usize % 24;
    let frac = hours - hours.floor();
    DIURNAL[h] + (DIURNAL[(h + 1) % 24] - DIURNAL[h]) * frac
}

/// What the pilot measured about sittings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SittingStats {
    /// Mean records per sitting (events, duplicates and poison).
    pub records: f64,
    /// Mean length of a sitting, first event to last, ms.
    pub length_ms: f64,
}

/// Sitting arrival intensities that hit the target rate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The load curve.
    pub curve: LoadCurve,
    /// Pilot measurements.
    pub stats: SittingStats,
    /// Target records per ms per unit of user weight at level 1.
    pub rate_per_weight: f64,
    /// Weight of a heavy user (1 for others).
    pub heavy_weight: f64,
    /// Probability that a user joins the premiere crowd.
    pub premiere_join: f64,
    /// Absolute time of the premiere.
    pub premiere_at: i64,
}

/// Why the target rate cannot be reached.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Not enough users: even always watching they cannot send that much.
    #[error(
        "load.peak_rate x load.multiplier ({target:.0}/s wall, {sim:.2}/s simulated) needs \
         at least {needed} users (heavy users or the premiere crowd would otherwise watch \
         over 90% of the time) but population.users is {users}; raise population.users or \
         time_scale, or lower the rate"
    )]
    TooFewUsers {
        target: f64,
        sim: f64,
        needed: u64,
        users: u32,
    },
}

impl Plan {
    /// Calibrates a scenario's arrivals from the pilot's `stats`.
    ///
    /// # Errors
    /// [`PlanError::TooFewUsers`] when the population cannot produce the
    /// peak rate.
    pub fn new(s: &Scenario, stats: SittingStats) -> Result<Plan, PlanError> {
        let users = f64::from(s.population.users);
        let hs = s.population.heavy_share;
        let hw = s.population.heavy_weight;
        let mean_weight = (1.0 - hs) + hs * hw;
        let peak_per_ms = s.peak_sim_rate() / 1000.0;
        let per_user_busy = stats.records / stats.length_ms.max(1.0);
        let curve = LoadCurve::new(s);
        let premiere = s.load.shape == Shape::Premiere;

        let base_share = if premiere { s.load.premiere_base } else { 1.0 };
        let rate_per_weight = peak_per_ms / (users * mean_weight);
        let premiere_join = if premiere {
            let crowd = (1.0 - base_share) * peak_per_ms / per_user_busy;
            crowd / users
        } else {
            0.0
        };

        // Saturation: heavy users at the highest level must stay below 90%
        // busy, and the crowd must fit in the population.
        let heaviest = rate_per_weight * hw.max(1.0) * curve.max_level() / per_user_busy;
        let worst = heaviest.max(premiere_join);
        if worst > 0.9 {
            // Both shares scale as 1 / users.
            let needed = (users * worst / 0.9).ceil() as u64;
            return Err(PlanError::TooFewUsers {
                target: s.load.peak_wall_rate(),
                sim: s.peak_sim_rate(),
                needed,
                users: s.population.users,
            });
        }
        Ok(Plan {
            curve,
            stats,
            rate_per_weight,
            heavy_weight: hw,
            premiere_join,
            premiere_at: s.start.0 + s.load.premiere_offset(s.duration).ms(),
        })
    }

    /// Sitting intensity (per ms) of an idle user at baseline `level`.
    pub fn lambda(&self, heavy: bool, level: f64) -> f64 {
        let w = if heavy { self.heavy_weight } else { 1.0 };
        let r = self.rate_per_weight * w * level;
        r / (self.stats.records - r * self.stats.length_ms).max(1e-9)
    }

    /// Share of time a user is in a sitting at `level` (steady state).
    pub fn busy_share(&self, heavy: bool, level: f64) -> f64 {
        let x = self.lambda(heavy, level) * self.stats.length_ms;
        x / (1.0 + x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diurnal_peaks_in_the_evening() {
        let day = 1_740_787_200_000; // 2025-03-01T00:00:00Z
        let at = |h: i64| diurnal(day + h * 3_600_000);
        assert_eq!(at(21), 1.0);
        assert!(at(4) < 0.1);
        assert!((at(21) + at(22)) / 2.0 > diurnal(day + 21 * 3_600_000 + 1_800_000) - 1e-9);
    }

    fn scenario(users: u32, rate: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"1h\"\ntime_scale = 10.0\n\
             [population]\nusers = {users}\nheavy_share = 0.2\nheavy_weight = 5.0\n\
             [load]\npeak_rate = \"{rate}\"\n"
        );
        crate::scenario::parse_str(&text, "t.toml").unwrap()
    }

    const STATS: SittingStats = SittingStats {
        records: 300.0,
        length_ms: 3_000_000.0,
    };

    /// Invariant: summed over users, the steady-state rate of the planned
    /// intensities is the target peak rate.
    #[test]
    fn planned_intensities_add_up_to_the_target() {
        let s = scenario(10_000, "1k/s");
        let plan = Plan::new(&s, STATS).unwrap();
        let per_user = |heavy: bool| {
            let l = plan.lambda(heavy, 1.0);
            l * STATS.records / (1.0 + l * STATS.length_ms)
        };
        let total = 10_000.0 * (0.8 * per_user(false) + 0.2 * per_user(true));
        let target = s.peak_sim_rate() / 1000.0;
        assert!(
            (total - target).abs() / target < 1e-9,
            "{total} vs {target}"
        );
        assert!(plan.busy_share(true, 1.0) > plan.busy_share(false, 1.0));
    }

    #[test]
    fn too_few_users_is_refused_with_the_number_needed() {
        let s = scenario(100, "50k/s");
        match Plan::new(&s, STATS) {
            Err(PlanError::TooFewUsers { needed, users, .. }) => {
                // 5000/s simulated at 0.1/s per busy user; heavy users (20%,
                // weight 5) carry 5/9 of it, 2778/s, which takes 30.9k heavy
                // users at 90% busy: 154k users in all.
                assert_eq!(users, 100);
                assert_eq!(needed, 154_321);
            }
            other => panic!("expected TooFewUsers, got {other:?}"),
        }
    }
}
