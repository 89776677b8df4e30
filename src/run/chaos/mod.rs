//! Faults on the same timeline as the load: the scenario's `[[chaos]]`
//! entries, injected and undone by a scheduler that starts with the load
//! and reads the run's monotonic clock, and the report that ties each fault
//! to the damage around it. See docs/chaos.md.
//!
//! Targets never leave this machine's loopback: broker faults act on the
//! embedded cluster (its listeners are checked to be on 127.0.0.0/8 before
//! the first fault), pipeline faults on the pipeline this process started.
//! `exec` runs the user's own commands, on the user's responsibility.

mod actions;
mod exec;
pub mod judge;
mod plan;
pub mod recovery;
pub mod report;

pub use exec::CommandRun;

use crate::run::clock::HarnessClock;
use crate::run::pipeline::{Pipeline, PipelineChoice};
use actions::Targets;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use watchload_generator::scenario::ChaosEntry;
use watchload_kafka::{Cluster, KafkaSettings};
use watchload_model::SessionRules;
use watchload_pipeline::Defects;

/// What happened to one fault, on the run's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// Index in the scenario's `[[chaos]]` list.
    pub index: usize,
    /// The action, as written (`broker-down`, ...).
    pub action: String,
    /// What it acted on (`broker 2`, `pipeline`, the command).
    pub target: String,
    /// When it was injected, harness epoch ms.
    pub start_epoch_ms: i64,
    /// When it was undone, harness epoch ms.
    pub end_epoch_ms: i64,
    /// Problems injecting or undoing it; empty when all went as planned.
    pub errors: Vec<String>,
    /// `exec` commands run, with their outcomes.
    pub commands: Vec<CommandRun>,
}

/// Runs `future` except while `paused` says `true`: then it is not polled
/// at all, as if its thread were stopped. When the sender is dropped the
/// future runs to completion.
///
/// # Cancel safety
///
/// Dropping it drops `future`.
pub async fn pausable<F: Future>(future: F, mut paused: watch::Receiver<bool>) -> F::Output {
    tokio::pin!(future);
    loop {
        if *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return future.await;
            }
            continue;
        }
        tokio::select! {
            out = &mut future => return out,
            changed = paused.changed() => {
                if changed.is_err() {
                    return future.await;
                }
            }
        }
    }
}

/// Everything needed to start the pipeline again after a crash, owned.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// Which pipeline.
    pub choice: PipelineChoice,
    /// Client settings.
    pub settings: KafkaSettings,
    /// Brokers.
    pub bootstrap: String,
    /// Its consumer group (the same after a restart).
    pub group: String,
    /// Session rules.
    pub rules: SessionRules,
    /// The report directory.
    pub dir: PathBuf,
    /// Defect switches of the reference pipeline.
    pub defects: Defects,
    /// Whether the cluster is the embedded mock cluster.
    pub embedded: bool,
    /// Whether the reference pipeline flushes when stopped.
    pub flush_on_shutdown: bool,
    /// The supervisor's restart counter, kept across chaos restarts.
    pub restarts: crate::run::supervise::RestartCount,
}

/// What the scheduler acts on.
#[derive(Debug)]
pub struct ChaosTargets {
    /// The cluster (broker faults need it embedded).
    pub cluster: Arc<Cluster>,
    /// The pipeline, when a fault acts on it; handed back by
    /// [`Chaos::finish`].
    pub pipeline: Option<Pipeline>,
    /// How to start the pipeline again.
    pub spec: PipelineSpec,
}

/// The chaos of a run: not started, running, or done with its records.
#[derive(Debug, Default)]
pub enum Chaos {
    /// No plan, or not started yet.
    #[default]
    Idle,
    /// The scheduler task.
    Running(JoinHandle<(Vec<FaultRecord>, Option<Pipeline>)>),
    /// Every fault injected and undone.
    Done(Vec<FaultRecord>),
}

