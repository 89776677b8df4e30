//! Field mappings for foreign output schemas, loaded from TOML.
//!
//! A pipeline that already exists names its fields its own way (`uid`,
//! `window.start`) and may write times in seconds or RFC 3339. A mapping
//! file says where each field of a watch session is found, so the pipeline
//! is checked without change:
//!
//! ```toml
//! user_id = "uid"
//! session_start = "window.start"   # dotted path into nested objects
//! session_end = "window.end"
//! watch_ms = "watch_seconds"
//! key = ["uid", "window.start"]    # changelog key (optional)
//! tombstone_null = "value"         # null here marks a tombstone (optional)
//!
//! [units]
//! session_start = "rfc3339"        # ms | s | rfc3339
//! session_end = "rfc3339"
//! watch_ms = "s"                   # ms | s
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors loading a mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("cannot read mapping {path}")]
    Read {
        /// The mapping file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid mapping (unknown key, wrong type, bad unit).
    #[error("invalid mapping {path}: {message}")]
    Invalid {
        /// The mapping file.
        path: PathBuf,
        /// The parser's message, naming the key and line.
        message: String,
    },
}

/// How a time instant is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Epoch milliseconds (a number).
    #[default]
    Ms,
    /// Epoch seconds (a number, fractions allowed).
    S,
    /// An RFC 3339 string such as `2024-05-01T10:00:00.250Z`.
    Rfc3339,
}

/// How a duration is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurationUnit {
    /// Milliseconds (a number).
    #[default]
    Ms,
    /// Seconds (a number, fractions allowed).
    S,
}

/// Units of the time and duration fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Units {
    /// Unit of `session_start`.
    #[serde(default)]
    pub session_start: TimeUnit,
    /// Unit of `session_end`.
    #[serde(default)]
    pub session_end: TimeUnit,
    /// Unit of `first_event_time` and `last_event_time` inside `devices`.
    #[serde(default)]
    pub device_times: TimeUnit,
    /// Unit of `watch_ms`, at session level and inside `devices`.
    #[serde(default)]
    pub watch_ms: DurationUnit,
}

/// Where each field of a watch session is found in a foreign record.
///
/// Every field is a dotted path from the root of the record; a field left
/// out keeps its own name. A path that does not resolve in a record leaves
/// the field absent: absent fields are not compared (the report counts
/// them), except `user_id`, `session_start` and `session_end`, which every
/// session needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Path of the user id (a string or a number).
    pub user_id: Option<String>,
    /// Path of the session start instant.
    pub session_start: Option<String>,
    /// Path of the session end instant (the last event, inclusive).
    pub session_end: Option<String>,
    /// Path of the number of distinct events.
    pub event_count: Option<String>,
    /// Path of the number of playbacks.
    pub playbacks: Option<String>,
    /// Path of the list of content ids.
    pub content_ids: Option<String>,
    /// Path of the playing time.
    pub watch_ms: Option<String>,
    /// Path of the number of device switches.
    pub device_switches: Option<String>,
    /// Path of the per-device breakdown (a list of objects whose fields keep
    /// the model's names).
    pub devices: Option<String>,
    /// Path of an explicit session id, used as changelog key.
    pub session_id: Option<String>,
    /// Path of the operation field; `delete`, `d` or `retract` there marks a
    /// tombstone.
    pub op: Option<String>,
    /// Path of a boolean that marks a tombstone when true.
    pub deleted: Option<String>,
    /// Path of a number that marks a retraction when negative (`diff = -1`).
    pub diff: Option<String>,
    /// Path whose value `null` marks a tombstone (an envelope such as
    /// `{"key": .., "value": null}`).
    pub tombstone_null: Option<String>,
    /// Paths whose values, joined, form the changelog key. Default: the
    /// session id if present, else user id and session start.
    pub key: Option<Vec<String>>,
    /// Units of time and duration fields.
    #[serde(default)]
    pub units: Units,
}

impl Mapping {
    /// Reads and checks a mapping file.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML, has an unknown key or an
    /// unknown unit, or has an empty path.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Mapping::parse(&text).map_err(|message| MappingError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses mapping TOML text; the error names the key and line.
    ///
    /// # Errors
    /// As [`Mapping::load`], as a message.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, path) in mapping.paths() {
            if path.split('.').any(str::is_empty) {
                return Err(format!("key `{name}`: path `{path}` has an empty segment"));
            }
        }
        Ok(mapping)
    }

    /// The explicitly mapped paths, by field name.
    fn paths(&self) -> Vec<(&'static str, &str)> {
        let fields = [
            ("user_id", &self.user_id),
            ("session_start", &self.session_start),
            ("session_end", &self.session_end),
            ("event_count", &self.event_count),
            ("playbacks", &self.playbacks),
            ("content_ids", &self.content_ids),
            ("watch_ms", &self.watch_ms),
            ("device_switches", &self.device_switches),
            ("devices", &self.devices),
            ("session_id", &self.session_id),
            ("op", &self.op),
            ("deleted", &self.deleted),
            ("diff", &self.diff),
            ("tombstone_null", &self.tombstone_null),
        ];
        let mut out: Vec<(&'static str, &str)> = fields
            .into_iter()
            .filter_map(|(name, path)| path.as_deref().map(|p| (name, p)))
            .collect();
        for key in self.key.iter().flatten() {
            out.push(("key", key.as_str()));
        }
        out
    }

    /// The path of `field`: the mapped one, else the field's own name.
    pub fn path_of<'a>(&'a self, field: &'a str) -> &'a str {
        let mapped = match field {
            "user_id" => &self.user_id,
            "session_start" => &self.session_start,
            "session_end" => &self.session_end,
            "event_count" => &self.event_count,
            "playbacks" => &self.playbacks,
            "content_ids" => &self.content_ids,
            "watch_ms" => &self.watch_ms,
            "device_switches" => &self.device_switches,
            "devices" => &self.devices,
            "session_id" => &self.session_id,
            "op" => &self.op,
            "deleted" => &self.deleted,
            "diff" => &self.diff,
            _ => &None,
        };
        mapped.as_deref().unwrap_or(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_units() {
        let m = Mapping::parse(
            "user_id = \"uid\"\nsession_start = \"w.start\"\n[units]\nsession_start = \"s\"\n",
        )
        .unwrap();
        assert_eq!(m.path_of("user_id"), "uid");
        assert_eq!(m.path_of("session_start"), "w.start");
        assert_eq!(m.path_of("session_end"), "session_end");
        assert_eq!(m.units.session_start, TimeUnit::S);
    }

    #[test]
    fn refuses_unknown_keys_and_units() {
        let err = Mapping::parse("usr_id = \"uid\"").unwrap_err();
        assert!(err.contains("usr_id"), "{err}");
        let err = Mapping::parse("[units]\nsession_start = \"minutes\"").unwrap_err();
        assert!(err.contains("minutes"), "{err}");
        let err = Mapping::parse("user_id = \"a..b\"").unwrap_err();
        assert!(err.contains("empty segment"), "{err}");
    }
}
