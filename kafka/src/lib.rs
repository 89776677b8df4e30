//! Kafka plumbing for watchload, on rdkafka (librdkafka):
//!
//! - [`settings`]: the `[kafka]` section of a scenario and the librdkafka
//!   configuration derived from it; [`properties`] parses `-X key=value`;
//! - [`cluster`]: the embedded mock cluster (chaos: broker down/up,
//!   latency) or a real cluster, and creating topics on either;
//! - [`producer`]: sending records with harness [`headers`] and resolving
//!   each to one delivery [`outcome`] (acked, failed, indeterminate);
//! - [`readback`]: reading a topic back to its high watermarks, in
//!   partition order, within a deadline; [`tail`]: a live tail stamping
//!   each record when first seen;
//! - [`reconcile`]: delivery outcomes against the log (broker data loss,
//!   delivered, not delivered).
//!
//! `docs/kafka.md` explains the semantics for users.

pub mod cluster;
pub mod context;
pub mod headers;
pub mod outcome;
pub mod producer;
pub mod properties;
pub mod readback;
pub mod reconcile;
pub mod settings;
pub mod tail;

pub use cluster::{Cluster, ClusterError, EmbeddedCluster};
pub use outcome::{DeliveryOutcome, OutcomeKind, OutcomeTally};
pub use producer::{DeliveryLedger, OutgoingRecord, ProduceError, RecordProducer};
pub use properties::{parse_property, PropertyError};
pub use readback::{read_all, read_back, ReadBackError, ReadBackSummary, ReadRecord};
pub use reconcile::{Fate, ReconcileCounts, Reconciler, Reconciliation};
pub use settings::{KafkaSettings, ProducerTuning, TopicNames, EMBEDDED};
pub use tail::{SeenRecord, TailConsumer, TailError, TailStart};
