//! The watch session: what a pipeline must produce.

use crate::event::DeviceType;
use serde::{Deserialize, Serialize};

/// One user's watch session across all devices.
///
/// Lists are sorted (`content_ids` lexicographically, `devices` by
/// `device_id`) so that two equal sessions serialize to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSession {
    /// The account the session belongs to.
    pub user_id: String,
    /// `event_time` of the first event in the session (epoch ms).
    pub session_start: i64,
    /// `event_time` of the last event in the session (epoch ms, inclusive).
    pub session_end: i64,
    /// Number of distinct events (by `event_id`) in the session.
    pub event_count: u64,
    /// Number of distinct `playback_id`s with at least one event in the session.
    pub playbacks: u32,
    /// Distinct `content_id`s played in the session, sorted.
    pub content_ids: Vec<String>,
    /// Total playing time in the session, milliseconds.
    pub watch_ms: u64,
    /// Playbacks (ordered by their first event) whose device differs from the
    /// previous playback's device.
    pub device_switches: u32,
    /// Per-device breakdown, sorted by `device_id`.
    pub devices: Vec<DeviceBreakdown>,
}

/// One device's share of a watch session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceBreakdown {
    pub device_id: String,
    pub device_type: DeviceType,
    /// `event_time` of the device's first event in the session.
    pub first_event_time: i64,
    /// `event_time` of the device's last event in the session.
    pub last_event_time: i64,
    /// Playing time of the device's playbacks in the session.
    pub watch_ms: u64,
}

impl WatchSession {
    /// The key that identifies a truth session: `user_id` and start.
    pub fn key(&self) -> String {
        format!("{}@{}", self.user_id, self.session_start)
    }

    /// Whether this session's span, widened by `margin_ms` on both sides,
    /// overlaps `[start, end]`.
    pub fn overlaps(&self, start: i64, end: i64, margin_ms: i64) -> bool {
        self.session_start - margin_ms <= end && start <= self.session_end + margin_ms
    }
}
