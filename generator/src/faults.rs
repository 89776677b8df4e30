//! Delivery faults: what happens to an event between the player and the
//! broker. Every decision comes from the user's fault stream, apart from the
//! behaviour stream, so changing a fault rate never changes what people
//! watch.

use crate::record::{Label, Labels, Payload, SimEvent, SimRecord};
use crate::rng::Rng;
use crate::scenario::Scenario;
use rand::Rng as _;
use std::fmt::Write;
use watchload_model::DeviceType;

/// One device of a user, with its clock and connectivity.
#[derive(Debug, Clone)]
pub struct Device {
    /// Kind of device (a user owns at most one of each).
    pub kind: DeviceType,
    /// Clock offset: `event_time = true time + skew_ms`.
    pub skew_ms: i64,
    /// Start of the current or last offline period (true time).
    pub offline_from: i64,
    /// End of that period: buffered events are uploaded at this time.
    pub offline_until: i64,
}

/// Where records go as the simulation produces them.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Next generation-order number.
    pub order: u64,
    /// Records produced since the engine last took them.
    pub records: Vec<SimRecord>,
}

impl Outbox {
    fn push(&mut self, send_time: i64, payload: Payload, labels: Labels) {
        self.records.push(SimRecord {
            send_time,
            order: self.order,
            payload,
            labels,
            holds: 0,
        });
        self.order += 1;
    }
}

/// The fault rates and parameters of a scenario.
#[derive(Debug, Clone, Default)]
pub struct FaultModel {
    jitter_rate: f64,
    jitter_max: i64,
    duplicate_rate: f64,
    duplicate_max: i64,
    offline_rate: f64,
    offline_min: f64,
    offline_max: f64,
    skew_rate: f64,
    skew_min: i64,
    skew_max: i64,
    poison_rate: f64,
}

impl FaultModel {
    /// The faults of a scenario.
    pub fn new(s: &Scenario) -> Self {
        let f = &s.faults;
        FaultModel {
            jitter_rate: f.jitter.rate,
            jitter_max: f.jitter.max.ms().max(1),
            duplicate_rate: f.duplicate.rate,
            duplicate_max: f.duplicate.max_delay.ms().max(100),
            offline_rate: f.offline.rate,
            offline_min: f.offline.min.ms().max(1) as f64,
            offline_max: f.offline.max.ms().max(f.offline.min.ms()).max(1) as f64,
            skew_rate: f.clock_skew.rate,
            skew_min: f.clock_skew.min.ms(),
            skew_max: f.clock_skew.max.ms().max(f.clock_skew.min.ms()),
            poison_rate: f.poison.rate,
        }
    }

    /// No faults at all (the calibration pilot).
    pub fn none() -> Self {
        FaultModel::default()
    }

    /// Extra records per event on average (duplicates and poison).
    pub fn extra_records_per_event(&self) -> f64 {
        self.duplicate_rate + self.poison_rate
    }

    /// A new device of `kind` with its clock offset.
    pub fn device(&self, frng: &mut Rng, kind: DeviceType) -> Device {
        let skew_ms = if self.skew_rate > 0.0 && frng.random_bool(self.skew_rate) {
            let magnitude = frng.random_range(self.skew_min..=self.skew_max);
            if frng.random_bool(0.5) {
                magnitude
            } else {
                -magnitude
            }
        } else {
            0
        };
        Device {
            kind,
            skew_ms,
            offline_from: i64::MIN,
            offline_until: i64::MIN,
        }
    }

    /// Called when a playback starts on `device` at true time `t`: a phone
    /// may go offline shortly after, for minutes to hours.
    pub fn on_playback_start(&self, frng: &mut Rng, device: &mut Device, t: i64) {
        if device.kind != DeviceType::Phone || self.offline_rate <= 0.0 {
            return;
        }
        if !frng.random_bool(self.offline_rate) || device.offline_until > t {
            return;
        }
        let from = t + frng.random_range(0..60_000);
        let ln = frng.random_range(self.offline_min.ln()..=self.offline_max.ln());
        device.offline_from = from;
        device.offline_until = from + ln.exp() as i64;
    }

