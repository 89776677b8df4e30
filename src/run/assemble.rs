//! The work inside the phases of a run: producing, flushing, and judging
//! what came out into the report.

use crate::run::clock::HarnessClock;
use crate::run::flush::{flush_event, flush_event_time, FLUSH_USER};
use crate::run::group_lag::LagSamples;
use crate::run::metrics;
use crate::run::output::{seen_log, CollectedSource};
use crate::run::progress::ProgressLine;
use crate::run::report::{
    ClusterInfo, DeliverySection, LagSection, LandedSection, RunReport, Throughput, WaitSection,
    RUN_REPORT_SCHEMA_VERSION,
};
use crate::run::tail::{SeenOutput, TailResult};
use crate::run::tee::{SendLog, TeeSink};
use crate::run::truth::{self, Schedule};
use crate::run::wait::WaitEnd;
use crate::run::{PipelineChoice, Run};
use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;
use watchload_generator::sink::{FileSink, KafkaSink};
use watchload_generator::{RunConfig, RunSummary, Shard};
use watchload_kafka::{DeliveryLedger, KafkaSettings, OutgoingRecord, RecordProducer};
use watchload_pipeline::Stats;
use watchload_verifier::lag::{self, LagInputs, LagMeasurement, LagSummary};
use watchload_verifier::timeline::{Axis, Counter, Gauge, LagByBucket, Timeline};
use watchload_verifier::{verify, VerifyOptions};

/// How long reading the events topic back may take.
const READ_BACK_DEADLINE: Duration = Duration::from_secs(120);

/// What the produce phase left.
#[derive(Debug)]
pub struct Produced {
    /// The generator's summary.
    pub summary: RunSummary,
    /// When each record was sent.
    pub send_log: SendLog,
    /// Every record's delivery outcome.
    pub ledger: DeliveryLedger,
    /// Flush records acked.
    pub flush_records: u64,
}

/// What the drain phase left.
#[derive(Debug)]
pub struct Drained {
    /// Why waiting ended.
    pub end: WaitEnd,
    /// How long it lasted.
    pub waited: Duration,
    /// The sessions the tail saw.
    pub tail: TailResult,
    /// Consumer-group lag samples.
    pub lag_samples: LagSamples,
    /// The reference pipeline's counters.
    pub pipeline_stats: Option<Stats>,
}

/// The outcome of judging.
#[derive(Debug)]
pub struct Judged {
    /// The finished report.
    pub report: RunReport,
}

/// `20250102T030405Z` for an epoch ms.
pub fn utc_stamp(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| epoch_ms.to_string())
}

fn rfc3339(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| epoch_ms.to_string())
}

/// Runs the generator into the Kafka sink (and `events.jsonl`) on a
/// blocking thread, paced as the scenario says.
pub async fn produce(run: &Run, progress: &ProgressLine) -> anyhow::Result<Produced> {
    let kafka = KafkaSink::new(&run.settings, run.cluster.bootstrap(), &run.run_id)
        .context("creating the Kafka sink")?;
    let file = FileSink::create(&run.dir.join("events.jsonl"))?;
    let mut tee = TeeSink::new(kafka, file, run.clock);
    let scenario = run.scenario.clone();
    let text = run.scenario_text.clone();
    let seed = run.seed;
    let produced = progress.produced_counter();
    let (summary, mut tee) = tokio::task::spawn_blocking(move || {
        let cfg = RunConfig {
            scenario: &scenario,
            scenario_text: &text,
            seed,
            shard: Shard::default(),
            paced: scenario.load.paced,
            run_dir: None,
        };
        let summary = watchload_generator::run(&cfg, &mut tee, &mut |p| {
            produced.store(p.records, std::sync::atomic::Ordering::Relaxed);
        });
        summary.map(|s| (s, tee))
    })
    .await
    .context("the generator thread panicked")?
    .context("generating into the events topic")?;
    let ledger = tee
        .kafka()
        .ledger()
        .cloned()
        .context("the Kafka sink finished without a delivery ledger")?;
    Ok(Produced {
        summary,
        send_log: tee.take_log(),
        ledger,
        flush_records: 0,
    })
}

