//! The session semantics, as one pure function from events to sessions.

use crate::event::{EventType, WatchEvent};
use crate::rules::SessionRules;
use crate::session::{DeviceBreakdown, WatchSession};
use std::collections::{BTreeMap, BTreeSet};

/// Turns the admitted events of any number of users into watch sessions.
///
/// `events` are the de-duplicated or not, non-expired events in any order:
/// duplicates (same `event_id`) are dropped here, keeping the first copy, and
/// the result does not depend on input order. Sessions are returned sorted by
/// `user_id`, then `session_start`.
///
/// The rules, as `docs/model.md` states them:
/// - per user, across devices, events ordered by (`event_time`, `event_id`);
/// - a new session starts when the gap to the previous event is strictly
///   greater than `session_gap_ms` (an equal gap stays in the session);
/// - playing time accrues per playback between consecutive events of that
///   playback in the session, ordered by (`seq`, `event_time`, `event_id`),
///   while the player is playing, each step capped at `max_step_ms`.
pub fn sessionize(events: &[WatchEvent], rules: &SessionRules) -> Vec<WatchSession> {
    let mut by_user: BTreeMap<&str, Vec<&WatchEvent>> = BTreeMap::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for event in events {
        if seen.insert(event.event_id.as_str()) {
            by_user
                .entry(event.user_id.as_str())
                .or_default()
                .push(event);
        }
    }

    let mut sessions = Vec::new();
    for (_, mut user_events) in by_user {
        user_events.sort_by(|a, b| a.time_key().cmp(&b.time_key()));
        for group in split_by_gap(&user_events, rules.session_gap_ms) {
            sessions.push(build_session(group, rules));
        }
    }
    sessions
}

/// Splits time-ordered events where the gap is strictly greater than `gap_ms`.
pub fn split_by_gap<'a, 'e>(
    events: &'a [&'e WatchEvent],
    gap_ms: i64,
) -> Vec<&'a [&'e WatchEvent]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..events.len() {
        if events[i].event_time - events[i - 1].event_time > gap_ms {
            groups.push(&events[start..i]);
            start = i;
        }
    }
    if !events.is_empty() {
        groups.push(&events[start..]);
    }
    groups
}

/// Builds one session from the time-ordered, de-duplicated events of one user
/// that belong together.
fn build_session(events: &[&WatchEvent], rules: &SessionRules) -> WatchSession {
    let first = events[0];
    let last = events[events.len() - 1];

    // Playbacks in order of their first event; events of each in seq order.
    let mut playback_order: Vec<&str> = Vec::new();
    let mut by_playback: BTreeMap<&str, Vec<&WatchEvent>> = BTreeMap::new();
    for event in events {
        let entry = by_playback.entry(event.playback_id.as_str()).or_default();
        if entry.is_empty() {
            playback_order.push(event.playback_id.as_str());
        }
        entry.push(event);
    }

    let mut devices: BTreeMap<&str, DeviceBreakdown> = BTreeMap::new();
    for event in events {
        let device = devices
            .entry(event.device_id.as_str())
            .or_insert_with(|| DeviceBreakdown {
                device_id: event.device_id.clone(),
                device_type: event.device_type,
                first_event_time: event.event_time,
                last_event_time: event.event_time,
                watch_ms: 0,
            });
        device.first_event_time = device.first_event_time.min(event.event_time);
        device.last_event_time = device.last_event_time.max(event.event_time);
    }

    let mut watch_ms = 0;
    for playback in by_playback.values_mut() {
        playback.sort_by(|a, b| {
            (a.seq, a.event_time, a.event_id.as_str()).cmp(&(b.seq, b.event_time, &b.event_id))
        });
        let played = playing_time(playback, rules.max_step_ms);
        watch_ms += played;
        if let Some(device) = devices.get_mut(playback[0].device_id.as_str()) {
            device.watch_ms += played;
        }
    }

    let mut device_switches = 0;
    for pair in playback_order.windows(2) {
        let previous = &by_playback[pair[0]][0].device_id;
        let current = &by_playback[pair[1]][0].device_id;
        if previous != current {
            device_switches += 1;
        }
    }

    let content_ids: BTreeSet<&str> = events.iter().map(|e| e.content_id.as_str()).collect();
    WatchSession {
        user_id: first.user_id.clone(),
        session_start: first.event_time,
        session_end: last.event_time,
        event_count: events.len() as u64,
        playbacks: playback_order.len() as u32,
        content_ids: content_ids.into_iter().map(str::to_string).collect(),
        watch_ms,
        device_switches,
        devices: devices.into_values().collect(),
    }
}

/// Whether the player is playing after `event_type`, given whether it was
/// playing before.
pub fn playing_after(event_type: EventType, playing_before: bool) -> bool {
    match event_type {
        EventType::Start | EventType::Play => true,
        EventType::Pause | EventType::Stop => false,
        EventType::Seek | EventType::Heartbeat => playing_before,
    }
}

