//! The pipeline under test: the reference pipeline in this process, a
//! child process the user names (`--pipeline-cmd`), or none (it already
//! runs elsewhere).
//!
//! A child gets the brokers and topics in its environment:
//! `WATCHLOAD_BOOTSTRAP`, `WATCHLOAD_INPUT_TOPIC`, `WATCHLOAD_OUTPUT_TOPIC`,
//! `WATCHLOAD_DLQ_TOPIC`, and a suggested consumer group in
//! `WATCHLOAD_GROUP_ID`. It is sent SIGTERM at the end of the run, and
//! killed if it has not exited a few seconds later. Its stdout and stderr
//! go to `pipeline.log` in the report directory.

use crate::run::supervise::{supervise, RestartCount, RestartPolicy};
use anyhow::Context;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use watchload_kafka::KafkaSettings;
use watchload_model::SessionRules;
use watchload_pipeline::kafka::{self as runner, Progress, RunnerError};
use watchload_pipeline::{Defects, SessionizerConfig, Stats};

/// How long a stopping pipeline may take before it is given up on.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Which pipeline a run drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineChoice {
    /// The reference pipeline on a task of this process.
    Reference,
    /// A shell command started as a child process.
    Command(String),
    /// None: the pipeline runs elsewhere.
    External,
}

/// A started pipeline.
#[derive(Debug)]
pub enum Pipeline {
    /// The reference pipeline.
    Reference {
        /// Completes the pipeline's shutdown future.
        stop: oneshot::Sender<()>,
        /// The pipeline's task.
        task: JoinHandle<Result<Stats, RunnerError>>,
        /// What it has processed so far.
        progress: Arc<Progress>,
        /// `true` freezes the pipeline (its task is no longer polled).
        pause: tokio::sync::watch::Sender<bool>,
    },
    /// A child process.
    Child(tokio::process::Child),
    /// Nothing to stop.
    External,
}

/// What the run needs to start a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineTarget<'a> {
    /// Client settings (topics, passthrough properties).
    pub settings: &'a KafkaSettings,
    /// Brokers.
    pub bootstrap: &'a str,
    /// The consumer group the pipeline should use.
    pub group: &'a str,
    /// The session rules of the scenario.
    pub rules: SessionRules,
    /// The report directory, for the child's log.
    pub dir: &'a Path,
    /// Deliberate bugs switched on in the reference pipeline.
    pub defects: Defects,
    /// Whether the reference pipeline emits its open sessions when stopped
    /// (the run ends the stream by shutdown).
    pub flush_on_shutdown: bool,
    /// Counts the supervisor's restarts of the reference pipeline
    /// (`src/run/supervise.rs`).
    pub restarts: RestartCount,
    /// Whether the cluster is the embedded mock cluster.
    pub embedded: bool,
}

/// Consumer settings of the reference pipeline on the embedded cluster.
/// The mock cluster's group coordinator, unlike a broker's, makes a member
/// that joins right after another left wait out a rebalance of the session
/// timeout less a second (45 s with librdkafka's default); a 6 s session
/// timeout brings a pipeline restart down to about 5 s. `-X` overrides.
const EMBEDDED_CONSUMER: [(&str, &str); 2] = [
    ("session.timeout.ms", "6000"),
    ("heartbeat.interval.ms", "2000"),
];

impl Pipeline {
    /// Starts the chosen pipeline.
    ///
    /// # Errors
    ///
    /// When the child process cannot be spawned or its log created.
    pub fn start(choice: &PipelineChoice, target: &PipelineTarget<'_>) -> anyhow::Result<Pipeline> {
        match choice {
            PipelineChoice::Reference => Ok(start_reference(target, Arc::default())),
            PipelineChoice::Command(command) => start_child(command, target),
            PipelineChoice::External => Ok(Pipeline::External),
        }
    }

    /// Stops the pipeline; returns the reference pipeline's stats.
    ///
    /// # Errors
    ///
    /// When the reference pipeline failed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled stop may leave a child running (it is
    /// killed when dropped).
    pub async fn stop(self) -> anyhow::Result<Option<Stats>> {
        match self {
            Pipeline::Reference { stop, task, .. } => {
                let _ = stop.send(());
                match tokio::time::timeout(STOP_GRACE, task).await {
                    Ok(Ok(result)) => Ok(Some(result.context("the reference pipeline failed")?)),
                    Ok(Err(join)) => {
                        Err(anyhow::anyhow!("the reference pipeline panicked: {join}"))
                    }
                    Err(_) => {
                        tracing::warn!("the reference pipeline did not stop in time");
                        Ok(None)
                    }
                }
            }
            Pipeline::Child(child) => {
                stop_child(child).await;
                Ok(None)
            }
            Pipeline::External => Ok(None),
        }
    }

    /// The reference pipeline's progress (offsets processed), which tells
    /// when it has consumed everything; `None` for other pipelines.
    pub fn progress(&self) -> Option<Arc<Progress>> {
        match self {
            Pipeline::Reference { progress, .. } => Some(Arc::clone(progress)),
            _ => None,
        }
    }

