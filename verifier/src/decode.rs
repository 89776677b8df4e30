//! Decoding raw output records into watch sessions and changelog changes.
//!
//! Without a mapping, records are read in the model's own schema (the
//! fields of `WatchSession`, plus optional `session_id`, `op`, `deleted`);
//! unknown fields are ignored, so `truth.jsonl` itself is valid output.
//! With a [`Mapping`], fields are looked up by path and converted by unit.

use crate::mapping::{DurationUnit, Mapping, TimeUnit};
use crate::source::{Origin, Payload, RawRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use watchload_model::{DeviceBreakdown, DeviceType, WatchSession};

/// A watch session as a pipeline produced it. Fields the pipeline did not
/// write are `None` and are not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputSession {
    /// The account.
    pub user_id: String,
    /// First event time, epoch ms.
    pub session_start: i64,
    /// Last event time, epoch ms, inclusive.
    pub session_end: i64,
    /// Number of distinct events.
    pub event_count: Option<u64>,
    /// Number of playbacks.
    pub playbacks: Option<u32>,
    /// Distinct content ids, sorted by the decoder.
    pub content_ids: Option<Vec<String>>,
    /// Playing time, ms.
    pub watch_ms: Option<u64>,
    /// Device switches between playbacks.
    pub device_switches: Option<u32>,
    /// Per-device breakdown, sorted by `device_id` by the decoder.
    pub devices: Option<Vec<DeviceBreakdown>>,
    /// Where the version that survived came from.
    #[serde(skip)]
    pub origin: Origin,
}

impl OutputSession {
    /// An output carrying every field of `session`, as a pipeline writing
    /// watchload's own schema produces it.
    pub fn complete(session: &WatchSession, origin: Origin) -> OutputSession {
        OutputSession {
            user_id: session.user_id.clone(),
            session_start: session.session_start,
            session_end: session.session_end,
            event_count: Some(session.event_count),
            playbacks: Some(session.playbacks),
            content_ids: Some(session.content_ids.clone()),
            watch_ms: Some(session.watch_ms),
            device_switches: Some(session.device_switches),
            devices: Some(session.devices.clone()),
            origin,
        }
    }

    /// Whether two outputs carry the same session (origin aside).
    pub fn same_content(&self, other: &OutputSession) -> bool {
        let mut a = self.clone();
        a.origin = other.origin;
        a == *other
    }
}

/// One decoded output record: a new version of a session, or a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A session (first or newer version under `key`).
    Upsert(OutputSession),
    /// A tombstone: the session under `key` is gone.
    Delete,
}

/// A decoded record with its changelog key and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Changelog key: transport key, else `session_id`, else
    /// `user_id@session_start`.
    pub key: String,
    /// The user, for routing.
    pub user_id: String,
    /// What the record does.
    pub change: Change,
}

/// Turns raw records into [`Decoded`] ones, by the model's schema or a
/// mapping. Errors are one sentence naming the field and what was expected.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    mapping: Option<Mapping>,
}

#[derive(Deserialize)]
struct UserOnly<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct NativeRecord {
    session_id: Option<String>,
    user_id: String,
    session_start: Option<i64>,
    session_end: Option<i64>,
    event_count: Option<u64>,
    playbacks: Option<u32>,
    content_ids: Option<Vec<String>>,
    watch_ms: Option<u64>,
    device_switches: Option<u32>,
    devices: Option<Vec<DeviceBreakdown>>,
    op: Option<String>,
    deleted: Option<bool>,
    diff: Option<i64>,
}

/// Whether an `op` value marks a tombstone.
pub(crate) fn is_delete_op(op: &str) -> bool {
    ["delete", "d", "retract"]
        .iter()
        .any(|d| op.eq_ignore_ascii_case(d))
}

impl Decoder {
    /// A decoder for `mapping`, or for the model's own schema.
    pub fn new(mapping: Option<Mapping>) -> Decoder {
        Decoder { mapping }
    }

    /// Whether records are read through a mapping.
    pub(crate) fn has_mapping(&self) -> bool {
        self.mapping.is_some()
    }