/// Playing time of one playback's events (within one session, in seq order).
///
/// The player is not playing before the first event seen. Each step from an
/// event after which the player is playing to the next event adds the time
/// between them, clamped to `[0, max_step_ms]`.
pub fn playing_time(events: &[&WatchEvent], max_step_ms: i64) -> u64 {
    let mut playing = false;
    let mut total = 0u64;
    for pair in events.windows(2) {
        playing = playing_after(pair[0].event_type, playing);
        if playing {
            let step = (pair[1].event_time - pair[0].event_time).clamp(0, max_step_ms);
            total += step as u64;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{event, playback};
    use EventType::*;

    const MIN: i64 = 60_000;

    fn rules() -> SessionRules {
        SessionRules::default()
    }

    #[test]
    fn handoff_from_phone_to_tv_is_one_session_with_a_switch() {
        let mut events = playback("u1", "u1-phone", "p1", 0, 30, 10_000);
        events.extend(playback("u1", "u1-tv", "p2", 320_000 + MIN, 30, 10_000));
        let sessions = sessionize(&events, &rules());
        assert_eq!(sessions.len(), 1);
        let s = &sessions[0];
        assert_eq!(s.playbacks, 2);
        assert_eq!(s.device_switches, 1);
        assert_eq!(s.devices.len(), 2);
        // Each playback plays from start to stop: 31 steps of 10 s.
        assert_eq!(s.watch_ms, 2 * 310_000);
        assert_eq!(s.devices[0].device_id, "u1-phone");
        assert_eq!(s.devices[0].watch_ms, 310_000);
    }

    #[test]
    fn gap_equal_to_limit_stays_and_one_more_millisecond_splits() {
        let gap = rules().session_gap_ms;
        let equal = vec![
            event("u", "d", "p", 0, Start, 0),
            event("u", "d", "p", 1, Stop, gap),
        ];
        assert_eq!(sessionize(&equal, &rules()).len(), 1);
        let over = vec![
            event("u", "d", "p", 0, Start, 0),
            event("u", "d", "p", 1, Stop, gap + 1),
        ];
        let sessions = sessionize(&over, &rules());
        assert_eq!(sessions.len(), 2);
        // The playback spans both sessions and counts in each.
        assert!(sessions.iter().all(|s| s.playbacks == 1));
    }

    #[test]
    fn pause_longer_than_gap_splits_and_pause_time_is_not_watched() {
        let events = vec![
            event("u", "d", "p", 0, Start, 0),
            event("u", "d", "p", 1, Heartbeat, 10_000),
            event("u", "d", "p", 2, Pause, 15_000),
            event("u", "d", "p", 3, Play, 15_000 + 45 * MIN),
            event("u", "d", "p", 4, Stop, 25_000 + 45 * MIN),
        ];
        let sessions = sessionize(&events, &rules());
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].watch_ms, 15_000);
        assert_eq!(sessions[1].watch_ms, 10_000);
    }

    #[test]
    fn duplicates_change_nothing() {
        let events = playback("u", "d", "p", 0, 5, 10_000);
        let mut doubled = events.clone();
        doubled.extend(events.iter().cloned());
        assert_eq!(
            sessionize(&events, &rules()),
            sessionize(&doubled, &rules())
        );
    }

    #[test]
    fn lost_heartbeat_step_is_capped() {
        let events = vec![
            event("u", "d", "p", 0, Start, 0),
            // seq 1..=100 lost: three hours of silence while playing.
            event("u", "d", "p", 101, Heartbeat, 25 * MIN),
        ];
        let s = &sessionize(&events, &rules())[0];
        assert_eq!(s.watch_ms, rules().max_step_ms as u64);
    }

    #[test]
    fn playback_first_seen_mid_way_accrues_only_after_play() {
        let events = vec![
            event("u", "d", "p", 7, Heartbeat, 0),
            event("u", "d", "p", 8, Heartbeat, 10_000),
            event("u", "d", "p", 9, Pause, 20_000),
            event("u", "d", "p", 10, Play, 30_000),
            event("u", "d", "p", 11, Stop, 35_000),
        ];
        assert_eq!(sessionize(&events, &rules())[0].watch_ms, 5_000);
    }

    #[test]
    fn skewed_clock_shifts_times_but_not_watch_time() {
        let skew = 4 * MIN;
        let mut events = playback("u", "u-laptop", "p", 0, 3, 10_000);
        for e in &mut events {
            e.event_time += skew;
        }
        let s = &sessionize(&events, &rules())[0];
        assert_eq!(s.session_start, skew);
        assert_eq!(s.watch_ms, 40_000);
    }

    #[test]
    fn concurrent_devices_count_both_playbacks() {
        let mut events = playback("u", "u-tv", "p1", 0, 6, 10_000);
        events.extend(playback("u", "u-phone", "p2", 5_000, 6, 10_000));
        let s = &sessionize(&events, &rules())[0];
        assert_eq!(s.watch_ms, 2 * 70_000);
        assert_eq!(s.device_switches, 1);
    }
}
