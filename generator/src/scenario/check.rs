//! Semantic checks on a parsed scenario: every problem at once, each naming
//! its key and what was expected.

use super::{Millis, Scenario, Shape};
use std::fmt;

/// One thing wrong with a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, such as `faults.jitter.rate`.
    pub key: String,
    /// What was expected, and what was found.
    pub message: String,
    /// 1-based line of the key in the file, when known.
    pub line: Option<usize>,
}

impl Problem {
    /// Builds a problem for `key`.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Problem {
            key: key.to_string(),
            message: message.into(),
            line: None,
        }
    }

    /// `key: message`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.key, self.message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.describe()),
            None => f.write_str(&self.describe()),
        }
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(Problem::new(key, message));
    }

    fn share(&mut self, key: &str, value: f64) {
        if !(0.0..=1.0).contains(&value) {
            self.push(
                key,
                format!("expected a share between 0 and 1, got {value}"),
            );
        }
    }

    fn positive(&mut self, key: &str, value: Millis) {
        if value.ms() <= 0 {
            self.push(key, format!("expected a positive duration, got {value}"));
        }
    }

    fn non_negative(&mut self, key: &str, value: Millis) {
        if value.ms() < 0 {
            self.push(key, "expected a duration of zero or more");
        }
    }

    fn below(&mut self, key: &str, value: Millis, limit: Millis, limit_name: &str) {
        if value >= limit {
            self.push(
                key,
                format!("expected less than {limit_name} ({limit}), got {value}"),
            );
        }
    }
}

/// Every semantic problem of `s`, in file order of sections. Empty when the
/// scenario is usable.
pub fn check(s: &Scenario) -> Vec<Problem> {
    let mut p = Problems::default();
    top(s, &mut p);
    rules(s, &mut p);
    population(s, &mut p);
    behaviour(s, &mut p);
    faults(s, &mut p);
    load(s, &mut p);
    p.0.extend(super::chaos::check(s));
    p.0
}

fn top(s: &Scenario, p: &mut Problems) {
    if s.name.trim().is_empty() {
        p.push("name", "expected a non-empty name");
    }
    p.positive("duration", s.duration);
    if !(s.time_scale.is_finite() && s.time_scale > 0.0) {
        p.push(
            "time_scale",
            format!("expected a positive number, got {}", s.time_scale),
        );
    }
}

fn rules(s: &Scenario, p: &mut Problems) {
    let r = &s.rules;
    p.positive("rules.session_gap", r.session_gap);
    p.positive("rules.max_step", r.max_step);
    if r.max_step > r.session_gap {
        p.push(
            "rules.max_step",
            format!("expected at most session_gap ({})", r.session_gap),
        );
    }
    p.non_negative("rules.allowed_lateness", r.allowed_lateness);
    if r.lateness_margin.ms() < 0 || r.lateness_margin > r.allowed_lateness {
        p.push(
            "rules.lateness_margin",
            format!(
                "expected between 0 and allowed_lateness ({})",
                r.allowed_lateness
            ),
        );
    }
}

fn population(s: &Scenario, p: &mut Problems) {
    let pop = &s.population;
    if pop.users == 0 {
        p.push("population.users", "expected at least one user");
    }
    p.share("population.devices.phone", pop.devices.phone);
    p.share("population.devices.tv", pop.devices.tv);
    p.share("population.devices.laptop", pop.devices.laptop);
    if pop.devices.phone + pop.devices.tv + pop.devices.laptop <= 0.0 {
        p.push(
            "population.devices",
            "expected at least one device kind with a share above 0",
        );
    }
    p.share("population.heavy_share", pop.heavy_share);
    if pop.heavy_weight.is_nan() || pop.heavy_weight < 1.0 {
        p.push(
            "population.heavy_weight",
            format!("expected 1 or more, got {}", pop.heavy_weight),
        );
    }
    if pop.titles == 0 {
        p.push("population.titles", "expected at least one title");
    }
    if pop.zipf_exponent.is_nan() || pop.zipf_exponent <= 0.0 {
        p.push("population.zipf_exponent", "expected a positive exponent");
    }
}