    /// The user a record belongs to, read as cheaply as possible (used to
    /// route records before they are decoded in full).
    ///
    /// # Errors
    /// A sentence saying why the record names no user.
    pub fn user_of(&self, record: &RawRecord) -> Result<String, String> {
        if let Some(user) = &record.user_id {
            return Ok(user.clone());
        }
        let text = match &record.payload {
            Payload::Text(text) => text,
            Payload::Tombstone => return Err("tombstone without a user id".to_string()),
            Payload::Unreadable(why) => return Err(why.clone()),
        };
        match &self.mapping {
            None if crate::run_dir::top_level_user_id(text).is_some() => {
                Ok(crate::run_dir::top_level_user_id(text)
                    .unwrap_or_default()
                    .to_string())
            }
            None => serde_json::from_str::<UserOnly>(text)
                .map(|u| u.user_id.into_owned())
                .map_err(|e| format!("invalid record: {e}")),
            Some(mapping) => {
                let value: Value =
                    serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
                let path = mapping.path_of("user_id");
                id_at(&value, path)?.ok_or_else(|| format!("no user id at `{path}`"))
            }
        }
    }

    /// Decodes a record in full.
    ///
    /// # Errors
    /// A sentence naming the field that is missing or of the wrong kind.
    pub fn decode(&self, record: &RawRecord) -> Result<Decoded, String> {
        let text = match &record.payload {
            Payload::Text(text) => text,
            Payload::Unreadable(why) => return Err(why.clone()),
            Payload::Tombstone => {
                let key = record.key.clone().ok_or("tombstone without a key")?;
                let user_id = record
                    .user_id
                    .clone()
                    .ok_or("tombstone without a user id")?;
                return Ok(Decoded {
                    key,
                    user_id,
                    change: Change::Delete,
                });
            }
        };
        match &self.mapping {
            None => decode_native(text, record),
            Some(mapping) => decode_mapped(text, record, mapping),
        }
    }
}

fn changelog_key(
    record: &RawRecord,
    session_id: Option<String>,
    user_id: &str,
    start: Option<i64>,
) -> Result<String, String> {
    if let Some(key) = &record.key {
        return Ok(key.clone());
    }
    if let Some(id) = session_id {
        return Ok(id);
    }
    match start {
        Some(start) => Ok(format!("{user_id}@{start}")),
        None => Err("no session_id and no session_start to key the record by".to_string()),
    }
}

fn decode_native(text: &str, record: &RawRecord) -> Result<Decoded, String> {
    let r: NativeRecord = serde_json::from_str(text).map_err(|e| format!("invalid record: {e}"))?;
    let deleted = r.op.as_deref().is_some_and(is_delete_op)
        || r.deleted == Some(true)
        || r.diff.is_some_and(|d| d < 0);
    let key = changelog_key(record, r.session_id, &r.user_id, r.session_start)?;
    if deleted {
        return Ok(Decoded {
            key,
            user_id: r.user_id,
            change: Change::Delete,
        });
    }
    let session_start = r.session_start.ok_or("missing field `session_start`")?;
    let session_end = r.session_end.ok_or("missing field `session_end`")?;
    let session = normalized(OutputSession {
        user_id: r.user_id.clone(),
        session_start,
        session_end,
        event_count: r.event_count,
        playbacks: r.playbacks,
        content_ids: r.content_ids,
        watch_ms: r.watch_ms,
        device_switches: r.device_switches,
        devices: r.devices,
        origin: record.origin,
    })?;
    Ok(Decoded {
        key,
        user_id: r.user_id,
        change: Change::Upsert(session),
    })
}

fn normalized(mut s: OutputSession) -> Result<OutputSession, String> {
    if s.session_end < s.session_start {
        return Err(format!(
            "session_end {} is before session_start {}",
            s.session_end, s.session_start
        ));
    }
    if let Some(ids) = &mut s.content_ids {
        ids.sort();
    }
    if let Some(devices) = &mut s.devices {
        devices.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    }
    Ok(s)
}

