//! The consume-sessionize-produce loop and its commits.

// RunnerError carries rdkafka's KafkaError by value, as rdkafka's own API
// does; errors happen once per run, so their size does not matter.
#![allow(clippy::result_large_err)]

use super::context::{PipelineContext, Revoked};
use super::error::RunnerError;
use super::progress::Progress;
use super::settings::KafkaSettings;
use super::{DLQ_DETAIL, DLQ_REASON, DLQ_SOURCE, HARNESS_PREFIX};
use crate::checkpoint::Checkpoint;
use crate::defects::Defect;
use crate::output::Output;
use crate::sessionizer::{Input, Sessionizer, SessionizerConfig};
use crate::stats::Stats;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// How long a blocking group-coordinator request may take.
const COORDINATOR_TIMEOUT: Duration = Duration::from_secs(10);
/// Outputs in flight above which the runner waits for their acks before
/// reading on, so memory stays bounded when the commit interval is long.
const MAX_IN_FLIGHT: usize = 50_000;

/// Runs the pipeline until `shutdown` completes, then flushes open sessions
/// (when configured), waits for every output to be acked and commits.
///
/// # Errors
///
/// [`RunnerError`] when a client cannot be created, an output cannot be
/// delivered, or the final commit fails. Poison records are not errors.
///
/// # Cancel safety
///
/// Dropping the future stops the pipeline without its final commit: a
/// crash. A restart resumes from the last commit and loses nothing.
pub async fn run(
    settings: &KafkaSettings,
    config: SessionizerConfig,
    shutdown: impl Future<Output = ()>,
    progress: Arc<Progress>,
) -> Result<Stats, RunnerError> {
    let flush_on_shutdown =
        settings.flush_on_shutdown && !config.defects.has(Defect::NoFlushOnShutdown);
    let core = Sessionizer::new(config)?;
    let context = PipelineContext {
        progress: Arc::clone(&progress),
        ..PipelineContext::default()
    };
    let revoked = context.revoked.clone();
    let consumer = consumer(settings, context)?;
    consumer
        .subscribe(&[&settings.input_topic])
        .map_err(|source| RunnerError::Subscribe {
            topic: settings.input_topic.clone(),
            source,
        })?;
    let mut worker = Worker {
        settings,
        core,
        producer: producer(settings)?,
        pending: Vec::new(),
        revoked,
        progress,
        last_commit: Vec::new(),
        receive_errors: 0,
    };
    info!(
        input = %settings.input_topic,
        output = %settings.output_topic,
        dlq = %settings.dlq_topic,
        group = %settings.group_id,
        "pipeline started"
    );

    let mut ticker = tokio::time::interval(settings.commit_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            _ = ticker.tick() => worker.commit(&consumer, false).await?,
            message = consumer.recv() => worker.on_received(&consumer, message).await?,
        }
    }

    if flush_on_shutdown {
        worker.flush()?;
    }
    worker.commit(&consumer, true).await?;
    let stats = worker.core.stats().clone();
    info!(
        records = stats.records,
        admitted = stats.admitted,
        duplicates = stats.duplicates,
        late = stats.late,
        poison = stats.poison_total(),
        upserts = stats.upserts,
        tombstones = stats.tombstones,
        replayed = stats.replayed,
        "pipeline stopped"
    );
    Ok(stats)
}

/// Runs the pipeline on its own runtime until SIGTERM or ctrl-c.
///
/// # Errors
///
/// As [`run`], and [`RunnerError::Runtime`] when the runtime or the signal
/// handlers cannot start.
pub fn run_until_signal(
    settings: &KafkaSettings,
    config: SessionizerConfig,
) -> Result<Stats, RunnerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| RunnerError::Runtime {
            what: "tokio runtime",
            source,
        })?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        run(settings, config, shutdown, Arc::new(Progress::default())).await
    })
}

/// Completes on the first SIGTERM or ctrl-c.
fn shutdown_signal() -> Result<impl Future<Output = ()>, RunnerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).map_err(|source| RunnerError::Runtime {
        what: "SIGTERM handler",
        source,
    })?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => info!("SIGTERM received, stopping"),
            _ = tokio::signal::ctrl_c() => info!("ctrl-c received, stopping"),
        }
    })
}

fn consumer(
    settings: &KafkaSettings,
    context: PipelineContext,
) -> Result<StreamConsumer<PipelineContext>, RunnerError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap)
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    let properties = settings.consumer_properties.iter();
    for (key, value) in properties.chain(&settings.properties) {
        config.set(key, value);
    }
    config
        .create_with_context(context)
        .map_err(|source| RunnerError::Client {
            client: "consumer",
            bootstrap: settings.bootstrap.clone(),
            source,
        })
}

