//! JSONL sinks: a file (`events.jsonl`) and stdout. Both know each outcome
//! as soon as the line is buffered: a failed write stops the run instead.

use super::{Delivery, DeliveryOutcome, OutRecord, Sink, SinkError};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes one record per line to a file.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    acked: Vec<Delivery>,
}

impl FileSink {
    /// Creates (truncates) `path`.
    ///
    /// # Errors
    /// [`SinkError::Io`] when the file cannot be created.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|source| io_error(path, source))?;
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            acked: Vec::new(),
        })
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SinkError {
    SinkError::Io {
        target: path.display().to_string(),
        source,
    }
}

fn write_line(out: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    out.write_all(payload)?;
    out.write_all(b"\n")
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        "file"
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        write_line(&mut self.out, record.payload).map_err(|e| io_error(&self.path, e))?;
        self.acked.push(Delivery {
            index: record.index,
            outcome: DeliveryOutcome::Acked,
        });
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        out.append(&mut self.acked);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        out.append(&mut self.acked);
        Ok(())
    }
}

/// Writes one record per line to standard output.
#[derive(Debug)]
pub struct StdoutSink {
    out: BufWriter<std::io::Stdout>,
    acked: Vec<Delivery>,
}

impl StdoutSink {
    /// A sink on this process's stdout.
    pub fn new() -> Self {
        StdoutSink {
            out: BufWriter::with_capacity(1 << 16, std::io::stdout()),
            acked: Vec::new(),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

fn stdout_error(source: std::io::Error) -> SinkError {
    SinkError::Io {
        target: "stdout".to_string(),
        source,
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        write_line(&mut self.out, record.payload).map_err(stdout_error)?;
        self.acked.push(Delivery {
            index: record.index,
            outcome: DeliveryOutcome::Acked,
        });
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        out.append(&mut self.acked);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.out.flush().map_err(stdout_error)?;
        out.append(&mut self.acked);
        Ok(())
    }
}
