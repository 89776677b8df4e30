//! The scenario: one TOML file that says who watches what, how delivery
//! goes wrong, how much load to send and what thresholds a run must meet.
//!
//! Every section refuses unknown keys and every field has a default except
//! `name`, `seed`, `population.users` and `load.peak_rate`. A new section is
//! one field on [`Scenario`] (with `#[serde(default)]`) plus one line in
//! [`check::check`]. `docs/scenarios.md` documents every key; a test keeps
//! the two in step.

pub mod chaos;
pub mod check;
pub mod load;
pub mod units;

pub use chaos::{ChaosAction, ChaosEntry, Recovery, Wait};
pub use check::{check, Problem};
pub use load::{load_file, parse_str, ScenarioError};
pub use units::{Instant, Millis, Multiplier, Rate};

use serde::{Deserialize, Serialize};
use watchload_model::SessionRules;

/// A complete scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports and the manifest.
    pub name: String,
    /// One or two sentences on what the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// The seed every random choice derives from; `--seed` overrides it.
    pub seed: u64,
    /// Simulated time of the first event (RFC 3339, UTC).
    #[serde(default)]
    pub start: Instant,
    /// Length of simulated time to generate.
    pub duration: Millis,
    /// Simulated seconds per wall-clock second when paced (60 = one hour of
    /// viewing in one minute).
    #[serde(default = "one")]
    pub time_scale: f64,
    /// The session rules truth is computed with.
    #[serde(default)]
    pub rules: Rules,
    /// Who watches: users, their devices, the catalogue.
    pub population: Population,
    /// How people watch: heartbeats, lengths, pauses, hand-offs.
    #[serde(default)]
    pub behaviour: Behaviour,
    /// How delivery goes wrong, each fault with its rate.
    #[serde(default)]
    pub faults: Faults,
    /// How much traffic, with which shape over time, and pacing.
    pub load: Load,
    /// Pass conditions for the verifier, such as `"f1 >= 0.999"`. Kept as
    /// written here; the verifier parses them.
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// `[kafka]`: cluster, topics and client settings for `watchload run`
    /// (command-line flags override them).
    #[serde(default)]
    pub kafka: watchload_kafka::KafkaSettings,
    /// `[wait]`: how `watchload run` waits for the last output.
    #[serde(default)]
    pub wait: Wait,
    /// `[recovery]`: when a run counts as recovered after a fault.
    #[serde(default)]
    pub recovery: Recovery,
    /// `[[chaos]]`: faults on the load's timeline, for `watchload run`.
    #[serde(default)]
    pub chaos: Vec<ChaosEntry>,
}

fn one() -> f64 {
    1.0
}

/// `[rules]`: the session semantics (see `docs/model.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// A gap strictly greater than this between two events of a user starts a
    /// new watch session.
    pub session_gap: Millis,
    /// Cap on the playing time credited between two consecutive events of
    /// one playback.
    pub max_step: Millis,
    /// Events later than this behind stream time may be dropped by a correct
    /// pipeline; truth leaves them out.
    pub allowed_lateness: Millis,
    /// Events whose lateness is within this of `allowed_lateness` are
    /// ambiguous; sessions they touch are tolerated.
    pub lateness_margin: Millis,
}

impl Default for Rules {
    fn default() -> Self {
        let d = SessionRules::default();
        Rules {
            session_gap: Millis(d.session_gap_ms),
            max_step: Millis(d.max_step_ms),
            allowed_lateness: Millis(d.allowed_lateness_ms),
            lateness_margin: Millis(d.lateness_margin_ms),
        }
    }
}

impl Rules {
    /// The model's rules.
    pub fn to_model(&self) -> SessionRules {
        SessionRules {
            session_gap_ms: self.session_gap.ms(),
            max_step_ms: self.max_step.ms(),
            allowed_lateness_ms: self.allowed_lateness.ms(),
            lateness_margin_ms: self.lateness_margin.ms(),
        }
    }
}

/// `[population]`: users, devices and the catalogue they watch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Number of users across all shards.
    pub users: u32,
    /// Probability that a user owns each kind of device (every user owns at
    /// least one).
    #[serde(default)]
    pub devices: DeviceMix,
    /// Share of heavy users (hot keys).
    #[serde(default = "Population::default_heavy_share")]
    pub heavy_share: f64,
    /// How many times more often a heavy user sits down to watch.
    #[serde(default = "Population::default_heavy_weight")]
    pub heavy_weight: f64,
    /// Number of titles in the catalogue (movies and series).
    #[serde(default = "Population::default_titles")]
    pub titles: u32,
    /// Exponent of the Zipf popularity of titles (higher: more skewed).
    #[serde(default = "Population::default_zipf")]
    pub zipf_exponent: f64,
}

