//! The pipeline's consumer-group lag on the events topic, sampled once a
//! second: high watermark minus committed offset, summed over partitions.
//!
//! Committed offsets are read with an OffsetFetch for the pipeline's group
//! id (`committed_offsets`), which works on the embedded mock cluster too;
//! the sampler never joins the group. A partition without a commit counts
//! from its low watermark.
//!
//! Committed lag is what the report shows, but it does not say when a
//! pipeline is done: the reference pipeline commits the oldest offset its
//! open state still needs, so its committed lag stays above zero while any
//! session is open (the flush user's, at the end). When the pipeline runs
//! in this process, the sampler also reads the offsets it has *processed*
//! and publishes that lag to the output waiter; otherwise the waiter goes
//! by quiet time alone.

use crate::run::clock::HarnessClock;
use crate::run::wait::Signals;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use watchload_kafka::KafkaSettings;
use watchload_pipeline::kafka::Progress;

/// How often the lag is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Lag samples: (harness epoch ms, records behind).
pub type LagSamples = Vec<(i64, i64)>;

/// A sampler thread; [`LagSampler::stop`] ends it.
#[derive(Debug)]
pub struct LagSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<LagSamples>>,
}

/// Where and what to sample.
#[derive(Debug, Clone)]
pub struct LagTarget {
    /// Client settings.
    pub settings: KafkaSettings,
    /// Brokers.
    pub bootstrap: String,
    /// The events topic.
    pub topic: String,
    /// The pipeline's consumer group.
    pub group: String,
    /// Offsets the in-process pipeline has processed, when it runs here.
    pub processed: Option<Arc<Progress>>,
}

impl LagSampler {
    /// Starts sampling on a thread of its own (a sampler that cannot create
    /// its consumer warns once and records nothing).
    pub fn start(target: LagTarget, clock: HarnessClock, signals: Arc<Signals>) -> LagSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("watchload-group-lag".to_string())
            .spawn(move || sample_loop(&target, clock, &signals, &flag))
            .ok();
        LagSampler { stop, handle }
    }

    /// Stops sampling and returns the samples.
    pub fn stop(mut self) -> LagSamples {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

fn sample_loop(
    target: &LagTarget,
    clock: HarnessClock,
    signals: &Signals,
    stop: &AtomicBool,
) -> LagSamples {
    let mut samples = Vec::new();
    let mut config = target.settings.client_config(&target.bootstrap);
    config
        .set("group.id", &target.group)
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = match config.create() {
        Ok(consumer) => consumer,
        Err(error) => {
            tracing::warn!(%error, group = %target.group, "cannot sample consumer-group lag");
            return samples;
        }
    };
    let mut failures = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match sample(&consumer, target) {
            Some(sample) => {
                if let Some(processed) = sample.processed {
                    signals.consumer_lag.store(processed, Ordering::Relaxed);
                }
                samples.push((clock.now_ms(), sample.committed));
            }
            None => failures += 1,
        }
        sleep_unless_stopped(stop, SAMPLE_EVERY);
    }
    if failures > 0 {
        tracing::debug!(failures, group = %target.group, "consumer-group lag samples failed");
    }
    samples
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let slice = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(slice);
        slept += slice;
    }
}

/// Records behind over all partitions.
struct Sample {
    /// High watermark minus committed offset.
    committed: i64,
    /// High watermark minus the in-process pipeline's next offset.
    processed: Option<i64>,
}

/// One sample, `None` on any error.
fn sample(consumer: &BaseConsumer, target: &LagTarget) -> Option<Sample> {
    let timeout = Duration::from_secs(2);
    let metadata = consumer.fetch_metadata(Some(&target.topic), timeout).ok()?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == target.topic)?;
    let mut list = TopicPartitionList::new();
    for p in topic.partitions() {
        list.add_partition(&target.topic, p.id());
    }
    let committed = consumer.committed_offsets(list, timeout).ok()?;
    let next = target.processed.as_ref().map(|p| p.next_offsets());
    let mut lag = Sample {
        committed: 0,
        processed: next.as_ref().map(|_| 0),
    };
    for element in committed.elements() {
        let partition = element.partition();
        let (low, high) = consumer
            .fetch_watermarks(&target.topic, partition, timeout)
            .ok()?;
        let position = match element.offset() {
            Offset::Offset(at) => at,
            _ => low,
        };
        lag.committed += (high - position).max(0);
        if let (Some(total), Some(next)) = (lag.processed.as_mut(), next.as_ref()) {
            let done = next.get(&partition).copied().unwrap_or(low);
            *total += (high - done).max(0);
        }
    }
    Some(lag)
}
