//! Schema validation: payload bytes to a [`WatchEvent`], or the reason the
//! record is poison.

use serde::Serialize;
use serde_json::Value;
use std::fmt;
use watchload_model::{WatchEvent, SCHEMA_VERSION};

/// Why a record is poison, as a class that can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoisonKind {
    /// The record has no payload at all.
    Empty,
    /// The payload is not a JSON document.
    InvalidJson,
    /// The payload is JSON but not an object.
    NotAnObject,
    /// A required field is absent.
    MissingField,
    /// A field holds a value of the wrong type or outside its range.
    WrongType,
    /// A field the schema does not define.
    UnknownField,
    /// `schema_version` is not the one this pipeline reads.
    SchemaVersion,
}

impl PoisonKind {
    /// The kebab-case name used in dead-letter headers and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            PoisonKind::Empty => "empty",
            PoisonKind::InvalidJson => "invalid-json",
            PoisonKind::NotAnObject => "not-an-object",
            PoisonKind::MissingField => "missing-field",
            PoisonKind::WrongType => "wrong-type",
            PoisonKind::UnknownField => "unknown-field",
            PoisonKind::SchemaVersion => "schema-version",
        }
    }
}

/// Why one record is poison: the class and a sentence with the detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoisonReason {
    /// The class of problem.
    pub kind: PoisonKind,
    /// What exactly was wrong, e.g. "missing field `user_id`".
    pub detail: String,
}

impl fmt::Display for PoisonReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

fn poison(kind: PoisonKind, detail: impl Into<String>) -> PoisonReason {
    PoisonReason {
        kind,
        detail: detail.into(),
    }
}

/// Parses and validates one record's payload.
///
/// # Errors
///
/// The [`PoisonReason`] when the payload is not a valid schema-1 event.
pub fn parse_event(payload: Option<&[u8]>) -> Result<WatchEvent, PoisonReason> {
    let bytes = payload.ok_or_else(|| poison(PoisonKind::Empty, "record has no payload"))?;
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| poison(PoisonKind::InvalidJson, e.to_string()))?;
    let Value::Object(fields) = &value else {
        return Err(poison(
            PoisonKind::NotAnObject,
            "payload is not a JSON object",
        ));
    };

    match fields.get("schema_version") {
        None => {
            return Err(poison(
                PoisonKind::MissingField,
                "missing field `schema_version`",
            ))
        }
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(v) if v.is_u64() => {
            let detail = format!("schema_version {v} (this pipeline reads {SCHEMA_VERSION})");
            return Err(poison(PoisonKind::SchemaVersion, detail));
        }
        Some(v) => {
            let detail = format!("schema_version must be an integer, got {v}");
            return Err(poison(PoisonKind::WrongType, detail));
        }
    }

    serde_json::from_value(value).map_err(|e| {
        let detail = e.to_string();
        let kind = if detail.starts_with("missing field") {
            PoisonKind::MissingField
        } else if detail.starts_with("unknown field") {
            PoisonKind::UnknownField
        } else {
            PoisonKind::WrongType
        };
        poison(kind, detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"event_id":"e1","schema_version":1,"user_id":"u1","device_id":"d1","device_type":"tv","playback_id":"p1","content_id":"c1","event_type":"start","position_ms":0,"seq":0,"event_time":1000}"#;

    fn kind_of(text: &str) -> PoisonKind {
        parse_event(Some(text.as_bytes())).unwrap_err().kind
    }

    #[test]
    fn accepts_a_schema_1_event() {
        let event = parse_event(Some(GOOD.as_bytes())).unwrap();
        assert_eq!(event.event_time, 1000);
    }

    #[test]
    fn classifies_poison() {
        assert_eq!(parse_event(None).unwrap_err().kind, PoisonKind::Empty);
        assert_eq!(kind_of("{\"event_id\":"), PoisonKind::InvalidJson);
        assert_eq!(kind_of("[1,2]"), PoisonKind::NotAnObject);
        assert_eq!(
            kind_of(&GOOD.replace("\"user_id\":\"u1\",", "")),
            PoisonKind::MissingField
        );
        assert_eq!(
            kind_of(&GOOD.replace("\"seq\":0", "\"seq\":\"0\"")),
            PoisonKind::WrongType
        );
        assert_eq!(
            kind_of(&GOOD.replace("\"tv\"", "\"fridge\"")),
            PoisonKind::WrongType
        );
        assert_eq!(
            kind_of(&GOOD.replace("}", ",\"x\":1}")),
            PoisonKind::UnknownField
        );
        let v2 = GOOD.replace("\"schema_version\":1", "\"schema_version\":2");
        assert_eq!(kind_of(&v2), PoisonKind::SchemaVersion);
        let no_version = GOOD.replace("\"schema_version\":1,", "");
        assert_eq!(kind_of(&no_version), PoisonKind::MissingField);
    }

    #[test]
    fn missing_field_names_the_field() {
        let text = GOOD.replace("\"device_id\":\"d1\",", "");
        let reason = parse_event(Some(text.as_bytes())).unwrap_err();
        assert!(reason.detail.contains("device_id"), "{reason}");
    }
}
