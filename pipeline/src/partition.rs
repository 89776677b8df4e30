//! The state of one input partition: stream time, the users with open
//! state, and the deadlines at which the watermark must look at them.

use crate::checkpoint::Checkpoint;
use crate::output::Output;
use crate::stats::Stats;
use crate::user::{Origin, Timing, UserState};
use std::collections::{BTreeSet, HashMap};
use watchload_model::WatchEvent;

/// How admission behaves; all fields but `timing` are defect switches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Effective rules and horizon.
    pub timing: Timing,
    /// Defect `drop-late`: any lateness above zero drops the event.
    pub drop_out_of_order: bool,
    /// Defect `lose-state-on-restart`: checkpoints carry no state.
    pub forget_state: bool,
}

/// One input partition's state.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    /// Largest `event_time` of any valid record read: the watermark.
    stream_time: Option<i64>,
    /// Offset after the last record read.
    next_offset: Option<i64>,
    /// Open state per session key group (the user).
    users: HashMap<String, UserState>,
    /// `(deadline, user)`: look at the user once stream time passes it.
    deadlines: BTreeSet<(i64, String)>,
    /// Pending replay after a restart.
    replay: Option<Checkpoint>,
    /// `next_offset` at the last flush, if nothing was read since.
    flushed_at: Option<i64>,
}

impl PartitionState {
    /// State resumed from a checkpoint: replays from `checkpoint.offset`.
    pub fn resumed(checkpoint: Checkpoint) -> Self {
        PartitionState {
            stream_time: checkpoint.stream_time,
            replay: (checkpoint.resume_offset > checkpoint.offset || checkpoint.flushed)
                .then_some(checkpoint),
            ..PartitionState::default()
        }
    }

    /// Whether outputs of the record at `offset` must be suppressed because
    /// they were written before the restart. Ends the replay at its
    /// resume offset, re-marking flushed sessions as emitted.
    pub fn replaying(&mut self, offset: i64) -> bool {
        let Some(checkpoint) = self.replay else {
            return false;
        };
        if offset < checkpoint.resume_offset {
            return true;
        }
        self.replay = None;
        if checkpoint.flushed {
            self.flush(&mut Vec::new());
        }
        false
    }

    /// Stream time: the watermark of this partition.
    pub fn stream_time(&self) -> Option<i64> {
        self.stream_time
    }

    /// Notes that the record at `offset` was read (valid or not).
    pub fn saw_offset(&mut self, offset: i64) {
        self.next_offset = Some(self.next_offset.unwrap_or(offset).max(offset + 1));
        self.flushed_at = None;
    }

    /// Handles one valid event of session key group `group`.
    pub fn on_event(
        &mut self,
        group: String,
        event: WatchEvent,
        offset: i64,
        policy: &Policy,
        stats: &mut Stats,
        out: &mut Vec<Output>,
    ) {
        let before = self.stream_time;
        let lateness = before.map_or(0, |st| (st - event.event_time).max(0));
        let now = before.map_or(event.event_time, |st| st.max(event.event_time));
        self.stream_time = Some(now);

        let rules = &policy.timing.rules;
        let duplicate = self
            .users
            .get(&group)
            .is_some_and(|u| u.contains(&event.event_id));
        let too_late =
            lateness > rules.allowed_lateness_ms || (policy.drop_out_of_order && lateness > 0);
        if duplicate {
            stats.duplicates += 1;
        } else if too_late {
            stats.late += 1;
        } else {
            stats.admitted += 1;
            let origin = Origin {
                offset,
                stream_time_before: before,
            };
            let user = self.users.entry(group.clone()).or_default();
            user.admit(event, origin, &policy.timing);
            self.settle(group, now, policy, out);
        }
        self.advance(now, policy, out);
    }

    /// Looks at every user whose deadline stream time `now` has passed.
    fn advance(&mut self, now: i64, policy: &Policy, out: &mut Vec<Output>) {
        while let Some((deadline, _)) = self.deadlines.first() {
            if *deadline >= now {
                break;
            }
            let (_, group) = self.deadlines.pop_first().expect("checked non-empty");
            if let Some(user) = self.users.get_mut(&group) {
                user.deadline = None;
            }
            self.settle(group, now, policy, out);
        }
    }

    /// Reconciles one user's outputs, evicts it when empty, or files its
    /// next deadline.
    fn settle(&mut self, group: String, now: i64, policy: &Policy, out: &mut Vec<Output>) {
        let Some(user) = self.users.get_mut(&group) else {
            return;
        };
        user.reconcile(now, &policy.timing, out);
        if let Some(old) = user.deadline.take() {
            self.deadlines.remove(&(old, group.clone()));
        }
        if user.is_empty() {
            self.users.remove(&group);
            return;
        }
        user.deadline = user.next_deadline(&policy.timing);
        if let Some(deadline) = user.deadline {
            self.deadlines.insert((deadline, group));
        }
    }

    /// Emits every open session not emitted in its current version. Users'
    /// deadlines may now be early, which is harmless: looking at a user is
    /// idempotent.
    pub fn flush(&mut self, out: &mut Vec<Output>) {
        let mut names: Vec<String> = self.users.keys().cloned().collect();
        names.sort();
        for name in names {
            if let Some(user) = self.users.get_mut(&name) {
                user.flush(out);
            }
        }
        self.flushed_at = self.next_offset;
    }

    /// Where a restart must resume this partition; `None` before any record.
    pub fn checkpoint(&self, policy: &Policy) -> Option<Checkpoint> {
        if let Some(replay) = self.replay {
            return Some(replay);
        }
        let next = self.next_offset?;
        if policy.forget_state {
            return Some(Checkpoint::fresh(next));
        }
        let oldest = self
            .users
            .values()
            .filter_map(UserState::oldest_origin)
            .min_by_key(|o| o.offset);
        let (offset, stream_time) = match oldest {
            Some(origin) => (origin.offset, origin.stream_time_before),
            None => (next, self.stream_time),
        };
        Some(Checkpoint {
            offset,
            stream_time,
            resume_offset: next,
            flushed: self.flushed_at == Some(next),
        })
    }

    /// Users with open state.
    pub fn open_users(&self) -> usize {
        self.users.len()
    }

    /// Events buffered over all users.
    pub fn buffered_events(&self) -> usize {
        self.users.values().map(UserState::len).sum()
    }
}