    /// Delivers one event that happened at true time `t` on `device`: decides
    /// its send time and labels, adds retry copies and poison records.
    pub fn deliver(
        &self,
        frng: &mut Rng,
        device: &Device,
        event: SimEvent,
        t: i64,
        mut labels: Labels,
        out: &mut Outbox,
    ) {
        if device.skew_ms.abs() > 1000 {
            labels.add(Label::ClockSkew);
        }
        let offline = t >= device.offline_from && t < device.offline_until;
        let send_time = if offline {
            labels.add(Label::Offline);
            device.offline_until
        } else if self.jitter_rate > 0.0 && frng.random_bool(self.jitter_rate) {
            labels.add(Label::Jitter);
            t + frng.random_range(1..=self.jitter_max)
        } else {
            t
        };
        out.push(send_time, Payload::Event(event), labels);

        if self.duplicate_rate > 0.0 && frng.random_bool(self.duplicate_rate) {
            let delay = frng.random_range(100..=self.duplicate_max);
            let mut copy = Labels::default().with(Label::Duplicate);
            for kept in [Label::Offline, Label::ClockSkew] {
                if labels.has(kept) {
                    copy.add(kept);
                }
            }
            out.push(send_time + delay, Payload::Event(event), copy);
        }
        if self.poison_rate > 0.0 && frng.random_bool(self.poison_rate) {
            let line = poison_line(frng, &event);
            let payload = Payload::Poison {
                user: event.user,
                line: line.into_boxed_str(),
            };
            out.push(send_time, payload, Labels::default().with(Label::Poison));
        }
    }
}

/// A malformed line for the dead-letter path: one of five kinds, all valid
/// UTF-8 on one line, none a valid `WatchEvent`.
fn poison_line(frng: &mut Rng, e: &SimEvent) -> String {
    let mut s = String::with_capacity(96);
    let user = e.user;
    match frng.random_range(0..5u8) {
        0 => {
            // Truncated JSON, as a producer cut off mid-write.
            let _ = write!(
                s,
                r#"{{"event_id":"x{user}-{}","schema_version":1,"user_id":"u{user:07}","dev"#,
                e.number
            );
        }
        1 => {
            // Missing fields.
            let _ = write!(
                s,
                r#"{{"schema_version":1,"user_id":"u{user:07}","event_type":"heartbeat"}}"#
            );
        }
        2 => {
            // Wrong types.
            let _ = write!(
                s,
                r#"{{"event_id":{},"schema_version":"1","user_id":"u{user:07}","device_id":null,"device_type":"phone","playback_id":"?","content_id":7,"event_type":"play","position_ms":"12s","seq":-1,"event_time":"yesterday"}}"#,
                e.number
            );
        }
        3 => {
            // Not an object at all.
            let _ = write!(s, r#"["u{user:07}","heartbeat",{}]"#, e.position_ms);
        }
        _ => {
            // Unknown enum values and schema version.
            let _ = write!(
                s,
                r#"{{"event_id":"z{user}-{}","schema_version":99,"user_id":"u{user:07}","device_id":"u{user:07}-fridge","device_type":"fridge","playback_id":"p","content_id":"m00001","event_type":"rewind","position_ms":0,"seq":0,"event_time":{}}}"#,
                e.number, e.event_time
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Title;
    use crate::rng::{stream, Purpose};
    use watchload_model::{EventType, WatchEvent};

    #[test]
    fn poison_lines_never_parse_as_events_and_stay_on_one_line() {
        let mut rng = stream(1, 1, Purpose::Faults);
        let e = SimEvent {
            user: 5,
            number: 9,
            playback: 1,
            position_ms: 1000,
            event_time: 1_700_000_000_000,
            seq: 3,
            title: Title {
                rank: 3,
                episode: 0,
            },
            device: DeviceType::Tv,
            event_type: EventType::Heartbeat,
        };
        for _ in 0..200 {
            let line = poison_line(&mut rng, &e);
            assert!(!line.contains('\n'));
            assert!(serde_json::from_str::<WatchEvent>(&line).is_err(), "{line}");
        }
    }
}
