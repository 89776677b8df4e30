//! Truth from what really landed: a streaming builder that admits records
//! in partition order, decides which events a correct pipeline must use, and
//! turns them into truth sessions with [`sessionize`](crate::sessionize).
//!
//! Lateness is measured against stream time: the largest `event_time` seen
//! before the record in the same partition (for file output, one partition in
//! output order). The first copy of an `event_id` decides its fate:
//!
//! | lateness (L = allowed, m = margin) | delivery known | admission |
//! |---|---|---|
//! | `<= L - m`                         | yes            | kept      |
//! | `> L + m`                          | any            | expired   |
//! | otherwise, or delivery unknown     |                | ambiguous |
//!
//! Later copies are duplicates. Sessions are built per user once no
//! admissible event can change them any more (stream time of the user's
//! partition is past the user's last event + gap + L + m), twice: with and
//! without the ambiguous events. A session that differs between the two is
//! *tolerated*: a verifier accepts either variant and never counts it as an
//! error.

use crate::event::WatchEvent;
use crate::rules::SessionRules;
use crate::session::WatchSession;
use crate::sessionize::sessionize;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

/// How many labelled events a truth session keeps as samples.
pub const FAULT_SAMPLES: usize = 8;

/// What truth does with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Admission {
    /// In truth.
    Kept,
    /// A later copy of an `event_id` already admitted; changes nothing.
    Duplicate,
    /// Too late: a correct pipeline may drop it, so truth leaves it out.
    Expired,
    /// Near the lateness bound, or delivery unknown: sessions it touches are
    /// tolerated.
    Ambiguous,
}

impl Admission {
    /// Lowercase name used in reports and side files.
    pub fn as_str(self) -> &'static str {
        match self {
            Admission::Kept => "kept",
            Admission::Duplicate => "duplicate",
            Admission::Expired => "expired",
            Admission::Ambiguous => "ambiguous",
        }
    }
}

/// The verdict on one admitted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub admission: Admission,
    /// Stream time before the record minus its `event_time`, at least 0.
    pub lateness_ms: i64,
}

/// An event with fault labels, kept as evidence for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSample {
    pub event_id: String,
    pub event_time: i64,
    pub admission: Admission,
    pub lateness_ms: i64,
    pub labels: Vec<String>,
}

/// A session a correct pipeline must produce, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSession {
    /// `user_id@session_start`.
    pub session_id: String,
    #[serde(flatten)]
    pub session: WatchSession,
    /// Touched by an ambiguous event: either variant is accepted.
    pub tolerated: bool,
    /// Number of events in the session carrying each fault label.
    pub fault_counts: BTreeMap<String, u64>,
    /// Up to [`FAULT_SAMPLES`] labelled events of the session.
    pub fault_samples: Vec<FaultSample>,
}

/// Events of a user that truth left out, for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Excluded {
    pub user_id: String,
    pub sample: FaultSample,
}

#[derive(Debug)]
struct Buffered {
    event: WatchEvent,
    ambiguous: bool,
    lateness_ms: i64,
    labels: Vec<String>,
}

#[derive(Debug, Default)]
struct UserState {
    partition: i32,
    last_time: i64,
    ids: HashSet<String>,
    events: Vec<Buffered>,
}

/// Streaming truth: feed records in partition order with [`admit`], collect
/// closed users' sessions with [`drain_closed`], the rest with [`finish`].
///
/// Memory is bounded by the users with events in the last gap + lateness of
/// stream time, not by the length of the stream.
///
/// [`admit`]: TruthBuilder::admit
/// [`drain_closed`]: TruthBuilder::drain_closed
/// [`finish`]: TruthBuilder::finish
#[derive(Debug)]
pub struct TruthBuilder {
    rules: SessionRules,
    stream_time: HashMap<i32, i64>,
    users: HashMap<String, UserState>,
    deadlines: HashMap<i32, BinaryHeap<Reverse<(i64, String)>>>,
    excluded: Vec<Excluded>,
}

impl TruthBuilder {
    pub fn new(rules: SessionRules) -> Self {
        TruthBuilder {
            rules,
            stream_time: HashMap::new(),
            users: HashMap::new(),
            deadlines: HashMap::new(),
            excluded: Vec::new(),
        }
    }

    /// The rules this builder applies.
    pub fn rules(&self) -> &SessionRules {
        &self.rules
    }

    /// Stream time of `partition`: the largest `event_time` admitted on it.
    pub fn stream_time(&self, partition: i32) -> Option<i64> {
        self.stream_time.get(&partition).copied()
    }