impl Population {
    fn default_heavy_share() -> f64 {
        0.05
    }
    fn default_heavy_weight() -> f64 {
        6.0
    }
    fn default_titles() -> u32 {
        2000
    }
    fn default_zipf() -> f64 {
        1.1
    }
}

/// `[population.devices]`: probability of owning each kind of device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceMix {
    /// Probability that a user owns a phone.
    pub phone: f64,
    /// Probability that a user owns a TV.
    pub tv: f64,
    /// Probability that a user owns a laptop.
    pub laptop: f64,
}

impl Default for DeviceMix {
    fn default() -> Self {
        DeviceMix {
            phone: 0.85,
            tv: 0.6,
            laptop: 0.45,
        }
    }
}

/// A log-normal distribution given by its median and the sigma of the
/// underlying normal (0.5: mild spread, 1.5: very heavy tail).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormalSpec {
    /// The median value.
    pub median: Millis,
    /// Sigma of the underlying normal distribution.
    pub sigma: f64,
}

/// `[behaviour]`: how people watch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    /// Interval of heartbeats while playing (none while paused).
    pub heartbeat: Millis,
    /// Playing time of one sitting (all its episodes), log-normal.
    pub watch: LogNormalSpec,
    /// Mean number of pauses per hour of playing.
    pub pauses_per_hour: f64,
    /// Length of an ordinary pause, log-normal; capped below the session gap.
    pub pause: LogNormalSpec,
    /// Share of pauses that last longer than the session gap (the user walks
    /// away and resumes later, in a new watch session).
    pub long_pause_share: f64,
    /// Mean number of seeks per hour of playing.
    pub seeks_per_hour: f64,
    /// Share of users who binge series.
    pub binge_share: f64,
    /// Probability that a binge viewer's player autoplays the next episode
    /// when one ends.
    pub autoplay: f64,
    /// Probability that a playback moves to another device of the user
    /// mid-title (pause on the phone, continue on the TV).
    pub handoff: f64,
    /// Longest delay between leaving one device and starting the next in a
    /// hand-off.
    pub handoff_delay: Millis,
    /// Probability that a sitting has a second device playing another title
    /// at the same time.
    pub concurrent: f64,
    /// Inter-event gaps of a user are kept at least this far from
    /// `session_gap` (engines disagree on gaps at the limit).
    pub gap_safety: Millis,
    /// Place some gaps exactly on `session_gap` and 1 ms either side, and
    /// let lateness fall near `allowed_lateness` (labelled `boundary-gap`).
    pub boundary_cases: bool,
    /// With `boundary_cases`, share of long idle gaps placed on the boundary.
    pub boundary_share: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            heartbeat: Millis::secs(10),
            watch: LogNormalSpec {
                median: Millis::mins(35),
                sigma: 0.8,
            },
            pauses_per_hour: 1.5,
            pause: LogNormalSpec {
                median: Millis::secs(40),
                sigma: 1.2,
            },
            long_pause_share: 0.05,
            seeks_per_hour: 0.6,
            binge_share: 0.3,
            autoplay: 0.75,
            handoff: 0.08,
            handoff_delay: Millis::mins(3),
            concurrent: 0.04,
            gap_safety: Millis::mins(2),
            boundary_cases: false,
            boundary_share: 0.3,
        }
    }
}

/// `[faults]`: delivery faults, each with a rate and a label on every record
/// it touches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Network jitter: delays a share of events, reordering them.
    pub jitter: Jitter,
    /// Client retries: resends a share of events with the same `event_id`.
    pub duplicate: Duplicate,
    /// Phones going offline and uploading a burst at reconnection.
    pub offline: Offline,
    /// Devices whose clock is off.
    pub clock_skew: ClockSkew,
    /// Malformed records for the dead-letter path.
    pub poison: Poison,
    /// Lateness is kept at least this far from `allowed_lateness` (a record
    /// that would land in the band is held back), unless
    /// `behaviour.boundary_cases` asks for it.
    pub lateness_safety: Millis,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            jitter: Jitter::default(),
            duplicate: Duplicate::default(),
            offline: Offline::default(),
            clock_skew: ClockSkew::default(),
            poison: Poison::default(),
            lateness_safety: Millis::secs(20),
        }
    }
}

/// `[faults.jitter]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Jitter {
    /// Share of events delayed (0 to 1).
    pub rate: f64,
    /// Longest delay; delays are uniform up to this.
    pub max: Millis,
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter {
            rate: 0.0,
            max: Millis::secs(3),
        }
    }
}

