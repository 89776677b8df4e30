//! Shared helpers of the integration tests: hand-built events and the
//! truth to compare the pipeline with.

#![allow(dead_code)]

use std::collections::BTreeMap;
use watchload_model::{
    DeviceType, EventType, SessionRules, TruthBuilder, WatchEvent, WatchSession,
};

/// One record of a test stream, in send order.
#[derive(Debug, Clone)]
pub enum Record {
    /// A valid event (possibly a duplicate copy).
    Event(WatchEvent),
    /// A malformed payload.
    Poison(String),
}

impl Record {
    /// The payload bytes as sent.
    pub fn payload(&self) -> Vec<u8> {
        match self {
            Record::Event(event) => serde_json::to_vec(event).unwrap(),
            Record::Poison(text) => text.as_bytes().to_vec(),
        }
    }

    /// The Kafka key: the user for an event, a fixed key for poison.
    pub fn key(&self) -> String {
        match self {
            Record::Event(event) => event.user_id.clone(),
            Record::Poison(_) => "poison".to_string(),
        }
    }
}

/// Builds one event; ids and names derive from the small numbers given.
pub fn event(
    id: usize,
    user: u8,
    device: u8,
    playback: u8,
    seq: u32,
    kind: EventType,
    time: i64,
) -> WatchEvent {
    WatchEvent {
        event_id: format!("e{id}"),
        schema_version: 1,
        user_id: format!("u{user}"),
        device_id: format!("u{user}-d{device}"),
        device_type: DeviceType::ALL[usize::from(device) % 3],
        playback_id: format!("u{user}-d{device}-p{playback}"),
        content_id: format!("c{}", playback % 2),
        event_type: kind,
        position_ms: seq as u64 * 1000,
        seq,
        event_time: time,
    }
}

/// Event types by index, for generated streams.
pub const KINDS: [EventType; 6] = [
    EventType::Start,
    EventType::Heartbeat,
    EventType::Heartbeat,
    EventType::Pause,
    EventType::Play,
    EventType::Stop,
];

/// Poison payloads by index: each a different class.
pub fn poison(i: usize) -> String {
    let good = serde_json::to_string(&event(0, 0, 0, 0, 0, EventType::Start, 5)).unwrap();
    match i % 5 {
        0 => "{\"event_id\":".to_string(),
        1 => good.replace("\"schema_version\":1", "\"schema_version\":2"),
        2 => good.replace("\"user_id\":\"u0\",", ""),
        3 => good.replace("\"seq\":0", "\"seq\":\"zero\""),
        _ => "not json at all".to_string(),
    }
}

/// Truth for records of one partition in order: session id to session,
/// with the tolerated flag.
pub fn truth(
    records: &[(i32, Record)],
    rules: SessionRules,
) -> BTreeMap<String, (WatchSession, bool)> {
    let mut builder = TruthBuilder::new(rules);
    let mut sessions = Vec::new();
    for (partition, record) in records {
        if let Record::Event(event) = record {
            builder.admit(*partition, event, true, &[]);
            sessions.extend(builder.drain_closed());
        }
    }
    sessions.extend(builder.finish());
    sessions
        .into_iter()
        .map(|t| (t.session_id, (t.session, t.tolerated)))
        .collect()
}

/// Truth with the tolerated flag dropped (for rules without ambiguity).
pub fn exact_truth(
    records: &[(i32, Record)],
    rules: SessionRules,
) -> BTreeMap<String, WatchSession> {
    truth(records, rules)
        .into_iter()
        .map(|(k, (s, _))| (k, s))
        .collect()
}
