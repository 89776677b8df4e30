//! watchload's producer: sends records with harness headers and resolves
//! every one to exactly one delivery outcome (see [`crate::outcome`]).
//!
//! Each record gets a number (`watchload.record`, from 0, in send order)
//! that indexes its outcome. The outcome comes from librdkafka's delivery
//! report, served on the producer's polling thread; a record that `produce`
//! refuses outright is resolved on the spot. `message.timeout.ms` bounds the
//! wait for a report, and [`RecordProducer::finish`] purges whatever is still
//! open after it, so every record is resolved when `finish` returns.
//!
//! Partitions are chosen by librdkafka's partitioner (`murmur2_random` by
//! default, the Java client's choice, so the key `user_id` lands where a JVM
//! pipeline expects it) unless a record names its partition.

use crate::context::TracingContext;
use crate::headers;
use crate::outcome::{DeliveryOutcome, OutcomeTally};
use crate::settings::KafkaSettings;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, PurgeConfig, ThreadedProducer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// How long one backpressure wait lasts before the record is offered again.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(1);

/// A producer that cannot go on.
#[derive(Debug, Error)]
pub enum ProduceError {
    /// librdkafka refused the configuration.
    #[error("creating a producer for topic {topic} on {bootstrap}")]
    Create {
        /// Target topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
        /// librdkafka's error, naming the property when one is wrong.
        #[source]
        source: Box<KafkaError>,
    },
    /// The producer hit a fatal error (e.g. the idempotent producer lost
    /// its sequence); the record is counted as failed.
    #[error("producer to topic {topic} failed fatally: {reason}")]
    Fatal {
        /// Target topic.
        topic: String,
        /// librdkafka's explanation.
        reason: String,
    },
}

/// One record to send.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingRecord<'a, L = String> {
    /// The record key: the event's `user_id`.
    pub key: &'a str,
    /// The encoded event (or a poison record).
    pub payload: &'a [u8],
    /// Intended send time, epoch milliseconds (`watchload.send_time`).
    pub send_time_ms: i64,
    /// Fault labels (`watchload.labels`).
    pub labels: &'a [L],
    /// A partition chosen by the caller; `None` lets the partitioner hash
    /// the key.
    pub partition: Option<i32>,
    /// The record timestamp, epoch milliseconds; `None` lets librdkafka
    /// stamp the time of sending.
    pub timestamp_ms: Option<i64>,
}

/// Outcomes by record number, filled by delivery reports.
#[derive(Debug, Default)]
struct Ledger {
    slots: Mutex<Slots>,
    acked: AtomicU64,
    failed: AtomicU64,
    indeterminate: AtomicU64,
}

#[derive(Debug, Default)]
struct Slots {
    /// Outcome of record `i` at index `i`, `None` while open.
    outcomes: Vec<Option<DeliveryOutcome>>,
    /// Outcomes not yet taken by [`RecordProducer::drain_resolved`], when
    /// the caller asked for them.
    fresh: Option<Vec<(u64, DeliveryOutcome)>>,
}

impl Ledger {
    fn resolve(&self, record: u64, outcome: DeliveryOutcome) {
        let counter = match outcome {
            DeliveryOutcome::Acked { .. } => &self.acked,
            DeliveryOutcome::Failed { .. } => &self.failed,
            DeliveryOutcome::Indeterminate { .. } => &self.indeterminate,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let index = record as usize;
        let mut slots = self.lock();
        if slots.outcomes.len() <= index {
            slots.outcomes.resize(index + 1, None);
        }
        slots.outcomes[index] = Some(outcome);
        if let Some(fresh) = slots.fresh.as_mut() {
            fresh.push((record, outcome));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The producer's context: routes logs to `tracing` and delivery reports to
/// the ledger.
#[derive(Debug)]
pub struct LedgerContext {
    logs: TracingContext,
    ledger: Arc<Ledger>,
}

impl ClientContext for LedgerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.logs.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.logs.error(error, reason);
    }
}

impl ProducerContext for LedgerContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, record: usize) {
        let outcome = match result {
            Ok(message) => DeliveryOutcome::Acked {
                partition: message.partition(),
                offset: message.offset(),
            },
            Err((error, _)) => DeliveryOutcome::from_error(error),
        };
        self.ledger.resolve(record as u64, outcome);
    }
}

/// Sends records to one topic and tracks their delivery outcomes.
pub struct RecordProducer {
    producer: ThreadedProducer<LedgerContext>,
    ledger: Arc<Ledger>,
    topic: String,
    run_id: String,
    message_timeout: Duration,
    next: AtomicU64,
    queue_full_waits: AtomicU64,
}

impl std::fmt::Debug for RecordProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordProducer")
            .field("topic", &self.topic)
            .field("run_id", &self.run_id)
            .field("tally", &self.tally())
            .finish()
    }
}

