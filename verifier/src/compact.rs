//! The spill format: every truth and output record is parsed once, in phase
//! one, and stored compactly with postcard, so phase two never parses JSON
//! again.
//!
//! A session is stored as its span (start, end) plus its other compared
//! fields encoded on their own (`fields`). Truth and output encode those
//! fields the same way, so an output whose fields are all present equals
//! its truth session exactly when spans are equal and the two `fields`
//! byte strings are equal: phase two can judge the common case, an exact
//! pair, without building any session.

use crate::decode::OutputSession;
use crate::source::Origin;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use watchload_model::truth::{Excluded, FaultSample};
use watchload_model::{DeviceBreakdown, DeviceType, TruthSession, WatchSession};

/// Errors of encoding or decoding a spill record (a bug, not bad input).
#[derive(Debug, thiserror::Error)]
#[error("spill record: {0}")]
pub struct CompactError(#[from] postcard::Error);

/// Bytes stored as one length-prefixed block (not byte by byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// A JSON string that borrows from the line unless it holds escapes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// One device of a truth line, read without copying its id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRef<'a> {
    /// The device.
    #[serde(borrow)]
    pub device_id: Cow<'a, str>,
    /// Its kind.
    pub device_type: DeviceType,
    /// First event time, epoch ms.
    pub first_event_time: i64,
    /// Last event time, epoch ms.
    pub last_event_time: i64,
    /// Playing time, ms.
    pub watch_ms: u64,
}

/// The compared fields of a session other than its span, in one layout for
/// truth (borrowed lists) and output (owned lists).
#[derive(Debug, Serialize, Deserialize)]
struct Fields<C, D> {
    event_count: u64,
    playbacks: u32,
    content_ids: C,
    watch_ms: u64,
    device_switches: u32,
    devices: D,
}

/// The fields of an output that may lack some of them.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PartialFields<C, D> {
    pub event_count: Option<u64>,
    pub playbacks: Option<u32>,
    pub content_ids: Option<C>,
    pub watch_ms: Option<u64>,
    pub device_switches: Option<u32>,
    pub devices: Option<D>,
}

type OwnedFields = Fields<Vec<String>, Vec<DeviceBreakdown>>;
type OwnedPartial = PartialFields<Vec<String>, Vec<DeviceBreakdown>>;

/// One line of `truth.jsonl`, read with borrowed strings. It mirrors
/// `TruthSession` flat, because serde's `flatten` is slow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthLine<'a> {
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    session_start: i64,
    session_end: i64,
    event_count: u64,
    playbacks: u32,
    #[serde(borrow)]
    content_ids: Vec<Text<'a>>,
    watch_ms: u64,
    device_switches: u32,
    #[serde(borrow)]
    devices: Vec<DeviceRef<'a>>,
    tolerated: bool,
    #[serde(default)]
    fault_counts: BTreeMap<String, u64>,
    #[serde(default)]
    fault_samples: Vec<FaultSample>,
}

impl TruthLine<'_> {
    /// The user, for routing.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

/// A record of the truth family of bucket files.
#[derive(Debug, Serialize, Deserialize)]
pub enum TruthRecord<'a> {
    /// A truth session.
    Session {
        /// The user.
        user_id: &'a str,
        /// `user_id@session_start`.
        session_id: &'a str,
        /// First event time.
        start: i64,
        /// Last event time.
        end: i64,
        /// Touched by an ambiguous event.
        tolerated: bool,
        /// The other compared fields.
        #[serde(borrow)]
        fields: Bytes<'a>,
        /// Fault counts and samples (evidence, not compared).
        #[serde(borrow)]
        faults: Bytes<'a>,
    },
    /// An expired event from `excluded.jsonl`.
    Excluded {
        /// The user.
        user_id: &'a str,
        /// The event.
        sample: FaultSample,
    },
}

/// A record of the output family of bucket files.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutputRecord<'a> {
    /// Where the record came from.
    pub stream: u32,
    /// Its position in the stream.
    pub position: u64,
    /// The user the session belongs to.
    pub user_id: &'a str,
    /// The changelog key.
    pub key: &'a str,
    /// What the record does.
    #[serde(borrow)]
    pub body: OutputBody<'a>,
}

/// A new version of a session, or a deletion.
#[derive(Debug, Serialize, Deserialize)]
pub enum OutputBody<'a> {
    /// A tombstone.
    Delete,
    /// A session.
    Upsert {
        /// First event time.
        start: i64,
        /// Last event time.
        end: i64,
        /// Whether every compared field is present (`fields` then has the
        /// layout truth uses).
        complete: bool,
        /// The other fields.
        #[serde(borrow)]
        fields: Bytes<'a>,
    },
}

