//! watchload's generator: a deterministic discrete-event simulation of
//! viewers on phones, TVs and laptops, the delivery faults between their
//! players and the broker, pacing on an absolute schedule, and the truth a
//! correct pipeline must produce from exactly what was sent.
//!
//! Layers, pure first: [`scenario`] (the TOML format), [`catalog`],
//! [`behaviour`] (users), [`faults`], [`shape`] and [`calibrate`] (load),
//! [`engine`] (records in send order); then I/O at the edges: [`sink`],
//! [`pacing`], [`truth`] and [`rundir`], tied together by [`run`].

pub mod behaviour;
pub mod calibrate;
pub mod catalog;
pub mod engine;
pub mod faults;
pub mod record;
pub mod rng;
pub mod scenario;
pub mod shape;

pub use engine::{Generator, Shard};
pub use scenario::Scenario;
pub mod pacing;
pub mod run;
pub mod rundir;
pub mod sink;
pub mod truth;
pub mod world;

pub use run::{run, Progress, RunConfig, RunError, RunSummary};
