//! The simulation loop: wakes users in true-time order, collects the records
//! their events become, and releases records in intended send order through
//! a reorder buffer.
//!
//! Every record's send time is at or after the true time of its event, and
//! users are woken in true-time order, so once the earliest pending wake is
//! past a record's send time no record can come before it any more: that is
//! when it is released.

use crate::behaviour::{User, World};
use crate::calibrate::calibrate;
use crate::faults::Outbox;
use crate::record::{Payload, SimRecord};
use crate::rng::run_tag;
use crate::scenario::Scenario;
use crate::shape::{Plan, PlanError};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::str::FromStr;

/// Most times the lateness guard holds one record back (a quiet stream may
/// not move stream time at all).
const MAX_HOLDS: u8 = 16;

/// A slice of the population: users whose index modulo `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Whether user `user` belongs to this shard.
    pub fn owns(self, user: u32) -> bool {
        user % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("expected a shard like \"0/4\" (index/count, index < count), got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Counters of the simulation itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Users simulated in this shard.
    pub users: u64,
    /// Records held back by the lateness guard.
    pub held: u64,
    /// Most records waiting in the reorder buffer at once.
    pub max_pending: u64,
}

/// The generator of one shard of a scenario: an iterator of records in
/// intended send order.
#[derive(Debug)]
pub struct Generator {
    world: World,
    users: Vec<User>,
    wakes: BinaryHeap<Reverse<(i64, u32)>>,
    pending: BinaryHeap<Reverse<SimRecord>>,
    ready: VecDeque<SimRecord>,
    outbox: Outbox,
    stream_time: i64,
    guard: Option<(i64, i64)>,
    tag: String,
    now: i64,
    stats: EngineStats,
}

impl Generator {
    /// Calibrates and sets up the users of `shard`.
    ///
    /// # Errors
    /// [`PlanError`] when the population cannot produce the target rate.
    pub fn new(s: &Scenario, seed: u64, shard: Shard) -> Result<Self, PlanError> {
        let plan = calibrate(s, seed)?;
        Ok(Self::with_plan(s, seed, shard, plan))
    }

    /// Sets up with an existing plan (the same for every shard).
    pub fn with_plan(s: &Scenario, seed: u64, shard: Shard, plan: Plan) -> Self {
        let mut world = World::new(s, seed);
        world.plan = Some(plan);
        let mut users = Vec::new();
        let mut wakes = BinaryHeap::new();
        for index in (shard.index..s.population.users).step_by(shard.count as usize) {
            let user = User::new(&world, index);
            let slot = users.len() as u32;
            if user.wake() < world.end {
                wakes.push(Reverse((user.wake(), slot)));
            }
            users.push(user);
        }
        let r = &s.rules;
        let margin = r.lateness_margin.ms() + s.faults.lateness_safety.ms();
        let guard = (!s.behaviour.boundary_cases).then(|| {
            let l = r.allowed_lateness.ms();
            (l - margin, l + margin)
        });
        let stats = EngineStats {
            users: users.len() as u64,
            ..EngineStats::default()
        };
        Generator {
            now: world.start,
            world,
            users,
            wakes,
            pending: BinaryHeap::new(),
            ready: VecDeque::new(),
            outbox: Outbox::default(),
            stream_time: i64::MIN,
            guard,
            tag: run_tag(seed),
            stats,
        }
    }

    /// The run tag in every id.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Simulated time reached (true time of the latest action).
    pub fn sim_now(&self) -> i64 {
        self.now
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Users still to act, for progress.
    pub fn active_users(&self) -> usize {
        self.wakes.len()
    }

    /// Runs the next user action; false when every user is done.
    fn advance(&mut self) -> bool {
        let Some(mut top) = self.wakes.peek_mut() else {
            return false;
        };
        let Reverse((wake, slot)) = *top;
        self.now = wake;
        let user = &mut self.users[slot as usize];
        user.step(&self.world, &mut self.outbox);
        let next = user.wake();
        if next < self.world.end {
            *top = Reverse((next, slot));
            drop(top);
        } else {
            std::collections::binary_heap::PeekMut::pop(top);
        }
        let horizon = self.horizon();
        for record in self.outbox.records.drain(..) {
            // Fast path: a record due before any pending one and before the
            // next wake goes straight to the ready queue, which stays in
            // (send_time, order) order because send_time >= true time.
            let first = self
                .pending
                .peek()
                .map_or(true, |Reverse(p)| p.send_time > record.send_time);
            if first && record.send_time <= horizon {
                self.ready.push_back(record);
            } else {
                self.pending.push(Reverse(record));
            }
        }
        self.stats.max_pending = self.stats.max_pending.max(self.pending.len() as u64);
        true
    }

    /// Earliest pending wake: no record released later can be due before.
    fn horizon(&self) -> i64 {
        self.wakes.peek().map_or(i64::MAX, |Reverse((t, _))| *t)
    }

    /// Releases a record: the lateness guard, then stream time.
    fn release(&mut self, record: SimRecord) -> Option<SimRecord> {
        let record = self.guard(record)?;
        if let Payload::Event(e) = &record.payload {
            self.stream_time = self.stream_time.max(e.event_time);
        }
        Some(record)
    }

    /// Holds a record back when its lateness would fall near the bound;
    /// returns the record when it may go now. Stream time is monotone, so
    /// holding only ever raises lateness; a skewed clock that pushed stream
    /// time ahead can leave it in the band after one hold, hence a few.
    fn guard(&mut self, mut record: SimRecord) -> Option<SimRecord> {
        let (Some((lo, hi)), Payload::Event(e)) = (self.guard, &record.payload) else {
            return Some(record);
        };
        let lateness = self.stream_time.saturating_sub(e.event_time);
        let settled = record.holds >= MAX_HOLDS || self.stream_time == i64::MIN;
        if settled || lateness < lo || lateness > hi {
            return Some(record);
        }
        record.holds += 1;
        // Past everything already queued as ready, so send order holds.
        let after_ready = self.ready.back().map_or(i64::MIN, |r| r.send_time + 1);
        record.send_time = (record.send_time + hi - lateness + 1).max(after_ready);
        self.stats.held += 1;
        self.pending.push(Reverse(record));
        None
    }
}

impl Iterator for Generator {
    type Item = SimRecord;

    fn next(&mut self) -> Option<SimRecord> {
        loop {
            if let Some(record) = self.ready.pop_front() {
                match self.release(record) {
                    Some(record) => return Some(record),
                    None => continue,
                }
            }
            let horizon = self.horizon();
            let due = self
                .pending
                .peek()
                .is_some_and(|Reverse(r)| r.send_time <= horizon);
            if due {
                let Reverse(record) = self.pending.pop().expect("peeked");
                match self.release(record) {
                    Some(record) => return Some(record),
                    None => continue,
                }
            }
            if !self.advance() && self.pending.is_empty() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        let s: Shard = "1/3".parse().unwrap();
        assert!(s.owns(4) && !s.owns(3));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
