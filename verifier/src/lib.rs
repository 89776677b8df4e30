//! The watchload verifier: judges a pipeline's watch sessions against the
//! truth of a generated run, explains every difference by the faults that
//! were injected, and gives a verdict against thresholds.
//!
//! Layout: [`source`] yields raw output records (files now, Kafka later),
//! [`decode`] and [`mapping`] turn them into sessions, [`spill`] routes both
//! sides into per-user buckets on disk in the [`compact`] format,
//! [`matching`] (pure) classifies one user at a time, [`attribution`] names
//! the faults, [`tally`] and [`report`] add it all up, [`threshold`] and [`markdown`] give the
//! verdict and the summary. [`verify()`] runs the whole thing.

pub mod assign;
pub mod attribution;
pub mod compact;
pub mod decode;
mod judge;
pub mod lag;
pub mod mapping;
pub mod markdown;
pub mod matching;
mod native;
mod phase_one;
pub mod report;
pub mod run_dir;
pub mod source;
pub mod spill;
pub mod tally;
pub mod threshold;
pub mod timeline;
pub mod verify;

pub use matching::Class;
pub use report::{Report, REPORT_SCHEMA_VERSION};
pub use source::{JsonlSource, Origin, Payload, RawRecord, SessionSource, SourceError};
pub use threshold::{parse_thresholds, Threshold, ThresholdError};
pub use verify::{verify, OutputMode, VerifyError, VerifyOptions};
