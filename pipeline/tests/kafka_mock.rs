//! End-to-end tests of the Kafka runner on librdkafka's mock cluster (3
//! brokers, in-process, no setup): the final view of the sessions topic
//! equals truth, with and without a crash and restart mid-stream.

mod common;

use common::{event, exact_truth, poison, Record, KINDS};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchload_model::{EventType, SessionRules};
use watchload_pipeline::kafka::{self, KafkaSettings, Progress};
use watchload_pipeline::{FinalView, SessionizerConfig, Stats};

const EVENTS: &str = "events";
const SESSIONS: &str = "sessions";
const DLQ: &str = "dead-letters";

fn rules() -> SessionRules {
    SessionRules {
        session_gap_ms: 60_000,
        max_step_ms: 20_000,
        allowed_lateness_ms: 30_000,
        lateness_margin_ms: 0,
    }
}

/// A small deterministic stream: 30 users, two sessions each across two
/// devices, events every 10 s, sent with jitter up to 25 s (a few 45 s:
/// expired), every 13th event duplicated, and 5 poison records.
fn stream() -> Vec<Record> {
    let mut state = 0x2545_f491_u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut sends: Vec<(i64, usize, Record)> = Vec::new();
    let mut id = 0;
    for user in 0..30u8 {
        for session in 0..2i64 {
            let start = 1_700_000_000_000 + i64::from(user) * 7_000 + session * 600_000;
            for step in 0..8i64 {
                let device = u8::from(step >= 4) + (session as u8);
                let kind = if step % 4 == 0 {
                    EventType::Start
                } else {
                    KINDS[next(6) as usize]
                };
                let time = start + step * 10_000;
                let e = event(id, user, device, session as u8, step as u32 % 4, kind, time);
                let jitter = if next(40) == 0 {
                    45_000
                } else {
                    next(25_000) as i64
                };
                sends.push((time + jitter, sends.len(), Record::Event(e.clone())));
                if id % 13 == 0 {
                    sends.push((time + jitter + 5_000, sends.len(), Record::Event(e)));
                }
                id += 1;
            }
        }
    }
    for i in 0..5 {
        let at = 1_700_000_000_000 + i as i64 * 100_000;
        sends.push((at, sends.len(), Record::Poison(poison(i))));
    }
    sends.sort_by_key(|(at, n, _)| (*at, *n));
    sends.into_iter().map(|(_, _, r)| r).collect()
}

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(EVENTS, 3, 3).unwrap();
    cluster.create_topic(SESSIONS, 3, 3).unwrap();
    cluster.create_topic(DLQ, 1, 3).unwrap();
    cluster
}

/// Produces records in order; returns each with the partition it landed on,
/// in partition order, and the end offset per partition.
async fn produce(
    bootstrap: &str,
    records: &[Record],
    landed: &mut Vec<(i32, i64, Record)>,
) -> BTreeMap<i32, i64> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    for record in records {
        let key = record.key();
        let payload = record.payload();
        let sent = FutureRecord::to(EVENTS).key(&key).payload(&payload);
        let delivery = producer.send(sent, Duration::from_secs(10)).await.unwrap();
        let (partition, offset) = (delivery.partition, delivery.offset);
        landed.push((partition, offset, record.clone()));
    }
    let mut ends = BTreeMap::new();
    for (partition, offset, _) in landed.iter() {
        let end = ends.entry(*partition).or_insert(0);
        *end = (*end).max(offset + 1);
    }
    ends
}

fn settings(bootstrap: &str, flush_on_shutdown: bool) -> KafkaSettings {
    let mut settings = KafkaSettings::new(bootstrap, EVENTS, SESSIONS, DLQ, "pipeline");
    settings.commit_interval = Duration::from_millis(100);
    settings.flush_on_shutdown = flush_on_shutdown;
    settings.properties = vec![("session.timeout.ms".into(), "6000".into())];
    settings
}

struct Running {
    handle: tokio::task::JoinHandle<Result<Stats, kafka::RunnerError>>,
    stop: tokio::sync::oneshot::Sender<()>,
    progress: Arc<Progress>,
}

