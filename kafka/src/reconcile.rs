//! Reconciliation: what the producer was told against what the log holds.
//!
//! Every record of a run is matched by its harness headers (`watchload.run_id`
//! and `watchload.record`) and put in one class:
//!
//! | delivery outcome | in the log | class |
//! |---|---|---|
//! | acked | yes | acked and present |
//! | acked | no | **broker data loss** |
//! | indeterminate | yes | delivered |
//! | indeterminate | no | not delivered |
//! | failed | yes | failed but present (reported: should not happen) |
//! | failed | no | failed |
//!
//! This is how indeterminate records are settled (the approach Jepsen takes
//! with timed-out writes): by reading the log, never by guessing.

use crate::outcome::{DeliveryOutcome, OutcomeKind};
use crate::producer::DeliveryLedger;
use crate::readback::ReadRecord;
use serde::{Deserialize, Serialize};

/// How many records each sample list keeps.
pub const SAMPLES: usize = 20;

const PRESENT: u8 = 1;
const AT_ACKED_OFFSET: u8 = 2;

/// The class of one record after reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    /// Acked and in the log.
    AckedPresent,
    /// Acked but not in the log: the broker lost it.
    BrokerDataLoss,
    /// Indeterminate and in the log.
    Delivered,
    /// Indeterminate and not in the log.
    NotDelivered,
    /// Failed, yet in the log.
    FailedPresent,
    /// Failed and not in the log.
    Failed,
}

impl Fate {
    /// Whether the record is in the log.
    pub fn is_present(self) -> bool {
        matches!(
            self,
            Fate::AckedPresent | Fate::Delivered | Fate::FailedPresent
        )
    }
}

/// Counts of a reconciliation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileCounts {
    /// Records the producer was given.
    pub generated: u64,
    /// Acked and present.
    pub acked_present: u64,
    /// Acked and absent.
    pub broker_data_loss: u64,
    /// Indeterminate and present.
    pub delivered: u64,
    /// Indeterminate and absent.
    pub not_delivered: u64,
    /// Failed and present.
    pub failed_present: u64,
    /// Failed and absent.
    pub failed: u64,
    /// Copies of a record beyond its first in the log.
    pub extra_copies: u64,
    /// Acked and present, but not at the acknowledged partition and offset.
    pub moved: u64,
    /// Records of the run whose number the producer never issued.
    pub unknown_records: u64,
    /// Records without watchload's headers or of another run.
    pub foreign: u64,
}

impl ReconcileCounts {
    /// Whether every generated record is in exactly one class.
    pub fn is_balanced(&self) -> bool {
        self.generated
            == self.acked_present
                + self.broker_data_loss
                + self.delivered
                + self.not_delivered
                + self.failed_present
                + self.failed
    }
}

/// A record of interest, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSample {
    /// The record number.
    pub record: u64,
    /// Its delivery outcome.
    pub outcome: OutcomeKind,
    /// Acked partition, if acked.
    pub partition: Option<i32>,
    /// Acked offset, if acked.
    pub offset: Option<i64>,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconciliation {
    /// Counts per class and anomalies.
    pub counts: ReconcileCounts,
    /// The class of record `i` at index `i`.
    pub fates: Vec<Fate>,
    /// Up to [`SAMPLES`] records the broker lost.
    pub lost: Vec<RecordSample>,
    /// Up to [`SAMPLES`] failed records found in the log.
    pub failed_present: Vec<RecordSample>,
}

/// Matches read-back records with delivery outcomes, one record at a time.
#[derive(Debug)]
pub struct Reconciler {
    run_id: String,
    outcomes: Vec<DeliveryOutcome>,
    seen: Vec<u8>,
    extra_copies: u64,
    unknown_records: u64,
    foreign: u64,
}

impl Reconciler {
    /// A reconciler for the records of `ledger`.
    pub fn new(ledger: &DeliveryLedger) -> Reconciler {
        Reconciler::from_outcomes(&ledger.run_id, ledger.outcomes.clone())
    }

    /// A reconciler for the run `run_id` whose record `i` had `outcomes[i]`.
    pub fn from_outcomes(run_id: &str, outcomes: Vec<DeliveryOutcome>) -> Reconciler {
        let seen = vec![0; outcomes.len()];
        Reconciler {
            run_id: run_id.to_string(),
            outcomes,
            seen,
            extra_copies: 0,
            unknown_records: 0,
            foreign: 0,
        }
    }

    /// Takes one record read from the topic.
    pub fn observe(&mut self, record: &ReadRecord) {
        let Some(harness) = record.harness() else {
            self.foreign += 1;
            return;
        };
        if harness.run_id != self.run_id {
            self.foreign += 1;
            return;
        }
        let Some(outcome) = usize::try_from(harness.record)
            .ok()
            .and_then(|index| self.outcomes.get(index))
        else {
            self.unknown_records += 1;
            return;
        };
        let index = harness.record as usize;
        if self.seen[index] & PRESENT != 0 {
            self.extra_copies += 1;
        }
        self.seen[index] |= PRESENT;
        if let DeliveryOutcome::Acked { partition, offset } = *outcome {
            if partition == record.partition && offset == record.offset {
                self.seen[index] |= AT_ACKED_OFFSET;
            }
        }
    }