    /// Admits the next valid record of `partition`. `delivered_known` is false
    /// for a record whose delivery outcome is unknown (it is then at best
    /// ambiguous). `labels` are the fault labels of the record.
    pub fn admit(
        &mut self,
        partition: i32,
        event: &WatchEvent,
        delivered_known: bool,
        labels: &[String],
    ) -> Verdict {
        let rules = self.rules;
        let stream_time = self
            .stream_time
            .entry(partition)
            .or_insert(event.event_time);
        let lateness_ms = (*stream_time - event.event_time).max(0);
        *stream_time = (*stream_time).max(event.event_time);

        let expired = lateness_ms > rules.allowed_lateness_ms + rules.lateness_margin_ms;
        let near = lateness_ms > rules.allowed_lateness_ms - rules.lateness_margin_ms;
        let already = self
            .users
            .get(&event.user_id)
            .is_some_and(|u| u.ids.contains(&event.event_id));
        let admission = if already {
            Admission::Duplicate
        } else if expired {
            Admission::Expired
        } else if near || !delivered_known {
            Admission::Ambiguous
        } else {
            Admission::Kept
        };

        match admission {
            Admission::Duplicate => self.note_copy(event, labels),
            Admission::Expired => self.excluded.push(Excluded {
                user_id: event.user_id.clone(),
                sample: sample(event, admission, lateness_ms, labels),
            }),
            Admission::Kept | Admission::Ambiguous => {
                self.buffer(partition, event, admission, lateness_ms, labels)
            }
        }
        Verdict {
            admission,
            lateness_ms,
        }
    }

    /// A retry copy's labels (`duplicate`) go on the buffered event it
    /// repeats, so the session built from it names the retry as evidence:
    /// a pipeline that counts the copy is wrong because of it. The session
    /// itself does not change.
    fn note_copy(&mut self, event: &WatchEvent, labels: &[String]) {
        let Some(user) = self.users.get_mut(&event.user_id) else {
            return;
        };
        let original = user
            .events
            .iter_mut()
            .rev()
            .find(|b| b.event.event_id == event.event_id);
        if let Some(original) = original {
            for label in labels {
                if !original.labels.contains(label) {
                    original.labels.push(label.clone());
                }
            }
        }
    }

    fn buffer(
        &mut self,
        partition: i32,
        event: &WatchEvent,
        admission: Admission,
        lateness_ms: i64,
        labels: &[String],
    ) {
        let user = self
            .users
            .entry(event.user_id.clone())
            .or_insert_with(|| UserState {
                partition,
                last_time: i64::MIN,
                ..UserState::default()
            });
        user.ids.insert(event.event_id.clone());
        user.events.push(Buffered {
            event: event.clone(),
            ambiguous: admission == Admission::Ambiguous,
            lateness_ms,
            labels: labels.to_vec(),
        });
        if event.event_time > user.last_time {
            user.last_time = event.event_time;
            let deadline = event.event_time + gap_and_lateness(&self.rules);
            self.deadlines
                .entry(user.partition)
                .or_default()
                .push(Reverse((deadline, event.user_id.clone())));
        }
    }

    /// Truth sessions of users that no further record can change, sorted by
    /// `user_id` then start.
    pub fn drain_closed(&mut self) -> Vec<TruthSession> {
        let mut closed = Vec::new();
        for (partition, heap) in self.deadlines.iter_mut() {
            let Some(&now) = self.stream_time.get(partition) else {
                continue;
            };
            while let Some(Reverse((deadline, _))) = heap.peek() {
                if *deadline >= now {
                    break;
                }
                let Reverse((deadline, user_id)) = heap.pop().expect("peeked");
                let current = self.users.get(&user_id).map(|u| u.last_time);
                if current.is_some_and(|last| last + gap_and_lateness(&self.rules) == deadline) {
                    closed.push(user_id);
                }
            }
        }
        closed.sort();
        closed.dedup();
        let mut sessions = Vec::new();
        for user_id in closed {
            if let Some(state) = self.users.remove(&user_id) {
                sessions.extend(build_truth(state, &self.rules));
            }
        }
        sessions
    }

    /// Events left out of truth since the last call (expired ones).
    pub fn drain_excluded(&mut self) -> Vec<Excluded> {
        std::mem::take(&mut self.excluded)
    }

    /// Number of users whose sessions are still open.
    pub fn open_users(&self) -> usize {
        self.users.len()
    }

    /// Closes every user: the end of the stream.
    pub fn finish(mut self) -> Vec<TruthSession> {
        let mut users: Vec<(String, UserState)> = self.users.drain().collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        users
            .into_iter()
            .flat_map(|(_, state)| build_truth(state, &self.rules))
            .collect()
    }
}

/// How far stream time must pass a user's last event before no admissible
/// event can join its session any more.
fn gap_and_lateness(r: &SessionRules) -> i64 {
    r.session_gap_ms + r.allowed_lateness_ms + r.lateness_margin_ms
}

fn sample(
    event: &WatchEvent,
    admission: Admission,
    lateness_ms: i64,
    labels: &[String],
) -> FaultSample {
    FaultSample {
        event_id: event.event_id.clone(),
        event_time: event.event_time,
        admission,
        lateness_ms,
        labels: labels.to_vec(),
    }
}

