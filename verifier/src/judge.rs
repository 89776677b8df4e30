//! Phase two: judging the spill bucket by bucket on a few worker threads.
//!
//! A bucket's two files are read whole and their records decoded in place
//! (strings borrow from the file's bytes). Final view is resolved, records
//! are grouped by user, and each user is judged. A user whose truth and
//! output sessions pair off one to one with equal spans and equal encoded
//! fields, with no overlaps between pairs, is counted as exact without
//! building a single session (see [`all_exact`]); every other user goes
//! through [`classify_user`] and the tally as before.

use crate::compact::{self, OutputBody, OutputRecord, TruthRecord};
use crate::matching::classify_user;
use crate::source::Origin;
use crate::spill::{Spill, SpillError};
use crate::tally::{Tally, UserCase};
use crate::verify::{OutputMode, VerifyError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use watchload_model::truth::{Excluded, FaultSample};
use watchload_model::{SessionRules, TruthSession};

/// A spilled truth session, borrowed from its bucket file.
#[derive(Debug)]
struct TruthRef<'b> {
    user_id: &'b str,
    session_id: &'b str,
    start: i64,
    end: i64,
    tolerated: bool,
    fields: &'b [u8],
    faults: &'b [u8],
}

/// A spilled output session (the surviving version), borrowed.
#[derive(Debug, Clone, Copy)]
struct OutputRef<'b> {
    user_id: &'b str,
    origin: Origin,
    start: i64,
    end: i64,
    complete: bool,
    fields: &'b [u8],
}

/// Judges the buckets of a spill.
#[derive(Debug)]
pub(crate) struct Judge<'a> {
    /// The spill directory.
    pub spill: &'a Spill,
    /// Session rules of the run (for attribution).
    pub rules: SessionRules,
    /// How repeated output is read.
    pub mode: OutputMode,
    /// Names of the output streams.
    pub streams: &'a [String],
}

impl Judge<'_> {
    /// Judges every bucket on `workers` threads and merges the tallies.
    pub fn all_buckets(&self, workers: usize) -> Result<Tally, VerifyError> {
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
        let truth_path = self.spill.path("truth", index);
        let truth_bytes = read(&truth_path)?;
        let (mut truths, mut excluded) = load_truth(&truth_path, &truth_bytes)?;
        let output_path = self.spill.path("output", index);
        let output_bytes = read(&output_path)?;
        let mut outputs = self.load_outputs(&output_path, &output_bytes, &mut tally)?;

        // Stable sorts: truth by start keeps file order for equal starts, as
        // the matcher always saw it.
        truths.sort_by(|a, b| (a.user_id, a.start).cmp(&(b.user_id, b.start)));
        outputs.sort_unstable_by(|a, b| (a.user_id, a.origin).cmp(&(b.user_id, b.origin)));
        excluded.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        let mut users: Vec<&str> = truths.iter().map(|t| t.user_id).collect();
        users.extend(outputs.iter().map(|o| o.user_id));
        users.extend(excluded.iter().map(|x| x.user_id.as_str()));
        users.sort_unstable();
        users.dedup();

        let (mut t, mut o, mut x) = (&truths[..], &outputs[..], &excluded[..]);
        for user in users {
            let ts = take_user(&mut t, user, |r| r.user_id);
            let os = take_user(&mut o, user, |r| r.user_id);
            let xs = take_user(&mut x, user, |r| r.user_id.as_str());
            if all_exact(ts, os) {
                tally.add_exact_user(ts.len() as u64, xs.len() as u64);
            } else {
                self.judge_user(user, ts, os, xs, &mut tally)
                    .map_err(|_| corrupt(&output_path, 0))?;
            }
        }
        Ok(tally)
    }

    fn judge_user(
        &self,
        user: &str,
        ts: &[TruthRef<'_>],
        os: &[OutputRef<'_>],
        xs: &[Excluded],
        tally: &mut Tally,
    ) -> Result<(), compact::CompactError> {
        let truths = ts
            .iter()
            .map(|t| {
                compact::truth_session(
                    t.user_id,
                    t.session_id,
                    t.start,
                    t.end,
                    t.tolerated,
                    t.fields,
                    t.faults,
                )
            })
            .collect::<Result<Vec<TruthSession>, _>>()?;
        let outputs = os
            .iter()
            .map(|o| compact::output_session(o.user_id, o.origin, (o.start, o.end), o.complete, o.fields))
            .collect::<Result<Vec<_>, _>>()?;
        let excluded: Vec<FaultSample> = xs.iter().map(|x| x.sample.clone()).collect();
        let verdict = classify_user(&truths, &outputs);
        let case = UserCase {
            user_id: user,
            truths: &truths,
            outputs: &outputs,
            excluded: &excluded,
            streams: self.streams,
        };
        tally.add_user(&case, &verdict, &self.rules);
        Ok(())
    }

    fn load_outputs<'b>(
        &self,
        path: &Path,
        bytes: &'b [u8],
        tally: &mut Tally,
    ) -> Result<Vec<OutputRef<'b>>, VerifyError> {
        let mut outputs = Vec::new();
        let mut live: HashMap<(&'b str, &'b str), Option<OutputRef<'b>>> = HashMap::new();
        let mut rest = bytes;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (record, tail) = postcard::take_from_bytes::<OutputRecord<'b>>(rest)
                .map_err(|_| corrupt(path, number))?;
            rest = tail;
            let cl = &mut tally.changelog;
            let session = match record.body {
                OutputBody::Delete => None,
                OutputBody::Upsert {
                    start,
                    end,
                    complete,
                    fields,
                } => Some(OutputRef {
                    user_id: record.user_id,
                    origin: Origin {
                        stream: record.stream,
                        position: record.position,
                    },
                    start,
                    end,
                    complete,
                    fields: fields.0,
                }),
            };
            match (session, self.mode) {
                (Some(session), OutputMode::Append) => {
                    cl.upserts += 1;
                    outputs.push(session);
                }
                (None, OutputMode::Append) => cl.tombstones += 1,
                (Some(session), OutputMode::FinalView) => {
                    cl.upserts += 1;
                    let slot = live.entry((record.user_id, record.key)).or_insert(None);
                    if slot.replace(session).is_some() {
                        cl.superseded += 1;
                    }
                }
                (None, OutputMode::FinalView) => {
                    cl.tombstones += 1;
                    let slot = live.get_mut(&(record.user_id, record.key));
                    match slot.and_then(Option::take) {
                        Some(_) => cl.deleted += 1,
                        None => cl.orphan_tombstones += 1,
                    }
                }
            }
        }
        outputs.extend(live.into_values().flatten());
        Ok(outputs)
    }
}

