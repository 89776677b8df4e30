//! Where the Kafka runner reads and writes, and how.

use std::time::Duration;

/// Settings of the Kafka runner.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `bootstrap.servers`, e.g. `localhost:9092`.
    pub bootstrap: String,
    /// Topic the playback events are read from.
    pub input_topic: String,
    /// Topic the session changelog is written to (keyed by `session_id`;
    /// compaction-friendly: a null payload is a tombstone).
    pub output_topic: String,
    /// Topic poison records are written to, unchanged, with reason headers.
    pub dlq_topic: String,
    /// Consumer group id; offsets and checkpoints are committed under it.
    pub group_id: String,
    /// librdkafka properties passed through to both the consumer and the
    /// producer (`-X key=value`); they override the runner's defaults.
    pub properties: Vec<(String, String)>,
    /// librdkafka properties for the consumer only, applied before
    /// `properties` (which override them).
    pub consumer_properties: Vec<(String, String)>,
    /// How often outputs are awaited and offsets committed.
    pub commit_interval: Duration,
    /// Emit open sessions at shutdown: right for an end of stream (a test
    /// that is over), wrong for a pipeline that will be restarted and see
    /// more events (the flushed sessions are then updated or tombstoned).
    pub flush_on_shutdown: bool,
}

impl KafkaSettings {
    /// Settings with defaults for everything but the servers and names:
    /// commit every second, no flush on shutdown, no extra properties.
    pub fn new(
        bootstrap: impl Into<String>,
        input_topic: impl Into<String>,
        output_topic: impl Into<String>,
        dlq_topic: impl Into<String>,
        group_id: impl Into<String>,
    ) -> Self {
        KafkaSettings {
            bootstrap: bootstrap.into(),
            input_topic: input_topic.into(),
            output_topic: output_topic.into(),
            dlq_topic: dlq_topic.into(),
            group_id: group_id.into(),
            properties: Vec::new(),
            consumer_properties: Vec::new(),
            commit_interval: Duration::from_secs(1),
            flush_on_shutdown: false,
        }
    }
}
