//! Truth from what really landed: the events topic read back in partition
//! order, each valid record fed to `TruthBuilder` with its real partition.
//!
//! A record on the topic was delivered, whatever its delivery outcome said
//! (an indeterminate record counts exactly when it is there), so every
//! record read back is admitted as delivered. Records of the flush user
//! advance stream time for lag but never enter truth. Poison records are
//! counted, not fed. Records of other runs (a reused topic) are counted as
//! foreign and left out. Reconciliation against the delivery ledger runs on
//! the same pass, so broker data loss (acked but absent) is found too.

use crate::run::flush::is_flush_user;
use anyhow::Context;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;
use watchload_kafka::{
    read_back, DeliveryLedger, KafkaSettings, ReadBackSummary, ReadRecord, Reconciler,
    Reconciliation,
};
use watchload_model::{Admission, SessionRules, TruthBuilder, TruthSession, WatchEvent};
use watchload_verifier::lag::Closers;

/// Maps a record's intended send time to the harness clock.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Records were paced (else intended = actual send).
    pub paced: bool,
    /// Harness epoch ms of the schedule's start.
    pub start_ms: i64,
    /// Simulated start of the scenario, epoch ms.
    pub sim_start: i64,
    /// Simulated ms per wall ms.
    pub time_scale: f64,
    /// Actual send time of each record, harness epoch ms.
    pub sent_ms: Vec<i64>,
}

impl Schedule {
    /// The intended send time of record `record` whose simulated send time
    /// is `sim_send`, harness epoch ms.
    pub fn intended_ms(&self, record: u64, sim_send: i64) -> i64 {
        if !self.paced {
            if let Some(&sent) = self.sent_ms.get(record as usize) {
                return sent;
            }
        }
        self.start_ms + ((sim_send - self.sim_start) as f64 / self.time_scale).round() as i64
    }
}

/// Admission counts of the records read back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LandedCounts {
    /// Records read back, flush records included.
    pub records: u64,
    /// Valid events fed to truth.
    pub events: u64,
    /// Records that are not valid events (counted, not fed).
    pub poison: u64,
    /// Flush records.
    pub flush: u64,
    /// Records without watchload's harness headers or of another run.
    pub foreign: u64,
    /// Admitted as kept.
    pub kept: u64,
    /// Admitted as duplicates.
    pub duplicate: u64,
    /// Admitted as expired.
    pub expired: u64,
    /// Admitted as ambiguous.
    pub ambiguous: u64,
    /// Truth sessions.
    pub truth_sessions: u64,
    /// Of which tolerated.
    pub tolerated_sessions: u64,
}

/// Everything the read-back produced.
#[derive(Debug)]
pub struct LandedTruth {
    /// Truth sessions, in the order closed.
    pub truth: Vec<TruthSession>,
    /// Counts.
    pub counts: LandedCounts,
    /// How far the read got.
    pub summary: ReadBackSummary,
    /// Delivery outcomes against the log.
    pub reconciliation: Reconciliation,
    /// Records that can close sessions, for lag.
    pub closers: Closers,
    /// The input partition of each user.
    pub user_partition: HashMap<String, i32>,
}

/// One line of `landed.jsonl`: a record as read back, in partition order.
#[derive(Debug, Serialize)]
struct LandedLine<'a> {
    partition: i32,
    offset: i64,
    record: Option<u64>,
    send_time: Option<i64>,
    intended_ms: Option<i64>,
    user_id: &'a str,
    event_id: Option<&'a str>,
    labels: &'a [String],
    admission: &'a str,
    lateness_ms: i64,
}

/// Where the read-back writes its files.
#[derive(Debug)]
struct Files {
    truth: BufWriter<File>,
    excluded: BufWriter<File>,
    landed: BufWriter<File>,
}

impl Files {
    fn create(dir: &Path) -> anyhow::Result<Files> {
        let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
            let path = dir.join(name);
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            Ok(BufWriter::new(file))
        };
        Ok(Files {
            truth: open("truth.jsonl")?,
            excluded: open("excluded.jsonl")?,
            landed: open("landed.jsonl")?,
        })
    }
}

/// Reads the events topic back and builds truth from it. Blocks.
///
/// # Errors
///
/// When the topic cannot be read or a file in `dir` cannot be written.
pub fn build(
    settings: &KafkaSettings,
    bootstrap: &str,
    ledger: &DeliveryLedger,
    rules: SessionRules,
    schedule: &Schedule,
    deadline: Duration,
    dir: &Path,
) -> anyhow::Result<LandedTruth> {
    let mut files = Files::create(dir)?;
    let mut state = State {
        builder: TruthBuilder::new(rules),
        reconciler: Reconciler::new(ledger),
        run_id: ledger.run_id.clone(),
        schedule,
        counts: LandedCounts::default(),
        closers: Closers::new(),
        user_partition: HashMap::new(),
        truth: Vec::new(),
        io_error: None,
    };
    let topic = &settings.topics.events;
    let summary = read_back(settings, bootstrap, topic, deadline, |record| {
        state.take(&record, &mut files);
    })
    .with_context(|| format!("reading topic {topic} back"))?;
    state.finish(&mut files)?;
    let reconciliation = state.reconciler.finish();
    Ok(LandedTruth {
        truth: state.truth,
        counts: state.counts,
        summary,
        reconciliation,
        closers: state.closers,
        user_partition: state.user_partition,
    })
}

