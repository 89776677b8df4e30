//! Records as the simulation produces them: compact, allocation-free events
//! with their fault labels, turned into wire form only when sent.

use crate::catalog::Title;
use serde::Serialize;
use watchload_model::{DeviceType, EventType, WatchEvent, SCHEMA_VERSION};

/// Fault labels of a record, as a small bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Labels(u8);

/// One fault label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Label {
    /// Delayed by network jitter, may be reordered.
    Jitter = 0,
    /// A retry copy of an already-sent `event_id`.
    Duplicate = 1,
    /// Buffered while the device was offline, uploaded late in a burst.
    Offline = 2,
    /// Device clock off by more than 1 s.
    ClockSkew = 3,
    /// Malformed record.
    Poison = 4,
    /// A gap placed exactly at `session_gap` or 1 ms either side.
    BoundaryGap = 5,
}

impl Label {
    /// Every label, in the order they are written.
    pub const ALL: [Label; 6] = [
        Label::Jitter,
        Label::Duplicate,
        Label::Offline,
        Label::ClockSkew,
        Label::Poison,
        Label::BoundaryGap,
    ];

    /// The exact label string of the run-directory contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Jitter => "jitter",
            Label::Duplicate => "duplicate",
            Label::Offline => "offline",
            Label::ClockSkew => "clock-skew",
            Label::Poison => "poison",
            Label::BoundaryGap => "boundary-gap",
        }
    }
}

impl Labels {
    /// Adds a label.
    pub fn add(&mut self, label: Label) {
        self.0 |= 1 << label as u8;
    }

    /// This set with `label` added.
    pub fn with(mut self, label: Label) -> Self {
        self.add(label);
        self
    }

    /// Whether `label` is set.
    pub fn has(self, label: Label) -> bool {
        self.0 & (1 << label as u8) != 0
    }

    /// The labels set, in [`Label::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Label> {
        Label::ALL.into_iter().filter(move |l| self.has(*l))
    }

    /// The label strings.
    pub fn strings(self) -> Vec<String> {
        self.iter().map(|l| l.as_str().to_string()).collect()
    }
}

/// A valid event before it is turned into a [`WatchEvent`].
#[derive(Debug, Clone, Copy)]
pub struct SimEvent {
    /// User index.
    pub user: u32,
    /// Per-user event number (part of `event_id`).
    pub number: u32,
    /// Per-user playback number (part of `playback_id`).
    pub playback: u32,
    /// Playhead.
    pub position_ms: u64,
    /// Device clock time: true time plus skew.
    pub event_time: i64,
    /// Per-playback sequence number.
    pub seq: u32,
    /// The title.
    pub title: Title,
    /// Kind of device (one device per kind per user).
    pub device: DeviceType,
    /// What happened.
    pub event_type: EventType,
}

/// What a record carries.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A valid event.
    Event(SimEvent),
    /// A malformed line for user `user` (not a real event).
    Poison { user: u32, line: Box<str> },
}

/// A record waiting for its send time.
#[derive(Debug, Clone)]
pub struct SimRecord {
    /// Intended send time, simulated epoch ms.
    pub send_time: i64,
    /// Generation order, to break ties deterministically.
    pub order: u64,
    /// What is sent.
    pub payload: Payload,
    /// Fault labels.
    pub labels: Labels,
    /// How many times the lateness guard held this record back.
    pub holds: u8,
}

impl SimRecord {
    /// User index of the record's key.
    pub fn user(&self) -> u32 {
        match &self.payload {
            Payload::Event(e) => e.user,
            Payload::Poison { user, .. } => *user,
        }
    }
}