impl Chaos {
    /// Starts the scheduler now, the start of the load. Refuses a plan the
    /// targets cannot carry out (broker faults on a real cluster, pipeline
    /// faults without a pipeline watchload started, an embedded cluster
    /// not on loopback).
    ///
    /// # Errors
    ///
    /// As above; nothing has been injected then.
    pub fn start(
        plan: Vec<ChaosEntry>,
        targets: ChaosTargets,
        clock: HarnessClock,
    ) -> anyhow::Result<Chaos> {
        actions::check_targets(&plan, &targets)?;
        let started = Instant::now();
        tracing::info!(
            faults = plan.len(),
            span_ms = plan::span(&plan).as_millis() as u64,
            "chaos plan started with the load"
        );
        let task = tokio::spawn(schedule(plan, Targets::new(targets), clock, started));
        Ok(Chaos::Running(task))
    }

    /// Waits until the last fault is undone (bounded: every fault has a
    /// finite duration and every command a timeout), and hands back the
    /// pipeline it held.
    ///
    /// # Errors
    ///
    /// When the scheduler task panicked.
    pub async fn finish(&mut self) -> anyhow::Result<Option<Pipeline>> {
        let Chaos::Running(task) = std::mem::take(self) else {
            return Ok(None);
        };
        let (records, pipeline) = task
            .await
            .map_err(|e| anyhow::anyhow!("the chaos scheduler panicked: {e}"))?;
        *self = Chaos::Done(records);
        Ok(pipeline)
    }

    /// The records of a finished plan (empty otherwise).
    pub fn records(&self) -> &[FaultRecord] {
        match self {
            Chaos::Done(records) => records,
            _ => &[],
        }
    }
}

/// The scheduler: sleeps until each step's offset from `started`, then
/// injects or undoes, recording the actual times.
async fn schedule(
    plan: Vec<ChaosEntry>,
    mut targets: Targets,
    clock: HarnessClock,
    started: Instant,
) -> (Vec<FaultRecord>, Option<Pipeline>) {
    let mut records: Vec<FaultRecord> = plan
        .iter()
        .enumerate()
        .map(|(index, e)| FaultRecord {
            index,
            action: e.action.as_str().to_string(),
            target: e.target(),
            start_epoch_ms: 0,
            end_epoch_ms: 0,
            errors: Vec::new(),
            commands: Vec::new(),
        })
        .collect();
    for step in plan::steps(&plan) {
        tokio::time::sleep_until((started + step.at).into()).await;
        let entry = &plan[step.fault];
        let record = &mut records[step.fault];
        let now = clock.now_ms();
        let late_ms = Instant::now().duration_since(started + step.at).as_millis() as u64;
        let outcome = match step.kind {
            plan::StepKind::Inject => {
                record.start_epoch_ms = now;
                targets.inject(step.fault, entry).await
            }
            plan::StepKind::Undo => {
                record.end_epoch_ms = now;
                targets.undo(step.fault, entry).await
            }
        };
        let (commands, error) = outcome;
        record.commands.extend(commands);
        let what = if step.kind == plan::StepKind::Inject {
            "fault injected"
        } else {
            "fault undone"
        };
        match &error {
            None => tracing::info!(
                fault = step.fault,
                action = entry.action.as_str(),
                target = %record.target,
                at_ms = step.at.as_millis() as u64,
                late_ms,
                "{what}"
            ),
            Some(error) => tracing::warn!(
                fault = step.fault,
                action = entry.action.as_str(),
                target = %record.target,
                %error,
                "{what}, with a problem"
            ),
        }
        record.errors.extend(error);
    }
    (records, targets.into_pipeline())
}

/// Wall time of a scenario duration.
fn wall(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn a_paused_future_makes_no_progress_until_resumed() {
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ticks);
        let (pause, paused) = watch::channel(false);
        let task = tokio::spawn(pausable(
            async move {
                for _ in 0..1_000 {
                    counter.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            },
            paused,
        ));
        tokio::time::sleep(Duration::from_millis(60)).await;
        pause.send_replace(true);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let frozen = ticks.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(ticks.load(Ordering::Relaxed), frozen, "it ran while paused");
        pause.send_replace(false);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(ticks.load(Ordering::Relaxed) > frozen, "it did not resume");
        drop(pause);
        task.abort();
    }
}
