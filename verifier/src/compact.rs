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
#[derive(Debug, PartialEq, Serialize, Deserialize)]
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

/// Names of the optional output fields, in the order of [`PartialFields`]
/// and of the masks [`present_and_equal`] returns.
pub const OPTIONAL_FIELDS: [&str; 6] = [
    "event_count",
    "playbacks",
    "content_ids",
    "watch_ms",
    "device_switches",
    "devices",
];

/// For an output lacking some fields: which fields it has, if every one of
/// them equals the truth session's (`None` when one differs). `truth` and
/// `output` are the `fields` bytes of the two records.
///
/// # Errors
/// When the stored bytes do not decode (a corrupt spill file).
pub fn present_and_equal(truth: &[u8], output: &[u8]) -> Result<Option<[bool; 6]>, CompactError> {
    type Borrowed<'a> = Fields<Vec<&'a str>, Vec<DeviceRef<'a>>>;
    type BorrowedPartial<'a> = PartialFields<Vec<&'a str>, Vec<DeviceRef<'a>>>;
    let t: Borrowed = postcard::from_bytes(truth)?;
    let o: BorrowedPartial = postcard::from_bytes(output)?;
    let same = |present: bool, equal: bool| !present || equal;
    let equal = same(
        o.event_count.is_some(),
        o.event_count == Some(t.event_count),
    ) && same(o.playbacks.is_some(), o.playbacks == Some(t.playbacks))
        && same(o.watch_ms.is_some(), o.watch_ms == Some(t.watch_ms))
        && same(
            o.device_switches.is_some(),
            o.device_switches == Some(t.device_switches),
        )
        && o.content_ids
            .as_ref()
            .map_or(true, |ids| *ids == t.content_ids)
        && o.devices.as_ref().map_or(true, |d| *d == t.devices);
    Ok(equal.then(|| {
        [
            o.event_count.is_some(),
            o.playbacks.is_some(),
            o.content_ids.is_some(),
            o.watch_ms.is_some(),
            o.device_switches.is_some(),
            o.devices.is_some(),
        ]
    }))
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
#[path = "compact_tests.rs"]
mod tests;
