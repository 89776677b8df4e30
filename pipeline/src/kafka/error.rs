//! Failures that stop the Kafka runner.

use crate::sessionizer::SessionizerError;
use rdkafka::error::KafkaError;

/// A failure that stops the Kafka runner.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The sessionizer configuration is invalid.
    #[error(transparent)]
    Sessionizer(#[from] SessionizerError),
    /// A Kafka client could not be created.
    #[error("cannot create the Kafka {client} for bootstrap servers {bootstrap}")]
    Client {
        /// `consumer` or `producer`.
        client: &'static str,
        /// The bootstrap servers.
        bootstrap: String,
        #[source]
        source: KafkaError,
    },
    /// Subscribing to the input topic failed.
    #[error("cannot subscribe to topic {topic}")]
    Subscribe {
        /// The input topic.
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// A record could not be handed to the producer.
    #[error("cannot produce to topic {topic}")]
    Produce {
        /// The output or dead-letter topic.
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The producer gave up on a record: outputs would be lost, so the
    /// runner stops without committing past it.
    #[error("delivery to topic {topic} failed")]
    Delivery {
        /// The output or dead-letter topic.
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The committed offset of a partition could not be read.
    #[error("cannot read the committed offset of {topic}/{partition} for group {group}")]
    Committed {
        /// The input topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The consumer group.
        group: String,
        #[source]
        source: KafkaError,
    },
    /// The final commit at shutdown failed, or a commit was refused because
    /// the group no longer knows this member (the runner stops to rejoin
    /// afresh).
    #[error("cannot commit offsets of topic {topic} for group {group}")]
    Commit {
        /// The input topic.
        topic: String,
        /// The consumer group.
        group: String,
        #[source]
        source: KafkaError,
    },
    /// The async runtime or the signal handlers could not start.
    #[error("cannot start the runtime: {what}")]
    Runtime {
        /// What failed to start.
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
