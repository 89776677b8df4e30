//! Produce benchmark: the cost of watchload's producer wrapper over a plain
//! rdkafka producer.
//!
//! Both send the same pre-encoded events (compact JSON `WatchEvent`s, key =
//! `user_id`, the same four harness headers) with the same librdkafka
//! configuration (`KafkaSettings::producer_config`: idempotent, acks=all)
//! to the same embedded 3-broker mock cluster, in the same process. The
//! plain producer is an rdkafka `ThreadedProducer` whose delivery callback
//! only counts; the wrapper is `RecordProducer`, which also numbers every
//! record and keeps its delivery outcome. Each is timed from the first send
//! until every delivery report arrived (`flush`, `wait_resolved`); shutting
//! the producer down is not timed for either. Rounds alternate which goes
//! first.
//!
//! ```text
//! cargo run --release -p watchload-kafka --example produce_bench -- [RECORDS] [ROUNDS]
//! ```

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use watchload_kafka::{EmbeddedCluster, KafkaSettings, OutgoingRecord, RecordProducer};
use watchload_model::{DeviceType, EventType, WatchEvent, SCHEMA_VERSION};

const RUN_ID: &str = "bench";
const PARTITIONS: i32 = 6;

/// A pre-encoded event.
struct Encoded {
    key: String,
    payload: Vec<u8>,
    send_time_ms: i64,
}

fn encode_events(count: usize) -> Vec<Encoded> {
    (0..count)
        .map(|i| {
            let event = WatchEvent {
                event_id: format!("e-{i:012}"),
                schema_version: SCHEMA_VERSION,
                user_id: format!("u-{:06}", i % 10_000),
                device_id: format!("d-{:06}", i % 25_000),
                device_type: DeviceType::ALL[i % 3],
                playback_id: format!("p-{:08}", i / 40),
                content_id: format!("c-{:05}", i % 997),
                event_type: EventType::Heartbeat,
                position_ms: (i as u64 % 360) * 10_000,
                seq: (i % 40) as u32,
                event_time: 1_700_000_000_000 + i as i64 * 3,
            };
            Encoded {
                key: event.user_id.clone(),
                payload: serde_json::to_vec(&event).expect("a WatchEvent always encodes"),
                send_time_ms: event.event_time,
            }
        })
        .collect()
}

/// The plain producer's context: counts delivery reports, nothing else.
#[derive(Default)]
struct Counting {
    acked: AtomicU64,
    errors: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn raw(settings: &KafkaSettings, bootstrap: &str, topic: &str, events: &[Encoded]) -> f64 {
    let producer: ThreadedProducer<Counting> = settings
        .producer_config(bootstrap)
        .create_with_context(Counting::default())
        .expect("producer");
    let started = Instant::now();
    for (i, event) in events.iter().enumerate() {
        let send_time = event.send_time_ms.to_string();
        let number = i.to_string();
        let headers = OwnedHeaders::new_with_capacity(4)
            .insert(Header {
                key: "watchload.run_id",
                value: Some(RUN_ID),
            })
            .insert(Header {
                key: "watchload.send_time",
                value: Some(&send_time),
            })
            .insert(Header {
                key: "watchload.labels",
                value: Some(""),
            })
            .insert(Header {
                key: "watchload.record",
                value: Some(&number),
            });
        let mut record = BaseRecord::to(topic)
            .key(&event.key)
            .payload(&event.payload)
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((err, _)) => panic!("raw send: {err}"),
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let elapsed = started.elapsed();
    let context = producer.context();
    assert_eq!(context.acked.load(Ordering::Relaxed), events.len() as u64);
    assert_eq!(context.errors.load(Ordering::Relaxed), 0);
    events.len() as f64 / elapsed.as_secs_f64()
}

fn wrapped(settings: &KafkaSettings, bootstrap: &str, topic: &str, events: &[Encoded]) -> f64 {
    let producer = RecordProducer::new(settings, bootstrap, topic, RUN_ID).expect("producer");
    let started = Instant::now();
    for event in events {
        let record = OutgoingRecord::<&str> {
            key: &event.key,
            payload: &event.payload,
            send_time_ms: event.send_time_ms,
            labels: &[],
            partition: None,
            timestamp_ms: None,
        };
        producer.send(&record).expect("send");
    }
    assert!(producer.wait_resolved(Duration::from_secs(60)));
    let elapsed = started.elapsed();
    let ledger = producer.finish(Duration::from_secs(10));
    assert_eq!(
        ledger.tally.acked,
        events.len() as u64,
        "{:?}",
        ledger.tally
    );
    events.len() as f64 / elapsed.as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().map_or(100_000, |a| a.parse().expect("RECORDS"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));

    let events = encode_events(records);
    let bytes: usize = events.iter().map(|e| e.payload.len()).sum();
    let cluster = EmbeddedCluster::start(3).expect("embedded cluster");
    let settings = KafkaSettings::default();
    println!(
        "{records} events, {} payload bytes on average, {PARTITIONS} partitions, \
         3 embedded brokers, {rounds} rounds",
        bytes / records.max(1)
    );

    let (mut raw_rates, mut wrapped_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let raw_topic = format!("bench-raw-{round}");
        let wrapped_topic = format!("bench-wrapped-{round}");
        for topic in [&raw_topic, &wrapped_topic] {
            cluster.create_topic(topic, PARTITIONS, 1).expect("topic");
        }
        let (r, w) = if round % 2 == 0 {
            let r = raw(&settings, cluster.bootstrap(), &raw_topic, &events);
            (
                r,
                wrapped(&settings, cluster.bootstrap(), &wrapped_topic, &events),
            )
        } else {
            let w = wrapped(&settings, cluster.bootstrap(), &wrapped_topic, &events);
            (raw(&settings, cluster.bootstrap(), &raw_topic, &events), w)
        };
        println!(
            "round {round}: raw {r:>9.0} events/s   watchload {w:>9.0} events/s   ratio {:.3}",
            w / r
        );
        raw_rates.push(r);
        wrapped_rates.push(w);
        ratios.push(w / r);
    }
    println!(
        "median: raw {:.0} events/s, watchload {:.0} events/s, ratio {:.3}",
        median(&mut raw_rates),
        median(&mut wrapped_rates),
        median(&mut ratios)
    );
}
