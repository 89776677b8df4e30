//! Phase two: judging the spill bucket by bucket on a few worker threads.
//!
//! A bucket's two files are read whole and their records decoded in place
//! (strings borrow from the file's bytes). Final view is resolved, records
//! are grouped by user, and each user is judged. A user whose truth and
//! output sessions pair off one to one with equal spans and equal fields,
//! with no overlaps between pairs, is counted as exact without building a
//! single session (see [`exact_user`]); every other user goes
//! through [`classify_user`] and the tally as before.

use crate::compact::{self, OutputBody, OutputRecord, TruthRecord};
use crate::matching::classify_user;
use crate::source::Origin;
use crate::spill::{Spill, SpillError};
use crate::tally::{Tally, UserCase};
use crate::verify::{OutputMode, VerifyError};
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use watchload_model::truth::FaultSample;
use watchload_model::{SessionRules, TruthSession};

/// A spilled truth session, borrowed from its bucket file.
#[derive(Debug, Clone, Copy)]
struct TruthRef<'b> {
    /// Index of the user in the bucket's [`Users`].
    user: u32,
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
    user: u32,
    origin: Origin,
    start: i64,
    end: i64,
    complete: bool,
    fields: &'b [u8],
}

impl<'b> OutputRef<'b> {
    /// The session of a spilled output record; `None` for a tombstone.
    fn of(record: &OutputRecord<'b>, users: &mut Users<'b>) -> Option<OutputRef<'b>> {
        match record.body {
            OutputBody::Delete => None,
            OutputBody::Upsert {
                start,
                end,
                complete,
                fields,
            } => Some(OutputRef {
                user: users.id(record.user_id),
                origin: Origin {
                    stream: record.stream,
                    position: record.position,
                },
                start,
                end,
                complete,
                fields: fields.0,
            }),
        }
    }
}

/// An expired event of a user.
#[derive(Debug)]
struct ExcludedRef {
    user: u32,
    sample: FaultSample,
}

/// The users of one bucket, numbered in order of appearance, so records
/// group by a number instead of by comparing names.
#[derive(Debug, Default)]
struct Users<'b> {
    ids: FxHashMap<&'b str, u32>,
    names: Vec<&'b str>,
}

impl<'b> Users<'b> {
    fn id(&mut self, name: &'b str) -> u32 {
        *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            (self.names.len() - 1) as u32
        })
    }
}

