//! The watch-session data model of watchload: the events players send, the
//! sessions a pipeline must produce from them, and the semantics that turn
//! one into the other.
//!
//! This crate is pure: no I/O, no clock, no Kafka. Everything here is a
//! function of its inputs, which is what lets the generator, the verifier
//! and the reference pipeline agree on one definition. `docs/model.md` is
//! the same contract written for pipeline authors; the two must agree.

pub mod event;
pub mod rules;
pub mod session;
pub mod sessionize;
pub mod testkit;
pub mod truth;

pub use event::{DeviceType, EventType, WatchEvent, SCHEMA_VERSION};
pub use rules::SessionRules;
pub use session::{DeviceBreakdown, WatchSession};
pub use sessionize::sessionize;
pub use truth::{Admission, TruthBuilder, TruthSession};