/// Whether every truth session of a user has exactly one output equal to it
/// in every compared field, and nothing else: no tolerated truth session,
/// every output complete, pairs in start order with equal spans and equal
/// encoded fields, and no pair overlapping the next. The matcher would then
/// find one cluster per pair and class each `exact` (and record a watch
/// time error of 0 per pair), which [`Tally::add_exact_user`] counts
/// directly. Truth comes sorted by start, outputs by origin: a user whose
/// outputs arrived out of start order fails the pairing and is judged the
/// long way, which is slower but gives the same result.
fn all_exact(truths: &[TruthRef<'_>], outputs: &[OutputRef<'_>]) -> bool {
    truths.len() == outputs.len()
        && truths.iter().zip(outputs).all(|(t, o)| {
            !t.tolerated && o.complete && t.start == o.start && t.end == o.end && t.fields == o.fields
        })
        && truths.windows(2).all(|w| w[1].start > w[0].end)
}

/// Splits off the leading run of `items` that belong to `user`.
fn take_user<'s, T>(items: &mut &'s [T], user: &str, user_of: impl Fn(&T) -> &str) -> &'s [T] {
    let n = items.iter().take_while(|i| user_of(i) == user).count();
    let (head, tail) = items.split_at(n);
    *items = tail;
    head
}

fn load_truth<'b>(
    path: &Path,
    bytes: &'b [u8],
) -> Result<(Vec<TruthRef<'b>>, Vec<Excluded>), VerifyError> {
    let mut truths = Vec::new();
    let mut excluded = Vec::new();
    let mut rest = bytes;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (record, tail) = postcard::take_from_bytes::<TruthRecord<'b>>(rest)
            .map_err(|_| corrupt(path, number))?;
        rest = tail;
        match record {
            TruthRecord::Session {
                user_id,
                session_id,
                start,
                end,
                tolerated,
                fields,
                faults,
            } => truths.push(TruthRef {
                user_id,
                session_id,
                start,
                end,
                tolerated,
                fields: fields.0,
                faults: faults.0,
            }),
            TruthRecord::Excluded(x) => excluded.push(x),
        }
    }
    Ok((truths, excluded))
}

fn read(path: &Path) -> Result<Vec<u8>, VerifyError> {
    std::fs::read(path).map_err(|source| {
        SpillError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

fn corrupt(path: &Path, record: u64) -> VerifyError {
    SpillError::Corrupt {
        path: path.to_path_buf(),
        line: record,
    }
    .into()
}
