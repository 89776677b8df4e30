//! Reading the truth side: a generated run directory (`truth.jsonl`,
//! `excluded.jsonl`, `manifest.json`), as the brief's run directory
//! contract describes it.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use watchload_model::truth::{Excluded, FaultSample};
use watchload_model::{DeviceBreakdown, SessionRules, TruthSession, WatchSession};

/// Errors reading a run directory. Truth is ours: a bad truth line is an
/// error, not a malformed record.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A required file is absent or cannot be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading failed part-way.
    #[error("cannot read {path} after line {line}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Last line read.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a valid truth session or excluded event.
    #[error("{path} line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// The manifest is unreadable or a field in it is invalid.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What was wrong, naming the key.
        message: String,
    },
}

/// What the verifier takes from `manifest.json`.
#[derive(Debug, Clone, Default)]
pub struct ManifestInfo {
    /// The session rules truth was built with (defaults if absent).
    pub rules: SessionRules,
    /// Whether `rules` came from the manifest.
    pub rules_from_manifest: bool,
    /// The scenario's name, if recorded.
    pub scenario_name: Option<String>,
    /// The full scenario TOML, if recorded.
    pub scenario_text: Option<String>,
    /// The run's seed, if recorded.
    pub seed: Option<u64>,
}

/// A run directory's paths.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub dir: PathBuf,
}

impl RunDir {
    /// Checks that `dir` holds `truth.jsonl`.
    ///
    /// # Errors
    /// When `truth.jsonl` cannot be opened.
    pub fn open(dir: &Path) -> Result<RunDir, RunDirError> {
        let run = RunDir {
            dir: dir.to_path_buf(),
        };
        std::fs::File::open(run.truth_path()).map_err(|source| RunDirError::Open {
            path: run.truth_path(),
            source,
        })?;
        Ok(run)
    }

    /// `truth.jsonl`.
    pub fn truth_path(&self) -> PathBuf {
        self.dir.join("truth.jsonl")
    }

    /// `excluded.jsonl` (optional: a run without expired events may lack it).
    pub fn excluded_path(&self) -> PathBuf {
        self.dir.join("excluded.jsonl")
    }

    /// `manifest.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    /// Reads the manifest; an absent manifest gives defaults.
    ///
    /// Keys read: `rules` (an object of `SessionRules`), `scenario_name` or
    /// `scenario.name` or `scenario` (a string), `scenario_text` or
    /// `scenario.text`, and `seed`.
    ///
    /// # Errors
    /// When the manifest exists but is not JSON or `rules` is invalid.
    pub fn manifest(&self) -> Result<ManifestInfo, RunDirError> {
        let path = self.manifest_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), "no manifest: default session rules");
                return Ok(ManifestInfo::default());
            }
            Err(source) => return Err(RunDirError::Open { path, source }),
        };
        let bad = |message: String| RunDirError::Manifest {
            path: path.clone(),
            message,
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut info = ManifestInfo::default();
        if let Some(rules) = v.get("rules") {
            info.rules =
                SessionRules::deserialize(rules).map_err(|e| bad(format!("key `rules`: {e}")))?;
            let problems = info.rules.problems();
            if !problems.is_empty() {
                return Err(bad(format!("key `rules`: {}", problems.join("; "))));
            }
            info.rules_from_manifest = true;
        }
        let text_at = |paths: &[&str]| {
            paths
                .iter()
                .find_map(|p| crate::decode::lookup(&v, p).and_then(Value::as_str))
                .map(str::to_string)
        };
        info.scenario_name = text_at(&["scenario_name", "scenario.name", "scenario"]);
        info.scenario_text = text_at(&["scenario_text", "scenario.text"]);
        info.seed = v.get("seed").and_then(Value::as_u64);
        Ok(info)
    }
}

/// One line of `truth.jsonl`: a `TruthSession` with its session flattened.
/// Read through this flat mirror because serde's `flatten` is slow.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TruthLine {
    session_id: String,
    user_id: String,
    session_start: i64,
    session_end: i64,
    event_count: u64,
    playbacks: u32,
    content_ids: Vec<String>,
    watch_ms: u64,
    device_switches: u32,
    devices: Vec<DeviceBreakdown>,
    tolerated: bool,
    #[serde(default)]
    fault_counts: BTreeMap<String, u64>,
    #[serde(default)]
    fault_samples: Vec<FaultSample>,
}

