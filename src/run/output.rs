//! The sessions the tail collected, as the verifier's session source and
//! as the first-seen log lag is measured from. Sessions of the flush user
//! are dropped here, before anything judges them.

use crate::run::flush::is_flush_user;
use crate::run::tail::SeenOutput;
use std::collections::VecDeque;
use watchload_verifier::decode::{Change, Decoder};
use watchload_verifier::lag::SeenLog;
use watchload_verifier::{Origin, Payload, RawRecord, SessionSource, SourceError};

/// Turns a record of the sessions topic into the verifier's raw record.
pub fn to_raw(seen: &SeenOutput) -> RawRecord {
    let r = &seen.record;
    let key = r
        .key
        .as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    let payload = match &r.payload {
        None => Payload::Tombstone,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Payload::Text(text.to_string()),
            Err(error) => Payload::Unreadable(format!("not UTF-8: {error}")),
        },
    };
    // A tombstone has no body: its user comes from the key `user@start`.
    let user_id = match payload {
        Payload::Tombstone => key
            .as_deref()
            .and_then(|k| k.rsplit_once('@'))
            .map(|(user, _)| user.to_string()),
        _ => None,
    };
    RawRecord {
        origin: Origin {
            stream: r.partition.max(0) as u32,
            position: r.offset.max(0) as u64,
        },
        key,
        user_id,
        payload,
        first_seen_ms: Some(seen.seen_ms),
    }
}

/// Whether a raw record belongs to the flush user.
fn is_flush(record: &RawRecord, decoder: &Decoder) -> bool {
    decoder
        .user_of(record)
        .is_ok_and(|user| is_flush_user(&user))
}

/// The collected output as a [`SessionSource`] (flush user removed).
#[derive(Debug)]
pub struct CollectedSource {
    topic: String,
    partitions: u32,
    records: VecDeque<RawRecord>,
    /// Records of the flush user dropped.
    pub flush_dropped: u64,
}

impl CollectedSource {
    /// A source over `seen`, read from `topic`.
    pub fn new(topic: &str, seen: &[SeenOutput]) -> CollectedSource {
        let decoder = Decoder::new(None);
        let mut records = VecDeque::with_capacity(seen.len());
        let mut flush_dropped = 0;
        let mut partitions = 0;
        for s in seen {
            let raw = to_raw(s);
            partitions = partitions.max(raw.origin.stream + 1);
            if is_flush(&raw, &decoder) {
                flush_dropped += 1;
            } else {
                records.push_back(raw);
            }
        }
        CollectedSource {
            topic: topic.to_string(),
            partitions,
            records,
            flush_dropped,
        }
    }
}

impl SessionSource for CollectedSource {
    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        Ok(self.records.pop_front())
    }

    fn stream_name(&self, stream: u32) -> String {
        format!("{}/{stream}", self.topic)
    }

    fn stream_names(&self) -> Vec<String> {
        (0..self.partitions).map(|p| self.stream_name(p)).collect()
    }
}

/// Every decodable session version with when it was first seen.
pub fn seen_log(seen: &[SeenOutput]) -> SeenLog {
    let decoder = Decoder::new(None);
    let mut log = SeenLog::new();
    for s in seen {
        let raw = to_raw(s);
        if let Ok(decoded) = decoder.decode(&raw) {
            if let Change::Upsert(session) = decoded.change {
                if !is_flush_user(&session.user_id) {
                    log.push(s.seen_ms, session);
                }
            }
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchload_kafka::ReadRecord;

    fn seen(key: &str, payload: Option<&str>, offset: i64) -> SeenOutput {
        SeenOutput {
            record: ReadRecord {
                partition: 1,
                offset,
                key: Some(key.as_bytes().to_vec()),
                payload: payload.map(|p| p.as_bytes().to_vec()),
                headers: Vec::new(),
                timestamp_ms: None,
            },
            seen_ms: 1_000 + offset,
        }
    }

    #[test]
    fn tombstones_get_their_user_from_the_key_and_flush_sessions_are_dropped() {
        let body = r#"{"session_id":"u1@5","user_id":"u1","session_start":5,"session_end":9}"#;
        let flush = r#"{"user_id":"__watchload_flush__","session_start":1,"session_end":1}"#;
        let records = [
            seen("u1@5", Some(body), 0),
            seen("u1@5", None, 1),
            seen("__watchload_flush__@1", Some(flush), 2),
        ];
        let mut source = CollectedSource::new("sessions", &records);
        assert_eq!(source.flush_dropped, 1);
        let first = source.next_record().unwrap().unwrap();
        assert_eq!(first.first_seen_ms, Some(1_000));
        let tombstone = source.next_record().unwrap().unwrap();
        assert_eq!(tombstone.payload, Payload::Tombstone);
        assert_eq!(tombstone.user_id.as_deref(), Some("u1"));
        assert!(source.next_record().unwrap().is_none());
        assert_eq!(source.stream_names(), vec!["sessions/0", "sessions/1"]);
        assert_eq!(seen_log(&records).versions(), 1);
    }
}
