//! Property tests of the session semantics. Each names its invariant.

use proptest::prelude::*;
use std::collections::BTreeSet;
use watchload_model::testkit::event;
use watchload_model::{sessionize, EventType, SessionRules, TruthBuilder, WatchEvent};

const EVENT_TYPES: [EventType; 6] = [
    EventType::Start,
    EventType::Play,
    EventType::Pause,
    EventType::Seek,
    EventType::Heartbeat,
    EventType::Stop,
];

fn rules() -> SessionRules {
    SessionRules {
        session_gap_ms: 1_000,
        max_step_ms: 200,
        allowed_lateness_ms: 500,
        lateness_margin_ms: 10,
    }
}

/// Events of up to three users on up to two devices each, with gaps that
/// are often near the session gap, so sessions split and merge.
fn events() -> impl Strategy<Value = Vec<WatchEvent>> {
    let one = (0u8..3, 0u8..2, 0u8..3, 0usize..6, 0i64..400);
    prop::collection::vec(one, 1..60).prop_map(|raw| {
        let mut time = 0;
        raw.into_iter()
            .enumerate()
            .map(|(i, (user, device, playback, kind, step))| {
                // Every fifth step is long, so sessions split.
                time += if i % 5 == 4 { step * 5 } else { step };
                let user_id = format!("u{user}");
                let device_id = format!("{user_id}-d{device}");
                let playback_id = format!("{device_id}-p{playback}");
                let mut e = event(
                    &user_id,
                    &device_id,
                    &playback_id,
                    i as u32,
                    EVENT_TYPES[kind],
                    time,
                );
                e.event_id = format!("e{i}");
                e
            })
            .collect()
    })
}

proptest! {
    /// Invariant: input order and duplicates do not change the sessions.
    #[test]
    fn order_and_duplicates_change_nothing(
        events in events(),
        seed in any::<u64>(),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let expected = sessionize(&events, &rules());
        let mut shuffled = events.clone();
        for d in &dups {
            shuffled.push(d.get(&events).clone());
        }
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(sessionize(&shuffled, &rules()), expected);
    }

    /// Invariant: every event is in exactly one session of its user, and the
    /// event counts add up to the number of distinct events.
    #[test]
    fn every_event_in_exactly_one_session(events in events()) {
        let sessions = sessionize(&events, &rules());
        let total: u64 = sessions.iter().map(|s| s.event_count).sum();
        prop_assert_eq!(total, events.len() as u64);
        for e in &events {
            let holding = sessions
                .iter()
                .filter(|s| s.user_id == e.user_id)
                .filter(|s| s.session_start <= e.event_time && e.event_time <= s.session_end)
                .count();
            prop_assert_eq!(holding, 1, "event {} in {} sessions", e.event_id, holding);
        }
    }

    /// Invariant: no two sessions of a user are within the session gap, and
    /// a user's sessions come in time order.
    #[test]
    fn sessions_of_a_user_are_further_apart_than_the_gap(events in events()) {
        let sessions = sessionize(&events, &rules());
        for pair in sessions.windows(2) {
            if pair[0].user_id == pair[1].user_id {
                prop_assert!(pair[1].session_start - pair[0].session_end > rules().session_gap_ms);
            }
        }
    }

    /// Invariant: watch time never exceeds the session's span, and the
    /// device breakdown adds up to the session's watch time.
    #[test]
    fn watch_time_is_bounded_and_adds_up(events in events()) {
        for s in sessionize(&events, &rules()) {
            let per_device: u64 = s.devices.iter().map(|d| d.watch_ms).sum();
            prop_assert_eq!(per_device, s.watch_ms);
            let span = (s.session_end - s.session_start) as u64;
            prop_assert!(s.watch_ms <= span * u64::from(s.playbacks.max(1)));
        }
    }

    /// Invariant: truth built from records in any order equals `sessionize`
    /// of exactly the events it kept, and kept + expired + duplicate
    /// accounts for every record.
    #[test]
    fn truth_is_sessionize_of_kept_events(
        events in events(),
        swaps in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
            0..20,
        ),
    ) {
        let mut order = events.clone();
        for (a, b) in &swaps {
            let (i, j) = (a.index(order.len()), b.index(order.len()));
            order.swap(i, j);
        }
        let mut builder = TruthBuilder::new(rules());
        let mut kept = Vec::new();
        let mut ids = BTreeSet::new();
        let mut truth = Vec::new();
        for e in &order {
            let verdict = builder.admit(0, e, true, &[]);
            match verdict.admission {
                watchload_model::Admission::Kept | watchload_model::Admission::Ambiguous => {
                    kept.push(e.clone());
                    prop_assert!(ids.insert(e.event_id.clone()));
                }
                watchload_model::Admission::Expired => {
                    prop_assert!(verdict.lateness_ms > rules().allowed_lateness_ms)
                }
                watchload_model::Admission::Duplicate => {}
            }
            truth.extend(builder.drain_closed());
        }
        truth.extend(builder.finish());
        truth.sort_by_key(|t| t.session.key());
        let mut expected = sessionize(&kept, &rules());
        expected.sort_by_key(|s| s.key());
        let sessions: Vec<_> = truth.into_iter().map(|t| t.session).collect();
        prop_assert_eq!(sessions, expected);
    }
}
