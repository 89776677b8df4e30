//! Phase one: read truth and output once, parse every record in full, and
//! route it in the compact spill format ([`crate::compact`]) to the bucket
//! of its user. Truth errors stop the run here; malformed output records
//! are counted and sampled here.

use crate::compact::{self, TruthLine};
use crate::decode::{Change, Decoder};
use crate::report::MalformedSample;
use crate::run_dir::{user_of_line, RunDir, RunDirError};
use crate::source::SessionSource;
use crate::spill::Spill;
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
        let line: TruthLine = serde_json::from_str(text).map_err(|e| bad(why(text, e)))?;
        record.clear();
        compact::encode_truth(&line, &mut scratch, &mut record).map_err(|e| bad(e.to_string()))?;
        writers.write_record(line.user_id(), &record)?;
        Ok(())
    })?;
    let excluded_path = run.excluded_path();
    for_each_line(&excluded_path, false, |text, number| {
        let bad = |message| parse_error(&excluded_path, number, message);
        let excluded: Excluded = serde_json::from_str(text).map_err(|e| bad(why(text, e)))?;
        let user = excluded.user_id.clone();
        record.clear();
        compact::encode_excluded(excluded, &mut record).map_err(|e| bad(e.to_string()))?;
        writers.write_record(&user, &record)?;
        Ok(())
    })?;
    writers.finish()?;
    Ok(())
}

/// Why a truth or excluded line is invalid: the missing or unreadable
/// `user_id` first, else the full parser's message.
fn why(text: &str, full: serde_json::Error) -> String {
    user_of_line(text).err().unwrap_or_else(|| full.to_string())
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
fn for_each_line(
    path: &PathBuf,
    required: bool,
    mut f: impl FnMut(&str, u64) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            let path = path.clone();
            return Err(RunDirError::Open { path, source }.into());
        }
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
            return Ok(());
        }
        number += 1;
        let text = line.trim_end();
        if !text.is_empty() {
            f(text, number)?;
        }
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
    let (mut scratch, mut buf) = (Vec::new(), Vec::new());
    while let Some(record) = source.next_record()? {
        tally.records += 1;
        let decoded = match decoder.decode(&record) {
            Ok(decoded) => decoded,
            Err(error) => {
                // A record naming no user reports that, as routing would.
                let error = decoder.user_of(&record).err().unwrap_or(error);
                tally.malformed(MalformedSample {
                    source: source.stream_name(record.origin.stream),
                    line: record.origin.position,
                    error,
                });
                continue;
            }
        };
        let session = match &decoded.change {
            Change::Upsert(session) => Some(session),
            Change::Delete => None,
        };
        buf.clear();
        compact::encode_output(
            record.origin,
            &decoded.user_id,
            &decoded.key,
            session,
            &mut scratch,
            &mut buf,
        )
        .map_err(|e| crate::spill::SpillError::Encode(e.to_string()))?;
        let route = record.user_id.as_deref().unwrap_or(&decoded.user_id);
        writers.write_record(route, &buf)?;
    }
    writers.finish()?;
    Ok(())
}
