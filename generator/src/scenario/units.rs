//! Units written as strings in scenario files: durations ("30m"), rates
//! ("50k/s"), multipliers ("10x") and instants (RFC 3339). Each parses at
//! load time, so a typo is reported with its file, line and key.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A duration in milliseconds, written like `"30m"`, `"10s"`, `"2h"`,
/// `"1h 30m"` or `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub i64);

impl Millis {
    /// Builds a duration from whole seconds.
    pub const fn secs(s: i64) -> Self {
        Millis(s * 1000)
    }

    /// Builds a duration from whole minutes.
    pub const fn mins(m: i64) -> Self {
        Millis(m * 60_000)
    }

    /// The duration in milliseconds.
    pub const fn ms(self) -> i64 {
        self.0
    }
}

/// Parses a duration such as `"30m"` or `"1h 30m"` into milliseconds.
pub fn parse_duration(text: &str) -> Result<Millis, String> {
    let parsed = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("expected a duration like \"10s\", \"30m\" or \"2h\", got {text:?} ({e})")
    })?;
    i64::try_from(parsed.as_millis())
        .map(Millis)
        .map_err(|_| format!("duration {text:?} is too long"))
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = std::time::Duration::from_millis(self.0.max(0) as u64);
        write!(f, "{}", humantime::format_duration(d))
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string like \"10s\", \"30m\" or \"2h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A rate in events per second, written like `"50k/s"`, `"2.5M/s"`,
/// `"1200/m"` or `"400/h"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

/// Parses a rate such as `"50k/s"` into events per second.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let bad = || format!("expected a rate like \"500/s\", \"50k/s\" or \"2M/h\", got {text:?}");
    let (amount, unit) = text.trim().split_once('/').ok_or_else(bad)?;
    let per_second = match unit.trim() {
        "s" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        _ => return Err(bad()),
    };
    let amount = amount.trim();
    let (number, scale) = match amount.chars().last() {
        Some('k') | Some('K') => (&amount[..amount.len() - 1], 1e3),
        Some('M') => (&amount[..amount.len() - 1], 1e6),
        Some('G') => (&amount[..amount.len() - 1], 1e9),
        _ => (amount, 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    Ok(Rate(value * scale * per_second))
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate string like \"50k/s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                parse_rate(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A load multiplier, written as a number (`10`, `2.5`) or as `"10x"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Multiplier(pub f64);

impl Default for Multiplier {
    fn default() -> Self {
        Multiplier(1.0)
    }
}

impl Serialize for Multiplier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Multiplier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Multiplier;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a multiplier like 10 or \"10x\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Multiplier, E> {
                Ok(Multiplier(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Multiplier, E> {
                Ok(Multiplier(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Multiplier, E> {
                Ok(Multiplier(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Multiplier, E> {
                let number = v.trim().strip_suffix(['x', 'X']).unwrap_or(v.trim());
                number.parse().map(Multiplier).map_err(|_| {
                    E::custom(format!(
                        "expected a multiplier like \"10x\" or 10, got {v:?}"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An instant of simulated time, epoch milliseconds, written in RFC 3339
/// (`"2025-03-01T18:00:00Z"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub i64);

impl Default for Instant {
    fn default() -> Self {
        // 2025-03-01T18:00:00Z: an evening, so diurnal runs start busy.
        Instant(1_740_852_000_000)
    }
}

/// Parses an RFC 3339 instant into epoch milliseconds.
pub fn parse_instant(text: &str) -> Result<Instant, String> {
    let t = humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
        format!("expected an RFC 3339 time like \"2025-03-01T18:00:00Z\", got {text:?} ({e})")
    })?;
    let since = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("time {text:?} is before 1970"))?;
    Ok(Instant(since.as_millis() as i64))
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.0.max(0) as u64);
        write!(f, "{}", humantime::format_rfc3339_millis(t))
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Instant;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time string like \"2025-03-01T18:00:00Z\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Instant, E> {
                parse_instant(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration("30m").unwrap(), Millis::mins(30));
        assert_eq!(parse_duration("10s").unwrap(), Millis::secs(10));
        assert_eq!(parse_duration("1h 30m").unwrap(), Millis::mins(90));
        assert_eq!(parse_duration("250ms").unwrap(), Millis(250));
        assert!(parse_duration("30 minutes please").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rates_parse_with_suffix_and_unit() {
        assert_eq!(parse_rate("50k/s").unwrap(), Rate(50_000.0));
        assert_eq!(parse_rate("2.5M/s").unwrap(), Rate(2_500_000.0));
        assert_eq!(parse_rate("120/m").unwrap(), Rate(2.0));
        assert_eq!(parse_rate("3600/h").unwrap(), Rate(1.0));
        assert!(parse_rate("50k").is_err());
        assert!(parse_rate("fast/s").is_err());
        assert!(parse_rate("-3/s").is_err());
    }

    #[test]
    fn instants_round_trip() {
        let t = parse_instant("2025-03-01T18:00:00Z").unwrap();
        assert_eq!(t, Instant::default());
        assert_eq!(t.to_string(), "2025-03-01T18:00:00.000Z");
        assert!(parse_instant("yesterday").is_err());
    }
}
