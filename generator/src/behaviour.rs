//! One user as a state machine: idle, or in a sitting with one or more
//! playbacks. Each call to [`User::step`] runs the user's next action and
//! emits at most one event (plus the records faults add). All choices come
//! from the user's own streams.

pub use crate::world::World;

use crate::catalog::Title;
use crate::faults::{Device, Outbox};
use crate::record::{Label, Labels, SimEvent};
use crate::rng::{stream, Purpose, Rng};
use rand::Rng as _;
use rand_distr::{Distribution, Exp};
use watchload_model::{DeviceType, EventType};

/// The next thing a playback does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Play,
    Heartbeat,
    Pause,
    Seek,
    Stop,
    Handoff,
}

#[derive(Debug, Clone)]
struct Playback {
    device: u8,
    number: u32,
    title: Title,
    position: i64,
    seq: u32,
    next_at: i64,
    next: Action,
    /// Playing time left in this chain of playbacks (the sitting's budget).
    budget: i64,
    to_pause: i64,
    to_seek: i64,
    to_handoff: i64,
    /// The gap guard already placed this action; do not move it again.
    placed: bool,
    /// The next event closes a boundary gap.
    boundary: bool,
}

/// One simulated user.
#[derive(Debug, Clone)]
pub struct User {
    /// Index of the user (its id is derived from it).
    pub index: u32,
    rng: Rng,
    frng: Rng,
    heavy: bool,
    binge: bool,
    devices: Vec<Device>,
    playbacks: Vec<Playback>,
    next_sitting: i64,
    next_is_premiere: bool,
    residual: bool,
    aim_boundary: bool,
    max_event_time: i64,
    playback_count: u32,
    event_count: u32,
}

