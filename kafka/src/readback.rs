//! Reading a topic back after a run: every partition from its low to its
//! high watermark, one partition after the other, so records come in
//! partition order (partition 0 first, offsets ascending), the order stream
//! time and lateness are defined in.
//!
//! The reader takes no part in any consumer group and commits nothing. It
//! reads each partition to its end: at least to the high watermark it finds
//! when it starts, then on until librdkafka reports the end of the
//! partition (so records written during the read may be included; after a
//! run nothing is written). A deadline bounds the whole read: a partition it
//! could not finish is reported as incomplete, never waited on forever.

use crate::context::TracingContext;
use crate::headers::{self, HarnessHeaders};
use crate::settings::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Longest single wait for a record, so the deadline is checked often.
const POLL_SLICE: Duration = Duration::from_millis(200);

/// A read-back that could not start.
#[derive(Debug, Error)]
pub enum ReadBackError {
    /// librdkafka refused the consumer configuration.
    #[error("creating a reader for topic {topic} on {bootstrap}")]
    Create {
        /// Topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// Metadata or watermarks could not be fetched.
    #[error("reading {what} of topic {topic} on {bootstrap}")]
    Metadata {
        /// What was fetched, naming the partition when there is one.
        what: String,
        /// Topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The topic does not exist.
    #[error("topic {topic} does not exist on {bootstrap}")]
    NoSuchTopic {
        /// Topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
    },
    /// Assigning a partition failed.
    #[error("assigning partition {partition} of topic {topic}")]
    Assign {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
}

/// One record as read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Payload bytes, if any (a tombstone has none).
    pub payload: Option<Vec<u8>>,
    /// Headers in order, a header without value as an empty value.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Record timestamp, epoch milliseconds, when the record has one.
    pub timestamp_ms: Option<i64>,
}

impl ReadRecord {
    /// Copies a consumed message.
    pub fn from_message<M: Message>(message: &M) -> ReadRecord {
        ReadRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: message.headers().map(headers::to_pairs).unwrap_or_default(),
            timestamp_ms: message.timestamp().to_millis(),
        }
    }

    /// The value of the first header named `key`.
    pub fn header(&self, key: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// The harness headers, when watchload produced this record.
    pub fn harness(&self) -> Option<HarnessHeaders> {
        headers::decode(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }
}

/// How far one partition was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionRead {
    /// Partition.
    pub partition: i32,
    /// Low watermark when the read started.
    pub low: i64,
    /// High watermark when the read started: the read goes at least this far.
    pub high: i64,
    /// Records read.
    pub records: u64,
    /// Whether the read reached `high` and the end of the partition before
    /// the deadline.
    pub complete: bool,
}

/// What a read-back covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBackSummary {
    /// Topic.
    pub topic: String,
    /// Each partition, in partition order.
    pub partitions: Vec<PartitionRead>,
    /// Whether every partition was read to its high watermark.
    pub complete: bool,
}

impl ReadBackSummary {
    /// Records read over all partitions.
    pub fn records(&self) -> u64 {
        self.partitions.iter().map(|p| p.records).sum()
    }
}

/// Reads `topic` from the beginning to the end of each partition, calling
/// `on_record` for each record in partition order, and gives up on what is
/// left when `deadline` has passed. Blocks: call it from a blocking context.
///
/// # Errors
///
/// [`ReadBackError`] when the reader cannot be created, the topic does not
/// exist, or metadata cannot be fetched. Running out of time is not an
/// error: see [`ReadBackSummary::complete`].
pub fn read_back<F>(
    settings: &KafkaSettings,
    bootstrap: &str,
    topic: &str,
    deadline: Duration,
    mut on_record: F,
) -> Result<ReadBackSummary, ReadBackError>
where
    F: FnMut(ReadRecord),
{
    let until = Instant::now() + deadline;
    let consumer: BaseConsumer<TracingContext> = settings
        .reader_config(bootstrap)
        .create_with_context(TracingContext::default())
        .map_err(|source| ReadBackError::Create {
            topic: topic.to_string(),
            bootstrap: bootstrap.to_string(),
            source: Box::new(source),
        })?;
    let reader = Reader {
        consumer,
        topic,
        bootstrap,
        until,
    };

    let mut partitions = Vec::new();
    for partition in reader.partitions()? {
        partitions.push(reader.read_partition(partition, &mut on_record)?);
    }
    let complete = partitions.iter().all(|p| p.complete);
    if !complete {
        tracing::warn!(
            topic,
            ?deadline,
            "read-back ran out of time before the high watermarks"
        );
    }
    Ok(ReadBackSummary {
        topic: topic.to_string(),
        partitions,
        complete,
    })
}

/// [`read_back`] into a vector.
///
/// # Errors
///
/// As [`read_back`].
pub fn read_all(
    settings: &KafkaSettings,
    bootstrap: &str,
    topic: &str,
    deadline: Duration,
) -> Result<(Vec<ReadRecord>, ReadBackSummary), ReadBackError> {
    let mut records = Vec::new();
    let summary = read_back(settings, bootstrap, topic, deadline, |r| records.push(r))?;
    Ok((records, summary))
}

struct Reader<'a> {
    consumer: BaseConsumer<TracingContext>,
    topic: &'a str,
    bootstrap: &'a str,
    until: Instant,
}