    /// Classifies every record.
    pub fn finish(self) -> Reconciliation {
        let mut counts = ReconcileCounts {
            generated: self.outcomes.len() as u64,
            extra_copies: self.extra_copies,
            unknown_records: self.unknown_records,
            foreign: self.foreign,
            ..ReconcileCounts::default()
        };
        let mut fates = Vec::with_capacity(self.outcomes.len());
        let mut lost = Vec::new();
        let mut failed_present = Vec::new();
        for (index, (outcome, seen)) in self.outcomes.iter().zip(&self.seen).enumerate() {
            let present = seen & PRESENT != 0;
            let fate = match (outcome.kind(), present) {
                (OutcomeKind::Acked, true) => {
                    counts.acked_present += 1;
                    if seen & AT_ACKED_OFFSET == 0 {
                        counts.moved += 1;
                    }
                    Fate::AckedPresent
                }
                (OutcomeKind::Acked, false) => {
                    counts.broker_data_loss += 1;
                    push_sample(&mut lost, index, outcome);
                    Fate::BrokerDataLoss
                }
                (OutcomeKind::Indeterminate, true) => {
                    counts.delivered += 1;
                    Fate::Delivered
                }
                (OutcomeKind::Indeterminate, false) => {
                    counts.not_delivered += 1;
                    Fate::NotDelivered
                }
                (OutcomeKind::Failed, true) => {
                    counts.failed_present += 1;
                    push_sample(&mut failed_present, index, outcome);
                    Fate::FailedPresent
                }
                (OutcomeKind::Failed, false) => {
                    counts.failed += 1;
                    Fate::Failed
                }
            };
            fates.push(fate);
        }
        report(&counts);
        Reconciliation {
            counts,
            fates,
            lost,
            failed_present,
        }
    }
}

fn push_sample(samples: &mut Vec<RecordSample>, index: usize, outcome: &DeliveryOutcome) {
    if samples.len() >= SAMPLES {
        return;
    }
    let (partition, offset) = match *outcome {
        DeliveryOutcome::Acked { partition, offset } => (Some(partition), Some(offset)),
        _ => (None, None),
    };
    samples.push(RecordSample {
        record: index as u64,
        outcome: outcome.kind(),
        partition,
        offset,
    });
}

fn report(counts: &ReconcileCounts) {
    if counts.broker_data_loss > 0 {
        tracing::error!(
            lost = counts.broker_data_loss,
            "broker data loss: acked records are missing from the log"
        );
    }
    if counts.failed_present > 0 {
        tracing::warn!(
            records = counts.failed_present,
            "records reported failed are in the log"
        );
    }
    tracing::info!(
        generated = counts.generated,
        acked_present = counts.acked_present,
        delivered = counts.delivered,
        not_delivered = counts.not_delivered,
        failed = counts.failed,
        "reconciled delivery outcomes with the log"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers;
    use rdkafka::error::RDKafkaErrorCode;

    fn read(run_id: &str, record: u64, partition: i32, offset: i64) -> ReadRecord {
        let headers = headers::encode::<&str>(run_id, 0, &[], record);
        ReadRecord {
            partition,
            offset,
            key: None,
            payload: None,
            headers: headers::to_pairs(&headers),
            timestamp_ms: None,
        }
    }

    fn acked(partition: i32, offset: i64) -> DeliveryOutcome {
        DeliveryOutcome::Acked { partition, offset }
    }

    const TIMED_OUT: DeliveryOutcome = DeliveryOutcome::Indeterminate {
        error: RDKafkaErrorCode::MessageTimedOut,
    };
    const TOO_LARGE: DeliveryOutcome = DeliveryOutcome::Failed {
        error: RDKafkaErrorCode::MessageSizeTooLarge,
    };

    #[test]
    fn every_combination_lands_in_its_class() {
        let outcomes = vec![
            acked(0, 0),
            acked(0, 1),
            TIMED_OUT,
            TIMED_OUT,
            TOO_LARGE,
            TOO_LARGE,
        ];
        let mut reconciler = Reconciler::from_outcomes("run", outcomes);
        for record in [
            read("run", 0, 0, 0),
            read("run", 2, 1, 0),
            read("run", 4, 1, 1),
        ] {
            reconciler.observe(&record);
        }
        let result = reconciler.finish();
        assert_eq!(
            result.fates,
            [
                Fate::AckedPresent,
                Fate::BrokerDataLoss,
                Fate::Delivered,
                Fate::NotDelivered,
                Fate::FailedPresent,
                Fate::Failed,
            ]
        );
        assert!(result.counts.is_balanced());
        assert_eq!(result.lost[0].record, 1);
        assert_eq!(result.failed_present[0].record, 4);
    }

    #[test]
    fn records_of_other_runs_and_unknown_numbers_are_counted_apart() {
        let mut reconciler = Reconciler::from_outcomes("run", vec![acked(0, 0)]);
        reconciler.observe(&read("other-run", 0, 0, 0));
        reconciler.observe(&read("run", 7, 0, 1));
        let result = reconciler.finish();
        assert_eq!(result.counts.foreign, 1);
        assert_eq!(result.counts.unknown_records, 1);
        assert_eq!(result.counts.broker_data_loss, 1);
    }

    #[test]
    fn copies_and_moved_records_are_anomalies_not_losses() {
        let mut reconciler = Reconciler::from_outcomes("run", vec![acked(0, 5)]);
        reconciler.observe(&read("run", 0, 0, 3));
        reconciler.observe(&read("run", 0, 0, 4));
        let result = reconciler.finish();
        assert_eq!(result.counts.acked_present, 1);
        assert_eq!(result.counts.extra_copies, 1);
        assert_eq!(result.counts.moved, 1);
    }
}
