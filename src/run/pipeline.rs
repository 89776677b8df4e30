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

use anyhow::Context;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use watchload_kafka::KafkaSettings;
use watchload_model::SessionRules;
use watchload_pipeline::kafka::{self as runner, Progress, RunnerError};
use watchload_pipeline::{SessionizerConfig, Stats};

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
}

impl Pipeline {
    /// Starts the chosen pipeline.
    ///
    /// # Errors
    ///
    /// When the child process cannot be spawned or its log created.
    pub fn start(choice: &PipelineChoice, target: &PipelineTarget<'_>) -> anyhow::Result<Pipeline> {
        match choice {
            PipelineChoice::Reference => Ok(start_reference(target)),
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

fn start_reference(target: &PipelineTarget<'_>) -> Pipeline {
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
    let config = SessionizerConfig {
        rules: target.rules,
        ..SessionizerConfig::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let progress = Arc::new(Progress::default());
    let shared = Arc::clone(&progress);
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        runner::run(&settings, config, shutdown, shared).await
    });
    tracing::info!(
        group = target.group,
        "reference pipeline started in-process"
    );
    Pipeline::Reference {
        stop,
        task,
        progress,
    }
}

fn start_child(command: &str, target: &PipelineTarget<'_>) -> anyhow::Result<Pipeline> {
    let log_path = target.dir.join("pipeline.log");
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
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
