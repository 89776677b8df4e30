//! The reference pipeline of watchload: a streaming sessionizer that turns
//! playback events into cross-device watch sessions exactly as
//! `watchload_model::sessionize` defines them, with per-partition
//! watermarks, de-duplication, allowed lateness, updates and tombstones.
//!
//! Layout: a pure core ([`Sessionizer`], no I/O) and two edges that drive
//! it: [`file`] (events.jsonl in, sessions.jsonl out) and [`kafka`] (a
//! consumer group in, sessions and dead-letter topics out, restart-safe
//! commits). `docs/pipeline.md` explains the design for users.

pub mod checkpoint;
pub mod defects;
pub mod file;
pub mod kafka;
pub mod output;
mod partition;
pub mod sessionizer;
pub mod stats;
mod user;
pub mod validate;

pub use checkpoint::Checkpoint;
pub use defects::{Defect, Defects};
pub use output::{FinalView, Output, SessionRecord};
pub use sessionizer::{Input, Sessionizer, SessionizerConfig, SessionizerError};
pub use stats::Stats;

#[cfg(test)]
mod tests;