fn decode_mapped(text: &str, record: &RawRecord, m: &Mapping) -> Result<Decoded, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let user_path = m.path_of("user_id");
    let user_id = id_at(&v, user_path)?.ok_or_else(|| format!("no user id at `{user_path}`"))?;
    let start = time_at(&v, m.path_of("session_start"), m.units.session_start)?;

    let key = match &m.key {
        Some(paths) if record.key.is_none() => key_from_paths(&v, paths)?,
        _ => {
            let id = id_at(&v, m.path_of("session_id"))?;
            changelog_key(record, id, &user_id, start)?
        }
    };

    let null_tombstone = m
        .tombstone_null
        .as_deref()
        .is_some_and(|p| lookup(&v, p).map_or(true, Value::is_null));
    let op_delete = lookup(&v, m.path_of("op"))
        .and_then(Value::as_str)
        .is_some_and(is_delete_op);
    let flag_delete = lookup(&v, m.path_of("deleted")).and_then(Value::as_bool) == Some(true);
    let diff_delete = lookup(&v, m.path_of("diff"))
        .and_then(Value::as_f64)
        .is_some_and(|d| d < 0.0);
    if null_tombstone || op_delete || flag_delete || diff_delete {
        return Ok(Decoded {
            key,
            user_id,
            change: Change::Delete,
        });
    }

    let start_path = m.path_of("session_start");
    let session_start = start.ok_or_else(|| format!("no session start at `{start_path}`"))?;
    let end_path = m.path_of("session_end");
    let session_end = time_at(&v, end_path, m.units.session_end)?
        .ok_or_else(|| format!("no session end at `{end_path}`"))?;
    let devices = match lookup(&v, m.path_of("devices")) {
        None | Some(Value::Null) => None,
        Some(value) => Some(devices_from(value, m)?),
    };
    let session = normalized(OutputSession {
        user_id: user_id.clone(),
        session_start,
        session_end,
        event_count: uint_at(&v, m.path_of("event_count"))?,
        playbacks: uint_at(&v, m.path_of("playbacks"))?.map(|n| n as u32),
        content_ids: strings_at(&v, m.path_of("content_ids"))?,
        watch_ms: duration_at(&v, m.path_of("watch_ms"), m.units.watch_ms)?,
        device_switches: uint_at(&v, m.path_of("device_switches"))?.map(|n| n as u32),
        devices,
        origin: record.origin,
    })?;
    Ok(Decoded {
        key,
        user_id,
        change: Change::Upsert(session),
    })
}

fn key_from_paths(v: &Value, paths: &[String]) -> Result<String, String> {
    let mut parts = Vec::with_capacity(paths.len());
    for path in paths {
        match lookup(v, path) {
            None | Some(Value::Null) => return Err(format!("no changelog key part at `{path}`")),
            Some(Value::String(s)) => parts.push(s.clone()),
            Some(other) => parts.push(other.to_string()),
        }
    }
    Ok(parts.join("@"))
}

/// The value at a dotted path, if every segment resolves.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, seg| v.get(seg))
}

fn id_at(v: &Value, path: &str) -> Result<Option<String>, String> {
    match lookup(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("`{path}`: expected a string id, found {other}")),
    }
}

fn uint_at(v: &Value, path: &str) -> Result<Option<u64>, String> {
    match lookup(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{path}`: expected a whole number >= 0, found {n}")),
        Some(other) => Err(format!("`{path}`: expected a number, found {other}")),
    }
}

fn strings_at(v: &Value, path: &str) -> Result<Option<Vec<String>>, String> {
    match lookup(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("`{path}`: expected strings, found {other}")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("`{path}`: expected a list, found {other}")),
    }
}

fn time_at(v: &Value, path: &str, unit: TimeUnit) -> Result<Option<i64>, String> {
    let Some(value) = lookup(v, path).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |what: &str| format!("`{path}`: expected {what}, found {value}");
    match unit {
        TimeUnit::Ms => value
            .as_f64()
            .map(|n| Some(n.round() as i64))
            .ok_or_else(|| bad("epoch milliseconds")),
        TimeUnit::S => value
            .as_f64()
            .map(|n| Some((n * 1000.0).round() as i64))
            .ok_or_else(|| bad("epoch seconds")),
        TimeUnit::Rfc3339 => value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| Some(t.timestamp_millis()))
            .ok_or_else(|| bad("an RFC 3339 time")),
    }
}

fn duration_at(v: &Value, path: &str, unit: DurationUnit) -> Result<Option<u64>, String> {
    let Some(value) = lookup(v, path).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let n = value
        .as_f64()
        .filter(|n| *n >= 0.0)
        .ok_or_else(|| format!("`{path}`: expected a duration >= 0, found {value}"))?;
    let ms = match unit {
        DurationUnit::Ms => n,
        DurationUnit::S => n * 1000.0,
    };
    Ok(Some(ms.round() as u64))
}

fn devices_from(value: &Value, m: &Mapping) -> Result<Vec<DeviceBreakdown>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("`{}`: expected a list of devices", m.path_of("devices")))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let device_id = id_at(item, "device_id")?.ok_or("a device without `device_id`")?;
        let device_type: DeviceType = lookup(item, "device_type")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .ok_or("a device without a valid `device_type` (phone, tv, laptop)")?;
        let first = time_at(item, "first_event_time", m.units.device_times)?;
        let last = time_at(item, "last_event_time", m.units.device_times)?;
        out.push(DeviceBreakdown {
            device_id,
            device_type,
            first_event_time: first.ok_or("a device without `first_event_time`")?,
            last_event_time: last.ok_or("a device without `last_event_time`")?,
            watch_ms: duration_at(item, "watch_ms", m.units.watch_ms)?.unwrap_or(0),
        });
    }
    Ok(out)
}