/// `[faults.duplicate]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Duplicate {
    /// Share of events sent twice (0 to 1).
    pub rate: f64,
    /// Longest delay of the retry copy after the original.
    pub max_delay: Millis,
}

impl Default for Duplicate {
    fn default() -> Self {
        Duplicate {
            rate: 0.0,
            max_delay: Millis::secs(5),
        }
    }
}

/// `[faults.offline]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Offline {
    /// Share of phone playbacks during which the phone goes offline.
    pub rate: f64,
    /// Shortest offline period.
    pub min: Millis,
    /// Longest offline period (log-uniform between `min` and `max`).
    pub max: Millis,
}

impl Default for Offline {
    fn default() -> Self {
        Offline {
            rate: 0.0,
            min: Millis::mins(2),
            max: Millis::mins(90),
        }
    }
}

/// `[faults.clock_skew]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSkew {
    /// Share of devices whose clock is off.
    pub rate: f64,
    /// Smallest offset of a skewed clock (more than 1 s).
    pub min: Millis,
    /// Largest offset, either direction (uniform between `min` and `max`).
    pub max: Millis,
}

impl Default for ClockSkew {
    fn default() -> Self {
        ClockSkew {
            rate: 0.0,
            min: Millis::secs(2),
            max: Millis::secs(90),
        }
    }
}

/// `[faults.poison]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Poison {
    /// Malformed records added per valid event (0 to 1).
    pub rate: f64,
}

/// The shape of load over simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// The peak rate all along.
    Constant,
    /// Linear from `ramp_from` times the peak to the peak at the end.
    Ramp,
    /// A time-of-day curve with evening prime time at the peak.
    Diurnal,
    /// A flash crowd: a base level, then many users start one title at
    /// `premiere_at`.
    Premiere,
}

/// `[load]`: how much traffic and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Named peak rate of events per wall-clock second before the multiplier.
    pub peak_rate: Rate,
    /// Multiplier on the peak rate (`10` or `"10x"`).
    #[serde(default)]
    pub multiplier: Multiplier,
    /// Shape of the load over simulated time.
    #[serde(default = "Load::default_shape")]
    pub shape: Shape,
    /// Send each record at its intended wall time (true) or as fast as
    /// possible (false); `--unpaced` overrides.
    #[serde(default = "Load::default_paced")]
    pub paced: bool,
    /// `ramp`: starting level as a share of the peak.
    #[serde(default = "Load::default_ramp_from")]
    pub ramp_from: f64,
    /// `premiere`: offset from `start` of the flash crowd.
    #[serde(default)]
    pub premiere_at: Option<Millis>,
    /// `premiere`: base level outside the crowd, as a share of the peak.
    #[serde(default = "Load::default_premiere_base")]
    pub premiere_base: f64,
    /// `premiere`: window over which the crowd presses play.
    #[serde(default = "Load::default_premiere_spread")]
    pub premiere_spread: Millis,
    /// A record sent later than this after its intended wall time counts as
    /// a schedule miss.
    #[serde(default = "Load::default_miss_threshold")]
    pub miss_threshold: Millis,
    /// Ceiling on records per wall-clock second, paced or not (a token
    /// bucket, one second of burst): protects a shared cluster from an
    /// unpaced run or a premiere spike. Time spent waiting on it counts as
    /// schedule lag. Unset: no ceiling.
    #[serde(default)]
    pub max_rate: Option<Rate>,
}

impl Load {
    fn default_shape() -> Shape {
        Shape::Constant
    }
    fn default_paced() -> bool {
        true
    }
    fn default_ramp_from() -> f64 {
        0.1
    }
    fn default_premiere_base() -> f64 {
        0.15
    }
    fn default_premiere_spread() -> Millis {
        Millis::secs(20)
    }
    fn default_miss_threshold() -> Millis {
        Millis(10)
    }

    /// Target events per wall second at the peak (rate times multiplier).
    pub fn peak_wall_rate(&self) -> f64 {
        self.peak_rate.0 * self.multiplier.0
    }

    /// Offset of the premiere from `start`, default a quarter of `duration`.
    pub fn premiere_offset(&self, duration: Millis) -> Millis {
        self.premiere_at.unwrap_or(Millis(duration.ms() / 4))
    }
}

impl Scenario {
    /// Target events per simulated second at the peak.
    pub fn peak_sim_rate(&self) -> f64 {
        self.load.peak_wall_rate() / self.time_scale
    }

    /// Simulated end, epoch ms (exclusive).
    pub fn end(&self) -> i64 {
        self.start.0 + self.duration.ms()
    }
}