impl Reader<'_> {
    fn remaining(&self) -> Duration {
        self.until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    fn metadata_error(&self, what: String, source: KafkaError) -> ReadBackError {
        ReadBackError::Metadata {
            what,
            topic: self.topic.to_string(),
            bootstrap: self.bootstrap.to_string(),
            source: Box::new(source),
        }
    }

    /// The topic's partition ids, ascending.
    fn partitions(&self) -> Result<Vec<i32>, ReadBackError> {
        let metadata = self
            .consumer
            .fetch_metadata(Some(self.topic), self.remaining())
            .map_err(|source| self.metadata_error("metadata".to_string(), source))?;
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic)
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .ok_or_else(|| ReadBackError::NoSuchTopic {
                topic: self.topic.to_string(),
                bootstrap: self.bootstrap.to_string(),
            })?;
        let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn read_partition<F>(
        &self,
        partition: i32,
        on_record: &mut F,
    ) -> Result<PartitionRead, ReadBackError>
    where
        F: FnMut(ReadRecord),
    {
        let (low, high) = self
            .consumer
            .fetch_watermarks(self.topic, partition, self.remaining())
            .map_err(|source| {
                self.metadata_error(format!("watermarks of partition {partition}"), source)
            })?;
        let mut read = PartitionRead {
            partition,
            low,
            high,
            records: 0,
            complete: high <= low,
        };
        if read.complete {
            return Ok(read);
        }

        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(self.topic, partition, Offset::Offset(low))
            .and_then(|()| self.consumer.assign(&assignment))
            .map_err(|source| ReadBackError::Assign {
                topic: self.topic.to_string(),
                partition,
                source: Box::new(source),
            })?;
        let mut next = low;
        while !read.complete && Instant::now() < self.until {
            match self.consumer.poll(self.remaining().min(POLL_SLICE)) {
                Some(Ok(message)) => {
                    next = message.offset() + 1;
                    on_record(ReadRecord::from_message(&message));
                    read.records += 1;
                }
                // The end of the partition as the broker sees it now. Only
                // trusted past the high watermark read at the start: some
                // brokers (Tansu 0.6) report a high watermark below the
                // last offset, so records past it are read too.
                Some(Err(KafkaError::PartitionEOF(_))) => read.complete = next >= high,
                Some(Err(error)) => {
                    tracing::debug!(topic = self.topic, partition, %error, "read-back retrying");
                }
                None => {}
            }
        }
        let _ = self.consumer.unassign();
        Ok(read)
    }
}