fn behaviour(s: &Scenario, p: &mut Problems) {
    let b = &s.behaviour;
    let gap = s.rules.session_gap;
    p.positive("behaviour.heartbeat", b.heartbeat);
    if b.heartbeat > s.rules.max_step {
        p.push(
            "behaviour.heartbeat",
            format!(
                "expected at most rules.max_step ({}), or heartbeats lose time",
                s.rules.max_step
            ),
        );
    }
    p.positive("behaviour.watch.median", b.watch.median);
    p.positive("behaviour.pause.median", b.pause.median);
    for (key, sigma) in [
        ("behaviour.watch.sigma", b.watch.sigma),
        ("behaviour.pause.sigma", b.pause.sigma),
    ] {
        if !(0.0..=3.0).contains(&sigma) {
            p.push(
                key,
                format!("expected a sigma between 0 and 3, got {sigma}"),
            );
        }
    }
    for (key, v) in [
        ("behaviour.pauses_per_hour", b.pauses_per_hour),
        ("behaviour.seeks_per_hour", b.seeks_per_hour),
    ] {
        if !(0.0..=120.0).contains(&v) {
            p.push(key, format!("expected between 0 and 120 per hour, got {v}"));
        }
    }
    p.share("behaviour.long_pause_share", b.long_pause_share);
    p.share("behaviour.binge_share", b.binge_share);
    p.share("behaviour.autoplay", b.autoplay);
    p.share("behaviour.handoff", b.handoff);
    p.share("behaviour.concurrent", b.concurrent);
    p.share("behaviour.boundary_share", b.boundary_share);
    if b.gap_safety.ms() < 0 || b.gap_safety.ms() * 4 >= gap.ms() {
        p.push(
            "behaviour.gap_safety",
            format!("expected between 0 and a quarter of rules.session_gap ({gap})"),
        );
    }
    let short_limit = Millis(gap.ms() - b.gap_safety.ms());
    p.below(
        "behaviour.pause.median",
        b.pause.median,
        short_limit,
        "session_gap - gap_safety",
    );
    if b.handoff_delay < Millis::secs(5) {
        p.push("behaviour.handoff_delay", "expected at least 5s");
    }
    p.below(
        "behaviour.handoff_delay",
        b.handoff_delay,
        short_limit,
        "session_gap - gap_safety",
    );
}

fn faults(s: &Scenario, p: &mut Problems) {
    let f = &s.faults;
    let r = &s.rules;
    let room = Millis(r.allowed_lateness.ms() - r.lateness_margin.ms() - f.lateness_safety.ms());
    p.non_negative("faults.lateness_safety", f.lateness_safety);
    p.share("faults.jitter.rate", f.jitter.rate);
    p.share("faults.duplicate.rate", f.duplicate.rate);
    p.share("faults.offline.rate", f.offline.rate);
    p.share("faults.clock_skew.rate", f.clock_skew.rate);
    p.share("faults.poison.rate", f.poison.rate);
    let limit = "allowed_lateness - lateness_margin - lateness_safety";
    if f.jitter.rate > 0.0 {
        p.positive("faults.jitter.max", f.jitter.max);
        p.below("faults.jitter.max", f.jitter.max, room, limit);
    }
    if f.duplicate.rate > 0.0 {
        p.positive("faults.duplicate.max_delay", f.duplicate.max_delay);
        p.below(
            "faults.duplicate.max_delay",
            f.duplicate.max_delay,
            room,
            limit,
        );
    }
    if f.offline.rate > 0.0 {
        p.positive("faults.offline.min", f.offline.min);
        if f.offline.max < f.offline.min {
            p.push(
                "faults.offline.max",
                format!("expected at least offline.min ({})", f.offline.min),
            );
        }
    }
    if f.clock_skew.rate > 0.0 {
        if f.clock_skew.min <= Millis(1000) {
            p.push(
                "faults.clock_skew.min",
                "expected more than 1s (smaller offsets are not labelled)",
            );
        }
        if f.clock_skew.max < f.clock_skew.min {
            p.push(
                "faults.clock_skew.max",
                format!("expected at least clock_skew.min ({})", f.clock_skew.min),
            );
        }
        // A clock running ahead pushes stream time forward, so every other
        // device looks that late: keep it well inside allowed lateness.
        p.below("faults.clock_skew.max", f.clock_skew.max, room, limit);
    }
}

fn load(s: &Scenario, p: &mut Problems) {
    let l = &s.load;
    if !(l.peak_rate.0 > 0.0 && l.peak_rate.0.is_finite()) {
        p.push(
            "load.peak_rate",
            format!(
                "expected a positive rate like \"50k/s\", got {}",
                l.peak_rate
            ),
        );
    }
    if !(l.multiplier.0 > 0.0 && l.multiplier.0.is_finite()) {
        p.push(
            "load.multiplier",
            format!("expected a positive multiplier, got {}", l.multiplier.0),
        );
    }
    p.share("load.ramp_from", l.ramp_from);
    p.share("load.premiere_base", l.premiere_base);
    if l.shape == Shape::Premiere {
        let at = l.premiere_offset(s.duration);
        if at.ms() < 0 || at >= s.duration {
            p.push(
                "load.premiere_at",
                format!("expected an offset within duration ({})", s.duration),
            );
        }
    }
    p.non_negative("load.premiere_spread", l.premiere_spread);
    if l.max_rate
        .is_some_and(|r| !(r.0 >= 1.0 && r.0 <= f64::from(u32::MAX)))
    {
        p.push("load.max_rate", "expected a rate of at least 1/s");
    }
    p.non_negative("load.miss_threshold", l.miss_threshold);
}
