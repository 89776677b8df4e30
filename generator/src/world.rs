//! What every simulated user shares: behaviour parameters, the catalogue,
//! the fault model and the arrival plan.

use crate::catalog::Catalog;
use crate::faults::FaultModel;
use crate::scenario::Scenario;
use crate::shape::Plan;
use rand_distr::LogNormal;
use watchload_model::DeviceType;

/// Everything users share: parameters, catalogue, plan, faults.
#[derive(Debug, Clone)]
pub struct World {
    /// The seed every user stream derives from.
    pub seed: u64,
    /// Simulated start, epoch ms.
    pub start: i64,
    /// Simulated end, epoch ms (exclusive): no event at or after it.
    pub end: i64,
    /// Heartbeat interval, ms.
    pub heartbeat: i64,
    /// `session_gap`, ms.
    pub gap: i64,
    /// Distance kept between any user gap and `session_gap`, ms.
    pub gap_safety: i64,
    /// Place some gaps exactly on the boundary.
    pub boundary: bool,
    /// Share of long idles aimed at the boundary.
    pub boundary_share: f64,
    /// Playing-time budget of a sitting, ms.
    pub watch: LogNormal<f64>,
    /// Length of an ordinary pause, ms.
    pub pause: LogNormal<f64>,
    /// Pauses per ms of playing.
    pub pause_rate: f64,
    /// Seeks per ms of playing.
    pub seek_rate: f64,
    /// Share of pauses beyond the session gap.
    pub long_pause_share: f64,
    /// Share of binge viewers.
    pub binge_share: f64,
    /// Probability of autoplaying the next episode.
    pub autoplay: f64,
    /// Probability of a hand-off per sitting.
    pub handoff: f64,
    /// Longest hand-off delay, ms.
    pub handoff_delay: i64,
    /// Probability of a second device playing at once.
    pub concurrent: f64,
    /// Probability of owning each kind of device.
    pub device_share: [(DeviceType, f64); 3],
    /// Share of heavy users.
    pub heavy_share: f64,
    /// Window over which the premiere crowd presses play, ms.
    pub premiere_spread: i64,
    /// Title popularity.
    pub catalog: Catalog,
    /// Delivery faults.
    pub faults: FaultModel,
    /// `None` in the calibration pilot: no next sitting is scheduled.
    pub plan: Option<Plan>,
}

fn log_normal(median_ms: i64, sigma: f64) -> LogNormal<f64> {
    LogNormal::new((median_ms.max(1) as f64).ln(), sigma).expect("checked: sigma in 0..=3")
}

impl World {
    /// The world of a scenario (without a plan yet).
    pub fn new(s: &Scenario, seed: u64) -> Self {
        let b = &s.behaviour;
        let d = &s.population.devices;
        World {
            seed,
            start: s.start.0,
            end: s.end(),
            heartbeat: b.heartbeat.ms(),
            gap: s.rules.session_gap.ms(),
            gap_safety: b.gap_safety.ms(),
            boundary: b.boundary_cases,
            boundary_share: b.boundary_share,
            watch: log_normal(b.watch.median.ms(), b.watch.sigma),
            pause: log_normal(b.pause.median.ms(), b.pause.sigma),
            pause_rate: b.pauses_per_hour / 3_600_000.0,
            seek_rate: b.seeks_per_hour / 3_600_000.0,
            long_pause_share: b.long_pause_share,
            binge_share: b.binge_share,
            autoplay: b.autoplay,
            handoff: b.handoff,
            handoff_delay: b.handoff_delay.ms(),
            concurrent: b.concurrent,
            device_share: [
                (DeviceType::Phone, d.phone),
                (DeviceType::Tv, d.tv),
                (DeviceType::Laptop, d.laptop),
            ],
            heavy_share: s.population.heavy_share,
            premiere_spread: s.load.premiere_spread.ms(),
            catalog: Catalog::new(s.population.titles, s.population.zipf_exponent),
            faults: FaultModel::new(s),
            plan: None,
        }
    }
}
