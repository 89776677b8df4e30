//! Running a verification: spill both sides into per-user buckets, then
//! judge bucket by bucket on a few worker threads.

use crate::decode::Decoder;
use crate::judge::Judge;
use crate::mapping::{Mapping, MappingError};
use crate::phase_one::{spill_outputs, spill_truth};
use crate::report::{Inputs, Report};
use crate::run_dir::{RunDir, RunDirError};
use crate::source::{SessionSource, SourceError};
use crate::spill::{Spill, SpillError};
use crate::tally::Tally;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Raw input bytes per bucket the automatic bucket count aims at.
pub const BUCKET_TARGET_BYTES: u64 = 64 << 20;
/// Most buckets chosen automatically (two open files per bucket).
pub const MAX_AUTO_BUCKETS: usize = 256;

/// Errors that stop a verification (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The truth run directory is unreadable or invalid.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The session output cannot be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The mapping file is unreadable or invalid.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The spill directory failed.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// A worker thread panicked.
    #[error("verifier worker thread panicked while judging bucket files")]
    Worker,
}

/// How repeated output for one session is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// A changelog: the last version per key wins, tombstones remove.
    #[default]
    FinalView,
    /// Every record is a session of its own; tombstones are only counted.
    Append,
}

impl fmt::Display for OutputMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputMode::FinalView => "final-view",
            OutputMode::Append => "append",
        })
    }
}

impl FromStr for OutputMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "final-view" => Ok(OutputMode::FinalView),
            "append" => Ok(OutputMode::Append),
            other => Err(format!(
                "unknown output mode `{other}`; use final-view or append"
            )),
        }
    }
}

/// Options of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Mapping file for a foreign output schema.
    pub mapping: Option<PathBuf>,
    /// How repeated output is read.
    pub output_mode: OutputMode,
    /// Number of spill buckets; automatic (about 64 MiB of input each) when
    /// `None`.
    pub buckets: Option<usize>,
    /// Worker threads for judging; the number of CPUs when `None`.
    pub workers: Option<usize>,
    /// Where the spill directory goes; the system temp dir when `None`.
    pub spill_dir: Option<PathBuf>,
}

/// Verifies the output read from `source` against the truth in `truth_dir`.
/// The report has no thresholds applied yet (see [`crate::threshold`]).
///
/// # Errors
/// When truth, the mapping, the source or the spill directory fail.
/// Malformed output records are not errors: they are counted in the report.
pub fn verify(
    truth_dir: &Path,
    source: &mut dyn SessionSource,
    options: &VerifyOptions,
) -> Result<Report, VerifyError> {
    let run = RunDir::open(truth_dir)?;
    let manifest = run.manifest()?;
    let mapping = options.mapping.as_deref().map(Mapping::load).transpose()?;
    let decoder = Decoder::new(mapping);

    let buckets = options
        .buckets
        .unwrap_or_else(|| auto_buckets(&run, source.size_hint_bytes()));
    let spill = Spill::new(buckets, options.spill_dir.as_deref())?;
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        let truth_job = scope.spawn(|| spill_truth(&run, &spill));
        let outputs = spill_outputs(source, &decoder, &spill, &mut tally);
        truth_job.join().map_err(|_| VerifyError::Worker)??;
        outputs
    })?;
    let spilled = started.elapsed();
    tracing::info!(
        buckets,
        records = tally.records,
        ?spilled,
        "spilled truth and output"
    );

    let streams = source.stream_names();
    let judge = Judge {
        spill: &spill,
        rules: manifest.rules,
        mode: options.output_mode,
        streams: &streams,
    };
    let workers = options
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, buckets);
    tally.merge(judge.all_buckets(workers)?);
    let judged = started.elapsed() - spilled;
    tracing::info!(workers, ?judged, "judged every bucket");

    let inputs = Inputs {
        truth_dir: truth_dir.display().to_string(),
        sessions: streams,
        mapping: options.mapping.as_ref().map(|p| p.display().to_string()),
        output_mode: options.output_mode.to_string(),
        scenario: manifest.scenario_name,
    };
    Ok(tally.finish(inputs, manifest.rules))
}

fn auto_buckets(run: &RunDir, output_bytes: Option<u64>) -> usize {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let truth = size(run.truth_path()) + size(run.excluded_path());
    let bytes = truth.max(output_bytes.unwrap_or(truth));
    (bytes.div_ceil(BUCKET_TARGET_BYTES) as usize).clamp(1, MAX_AUTO_BUCKETS)
}
