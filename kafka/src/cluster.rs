//! The cluster of a run: librdkafka's mock cluster inside this process
//! (`bootstrap = "embedded"`), or a real one, and the topics on it.
//!
//! The mock cluster implements the broker side of the Kafka protocol in
//! memory (produce, fetch, metadata, consumer groups, idempotence) on
//! localhost listeners, so any Kafka client, in this process or not, can
//! reach it at [`EmbeddedCluster::bootstrap`]. It does not implement the
//! admin API, so its topics are created through the mock API instead.

use crate::context::TracingContext;
use crate::settings::KafkaSettings;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long topic creation on a real cluster may take to show in metadata.
const TOPIC_READY_DEADLINE: Duration = Duration::from_secs(30);

/// A cluster operation that failed.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The mock cluster could not be started.
    #[error("starting the embedded cluster with {brokers} brokers")]
    Start {
        /// Requested broker count.
        brokers: i32,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The thread that owns the mock cluster has stopped.
    #[error("the embedded cluster has stopped")]
    Stopped,
    /// A broker id outside the embedded cluster.
    #[error("embedded cluster has brokers 1 to {brokers}, not broker {broker}")]
    NoSuchBroker {
        /// Requested id.
        broker: i32,
        /// Broker count.
        brokers: i32,
    },
    /// A mock cluster operation failed.
    #[error("embedded cluster: {operation}")]
    Mock {
        /// What was attempted, naming the broker or topic.
        operation: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The admin client could not be created.
    #[error("creating an admin client for {bootstrap}")]
    AdminClient {
        /// Brokers.
        bootstrap: String,
        /// librdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// CreateTopics failed for a topic.
    #[error("creating topic {topic} ({partitions} partitions, replication factor {replication})")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// Requested partitions.
        partitions: i32,
        /// Requested replication factor.
        replication: i32,
        /// The broker's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// A topic did not appear in metadata in time.
    #[error("topic {topic} did not appear in metadata of {bootstrap} within {waited:?}")]
    TopicNotReady {
        /// The topic.
        topic: String,
        /// Brokers.
        bootstrap: String,
        /// How long we waited.
        waited: Duration,
    },
}

type MockOp =
    Box<dyn FnOnce(&MockCluster<'static, DefaultProducerContext>) -> Result<(), KafkaError> + Send>;

struct Request {
    op: MockOp,
    reply: mpsc::Sender<Result<(), KafkaError>>,
}

/// librdkafka's mock cluster, alive until this value is dropped.
///
/// The mock cluster is not `Send`, so a dedicated thread owns it and runs
/// every operation; this handle can move between threads and tasks.
#[derive(Debug)]
pub struct EmbeddedCluster {
    bootstrap: String,
    brokers: i32,
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedCluster {
    /// Starts a mock cluster with `brokers` brokers (ids 1 to `brokers`).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Start`] when librdkafka cannot create it.
    pub fn start(brokers: i32) -> Result<EmbeddedCluster, ClusterError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (requests, inbox) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("watchload-mock-cluster".to_string())
            .spawn(move || serve(brokers, ready_tx, inbox))
            .map_err(|err| ClusterError::Start {
                brokers,
                source: Box::new(KafkaError::ClientCreation(err.to_string())),
            })?;
        let bootstrap = match ready_rx.recv() {
            Ok(Ok(bootstrap)) => bootstrap,
            Ok(Err(source)) => {
                return Err(ClusterError::Start {
                    brokers,
                    source: Box::new(source),
                })
            }
            Err(_) => return Err(ClusterError::Stopped),
        };
        tracing::info!(brokers, %bootstrap, "embedded cluster started");
        Ok(EmbeddedCluster {
            bootstrap,
            brokers,
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// The brokers' `host:port` list, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Number of brokers.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates a topic (the mock cluster has no CreateTopics API). Creating
    /// a topic that exists changes nothing.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Mock`] naming the topic.
    pub fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication: i32,
    ) -> Result<(), ClusterError> {
        let name = topic.to_string();
        self.run(
            format!("create topic {topic} ({partitions} partitions, replication {replication})"),
            move |mock| match mock.create_topic(&name, partitions, replication) {
                Err(KafkaError::MockCluster(RDKafkaErrorCode::TopicAlreadyExists)) => Ok(()),
                other => other,
            },
        )
    }

    /// Disconnects a broker and refuses new connections to it. Partition
    /// leadership does not move: its partitions are unavailable until
    /// [`broker_up`](Self::broker_up).
    ///
    /// # Errors
    ///
    /// [`ClusterError::NoSuchBroker`], or [`ClusterError::Mock`].
    pub fn broker_down(&self, broker: i32) -> Result<(), ClusterError> {
        self.check_broker(broker)?;
        tracing::info!(broker, "embedded broker down");
        self.run(format!("broker {broker} down"), move |mock| {
            mock.broker_down(broker)
        })
    }

    /// Lets a broker accept connections again.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NoSuchBroker`], or [`ClusterError::Mock`].
    pub fn broker_up(&self, broker: i32) -> Result<(), ClusterError> {
        self.check_broker(broker)?;
        tracing::info!(broker, "embedded broker up");
        self.run(format!("broker {broker} up"), move |mock| {
            mock.broker_up(broker)
        })
    }

    /// Adds `delay` of round-trip time to every request to a broker
    /// (`Duration::ZERO` removes it).
    ///
    /// # Errors
    ///
    /// [`ClusterError::NoSuchBroker`], or [`ClusterError::Mock`].
    pub fn broker_latency(&self, broker: i32, delay: Duration) -> Result<(), ClusterError> {
        self.check_broker(broker)?;
        tracing::info!(
            broker,
            delay_ms = delay.as_millis() as u64,
            "embedded broker latency"
        );
        self.run(format!("broker {broker} latency {delay:?}"), move |mock| {
            mock.broker_round_trip_time(broker, delay)
        })
    }

    /// Makes a broker the leader of a partition (the mock cluster does not
    /// fail over on its own when a broker goes down).
    ///
    /// # Errors
    ///
    /// [`ClusterError::NoSuchBroker`], or [`ClusterError::Mock`].
    pub fn partition_leader(
        &self,
        topic: &str,
        partition: i32,
        broker: i32,
    ) -> Result<(), ClusterError> {
        self.check_broker(broker)?;
        let name = topic.to_string();
        self.run(
            format!("leader of {topic}/{partition} to broker {broker}"),
            move |mock| mock.partition_leader(&name, partition, Some(broker)),
        )
    }

    fn check_broker(&self, broker: i32) -> Result<(), ClusterError> {
        if (1..=self.brokers).contains(&broker) {
            Ok(())
        } else {
            Err(ClusterError::NoSuchBroker {
                broker,
                brokers: self.brokers,
            })
        }
    }

    fn run<F>(&self, operation: String, op: F) -> Result<(), ClusterError>
    where
        F: FnOnce(&MockCluster<'static, DefaultProducerContext>) -> Result<(), KafkaError>
            + Send
            + 'static,
    {
        let requests = self.requests.as_ref().ok_or(ClusterError::Stopped)?;
        let (reply, answer) = mpsc::channel();
        requests
            .send(Request {
                op: Box::new(op),
                reply,
            })
            .map_err(|_| ClusterError::Stopped)?;
        match answer.recv() {
            Ok(result) => result.map_err(|source| ClusterError::Mock {
                operation,
                source: Box::new(source),
            }),
            Err(_) => Err(ClusterError::Stopped),
        }
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        // Closing the channel ends the owner thread, which drops the cluster.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The owner thread: creates the mock cluster, then runs requests until the
/// handle is dropped.
fn serve(
    brokers: i32,
    ready: mpsc::Sender<Result<String, KafkaError>>,
    inbox: mpsc::Receiver<Request>,
) {
    let mock = match MockCluster::new(brokers) {
        Ok(mock) => mock,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    if ready.send(Ok(mock.bootstrap_servers())).is_err() {
        return;
    }
    for request in inbox {
        let _ = request.reply.send((request.op)(&mock));
    }
}

/// The cluster a run talks to.
#[derive(Debug)]
pub enum Cluster {
    /// librdkafka's mock cluster in this process.
    Embedded(EmbeddedCluster),
    /// A real cluster at these brokers.
    External {
        /// `host:port,...`.
        bootstrap: String,
    },
}

impl Cluster {
    /// Starts the embedded cluster, or refers to the real one, as the
    /// settings say.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Start`] when the embedded cluster cannot start.
    pub fn connect(settings: &KafkaSettings) -> Result<Cluster, ClusterError> {
        if settings.is_embedded() {
            Ok(Cluster::Embedded(EmbeddedCluster::start(
                settings.embedded_brokers,
            )?))
        } else {
            Ok(Cluster::External {
                bootstrap: settings.bootstrap.trim().to_string(),
            })
        }
    }

    /// The brokers' `host:port` list.
    pub fn bootstrap(&self) -> &str {
        match self {
            Cluster::Embedded(embedded) => embedded.bootstrap(),
            Cluster::External { bootstrap } => bootstrap,
        }
    }

    /// The embedded cluster, for chaos operations; `None` for a real one.
    pub fn embedded(&self) -> Option<&EmbeddedCluster> {
        match self {
            Cluster::Embedded(embedded) => Some(embedded),
            Cluster::External { .. } => None,
        }
    }

    /// Creates the events, sessions and dead-letter topics when missing,
    /// with the settings' partitions and replication factor. Topics that
    /// exist are left alone.
    ///
    /// # Errors
    ///
    /// [`ClusterError`] naming the topic that could not be created.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled call may have created some topics.
    pub async fn ensure_topics(&self, settings: &KafkaSettings) -> Result<(), ClusterError> {
        let topics = [
            settings.topics.events.as_str(),
            settings.topics.sessions.as_str(),
            settings.topics.dlq.as_str(),
        ];
        let (partitions, replication) = (settings.partitions, settings.replication_factor);
        match self {
            Cluster::Embedded(embedded) => {
                for topic in topics {
                    embedded.create_topic(topic, partitions, replication)?;
                }
                Ok(())
            }
            Cluster::External { bootstrap } => {
                create_topics(settings, bootstrap, &topics, partitions, replication).await
            }
        }
    }
}

/// Creates topics with the admin API, tolerating ones that exist, and waits
/// until they show in metadata.
async fn create_topics(
    settings: &KafkaSettings,
    bootstrap: &str,
    topics: &[&str],
    partitions: i32,
    replication: i32,
) -> Result<(), ClusterError> {
    let admin: AdminClient<TracingContext> = settings
        .client_config(bootstrap)
        .create_with_context(TracingContext::default())
        .map_err(|source| ClusterError::AdminClient {
            bootstrap: bootstrap.to_string(),
            source: Box::new(source),
        })?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|source| ClusterError::CreateTopic {
            topic: topics.join(","),
            partitions,
            replication,
            source: Box::new(source),
        })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions, replication, "topic created"),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::info!(%topic, "topic exists, left as it is");
            }
            Err((topic, code)) => {
                return Err(ClusterError::CreateTopic {
                    topic,
                    partitions,
                    replication,
                    source: Box::new(KafkaError::AdminOp(code)),
                })
            }
        }
    }
    for topic in topics {
        wait_for_topic(&admin, bootstrap, topic).await?;
    }
    Ok(())
}

async fn wait_for_topic(
    admin: &AdminClient<TracingContext>,
    bootstrap: &str,
    topic: &str,
) -> Result<(), ClusterError> {
    let started = Instant::now();
    while started.elapsed() < TOPIC_READY_DEADLINE {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(5));
        if let Ok(metadata) = metadata {
            let ready = metadata
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
            if ready {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ClusterError::TopicNotReady {
        topic: topic.to_string(),
        bootstrap: bootstrap.to_string(),
        waited: TOPIC_READY_DEADLINE,
    })
}
