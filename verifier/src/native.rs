//! Decoding output records straight into the spill format. Records in the
//! model's own schema (no mapping) take a fast path that borrows strings
//! from the line instead of building an owned session; everything else goes
//! through [`Decoder::decode`]. Both give the same spill record and the
//! same error sentences.

use crate::compact::{self, CompactError, DeviceRef, Head, PartialFields, Text};
use crate::decode::{is_delete_op, Change, Decoder};
use crate::source::{Payload, RawRecord};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::Write;

/// Buffers reused from record to record.
#[derive(Debug, Default)]
pub(crate) struct SpillBuf {
    /// The encoded spill record of the last record decoded.
    pub record: Vec<u8>,
    /// The user the last record is routed by.
    pub route: String,
    scratch: Vec<u8>,
    key: String,
}

/// A record in the model's schema, with borrowed strings where the JSON
/// has no escapes. Mirrors `decode::NativeRecord` field for field, so
/// errors read the same.
#[derive(Deserialize)]
struct NativeRef<'a> {
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    session_start: Option<i64>,
    session_end: Option<i64>,
    event_count: Option<u64>,
    playbacks: Option<u32>,
    #[serde(borrow)]
    content_ids: Option<Vec<Text<'a>>>,
    watch_ms: Option<u64>,
    device_switches: Option<u32>,
    #[serde(borrow)]
    devices: Option<Vec<DeviceRef<'a>>>,
    op: Option<Cow<'a, str>>,
    deleted: Option<bool>,
    diff: Option<i64>,
}

impl Decoder {
    /// Decodes `record` in full and leaves its spill record in
    /// `buf.record` and its routing user in `buf.route`.
    ///
    /// The outer error is a bug (the record cannot be encoded); the inner
    /// one a sentence saying why the record is malformed.
    pub(crate) fn decode_to_spill(
        &self,
        record: &RawRecord,
        buf: &mut SpillBuf,
    ) -> Result<Result<(), String>, CompactError> {
        buf.record.clear();
        buf.route.clear();
        match (&record.payload, self.has_mapping()) {
            (Payload::Text(text), false) => native_to_spill(text, record, buf),
            _ => {
                let decoded = match self.decode(record) {
                    Ok(decoded) => decoded,
                    Err(error) => return Ok(Err(error)),
                };
                let session = match &decoded.change {
                    Change::Upsert(session) => Some(session),
                    Change::Delete => None,
                };
                let route = record.user_id.as_deref().unwrap_or(&decoded.user_id);
                buf.route.push_str(route);
                compact::encode_output(
                    record.origin,
                    &decoded.user_id,
                    &decoded.key,
                    session,
                    &mut buf.scratch,
                    &mut buf.record,
                )
                .map(Ok)
            }
        }
    }
}

fn native_to_spill(
    text: &str,
    record: &RawRecord,
    buf: &mut SpillBuf,
) -> Result<Result<(), String>, CompactError> {
    let mut r: NativeRef = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("invalid record: {e}"))),
    };
    let deleted = r.op.as_deref().is_some_and(is_delete_op)
        || r.deleted == Some(true)
        || r.diff.is_some_and(|d| d < 0);
    buf.key.clear();
    match (&record.key, &r.session_id, r.session_start) {
        (Some(key), _, _) => buf.key.push_str(key),
        (None, Some(id), _) => buf.key.push_str(id),
        (None, None, Some(start)) => {
            write!(buf.key, "{}@{start}", r.user_id).expect("writing to a String");
        }
        (None, None, None) => {
            let why = "no session_id and no session_start to key the record by";
            return Ok(Err(why.to_string()));
        }
    }
    buf.route
        .push_str(record.user_id.as_deref().unwrap_or(&r.user_id));
    let head = Head {
        origin: record.origin,
        user_id: &r.user_id,
        key: &buf.key,
    };
    if deleted {
        return compact::encode_delete(&head, &mut buf.record).map(Ok);
    }

    let (Some(start), Some(end)) = (r.session_start, r.session_end) else {
        let field = if r.session_start.is_none() {
            "session_start"
        } else {
            "session_end"
        };
        return Ok(Err(format!("missing field `{field}`")));
    };
    if end < start {
        return Ok(Err(format!(
            "session_end {end} is before session_start {start}"
        )));
    }
    if let Some(ids) = &mut r.content_ids {
        ids.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if let Some(devices) = &mut r.devices {
        devices.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    }
    let fields = PartialFields {
        event_count: r.event_count,
        playbacks: r.playbacks,
        content_ids: r.content_ids.as_deref(),
        watch_ms: r.watch_ms,
        device_switches: r.device_switches,
        devices: r.devices.as_deref(),
    };
    let span = (start, end);
    compact::encode_upsert(&head, span, fields, &mut buf.scratch, &mut buf.record).map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Origin;

    /// The spill record and route the generic path gives, or its error.
    fn generic(record: &RawRecord) -> Result<(Vec<u8>, String), String> {
        let decoded = Decoder::default().decode(record)?;
        let session = match &decoded.change {
            Change::Upsert(session) => Some(session),
            Change::Delete => None,
        };
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        let (user, key) = (&decoded.user_id, &decoded.key);
        compact::encode_output(record.origin, user, key, session, &mut scratch, &mut out).unwrap();
        let route = record.user_id.clone().unwrap_or(decoded.user_id);
        Ok((out, route))
    }

    fn fast(record: &RawRecord) -> Result<(Vec<u8>, String), String> {
        let mut buf = SpillBuf::default();
        Decoder::default()
            .decode_to_spill(record, &mut buf)
            .unwrap()
            .map(|()| (buf.record, buf.route))
    }

    #[test]
    fn fast_native_path_equals_the_generic_decoder() {
        let lines = [
            r#"{"user_id":"u1","session_start":5,"session_end":9,"event_count":2,"playbacks":1,"content_ids":["b","a"],"watch_ms":4,"device_switches":0,"devices":[{"device_id":"z","device_type":"tv","first_event_time":5,"last_event_time":9,"watch_ms":1},{"device_id":"a","device_type":"phone","first_event_time":5,"last_event_time":9,"watch_ms":3}]}"#,
            r#"{"user_id":"u\"2","session_start":5,"session_end":9,"content_ids":["x\n"]}"#,
            r#"{"session_id":"s1","user_id":"u1","session_start":5,"session_end":9,"extra":[1]}"#,
            r#"{"session_id":"s1","user_id":"u1","op":"DELETE"}"#,
            r#"{"user_id":"u1","session_start":5,"deleted":true}"#,
            r#"{"user_id":"u1","session_start":5,"session_end":9,"diff":-1}"#,
            r#"{"user_id":"u1","session_end":9}"#,
            r#"{"user_id":"u1","session_start":5}"#,
            r#"{"user_id":"u1","session_start":9,"session_end":5}"#,
            r#"{"user_id":"u1","session_start":5,"session_end":9,"playbacks":-1}"#,
            r#"{"user_id":"u1","session_start":5,"session_end":9,"devices":[{"device_id":"d"}]}"#,
            r#"{"session_start":5,"session_end":9}"#,
            r#"not json"#,
        ];
        for (i, line) in lines.iter().enumerate() {
            for (key, user) in [(None, None), (Some("k"), Some("transport-user"))] {
                let record = RawRecord {
                    origin: Origin {
                        stream: 1,
                        position: i as u64,
                    },
                    key: key.map(str::to_string),
                    user_id: user.map(str::to_string),
                    payload: Payload::Text(line.to_string()),
                    first_seen_ms: None,
                };
                assert_eq!(fast(&record), generic(&record), "line {i}: {line}");
            }
        }
    }
}
