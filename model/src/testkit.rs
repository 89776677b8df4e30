//! Small constructors for events, shared by this crate's tests and by other
//! crates' tests (behind the `testkit` module being public and tiny).

use crate::event::{DeviceType, EventType, WatchEvent, SCHEMA_VERSION};

/// Builds an event with the fields a test usually cares about; the rest
/// follow from them (`device_type` from the device id's suffix).
pub fn event(
    user: &str,
    device: &str,
    playback: &str,
    seq: u32,
    event_type: EventType,
    event_time: i64,
) -> WatchEvent {
    let device_type = if device.ends_with("tv") {
        DeviceType::Tv
    } else if device.ends_with("laptop") {
        DeviceType::Laptop
    } else {
        DeviceType::Phone
    };
    WatchEvent {
        event_id: format!("{playback}-{seq}"),
        schema_version: SCHEMA_VERSION,
        user_id: user.to_string(),
        device_id: device.to_string(),
        device_type,
        playback_id: playback.to_string(),
        content_id: format!("c-{}", playback.split('/').next().unwrap_or(playback)),
        event_type,
        position_ms: u64::from(seq) * 10_000,
        seq,
        event_time,
    }
}

/// A playback that starts at `start`, sends a heartbeat every `every_ms`
/// for `beats` beats, then stops one interval later.
pub fn playback(
    user: &str,
    device: &str,
    playback_id: &str,
    start: i64,
    beats: u32,
    every_ms: i64,
) -> Vec<WatchEvent> {
    let mut out = vec![event(user, device, playback_id, 0, EventType::Start, start)];
    for i in 1..=beats {
        out.push(event(
            user,
            device,
            playback_id,
            i,
            EventType::Heartbeat,
            start + i64::from(i) * every_ms,
        ));
    }
    let end = start + i64::from(beats + 1) * every_ms;
    out.push(event(
        user,
        device,
        playback_id,
        beats + 1,
        EventType::Stop,
        end,
    ));
    out
}