fn producer(settings: &KafkaSettings) -> Result<FutureProducer, RunnerError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    config.create().map_err(|source| RunnerError::Client {
        client: "producer",
        bootstrap: settings.bootstrap.clone(),
        source,
    })
}

/// The state of a running pipeline beside its consumer.
struct Worker<'s> {
    settings: &'s KafkaSettings,
    core: Sessionizer,
    producer: FutureProducer,
    /// Deliveries not yet awaited, with whether each went to the DLQ.
    pending: Vec<(bool, DeliveryFuture)>,
    revoked: Revoked,
    progress: Arc<Progress>,
    last_commit: Vec<(i32, Checkpoint)>,
    receive_errors: u64,
}

impl std::fmt::Debug for Worker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Worker<'_> {
    async fn on_received(
        &mut self,
        consumer: &StreamConsumer<PipelineContext>,
        message: Result<BorrowedMessage<'_>, KafkaError>,
    ) -> Result<(), RunnerError> {
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                self.receive_errors += 1;
                warn!(error = %err, errors = self.receive_errors, "consumer error, continuing");
                return Ok(());
            }
        };
        self.forget_revoked();
        let partition = message.partition();
        if !self.core.has_partition(partition) {
            self.start_partition(consumer, partition, message.offset())?;
        }

        let input = Input {
            partition,
            offset: message.offset(),
            payload: message.payload(),
            timestamp_ms: message.timestamp().to_millis(),
        };
        let mut outputs = Vec::new();
        self.core.push(input, &mut outputs);
        let headers = harness_headers(&message);
        let source = format!("{}/{}/{}", message.topic(), partition, message.offset());
        self.send(outputs, &headers, message.key(), &source)?;
        self.progress.processed(partition, message.offset());
        if self.pending.len() > MAX_IN_FLIGHT {
            self.await_deliveries().await?;
        }
        Ok(())
    }

    fn forget_revoked(&mut self) {
        for partition in self.revoked.take() {
            self.core.forget(partition);
        }
    }

    /// Resumes a newly assigned partition from its committed checkpoint
    /// when the first record read is the committed offset.
    fn start_partition(
        &mut self,
        consumer: &StreamConsumer<PipelineContext>,
        partition: i32,
        first_offset: i64,
    ) -> Result<(), RunnerError> {
        let topic = &self.settings.input_topic;
        let mut list = TopicPartitionList::new();
        list.add_partition(topic, partition);
        let committed = consumer
            .committed_offsets(list, COORDINATOR_TIMEOUT)
            .map_err(|source| RunnerError::Committed {
                topic: topic.clone(),
                partition,
                group: self.settings.group_id.clone(),
                source,
            })?;
        let Some(element) = committed.find_partition(topic, partition) else {
            return Ok(());
        };
        let Offset::Offset(offset) = element.offset() else {
            info!(topic = %topic, partition, first_offset, "partition starts without a commit");
            return Ok(());
        };
        if offset != first_offset {
            warn!(
                topic = %topic, partition, committed = offset, first_offset,
                "first record read is not the committed offset; starting without state"
            );
            return Ok(());
        }
        match Checkpoint::from_metadata(offset, element.metadata()) {
            Ok(checkpoint) => {
                info!(
                    topic = %topic, partition, offset,
                    resume = checkpoint.resume_offset,
                    "partition resumed from checkpoint, replaying open state"
                );
                self.core.resume(partition, checkpoint);
            }
            Err(err) => warn!(topic = %topic, partition, error = %err, "starting without state"),
        }
        Ok(())
    }

    /// Emits every open session: the end of the stream.
    fn flush(&mut self) -> Result<(), RunnerError> {
        let mut outputs = Vec::new();
        self.core.flush(&mut outputs);
        info!(sessions = outputs.len(), "flushed open sessions");
        self.send(outputs, &[], None, "flush")
    }

    fn send(
        &mut self,
        outputs: Vec<Output>,
        harness: &[(String, Vec<u8>)],
        input_key: Option<&[u8]>,
        source: &str,
    ) -> Result<(), RunnerError> {
        for output in outputs {
            let mut headers = OwnedHeaders::new_with_capacity(harness.len() + 3);
            for (key, value) in harness {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            match output {
                Output::Upsert(record) => {
                    let payload = serde_json::to_vec(&record).expect("sessions serialize");
                    self.enqueue(false, record.session_id.as_bytes(), Some(&payload), headers)?;
                }
                Output::Tombstone { session_id } => {
                    self.enqueue(false, session_id.as_bytes(), None, headers)?;
                }
                Output::DeadLetter(letter) => {
                    let detail = letter.reason.detail.as_str();
                    let headers = headers
                        .insert(header(DLQ_REASON, letter.reason.kind.as_str()))
                        .insert(header(DLQ_DETAIL, detail))
                        .insert(header(DLQ_SOURCE, source));
                    let key = input_key.unwrap_or_default();
                    self.enqueue(true, key, Some(&letter.payload), headers)?;
                }
            }
        }
        Ok(())
    }

    fn enqueue(
        &mut self,
        dlq: bool,
        key: &[u8],
        payload: Option<&[u8]>,
        headers: OwnedHeaders,
    ) -> Result<(), RunnerError> {
        let topic = self.topic(dlq);
        let mut record = FutureRecord::<[u8], [u8]>::to(topic)
            .key(key)
            .headers(headers);
        if let Some(payload) = payload {
            record = record.payload(payload);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.pending.push((dlq, delivery));
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((source, _)) => {
                    return Err(RunnerError::Produce {
                        topic: topic.to_string(),
                        source,
                    })
                }
            }
        }
    }

    fn topic(&self, dlq: bool) -> &str {
        if dlq {
            &self.settings.dlq_topic
        } else {
            &self.settings.output_topic
        }
    }

    /// Waits until every output handed to the producer is acked.
    async fn await_deliveries(&mut self) -> Result<(), RunnerError> {
        for (dlq, delivery) in std::mem::take(&mut self.pending) {
            let source = match delivery.await {
                Ok(Ok(_)) => continue,
                Ok(Err((source, _))) => source,
                Err(_) => KafkaError::Canceled,
            };
            return Err(RunnerError::Delivery {
                topic: self.topic(dlq).to_string(),
                source,
            });
        }
        Ok(())
    }

    /// Commits each partition's checkpoint once every output before it is
    /// acked. A failed periodic commit is retried at the next tick; a failed
    /// final commit is an error, and so is a commit refused with
    /// `UnknownMemberId` (the runner stops so a fresh member rejoins).
    async fn commit(
        &mut self,
        consumer: &StreamConsumer<PipelineContext>,
        last: bool,
    ) -> Result<(), RunnerError> {
        self.await_deliveries().await?;
        self.forget_revoked();
        let checkpoints = self.core.checkpoints();
        if checkpoints.is_empty() || checkpoints == self.last_commit {
            return Ok(());
        }
        let topic = &self.settings.input_topic;
        let mut list = TopicPartitionList::new();
        for (partition, checkpoint) in &checkpoints {
            let offset = Offset::Offset(checkpoint.offset);
            if let Err(source) = list.add_partition_offset(topic, *partition, offset) {
                return Err(self.commit_error(source));
            }
            if let Some(mut element) = list.find_partition(topic, *partition) {
                element.set_metadata(checkpoint.metadata());
            }
        }
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                debug!(partitions = checkpoints.len(), "offsets committed");
                let mut through = self
                    .progress
                    .committed_through
                    .lock()
                    .expect("progress poisoned");
                for (partition, checkpoint) in &checkpoints {
                    through.insert(*partition, checkpoint.resume_offset);
                }
                drop(through);
                self.last_commit = checkpoints;
                self.progress.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(source) if last => Err(self.commit_error(source)),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::UnknownMemberId)) => {
                // The group no longer knows this member: its partitions are
                // being taken away, and a broker that lost the membership
                // (Tansu under write contention) may never hand them back.
                // Stop, so that whoever runs the pipeline starts a fresh
                // member, which resumes from the last commit.
                warn!(topic = %topic, "commit refused: unknown member; stopping to rejoin afresh");
                Err(self.commit_error(KafkaError::ConsumerCommit(
                    RDKafkaErrorCode::UnknownMemberId,
                )))
            }
            Err(err) => {
                warn!(topic = %topic, error = %err, "commit failed, retrying at the next tick");
                Ok(())
            }
        }
    }

    fn commit_error(&self, source: KafkaError) -> RunnerError {
        RunnerError::Commit {
            topic: self.settings.input_topic.clone(),
            group: self.settings.group_id.clone(),
            source,
        }
    }
}

/// The input's harness headers (`watchload.*`), to copy onto its outputs.
fn harness_headers(message: &BorrowedMessage<'_>) -> Vec<(String, Vec<u8>)> {
    let Some(headers) = message.headers() else {
        return Vec::new();
    };
    headers
        .iter()
        .filter(|h| h.key.starts_with(HARNESS_PREFIX))
        .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
        .collect()
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
