//! The streaming core: records in, session changelog and dead letters out.
//! Pure: no I/O, no clock; the Kafka runner and the file mode drive it.

use crate::checkpoint::Checkpoint;
use crate::defects::{Defect, Defects};
use crate::output::{DeadLetter, Output};
use crate::partition::{PartitionState, Policy};
use crate::stats::Stats;
use crate::user::Timing;
use crate::validate::parse_event;
use std::collections::BTreeMap;
use watchload_model::{SessionRules, WatchEvent};

/// What the sessionizer computes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionizerConfig {
    /// Session gap, playing-time step cap, allowed lateness and margin.
    pub rules: SessionRules,
    /// Deliberate bugs to switch on; empty for the correct pipeline.
    pub defects: Defects,
}

/// A configuration the sessionizer cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionizerError {
    /// The session rules are inconsistent.
    #[error("invalid session rules: {}", .0.join("; "))]
    Rules(Vec<String>),
}

/// One input record.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Input partition; users never move between partitions.
    pub partition: i32,
    /// Offset within the partition, increasing.
    pub offset: i64,
    /// The payload, `None` for a record without one.
    pub payload: Option<&'a [u8]>,
    /// The record's timestamp (epoch ms), used only by the
    /// `processing-time` defect.
    pub timestamp_ms: Option<i64>,
}

/// The reference sessionizer over any number of input partitions.
///
/// Feed records in partition order with [`push`]; outputs are appended to
/// the caller's vector in the order they must be written. Per partition,
/// stream time is the largest `event_time` read; an event is admitted when
/// it is new (its `event_id` is not in its user's state) and its lateness
/// (stream time before it minus its `event_time`) is at most
/// `allowed_lateness`. See `docs/pipeline.md`.
///
/// [`push`]: Sessionizer::push
#[derive(Debug)]
pub struct Sessionizer {
    policy: Policy,
    defects: Defects,
    partitions: BTreeMap<i32, PartitionState>,
    stats: Stats,
}

impl Sessionizer {
    /// A sessionizer with no state.
    ///
    /// # Errors
    ///
    /// [`SessionizerError::Rules`] when the rules have problems.
    pub fn new(config: SessionizerConfig) -> Result<Self, SessionizerError> {
        let problems = config.rules.problems();
        if !problems.is_empty() {
            return Err(SessionizerError::Rules(problems));
        }
        let mut rules = config.rules;
        if config.defects.has(Defect::ExclusiveGap) {
            rules.session_gap_ms -= 1;
        }
        let timing = Timing {
            rules,
            horizon_ms: rules.session_gap_ms + rules.allowed_lateness_ms + rules.lateness_margin_ms,
        };
        let policy = Policy {
            timing,
            drop_out_of_order: config.defects.has(Defect::DropLate),
            forget_state: config.defects.has(Defect::LoseStateOnRestart),
        };
        Ok(Sessionizer {
            policy,
            defects: config.defects,
            partitions: BTreeMap::new(),
            stats: Stats::default(),
        })
    }

    /// Whether the sessionizer holds state (or a pending replay) for
    /// `partition`.
    pub fn has_partition(&self, partition: i32) -> bool {
        self.partitions.contains_key(&partition)
    }

    /// Starts `partition` from a checkpoint read back after a restart. The
    /// caller then feeds records from `checkpoint.offset` on.
    pub fn resume(&mut self, partition: i32, checkpoint: Checkpoint) {
        self.partitions
            .insert(partition, PartitionState::resumed(checkpoint));
    }

    /// Drops all state of `partition` (it was revoked from this consumer).
    pub fn forget(&mut self, partition: i32) {
        self.partitions.remove(&partition);
    }

    /// Handles one record; appends what must be written to `out`.
    pub fn push(&mut self, input: Input<'_>, out: &mut Vec<Output>) {
        self.stats.records += 1;
        let part = self.partitions.entry(input.partition).or_default();
        let replaying = part.replaying(input.offset);
        part.saw_offset(input.offset);

        let mut suppressed = Vec::new();
        let sink = if replaying {
            self.stats.replayed += 1;
            &mut suppressed
        } else {
            &mut *out
        };
        let written = sink.len();
        match parse_event(input.payload) {
            Err(reason) => {
                *self.stats.poison.entry(reason.kind).or_default() += 1;
                sink.push(Output::DeadLetter(DeadLetter {
                    partition: input.partition,
                    offset: input.offset,
                    reason,
                    payload: input.payload.unwrap_or_default().to_vec(),
                }));
            }
            Ok(event) => {
                let (group, event) = apply_defects(&self.defects, event, &input);
                part.on_event(
                    group,
                    event,
                    input.offset,
                    &self.policy,
                    &mut self.stats,
                    sink,
                );
            }
        }
        if !replaying {
            count(&mut self.stats, &out[written..]);
        }
    }

    /// Emits every open session that was not emitted in its current
    /// version, on every partition: the end of the stream. State is kept,
    /// so later records still update or remove what was flushed.
    pub fn flush(&mut self, out: &mut Vec<Output>) {
        let written = out.len();
        for part in self.partitions.values_mut() {
            part.flush(out);
        }
        count(&mut self.stats, &out[written..]);
    }

    /// Where a restart must resume `partition`; `None` before its first
    /// record. Valid once the outputs of every record pushed so far are
    /// written.
    pub fn checkpoint(&self, partition: i32) -> Option<Checkpoint> {
        self.partitions.get(&partition)?.checkpoint(&self.policy)
    }

    /// Checkpoints of every partition with one, by partition.
    pub fn checkpoints(&self) -> Vec<(i32, Checkpoint)> {
        self.partitions
            .iter()
            .filter_map(|(p, part)| Some((*p, part.checkpoint(&self.policy)?)))
            .collect()
    }

    /// Stream time (the watermark) of `partition`.
    pub fn stream_time(&self, partition: i32) -> Option<i64> {
        self.partitions.get(&partition)?.stream_time()
    }

    /// Users with open state, over all partitions.
    pub fn open_users(&self) -> usize {
        self.partitions
            .values()
            .map(PartitionState::open_users)
            .sum()
    }

    /// Events held in state, over all partitions: the de-duplication bound.
    pub fn buffered_events(&self) -> usize {
        self.partitions
            .values()
            .map(PartitionState::buffered_events)
            .sum()
    }

    /// Counters since this sessionizer was created.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The session key group and the event as the switched-on defects see it.
fn apply_defects(
    defects: &Defects,
    mut event: WatchEvent,
    input: &Input<'_>,
) -> (String, WatchEvent) {
    if defects.has(Defect::ProcessingTime) {
        event.event_time = input.timestamp_ms.unwrap_or(event.event_time);
    }
    if defects.has(Defect::NoDedup) {
        event.event_id = format!("{}#{}:{}", event.event_id, input.partition, input.offset);
    }
    let group = if defects.has(Defect::SingleDevice) {
        format!("{}/{}", event.user_id, event.device_id)
    } else {
        event.user_id.clone()
    };
    (group, event)
}

fn count(stats: &mut Stats, outputs: &[Output]) {
    for output in outputs {
        match output {
            Output::Upsert(_) => stats.upserts += 1,
            Output::Tombstone { .. } => stats.tombstones += 1,
            Output::DeadLetter(_) => {}
        }
    }
}
