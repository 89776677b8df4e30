//! Broker-free tests on librdkafka's mock cluster: producing with delivery
//! outcomes, reading back, reconciling, and a broker going down mid-run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use watchload_kafka::{
    read_all, Cluster, DeliveryLedger, EmbeddedCluster, Fate, KafkaSettings, OutcomeKind,
    OutgoingRecord, ProduceError, Reconciler, RecordProducer, TailConsumer, TailStart,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn settings(partitions: i32) -> KafkaSettings {
    KafkaSettings {
        partitions,
        ..KafkaSettings::default()
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("{{\"event_id\":\"e{i}\"}}").into_bytes()
}

/// Sends `count` records keyed over 50 users; labels every 10th record.
fn produce(producer: &RecordProducer, count: u64) {
    for i in 0..count {
        let key = format!("user-{}", i % 50);
        let labels: &[&str] = if i % 10 == 0 { &["jitter"] } else { &[] };
        let record = OutgoingRecord {
            key: &key,
            payload: &payload(i),
            send_time_ms: 1_700_000_000_000 + i as i64,
            labels,
            partition: None,
            timestamp_ms: None,
        };
        assert_eq!(producer.send(&record).unwrap(), i);
    }
}

fn reconcile(
    settings: &KafkaSettings,
    cluster: &EmbeddedCluster,
    topic: &str,
    ledger: &DeliveryLedger,
) -> watchload_kafka::Reconciliation {
    let (records, summary) = read_all(settings, cluster.bootstrap(), topic, DEADLINE).unwrap();
    assert!(summary.complete, "{summary:?}");
    let mut reconciler = Reconciler::new(ledger);
    for record in &records {
        reconciler.observe(record);
    }
    reconciler.finish()
}

#[test]
fn every_record_is_acked_and_read_back_exactly_once() {
    let cluster = EmbeddedCluster::start(3).unwrap();
    let settings = settings(4);
    cluster.create_topic("acked", 4, 3).unwrap();
    let producer = RecordProducer::new(&settings, cluster.bootstrap(), "acked", "run-a").unwrap();

    produce(&producer, 2_000);
    let ledger = producer.finish(Duration::from_secs(5));

    assert_eq!(ledger.tally.generated, 2_000);
    assert_eq!(ledger.tally.acked, 2_000, "{:?}", ledger.tally);
    assert!(ledger.tally.is_balanced());
    let (records, summary) = read_all(&settings, cluster.bootstrap(), "acked", DEADLINE).unwrap();
    assert_eq!(summary.records(), 2_000);
    assert_eq!(summary.partitions.len(), 4);
    // Partition order: partitions ascending, offsets ascending within each.
    assert!(records
        .windows(2)
        .all(|w| (w[0].partition, w[0].offset) < (w[1].partition, w[1].offset)));
    for record in &records {
        let harness = record.harness().unwrap();
        let i = harness.record;
        assert_eq!(harness.run_id, "run-a");
        assert_eq!(harness.send_time_ms, 1_700_000_000_000 + i as i64);
        assert_eq!(harness.labels.is_empty(), i % 10 != 0);
        assert_eq!(record.payload.as_deref(), Some(payload(i).as_slice()));
        assert_eq!(
            record.key.as_deref(),
            Some(format!("user-{}", i % 50).as_bytes())
        );
        let acked = ledger.outcomes[i as usize];
        assert_eq!(
            acked,
            watchload_kafka::DeliveryOutcome::Acked {
                partition: record.partition,
                offset: record.offset
            }
        );
    }
    let result = reconcile(&settings, &cluster, "acked", &ledger);
    assert_eq!(result.counts.acked_present, 2_000);
    assert_eq!(result.counts.extra_copies + result.counts.moved, 0);
    assert!(result.counts.is_balanced());
}

#[test]
fn one_user_always_lands_on_one_partition() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("keys", 6, 1).unwrap();
    let settings = settings(6);
    let producer = RecordProducer::new(&settings, cluster.bootstrap(), "keys", "run-k").unwrap();
    produce(&producer, 500);
    let ledger = producer.finish(Duration::from_secs(5));

    let mut partition_of: BTreeMap<String, i32> = BTreeMap::new();
    let (records, _) = read_all(&settings, cluster.bootstrap(), "keys", DEADLINE).unwrap();
    for record in records {
        let key = String::from_utf8(record.key.unwrap()).unwrap();
        let first = *partition_of.entry(key).or_insert(record.partition);
        assert_eq!(first, record.partition);
    }
    assert_eq!(ledger.tally.acked, 500);
    assert!(
        partition_of
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    );
}

/// A broker goes down while records are being sent to its partition: they
/// time out (indeterminate), the others are acked, and reading the log back
/// settles every record with no broker data loss.
#[test]
fn a_broker_down_during_produce_leaves_outcomes_that_reconcile() {
    let cluster = EmbeddedCluster::start(3).unwrap();
    cluster.create_topic("chaos", 3, 1).unwrap();
    for partition in 0..3 {
        cluster
            .partition_leader("chaos", partition, partition + 1)
            .unwrap();
    }
    let mut settings = settings(3);
    settings.producer.message_timeout = Duration::from_secs(2);
    let producer = RecordProducer::new(&settings, cluster.bootstrap(), "chaos", "run-c").unwrap();
    produce(&producer, 300);
    wait_for_acks(&producer, 300);

    cluster.broker_down(2).unwrap();
    produce_more(&producer, 300, 600);
    std::thread::sleep(Duration::from_secs(3));
    cluster.broker_up(2).unwrap();
    let ledger = producer.finish(Duration::from_secs(5));

    let tally = ledger.tally;
    assert_eq!(tally.generated, 600);
    assert!(tally.is_balanced(), "{tally:?}");
    assert!(
        tally.indeterminate > 0,
        "records to the down broker should time out: {tally:?}"
    );
    assert!(tally.acked > 300, "{tally:?}");
    let result = reconcile(&settings, &cluster, "chaos", &ledger);
    let counts = result.counts;
    assert!(counts.is_balanced(), "{counts:?}");
    assert_eq!(counts.broker_data_loss, 0, "{counts:?}");
    assert_eq!(counts.delivered + counts.not_delivered, tally.indeterminate);
    assert_eq!(counts.acked_present, tally.acked);
    for (outcome, fate) in ledger.outcomes.iter().zip(&result.fates) {
        if outcome.kind() == OutcomeKind::Indeterminate {
            assert!(matches!(fate, Fate::Delivered | Fate::NotDelivered));
        }
    }
}