/// Whether the send loop should offer the record again.
enum Enqueue {
    Done(u64),
    QueueFull,
}

impl RecordProducer {
    /// Creates a producer for `topic` whose records carry `run_id`.
    ///
    /// # Errors
    ///
    /// [`ProduceError::Create`] when librdkafka refuses the configuration
    /// (an unknown or invalid property is named in the error).
    pub fn new(
        settings: &KafkaSettings,
        bootstrap: &str,
        topic: &str,
        run_id: &str,
    ) -> Result<RecordProducer, ProduceError> {
        let ledger = Arc::new(Ledger::default());
        let context = LedgerContext {
            logs: TracingContext::default(),
            ledger: Arc::clone(&ledger),
        };
        let config = settings.producer_config(bootstrap);
        let message_timeout = config
            .get("message.timeout.ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(settings.producer.message_timeout, Duration::from_millis);
        let producer =
            config
                .create_with_context(context)
                .map_err(|source| ProduceError::Create {
                    topic: topic.to_string(),
                    bootstrap: bootstrap.to_string(),
                    source: Box::new(source),
                })?;
        Ok(RecordProducer {
            producer,
            ledger,
            topic: topic.to_string(),
            run_id: run_id.to_string(),
            message_timeout,
            next: AtomicU64::new(0),
            queue_full_waits: AtomicU64::new(0),
        })
    }

    /// The topic records go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The run id every record carries.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Sends one record and returns its number. When librdkafka's queue is
    /// full, waits (serving delivery reports) and offers it again: records
    /// are never dropped, so this call blocks while the cluster is slower
    /// than the load.
    ///
    /// # Errors
    ///
    /// [`ProduceError::Fatal`] when the producer can no longer send; the
    /// record is counted, as failed.
    pub fn send<L: AsRef<str>>(&self, record: &OutgoingRecord<'_, L>) -> Result<u64, ProduceError> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        loop {
            match self.enqueue(number, record)? {
                Enqueue::Done(number) => return Ok(number),
                Enqueue::QueueFull => {
                    self.queue_full_waits.fetch_add(1, Ordering::Relaxed);
                    self.producer.poll(QUEUE_FULL_WAIT);
                }
            }
        }
    }

