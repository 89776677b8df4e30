//! The Kafka sink: records go to the events topic through watchload-kafka's
//! producer, keyed by user id, with the harness headers (`watchload.run_id`,
//! `watchload.send_time`, `watchload.labels`, `watchload.record` = the
//! record's index). Outcomes arrive from delivery reports, out of order and
//! late; `finish` waits for all of them (bounded by the producer's message
//! timeout), so every record ends acked, failed or indeterminate.

use super::{Delivery, DeliveryOutcome, OutRecord, Sink, SinkError};
use crate::record::Label;
use std::time::Duration;
use watchload_kafka::{DeliveryLedger, KafkaSettings, OutcomeKind, OutgoingRecord, RecordProducer};

/// Extra wait in `finish` beyond the message timeout, for the last reports.
const FINISH_GRACE: Duration = Duration::from_secs(5);

/// Sends records to a Kafka topic and reports their delivery outcomes.
#[derive(Debug)]
pub struct KafkaSink {
    producer: Option<RecordProducer>,
    ledger: Option<DeliveryLedger>,
    resolved: Vec<(u64, watchload_kafka::DeliveryOutcome)>,
}

impl KafkaSink {
    /// A sink producing to `settings.topics.events` on `bootstrap`, with
    /// `run_id` in every record's headers.
    ///
    /// # Errors
    /// [`SinkError::Transport`] when librdkafka refuses the configuration.
    pub fn new(settings: &KafkaSettings, bootstrap: &str, run_id: &str) -> Result<Self, SinkError> {
        let producer = RecordProducer::new(settings, bootstrap, &settings.topics.events, run_id)
            .map_err(|err| transport(&err))?;
        producer.report_resolved();
        Ok(KafkaSink {
            producer: Some(producer),
            ledger: None,
            resolved: Vec::new(),
        })
    }

    /// Every record's outcome (partition and offset when acked), once
    /// [`Sink::finish`] has run: for `deliveries.jsonl` and reconciliation.
    pub fn ledger(&self) -> Option<&DeliveryLedger> {
        self.ledger.as_ref()
    }
}

fn after_finish() -> SinkError {
    SinkError::Transport {
        sink: "kafka".to_string(),
        message: "used after finish".to_string(),
    }
}

fn transport(err: &dyn std::error::Error) -> SinkError {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    SinkError::Transport {
        sink: "kafka".to_string(),
        message,
    }
}

fn convert(index: u64, outcome: &watchload_kafka::DeliveryOutcome) -> Delivery {
    let outcome = match outcome.kind() {
        OutcomeKind::Acked => DeliveryOutcome::Acked,
        OutcomeKind::Failed => DeliveryOutcome::Failed,
        OutcomeKind::Indeterminate => DeliveryOutcome::Indeterminate,
    };
    Delivery { index, outcome }
}

impl Sink for KafkaSink {
    fn name(&self) -> &str {
        "kafka"
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        let mut labels = [""; Label::ALL.len()];
        let mut count = 0;
        for label in record.labels.iter() {
            labels[count] = label.as_str();
            count += 1;
        }
        let outgoing = OutgoingRecord {
            key: record.key,
            payload: record.payload,
            send_time_ms: record.send_time,
            labels: &labels[..count],
            partition: None,
            timestamp_ms: None,
        };
        let producer = self.producer.as_ref().ok_or_else(after_finish)?;
        let number = producer.send(&outgoing).map_err(|err| transport(&err))?;
        if number != record.index {
            return Err(SinkError::Transport {
                sink: "kafka".to_string(),
                message: format!(
                    "record index {} was sent as record number {number}: the Kafka sink \
                     needs indices 0, 1, 2, ... in send order",
                    record.index
                ),
            });
        }
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        let producer = self.producer.as_ref().ok_or_else(after_finish)?;
        producer.drain_resolved(&mut self.resolved);
        out.extend(self.resolved.drain(..).map(|(i, o)| convert(i, &o)));
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        let Some(producer) = self.producer.take() else {
            return Ok(());
        };
        producer.drain_resolved(&mut self.resolved);
        out.extend(self.resolved.drain(..).map(|(i, o)| convert(i, &o)));
        let ledger = producer.finish(FINISH_GRACE);
        out.extend(ledger.unreported.iter().map(|(i, o)| convert(*i, o)));
        tracing::info!(
            topic = %ledger.topic,
            generated = ledger.tally.generated,
            acked = ledger.tally.acked,
            failed = ledger.tally.failed,
            indeterminate = ledger.tally.indeterminate,
            queue_full_waits = ledger.queue_full_waits,
            "kafka sink finished"
        );
        self.ledger = Some(ledger);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Labels;
    use watchload_kafka::EmbeddedCluster;

    /// Invariant: every record sent gets exactly one outcome, across
    /// `poll` and `finish` together.
    #[test]
    fn every_record_gets_exactly_one_outcome() {
        let cluster = EmbeddedCluster::start(1).unwrap();
        let settings = KafkaSettings::default();
        cluster.create_topic(&settings.topics.events, 2, 1).unwrap();
        let mut sink = KafkaSink::new(&settings, cluster.bootstrap(), "sink-test").unwrap();
        let mut out = Vec::new();
        for index in 0..200u64 {
            let key = format!("u{}", index % 7);
            let record = OutRecord {
                index,
                send_time: index as i64,
                key: &key,
                payload: b"{}",
                labels: Labels::default().with(Label::Jitter),
            };
            sink.send(&record).unwrap();
            if index % 50 == 0 {
                sink.poll(&mut out).unwrap();
            }
        }
        sink.finish(&mut out).unwrap();

        let mut indices: Vec<u64> = out.iter().map(|d| d.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..200).collect::<Vec<_>>());
        assert!(out.iter().all(|d| d.outcome == DeliveryOutcome::Acked));
        assert_eq!(sink.ledger().unwrap().tally.acked, 200);
    }
}
