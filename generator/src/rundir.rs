//! The run directory's side files: `records.jsonl`, `truth.jsonl`,
//! `excluded.jsonl` and `manifest.json` (`events.jsonl` is the file sink's).
//! The format is the contract between generator and verifier; see
//! `docs/generator.md`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use watchload_model::truth::Excluded;
use watchload_model::{SessionRules, TruthSession};

use crate::pacing::PacingSummary;

/// File names inside a run directory.
pub const EVENTS: &str = "events.jsonl";
/// Side file describing each line of `events.jsonl`.
pub const RECORDS: &str = "records.jsonl";
/// Truth sessions.
pub const TRUTH: &str = "truth.jsonl";
/// Events left out of truth.
pub const EXCLUDED: &str = "excluded.jsonl";
/// Run manifest.
pub const MANIFEST: &str = "manifest.json";

/// Why writing the run directory failed.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One line of `records.jsonl`.
#[derive(Debug, Serialize)]
pub struct RecordLine<'a> {
    /// Line number in `events.jsonl`, from 0.
    pub line: u64,
    /// Intended send time, simulated epoch ms.
    pub send_time: i64,
    /// The record key.
    pub user_id: &'a str,
    /// `event_id`, null for poison.
    pub event_id: Option<&'a str>,
    /// Kafka partition (0 for file output).
    pub partition: i32,
    /// Fault labels.
    pub labels: Vec<&'static str>,
    /// `kept`, `duplicate`, `expired`, `ambiguous`, `poison` (or `failed`
    /// when a sink reported the write failed).
    pub admission: &'a str,
    /// Stream time before the record minus its `event_time`, at least 0.
    pub lateness_ms: i64,
}

/// Counts in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Lines in `events.jsonl`.
    pub records: u64,
    /// Valid event records, copies included.
    pub events: u64,
    /// Poison records.
    pub poison: u64,
    /// Records admitted as duplicates.
    pub duplicates: u64,
    /// Records admitted as expired.
    pub expired: u64,
    /// Records admitted as ambiguous.
    pub ambiguous: u64,
    /// Records a sink reported as not written.
    pub failed: u64,
    /// Users simulated in this shard.
    pub users: u64,
    /// Lines in `truth.jsonl`.
    pub truth_sessions: u64,
    /// Truth sessions marked tolerated.
    pub tolerated_sessions: u64,
}

/// Shard of the manifest.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ShardInfo {
    /// This shard.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

/// `manifest.json`.
#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    pub watchload_version: &'static str,
    pub scenario: &'a str,
    pub scenario_text: &'a str,
    pub seed: u64,
    /// Tag in every id of the run.
    pub run_tag: &'a str,
    pub shard: ShardInfo,
    pub rules: SessionRules,
    pub counts: Counts,
    /// Records per fault label.
    pub labels: BTreeMap<&'static str, u64>,
    /// Simulated start, epoch ms.
    pub sim_start: i64,
    /// Simulated end, epoch ms (exclusive).
    pub sim_end: i64,
    pub time_scale: f64,
    pub paced: bool,
    /// Target events per simulated second at the peak.
    pub target_sim_rate: f64,
    /// Calibration pilot: mean records per sitting and sitting length.
    pub pilot_records_per_sitting: f64,
    pub pilot_sitting_ms: f64,
    /// Pacing measurements, when paced.
    pub pacing: Option<PacingSummary>,
    /// Wall-clock seconds the run took.
    pub elapsed_s: f64,
}

/// Writers of the side files.
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    records: BufWriter<File>,
    truth: BufWriter<File>,
    excluded: BufWriter<File>,
    line: Vec<u8>,
}

impl RunDir {
    /// Creates `dir` (and parents) and the side files in it.
    ///
    /// # Errors
    /// [`RunDirError::Io`] naming the path that failed.
    pub fn create(dir: &Path) -> Result<Self, RunDirError> {
        std::fs::create_dir_all(dir).map_err(|source| RunDirError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let open = |name: &str| -> Result<BufWriter<File>, RunDirError> {
            let path = dir.join(name);
            File::create(&path)
                .map(|f| BufWriter::with_capacity(1 << 20, f))
                .map_err(|source| RunDirError::Io { path, source })
        };
        Ok(RunDir {
            dir: dir.to_path_buf(),
            records: open(RECORDS)?,
            truth: open(TRUTH)?,
            excluded: open(EXCLUDED)?,
            line: Vec::with_capacity(256),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn err(&self, name: &str, source: std::io::Error) -> RunDirError {
        RunDirError::Io {
            path: self.dir.join(name),
            source,
        }
    }

    fn write_json(
        line: &mut Vec<u8>,
        out: &mut BufWriter<File>,
        value: &impl Serialize,
    ) -> std::io::Result<()> {
        line.clear();
        serde_json::to_writer(&mut *line, value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        out.write_all(line)
    }

    /// Appends a line to `records.jsonl`.
    pub fn record(&mut self, r: &RecordLine<'_>) -> Result<(), RunDirError> {
        Self::write_json(&mut self.line, &mut self.records, r).map_err(|e| self.err(RECORDS, e))
    }

    /// Appends a session to `truth.jsonl`.
    pub fn truth(&mut self, s: &TruthSession) -> Result<(), RunDirError> {
        Self::write_json(&mut self.line, &mut self.truth, s).map_err(|e| self.err(TRUTH, e))
    }

    /// Appends to `excluded.jsonl`.
    pub fn excluded(&mut self, e: &Excluded) -> Result<(), RunDirError> {
        Self::write_json(&mut self.line, &mut self.excluded, e).map_err(|e| self.err(EXCLUDED, e))
    }

    /// Flushes the side files and writes `manifest.json`.
    pub fn finish(mut self, manifest: &Manifest<'_>) -> Result<(), RunDirError> {
        for (name, w) in [
            (RECORDS, &mut self.records),
            (TRUTH, &mut self.truth),
            (EXCLUDED, &mut self.excluded),
        ] {
            w.flush().map_err(|source| RunDirError::Io {
                path: self.dir.join(name),
                source,
            })?;
        }
        let path = self.dir.join(MANIFEST);
        let mut text = serde_json::to_string_pretty(manifest).map_err(|e| RunDirError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| RunDirError::Io { path, source })
    }
}