fn produce_more(producer: &RecordProducer, from: u64, to: u64) {
    for i in from..to {
        let key = format!("user-{}", i % 50);
        let record = OutgoingRecord::<&str> {
            key: &key,
            payload: &payload(i),
            send_time_ms: 0,
            labels: &[],
            partition: None,
            timestamp_ms: None,
        };
        producer.send(&record).unwrap();
    }
}

fn wait_for_acks(producer: &RecordProducer, count: u64) {
    let started = Instant::now();
    while producer.tally().acked < count {
        assert!(started.elapsed() < DEADLINE, "{:?}", producer.tally());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_queue_slows_the_sender_and_loses_nothing() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("small-queue", 2, 1).unwrap();
    let mut settings = settings(2);
    settings
        .properties
        .insert("queue.buffering.max.messages".to_string(), "20".to_string());
    let producer =
        RecordProducer::new(&settings, cluster.bootstrap(), "small-queue", "run-q").unwrap();
    produce(&producer, 3_000);
    let waits = producer.queue_full_waits();
    let ledger = producer.finish(Duration::from_secs(5));

    assert!(waits > 0, "the queue of 20 never filled");
    assert_eq!(ledger.tally.acked, 3_000, "{:?}", ledger.tally);
}

#[test]
fn a_record_over_the_size_limit_fails_and_is_counted() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    cluster.create_topic("sizes", 1, 1).unwrap();
    let mut settings = settings(1);
    settings
        .properties
        .insert("message.max.bytes".to_string(), "2000".to_string());
    let producer = RecordProducer::new(&settings, cluster.bootstrap(), "sizes", "run-s").unwrap();
    let big = vec![b'x'; 10_000];
    for (i, body) in [b"{}".as_slice(), &big, b"{}"].into_iter().enumerate() {
        let record = OutgoingRecord::<&str> {
            key: "user-1",
            payload: body,
            send_time_ms: i as i64,
            labels: &[],
            partition: None,
            timestamp_ms: None,
        };
        producer.send(&record).unwrap();
    }
    let ledger = producer.finish(Duration::from_secs(5));

    assert_eq!(
        (
            ledger.tally.acked,
            ledger.tally.failed,
            ledger.tally.indeterminate
        ),
        (2, 1, 0)
    );
    assert_eq!(ledger.outcomes[1].kind(), OutcomeKind::Failed);
    let result = reconcile(&settings, &cluster, "sizes", &ledger);
    assert_eq!(result.fates[1], Fate::Failed);
    assert!(result.counts.is_balanced());
}

#[test]
fn an_unknown_passthrough_property_is_named_in_the_error() {
    let mut settings = settings(1);
    settings
        .properties
        .insert("linger.mss".to_string(), "5".to_string());
    let err = RecordProducer::new(&settings, "127.0.0.1:1", "t", "r").unwrap_err();
    assert!(matches!(err, ProduceError::Create { .. }));
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(chain.contains("linger.mss"), "{chain}");
}

#[test]
fn read_back_of_a_missing_topic_is_an_error_not_a_hang() {
    let cluster = EmbeddedCluster::start(1).unwrap();
    let started = Instant::now();
    let err = read_all(
        &settings(1),
        cluster.bootstrap(),
        "no-such-topic",
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no-such-topic"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn chaos_operations_name_a_missing_broker() {
    let cluster = EmbeddedCluster::start(3).unwrap();
    let err = cluster.broker_down(4).unwrap_err();
    assert!(err.to_string().contains("broker 4"), "{err}");
    cluster
        .broker_latency(1, Duration::from_millis(50))
        .unwrap();
}

#[tokio::test]
async fn the_tail_stamps_records_as_they_arrive() {
    let settings = settings(2);
    let cluster = Cluster::connect(&settings).unwrap();
    cluster.ensure_topics(&settings).await.unwrap();
    let topic = settings.topics.events.clone();
    let tail = TailConsumer::start(
        &settings,
        cluster.bootstrap(),
        &topic,
        TailStart::Beginning,
        DEADLINE,
    )
    .unwrap();
    let producer = RecordProducer::new(&settings, cluster.bootstrap(), &topic, "run-t").unwrap();

    let before = Instant::now();
    produce(&producer, 10);
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let record = tokio::time::timeout(DEADLINE, tail.next())
            .await
            .expect("tail saw nothing")
            .unwrap();
        seen.push(record);
    }
    let ledger = producer.finish(Duration::from_secs(5));

    assert_eq!(ledger.tally.acked, 10);
    assert!(seen.iter().all(|s| s.seen_at >= before));
    let mut numbers: Vec<u64> = seen
        .iter()
        .map(|s| s.record.harness().unwrap().record)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..10).collect::<Vec<_>>());
}
