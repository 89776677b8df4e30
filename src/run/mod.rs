//! `watchload run`: one command that starts (or finds) a cluster, creates
//! the topics, starts the pipeline, tails its output, generates paced load
//! into the events topic, flushes, waits for the last output, builds truth
//! from what really landed, and judges correctness, lag and throughput.
//!
//! Phases, in order: [`setup`](Run::setup) (cluster, topics, pipeline,
//! tail, lag sampler), [`produce`](Run::produce) (generator into the Kafka
//! sink, then flush records), [`drain`](Run::drain) (wait for quiescence or
//! the deadline, stop everything), [`judge`](Run::judge) (read back, truth,
//! verify, lag, thresholds, report files). `docs/run.md` explains each.

mod assemble;
mod chaos;
mod clock;
mod end_of_stream;
mod flush;
mod group_lag;
mod junit;
mod metrics;
mod output;
mod pipeline;
mod progress;
mod report;
mod supervise;
mod tail;
mod tee;
mod truth;
mod wait;

pub use end_of_stream::EndOfStream;
pub use pipeline::PipelineChoice;
pub use report::RunReport;

use anyhow::Context;
use clock::HarnessClock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wait::{Signals, WaitPolicy};
use watchload_generator::Scenario;
use watchload_kafka::{Cluster, KafkaSettings};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Brokers of a real cluster, overriding the scenario's (`embedded`
    /// starts the mock cluster).
    pub bootstrap: Option<String>,
    /// The pipeline to drive.
    pub pipeline: PipelineChoice,
    /// The pipeline's consumer group, for consumer-group lag. Always known
    /// for the reference pipeline; for others only when given.
    pub group_id: Option<String>,
    /// librdkafka properties (`-X key=value`).
    pub properties: Vec<(String, String)>,
    /// Topic names are `<prefix>.events`, `<prefix>.sessions`,
    /// `<prefix>.dlq`; `None` keeps the defaults (`watchload.*`).
    pub topic_prefix: Option<String>,
    /// Partitions of the topics the run creates (default 6).
    pub partitions: Option<i32>,
    /// Parent of the report directory.
    pub report_root: PathBuf,
    /// Seed overriding the scenario's.
    pub seed: Option<u64>,
    /// End of output: no new output for this long after the flush
    /// (overrides the scenario's `wait.quiet`).
    pub quiet: Option<Duration>,
    /// End of output at the latest, after the flush (overrides the
    /// scenario's `wait.deadline`).
    pub deadline: Option<Duration>,
    /// Draw a live progress line on stderr.
    pub progress: bool,
    /// Also write a JUnit XML file here.
    pub junit: Option<PathBuf>,
    /// Deliberate bugs of the reference pipeline (`--defect`).
    pub defects: watchload_pipeline::Defects,
    /// How the end of the stream reaches the pipeline.
    pub end_of_stream: EndOfStream,
}

/// How long a run waits for the reference pipeline to join its group.
const PIPELINE_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished run produced.
#[derive(Debug)]
pub struct RunResult {
    /// The report.
    pub report: RunReport,
    /// The report directory.
    pub dir: PathBuf,
    /// Whether every threshold held.
    pub passed: bool,
}

/// Runs a scenario end to end on a runtime of its own.
///
/// # Errors
///
/// Bad scenario or thresholds, a cluster or topic that cannot be reached
/// or created, a pipeline that cannot start or fails, files that cannot be
/// written. Thresholds that fail are not errors: see [`RunResult::passed`].
pub fn execute(options: RunOptions) -> anyhow::Result<RunResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut run = Run::setup(options).await?;
        let produced = run.produce().await?;
        let drained = run.drain(&produced).await?;
        run.judge(produced, drained).await
    })
}

/// A run in progress.
struct Run {
    options: RunOptions,
    scenario: Scenario,
    scenario_text: String,
    seed: u64,
    settings: KafkaSettings,
    cluster: Arc<Cluster>,
    clock: HarnessClock,
    run_id: String,
    dir: PathBuf,
    thresholds: Vec<watchload_verifier::Threshold>,
    signals: Arc<Signals>,
    pipeline: Option<pipeline::Pipeline>,
    tail: Option<tail::TailTask>,
    sampler: Option<group_lag::LagSampler>,
    group: Option<String>,
    chaos: chaos::Chaos,
    /// The supervisor's restarts of the reference pipeline.
    restarts: supervise::RestartCount,
}