struct State<'a> {
    builder: TruthBuilder,
    reconciler: Reconciler,
    run_id: String,
    schedule: &'a Schedule,
    counts: LandedCounts,
    closers: Closers,
    user_partition: HashMap<String, i32>,
    truth: Vec<TruthSession>,
    io_error: Option<std::io::Error>,
}

/// Truth drains closed users every this many records.
const DRAIN_EVERY: u64 = 8_192;

impl State<'_> {
    fn take(&mut self, record: &ReadRecord, files: &mut Files) {
        self.counts.records += 1;
        let harness = record.harness();
        let key = record
            .key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or("");
        let event: Option<WatchEvent> = record
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_slice(p).ok());

        if is_flush_user(key) {
            self.counts.flush += 1;
            if let (Some(e), Some(h)) = (&event, &harness) {
                // Flush records carry their intended time on the harness clock.
                self.closers
                    .push(record.partition, e.event_time, h.send_time_ms);
            }
            return;
        }
        self.reconciler.observe(record);
        let ours = harness.as_ref().filter(|h| h.run_id == self.run_id);
        if ours.is_none() {
            // Left on the topic by another run or producer: not ours to judge.
            self.counts.foreign += 1;
            return;
        }
        let intended = ours.map(|h| self.schedule.intended_ms(h.record, h.send_time_ms));
        let labels: Vec<String> = ours.map(|h| h.labels.clone()).unwrap_or_default();

        let Some(event) = event else {
            self.counts.poison += 1;
            self.write_line(
                files, record, ours, intended, key, None, &labels, "poison", 0,
            );
            return;
        };
        self.counts.events += 1;
        if let Some(at) = intended {
            self.closers.push(record.partition, event.event_time, at);
        }
        self.user_partition
            .entry(event.user_id.clone())
            .or_insert(record.partition);
        let verdict = self.builder.admit(record.partition, &event, true, &labels);
        match verdict.admission {
            Admission::Kept => self.counts.kept += 1,
            Admission::Duplicate => self.counts.duplicate += 1,
            Admission::Expired => self.counts.expired += 1,
            Admission::Ambiguous => self.counts.ambiguous += 1,
        }
        let admission = verdict.admission.as_str();
        let event_id = Some(event.event_id.as_str());
        let user = event.user_id.as_str();
        let lateness = verdict.lateness_ms;
        self.write_line(
            files, record, ours, intended, user, event_id, &labels, admission, lateness,
        );
        if self.counts.events % DRAIN_EVERY == 0 {
            self.drain(files);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_line(
        &mut self,
        files: &mut Files,
        record: &ReadRecord,
        harness: Option<&watchload_kafka::headers::HarnessHeaders>,
        intended_ms: Option<i64>,
        user_id: &str,
        event_id: Option<&str>,
        labels: &[String],
        admission: &str,
        lateness_ms: i64,
    ) {
        let line = LandedLine {
            partition: record.partition,
            offset: record.offset,
            record: harness.map(|h| h.record),
            send_time: harness.map(|h| h.send_time_ms),
            intended_ms,
            user_id,
            event_id,
            labels,
            admission,
            lateness_ms,
        };
        self.write_json(|f| &mut f.landed, files, &line);
    }

    fn write_json<T: Serialize>(
        &mut self,
        pick: impl Fn(&mut Files) -> &mut BufWriter<File>,
        files: &mut Files,
        value: &T,
    ) {
        if self.io_error.is_some() {
            return;
        }
        let out = pick(files);
        let result = serde_json::to_writer(&mut *out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(error) = result {
            self.io_error = Some(error);
        }
    }

    fn drain(&mut self, files: &mut Files) {
        let closed = self.builder.drain_closed();
        self.keep(closed, files);
        for excluded in self.builder.drain_excluded() {
            self.write_json(|f| &mut f.excluded, files, &excluded);
        }
    }

    fn keep(&mut self, sessions: Vec<TruthSession>, files: &mut Files) {
        for session in sessions {
            self.counts.truth_sessions += 1;
            if session.tolerated {
                self.counts.tolerated_sessions += 1;
            }
            self.write_json(|f| &mut f.truth, files, &session);
            self.truth.push(session);
        }
    }

    fn finish(&mut self, files: &mut Files) -> anyhow::Result<()> {
        self.drain(files);
        let builder = std::mem::replace(
            &mut self.builder,
            TruthBuilder::new(SessionRules::default()),
        );
        self.keep(builder.finish(), files);
        if let Some(error) = self.io_error.take() {
            return Err(error).context("writing truth, excluded or landed records");
        }
        for out in [&mut files.truth, &mut files.excluded, &mut files.landed] {
            out.flush().context("flushing truth files")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_records_are_due_on_the_absolute_schedule() {
        let schedule = Schedule {
            paced: true,
            start_ms: 10_000,
            sim_start: 0,
            time_scale: 60.0,
            sent_ms: vec![99_999],
        };
        assert_eq!(schedule.intended_ms(0, 60_000), 11_000);
        let unpaced = Schedule {
            paced: false,
            ..schedule
        };
        assert_eq!(unpaced.intended_ms(0, 60_000), 99_999);
    }
}
