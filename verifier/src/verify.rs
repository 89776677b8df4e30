//! Running a verification: spill both sides into per-user buckets, then
//! judge bucket by bucket on a few worker threads.

use crate::decode::{Change, Decoder, OutputSession};
use crate::mapping::{Mapping, MappingError};
use crate::matching::classify_user;
use crate::report::{Inputs, MalformedSample, Report};
use crate::run_dir::{parse_excluded_line, parse_truth_line, user_of_line, RunDir, RunDirError};
use crate::source::{Origin, Payload, RawRecord, SessionSource, SourceError};
use crate::spill::{Spill, SpillError};
use crate::tally::{Tally, UserCase};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use watchload_model::truth::FaultSample;
use watchload_model::{SessionRules, TruthSession};

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
        decoder: &decoder,
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

/// Spills `truth.jsonl` (tag `T`) and `excluded.jsonl` (tag `X`) as
/// `<tag><line>\t<json>`.
fn spill_truth(run: &RunDir, spill: &Spill) -> Result<(), VerifyError> {
    let mut writers = spill.writers("truth")?;
    for (tag, path, required) in [
        (b"T", run.truth_path(), true),
        (b"X", run.excluded_path(), false),
    ] {
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(RunDirError::Open { path, source }.into()),
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line = String::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|source| RunDirError::Read {
                    path: path.clone(),
                    line: number,
                    source,
                })?;
            if read == 0 {
                break;
            }
            number += 1;
            let text = line.trim_end();
            if text.is_empty() {
                continue;
            }
            let user = user_of_line(text).map_err(|message| RunDirError::Parse {
                path: path.clone(),
                line: number,
                message,
            })?;
            let prefix = format!("{}\t", number);
            writers.write(&user, &[tag, prefix.as_bytes(), text.as_bytes()])?;
        }
    }
    writers.finish()?;
    Ok(())
}

/// Spills output records as `<stream>\t<position>\t<kind>\t<key>\t<user>\t<payload>`
/// (kind `J` for a JSON body, `D` for a transport tombstone; key and user
/// as JSON strings or `-`).
fn spill_outputs(
    source: &mut dyn SessionSource,
    decoder: &Decoder,
    spill: &Spill,
    tally: &mut Tally,
) -> Result<(), VerifyError> {
    let mut writers = spill.writers("output")?;
    while let Some(record) = source.next_record()? {
        tally.records += 1;
        let user = match decoder.user_of(&record) {
            Ok(user) => user,
            Err(error) => {
                tally.malformed(MalformedSample {
                    source: source.stream_name(record.origin.stream),
                    line: record.origin.position,
                    error,
                });
                continue;
            }
        };
        let opt_json = |v: &Option<String>| {
            v.as_ref().map_or_else(
                || "-".to_string(),
                |s| serde_json::Value::from(s.as_str()).to_string(),
            )
        };
        let compact;
        let (kind, body) = match &record.payload {
            Payload::Text(text) if text.contains(['\n', '\r']) => {
                // A multi-line body (pretty JSON from a live source) must
                // fit one spill line; it parsed above, so it re-serializes.
                let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                compact = value.to_string();
                ("J", compact.as_str())
            }
            Payload::Text(text) => ("J", text.as_str()),
            Payload::Tombstone => ("D", ""),
            Payload::Unreadable(_) => unreachable!("user_of refuses unreadable records"),
        };
        let head = format!(
            "{}\t{}\t{kind}\t{}\t{}\t",
            record.origin.stream,
            record.origin.position,
            opt_json(&record.key),
            opt_json(&record.user_id)
        );
        writers.write(&user, &[head.as_bytes(), body.as_bytes()])?;
    }
    writers.finish()?;
    Ok(())
}

/// One user's inputs within a bucket.
#[derive(Debug, Default)]
struct UserWork {
    truths: Vec<TruthSession>,
    excluded: Vec<FaultSample>,
    outputs: Vec<OutputSession>,
}

/// A live changelog entry in final-view mode.
#[derive(Debug)]
struct Slot {
    user_id: String,
    session: Option<OutputSession>,
}

struct Judge<'a> {
    spill: &'a Spill,
    decoder: &'a Decoder,
    rules: SessionRules,
    mode: OutputMode,
    streams: &'a [String],
}

