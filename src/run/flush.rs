//! End-of-stream flush records.
//!
//! A gap-based pipeline closes a session only when stream time on the
//! user's partition passes the session's end plus the gap (plus its grace),
//! so the last sessions of a finite run would stay open for ever. After the
//! last event, `watchload run` writes one flush record to every partition
//! of the events topic: a valid event of the reserved user [`FLUSH_USER`],
//! far enough in event time to close everything:
//!
//! `event_time = last event_time + session_gap + allowed_lateness +
//! lateness_margin + 1 min`.
//!
//! Truth and the verifier ignore the reserved user: its records never
//! enter truth, and its sessions (if a pipeline emits any) are dropped from
//! the output before matching. Lag uses flush records like any other record
//! that advances stream time. `docs/run.md` documents this for pipeline
//! authors.

use watchload_model::{DeviceType, EventType, SessionRules, WatchEvent, SCHEMA_VERSION};

/// The reserved user of flush records; no generated user has this id.
pub const FLUSH_USER: &str = "__watchload_flush__";

/// Slack added past the last moment a session can still change.
pub const FLUSH_MARGIN_MS: i64 = 60_000;

/// The event time of the flush records after a stream whose largest event
/// time was `last_event_time`.
pub fn flush_event_time(last_event_time: i64, rules: &SessionRules) -> i64 {
    last_event_time
        + rules.session_gap_ms
        + rules.allowed_lateness_ms
        + rules.lateness_margin_ms
        + FLUSH_MARGIN_MS
}

/// The flush record for `partition`: a `stop` of the reserved user, so it
/// adds no playing time and its `event_id` is unique per partition.
pub fn flush_event(partition: i32, event_time: i64) -> WatchEvent {
    WatchEvent {
        event_id: format!("{FLUSH_USER}-{partition}"),
        schema_version: SCHEMA_VERSION,
        user_id: FLUSH_USER.to_string(),
        device_id: FLUSH_USER.to_string(),
        device_type: DeviceType::Laptop,
        playback_id: format!("{FLUSH_USER}-{partition}"),
        content_id: FLUSH_USER.to_string(),
        event_type: EventType::Stop,
        position_ms: 0,
        seq: 0,
        event_time,
    }
}

/// Whether a record key or user id belongs to the reserved user.
pub fn is_flush_user(user_id: &str) -> bool {
    user_id == FLUSH_USER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flush_time_is_past_every_close_deadline() {
        let rules = SessionRules::default();
        let last = 1_700_000_000_000;
        let t = flush_event_time(last, &rules);
        // TruthBuilder closes a user once stream time passes
        // last + gap + lateness + margin; a pipeline closes at last + gap.
        let deadline =
            last + rules.session_gap_ms + rules.allowed_lateness_ms + rules.lateness_margin_ms;
        assert!(t > deadline);
    }

    #[test]
    fn flush_records_are_valid_events_unique_per_partition() {
        let a = flush_event(0, 5);
        let b = flush_event(1, 5);
        assert_ne!(a.event_id, b.event_id);
        let text = serde_json::to_string(&a).unwrap();
        let back: WatchEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        assert!(is_flush_user(&back.user_id));
    }
}