/// Appends the spill record of a parsed truth line to `out`, using
/// `scratch` for the nested encodings.
///
/// # Errors
/// When postcard fails (it does not for these types).
pub fn encode_truth(
    t: &TruthLine<'_>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), CompactError> {
    scratch.clear();
    let fields = Fields {
        event_count: t.event_count,
        playbacks: t.playbacks,
        content_ids: &t.content_ids,
        watch_ms: t.watch_ms,
        device_switches: t.device_switches,
        devices: &t.devices,
    };
    let fields = postcard::to_extend(&fields, std::mem::take(scratch))?;
    let split = fields.len();
    let both = postcard::to_extend(&(&t.fault_counts, &t.fault_samples), fields)?;
    let encoded = {
        let record = TruthRecord::Session {
            user_id: &t.user_id,
            session_id: &t.session_id,
            start: t.session_start,
            end: t.session_end,
            tolerated: t.tolerated,
            fields: Bytes(&both[..split]),
            faults: Bytes(&both[split..]),
        };
        postcard::to_extend(&record, std::mem::take(out))
    };
    *scratch = both;
    *out = encoded?;
    Ok(())
}

/// Appends the spill record of an excluded event to `out`.
///
/// # Errors
/// When postcard fails (it does not for these types).
pub fn encode_excluded(excluded: &Excluded, out: &mut Vec<u8>) -> Result<(), CompactError> {
    let record = TruthRecord::Excluded {
        user_id: &excluded.user_id,
        sample: excluded.sample.clone(),
    };
    *out = postcard::to_extend(&record, std::mem::take(out))?;
    Ok(())
}

/// Appends the spill record of a decoded output (`None`: a tombstone).
///
/// # Errors
/// When postcard fails (it does not for these types).
pub fn encode_output(
    origin: Origin,
    user_id: &str,
    key: &str,
    session: Option<&OutputSession>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), CompactError> {
    let head = Head {
        origin,
        user_id,
        key,
    };
    let Some(s) = session else {
        return encode_delete(&head, out);
    };
    let fields = PartialFields {
        event_count: s.event_count,
        playbacks: s.playbacks,
        content_ids: s.content_ids.as_deref(),
        watch_ms: s.watch_ms,
        device_switches: s.device_switches,
        devices: s.devices.as_deref(),
    };
    encode_upsert(
        &head,
        (s.session_start, s.session_end),
        fields,
        scratch,
        out,
    )
}

/// Who an output record is and where it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'s> {
    pub origin: Origin,
    pub user_id: &'s str,
    pub key: &'s str,
}

pub(crate) fn encode_delete(head: &Head<'_>, out: &mut Vec<u8>) -> Result<(), CompactError> {
    let record = OutputRecord {
        stream: head.origin.stream,
        position: head.origin.position,
        user_id: head.user_id,
        key: head.key,
        body: OutputBody::Delete,
    };
    *out = postcard::to_extend(&record, std::mem::take(out))?;
    Ok(())
}

/// Encodes an upsert whose lists are already normalized (sorted).
pub(crate) fn encode_upsert<C: Serialize + Copy, D: Serialize + Copy>(
    head: &Head<'_>,
    (start, end): (i64, i64),
    f: PartialFields<C, D>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), CompactError> {
    scratch.clear();
    let buf = std::mem::take(scratch);
    let complete = (|| {
        Some(Fields {
            event_count: f.event_count?,
            playbacks: f.playbacks?,
            content_ids: f.content_ids?,
            watch_ms: f.watch_ms?,
            device_switches: f.device_switches?,
            devices: f.devices?,
        })
    })();
    let is_complete = complete.is_some();
    let buf = match complete {
        Some(fields) => postcard::to_extend(&fields, buf)?,
        None => postcard::to_extend(&f, buf)?,
    };
    let record = OutputRecord {
        stream: head.origin.stream,
        position: head.origin.position,
        user_id: head.user_id,
        key: head.key,
        body: OutputBody::Upsert {
            start,
            end,
            complete: is_complete,
            fields: Bytes(&buf),
        },
    };
    let encoded = postcard::to_extend(&record, std::mem::take(out));
    *scratch = buf;
    *out = encoded?;
    Ok(())
}

/// Builds the truth session of a spilled record.
///
/// # Errors
/// When the stored bytes do not decode (a corrupt spill file).
#[allow(clippy::too_many_arguments)]
pub fn truth_session(
    user_id: &str,
    session_id: &str,
    start: i64,
    end: i64,
    tolerated: bool,
    fields: &[u8],
    faults: &[u8],
) -> Result<TruthSession, CompactError> {
    let f: OwnedFields = postcard::from_bytes(fields)?;
    let (fault_counts, fault_samples) = postcard::from_bytes(faults)?;
    Ok(TruthSession {
        session_id: session_id.to_string(),
        session: WatchSession {
            user_id: user_id.to_string(),
            session_start: start,
            session_end: end,
            event_count: f.event_count,
            playbacks: f.playbacks,
            content_ids: f.content_ids,
            watch_ms: f.watch_ms,
            device_switches: f.device_switches,
            devices: f.devices,
        },
        tolerated,
        fault_counts,
        fault_samples,
    })
}