    /// [`send`](Self::send) for async callers: a full queue yields to the
    /// runtime instead of blocking the thread.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a record number is taken on the first poll, and a
    /// cancelled call leaves it without an outcome (resolved as
    /// indeterminate by [`finish`](Self::finish)).
    pub async fn send_async<L: AsRef<str>>(
        &self,
        record: &OutgoingRecord<'_, L>,
    ) -> Result<u64, ProduceError> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        loop {
            match self.enqueue(number, record)? {
                Enqueue::Done(number) => return Ok(number),
                Enqueue::QueueFull => {
                    self.queue_full_waits.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(QUEUE_FULL_WAIT).await;
                }
            }
        }
    }

    fn enqueue<L: AsRef<str>>(
        &self,
        number: u64,
        record: &OutgoingRecord<'_, L>,
    ) -> Result<Enqueue, ProduceError> {
        let headers = headers::encode(&self.run_id, record.send_time_ms, record.labels, number);
        let mut base = BaseRecord::with_opaque_to(&self.topic, number as usize)
            .key(record.key)
            .payload(record.payload)
            .headers(headers);
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        if let Some(timestamp) = record.timestamp_ms {
            base = base.timestamp(timestamp);
        }
        match self.producer.send(base) {
            Ok(()) => Ok(Enqueue::Done(number)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Ok(Enqueue::QueueFull)
            }
            Err((error, _)) => {
                // librdkafka sends no delivery report for a refused record.
                let outcome = DeliveryOutcome::from_error(&error);
                self.ledger.resolve(number, outcome);
                match self.producer.client().fatal_error() {
                    Some((_, reason)) => Err(ProduceError::Fatal {
                        topic: self.topic.clone(),
                        reason,
                    }),
                    None => {
                        tracing::debug!(record = number, %error, "record refused by the producer");
                        Ok(Enqueue::Done(number))
                    }
                }
            }
        }
    }

    /// Outcome counts so far.
    pub fn tally(&self) -> OutcomeTally {
        let generated = self.next.load(Ordering::Relaxed);
        let acked = self.ledger.acked.load(Ordering::Relaxed);
        let failed = self.ledger.failed.load(Ordering::Relaxed);
        let indeterminate = self.ledger.indeterminate.load(Ordering::Relaxed);
        OutcomeTally {
            generated,
            acked,
            failed,
            indeterminate,
            pending: generated.saturating_sub(acked + failed + indeterminate),
        }
    }

    /// Keeps outcomes as they resolve for [`drain_resolved`](Self::drain_resolved)
    /// (off by default: nobody draining them would make them pile up).
    pub fn report_resolved(&self) {
        let mut slots = self.ledger.lock();
        if slots.fresh.is_none() {
            slots.fresh = Some(Vec::new());
        }
    }

    /// Moves the outcomes resolved since the last call, as `(record number,
    /// outcome)` in resolution order, into `out`. Empty unless
    /// [`report_resolved`](Self::report_resolved) was called first.
    pub fn drain_resolved(&self, out: &mut Vec<(u64, DeliveryOutcome)>) {
        if let Some(fresh) = self.ledger.lock().fresh.as_mut() {
            out.append(fresh);
        }
    }

    /// Waits up to `timeout` for every record sent so far to be resolved;
    /// true when none is left open. Blocks: call it from a blocking context.
    pub fn wait_resolved(&self, timeout: Duration) -> bool {
        self.producer.flush(timeout).is_ok() && self.tally().pending == 0
    }

    /// How many times a send waited because librdkafka's queue was full.
    pub fn queue_full_waits(&self) -> u64 {
        self.queue_full_waits.load(Ordering::Relaxed)
    }

    /// Waits for every outstanding delivery report (at most the message
    /// timeout plus `grace`), purges what is still open (purged in-flight
    /// records are indeterminate, purged queued ones failed) and returns
    /// every record's outcome. Blocks: call it from a blocking context.
    pub fn finish(self, grace: Duration) -> DeliveryLedger {
        if let Err(error) = self.producer.flush(self.message_timeout + grace) {
            tracing::warn!(topic = %self.topic, %error, "flush ended with records open; purging");
            self.producer
                .purge(PurgeConfig::default().queue().inflight());
            let _ = self.producer.flush(grace);
        }
        let generated = self.next.load(Ordering::Relaxed) as usize;
        let client_errors = self.producer.context().logs.error_counts();
        let queue_full_waits = self.queue_full_waits();
        let (topic, run_id, ledger) = (self.topic, self.run_id, self.ledger);
        drop(self.producer);

        let (slots, mut unreported) = {
            let mut slots = ledger.lock();
            let fresh = slots.fresh.take().unwrap_or_default();
            (std::mem::take(&mut slots.outcomes), fresh)
        };
        let mut outcomes = Vec::with_capacity(generated);
        let mut unresolved = 0;
        let slots = slots
            .into_iter()
            .chain(std::iter::repeat(None))
            .take(generated);
        for (number, slot) in slots.enumerate() {
            let outcome = match slot {
                Some(outcome) => outcome,
                None => {
                    unresolved += 1;
                    let forced = DeliveryOutcome::Indeterminate {
                        error: RDKafkaErrorCode::OperationTimedOut,
                    };
                    unreported.push((number as u64, forced));
                    forced
                }
            };
            outcomes.push(outcome);
        }
        if unresolved > 0 {
            tracing::error!(
                %topic,
                unresolved,
                "records without a delivery report; counted as indeterminate"
            );
        }
        DeliveryLedger {
            tally: OutcomeTally::of(&outcomes),
            topic,
            run_id,
            outcomes,
            unreported,
            queue_full_waits,
            client_errors,
        }
    }
}

/// Every record's delivery outcome, once a producer finished.
#[derive(Debug, Clone)]
pub struct DeliveryLedger {
    /// Target topic.
    pub topic: String,
    /// The run id every record carries.
    pub run_id: String,
    /// Outcome of record `i` at index `i`.
    pub outcomes: Vec<DeliveryOutcome>,
    /// Outcome counts; `pending` is 0.
    pub tally: OutcomeTally,
    /// Outcomes [`RecordProducer::drain_resolved`] had not handed out yet
    /// (empty unless [`RecordProducer::report_resolved`] was called), and
    /// records resolved as indeterminate for lack of a delivery report.
    pub unreported: Vec<(u64, DeliveryOutcome)>,
    /// How many times a send waited on a full queue.
    pub queue_full_waits: u64,
    /// Client errors and librdkafka warnings by kind.
    pub client_errors: BTreeMap<String, u64>,
}

/// One line of `deliveries.jsonl`.
#[derive(Debug, Serialize)]
struct DeliveryLine<'a> {
    record: usize,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl DeliveryLedger {
    /// Writes one JSON object per record, in record order:
    /// `{"record":0,"outcome":"acked","partition":2,"offset":17}` or
    /// `{"record":1,"outcome":"indeterminate","error":"MessageTimedOut"}`.
    ///
    /// # Errors
    ///
    /// Any error of the writer.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> io::Result<()> {
        for (record, outcome) in self.outcomes.iter().enumerate() {
            let (partition, offset) = match outcome {
                DeliveryOutcome::Acked { partition, offset } => (Some(*partition), Some(*offset)),
                _ => (None, None),
            };
            let line = DeliveryLine {
                record,
                outcome: outcome.kind().as_str(),
                partition,
                offset,
                error: outcome.error_name(),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}
