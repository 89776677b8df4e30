//! Property tests of the streaming core against the model's truth.

mod common;

use common::{event, exact_truth, poison, truth, Record, KINDS};
use proptest::prelude::*;
use std::collections::BTreeMap;
use watchload_model::{SessionRules, WatchEvent, WatchSession};
use watchload_pipeline::{FinalView, Input, Output, Sessionizer, SessionizerConfig};

/// Small rules so that generated times cross every boundary often. With
/// `short_gap` the allowed lateness exceeds the gap, the only way an
/// emitted session can later be merged away or have its start moved.
fn rules(margin: i64, short_gap: bool) -> SessionRules {
    SessionRules {
        session_gap_ms: if short_gap { 40 } else { 100 },
        max_step_ms: 30,
        allowed_lateness_ms: 50,
        lateness_margin_ms: margin,
    }
}

/// Raw material of one stream: events `(user, device, playback, kind,
/// time, delay)`, duplicates `(index, extra delay)`, poison `(at, class)`.
type Raw = (
    Vec<(u8, u8, u8, usize, i64, i64)>,
    Vec<(usize, i64)>,
    Vec<(i64, usize)>,
);

fn raw_stream() -> impl Strategy<Value = Raw> {
    (
        prop::collection::vec(
            (0..3u8, 0..3u8, 0..2u8, 0..6usize, 0..1500i64, 0..90i64),
            1..70,
        ),
        prop::collection::vec((0..70usize, 0..120i64), 0..12),
        prop::collection::vec((0..1600i64, 0..5usize), 0..4),
    )
}

/// Builds the records in send order: each event sent at `time + delay`
/// (a delay above the allowed lateness makes it late), duplicates later
/// still, poison anywhere. Seq numbers follow event time per playback.
fn build(raw: &Raw) -> Vec<(i32, Record)> {
    let (specs, dups, poisons) = raw;
    let mut events: Vec<WatchEvent> = specs
        .iter()
        .enumerate()
        .map(|(i, &(u, d, p, k, t, _))| event(i, u, d, p, 0, KINDS[k], t))
        .collect();
    let mut by_time: Vec<usize> = (0..events.len()).collect();
    by_time.sort_by_key(|&i| (events[i].event_time, i));
    let mut seqs: BTreeMap<String, u32> = BTreeMap::new();
    for i in by_time {
        let seq = seqs.entry(events[i].playback_id.clone()).or_default();
        events[i].seq = *seq;
        *seq += 1;
    }

    let mut sends: Vec<(i64, usize, Record)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        sends.push((
            e.event_time + specs[i].5,
            sends.len(),
            Record::Event(e.clone()),
        ));
    }
    for &(i, extra) in dups {
        if let Some(e) = events.get(i) {
            let at = e.event_time + specs[i].5 + extra;
            sends.push((at, sends.len(), Record::Event(e.clone())));
        }
    }
    for &(at, class) in poisons {
        sends.push((at, sends.len(), Record::Poison(poison(class))));
    }
    sends.sort_by_key(|(at, n, _)| (*at, *n));
    sends.into_iter().map(|(_, _, r)| (0, r)).collect()
}

fn sessionizer(rules: SessionRules) -> Sessionizer {
    Sessionizer::new(SessionizerConfig {
        rules,
        ..SessionizerConfig::default()
    })
    .unwrap()
}

fn push_range(
    s: &mut Sessionizer,
    records: &[(i32, Record)],
    from: usize,
    to: usize,
) -> Vec<Output> {
    let mut out = Vec::new();
    for (offset, (partition, record)) in records.iter().enumerate().take(to).skip(from) {
        let payload = record.payload();
        let input = Input {
            partition: *partition,
            offset: offset as i64,
            payload: Some(&payload),
            timestamp_ms: None,
        };
        s.push(input, &mut out);
    }
    out
}

fn view(outputs: &[Output]) -> BTreeMap<String, WatchSession> {
    let mut view = FinalView::new();
    for output in outputs {
        view.apply(output);
    }
    view.into_sessions()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Invariant: with no ambiguity band (margin 0), the final view of the
    /// pipeline's changelog (last version per key, tombstones remove)
    /// equals truth, for any order within or beyond lateness, with
    /// duplicates and poison.
    #[test]
    fn final_view_equals_truth(raw in raw_stream(), short_gap in any::<bool>()) {
        let records = build(&raw);
        let mut s = sessionizer(rules(0, short_gap));
        let mut out = push_range(&mut s, &records, 0, records.len());
        s.flush(&mut out);
        let poison = records.iter().filter(|(_, r)| matches!(r, Record::Poison(_))).count();
        prop_assert_eq!(s.stats().poison_total(), poison as u64);
        prop_assert_eq!(view(&out), exact_truth(&records, rules(0, short_gap)));
    }

    /// Invariant: with an ambiguity band, every truth session that is not
    /// tolerated is in the final view exactly, and every session of the
    /// final view lies inside a truth session of its user and equals it
    /// when that one is not tolerated.
    #[test]
    fn final_view_matches_truth_outside_tolerated(
        raw in raw_stream(),
        short_gap in any::<bool>(),
    ) {
        let records = build(&raw);
        let mut s = sessionizer(rules(10, short_gap));
        let mut out = push_range(&mut s, &records, 0, records.len());
        s.flush(&mut out);
        let got = view(&out);
        let want = truth(&records, rules(10, short_gap));
        for (key, (session, tolerated)) in &want {
            if !tolerated {
                prop_assert_eq!(got.get(key), Some(session), "missing {}", key);
            }
        }
        for (key, session) in &got {
            let home = want.values().find(|(t, _)| {
                t.user_id == session.user_id
                    && t.session_start <= session.session_start
                    && session.session_end <= t.session_end
            });
            prop_assert!(home.is_some(), "{} lies in no truth session", key);
            let (truth_session, tolerated) = home.unwrap();
            if !tolerated {
                prop_assert_eq!(session, truth_session);
            }
        }
    }

    /// Invariant: a restart from the committed checkpoint loses nothing
    /// and invents nothing. The first run stops at `crash`, having
    /// checkpointed at `commit <= crash` (optionally after a flush); the
    /// second resumes from the checkpoint. The final view of everything
    /// both wrote equals truth.
    #[test]
    fn restart_from_checkpoint_keeps_final_view(
        raw in raw_stream(),
        short_gap in any::<bool>(),
        commit_at in 0.0..1.0f64,
        crash_after in 0.0..1.0f64,
        flush_before_commit in any::<bool>(),
    ) {
        let records = build(&raw);
        let n = records.len();
        let commit = (commit_at * n as f64) as usize;
        let crash = commit + (crash_after * (n - commit) as f64) as usize;

        let mut first = sessionizer(rules(0, short_gap));
        let mut out = push_range(&mut first, &records, 0, commit);
        if flush_before_commit {
            first.flush(&mut out);
        }
        let checkpoint = first.checkpoint(0);
        out.extend(push_range(&mut first, &records, commit, crash));

        let mut second = sessionizer(rules(0, short_gap));
        let from = match checkpoint {
            Some(c) => {
                second.resume(0, c);
                c.offset as usize
            }
            None => 0,
        };
        out.extend(push_range(&mut second, &records, from, n));
        second.flush(&mut out);
        prop_assert_eq!(view(&out), exact_truth(&records, rules(0, short_gap)));
    }
}
