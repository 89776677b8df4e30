//! The state of one user (one session key group) on one partition: its
//! buffered events, its current sessions, and what was emitted for them.

use crate::output::{Output, SessionRecord};
use std::collections::{BTreeMap, HashSet};
use watchload_model::{sessionize, SessionRules, WatchEvent, WatchSession};

/// Where a buffered event came from: what a checkpoint needs to replay it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// Input offset of the record.
    pub offset: i64,
    /// Stream time of the partition just before the record.
    pub stream_time_before: Option<i64>,
}

/// Timing parameters derived from the effective rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Rules handed to [`sessionize`].
    pub rules: SessionRules,
    /// `session_gap + allowed_lateness + lateness_margin`: once stream time
    /// is past a session's end plus this, no admissible event can change it.
    pub horizon_ms: i64,
}

/// One user's open state on one partition.
#[derive(Debug, Default)]
pub(crate) struct UserState {
    /// Admitted, distinct events sorted by (`event_time`, `event_id`).
    events: Vec<WatchEvent>,
    /// `origins[i]` is where `events[i]` came from.
    origins: Vec<Origin>,
    /// `event_id`s of `events`: the de-duplication state.
    ids: HashSet<String>,
    /// Sessions of `events`, by `session_start`.
    current: BTreeMap<i64, WatchSession>,
    /// Last version emitted per session key and not since removed.
    emitted: BTreeMap<String, WatchSession>,
    /// This user's entry in the partition's deadline set.
    pub deadline: Option<i64>,
}

impl UserState {
    /// Whether an event with this id is in state.
    pub fn contains(&self, event_id: &str) -> bool {
        self.ids.contains(event_id)
    }

    /// Whether the user holds no event any more.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Number of events buffered.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// The buffered event with the smallest input offset.
    pub fn oldest_origin(&self) -> Option<Origin> {
        self.origins.iter().min_by_key(|o| o.offset).copied()
    }

    /// Adds a new, distinct event and rebuilds the session it falls in.
    pub fn admit(&mut self, event: WatchEvent, origin: Origin, timing: &Timing) {
        let gap = timing.rules.session_gap_ms;
        let at = self
            .events
            .partition_point(|e| e.time_key() < event.time_key());
        self.ids.insert(event.event_id.clone());
        self.events.insert(at, event);
        self.origins.insert(at, origin);

        let mut first = at;
        while first > 0 && self.events[first].event_time - self.events[first - 1].event_time <= gap
        {
            first -= 1;
        }
        let mut end = at + 1;
        while end < self.events.len()
            && self.events[end].event_time - self.events[end - 1].event_time <= gap
        {
            end += 1;
        }

        let span = self.events[first].event_time..=self.events[end - 1].event_time;
        self.current.retain(|start, _| !span.contains(start));
        for session in sessionize(&self.events[first..end], &timing.rules) {
            self.current.insert(session.session_start, session);
        }
    }

    /// Brings the emitted changelog in line with the current sessions at
    /// stream time `now`, then forgets sessions no admissible event can
    /// change any more.
    ///
    /// Keys that disappeared get a tombstone; a session already emitted is
    /// re-emitted as soon as it changes; a session never emitted is emitted
    /// once the watermark closes it (`now > session_end + session_gap`).
    pub fn reconcile(&mut self, now: i64, timing: &Timing, out: &mut Vec<Output>) {
        let gap = timing.rules.session_gap_ms;
        let live: HashSet<String> = self.current.values().map(WatchSession::key).collect();
        let gone: Vec<String> = self
            .emitted
            .keys()
            .filter(|key| !live.contains(*key))
            .cloned()
            .collect();
        for session_id in gone {
            self.emitted.remove(&session_id);
            out.push(Output::Tombstone { session_id });
        }

        for session in self.current.values() {
            let key = session.key();
            let emit = match self.emitted.get(&key) {
                Some(previous) => previous != session,
                None => now > session.session_end + gap,
            };
            if emit {
                self.emitted.insert(key.clone(), session.clone());
                out.push(upsert(key, session));
            }
        }

        self.prune(now, timing);
    }

    /// Emits every session whose current version was not emitted yet,
    /// closed or not: the end of the stream.
    pub fn flush(&mut self, out: &mut Vec<Output>) {
        for session in self.current.values() {
            let key = session.key();
            if self.emitted.get(&key) != Some(session) {
                self.emitted.insert(key.clone(), session.clone());
                out.push(upsert(key, session));
            }
        }
    }

    /// The stream time past which this user needs [`reconcile`] again: the
    /// earliest close of a session not yet emitted, or the earliest point
    /// where a session becomes final. `None` when the user is empty.
    ///
    /// [`reconcile`]: UserState::reconcile
    pub fn next_deadline(&self, timing: &Timing) -> Option<i64> {
        let final_at = self
            .current
            .values()
            .next()
            .map(|s| s.session_end + timing.horizon_ms);
        let close_at = self
            .current
            .values()
            .find(|s| !self.emitted.contains_key(&s.key()))
            .map(|s| s.session_end + timing.rules.session_gap_ms);
        match (final_at, close_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops the sessions (and their events and ids) that stream time `now`
    /// has made final. They were emitted before: `reconcile` runs first.
    fn prune(&mut self, now: i64, timing: &Timing) {
        let mut last_final_end = None;
        while let Some(entry) = self.current.first_entry() {
            if now <= entry.get().session_end + timing.horizon_ms {
                break;
            }
            let session = entry.remove();
            self.emitted.remove(&session.key());
            last_final_end = Some(session.session_end);
        }
        let Some(end) = last_final_end else {
            return;
        };
        let cut = self.events.partition_point(|e| e.event_time <= end);
        for event in self.events.drain(..cut) {
            self.ids.remove(&event.event_id);
        }
        self.origins.drain(..cut);
    }
}

fn upsert(session_id: String, session: &WatchSession) -> Output {
    Output::Upsert(SessionRecord {
        session_id,
        session: session.clone(),
    })
}
