//! Tolerances: how much a metric may worsen from the baseline before the
//! comparison calls it a regression.
//!
//! Written `off`, or one or two parts joined by `+`: a relative part
//! (`10%` of the baseline value) and an absolute part in the metric's unit
//! (`50ms`, `1s` for durations, bare numbers otherwise). `0` allows no
//! worsening at all. Examples: `lag_p99=10%+50ms`, `f1=0.001`,
//! `throughput_ratio=5%`, `lag_max=off`.

use std::fmt;

/// Allowed worsening of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Not gated: shown for information only.
    Off,
    /// `relative * |baseline| + absolute`.
    Allow {
        /// Share of the baseline value (0.1 = 10%).
        relative: f64,
        /// In the metric's unit (ms for durations).
        absolute: f64,
    },
}

impl Tolerance {
    /// No worsening allowed.
    pub const ZERO: Tolerance = Tolerance::Allow {
        relative: 0.0,
        absolute: 0.0,
    };

    /// How much worse than `baseline` a value may be; `None` when off.
    pub fn allowed(self, baseline: f64) -> Option<f64> {
        match self {
            Tolerance::Off => None,
            Tolerance::Allow { relative, absolute } => Some(relative * baseline.abs() + absolute),
        }
    }

    /// Parses the text after `metric=`; `duration` allows `ms`, `s`, `m`,
    /// `h` on the absolute part.
    ///
    /// # Errors
    ///
    /// A sentence naming what was expected.
    pub fn parse(text: &str, duration: bool) -> Result<Tolerance, String> {
        let text = text.trim();
        if text == "off" {
            return Ok(Tolerance::Off);
        }
        let (mut relative, mut absolute) = (0.0, 0.0);
        for part in text.split('+').map(str::trim) {
            if let Some(pct) = part.strip_suffix('%') {
                relative += number(pct, text)? / 100.0;
            } else {
                absolute += amount(part, duration, text)?;
            }
        }
        Ok(Tolerance::Allow { relative, absolute })
    }
}

fn number(text: &str, whole: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "tolerance {whole:?}: expected a non-negative number, got {text:?}"
        )),
    }
}

fn amount(part: &str, duration: bool, whole: &str) -> Result<f64, String> {
    let units: [(&str, f64); 4] = [("ms", 1.0), ("s", 1e3), ("m", 60e3), ("h", 3600e3)];
    for (suffix, factor) in units {
        if let Some(n) = part.strip_suffix(suffix) {
            if !duration {
                return Err(format!(
                    "tolerance {whole:?}: a unit ({suffix}) is only allowed on a duration metric"
                ));
            }
            return Ok(number(n, whole)? * factor);
        }
    }
    number(part, whole)
}

impl Tolerance {
    /// As written on the command line; `duration` puts `ms` on the
    /// absolute part.
    pub fn describe(self, duration: bool) -> String {
        let unit = if duration { "ms" } else { "" };
        match self {
            Tolerance::Off => "off".to_string(),
            Tolerance::Allow { relative, absolute } => match (relative > 0.0, absolute > 0.0) {
                (false, false) => "0".to_string(),
                (true, false) => format!("{}%", relative * 100.0),
                (false, true) => format!("{absolute}{unit}"),
                (true, true) => format!("{}%+{absolute}{unit}", relative * 100.0),
            },
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_absolute_and_off() {
        assert_eq!(Tolerance::parse("off", false), Ok(Tolerance::Off));
        assert_eq!(Tolerance::parse("0", false), Ok(Tolerance::ZERO));
        let t = Tolerance::parse("10%+50ms", true).unwrap();
        assert_eq!(t.allowed(1_000.0), Some(150.0));
        let t = Tolerance::parse("2s", true).unwrap();
        assert_eq!(t.allowed(0.0), Some(2_000.0));
        let t = Tolerance::parse("5%", false).unwrap();
        assert!((t.allowed(0.9).unwrap() - 0.045).abs() < 1e-12);
    }

    #[test]
    fn refuses_units_on_ratios_and_negative_numbers() {
        assert!(Tolerance::parse("5ms", false)
            .unwrap_err()
            .contains("duration"));
        assert!(Tolerance::parse("-1", false).is_err());
        assert!(Tolerance::parse("ten%", false).is_err());
    }
}