/// Partitions of `topic` now.
fn partition_count(settings: &KafkaSettings, bootstrap: &str, topic: &str) -> anyhow::Result<i32> {
    let consumer: BaseConsumer = settings
        .reader_config(bootstrap)
        .create()
        .context("creating a metadata client")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of topic {topic}"))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len() as i32);
    anyhow::ensure!(partitions > 0, "topic {topic} has no partitions");
    Ok(partitions)
}

/// Writes one flush record to every partition of the events topic; returns
/// how many were acked. See `run::flush`.
pub async fn flush(run: &Run, log: &SendLog) -> anyhow::Result<u64> {
    let rules = run.scenario.rules.to_model();
    let last = log.last_event_time.unwrap_or(run.scenario.end());
    let event_time = flush_event_time(last, &rules);
    let settings = run.settings.clone();
    let bootstrap = run.cluster.bootstrap().to_string();
    let run_id = format!("{}-flush", run.run_id);
    let clock: HarnessClock = run.clock;
    let ledger = tokio::task::spawn_blocking(move || -> anyhow::Result<DeliveryLedger> {
        let topic = &settings.topics.events;
        let partitions = partition_count(&settings, &bootstrap, topic)?;
        let producer = RecordProducer::new(&settings, &bootstrap, topic, &run_id)
            .context("creating the flush producer")?;
        for partition in 0..partitions {
            let payload = serde_json::to_vec(&flush_event(partition, event_time))?;
            producer
                .send(&OutgoingRecord::<String> {
                    key: FLUSH_USER,
                    payload: &payload,
                    send_time_ms: clock.now_ms(),
                    labels: &[],
                    partition: Some(partition),
                    timestamp_ms: None,
                })
                .context("sending a flush record")?;
        }
        Ok(producer.finish(Duration::from_secs(5)))
    })
    .await
    .context("the flush thread panicked")??;
    if ledger.tally.acked != ledger.tally.generated {
        tracing::warn!(tally = ?ledger.tally, "not every flush record was acked");
    }
    tracing::info!(
        records = ledger.tally.acked,
        event_time,
        "flush records written"
    );
    Ok(ledger.tally.acked)
}