impl User {
    /// Creates user `index` and schedules its first sitting.
    pub fn new(world: &World, index: u32) -> Self {
        let mut rng = stream(world.seed, index, Purpose::Behaviour);
        let mut frng = stream(world.seed, index, Purpose::Faults);
        let mut devices = Vec::with_capacity(3);
        for (kind, share) in world.device_share {
            if rng.random_bool(share.clamp(0.0, 1.0)) {
                devices.push(world.faults.device(&mut frng, kind));
            }
        }
        if devices.is_empty() {
            let kind = world
                .device_share
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|d| d.0)
                .unwrap_or(DeviceType::Phone);
            devices.push(world.faults.device(&mut frng, kind));
        }
        let heavy = rng.random_bool(world.heavy_share);
        let binge = rng.random_bool(world.binge_share);
        let mut user = User {
            index,
            rng,
            frng,
            heavy,
            binge,
            devices,
            playbacks: Vec::new(),
            next_sitting: i64::MAX,
            next_is_premiere: false,
            residual: false,
            aim_boundary: false,
            max_event_time: i64::MIN,
            playback_count: 0,
            event_count: 0,
        };
        user.schedule_first(world);
        user
    }

    /// A user for the pilot: starts a sitting at `t` and nothing after.
    pub fn pilot(world: &World, index: u32, t: i64) -> Self {
        let mut user = User::new(world, index);
        user.rng = stream(world.seed, index, Purpose::Pilot);
        user.next_sitting = t;
        user.next_is_premiere = false;
        user.residual = false;
        user
    }

    fn schedule_first(&mut self, world: &World) {
        let Some(plan) = &world.plan else {
            return;
        };
        if plan.premiere_join > 0.0 && self.rng.random_bool(plan.premiere_join.min(1.0)) {
            let spread = self.rng.random_range(0..=world.premiere_spread.max(0));
            self.next_sitting = plan.premiere_at + spread;
            self.next_is_premiere = true;
            return;
        }
        let level = plan.curve.level(world.start);
        if self
            .rng
            .random_bool(plan.busy_share(self.heavy, level).clamp(0.0, 1.0))
        {
            // Already watching when the run starts: a shortened sitting.
            self.next_sitting = world.start + self.rng.random_range(0..2 * world.heartbeat.max(1));
            self.residual = true;
        } else {
            self.next_sitting = self.next_arrival(world, world.start);
        }
    }

    /// True time of the user's next action, `i64::MAX` when none.
    pub fn wake(&self) -> i64 {
        self.playbacks
            .iter()
            .map(|p| p.next_at)
            .fold(self.next_sitting, i64::min)
    }

    /// Whether the user is in a sitting.
    pub fn busy(&self) -> bool {
        !self.playbacks.is_empty()
    }

    /// Runs the user's next action (at [`User::wake`]).
    pub fn step(&mut self, world: &World, out: &mut Outbox) {
        let Some(p) = self.next_playback() else {
            let t = self.next_sitting;
            self.begin_sitting(world, t);
            return;
        };
        let t = self.playbacks[p].next_at;
        if !self.gap_guard(world, p, t) {
            return;
        }
        match self.playbacks[p].next {
            Action::Start => self.start(world, p, t, out),
            Action::Play | Action::Heartbeat => {
                let kind = match self.playbacks[p].next {
                    Action::Play => EventType::Play,
                    _ => EventType::Heartbeat,
                };
                self.emit(world, p, t, kind, out);
                self.schedule_playing(world, p, t);
            }
            Action::Seek => {
                let pb = &mut self.playbacks[p];
                let jump = self.rng.random_range(-120_000..300_000);
                let end = (pb.title.length_ms() - 1_000).max(0);
                pb.position = (pb.position + jump).clamp(0, end);
                pb.to_seek = exp_ms(&mut self.rng, world.seek_rate);
                self.emit(world, p, t, EventType::Seek, out);
                self.schedule_playing(world, p, t);
            }
            Action::Pause => self.pause(world, p, t, out),
            Action::Stop => self.stop(world, p, t, out),
            Action::Handoff => self.handoff(world, p, t, out),
        }
    }

    fn next_playback(&self) -> Option<usize> {
        let (i, p) = self
            .playbacks
            .iter()
            .enumerate()
            .min_by_key(|(i, p)| (p.next_at, *i))?;
        (p.next_at <= self.next_sitting).then_some(i)
    }

    /// Keeps the gap to the user's previous event clear of `session_gap`, or
    /// places it on the boundary when the scenario asks. Returns false when
    /// the action was moved later.
    fn gap_guard(&mut self, world: &World, p: usize, t: i64) -> bool {
        let pb = &self.playbacks[p];
        if self.max_event_time == i64::MIN || pb.placed {
            return true;
        }
        let skew = self.devices[pb.device as usize].skew_ms;
        let gap = t + skew - self.max_event_time;
        let (lo, hi) = (world.gap - world.gap_safety, world.gap + world.gap_safety);
        if gap <= lo || gap >= hi {
            return true;
        }
        let mut target = self.max_event_time + hi - skew;
        let mut boundary = false;
        if world.boundary && self.aim_boundary {
            let exact = self.max_event_time + world.gap + self.rng.random_range(-1..=1) - skew;
            if exact >= t {
                target = exact;
                boundary = true;
            }
        }
        let pb = &mut self.playbacks[p];
        pb.next_at = target;
        pb.placed = true;
        pb.boundary = boundary;
        target == t
    }

    fn begin_sitting(&mut self, world: &World, t: i64) {
        let premiere = std::mem::take(&mut self.next_is_premiere);
        let residual = std::mem::take(&mut self.residual);
        self.next_sitting = i64::MAX;

        let device = self.pick_device(None);
        let (title, position) = if premiere {
            (Title::PREMIERE, 0)
        } else {
            self.pick_title(world, self.binge)
        };
        let mut budget = world.watch.sample(&mut self.rng) as i64;
        if residual {
            budget = (budget as f64 * self.rng.random::<f64>()) as i64;
        }
        let to_handoff = if self.devices.len() > 1 && self.rng.random_bool(world.handoff) {
            let span = budget.min(title.length_ms() - position) as f64;
            (span * self.rng.random_range(0.2..0.8)) as i64
        } else {
            i64::MAX
        };
        self.add_playback(world, device, title, position, budget, t, to_handoff);

        if self.devices.len() > 1 && self.rng.random_bool(world.concurrent) {
            let second = self.pick_device(Some(device));
            let (title, position) = self.pick_title(world, false);
            let budget = world.watch.sample(&mut self.rng) as i64;
            let at = t + self.rng.random_range(1_000..300_000);
            self.add_playback(world, second, title, position, budget, at, i64::MAX);
        }
    }

    fn pick_title(&mut self, world: &World, from_start: bool) -> (Title, i64) {
        let title = world.catalog.pick(&mut self.rng, from_start);
        let position = if !from_start && self.rng.random_bool(0.25) {
            (title.length_ms() as f64 * self.rng.random_range(0.0..0.7)) as i64
        } else {
            0
        };
        (title, position)
    }

    /// A device of the user, other than `not` when possible; TVs a little
    /// more likely.
    fn pick_device(&mut self, not: Option<u8>) -> u8 {
        let weight = |d: &Device| match d.kind {
            DeviceType::Tv => 1.3,
            DeviceType::Phone => 1.0,
            DeviceType::Laptop => 0.7,
        };
        let candidates: Vec<u8> = (0..self.devices.len() as u8)
            .filter(|i| Some(*i) != not)
            .collect();
        let total: f64 = candidates
            .iter()
            .map(|i| weight(&self.devices[*i as usize]))
            .sum();
        let mut x = self.rng.random::<f64>() * total;
        for i in &candidates {
            x -= weight(&self.devices[*i as usize]);
            if x < 0.0 {
                return *i;
            }
        }
        *candidates.last().unwrap_or(&0)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_playback(
        &mut self,
        world: &World,
        device: u8,
        title: Title,
        position: i64,
        budget: i64,
        at: i64,
        to_handoff: i64,
    ) {
        self.playback_count += 1;
        self.playbacks.push(Playback {
            device,
            number: self.playback_count,
            title,
            position,
            seq: 0,
            next_at: at,
            next: Action::Start,
            budget: budget.max(1_000),
            to_pause: exp_ms(&mut self.rng, world.pause_rate),
            to_seek: exp_ms(&mut self.rng, world.seek_rate),
            to_handoff,
            placed: false,
            boundary: false,
        });
    }

    fn start(&mut self, world: &World, p: usize, t: i64, out: &mut Outbox) {
        let device = self.playbacks[p].device as usize;
        world
            .faults
            .on_playback_start(&mut self.frng, &mut self.devices[device], t);
        self.emit(world, p, t, EventType::Start, out);
        self.schedule_playing(world, p, t);
    }

    /// Plans the next action of a playing playback after an event at `t`.
    fn schedule_playing(&mut self, world: &World, p: usize, t: i64) {
        let pb = &mut self.playbacks[p];
        let end_left = pb.budget.min(pb.title.length_ms() - pb.position).max(0);
        let mut d = world
            .heartbeat
            .min(end_left)
            .min(pb.to_pause)
            .min(pb.to_seek)
            .min(pb.to_handoff)
            .max(1_000);
        pb.next = if end_left <= d {
            d = end_left.max(1_000);
            Action::Stop
        } else if pb.to_handoff <= d {
            Action::Handoff
        } else if pb.to_pause <= d {
            Action::Pause
        } else if pb.to_seek <= d {
            Action::Seek
        } else {
            Action::Heartbeat
        };
        pb.position = (pb.position + d).min(pb.title.length_ms());
        pb.budget -= d;
        pb.to_pause -= d;
        pb.to_seek -= d;
        pb.to_handoff = pb.to_handoff.saturating_sub(d);
        pb.next_at = t + d;
    }

    fn pause(&mut self, world: &World, p: usize, t: i64, out: &mut Outbox) {
        self.emit(world, p, t, EventType::Pause, out);
        let (lo, hi) = (world.gap - world.gap_safety, world.gap + world.gap_safety);
        let length = if self.rng.random_bool(world.long_pause_share) {
            if world.boundary && self.rng.random_bool(world.boundary_share) {
                self.aim_boundary = true;
                lo + world.gap_safety / 2
            } else {
                hi + exp_ms(&mut self.rng, 1.0 / world.gap as f64)
            }
        } else {
            (world.pause.sample(&mut self.rng) as i64).clamp(1_000, lo - 1_000)
        };
        let pb = &mut self.playbacks[p];
        pb.next = Action::Play;
        pb.next_at = t + length;
        pb.to_pause = exp_ms(&mut self.rng, world.pause_rate);
    }

    fn stop(&mut self, world: &World, p: usize, t: i64, out: &mut Outbox) {
        self.emit(world, p, t, EventType::Stop, out);
        let pb = self.playbacks.swap_remove(p);
        let finished = pb.position >= pb.title.length_ms();
        if finished && self.binge && pb.budget > 60_000 && self.rng.random_bool(world.autoplay) {
            if let Some(next) = pb.title.next_episode() {
                let at = t + self.rng.random_range(5_000..20_000);
                self.add_playback(world, pb.device, next, 0, pb.budget, at, i64::MAX);
            }
        }
        self.after_playback(world, t);
    }

    /// Leaves the device (pause or stop) and continues the title on another
    /// device of the user near the same position, as a new playback.
    fn handoff(&mut self, world: &World, p: usize, t: i64, out: &mut Outbox) {
        let leave = if self.rng.random_bool(0.5) {
            EventType::Pause
        } else {
            EventType::Stop
        };
        self.emit(world, p, t, leave, out);
        let pb = self.playbacks.swap_remove(p);
        let device = self.pick_device(Some(pb.device));
        let rewind = self.rng.random_range(0..10_000);
        let at = t + self
            .rng
            .random_range(5_000..=world.handoff_delay.max(5_000));
        let position = (pb.position - rewind).max(0);
        self.add_playback(world, device, pb.title, position, pb.budget, at, i64::MAX);
    }

    fn after_playback(&mut self, world: &World, t: i64) {
        if !self.playbacks.is_empty() || world.plan.is_none() {
            return;
        }
        let mut next = self.next_arrival(world, t);
        if world.boundary && self.rng.random_bool(world.boundary_share) {
            // Come back right at the session gap so the guard can place it.
            next = next.min(t + world.gap - world.gap_safety / 2);
            self.aim_boundary = true;
        }
        self.next_sitting = if next < world.end { next } else { i64::MAX };
    }

    /// Next sitting after `from` by thinning the time-varying intensity.
    fn next_arrival(&mut self, world: &World, from: i64) -> i64 {
        let Some(plan) = &world.plan else {
            return i64::MAX;
        };
        let max = plan.lambda(self.heavy, plan.curve.max_level());
        if max.is_nan() || max <= 0.0 {
            return i64::MAX;
        }
        let mut t = from as f64;
        loop {
            t += -(1.0 - self.rng.random::<f64>()).ln() / max;
            if t >= world.end as f64 {
                return i64::MAX;
            }
            let level = plan.curve.level(t as i64);
            if self.rng.random::<f64>() * max < plan.lambda(self.heavy, level) {
                return t as i64;
            }
        }
    }

    fn emit(&mut self, world: &World, p: usize, t: i64, kind: EventType, out: &mut Outbox) {
        let pb = &mut self.playbacks[p];
        let device = &self.devices[pb.device as usize];
        let event_time = t + device.skew_ms;
        let mut labels = Labels::default();
        if std::mem::take(&mut pb.boundary) {
            labels.add(Label::BoundaryGap);
        }
        pb.placed = false;
        self.aim_boundary = false;
        let event = SimEvent {
            user: self.index,
            number: self.event_count,
            playback: pb.number,
            position_ms: pb.position.max(0) as u64,
            event_time,
            seq: pb.seq,
            title: pb.title,
            device: device.kind,
            event_type: kind,
        };
        pb.seq += 1;
        self.event_count += 1;
        self.max_event_time = self.max_event_time.max(event_time);
        world
            .faults
            .deliver(&mut self.frng, device, event, t, labels, out);
    }
}

/// An exponential waiting time in ms for `rate` per ms (`i64::MAX` for 0).
fn exp_ms(rng: &mut Rng, rate: f64) -> i64 {
    if rate <= 0.0 {
        return i64::MAX;
    }
    let exp = Exp::new(rate).expect("positive rate");
    (exp.sample(rng) as i64).max(1)
}
