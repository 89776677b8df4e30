//! The parameters of the session semantics.

use serde::{Deserialize, Serialize};

/// Parameters that define watch sessions. All durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRules {
    /// A new session starts when the gap to the previous event of the user is
    /// strictly greater than this. Default 30 minutes.
    pub session_gap_ms: i64,
    /// Each step of playing time between two consecutive events of one
    /// playback is capped at this, so a lost event cannot add hours.
    /// Default twice the heartbeat interval (20 s).
    pub max_step_ms: i64,
    /// An event later than this behind stream time may be dropped by a
    /// correct pipeline, so truth leaves it out. Default 5 minutes.
    pub allowed_lateness_ms: i64,
    /// Events whose lateness is within this margin of `allowed_lateness_ms`
    /// (either side) are ambiguous: sessions they touch are tolerated.
    /// Default 1 second.
    pub lateness_margin_ms: i64,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            session_gap_ms: 30 * 60 * 1000,
            max_step_ms: 20_000,
            allowed_lateness_ms: 5 * 60 * 1000,
            lateness_margin_ms: 1_000,
        }
    }
}

impl SessionRules {
    /// Problems with these rules, as human-readable sentences naming the field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.session_gap_ms <= 0 {
            out.push("session_gap must be positive".to_string());
        }
        if self.max_step_ms <= 0 {
            out.push("max_step must be positive".to_string());
        }
        if self.max_step_ms > self.session_gap_ms {
            out.push("max_step must not exceed session_gap".to_string());
        }
        if self.allowed_lateness_ms < 0 {
            out.push("allowed_lateness must not be negative".to_string());
        }
        if self.lateness_margin_ms < 0 {
            out.push("lateness_margin must not be negative".to_string());
        }
        out
    }
}