/// The two files of a bucket, read whole; reused from bucket to bucket.
#[derive(Debug, Default)]
struct Buffers {
    truth: Vec<u8>,
    output: Vec<u8>,
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
                    let mut buffers = Buffers::default();
                    let outcome = loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.spill.buckets() {
                            break Ok(tally);
                        }
                        match self.bucket(i, &mut buffers) {
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

    fn bucket(&self, index: usize, buffers: &mut Buffers) -> Result<Tally, VerifyError> {
        let mut tally = Tally::default();
        let truth_path = self.spill.path("truth", index);
        read(&truth_path, &mut buffers.truth)?;
        let output_path = self.spill.path("output", index);
        read(&output_path, &mut buffers.output)?;
        let mut users = Users::default();
        let (truths, excluded) = load_truth(&truth_path, &buffers.truth, &mut users)?;
        let outputs = self.load_outputs(&output_path, &buffers.output, &mut users, &mut tally)?;

        // Grouped by user in file order, then sorted per user: truth by
        // start (stable, so equal starts keep file order, as the matcher
        // always saw them), outputs by origin. The order of users does not
        // matter: tallies add up the same in any order.
        let n = users.names.len();
        let truth_groups = Groups::new(truths.iter().map(|t| t.user), n);
        let output_groups = Groups::new(outputs.iter().map(|o| o.user), n);
        let excluded_groups = Groups::new(excluded.iter().map(|x| x.user), n);
        let (mut ts, mut os, mut xs) = (Vec::new(), Vec::new(), Vec::new());
        for (user, name) in users.names.iter().enumerate() {
            ts.clear();
            ts.extend(truth_groups.of(user).iter().map(|&i| truths[i as usize]));
            ts.sort_by_key(|t| t.start);
            os.clear();
            os.extend(output_groups.of(user).iter().map(|&i| outputs[i as usize]));
            os.sort_unstable_by_key(|o| o.origin);
            xs.clear();
            xs.extend(
                excluded_groups
                    .of(user)
                    .iter()
                    .map(|&i| &excluded[i as usize]),
            );
            let bad = |_| corrupt(&output_path, 0);
            match exact_user(&ts, &os).map_err(bad)? {
                Some(absent) => tally.add_exact_user(ts.len() as u64, xs.len() as u64, absent),
                None => self
                    .judge_user(name, &ts, &os, &xs, &mut tally)
                    .map_err(bad)?,
            }
        }
        Ok(tally)
    }

    fn judge_user(
        &self,
        user: &str,
        ts: &[TruthRef<'_>],
        os: &[OutputRef<'_>],
        xs: &[&ExcludedRef],
        tally: &mut Tally,
    ) -> Result<(), compact::CompactError> {
        let truths = ts
            .iter()
            .map(|t| {
                compact::truth_session(
                    user,
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
            .map(|o| {
                compact::output_session(user, o.origin, (o.start, o.end), o.complete, o.fields)
            })
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
        users: &mut Users<'b>,
        tally: &mut Tally,
    ) -> Result<Vec<OutputRef<'b>>, VerifyError> {
        let mut outputs = Vec::with_capacity(bytes.len() / 32);
        // The live version per (user, changelog key), as an index into
        // `versions`. Fx: fast on short keys; its order never reaches the
        // report, as outputs are sorted by user and origin before judging.
        let mut versions: Vec<Option<OutputRef<'b>>> = Vec::new();
        let mut live: FxHashMap<(&'b str, &'b str), u32> = FxHashMap::default();
        if self.mode == OutputMode::FinalView {
            // About one record per 128 bytes: a bigger table would only
            // spread inserts over more pages to fault in.
            live.reserve(bytes.len() / 128);
            versions.reserve(bytes.len() / 32);
        }
        let mut rest = bytes;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (record, tail) = postcard::take_from_bytes::<OutputRecord<'b>>(rest)
                .map_err(|_| corrupt(path, number))?;
            rest = tail;
            let cl = &mut tally.changelog;
            let session = OutputRef::of(&record, users);
            match (session, self.mode) {
                (Some(session), OutputMode::Append) => {
                    cl.upserts += 1;
                    outputs.push(session);
                }
                (None, OutputMode::Append) => cl.tombstones += 1,
                (Some(session), OutputMode::FinalView) => {
                    cl.upserts += 1;
                    let slot = *live.entry((record.user_id, record.key)).or_insert_with(|| {
                        versions.push(None);
                        (versions.len() - 1) as u32
                    });
                    if versions[slot as usize].replace(session).is_some() {
                        cl.superseded += 1;
                    }
                }
                (None, OutputMode::FinalView) => {
                    cl.tombstones += 1;
                    let slot = live.get(&(record.user_id, record.key));
                    match slot.and_then(|&i| versions[i as usize].take()) {
                        Some(_) => cl.deleted += 1,
                        None => cl.orphan_tombstones += 1,
                    }
                }
            }
        }
        outputs.extend(versions.into_iter().flatten());
        Ok(outputs)
    }
}

/// Whether every truth session of a user has exactly one output equal to it
/// in every field the output has, and nothing else: no tolerated truth
/// session, pairs in start order with equal spans and equal fields, and no
/// pair overlapping the next. The matcher would then find one cluster per
/// pair and class each `exact` (and record a watch time error of 0 per pair
/// whose output has `watch_ms`), which [`Tally::add_exact_user`] counts
/// directly. Returns, per optional field, how many outputs lack it.
///
/// An output with every field is compared by its encoded bytes alone; one
/// lacking some is decoded (borrowed) and compared field by field. Truth
/// comes sorted by start, outputs by origin: a user whose outputs arrived
/// out of start order fails the pairing and is judged the long way, which
/// is slower but gives the same result.
fn exact_user(
    truths: &[TruthRef<'_>],
    outputs: &[OutputRef<'_>],
) -> Result<Option<[u64; 6]>, compact::CompactError> {
    let mut absent = [0u64; 6];
    if truths.len() != outputs.len() || truths.windows(2).any(|w| w[1].start <= w[0].end) {
        return Ok(None);
    }
    for (t, o) in truths.iter().zip(outputs) {
        if t.tolerated || t.start != o.start || t.end != o.end {
            return Ok(None);
        }
        if o.complete {
            if t.fields != o.fields {
                return Ok(None);
            }
            continue;
        }
        let Some(present) = compact::present_and_equal(t.fields, o.fields)? else {
            return Ok(None);
        };
        for (n, has) in absent.iter_mut().zip(present) {
            *n += u64::from(!has);
        }
    }
    Ok(Some(absent))
}

/// Record indices grouped by user (a counting sort), in file order within
/// each user.
#[derive(Debug)]
struct Groups {
    /// `items[start[u]..start[u + 1]]` are the records of user `u`.
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Groups {
    fn new(users_of: impl Iterator<Item = u32> + Clone, users: usize) -> Groups {
        let mut start = vec![0u32; users + 1];
        for user in users_of.clone() {
            start[user as usize + 1] += 1;
        }
        for u in 0..users {
            start[u + 1] += start[u];
        }
        let mut next = start.clone();
        let mut items = vec![0u32; start[users] as usize];
        for (i, user) in users_of.enumerate() {
            let at = &mut next[user as usize];
            items[*at as usize] = i as u32;
            *at += 1;
        }
        Groups { start, items }
    }

    fn of(&self, user: usize) -> &[u32] {
        &self.items[self.start[user] as usize..self.start[user + 1] as usize]
    }
}

fn load_truth<'b>(
    path: &Path,
    bytes: &'b [u8],
    users: &mut Users<'b>,
) -> Result<(Vec<TruthRef<'b>>, Vec<ExcludedRef>), VerifyError> {
    // Records take well over 32 bytes; reserving up front avoids copying
    // while the vector grows (untouched capacity costs no memory).
    let mut truths = Vec::with_capacity(bytes.len() / 32);
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
                user: users.id(user_id),
                session_id,
                start,
                end,
                tolerated,
                fields: fields.0,
                faults: faults.0,
            }),
            TruthRecord::Excluded { user_id, sample } => excluded.push(ExcludedRef {
                user: users.id(user_id),
                sample,
            }),
        }
    }
    Ok((truths, excluded))
}

fn read(path: &Path, into: &mut Vec<u8>) -> Result<(), VerifyError> {
    let io = |source| SpillError::Io {
        path: path.to_path_buf(),
        source,
    };
    into.clear();
    File::open(path)
        .and_then(|mut file| file.read_to_end(into))
        .map_err(io)?;
    Ok(())
}
fn corrupt(path: &Path, record: u64) -> VerifyError {
    SpillError::Corrupt {
        path: path.to_path_buf(),
        line: record,
    }
    .into()
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