/// Reads back, builds truth, verifies, measures, and writes the report.
pub fn judge(run: Run, produced: Produced, drained: Drained) -> anyhow::Result<Judged> {
    let s = &run.scenario;
    let rules = s.rules.to_model();
    let log = &produced.send_log;
    let schedule = Schedule {
        paced: produced.summary.pacing.is_some(),
        start_ms: if produced.summary.pacing.is_some() {
            log.schedule_start_ms(s.start.0, s.time_scale)
        } else {
            log.sent_ms.first().copied()
        }
        .unwrap_or(run.clock.origin_ms()),
        sim_start: s.start.0,
        time_scale: s.time_scale,
        sent_ms: log.sent_ms.clone(),
    };
    let landed = truth::build(
        &run.settings,
        run.cluster.bootstrap(),
        &produced.ledger,
        rules,
        &schedule,
        READ_BACK_DEADLINE,
        &run.dir,
    )?;
    write_side_files(&run, &produced, &drained.tail.records)?;

    let mut source = CollectedSource::new(&run.settings.topics.sessions, &drained.tail.records);
    let verification = verify(&run.dir, &mut source, &VerifyOptions::default())
        .context("verifying the sessions")?;
    let seen = seen_log(&drained.tail.records);
    let measured = lag::measure(&LagInputs {
        truth: &landed.truth,
        user_partition: &landed.user_partition,
        closers: &landed.closers,
        seen: &seen,
        session_gap_ms: rules.session_gap_ms,
    });

    let end_ms = run.clock.now_ms();
    let mut timeline = timeline(&run, &schedule, log, &drained, &measured, end_ms);
    let (faults, loss) = crate::run::chaos::judge::sections(
        crate::run::chaos::judge::Judged {
            run: &run,
            schedule: &schedule,
            produced: &produced,
            drained: &drained,
            landed: &landed,
            measured: &measured,
            seen: &seen,
            verification: &verification,
        },
        &mut timeline,
    );
    let throughput = throughput(&run, &schedule, log, &drained);
    let tally = produced.ledger.tally;
    let recon = landed.reconciliation.counts;
    let mut report = RunReport {
        schema_version: RUN_REPORT_SCHEMA_VERSION,
        watchload_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: s.name.clone(),
        seed: run.seed,
        run_id: run.run_id.clone(),
        started_at: rfc3339(run.clock.origin_ms()),
        elapsed_s: (end_ms - run.clock.origin_ms()) as f64 / 1_000.0,
        cluster: ClusterInfo {
            bootstrap: run.cluster.bootstrap().to_string(),
            embedded: run.cluster.embedded().is_some(),
            events_topic: run.settings.topics.events.clone(),
            sessions_topic: run.settings.topics.sessions.clone(),
            dlq_topic: run.settings.topics.dlq.clone(),
            partitions: run.settings.partitions,
            replication_factor: run.settings.replication_factor,
            consumer_group: run.group.clone(),
        },
        pipeline: match &run.options.pipeline {
            PipelineChoice::Reference if run.options.defects.is_empty() => "reference".to_string(),
            PipelineChoice::Reference => {
                let names: Vec<&str> = run.options.defects.iter().map(|d| d.as_str()).collect();
                format!("reference with defects {}", names.join(","))
            }
            PipelineChoice::Command(c) => format!("command: {c}"),
            PipelineChoice::External => "external".to_string(),
        },
        pipeline_restarts: run.restarts.get(),
        delivery: DeliverySection {
            tally,
            balanced: tally.generated == tally.acked + tally.failed + tally.indeterminate,
            reconciliation: recon,
            broker_data_loss: recon.broker_data_loss,
            queue_full_waits: produced.ledger.queue_full_waits,
            flush_records: produced.flush_records,
        },
        landed: LandedSection {
            counts: landed.counts,
            read_back: landed.summary,
        },
        pacing: produced.summary.pacing,
        lag: LagSection {
            summary: LagSummary::of(&measured.histogram),
            tolerated: measured.tolerated,
            early: measured.early,
            unclosed: measured.unclosed,
            never_seen: measured.never_seen,
        },
        throughput,
        wait: WaitSection {
            end: drained.end,
            waited_ms: drained.waited.as_millis() as u64,
            output_records: drained.tail.records.len() as u64,
            tail_errors: drained.tail.errors,
            flush_outputs_dropped: source.flush_dropped,
        },
        timeline,
        faults,
        loss,
        verification,
        thresholds: Vec::new(),
        verdict: String::new(),
    };
    report.thresholds =
        metrics::check_all(&run.thresholds, &report.verification, |m| report.metric(m));
    report
        .thresholds
        .extend(crate::run::chaos::judge::check(&report.faults));
    // Data integrity fails a run whatever the scenario's thresholds say:
    // every record accounted for, nothing acked lost, the topic read back.
    let intact = report.delivery.balanced
        && report.delivery.broker_data_loss == 0
        && report.landed.read_back.complete;
    let pass = intact && report.thresholds.iter().all(|t| t.passed);
    report.verdict = if pass { "pass" } else { "fail" }.to_string();
    if let Some(stats) = &drained.pipeline_stats {
        tracing::info!(
            records = stats.records,
            upserts = stats.upserts,
            "reference pipeline stats"
        );
    }

    write_json(&run.dir.join("report.json"), &report)?;
    std::fs::write(run.dir.join("report.md"), report.markdown())
        .with_context(|| format!("writing {}", run.dir.join("report.md").display()))?;
    Ok(Judged { report })
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// `manifest.json` (what the verifier reads), `deliveries.jsonl` and
/// `sessions.jsonl` (the output as the pipeline wrote it).
fn write_side_files(run: &Run, produced: &Produced, seen: &[SeenOutput]) -> anyhow::Result<()> {
    let manifest = serde_json::json!({
        "watchload_version": env!("CARGO_PKG_VERSION"),
        "scenario": run.scenario.name,
        "scenario_text": run.scenario_text,
        "seed": run.seed,
        "run_id": run.run_id,
        "rules": run.scenario.rules.to_model(),
        "sim_start": run.scenario.start.0,
        "sim_end": run.scenario.end(),
        "time_scale": run.scenario.time_scale,
        "truth_from": "events topic read back in partition order",
    });
    write_json(&run.dir.join("manifest.json"), &manifest)?;

    let path = run.dir.join("deliveries.jsonl");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    produced
        .ledger
        .write_jsonl(BufWriter::new(file))
        .with_context(|| format!("writing {}", path.display()))?;

    let path = run.dir.join("sessions.jsonl");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for s in seen {
        match &s.record.payload {
            Some(bytes) => out.write_all(bytes)?,
            None => {
                let key = s.record.key.as_deref().map(String::from_utf8_lossy);
                let line = serde_json::json!({"session_id": key, "op": "delete"});
                serde_json::to_writer(&mut out, &line)?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

fn timeline(
    run: &Run,
    schedule: &Schedule,
    log: &SendLog,
    drained: &Drained,
    measured: &LagMeasurement,
    end_ms: i64,
) -> Timeline {
    let axis = Axis::per_second(run.clock.origin_ms());
    let mut target = Counter::new(axis);
    let mut sent = Counter::new(axis);
    for (i, (&sim, &at)) in log.sim_send_ms.iter().zip(&log.sent_ms).enumerate() {
        target.add(schedule.intended_ms(i as u64, sim), 1);
        sent.add(at, 1);
    }
    let mut out = Counter::new(axis);
    for s in &drained.tail.records {
        out.add(s.seen_ms, 1);
    }
    let mut lags = LagByBucket::new(axis);
    for s in &measured.sessions {
        lags.add(s.due_ms, s.lag_ms);
    }
    let mut consumer = Gauge::new(axis);
    for &(at, lag) in &drained.lag_samples {
        consumer.sample(at, lag as f64);
    }
    let buckets = axis.buckets_until(end_ms);
    let mut t = Timeline::new(axis, buckets);
    t.insert("events_target_per_s", target.per_second(buckets));
    t.insert("events_sent_per_s", sent.per_second(buckets));
    t.insert("sessions_out_per_s", out.per_second(buckets));
    t.insert("sessions_closed_per_s", lags.count_per_second(buckets));
    t.insert("lag_p99_ms", lags.quantile(0.99, buckets));
    t.insert("consumer_lag", consumer.values(buckets));
    t
}

fn throughput(run: &Run, schedule: &Schedule, log: &SendLog, drained: &Drained) -> Throughput {
    let n = log.len() as f64;
    let last_intended = log
        .sim_send_ms
        .last()
        .map(|&sim| schedule.intended_ms(log.len() as u64 - 1, sim));
    let last_sent = log.sent_ms.iter().copied().max();
    let span =
        |end: Option<i64>| end.map_or(0.0, |e| ((e - schedule.start_ms).max(1)) as f64 / 1_000.0);
    let (target_span, sent_span) = (span(last_intended), span(last_sent));
    let target_mean_rate = if target_span > 0.0 {
        n / target_span
    } else {
        0.0
    };
    let achieved_rate = if sent_span > 0.0 { n / sent_span } else { 0.0 };
    let ratio = if target_mean_rate > 0.0 {
        (achieved_rate / target_mean_rate).min(1.0)
    } else {
        1.0
    };
    let seen: Vec<i64> = drained.tail.records.iter().map(|s| s.seen_ms).collect();
    let sessions_out_rate = match (seen.iter().min(), seen.iter().max()) {
        (Some(a), Some(b)) if b > a => seen.len() as f64 / ((b - a) as f64 / 1_000.0),
        _ => 0.0,
    };
    let lags = &drained.lag_samples;
    Throughput {
        target_rate: run.scenario.load.peak_wall_rate(),
        target_mean_rate,
        achieved_rate,
        ratio,
        produce_s: sent_span,
        sessions_out_rate,
        consumer_lag_max: lags.iter().map(|&(_, l)| l as f64).reduce(f64::max),
        consumer_lag_last: lags.last().map(|&(_, l)| l as f64),
    }
}
