//! The watch event: one JSON object per Kafka record, keyed by `user_id`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The only schema version this model defines.
pub const SCHEMA_VERSION: u32 = 1;

/// The kind of device a player runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Phone,
    Tv,
    Laptop,
}

impl DeviceType {
    /// All device types, in a fixed order.
    pub const ALL: [DeviceType; 3] = [DeviceType::Phone, DeviceType::Tv, DeviceType::Laptop];

    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Phone => "phone",
            DeviceType::Tv => "tv",
            DeviceType::Laptop => "laptop",
        }
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened in the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A title started on a device; mints a new `playback_id`. Playing after it.
    Start,
    /// Playback resumed. Playing after it.
    Play,
    /// Playback paused. Not playing after it; players send nothing while paused.
    Pause,
    /// The playhead jumped; the playing state does not change.
    Seek,
    /// Periodic progress report, sent only while playing; state unchanged.
    Heartbeat,
    /// The playback ended (explicit exit or end of title). Not playing after it.
    Stop,
}

impl EventType {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "start",
            EventType::Play => "play",
            EventType::Pause => "pause",
            EventType::Seek => "seek",
            EventType::Heartbeat => "heartbeat",
            EventType::Stop => "stop",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One playback event as a player sends it.
///
/// Field order here is the field order on the wire. Harness bookkeeping (run
/// id, intended send time, fault labels) never goes in here: it travels in
/// Kafka headers or side files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEvent {
    /// Unique per emitted event; a retry or duplicate keeps the same id.
    pub event_id: String,
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The account; the Kafka record key.
    pub user_id: String,
    /// The physical device the player runs on.
    pub device_id: String,
    /// The kind of device.
    pub device_type: DeviceType,
    /// Minted by the player when a title starts on a device.
    pub playback_id: String,
    /// The title being played.
    pub content_id: String,
    /// What happened.
    pub event_type: EventType,
    /// Playhead position in milliseconds from the start of the title.
    pub position_ms: u64,
    /// Per playback, from 0, incremented by one for every event the player emits.
    pub seq: u32,
    /// Epoch milliseconds from the device's own clock, which may be skewed.
    pub event_time: i64,
}

impl WatchEvent {
    /// The total order used wherever events of one user are sorted by time:
    /// `event_time`, then `event_id` to break ties.
    pub fn time_key(&self) -> (i64, &str) {
        (self.event_time, self.event_id.as_str())
    }
}
