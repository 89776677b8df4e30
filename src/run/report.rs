//! The run report: `report.json` (correctness from the verifier, plus
//! delivery, lag, throughput and timelines) and `report.md`.

use crate::run::chaos::report::{FaultReport, LossSection};
use crate::run::truth::LandedCounts;
use crate::run::wait::WaitEnd;
use serde::Serialize;
use std::fmt::Write;
use watchload_generator::pacing::PacingSummary;
use watchload_kafka::{OutcomeTally, ReadBackSummary, ReconcileCounts};
use watchload_verifier::lag::LagSummary;
use watchload_verifier::report::ThresholdResult;
use watchload_verifier::timeline::Timeline;
use watchload_verifier::Report;

/// Version of the run report layout; bumped when a field is removed or
/// changes meaning.
pub const RUN_REPORT_SCHEMA_VERSION: u32 = 1;

/// The whole run report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// [`RUN_REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of watchload.
    pub watchload_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Run id in every record's headers.
    pub run_id: String,
    /// Start of the run, UTC, RFC 3339.
    pub started_at: String,
    /// Wall seconds from start to the end of verification.
    pub elapsed_s: f64,
    /// Where the run went.
    pub cluster: ClusterInfo,
    /// The pipeline driven: `reference`, `command: ...` or `external`.
    pub pipeline: String,
    /// Times the reference pipeline stopped on an error and was started
    /// again by watchload's supervisor (not counting `pipeline-restart`
    /// faults); see `src/run/supervise.rs`.
    pub pipeline_restarts: u64,
    /// Delivery outcomes and their reconciliation with the log.
    pub delivery: DeliverySection,
    /// What was read back from the events topic.
    pub landed: LandedSection,
    /// Pacing of the generator.
    pub pacing: Option<PacingSummary>,
    /// Lag per truth session.
    pub lag: LagSection,
    /// Produce and output rates.
    pub throughput: Throughput,
    /// How waiting for the last output ended.
    pub wait: WaitSection,
    /// Per-second series.
    pub timeline: Timeline,
    /// The scenario's faults: windows, phases, recovery and damage (see
    /// docs/chaos.md); empty without `[[chaos]]`.
    pub faults: Vec<FaultReport>,
    /// Data lost by the broker, told apart from sessions the pipeline lost
    /// or got wrong.
    pub loss: LossSection,
    /// The verifier's report (its own thresholds list stays empty: they
    /// are checked below with the run's).
    pub verification: Report,
    /// Every threshold, in the order the scenario lists them.
    pub thresholds: Vec<ThresholdResult>,
    /// `pass` when every threshold held, else `fail`.
    pub verdict: String,
}

/// Where the run went.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// Brokers.
    pub bootstrap: String,
    /// Whether it was the embedded mock cluster.
    pub embedded: bool,
    /// Events topic.
    pub events_topic: String,
    /// Sessions topic.
    pub sessions_topic: String,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Partitions of created topics.
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication_factor: i32,
    /// The pipeline's consumer group, when known.
    pub consumer_group: Option<String>,
}

/// Delivery outcomes: `generated = acked + failed + indeterminate`.
#[derive(Debug, Clone, Serialize)]
pub struct DeliverySection {
    /// Outcome counts.
    pub tally: OutcomeTally,
    /// Whether every generated record has exactly one outcome.
    pub balanced: bool,
    /// Outcomes against the log.
    pub reconciliation: ReconcileCounts,
    /// Acked records absent from the topic.
    pub broker_data_loss: u64,
    /// Times the producer waited on a full queue.
    pub queue_full_waits: u64,
    /// Flush records written after the last event (one per partition).
    pub flush_records: u64,
}

/// What truth was built from.
#[derive(Debug, Clone, Serialize)]
pub struct LandedSection {
    /// Counts by admission.
    pub counts: LandedCounts,
    /// How far the read-back got.
    pub read_back: ReadBackSummary,
}

/// Lag per truth session.
#[derive(Debug, Clone, Serialize)]
pub struct LagSection {
    /// Percentiles, ms.
    pub summary: LagSummary,
    /// Measured sessions that were tolerated.
    pub tolerated: u64,
    /// Measured sessions seen before they were due (lag 0).
    pub early: u64,
    /// Truth sessions no record closed.
    pub unclosed: u64,
    /// Truth sessions closed but never seen correctly.
    pub never_seen: u64,
}

/// Produce and output rates.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Target events per second at the peak (rate times multiplier).
    pub target_rate: f64,
    /// Target events per second on average over the produce phase.
    pub target_mean_rate: f64,
    /// Records handed to the producer per second over the produce phase.
    pub achieved_rate: f64,
    /// `achieved_rate / target_mean_rate`.
    pub ratio: f64,
    /// Wall seconds of the produce phase.
    pub produce_s: f64,
    /// Output records per second from the first to the last one seen.
    pub sessions_out_rate: f64,
    /// Largest sampled consumer-group lag on the events topic.
    pub consumer_lag_max: Option<f64>,
    /// Last sampled consumer-group lag.
    pub consumer_lag_last: Option<f64>,
}