/// Parses one `truth.jsonl` line.
///
/// # Errors
/// The parser's message (field and column).
pub fn parse_truth_line(line: &str) -> Result<TruthSession, String> {
    let l: TruthLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
    Ok(TruthSession {
        session_id: l.session_id,
        session: WatchSession {
            user_id: l.user_id,
            session_start: l.session_start,
            session_end: l.session_end,
            event_count: l.event_count,
            playbacks: l.playbacks,
            content_ids: l.content_ids,
            watch_ms: l.watch_ms,
            device_switches: l.device_switches,
            devices: l.devices,
        },
        tolerated: l.tolerated,
        fault_counts: l.fault_counts,
        fault_samples: l.fault_samples,
    })
}

/// Parses one `excluded.jsonl` line.
///
/// # Errors
/// The parser's message.
pub fn parse_excluded_line(line: &str) -> Result<Excluded, String> {
    serde_json::from_str(line).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct UserOf<'a> {
    #[serde(borrow)]
    user_id: std::borrow::Cow<'a, str>,
}

/// The `user_id` of a truth or excluded line, read cheaply.
///
/// # Errors
/// The parser's message.
pub fn user_of_line(line: &str) -> Result<String, String> {
    if let Some(user) = top_level_user_id(line) {
        return Ok(user.to_string());
    }
    serde_json::from_str::<UserOf>(line)
        .map(|u| u.user_id.into_owned())
        .map_err(|e| e.to_string())
}

/// Fast path for routing: the value of a top-level `"user_id":"..."` that
/// needs no unescaping, found by substring. The key text cannot occur
/// inside a JSON string (its quotes would be escaped), and requiring that
/// no `{` or `[` precedes it other than the opening brace keeps it at the
/// top level. `None` sends the caller to the full parser. The line is still
/// validated in full when it is decoded later.
pub fn top_level_user_id(line: &str) -> Option<&str> {
    const KEY: &str = "\"user_id\":\"";
    let at = line.find(KEY)?;
    let before = line[..at].trim_start().strip_prefix('{')?;
    if before.contains(['{', '[']) {
        return None;
    }
    let rest = &line[at + KEY.len()..];
    let end = rest.find('"')?;
    let value = &rest[..end];
    (!value.contains('\\')).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchload_model::DeviceType;

    #[test]
    fn truth_line_reads_what_the_model_writes() {
        let truth = TruthSession {
            session_id: "u1@5".into(),
            session: WatchSession {
                user_id: "u1".into(),
                session_start: 5,
                session_end: 9,
                event_count: 2,
                playbacks: 1,
                content_ids: vec!["c".into()],
                watch_ms: 4,
                device_switches: 0,
                devices: vec![DeviceBreakdown {
                    device_id: "d".into(),
                    device_type: DeviceType::Tv,
                    first_event_time: 5,
                    last_event_time: 9,
                    watch_ms: 4,
                }],
            },
            tolerated: false,
            fault_counts: BTreeMap::from([("jitter".into(), 1)]),
            fault_samples: vec![],
        };
        let line = serde_json::to_string(&truth).unwrap();
        assert_eq!(parse_truth_line(&line).unwrap(), truth);
        assert_eq!(user_of_line(&line).unwrap(), "u1");
    }

    #[test]
    fn fast_user_id_only_at_top_level() {
        assert_eq!(
            top_level_user_id(r#"{"a":1,"user_id":"u7","b":2}"#),
            Some("u7")
        );
        assert_eq!(
            top_level_user_id(r#"{"k":{"user_id":"x"},"user_id":"u"}"#),
            None
        );
        assert_eq!(top_level_user_id(r#"{"user_id":"a\"b"}"#), None);
        assert_eq!(user_of_line(r#"{"user_id":"a\"b"}"#).unwrap(), "a\"b");
        assert_eq!(top_level_user_id(r#"{"user":"u"}"#), None);
    }
}
