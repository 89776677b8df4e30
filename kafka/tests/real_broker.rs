//! Against a real broker: topics created with the admin API, records
//! produced, read back and reconciled, and the topic cross-checked by
//! kafka-python (`tests/kafka_python_check.py`), a client that shares no
//! code with librdkafka.
//!
//! Needs a broker and kafka-python. Without `WATCHLOAD_TEST_BOOTSTRAP` the
//! test says it was skipped and passes, except under `CI`, where a missing
//! broker is a failure (`.ci/run` starts Tansu and sets the variable):
//!
//! ```text
//! pid=$(scripts/start-tansu.sh 19092)
//! WATCHLOAD_TEST_BOOTSTRAP=127.0.0.1:19092 \
//!     cargo test -p watchload-kafka --test real_broker
//! kill $pid
//! ```
//!
//! `WATCHLOAD_TEST_BOOTSTRAP=embedded` runs the same test on the mock
//! cluster. `WATCHLOAD_PYTHON` names the interpreter (default `python3`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use watchload_kafka::{
    read_all, Cluster, KafkaSettings, OutgoingRecord, Reconciler, RecordProducer, TopicNames,
};

const RECORDS: u64 = 1_000;

/// The broker under test, or `None` to skip outside CI.
fn bootstrap() -> Option<String> {
    match std::env::var("WATCHLOAD_TEST_BOOTSTRAP") {
        Ok(bootstrap) => Some(bootstrap),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set WATCHLOAD_TEST_BOOTSTRAP=host:port (see .ci/run)")
        }
        Err(_) => {
            eprintln!("skipped: set WATCHLOAD_TEST_BOOTSTRAP=host:port to run against a broker");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_read_back_reconcile_and_cross_check_with_kafka_python() {
    let Some(bootstrap) = bootstrap() else { return };
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let run_id = format!("real-broker-{stamp}");
    let settings = KafkaSettings {
        bootstrap,
        partitions: 3,
        replication_factor: 1,
        topics: TopicNames {
            events: format!("{run_id}.events"),
            sessions: format!("{run_id}.sessions"),
            dlq: format!("{run_id}.dlq"),
        },
        ..KafkaSettings::default()
    };
    assert_eq!(settings.problems(), Vec::<String>::new());
    let cluster = Cluster::connect(&settings).unwrap();
    cluster.ensure_topics(&settings).await.unwrap();
    // A second call finds the topics there and leaves them alone.
    cluster.ensure_topics(&settings).await.unwrap();
    let topic = settings.topics.events.clone();

    let producer = RecordProducer::new(&settings, cluster.bootstrap(), &topic, &run_id).unwrap();
    for i in 0..RECORDS {
        let key = format!("user-{}", i % 37);
        let payload = format!("{{\"n\":{i}}}");
        let labels: &[&str] = if i % 7 == 0 { &["duplicate"] } else { &[] };
        let record = OutgoingRecord {
            key: &key,
            payload: payload.as_bytes(),
            send_time_ms: i as i64,
            labels,
            partition: None,
            timestamp_ms: None,
        };
        producer.send_async(&record).await.unwrap();
    }
    let ledger = tokio::task::spawn_blocking(move || producer.finish(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(ledger.tally.acked, RECORDS, "{:?}", ledger.tally);

    let (records, summary) = read_all(
        &settings,
        cluster.bootstrap(),
        &topic,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(summary.complete, "{summary:?}");
    let mut reconciler = Reconciler::new(&ledger);
    for record in &records {
        reconciler.observe(record);
    }
    let result = reconciler.finish();
    assert_eq!(
        result.counts.acked_present, RECORDS,
        "{:?}\n{summary:?}",
        result.counts
    );
    assert_eq!(result.counts.broker_data_loss, 0);
    assert_eq!(result.counts.extra_copies + result.counts.moved, 0);

    let deliveries = std::env::temp_dir().join(format!("{run_id}.deliveries.jsonl"));
    ledger
        .write_jsonl(std::fs::File::create(&deliveries).unwrap())
        .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/kafka_python_check.py");
    let python = std::env::var("WATCHLOAD_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = Command::new(python)
        .arg(&script)
        .args(["--bootstrap", cluster.bootstrap()])
        .args(["--topic", &topic, "--run-id", &run_id])
        .arg("--deliveries")
        .arg(&deliveries)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kafka-python disagrees ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains(&format!("acked {RECORDS}")), "{stdout}");
    let _ = std::fs::remove_file(deliveries);
}