/// The Kafka settings of a run: the scenario's `[kafka]`, then the command
/// line.
fn kafka_settings(options: &RunOptions, scenario: &KafkaSettings) -> anyhow::Result<KafkaSettings> {
    let mut settings = scenario.clone();
    if let Some(bootstrap) = &options.bootstrap {
        settings.bootstrap = bootstrap.clone();
    }
    if let Some(partitions) = options.partitions {
        settings.partitions = partitions;
    }
    if let Some(prefix) = &options.topic_prefix {
        settings.topics.events = format!("{prefix}.events");
        settings.topics.sessions = format!("{prefix}.sessions");
        settings.topics.dlq = format!("{prefix}.dlq");
    }
    settings
        .apply_overrides(options.properties.iter().cloned())
        .context("-X property")?;
    let problems = settings.problems();
    if !problems.is_empty() {
        anyhow::bail!("Kafka settings:\n  {}", problems.join("\n  "));
    }
    Ok(settings)
}

impl Run {
    async fn setup(options: RunOptions) -> anyhow::Result<Run> {
        let (scenario, scenario_text) = watchload_generator::scenario::load_file(&options.scenario)
            .with_context(|| format!("loading scenario {}", options.scenario.display()))?;
        let thresholds = metrics::parse_all(&scenario.thresholds)?;
        let seed = options.seed.unwrap_or(scenario.seed);
        let settings = kafka_settings(&options, &scenario.kafka)?;
        let clock = HarnessClock::start();
        let run_id = format!("{}-{seed}-{}", scenario.name, clock.origin_ms());
        let dir = options.report_root.join(format!(
            "{}-{}",
            assemble::utc_stamp(clock.origin_ms()),
            scenario.name
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating report directory {}", dir.display()))?;

        let cluster = Arc::new(Cluster::connect(&settings).context("connecting to the cluster")?);
        cluster
            .ensure_topics(&settings)
            .await
            .context("creating the topics")?;
        tracing::info!(bootstrap = cluster.bootstrap(), dir = %dir.display(), "run set up");

        let group = match &options.pipeline {
            PipelineChoice::Reference => Some(format!("watchload-pipeline-{run_id}")),
            _ => options.group_id.clone(),
        };
        let suggested = group
            .clone()
            .unwrap_or_else(|| format!("watchload-pipeline-{run_id}"));
        let restarts = supervise::RestartCount::default();
        let pipeline = pipeline::Pipeline::start(
            &options.pipeline,
            &pipeline::PipelineTarget {
                settings: &settings,
                bootstrap: cluster.bootstrap(),
                group: &suggested,
                rules: scenario.rules.to_model(),
                dir: &dir,
                defects: options.defects.clone(),
                flush_on_shutdown: options.end_of_stream == EndOfStream::Shutdown,
                restarts: restarts.clone(),
                embedded: cluster.embedded().is_some(),
            },
        )?;

        let signals = Arc::new(Signals::default());
        let from = if cluster.embedded().is_some() {
            watchload_kafka::TailStart::Beginning
        } else {
            watchload_kafka::TailStart::End
        };
        let consumer = watchload_kafka::TailConsumer::start(
            &settings,
            cluster.bootstrap(),
            &settings.topics.sessions,
            from,
            Duration::from_secs(30),
        )
        .context("starting the sessions tail")?;
        let tail = tail::TailTask::spawn(consumer, clock, Arc::clone(&signals));
        let sampler = group.as_ref().map(|g| {
            group_lag::LagSampler::start(
                group_lag::LagTarget {
                    settings: settings.clone(),
                    bootstrap: cluster.bootstrap().to_string(),
                    topic: settings.topics.events.clone(),
                    group: g.clone(),
                    processed: pipeline.progress(),
                },
                clock,
                Arc::clone(&signals),
            )
        });
        Ok(Run {
            options,
            scenario,
            scenario_text,
            seed,
            settings,
            cluster,
            clock,
            run_id,
            dir,
            thresholds,
            signals,
            pipeline: Some(pipeline),
            tail: Some(tail),
            sampler,
            group,
            chaos: chaos::Chaos::Idle,
            restarts,
        })
    }

    async fn produce(&mut self) -> anyhow::Result<assemble::Produced> {
        self.await_pipeline_assignment().await;
        let progress = progress::ProgressLine::start(
            self.options.progress,
            Arc::clone(&self.signals),
            self.clock,
        );
        self.start_chaos()?;
        let produced = assemble::produce(self, &progress).await;
        progress.stop().await;
        self.finish_chaos().await?;
        let mut produced = produced?;
        if self.options.end_of_stream == EndOfStream::FlushRecords {
            produced.flush_records = assemble::flush(self, &produced.send_log).await?;
        }
        Ok(produced)
    }

    /// Starts the scenario's chaos plan with the load; the scheduler holds
    /// the pipeline while it runs when a fault acts on it.
    fn start_chaos(&mut self) -> anyhow::Result<()> {
        let plan = self.scenario.chaos.clone();
        if plan.is_empty() {
            return Ok(());
        }
        let on_pipeline = plan.iter().any(|e| e.action.targets_pipeline());
        let spec = chaos::PipelineSpec {
            choice: self.options.pipeline.clone(),
            settings: self.settings.clone(),
            bootstrap: self.cluster.bootstrap().to_string(),
            group: self
                .group
                .clone()
                .unwrap_or_else(|| format!("watchload-pipeline-{}", self.run_id)),
            rules: self.scenario.rules.to_model(),
            dir: self.dir.clone(),
            defects: self.options.defects.clone(),
            flush_on_shutdown: self.options.end_of_stream == EndOfStream::Shutdown,
            restarts: self.restarts.clone(),
            embedded: self.cluster.embedded().is_some(),
        };
        let targets = chaos::ChaosTargets {
            cluster: Arc::clone(&self.cluster),
            pipeline: if on_pipeline {
                self.pipeline.take()
            } else {
                None
            },
            spec,
        };
        self.chaos = chaos::Chaos::start(plan, targets, self.clock)?;
        Ok(())
    }

    /// Waits for the last fault to be undone and takes the pipeline back.
    async fn finish_chaos(&mut self) -> anyhow::Result<()> {
        if let Some(pipeline) = self.chaos.finish().await? {
            self.pipeline = Some(pipeline);
        }
        Ok(())
    }

    /// Waits (bounded) until the reference pipeline holds every partition
    /// of the events topic, so that lag measures the pipeline at work and
    /// not its consumer group join. Other pipelines are not observable here;
    /// a user's pipeline should be running before the run starts.
    async fn await_pipeline_assignment(&self) {
        let Some(progress) = self.pipeline.as_ref().and_then(|p| p.progress()) else {
            return;
        };
        let want = usize::try_from(self.settings.partitions).unwrap_or(0);
        let started = std::time::Instant::now();
        while progress.assigned().len() < want {
            if started.elapsed() > PIPELINE_READY_TIMEOUT {
                tracing::warn!(
                    assigned = progress.assigned().len(),
                    partitions = want,
                    "the pipeline holds not all partitions yet; producing anyway"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!(
            waited_ms = started.elapsed().as_millis() as u64,
            "pipeline assigned"
        );
    }

    async fn drain(&mut self, produced: &assemble::Produced) -> anyhow::Result<assemble::Drained> {
        let wait = &self.scenario.wait;
        let policy = WaitPolicy {
            quiet: (self.options.quiet).unwrap_or(millis(wait.quiet.ms())),
            deadline: (self.options.deadline).unwrap_or(millis(wait.deadline.ms())),
        };
        let (mut end, mut waited) = wait::wait_for_output(policy, &self.signals).await;
        let mut shutdown_stats = None;
        if self.options.end_of_stream == EndOfStream::Shutdown {
            let stopped =
                end_of_stream::stop_and_wait(&mut self.pipeline, policy, &self.signals).await?;
            (end, waited, shutdown_stats) = (stopped.end, waited + stopped.waited, stopped.stats);
        }
        tracing::info!(
            ?end,
            waited_ms = waited.as_millis() as u64,
            "output wait ended"
        );
        let tail = self
            .tail
            .take()
            .expect("tail started in setup")
            .stop()
            .await;
        let lag_samples = self.sampler.take().map(|s| s.stop()).unwrap_or_default();
        let mut pipeline = self.pipeline.take().expect("pipeline started in setup");
        let crashed = pipeline.has_exited() && !matches!(pipeline, pipeline::Pipeline::External);
        if crashed {
            tracing::warn!("the pipeline stopped before the end of the run");
        }
        let stats = pipeline.stop().await?.or(shutdown_stats);
        let _ = produced;
        Ok(assemble::Drained {
            end,
            waited,
            tail,
            lag_samples,
            pipeline_stats: stats,
        })
    }

    async fn judge(
        self,
        produced: assemble::Produced,
        drained: assemble::Drained,
    ) -> anyhow::Result<RunResult> {
        let dir = self.dir.clone();
        let junit = self.options.junit.clone();
        let result = tokio::task::spawn_blocking(move || assemble::judge(self, produced, drained))
            .await
            .context("the judging task panicked")??;
        if let Some(path) = junit {
            junit::write(&path, &result.report)?;
        }
        Ok(RunResult {
            passed: result.report.verdict == "pass",
            report: result.report,
            dir,
        })
    }
}

/// A scenario duration (ms) as a `Duration`.
fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}
