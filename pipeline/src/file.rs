//! File mode: sessionizes a generated run's `events.jsonl` (one record per
//! line, partition 0, in file order) and writes the session changelog as
//! JSONL: one upsert (a [`SessionRecord`](crate::SessionRecord)) or
//! tombstone (`{"session_id":..,"op":"delete"}`) per line. A `records.jsonl`
//! side file, when given, supplies each record's simulated arrival time.

use crate::output::Output;
use crate::sessionizer::{Input, Sessionizer};
use crate::stats::Stats;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file the file mode could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading the events file failed.
    #[error("cannot read {path} near line {line}")]
    Read {
        /// The events file.
        path: PathBuf,
        /// 1-based line where reading failed.
        line: u64,
        #[source]
        source: std::io::Error,
    },
    /// Creating or writing an output file failed.
    #[error("cannot write {path}")]
    Write {
        /// The output file.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the file mode reads and writes.
#[derive(Debug, Clone)]
pub struct FilePaths {
    /// `events.jsonl` of a generated run.
    pub input: PathBuf,
    /// The session changelog to write.
    pub output: PathBuf,
    /// Where to write dead letters as JSONL; `None` to only count them.
    pub dead_letters: Option<PathBuf>,
    /// The run's `records.jsonl` (line i describes line i of the events
    /// file): its `send_time`, the simulated arrival time, becomes each
    /// record's timestamp, which only the `processing-time` defect reads.
    /// `None`: records have no timestamp.
    pub arrival_times: Option<PathBuf>,
}

/// One dead letter as a JSONL line.
#[derive(Debug, Serialize)]
struct DeadLetterLine<'a> {
    /// 0-based line of the record in the events file.
    line: i64,
    kind: &'a str,
    reason: &'a str,
    payload: String,
}

/// Sessionizes `paths.input` into `paths.output`. With `flush`, open
/// sessions are emitted at the end of the file (the end of the stream).
///
/// # Errors
///
/// [`FileError`] naming the file (and line) that could not be read or
/// written. Malformed records are not errors: they are dead letters.
pub fn run_file(
    sessionizer: &mut Sessionizer,
    paths: &FilePaths,
    flush: bool,
) -> Result<Stats, FileError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FileError::Write { path, source }
    };
    let input = File::open(&paths.input).map_err(|source| FileError::Read {
        path: paths.input.clone(),
        line: 0,
        source,
    })?;
    let mut reader = BufReader::new(input);
    let mut sessions =
        BufWriter::new(File::create(&paths.output).map_err(write_err(&paths.output))?);
    let mut dead = match &paths.dead_letters {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(write_err(path))?)),
        None => None,
    };

    let mut arrivals = match &paths.arrival_times {
        Some(path) => Some(ArrivalTimes::open(path)?),
        None => None,
    };
    let mut line = Vec::new();
    let mut outputs = Vec::new();
    let mut offset = 0i64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| FileError::Read {
                path: paths.input.clone(),
                line: offset as u64 + 1,
                source,
            })?;
        if read == 0 {
            break;
        }
        let payload = line.strip_suffix(b"\n").unwrap_or(&line);
        let payload = payload.strip_suffix(b"\r").unwrap_or(payload);
        let input = Input {
            partition: 0,
            offset,
            payload: Some(payload),
            timestamp_ms: match arrivals.as_mut() {
                Some(a) => a.next()?,
                None => None,
            },
        };
        sessionizer.push(input, &mut outputs);
        write_outputs(&mut outputs, &mut sessions, dead.as_mut())
            .map_err(write_err(&paths.output))?;
        offset += 1;
    }
    if flush {
        sessionizer.flush(&mut outputs);
        write_outputs(&mut outputs, &mut sessions, dead.as_mut())
            .map_err(write_err(&paths.output))?;
    }

    sessions.flush().map_err(write_err(&paths.output))?;
    if let (Some(writer), Some(path)) = (dead.as_mut(), &paths.dead_letters) {
        writer.flush().map_err(write_err(path))?;
    }
    Ok(sessionizer.stats().clone())
}

/// `send_time` of each line of a `records.jsonl` side file, in order.
struct ArrivalTimes {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    text: String,
}

/// The part of a `records.jsonl` line that file mode reads.
#[derive(Deserialize)]
struct RecordSendTime {
    send_time: i64,
}

impl ArrivalTimes {
    fn open(path: &Path) -> Result<Self, FileError> {
        let file = File::open(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            line: 0,
            source,
        })?;
        Ok(ArrivalTimes {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            line: 0,
            text: String::new(),
        })
    }

    /// The next line's `send_time`; `None` past the end of the file.
    fn next(&mut self) -> Result<Option<i64>, FileError> {
        self.text.clear();
        self.line += 1;
        let bad = |line: u64, path: &Path, message: String| FileError::Read {
            path: path.to_path_buf(),
            line,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        };
        let read = self
            .reader
            .read_line(&mut self.text)
            .map_err(|e| bad(self.line, &self.path, e.to_string()))?;
        if read == 0 {
            return Ok(None);
        }
        let record: RecordSendTime = serde_json::from_str(self.text.trim_end())
            .map_err(|e| bad(self.line, &self.path, format!("expected a send_time: {e}")))?;
        Ok(Some(record.send_time))
    }
}

fn write_outputs(
    outputs: &mut Vec<Output>,
    sessions: &mut impl Write,
    mut dead: Option<&mut BufWriter<File>>,
) -> std::io::Result<()> {
    for output in outputs.drain(..) {
        if let Some(text) = output.to_json_line() {
            writeln!(sessions, "{text}")?;
        } else if let (Output::DeadLetter(letter), Some(writer)) = (&output, dead.as_mut()) {
            let reason = letter.reason.detail.as_str();
            let line = DeadLetterLine {
                line: letter.offset,
                kind: letter.reason.kind.as_str(),
                reason,
                payload: String::from_utf8_lossy(&letter.payload).into_owned(),
            };
            serde_json::to_writer(&mut **writer, &line)?;
            writeln!(writer)?;
        }
    }
    Ok(())
}