impl PartialEq for SimRecord {
    fn eq(&self, other: &Self) -> bool {
        (self.send_time, self.order) == (other.send_time, other.order)
    }
}
impl Eq for SimRecord {}
impl PartialOrd for SimRecord {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SimRecord {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.send_time, self.order).cmp(&(other.send_time, other.order))
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits. Ids are built on
/// every event, so this avoids `core::fmt`, which cost a third of
/// generation time.
pub fn push_number(out: &mut String, n: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Writes the user id of user `index`: `u0000042`.
pub fn write_user_id(out: &mut String, index: u32) {
    out.push('u');
    push_number(out, u64::from(index), 7);
}

/// `{prefix}{tag}-{user}-{number}`: event and playback ids.
fn scoped_id(prefix: char, tag: &str, user: u32, number: u32) -> String {
    let mut id = String::with_capacity(1 + tag.len() + 22);
    id.push(prefix);
    id.push_str(tag);
    id.push('-');
    push_number(&mut id, u64::from(user), 0);
    id.push('-');
    push_number(&mut id, u64::from(number), 0);
    id
}

/// The wire form of an event, borrowing its ids from a scratch buffer:
/// serializes to exactly the bytes of the equivalent [`WatchEvent`] (same
/// fields, same order; a test pins it) without allocating five strings.
#[derive(Debug, Serialize)]
struct WireEvent<'a> {
    event_id: &'a str,
    schema_version: u32,
    user_id: &'a str,
    device_id: &'a str,
    device_type: DeviceType,
    playback_id: &'a str,
    content_id: &'a str,
    event_type: EventType,
    position_ms: u64,
    seq: u32,
    event_time: i64,
}

/// Reusable buffers for [`encode_event`].
#[derive(Debug, Default)]
pub struct Scratch {
    ids: String,
}

/// Appends `{kind}{tag}-{user}-{n}`: an event or playback id, unique within
/// the run `tag`.
fn push_run_id(ids: &mut String, kind: char, tag: &str, user: u32, n: u32) {
    ids.push(kind);
    ids.push_str(tag);
    ids.push('-');
    push_number(ids, u64::from(user), 0);
    ids.push('-');
    push_number(ids, u64::from(n), 0);
}

/// Appends the JSON of `e` (as run `tag` sends it) to `out`.
pub fn encode_event(e: &SimEvent, tag: &str, scratch: &mut Scratch, out: &mut Vec<u8>) {
    let ids = &mut scratch.ids;
    ids.clear();
    let mark = |ids: &String| ids.len();
    push_run_id(ids, 'e', tag, e.user, e.number);
    let event_end = mark(ids);
    write_user_id(ids, e.user);
    let user_end = mark(ids);
    write_user_id(ids, e.user);
    ids.push('-');
    ids.push_str(e.device.as_str());
    let device_end = mark(ids);
    push_run_id(ids, 'p', tag, e.user, e.playback);
    let playback_end = mark(ids);
    e.title.write_content_id(ids);
    let wire = WireEvent {
        event_id: &ids[..event_end],
        schema_version: SCHEMA_VERSION,
        user_id: &ids[event_end..user_end],
        device_id: &ids[user_end..device_end],
        device_type: e.device,
        playback_id: &ids[device_end..playback_end],
        content_id: &ids[playback_end..],
        event_type: e.event_type,
        position_ms: e.position_ms,
        seq: e.seq,
        event_time: e.event_time,
    };
    serde_json::to_writer(out, &wire).expect("events always serialize");
}

/// Turns a simulated event into the wire event of run `tag`.
pub fn to_watch_event(e: &SimEvent, tag: &str) -> WatchEvent {
    let mut user_id = String::with_capacity(8);
    write_user_id(&mut user_id, e.user);
    let mut device_id = String::with_capacity(16);
    device_id.push_str(&user_id);
    device_id.push('-');
    device_id.push_str(e.device.as_str());
    let mut content_id = String::with_capacity(10);
    e.title.write_content_id(&mut content_id);
    WatchEvent {
        event_id: scoped_id('e', tag, e.user, e.number),
        schema_version: SCHEMA_VERSION,
        user_id,
        device_id,
        device_type: e.device,
        playback_id: scoped_id('p', tag, e.user, e.playback),
        content_id,
        event_type: e.event_type,
        position_ms: e.position_ms,
        seq: e.seq,
        event_time: e.event_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ids_format_like_fmt() {
        for (n, w) in [
            (0u64, 0usize),
            (7, 7),
            (1234567, 7),
            (12345678, 7),
            (u64::MAX, 3),
        ] {
            let mut s = String::new();
            push_number(&mut s, n, w);
            assert_eq!(s, format!("{n:0w$}"));
        }
        assert_eq!(scoped_id('e', "ab", 3, 40), "eab-3-40");
    }

    #[test]
    fn wire_encoding_is_byte_identical_to_watch_event() {
        let mut scratch = Scratch::default();
        for (i, device) in DeviceType::ALL.into_iter().enumerate() {
            let e = SimEvent {
                user: 12 + i as u32 * 999_999,
                number: 7 * i as u32,
                playback: 3,
                position_ms: 123_456,
                event_time: -5 + i as i64,
                seq: 9,
                title: Title {
                    rank: 1 + i as u32,
                    episode: 4,
                },
                device,
                event_type: EventType::Seek,
            };
            let mut fast = Vec::new();
            encode_event(&e, "0badcafe", &mut scratch, &mut fast);
            let slow = serde_json::to_vec(&to_watch_event(&e, "0badcafe")).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
    }
}
