//! Phase one: read truth and output once, parse every record in full, and
//! route it in the compact spill format ([`crate::compact`]) to the bucket
//! of its user. Truth errors stop the run here; malformed output records
//! are counted and sampled here.

use crate::compact::{self, TruthLine};
use crate::decode::Decoder;
use crate::native::SpillBuf;
use crate::report::MalformedSample;
use crate::run_dir::{user_of_line, RunDir, RunDirError};
use crate::source::SessionSource;
use crate::spill::{Spill, SpillError};
use crate::tally::Tally;
use crate::verify::VerifyError;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use watchload_model::truth::Excluded;

/// Spills `truth.jsonl` and `excluded.jsonl` (optional) into the `truth`
/// family of bucket files.
///
/// # Errors
/// When a file cannot be read or a line is not a valid truth session or
/// excluded event (naming file and line).
pub fn spill_truth(run: &RunDir, spill: &Spill) -> Result<(), VerifyError> {
    let mut writers = spill.writers("truth")?;
    let (mut scratch, mut record) = (Vec::new(), Vec::new());
    let truth_path = run.truth_path();
    for_each_line(&truth_path, true, |text, number| {
        let bad = |message| parse_error(&truth_path, number, message);
        let line: TruthLine = serde_json::from_slice(text).map_err(|e| bad(why(text, e)))?;
        record.clear();
        compact::encode_truth(&line, &mut scratch, &mut record).map_err(|e| bad(e.to_string()))?;
        writers.write_record(line.user_id(), &record)?;
        Ok(())
    })?;
    let excluded_path = run.excluded_path();
    for_each_line(&excluded_path, false, |text, number| {
        let bad = |message| parse_error(&excluded_path, number, message);
        let excluded: Excluded = serde_json::from_slice(text).map_err(|e| bad(why(text, e)))?;
        record.clear();
        compact::encode_excluded(&excluded, &mut record).map_err(|e| bad(e.to_string()))?;
        writers.write_record(&excluded.user_id, &record)?;
        Ok(())
    })?;
    writers.finish()?;
    Ok(())
}

/// Why a truth or excluded line is invalid: the missing or unreadable
/// `user_id` first, else the full parser's message.
fn why(text: &[u8], full: serde_json::Error) -> String {
    match std::str::from_utf8(text) {
        Ok(text) => user_of_line(text).err().unwrap_or_else(|| full.to_string()),
        Err(e) => format!("not UTF-8: {e}"),
    }
}

fn parse_error(path: &Path, line: u64, message: String) -> VerifyError {
    RunDirError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    }
    .into()
}

/// Calls `f` with every non-blank line (trailing whitespace removed) and its
/// 1-based number. A missing file that is not `required` has no lines.
/// Lines are handed out of the read buffer where they lie whole in it, so
/// most bytes are never copied.
fn for_each_line(
    path: &PathBuf,
    required: bool,
    f: impl FnMut(&[u8], u64) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            let path = path.clone();
            return Err(RunDirError::Open { path, source }.into());
        }
    };
    let reader = BufReader::with_capacity(1 << 20, file);
    each_line(reader, path, f)
}

fn each_line(
    mut reader: impl BufRead,
    path: &Path,
    mut f: impl FnMut(&[u8], u64) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let mut number = 0u64;
    let mut line = |bytes: &[u8], number: &mut u64| {
        *number += 1;
        let text = bytes.trim_ascii_end();
        if text.is_empty() {
            Ok(())
        } else {
            f(text, *number)
        }
    };
    // A line cut by the end of the read buffer, kept until its newline.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let chunk = reader.fill_buf().map_err(|source| RunDirError::Read {
            path: path.to_path_buf(),
            line: number,
            source,
        })?;
        if chunk.is_empty() {
            if !carry.is_empty() {
                line(&carry, &mut number)?;
            }
            return Ok(());
        }
        let mut rest = chunk;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            if carry.is_empty() {
                line(&rest[..at], &mut number)?;
            } else {
                carry.extend_from_slice(&rest[..at]);
                line(&carry, &mut number)?;
                carry.clear();
            }
            rest = &rest[at + 1..];
        }
        carry.extend_from_slice(rest);
        let consumed = chunk.len();
        reader.consume(consumed);
    }
}

/// Decodes every output record of `source` and spills it into the `output`
/// family of bucket files, by the user the record is routed by (the
/// transport's user if the source names one, else the record's own).
///
/// # Errors
/// When the source or a bucket file fails. Malformed records are counted
/// in `tally`, not errors.
pub fn spill_outputs(
    source: &mut dyn SessionSource,
    decoder: &Decoder,
    spill: &Spill,
    tally: &mut Tally,
) -> Result<(), VerifyError> {
    let mut writers = spill.writers("output")?;
    let mut buf = SpillBuf::default();
    while let Some(record) = source.next_record()? {
        tally.records += 1;
        let decoded = decoder
            .decode_to_spill(&record, &mut buf)
            .map_err(|e| SpillError::Encode(e.to_string()))?;
        if let Err(error) = decoded {
            // A record naming no user reports that, as routing would.
            let error = decoder.user_of(&record).err().unwrap_or(error);
            tally.malformed(MalformedSample {
                source: source.stream_name(record.origin.stream),
                line: record.origin.position,
                error,
            });
            continue;
        }
        writers.write_record(&buf.route, &buf.record)?;
    }
    writers.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_by_the_read_buffer_come_out_whole() {
        let text = b"first line\r\n\n  \nsecond, longer than the buffer\nlast";
        for capacity in [1, 3, 7, 64] {
            let reader = BufReader::with_capacity(capacity, &text[..]);
            let mut seen = Vec::new();
            each_line(reader, Path::new("t"), |line, number| {
                seen.push((String::from_utf8(line.to_vec()).unwrap(), number));
                Ok(())
            })
            .unwrap();
            let expected = [
                ("first line", 1),
                ("second, longer than the buffer", 4),
                ("last", 5),
            ];
            let expected: Vec<_> = expected.iter().map(|(l, n)| (l.to_string(), *n)).collect();
            assert_eq!(seen, expected, "buffer of {capacity} bytes");
        }
    }
}
