//! Where the cluster is, which topics watchload uses, and the librdkafka
//! configuration every client gets.
//!
//! Properties reach librdkafka in this order, later wins: watchload's
//! defaults, the fields of [`ProducerTuning`], `[kafka.properties]` from the
//! scenario, then `-X key=value` from the command line.

use crate::properties::{check_key, PropertyError};
use rdkafka::ClientConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

/// The `bootstrap` value that starts the embedded mock cluster.
pub const EMBEDDED: &str = "embedded";

/// The Kafka section of a scenario (`[kafka]`), also built from CLI flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `"embedded"` (the default) starts librdkafka's mock cluster inside
    /// the watchload process; anything else is a comma-separated list of
    /// `host:port` brokers of a real cluster.
    pub bootstrap: String,
    /// Number of brokers of the embedded cluster. Ignored for a real cluster.
    pub embedded_brokers: i32,
    /// Topic names.
    pub topics: TopicNames,
    /// Partitions of each topic watchload creates (topics that already exist
    /// are left as they are).
    pub partitions: i32,
    /// Replication factor of each topic watchload creates. 1 suits a single
    /// development broker; production-like clusters want 3.
    pub replication_factor: i32,
    /// Producer settings a load generator needs to get right.
    pub producer: ProducerTuning,
    /// librdkafka properties passed to every client unchanged, after
    /// watchload's defaults (`"linger.ms" = "10"`, `"security.protocol" =
    /// "SASL_SSL"`, ...). See librdkafka's CONFIGURATION.md for keys.
    pub properties: BTreeMap<String, String>,
}

/// The topics of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicNames {
    /// Where the generator sends events (the pipeline's input).
    pub events: String,
    /// Where the pipeline writes watch sessions (the verifier's input).
    pub sessions: String,
    /// Where the pipeline writes records it could not parse (dead letters).
    pub dlq: String,
}

/// Producer settings. Every other producer property can still be set
/// through `properties`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerTuning {
    /// Idempotent producing (`enable.idempotence`): librdkafka's retries
    /// never write a record twice, and acks are from all in-sync replicas.
    pub idempotence: bool,
    /// How long librdkafka waits to fill a batch (`linger.ms`), e.g. "5ms".
    #[serde(with = "duration_text")]
    pub linger: Duration,
    /// Largest batch per partition in bytes (`batch.size`).
    pub batch_size: u64,
    /// Upper bound between sending a record and learning its delivery outcome
    /// (`message.timeout.ms`), e.g. "30s". A record still unacknowledged then
    /// is resolved as indeterminate, so a run always ends.
    #[serde(with = "duration_text")]
    pub message_timeout: Duration,
    /// Compression codec of batches (`compression.codec`): none, gzip,
    /// snappy, lz4 or zstd.
    pub compression: String,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            bootstrap: EMBEDDED.to_string(),
            embedded_brokers: 3,
            topics: TopicNames::default(),
            partitions: 6,
            replication_factor: 1,
            producer: ProducerTuning::default(),
            properties: BTreeMap::new(),
        }
    }
}

impl Default for TopicNames {
    fn default() -> Self {
        TopicNames {
            events: "watchload.events".to_string(),
            sessions: "watchload.sessions".to_string(),
            dlq: "watchload.dlq".to_string(),
        }
    }
}

impl Default for ProducerTuning {
    fn default() -> Self {
        ProducerTuning {
            idempotence: true,
            linger: Duration::from_millis(5),
            batch_size: 1_000_000,
            message_timeout: Duration::from_secs(30),
            compression: "none".to_string(),
        }
    }
}

impl KafkaSettings {
    /// Whether `bootstrap` asks for the embedded mock cluster.
    pub fn is_embedded(&self) -> bool {
        self.bootstrap.trim() == EMBEDDED
    }