fn start(settings: KafkaSettings) -> Running {
    let progress = Arc::new(Progress::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = SessionizerConfig {
        rules: rules(),
        ..SessionizerConfig::default()
    };
    let watched = progress.clone();
    let handle = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        kafka::run(&settings, config, shutdown, watched).await
    });
    Running {
        handle,
        stop,
        progress,
    }
}

/// Waits until the pipeline processed every record up to `ends`.
async fn wait_until_processed(progress: &Progress, ends: &BTreeMap<i32, i64>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = progress.next_offsets();
        if ends
            .iter()
            .all(|(p, end)| done.get(p).is_some_and(|d| d >= end))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pipeline stuck at {done:?}, want {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a topic from the start until it stays quiet for two seconds.
async fn read_all(bootstrap: &str, topic: &str) -> Vec<(String, Option<Vec<u8>>, Vec<String>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut records = Vec::new();
    loop {
        // Joining the group takes a few seconds; after that, 2 s of quiet.
        let quiet = Duration::from_secs(if records.is_empty() { 15 } else { 2 });
        let Ok(message) = tokio::time::timeout(quiet, consumer.recv()).await else {
            break;
        };
        let message = message.unwrap();
        let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
        let headers = message
            .headers()
            .map(|h| h.iter().map(|h| h.key.to_string()).collect())
            .unwrap_or_default();
        records.push((key, message.payload().map(<[u8]>::to_vec), headers));
    }
    records
}

async fn final_view(bootstrap: &str) -> BTreeMap<String, watchload_model::WatchSession> {
    let mut view = FinalView::new();
    for (key, payload, _) in read_all(bootstrap, SESSIONS).await {
        view.apply_record(&key, payload.as_deref()).unwrap();
    }
    view.into_sessions()
}

fn truth_of(
    mut landed: Vec<(i32, i64, Record)>,
) -> BTreeMap<String, watchload_model::WatchSession> {
    landed.sort_by_key(|(p, o, _)| (*p, *o));
    let records: Vec<(i32, Record)> = landed.into_iter().map(|(p, _, r)| (p, r)).collect();
    exact_truth(&records, rules())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_topic_final_view_equals_truth() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let records = stream();
    let mut landed = Vec::new();
    let ends = produce(&bootstrap, &records, &mut landed).await;

    let running = start(settings(&bootstrap, true));
    wait_until_processed(&running.progress, &ends).await;
    running.stop.send(()).unwrap();
    let stats = running.handle.await.unwrap().unwrap();
    assert_eq!(stats.records as usize, records.len());
    assert_eq!(stats.poison_total(), 5);
    assert!(stats.duplicates > 0 && stats.late > 0, "{stats:?}");

    let want = truth_of(landed);
    assert!(want.len() >= 50, "truth has {} sessions", want.len());
    assert_eq!(final_view(&bootstrap).await, want);

    let letters = read_all(&bootstrap, DLQ).await;
    assert_eq!(letters.len(), 5);
    assert!(letters
        .iter()
        .all(|(_, _, h)| h.iter().any(|k| k == kafka::DLQ_REASON)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_stream_keeps_final_view_equal_to_truth() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let records = stream();
    let (first_half, second_half) = records.split_at(records.len() / 2);
    let mut landed = Vec::new();

    let ends = produce(&bootstrap, first_half, &mut landed).await;
    let crashed = start(settings(&bootstrap, false));
    wait_until_processed(&crashed.progress, &ends).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while crashed.progress.committed_through() != ends {
        assert!(Instant::now() < deadline, "no commit reached {ends:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crashed.handle.abort();
    assert!(crashed.handle.await.unwrap_err().is_cancelled());

    let ends = produce(&bootstrap, second_half, &mut landed).await;
    let restarted = start(settings(&bootstrap, true));
    wait_until_processed(&restarted.progress, &ends).await;
    restarted.stop.send(()).unwrap();
    let stats = restarted.handle.await.unwrap().unwrap();
    assert!(
        stats.replayed > 0,
        "the restart replayed nothing: {stats:?}"
    );

    assert_eq!(final_view(&bootstrap).await, truth_of(landed));
}
