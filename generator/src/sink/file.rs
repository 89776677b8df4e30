//! JSONL sinks: a file (`events.jsonl`) and stdout. Both know each outcome
//! as soon as the line is buffered: a failed write stops the run instead.

use super::{AckedAtOnce, Delivery, OutRecord, Sink, SinkError};
use std::fs::File;
use std::io::{BufWriter, Stdout, Write};
use std::path::Path;

/// Writes one record per line to `W`, buffered.
#[derive(Debug)]
pub struct LineSink<W: Write> {
    name: &'static str,
    /// What error messages call the destination (a path, `stdout`).
    target: String,
    out: BufWriter<W>,
    acked: AckedAtOnce,
}

/// Writes one record per line to a file.
pub type FileSink = LineSink<File>;

/// Writes one record per line to standard output.
pub type StdoutSink = LineSink<Stdout>;

impl LineSink<File> {
    /// Creates (truncates) `path`.
    ///
    /// # Errors
    /// [`SinkError::Io`] when the file cannot be created.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let target = path.display().to_string();
        match File::create(path) {
            Ok(file) => Ok(LineSink::with_buffer("file", target, file, 1 << 20)),
            Err(source) => Err(SinkError::Io { target, source }),
        }
    }
}

impl LineSink<Stdout> {
    /// A sink on this process's stdout.
    pub fn new() -> Self {
        LineSink::with_buffer("stdout", "stdout".into(), std::io::stdout(), 1 << 16)
    }
}

impl Default for LineSink<Stdout> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Write> LineSink<W> {
    fn with_buffer(name: &'static str, target: String, out: W, capacity: usize) -> Self {
        LineSink {
            name,
            target,
            out: BufWriter::with_capacity(capacity, out),
            acked: AckedAtOnce::default(),
        }
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            target: self.target.clone(),
            source,
        }
    }
}

impl<W: Write> Sink for LineSink<W> {
    fn name(&self) -> &str {
        self.name
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        let written = self
            .out
            .write_all(record.payload)
            .and_then(|()| self.out.write_all(b"\n"));
        written.map_err(|e| self.io_error(e))?;
        self.acked.ack(record.index);
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.acked.drain_into(out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.io_error(e))?;
        self.acked.drain_into(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Labels;
    use crate::sink::DeliveryOutcome;

    fn record(index: u64, payload: &[u8]) -> OutRecord<'_> {
        OutRecord {
            index,
            send_time: 0,
            key: "u1",
            payload,
            labels: Labels::default(),
        }
    }

    #[test]
    fn lines_are_written_in_order_and_acked_at_once() {
        let mut sink = LineSink::with_buffer("mem", "memory".into(), Vec::new(), 4);
        sink.send(&record(0, b"{\"a\":1}")).unwrap();
        sink.send(&record(1, b"{\"b\":2}")).unwrap();
        let mut out = Vec::new();
        sink.poll(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|d| d.outcome == DeliveryOutcome::Acked));
        sink.finish(&mut out).unwrap();
        assert_eq!(out.len(), 2, "an outcome was reported twice");
        assert_eq!(sink.out.get_ref(), b"{\"a\":1}\n{\"b\":2}\n");
    }

    /// A writer whose every write fails.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn a_failed_write_names_the_target_and_acks_nothing() {
        let mut sink = LineSink::with_buffer("broken", "/dev/broken".into(), Broken, 0);
        let err = sink.send(&record(0, b"{}")).unwrap_err();
        assert!(err.to_string().contains("/dev/broken"), "{err}");
        let mut out = Vec::new();
        sink.poll(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