/// Builds the output session of a spilled upsert.
///
/// # Errors
/// When the stored bytes do not decode (a corrupt spill file).
pub fn output_session(
    user_id: &str,
    origin: Origin,
    (start, end): (i64, i64),
    complete: bool,
    fields: &[u8],
) -> Result<OutputSession, CompactError> {
    let f: OwnedPartial = if complete {
        let f: OwnedFields = postcard::from_bytes(fields)?;
        PartialFields {
            event_count: Some(f.event_count),
            playbacks: Some(f.playbacks),
            content_ids: Some(f.content_ids),
            watch_ms: Some(f.watch_ms),
            device_switches: Some(f.device_switches),
            devices: Some(f.devices),
        }
    } else {
        postcard::from_bytes(fields)?
    };
    Ok(OutputSession {
        user_id: user_id.to_string(),
        session_start: start,
        session_end: end,
        event_count: f.event_count,
        playbacks: f.playbacks,
        content_ids: f.content_ids,
        watch_ms: f.watch_ms,
        device_switches: f.device_switches,
        devices: f.devices,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::is_exact;

    const LINE: &str = r#"{"session_id":"u\"1@5","user_id":"u\"1","session_start":5,"session_end":9,"event_count":2,"playbacks":1,"content_ids":["a","b\\c"],"watch_ms":4,"device_switches":0,"devices":[{"device_id":"d","device_type":"tv","first_event_time":5,"last_event_time":9,"watch_ms":4}],"tolerated":false,"fault_counts":{"jitter":1},"fault_samples":[]}"#;

    fn spilled_truth() -> (Vec<u8>, TruthSession) {
        let line: TruthLine = serde_json::from_str(LINE).unwrap();
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        encode_truth(&line, &mut scratch, &mut out).unwrap();
        let expected = crate::run_dir::parse_truth_line(LINE).unwrap();
        (out, expected)
    }

    fn as_output(t: &TruthSession) -> OutputSession {
        let s = &t.session;
        OutputSession {
            user_id: s.user_id.clone(),
            session_start: s.session_start,
            session_end: s.session_end,
            event_count: Some(s.event_count),
            playbacks: Some(s.playbacks),
            content_ids: Some(s.content_ids.clone()),
            watch_ms: Some(s.watch_ms),
            device_switches: Some(s.device_switches),
            devices: Some(s.devices.clone()),
            origin: Origin {
                stream: 1,
                position: 7,
            },
        }
    }

    fn truth_fields(bytes: &[u8]) -> (TruthSession, Vec<u8>) {
        let (record, rest) = postcard::take_from_bytes::<TruthRecord>(bytes).unwrap();
        assert!(rest.is_empty());
        let TruthRecord::Session {
            user_id,
            session_id,
            start,
            end,
            tolerated,
            fields,
            faults,
        } = record
        else {
            panic!("a session record");
        };
        let t = truth_session(
            user_id, session_id, start, end, tolerated, fields.0, faults.0,
        );
        (t.unwrap(), fields.0.to_vec())
    }

    fn output_fields(s: Option<&OutputSession>) -> (Option<OutputSession>, Vec<u8>) {
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        let origin = Origin {
            stream: 1,
            position: 7,
        };
        encode_output(origin, "u\"1", "k", s, &mut scratch, &mut out).unwrap();
        let record: OutputRecord = postcard::from_bytes(&out).unwrap();
        assert_eq!((record.user_id, record.key), ("u\"1", "k"));
        match record.body {
            OutputBody::Delete => (None, Vec::new()),
            OutputBody::Upsert {
                start,
                end,
                complete,
                fields,
            } => {
                let o = output_session(record.user_id, origin, (start, end), complete, fields.0);
                (Some(o.unwrap()), fields.0.to_vec())
            }
        }
    }

    #[test]
    fn truth_round_trips_with_escapes_and_faults() {
        let (bytes, expected) = spilled_truth();
        assert_eq!(truth_fields(&bytes).0, expected);
    }

    #[test]
    fn equal_fields_encode_to_equal_bytes_and_only_then() {
        let (bytes, truth) = spilled_truth();
        let (_, truth_bytes) = truth_fields(&bytes);
        let output = as_output(&truth);
        let (decoded, output_bytes) = output_fields(Some(&output));
        assert_eq!(decoded.as_ref(), Some(&output));
        assert!(is_exact(&truth, &output));
        assert_eq!(truth_bytes, output_bytes);

        let mut other = output.clone();
        other.devices.as_mut().unwrap()[0].device_type = DeviceType::Phone;
        assert!(!is_exact(&truth, &other));
        assert_ne!(output_fields(Some(&other)).1, truth_bytes);
    }

    #[test]
    fn partial_outputs_and_tombstones_round_trip() {
        let (_, truth) = spilled_truth();
        let mut output = as_output(&truth);
        output.devices = None;
        output.playbacks = None;
        assert_eq!(output_fields(Some(&output)).0, Some(output));
        assert_eq!(output_fields(None).0, None);
    }
}
