//! Where pipeline output comes from: the [`SessionSource`] trait and the
//! JSONL file source.
//!
//! A source yields raw records in the order it received them; decoding them
//! into watch sessions (with a field mapping) is the job of
//! [`crate::decode`]. Keeping the two apart lets a live source (a Kafka
//! topic) and a file share every later step.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Errors of a session source: the input cannot be read at all.
///
/// A record that can be read but not understood is not an error: it is
/// passed on as [`Payload::Unreadable`] and counted as malformed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or directory could not be opened or listed.
    #[error("cannot open session output {path}")]
    Open {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading failed in the middle of a file.
    #[error("cannot read session output {path} after line {line}")]
    Read {
        /// The file being read.
        path: PathBuf,
        /// The last line read successfully.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A directory was given that holds no `.jsonl` file.
    #[error("session output directory {path} holds no .jsonl file")]
    EmptyDir {
        /// The directory.
        path: PathBuf,
    },
    /// Any other failure of a source (a live source's transport error).
    #[error("session source {name}: {message}")]
    Other {
        /// The source's name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// Where one record came from: a stream of the source (a file, a
/// partition) and a position in it (a 1-based line, an offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// Index of the stream within its source (file index, partition).
    pub stream: u32,
    /// Position within the stream (line number from 1, or offset).
    pub position: u64,
}

/// The body of a raw record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// One JSON document as text.
    Text(String),
    /// The transport said "deleted" (a Kafka record with a null value).
    Tombstone,
    /// The record could not be read as text; the reason says why.
    Unreadable(String),
}

/// One record as a source received it, before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Where the record came from.
    pub origin: Origin,
    /// The transport's record key, when it has one (a Kafka record key). It
    /// becomes the changelog key, so tombstones find what they delete.
    pub key: Option<String>,
    /// The user the record belongs to, when the transport knows it without
    /// decoding (needed for a [`Payload::Tombstone`], which has no body).
    pub user_id: Option<String>,
    /// The record body.
    pub payload: Payload,
    /// Wall-clock epoch ms at which a live source first saw the record;
    /// `None` for files.
    pub first_seen_ms: Option<i64>,
}

/// A source of pipeline output records.
///
/// Implementations return records in arrival order and `Ok(None)` at the
/// end. A live source decides where the end is (quiescence or a deadline);
/// the verifier reads to the end before it judges, so a live source must
/// end.
pub trait SessionSource {
    /// The next record, or `None` at the end.
    ///
    /// # Errors
    /// When the input cannot be read any more; a record that cannot be
    /// understood is returned as [`Payload::Unreadable`] instead.
    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError>;

    /// A human-readable name of stream `stream` (a file path, a topic and
    /// partition), used in reports next to positions.
    fn stream_name(&self, stream: u32) -> String;

    /// Names of all streams seen or known, indexed by stream.
    fn stream_names(&self) -> Vec<String>;

    /// Total size in bytes when known up front, used to size the spill.
    fn size_hint_bytes(&self) -> Option<u64> {
        None
    }
}

/// Reads JSONL files (one session record per line) one after another.
///
/// A directory stands for all its `*.jsonl` files in name order. Blank
/// lines are skipped; a line that is not UTF-8 is passed on as unreadable.
#[derive(Debug)]
pub struct JsonlSource {
    files: Vec<PathBuf>,
    current: Option<(u32, BufReader<File>, u64)>,
    next_file: usize,
    buf: Vec<u8>,
}

impl JsonlSource {
    /// Opens `paths` (files or directories) for reading, in the given order.
    ///
    /// # Errors
    /// When a path does not exist, a directory cannot be listed or holds no
    /// `.jsonl` file.
    pub fn open(paths: &[PathBuf]) -> Result<JsonlSource, SourceError> {
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                files.extend(list_jsonl(path)?);
            } else {
                File::open(path).map_err(|source| SourceError::Open {
                    path: path.clone(),
                    source,
                })?;
                files.push(path.clone());
            }
        }
        Ok(JsonlSource {
            files,
            current: None,
            next_file: 0,
            buf: Vec::new(),
        })
    }

    /// The files this source reads, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn open_next(&mut self) -> Result<bool, SourceError> {
        let Some(path) = self.files.get(self.next_file) else {
            return Ok(false);
        };
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: path.clone(),
            source,
        })?;
        let reader = BufReader::with_capacity(1 << 20, file);
        self.current = Some((self.next_file as u32, reader, 0));
        self.next_file += 1;
        Ok(true)
    }
}

fn list_jsonl(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let open_err = |source| SourceError::Open {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(open_err)? {
        let path = entry.map_err(open_err)?.path();
        if path.extension().is_some_and(|e| e == "jsonl") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(SourceError::EmptyDir {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

impl SessionSource for JsonlSource {
    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let (stream, reader, line) = self.current.as_mut().expect("opened above");
            self.buf.clear();
            let read =
                reader
                    .read_until(b'\n', &mut self.buf)
                    .map_err(|source| SourceError::Read {
                        path: self.files[*stream as usize].clone(),
                        line: *line,
                        source,
                    })?;
            if read == 0 {
                self.current = None;
                continue;
            }
            *line += 1;
            while self.buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // The line's bytes become the record's text without a copy; the
            // next line gets a fresh buffer of about the same size.
            let next = Vec::with_capacity(self.buf.len() + 64);
            let payload = match String::from_utf8(std::mem::replace(&mut self.buf, next)) {
                Ok(text) => Payload::Text(text),
                Err(err) => Payload::Unreadable(format!("not UTF-8: {}", err.utf8_error())),
            };
            return Ok(Some(RawRecord {
                origin: Origin {
                    stream: *stream,
                    position: *line,
                },
                key: None,
                user_id: None,
                payload,
                first_seen_ms: None,
            }));
        }
    }

    fn stream_name(&self, stream: u32) -> String {
        self.files
            .get(stream as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("stream {stream}"))
    }

    fn stream_names(&self) -> Vec<String> {
        (0..self.files.len() as u32)
            .map(|s| self.stream_name(s))
            .collect()
    }

    fn size_hint_bytes(&self) -> Option<u64> {
        let mut total = 0;
        for file in &self.files {
            total += std::fs::metadata(file).ok()?.len();
        }
        Some(total)
    }
}
