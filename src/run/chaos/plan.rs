//! The chaos plan as a timeline of steps: each fault is injected at its
//! `at` and undone `duration` later, on offsets from the start of the load.
//! Pure: the scheduler only sleeps until each step's offset.

use std::time::Duration;
use watchload_generator::scenario::ChaosEntry;

/// Inject or undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Start a fault.
    Inject,
    /// End a fault.
    Undo,
}

/// One thing to do at one offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Offset from the start of the load.
    pub at: Duration,
    /// Index of the fault in the scenario's `[[chaos]]` list.
    pub fault: usize,
    /// What to do.
    pub kind: StepKind,
}

/// Every step of `entries`, in the order they run: by offset; at the same
/// offset, undos of faults that started earlier, then injects, then undos
/// of zero-length faults (a fault is never undone before it started); then
/// by fault index. Every fault gets an undo
/// step, also when there is nothing to undo (an `exec` without `undo`): it
/// marks the end of the fault's window.
pub fn steps(entries: &[ChaosEntry]) -> Vec<Step> {
    let mut steps = Vec::with_capacity(entries.len() * 2);
    for (fault, e) in entries.iter().enumerate() {
        let start = millis(e.at.ms());
        steps.push(Step {
            at: start,
            fault,
            kind: StepKind::Inject,
        });
        steps.push(Step {
            at: start + millis(e.length().ms()),
            fault,
            kind: StepKind::Undo,
        });
    }
    steps.sort_by_key(|s| (s.at, rank(s, entries), s.fault));
    steps
}

/// When the last step runs: how long the chaos plan lasts.
pub fn span(entries: &[ChaosEntry]) -> Duration {
    steps(entries).last().map_or(Duration::ZERO, |s| s.at)
}

fn rank(step: &Step, entries: &[ChaosEntry]) -> u8 {
    match step.kind {
        StepKind::Undo if entries[step.fault].length().ms() > 0 => 0,
        StepKind::Inject => 1,
        StepKind::Undo => 2,
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchload_generator::scenario::{ChaosAction, Millis};

    fn entry(at: i64, duration: Option<i64>, action: ChaosAction) -> ChaosEntry {
        ChaosEntry {
            at: Millis(at),
            duration: duration.map(Millis),
            action,
            broker: None,
            latency: None,
            command: None,
            undo: None,
            timeout: None,
        }
    }

    #[test]
    fn steps_run_in_time_order_ending_faults_before_starting_others() {
        let plan = [
            entry(5_000, Some(5_000), ChaosAction::BrokerDown),
            entry(10_000, Some(2_000), ChaosAction::PipelinePause),
            entry(1_000, None, ChaosAction::PipelineRestart),
        ];
        let got: Vec<(u64, usize, StepKind)> = steps(&plan)
            .iter()
            .map(|s| (s.at.as_millis() as u64, s.fault, s.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (1_000, 2, StepKind::Inject),
                (1_000, 2, StepKind::Undo),
                (5_000, 0, StepKind::Inject),
                (10_000, 0, StepKind::Undo),
                (10_000, 1, StepKind::Inject),
                (12_000, 1, StepKind::Undo),
            ]
        );
        assert_eq!(span(&plan), Duration::from_secs(12));
    }

    #[test]
    fn a_zero_length_fault_is_injected_before_it_is_undone() {
        let plan = [
            entry(3_000, None, ChaosAction::PipelineRestart),
            entry(0, Some(3_000), ChaosAction::BrokerDown),
            entry(3_000, Some(1_000), ChaosAction::BrokerDown),
        ];
        let got: Vec<(usize, StepKind)> = steps(&plan).iter().map(|s| (s.fault, s.kind)).collect();
        assert_eq!(
            got,
            vec![
                (1, StepKind::Inject),
                (1, StepKind::Undo),
                (0, StepKind::Inject),
                (2, StepKind::Inject),
                (0, StepKind::Undo),
                (2, StepKind::Undo),
            ]
        );
    }
}