/// How the wait ended.
#[derive(Debug, Clone, Serialize)]
pub struct WaitSection {
    /// `quiescent` or `deadline`.
    pub end: WaitEnd,
    /// Wall ms waited after the flush.
    pub waited_ms: u64,
    /// Output records seen.
    pub output_records: u64,
    /// Errors met by the sessions tail.
    pub tail_errors: u64,
    /// Output records of the flush user, dropped before verifying.
    pub flush_outputs_dropped: u64,
}

impl RunReport {
    /// A run metric for thresholds (see `run::metrics`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let lag = &self.lag.summary;
        let value = match name {
            "lag_p50" => lag.p50 as f64,
            "lag_p90" => lag.p90 as f64,
            "lag_p99" => lag.p99 as f64,
            "lag_p999" => lag.p999 as f64,
            "lag_max" => lag.max as f64,
            "throughput_ratio" => self.throughput.ratio,
            "broker_data_loss" => self.delivery.broker_data_loss as f64,
            "schedule_misses" => self.pacing.map_or(0, |p| p.misses) as f64,
            "lag_unclosed" => self.lag.unclosed as f64,
            "consumer_lag_max" => self.throughput.consumer_lag_max?,
            _ => return None,
        };
        Some(value)
    }

    /// The short summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let v = &self.verification;
        let count = |c: &str| v.classes.get(c).map_or(0, |s| s.count);
        let t = &self.delivery.tally;
        let l = &self.lag.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} (F1 {:.4}, {} exact, {} missing, {} spurious of {} truth sessions)",
            self.scenario,
            self.verdict.to_uppercase(),
            v.scores.f1,
            count("exact"),
            count("missing"),
            count("spurious"),
            v.truth.sessions
        );
        let _ = writeln!(
            out,
            "  delivery: generated {} = acked {} + failed {} + indeterminate {}; \
             broker data loss {}",
            t.generated, t.acked, t.failed, t.indeterminate, self.delivery.broker_data_loss
        );
        let _ = writeln!(
            out,
            "  lag: p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms over {} sessions",
            l.p50, l.p99, l.p999, l.max, l.count
        );
        let t = &self.throughput;
        let _ = match self.pacing {
            Some(pacing) => writeln!(
                out,
                "  throughput: {:.0}/s achieved of {:.0}/s target (ratio {:.3}), \
                 {} schedule misses",
                t.achieved_rate, t.target_mean_rate, t.ratio, pacing.misses
            ),
            None => writeln!(
                out,
                "  throughput: {:.0}/s, unpaced (as fast as possible: no target)",
                t.achieved_rate
            ),
        };
        for th in self.thresholds.iter().filter(|t| !t.passed) {
            let _ = writeln!(out, "  failed: {} (actual {})", th.expr, th.actual);
        }
        out
    }

    /// `report.md`: the summary, the run's figures, then the verifier's
    /// own Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# watchload run: {}\n", self.scenario);
        let _ = writeln!(md, "Verdict: **{}**\n", self.verdict);
        let _ = writeln!(md, "```\n{}```\n", self.summary());
        let _ = writeln!(md, "| | |\n|---|---|");
        let rows = [
            ("started", self.started_at.clone()),
            ("seed", self.seed.to_string()),
            ("run id", self.run_id.clone()),
            ("cluster", self.cluster.bootstrap.clone()),
            ("pipeline", self.pipeline.clone()),
            ("pipeline restarts", self.pipeline_restarts.to_string()),
            (
                "wait ended",
                format!("{:?} after {} ms", self.wait.end, self.wait.waited_ms),
            ),
            ("output records", self.wait.output_records.to_string()),
            (
                "lag unclosed / never seen",
                format!("{} / {}", self.lag.unclosed, self.lag.never_seen),
            ),
            (
                "read-back complete",
                self.landed.read_back.complete.to_string(),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(
                md,
                "\n## Thresholds\n\n| threshold | actual | result |\n|---|---|---|"
            );
            for t in &self.thresholds {
                let result = if t.passed { "pass" } else { "FAIL" };
                let _ = writeln!(md, "| `{}` | {} | {result} |", t.expr, t.actual);
            }
        }
        md.push_str(&crate::run::chaos::report::markdown(
            &self.faults,
            &self.loss,
        ));
        let _ = writeln!(md, "\n## Correctness\n");
        md.push_str(&watchload_verifier::markdown::render(
            &self.verification,
            true,
        ));
        md
    }
}
