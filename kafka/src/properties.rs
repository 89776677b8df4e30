//! librdkafka passthrough properties: `-X key=value` on the command line (as
//! kcat takes them) and the `[kafka.properties]` table of a scenario.
//!
//! Properties are handed to librdkafka unchanged, after watchload's own
//! defaults, so a user can tune anything librdkafka knows. librdkafka itself
//! rejects unknown keys and bad values when the client is created; this
//! module only catches what would otherwise be confusing: a malformed
//! argument, and the few keys watchload must own to keep its accounting true.

use thiserror::Error;

/// Keys a passthrough property may not set, with the reason shown to the user.
const RESERVED: &[(&str, &str)] = &[
    (
        "bootstrap.servers",
        "set the cluster with `bootstrap` (scenario) or `--bootstrap` (CLI)",
    ),
    (
        "metadata.broker.list",
        "set the cluster with `bootstrap` (scenario) or `--bootstrap` (CLI)",
    ),
    (
        "delivery.report.only.error",
        "watchload needs a delivery report for every record to resolve its delivery outcome",
    ),
];

/// A passthrough property that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PropertyError {
    /// The argument has no `=`.
    #[error("librdkafka property {arg:?}: expected key=value, e.g. linger.ms=5")]
    MissingEquals {
        /// The argument as given.
        arg: String,
    },
    /// Nothing before the `=`.
    #[error("librdkafka property {arg:?}: the key before '=' is empty")]
    EmptyKey {
        /// The argument as given.
        arg: String,
    },
    /// The key contains whitespace, which no librdkafka key does.
    #[error("librdkafka property {arg:?}: the key {key:?} contains whitespace")]
    SpaceInKey {
        /// The argument as given.
        arg: String,
        /// The key part.
        key: String,
    },
    /// The key is one watchload sets itself.
    #[error("librdkafka property {key:?} cannot be passed through: {reason}")]
    Reserved {
        /// The key.
        key: String,
        /// Why, and what to use instead.
        reason: &'static str,
    },
}

/// Parses one `key=value` argument. The value may be empty and may contain
/// `=`; only the first `=` separates. Usable as a clap `value_parser`.
///
/// # Errors
///
/// [`PropertyError`] when there is no `=`, the key is empty or holds
/// whitespace, or the key is reserved (see [`check_key`]).
pub fn parse_property(arg: &str) -> Result<(String, String), PropertyError> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err(PropertyError::MissingEquals {
            arg: arg.to_string(),
        });
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(PropertyError::EmptyKey {
            arg: arg.to_string(),
        });
    }
    if key.chars().any(char::is_whitespace) {
        return Err(PropertyError::SpaceInKey {
            arg: arg.to_string(),
            key: key.to_string(),
        });
    }
    check_key(key)?;
    Ok((key.to_string(), value.to_string()))
}

/// Refuses the keys watchload owns (`bootstrap.servers`,
/// `delivery.report.only.error`).
///
/// # Errors
///
/// [`PropertyError::Reserved`] naming the key and what to use instead.
pub fn check_key(key: &str) -> Result<(), PropertyError> {
    match RESERVED.iter().find(|(reserved, _)| *reserved == key) {
        Some((_, reason)) => Err(PropertyError::Reserved {
            key: key.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_first_equals_only() {
        let parsed = parse_property("sasl.jaas.config=a=b").unwrap();
        assert_eq!(parsed, ("sasl.jaas.config".to_string(), "a=b".to_string()));
    }

    #[test]
    fn keeps_an_empty_value() {
        assert_eq!(
            parse_property("client.rack=").unwrap(),
            ("client.rack".to_string(), String::new())
        );
    }

    #[test]
    fn refuses_a_missing_equals_and_says_what_was_expected() {
        let err = parse_property("linger.ms").unwrap_err();
        assert!(matches!(err, PropertyError::MissingEquals { .. }));
        assert!(err.to_string().contains("expected key=value"), "{err}");
    }

    #[test]
    fn refuses_an_empty_key() {
        assert!(matches!(
            parse_property("=5").unwrap_err(),
            PropertyError::EmptyKey { .. }
        ));
    }

    #[test]
    fn refuses_whitespace_inside_a_key() {
        assert!(matches!(
            parse_property("linger ms=5").unwrap_err(),
            PropertyError::SpaceInKey { .. }
        ));
    }

    #[test]
    fn refuses_keys_watchload_owns() {
        let err = parse_property("bootstrap.servers=x:9092").unwrap_err();
        assert!(err.to_string().contains("--bootstrap"), "{err}");
        assert!(matches!(
            parse_property("delivery.report.only.error=true").unwrap_err(),
            PropertyError::Reserved { .. }
        ));
    }
}
