//! Defect switches: deliberate bugs, each one seen in real pipelines, that
//! make the reference pipeline wrong in one known way. They exist to prove
//! that the verifier catches real bugs; all are off by default.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberate deviation from the session semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// Every record counts, duplicates (same `event_id`) included.
    NoDedup,
    /// Sessions on arrival time (the record timestamp) instead of
    /// `event_time`.
    ProcessingTime,
    /// Sessions keyed by device, not by user: no cross-device sessions.
    SingleDevice,
    /// Drops every out-of-order event, even one within allowed lateness.
    DropLate,
    /// Open sessions are not emitted at shutdown or at the end of a file.
    NoFlushOnShutdown,
    /// Commits the consumed position instead of the oldest offset open
    /// state needs, so a restart forgets the events of open sessions.
    LoseStateOnRestart,
    /// A gap equal to `session_gap` splits the session.
    ExclusiveGap,
}

impl Defect {
    /// Every defect, in a fixed order.
    pub const ALL: [Defect; 7] = [
        Defect::NoDedup,
        Defect::ProcessingTime,
        Defect::SingleDevice,
        Defect::DropLate,
        Defect::NoFlushOnShutdown,
        Defect::LoseStateOnRestart,
        Defect::ExclusiveGap,
    ];

    /// The kebab-case name used on the command line and in scenarios.
    pub fn as_str(self) -> &'static str {
        match self {
            Defect::NoDedup => "no-dedup",
            Defect::ProcessingTime => "processing-time",
            Defect::SingleDevice => "single-device",
            Defect::DropLate => "drop-late",
            Defect::NoFlushOnShutdown => "no-flush-on-shutdown",
            Defect::LoseStateOnRestart => "lose-state-on-restart",
            Defect::ExclusiveGap => "exclusive-gap",
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`Defect`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect {name:?}; expected one of: {}", known_names())]
pub struct UnknownDefect {
    /// The name given.
    pub name: String,
}

fn known_names() -> String {
    let names: Vec<&str> = Defect::ALL.iter().map(|d| d.as_str()).collect();
    names.join(", ")
}

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDefect {
                name: s.to_string(),
            })
    }
}

/// The set of defects switched on; empty means the correct pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    /// No defect: the correct pipeline.
    pub fn none() -> Self {
        Defects::default()
    }

    /// Whether `defect` is switched on.
    pub fn has(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    /// Switches `defect` on.
    pub fn insert(&mut self, defect: Defect) {
        self.0.insert(defect);
    }

    /// Whether no defect is switched on.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The defects switched on, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Defect> for Defects {
    fn from_iter<I: IntoIterator<Item = Defect>>(iter: I) -> Self {
        Defects(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for defect in Defect::ALL {
            assert_eq!(defect.as_str().parse::<Defect>(), Ok(defect));
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "no-such".parse::<Defect>().unwrap_err();
        assert!(err.to_string().contains("exclusive-gap"), "{err}");
    }
}