    /// Problems with these settings, each a sentence naming its key under
    /// `kafka.`; empty when the settings are usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.is_embedded() {
            for server in self.bootstrap.split(',').map(str::trim) {
                if !is_host_port(server) {
                    out.push(format!(
                        "kafka.bootstrap: {server:?} is not host:port (or use \"embedded\")"
                    ));
                }
            }
        }
        if self.embedded_brokers < 1 {
            out.push("kafka.embedded_brokers must be at least 1".to_string());
        }
        if self.partitions < 1 {
            out.push("kafka.partitions must be at least 1".to_string());
        }
        if self.replication_factor < 1 {
            out.push("kafka.replication_factor must be at least 1".to_string());
        }
        if self.is_embedded() && self.replication_factor > self.embedded_brokers {
            out.push(format!(
                "kafka.replication_factor ({}) exceeds kafka.embedded_brokers ({})",
                self.replication_factor, self.embedded_brokers
            ));
        }
        out.extend(self.topic_problems());
        out.extend(self.producer.problems());
        for key in self.properties.keys() {
            if let Err(err) = check_key(key) {
                out.push(format!("kafka.properties: {err}"));
            }
        }
        out
    }

    fn topic_problems(&self) -> Vec<String> {
        let topics = [
            ("events", &self.topics.events),
            ("sessions", &self.topics.sessions),
            ("dlq", &self.topics.dlq),
        ];
        let mut out = Vec::new();
        for (key, name) in topics {
            if !is_topic_name(name) {
                out.push(format!(
                    "kafka.topics.{key}: {name:?} is not a Kafka topic name \
                     (1 to 249 of a-z A-Z 0-9 . _ -)"
                ));
            }
        }
        if self.topics.events == self.topics.sessions || self.topics.events == self.topics.dlq {
            out.push("kafka.topics: events must not share a topic with sessions or dlq".into());
        }
        out
    }

    /// Adds passthrough properties (from `-X`), overriding earlier values.
    ///
    /// # Errors
    ///
    /// [`PropertyError::Reserved`] for a key watchload owns.
    pub fn apply_overrides<I>(&mut self, overrides: I) -> Result<(), PropertyError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (key, value) in overrides {
            check_key(&key)?;
            self.properties.insert(key, value);
        }
        Ok(())
    }

    /// Configuration shared by every client: the brokers and passthrough
    /// properties.
    pub fn client_config(&self, bootstrap: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", bootstrap);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// Configuration of watchload's producer: defaults for a load generator,
    /// then [`ProducerTuning`], then the passthrough properties.
    pub fn producer_config(&self, bootstrap: &str) -> ClientConfig {
        let tuning = &self.producer;
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", tuning.idempotence.to_string())
            .set("acks", "all")
            .set("linger.ms", tuning.linger.as_millis().to_string())
            .set("batch.size", tuning.batch_size.to_string())
            .set(
                "message.timeout.ms",
                tuning.message_timeout.as_millis().to_string(),
            )
            .set("compression.codec", &tuning.compression)
            // The Java client's partitioner, so a key lands on the partition
            // a JVM pipeline (Kafka Streams, Flink) would choose for it.
            .set("partitioner", "murmur2_random");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// Configuration of a consumer that reads by assignment, outside any
    /// consumer group, and never commits.
    pub fn reader_config(&self, bootstrap: &str) -> ClientConfig {
        let mut config = self.client_config(bootstrap);
        config
            .set("group.id", "watchload-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest");
        config
    }
}

impl ProducerTuning {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.message_timeout.is_zero() {
            out.push(
                "kafka.producer.message_timeout must be positive: zero waits forever, \
                 and a run must end"
                    .to_string(),
            );
        }
        if self.message_timeout <= self.linger {
            out.push("kafka.producer.message_timeout must exceed kafka.producer.linger".into());
        }
        if self.batch_size == 0 {
            out.push("kafka.producer.batch_size must be positive".to_string());
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&self.compression.as_str()) {
            out.push(format!(
                "kafka.producer.compression: {:?} is not one of none, gzip, snappy, lz4, zstd",
                self.compression
            ));
        }
        out
    }
}

fn is_host_port(server: &str) -> bool {
    match server.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

fn is_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Durations written as text ("5ms", "30s") in scenarios.
mod duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|err| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like \"5ms\" or \"30s\": {err}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_usable() {
        assert_eq!(KafkaSettings::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn reads_a_partial_section_with_durations_as_text() {
        let text = r#"
            bootstrap = "127.0.0.1:9092,127.0.0.1:9093"
            partitions = 12
            [producer]
            linger = "20ms"
            message_timeout = "10s"
            [properties]
            "queue.buffering.max.messages" = "500000"
        "#;
        let settings: KafkaSettings = toml::from_str(text).unwrap();
        assert!(!settings.is_embedded());
        assert_eq!(settings.partitions, 12);
        assert_eq!(settings.producer.linger, Duration::from_millis(20));
        assert_eq!(settings.producer.message_timeout, Duration::from_secs(10));
        assert!(settings.producer.idempotence);
        assert_eq!(settings.problems(), Vec::<String>::new());
    }

    #[test]
    fn refuses_unknown_keys() {
        let err = toml::from_str::<KafkaSettings>("partitons = 3").unwrap_err();
        assert!(err.to_string().contains("partitons"), "{err}");
    }

    #[test]
    fn names_a_bad_duration() {
        let err = toml::from_str::<KafkaSettings>("[producer]\nlinger = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("\"soon\""), "{err}");
    }

    #[test]
    fn lists_every_problem_with_its_key() {
        let settings = KafkaSettings {
            bootstrap: "localhost".to_string(),
            partitions: 0,
            replication_factor: 0,
            topics: TopicNames {
                events: "bad topic".to_string(),
                ..TopicNames::default()
            },
            properties: BTreeMap::from([("bootstrap.servers".to_string(), "x:1".to_string())]),
            ..KafkaSettings::default()
        };
        let problems = settings.problems().join("\n");
        for key in [
            "kafka.bootstrap",
            "kafka.partitions",
            "kafka.replication_factor",
            "kafka.topics.events",
            "kafka.properties",
        ] {
            assert!(problems.contains(key), "{key} missing from:\n{problems}");
        }
    }

    #[test]
    fn later_sources_override_earlier_ones() {
        let mut settings = KafkaSettings::default();
        settings
            .properties
            .insert("linger.ms".to_string(), "50".to_string());
        settings
            .apply_overrides([("linger.ms".to_string(), "7".to_string())])
            .unwrap();
        let config = settings.producer_config("127.0.0.1:9092");
        assert_eq!(config.get("linger.ms"), Some("7"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("acks"), Some("all"));
    }

    #[test]
    fn replication_cannot_exceed_the_embedded_brokers() {
        let settings = KafkaSettings {
            replication_factor: 4,
            ..KafkaSettings::default()
        };
        assert_eq!(settings.problems().len(), 1);
    }
}