/// Builds the truth sessions of one user's buffered events.
fn build_truth(state: UserState, rules: &SessionRules) -> Vec<TruthSession> {
    let all: Vec<WatchEvent> = state.events.iter().map(|b| b.event.clone()).collect();
    let primary = sessionize(&all, rules);
    let any_ambiguous = state.events.iter().any(|b| b.ambiguous);
    let certain: Vec<WatchSession> = if any_ambiguous {
        let kept: Vec<WatchEvent> = state
            .events
            .iter()
            .filter(|b| !b.ambiguous)
            .map(|b| b.event.clone())
            .collect();
        sessionize(&kept, rules)
    } else {
        Vec::new()
    };

    let mut evidence = state.events;
    evidence.sort_by(|a, b| a.event.time_key().cmp(&b.event.time_key()));
    primary
        .into_iter()
        .map(|session| {
            let tolerated = any_ambiguous && !certain.contains(&session);
            let mut fault_counts = BTreeMap::new();
            let mut fault_samples = Vec::new();
            let inside = evidence.iter().filter(|b| {
                b.event.event_time >= session.session_start
                    && b.event.event_time <= session.session_end
            });
            for b in inside {
                if b.labels.is_empty() && !b.ambiguous {
                    continue;
                }
                for label in &b.labels {
                    *fault_counts.entry(label.clone()).or_insert(0) += 1;
                }
                if fault_samples.len() < FAULT_SAMPLES {
                    let admission = if b.ambiguous {
                        Admission::Ambiguous
                    } else {
                        Admission::Kept
                    };
                    fault_samples.push(sample(&b.event, admission, b.lateness_ms, &b.labels));
                }
            }
            TruthSession {
                session_id: session.key(),
                session,
                tolerated,
                fault_counts,
                fault_samples,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType::*;
    use crate::testkit::event;

    fn rules() -> SessionRules {
        SessionRules {
            session_gap_ms: 1_000,
            max_step_ms: 200,
            allowed_lateness_ms: 500,
            lateness_margin_ms: 10,
        }
    }

    fn admit_all(b: &mut TruthBuilder, events: &[WatchEvent]) -> Vec<Admission> {
        events
            .iter()
            .map(|e| b.admit(0, e, true, &["jitter".to_string()]).admission)
            .collect()
    }

    #[test]
    fn lateness_decides_kept_ambiguous_expired() {
        let mut b = TruthBuilder::new(rules());
        let events = [
            event("a", "d", "p", 0, Start, 10_000),
            event("a", "d", "p", 1, Heartbeat, 9_510), // lateness 490: kept
            event("a", "d", "p", 2, Heartbeat, 9_500), // 500: ambiguous
            event("a", "d", "p", 3, Heartbeat, 9_489), // 511: expired
            event("a", "d", "p", 1, Heartbeat, 9_510), // same id again
        ];
        let got = admit_all(&mut b, &events);
        use Admission::*;
        assert_eq!(got, vec![Kept, Kept, Ambiguous, Expired, Duplicate]);
        assert_eq!(b.drain_excluded().len(), 1);
        let truth = b.finish();
        assert_eq!(truth.len(), 1);
        assert!(truth[0].tolerated);
        assert_eq!(truth[0].session.event_count, 3);
        assert_eq!(truth[0].fault_counts["jitter"], 3);
    }

    #[test]
    fn a_retry_copy_labels_the_event_it_repeats() {
        let mut b = TruthBuilder::new(rules());
        let original = event("a", "d", "p", 0, Start, 1_000);
        let copy_labels = ["duplicate".to_string()];
        assert_eq!(b.admit(0, &original, true, &[]).admission, Admission::Kept);
        let copy = b.admit(0, &original, true, &copy_labels);
        assert_eq!(copy.admission, Admission::Duplicate);
        let truth = b.finish();
        assert_eq!(truth.len(), 1);
        assert_eq!(truth[0].session.event_count, 1, "the copy is not counted");
        assert_eq!(truth[0].fault_counts["duplicate"], 1);
        assert_eq!(truth[0].fault_samples[0].labels, copy_labels);
    }

    #[test]
    fn unknown_delivery_makes_the_session_tolerated_only_where_it_lands() {
        let mut b = TruthBuilder::new(rules());
        b.admit(0, &event("a", "d", "p", 0, Start, 0), true, &[]);
        b.admit(0, &event("a", "d", "q", 0, Start, 5_000), false, &[]);
        let truth = b.finish();
        assert_eq!(truth.len(), 2);
        assert!(!truth[0].tolerated);
        assert!(truth[1].tolerated);
    }

    #[test]
    fn users_close_once_stream_time_passes_gap_and_lateness() {
        let mut b = TruthBuilder::new(rules());
        b.admit(0, &event("a", "d", "p", 0, Start, 0), true, &[]);
        b.admit(0, &event("b", "d", "q", 0, Start, 1_510), true, &[]);
        assert!(b.drain_closed().is_empty(), "deadline 1510 not yet passed");
        b.admit(0, &event("b", "d", "q", 1, Heartbeat, 1_511), true, &[]);
        let closed = b.drain_closed();
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].session.user_id, "a");
        assert_eq!(b.open_users(), 1);
    }

    #[test]
    fn stream_time_is_per_partition() {
        let mut b = TruthBuilder::new(rules());
        b.admit(0, &event("a", "d", "p", 0, Start, 100_000), true, &[]);
        let v = b.admit(1, &event("b", "d", "q", 0, Start, 0), true, &[]);
        assert_eq!(v.admission, Admission::Kept);
        assert_eq!(v.lateness_ms, 0);
    }
}