impl Judge<'_> {
    fn all_buckets(&self, workers: usize) -> Result<Tally, VerifyError> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Result<Tally, VerifyError>>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    let outcome = loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.spill.buckets() {
                            break Ok(tally);
                        }
                        match self.bucket(i) {
                            Ok(t) => tally.merge(t),
                            Err(e) => break Err(e),
                        }
                    };
                    results
                        .lock()
                        .expect("no panic holds the lock")
                        .push(outcome);
                });
            }
        });
        let results = results.into_inner().map_err(|_| VerifyError::Worker)?;
        if results.len() != workers {
            return Err(VerifyError::Worker);
        }
        let mut total = Tally::default();
        for result in results {
            total.merge(result?);
        }
        Ok(total)
    }

    fn bucket(&self, index: usize) -> Result<Tally, VerifyError> {
        let mut tally = Tally::default();
        let mut users: HashMap<String, UserWork> = HashMap::new();
        self.load_truth(index, &mut users)?;
        self.load_outputs(index, &mut users, &mut tally)?;

        let mut names: Vec<String> = users.keys().cloned().collect();
        names.sort();
        for name in names {
            let mut work = users.remove(&name).expect("key listed above");
            work.truths.sort_by_key(|t| t.session.session_start);
            work.outputs.sort_by_key(|o| o.origin);
            let verdict = classify_user(&work.truths, &work.outputs);
            let case = UserCase {
                user_id: &name,
                truths: &work.truths,
                outputs: &work.outputs,
                excluded: &work.excluded,
                streams: self.streams,
            };
            tally.add_user(&case, &verdict, &self.rules);
        }
        Ok(tally)
    }

    fn load_truth(
        &self,
        index: usize,
        users: &mut HashMap<String, UserWork>,
    ) -> Result<(), VerifyError> {
        let path = self.spill.path("truth", index);
        for_each_line(&path, |line, _| {
            let (tag, rest) = line.split_at(1);
            let (number, json) = rest.split_once('\t').ok_or_else(|| corrupt(&path, 0))?;
            let number: u64 = number.parse().map_err(|_| corrupt(&path, 0))?;
            let bad = |file: PathBuf, message: String| RunDirError::Parse {
                path: file,
                line: number,
                message,
            };
            if tag == "T" {
                let truth =
                    parse_truth_line(json).map_err(|m| bad(PathBuf::from("truth.jsonl"), m))?;
                users
                    .entry(truth.session.user_id.clone())
                    .or_default()
                    .truths
                    .push(truth);
            } else {
                let excluded = parse_excluded_line(json)
                    .map_err(|m| bad(PathBuf::from("excluded.jsonl"), m))?;
                users
                    .entry(excluded.user_id)
                    .or_default()
                    .excluded
                    .push(excluded.sample);
            }
            Ok(())
        })
    }

    fn load_outputs(
        &self,
        index: usize,
        users: &mut HashMap<String, UserWork>,
        tally: &mut Tally,
    ) -> Result<(), VerifyError> {
        let path = self.spill.path("output", index);
        let mut live: HashMap<(String, String), Slot> = HashMap::new();
        for_each_line(&path, |line, number| {
            let record = parse_spilled(line).ok_or_else(|| corrupt(&path, number))?;
            let decoded = match self.decoder.decode(&record) {
                Ok(decoded) => decoded,
                Err(error) => {
                    tally.malformed(MalformedSample {
                        source: self.stream_name(record.origin.stream),
                        line: record.origin.position,
                        error,
                    });
                    return Ok(());
                }
            };
            let cl = &mut tally.changelog;
            match (decoded.change, self.mode) {
                (Change::Upsert(session), OutputMode::Append) => {
                    cl.upserts += 1;
                    users
                        .entry(decoded.user_id)
                        .or_default()
                        .outputs
                        .push(session);
                }
                (Change::Delete, OutputMode::Append) => cl.tombstones += 1,
                (Change::Upsert(session), OutputMode::FinalView) => {
                    cl.upserts += 1;
                    let slot = live
                        .entry((decoded.user_id.clone(), decoded.key))
                        .or_insert(Slot {
                            user_id: decoded.user_id,
                            session: None,
                        });
                    if slot.session.replace(session).is_some() {
                        cl.superseded += 1;
                    }
                }
                (Change::Delete, OutputMode::FinalView) => {
                    cl.tombstones += 1;
                    let slot = live.get_mut(&(decoded.user_id, decoded.key));
                    match slot.and_then(|s| s.session.take()) {
                        Some(_) => cl.deleted += 1,
                        None => cl.orphan_tombstones += 1,
                    }
                }
            }
            Ok(())
        })?;
        for slot in live.into_values() {
            if let Some(session) = slot.session {
                users.entry(slot.user_id).or_default().outputs.push(session);
            }
        }
        Ok(())
    }

    fn stream_name(&self, stream: u32) -> String {
        self.streams
            .get(stream as usize)
            .cloned()
            .unwrap_or_else(|| format!("stream {stream}"))
    }
}

fn corrupt(path: &Path, line: u64) -> VerifyError {
    SpillError::Corrupt {
        path: path.to_path_buf(),
        line,
    }
    .into()
}

fn for_each_line(
    path: &Path,
    mut f: impl FnMut(&str, u64) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let io = |source| SpillError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            return Ok(());
        }
        number += 1;
        f(line.strip_suffix('\n').unwrap_or(&line), number)?;
    }
}

fn parse_spilled(line: &str) -> Option<RawRecord> {
    let mut parts = line.splitn(6, '\t');
    let stream = parts.next()?.parse().ok()?;
    let position = parts.next()?.parse().ok()?;
    let kind = parts.next()?;
    let opt = |s: &str| -> Option<Option<String>> {
        if s == "-" {
            Some(None)
        } else {
            serde_json::from_str::<String>(s).ok().map(Some)
        }
    };
    let key = opt(parts.next()?)?;
    let user_id = opt(parts.next()?)?;
    let body = parts.next()?;
    let payload = match kind {
        "J" => Payload::Text(body.to_string()),
        "D" => Payload::Tombstone,
        _ => return None,
    };
    Some(RawRecord {
        origin: Origin { stream, position },
        key,
        user_id,
        payload,
        first_seen_ms: None,
    })
}
