//! What the sessionizer emits: session upserts and tombstones keyed by
//! session id, and dead letters for poison records.

use crate::validate::PoisonReason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use watchload_model::WatchSession;

/// One version of a watch session as written to the sessions topic: the
/// JSON of [`WatchSession`] with its `session_id` (`user_id@session_start`)
/// first. The Kafka record key is the same `session_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `user_id@session_start`, the record key.
    pub session_id: String,
    /// The session as it stands now.
    #[serde(flatten)]
    pub session: WatchSession,
}

/// A poison record sent to the dead-letter topic unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Input partition of the record.
    pub partition: i32,
    /// Input offset of the record.
    pub offset: i64,
    /// Why it was rejected.
    pub reason: PoisonReason,
    /// The payload exactly as read (empty when it had none).
    pub payload: Vec<u8>,
}

/// One output of the sessionizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A new session or a new version of one (same key, new value).
    Upsert(SessionRecord),
    /// A session key that no longer exists (merged into another session, or
    /// its start moved earlier): a Kafka record with a null payload.
    Tombstone {
        /// The key that disappeared.
        session_id: String,
    },
    /// A poison record for the dead-letter topic.
    DeadLetter(DeadLetter),
}

/// The JSONL form of a tombstone: `{"session_id":"..","op":"delete"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TombstoneLine {
    /// The key that disappeared.
    pub session_id: String,
    /// Always `"delete"`.
    pub op: String,
}

impl Output {
    /// The record key on the sessions topic, `None` for a dead letter.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Output::Upsert(record) => Some(&record.session_id),
            Output::Tombstone { session_id } => Some(session_id),
            Output::DeadLetter(_) => None,
        }
    }

    /// The JSONL line of a session output (no trailing newline), `None`
    /// for a dead letter.
    pub fn to_json_line(&self) -> Option<String> {
        let line = match self {
            Output::Upsert(record) => serde_json::to_string(record),
            Output::Tombstone { session_id } => serde_json::to_string(&TombstoneLine {
                session_id: session_id.clone(),
                op: "delete".to_string(),
            }),
            Output::DeadLetter(_) => return None,
        };
        Some(line.expect("session records always serialize"))
    }
}

/// The final view of a changelog of sessions: the last version per key,
/// with tombstones removing keys. This is how a consumer of the sessions
/// topic (a compacted table) sees the pipeline's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalView {
    sessions: BTreeMap<String, WatchSession>,
}

impl FinalView {
    /// An empty view.
    pub fn new() -> Self {
        FinalView::default()
    }

    /// Applies one output; dead letters are ignored.
    pub fn apply(&mut self, output: &Output) {
        match output {
            Output::Upsert(record) => {
                self.sessions
                    .insert(record.session_id.clone(), record.session.clone());
            }
            Output::Tombstone { session_id } => {
                self.sessions.remove(session_id);
            }
            Output::DeadLetter(_) => {}
        }
    }

    /// Applies a record read from a sessions topic: a payload is an upsert,
    /// no payload a tombstone.
    ///
    /// # Errors
    ///
    /// The JSON error when the payload is not a [`SessionRecord`].
    pub fn apply_record(&mut self, key: &str, payload: Option<&[u8]>) -> serde_json::Result<()> {
        match payload {
            Some(bytes) => {
                let record: SessionRecord = serde_json::from_slice(bytes)?;
                self.sessions.insert(key.to_string(), record.session);
            }
            None => {
                self.sessions.remove(key);
            }
        }
        Ok(())
    }

    /// The sessions by `session_id`.
    pub fn sessions(&self) -> &BTreeMap<String, WatchSession> {
        &self.sessions
    }

    /// Consumes the view into its sessions by `session_id`.
    pub fn into_sessions(self) -> BTreeMap<String, WatchSession> {
        self.sessions
    }
}