    /// Whether the pipeline has stopped on its own (a crashed child or a
    /// failed reference pipeline).
    pub fn has_exited(&mut self) -> bool {
        match self {
            Pipeline::Reference { task, .. } => task.is_finished(),
            Pipeline::Child(child) => child.try_wait().ok().flatten().is_some(),
            Pipeline::External => false,
        }
    }
}

/// Starts the pipeline again after [`Pipeline::crash`], with the same
/// consumer group (and, for the reference pipeline, the same progress
/// record, so whoever watches it keeps watching).
///
/// # Errors
///
/// As [`Pipeline::start`].
pub fn restart(
    choice: &PipelineChoice,
    target: &PipelineTarget<'_>,
    progress: Option<Arc<Progress>>,
) -> anyhow::Result<Pipeline> {
    match (choice, progress) {
        (PipelineChoice::Reference, Some(progress)) => Ok(start_reference(target, progress)),
        _ => Pipeline::start(choice, target),
    }
}

impl Pipeline {
    /// Kills the pipeline the way a crash would: the reference pipeline's
    /// task is dropped without its final commit, a child gets SIGKILL.
    /// Returns the reference pipeline's progress record for [`restart`].
    pub async fn crash(self) -> Option<Arc<Progress>> {
        match self {
            Pipeline::Reference {
                task,
                progress,
                pause,
                ..
            } => {
                task.abort();
                let _ = task.await;
                drop(pause);
                Some(progress)
            }
            Pipeline::Child(mut child) => {
                let _ = child.kill().await;
                None
            }
            Pipeline::External => None,
        }
    }

    /// Freezes (`true`) or thaws the pipeline: SIGSTOP and SIGCONT for a
    /// child; the reference pipeline's task is simply no longer polled, so
    /// it reads, writes and commits nothing (librdkafka's own threads keep
    /// its group membership alive, unlike a stopped process).
    ///
    /// # Errors
    ///
    /// When `kill` cannot signal the child, or there is no pipeline.
    pub async fn set_paused(&self, paused: bool) -> anyhow::Result<()> {
        match self {
            Pipeline::Reference { pause, .. } => {
                pause.send_replace(paused);
                Ok(())
            }
            Pipeline::Child(child) => {
                let pid = child.id().context("the pipeline process has exited")?;
                let signal = if paused { "-STOP" } else { "-CONT" };
                let status = tokio::process::Command::new("kill")
                    .arg(signal)
                    .arg(pid.to_string())
                    .status()
                    .await
                    .context("running kill")?;
                anyhow::ensure!(status.success(), "kill {signal} {pid} failed: {status}");
                Ok(())
            }
            Pipeline::External => anyhow::bail!("no pipeline was started by watchload"),
        }
    }
}

fn start_reference(target: &PipelineTarget<'_>, progress: Arc<Progress>) -> Pipeline {
    let t = &target.settings.topics;
    let mut settings = runner::KafkaSettings::new(
        target.bootstrap,
        &t.events,
        &t.sessions,
        &t.dlq,
        target.group,
    );
    settings.properties = target
        .settings
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    settings.flush_on_shutdown = target.flush_on_shutdown;
    if target.embedded {
        settings.consumer_properties = EMBEDDED_CONSUMER
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    let config = SessionizerConfig {
        rules: target.rules,
        defects: target.defects.clone(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (pause, paused) = tokio::sync::watch::channel(false);
    let shared = Arc::clone(&progress);
    let settings = Arc::new(settings);
    let attempt = move |shutdown| {
        let (settings, config, shared) =
            (Arc::clone(&settings), config.clone(), Arc::clone(&shared));
        async move { runner::run(&settings, config, shutdown, shared).await }
    };
    let supervised = supervise(
        attempt,
        stopped,
        RestartPolicy::default(),
        target.restarts.clone(),
    );
    let task = tokio::spawn(crate::run::chaos::pausable(supervised, paused));
    let defects: Vec<&str> = target.defects.iter().map(|d| d.as_str()).collect();
    tracing::info!(
        group = target.group,
        ?defects,
        "reference pipeline started in-process"
    );
    Pipeline::Reference {
        stop,
        task,
        progress,
        pause,
    }
}

fn start_child(command: &str, target: &PipelineTarget<'_>) -> anyhow::Result<Pipeline> {
    let log_path = target.dir.join("pipeline.log");
    // Appended to, so a restarted pipeline's output follows the first's.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let err_log = log.try_clone().context("sharing pipeline.log")?;
    let t = &target.settings.topics;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .env("WATCHLOAD_BOOTSTRAP", target.bootstrap)
        .env("WATCHLOAD_INPUT_TOPIC", &t.events)
        .env("WATCHLOAD_OUTPUT_TOPIC", &t.sessions)
        .env("WATCHLOAD_DLQ_TOPIC", &t.dlq)
        .env("WATCHLOAD_GROUP_ID", target.group)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the pipeline command `{command}`"))?;
    tracing::info!(command, pid = child.id(), "pipeline command started");
    Ok(Pipeline::Child(child))
}

async fn stop_child(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
        tracing::warn!(pid, "pipeline command ignored SIGTERM; killing it");
    }
    let _ = child.kill().await;
}
