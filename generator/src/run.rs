//! A whole run: generate, encode, pace, send, and (with a run directory)
//! compute truth and write the side files.

use crate::calibrate::calibrate;
use crate::engine::{Generator, Shard};
use crate::pacing::{Pacer, PacingSummary, RateCap};
use crate::record::{encode_event, to_watch_event, write_user_id, Label, Payload, Scratch};
use crate::rundir::{Counts, Manifest, RunDir, RunDirError, ShardInfo};
use crate::scenario::Scenario;
use crate::shape::PlanError;
use crate::sink::{Delivery, OutRecord, Sink, SinkError};
use crate::truth::{Pending, TruthStage};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunConfig<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its text, copied into the manifest.
    pub scenario_text: &'a str,
    /// The seed (the scenario's unless overridden).
    pub seed: u64,
    /// Which users to generate.
    pub shard: Shard,
    /// Send on the wall-clock schedule (true) or as fast as possible.
    pub paced: bool,
    /// Where to write truth and side files; `None` for events only.
    pub run_dir: Option<PathBuf>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The load cannot be produced by the population.
    #[error("scenario {scenario}: cannot calibrate the load")]
    Plan { scenario: String, source: PlanError },
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A side file could not be written.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
}

/// Progress, reported a few times per second.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Share of simulated time done, 0 to 1.
    pub done: f64,
    /// Records sent so far.
    pub records: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Record and admission counts.
    pub counts: Counts,
    /// Records per fault label.
    pub labels: BTreeMap<&'static str, u64>,
    /// Pacing, when paced.
    pub pacing: Option<PacingSummary>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Target events per wall second at the peak.
    pub target_wall_rate: f64,
    /// Records held back by the lateness guard.
    pub held: u64,
    /// Most records waiting in the reorder buffer at once.
    pub max_pending: u64,
    /// Run tag in every id.
    pub run_tag: String,
}

/// Runs a scenario into `sink`, calling `progress` now and then.
///
/// # Errors
/// [`RunError`] when the load is infeasible, the sink fails or a side file
/// cannot be written.
pub fn run(
    cfg: &RunConfig<'_>,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let s = cfg.scenario;
    let began = Instant::now();
    let plan = calibrate(s, cfg.seed).map_err(|source| RunError::Plan {
        scenario: s.name.clone(),
        source,
    })?;
    let stats = plan.stats;
    let mut generator = Generator::with_plan(s, cfg.seed, cfg.shard, plan);
    let tag = generator.tag().to_string();
    tracing::info!(scenario = %s.name, seed = cfg.seed, shard = %cfg.shard,
        users = generator.stats().users, records_per_sitting = stats.records,
        sitting_min = stats.length_ms / 60_000.0, "generating");

    let mut dir = cfg.run_dir.as_deref().map(RunDir::create).transpose()?;
    let mut truth = dir.as_ref().map(|_| TruthStage::new(s.rules.to_model()));
    let mut pacer = cfg.paced.then(|| {
        Pacer::new(
            s.start.0,
            s.time_scale,
            Duration::from_millis(s.load.miss_threshold.ms() as u64),
        )
    });

    let mut cap = s.load.max_rate.map(|rate| RateCap::new(rate.0));
    let mut counts = Counts::default();
    let mut labels: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut payload = Vec::with_capacity(512);
    let mut key = String::with_capacity(8);
    let mut scratch = Scratch::default();
    let mut deliveries: Vec<Delivery> = Vec::new();
    let mut last_report = Instant::now();
    let duration = s.duration.ms().max(1) as f64;

    while let Some(record) = generator.next() {
        let index = counts.records;
        counts.records += 1;
        for l in record.labels.iter() {
            *labels.entry(l.as_str()).or_insert(0) += 1;
        }
        key.clear();
        write_user_id(&mut key, record.user());
        payload.clear();
        let event = match &record.payload {
            Payload::Event(e) => {
                counts.events += 1;
                encode_event(e, &tag, &mut scratch, &mut payload);
                truth.is_some().then(|| to_watch_event(e, &tag))
            }
            Payload::Poison { line, .. } => {
                counts.poison += 1;
                payload.extend_from_slice(line.as_bytes());
                None
            }
        };

        if let Some(cap) = cap.as_mut() {
            cap.wait();
        }
        if let Some(p) = pacer.as_mut() {
            p.wait(record.send_time);
        }
        sink.send(&OutRecord {
            index,
            send_time: record.send_time,
            key: &key,
            payload: &payload,
            labels: record.labels,
        })?;

        if let (Some(t), Some(d)) = (truth.as_mut(), dir.as_mut()) {
            t.push(Pending {
                index,
                send_time: record.send_time,
                user_id: key.clone(),
                event,
                labels: record.labels,
            });
            if index % 256 == 0 {
                sink.poll(&mut deliveries)?;
                t.resolve(&mut deliveries, d)?;
            }
        } else if index % 4096 == 0 {
            sink.poll(&mut deliveries)?;
            deliveries.clear();
        }

        if index % 4096 == 0 && last_report.elapsed() > Duration::from_millis(200) {
            last_report = Instant::now();
            let done = (generator.sim_now() - s.start.0) as f64 / duration;
            progress(Progress {
                done: done.clamp(0.0, 1.0),
                records: counts.records,
            });
        }
    }

    sink.finish(&mut deliveries)?;
    let engine = generator.stats();
    counts.users = engine.users;
    if let (Some(t), Some(d)) = (truth.take(), dir.as_mut()) {
        let a = t.finish(&mut deliveries, d)?;
        counts.duplicates = a.duplicates;
        counts.expired = a.expired;
        counts.ambiguous = a.ambiguous;
        counts.failed = a.failed;
        counts.truth_sessions = a.truth_sessions;
        counts.tolerated_sessions = a.tolerated_sessions;
    }
    progress(Progress {
        done: 1.0,
        records: counts.records,
    });
    let pacing = pacer.as_ref().map(Pacer::summary);
    let elapsed = began.elapsed();
    if let Some(d) = dir {
        d.finish(&Manifest {
            watchload_version: env!("CARGO_PKG_VERSION"),
            scenario: &s.name,
            scenario_text: cfg.scenario_text,
            seed: cfg.seed,
            run_tag: &tag,
            shard: ShardInfo {
                index: cfg.shard.index,
                count: cfg.shard.count,
            },
            rules: s.rules.to_model(),
            counts: counts.clone(),
            labels: labels.clone(),
            sim_start: s.start.0,
            sim_end: s.end(),
            time_scale: s.time_scale,
            paced: cfg.paced,
            target_sim_rate: s.peak_sim_rate(),
            pilot_records_per_sitting: stats.records,
            pilot_sitting_ms: stats.length_ms,
            pacing,
            elapsed_s: elapsed.as_secs_f64(),
        })?;
    }
    for label in Label::ALL {
        labels.entry(label.as_str()).or_insert(0);
    }
    tracing::info!(
        records = counts.records,
        held = engine.held,
        elapsed_s = elapsed.as_secs_f64(),
        "run finished"
    );
    Ok(RunSummary {
        counts,
        labels,
        pacing,
        elapsed,
        target_wall_rate: s.load.peak_wall_rate(),
        held: engine.held,
        max_pending: engine.max_pending,
        run_tag: tag,
    })
}
