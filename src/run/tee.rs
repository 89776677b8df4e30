//! The sink of a run: every record goes to the Kafka sink (events topic)
//! and to `events.jsonl` in the report directory, and the harness clock
//! notes when each was actually handed to the producer.

use crate::run::clock::HarnessClock;
use serde::Deserialize;
use std::time::Instant;
use watchload_generator::sink::{Delivery, FileSink, KafkaSink, OutRecord, Sink, SinkError};

/// Just the event time of a record, read without decoding the rest.
#[derive(Deserialize)]
struct EventTime {
    event_time: i64,
}

/// What the tee learned about the records it sent, by record index.
#[derive(Debug, Clone, Default)]
pub struct SendLog {
    /// Intended send time of each record, simulated epoch ms.
    pub sim_send_ms: Vec<i64>,
    /// When each record was handed to the producer, harness epoch ms.
    pub sent_ms: Vec<i64>,
    /// The largest `event_time` of a valid event sent.
    pub last_event_time: Option<i64>,
}

impl SendLog {
    /// Records sent.
    pub fn len(&self) -> usize {
        self.sent_ms.len()
    }

    /// The harness time the paced schedule started at, in epoch ms: the
    /// earliest `sent - (sim_send - sim_start) / time_scale` over all
    /// records. A record is never sent before it is due, so this is the
    /// schedule's start plus the smallest schedule lag (well under 1 ms on
    /// an idle producer).
    pub fn schedule_start_ms(&self, sim_start: i64, time_scale: f64) -> Option<i64> {
        self.sim_send_ms
            .iter()
            .zip(&self.sent_ms)
            .map(|(&sim, &sent)| sent - ((sim - sim_start) as f64 / time_scale).round() as i64)
            .min()
    }
}

/// Kafka sink plus `events.jsonl`, stamping sends on the harness clock.
#[derive(Debug)]
pub struct TeeSink {
    kafka: KafkaSink,
    file: FileSink,
    clock: HarnessClock,
    log: SendLog,
    file_outcomes: Vec<Delivery>,
}

impl TeeSink {
    /// Sends to `kafka` and writes to `file`.
    pub fn new(kafka: KafkaSink, file: FileSink, clock: HarnessClock) -> TeeSink {
        TeeSink {
            kafka,
            file,
            clock,
            log: SendLog::default(),
            file_outcomes: Vec::new(),
        }
    }

    /// The Kafka sink, for its delivery ledger once finished.
    pub fn kafka(&self) -> &KafkaSink {
        &self.kafka
    }

    /// Takes the send log out.
    pub fn take_log(&mut self) -> SendLog {
        std::mem::take(&mut self.log)
    }
}

impl Sink for TeeSink {
    fn name(&self) -> &str {
        "kafka"
    }

    fn send(&mut self, record: &OutRecord<'_>) -> Result<(), SinkError> {
        self.file.send(record)?;
        let sent = Instant::now();
        self.kafka.send(record)?;
        self.log.sim_send_ms.push(record.send_time);
        self.log.sent_ms.push(self.clock.epoch_ms(sent));
        if let Ok(e) = serde_json::from_slice::<EventTime>(record.payload) {
            let last = self.log.last_event_time.get_or_insert(e.event_time);
            *last = (*last).max(e.event_time);
        }
        Ok(())
    }

    fn poll(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        // The file's outcomes are not the run's: only Kafka's count.
        self.file.poll(&mut self.file_outcomes)?;
        self.file_outcomes.clear();
        self.kafka.poll(out)
    }

    fn finish(&mut self, out: &mut Vec<Delivery>) -> Result<(), SinkError> {
        self.file.finish(&mut self.file_outcomes)?;
        self.file_outcomes.clear();
        self.kafka.finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_start_is_the_earliest_send_minus_its_offset() {
        let log = SendLog {
            sim_send_ms: vec![1_000, 61_000, 121_000],
            // time_scale 60: due at start, start + 1 s, start + 2 s; the
            // second record was 3 ms late, the third 40 ms.
            sent_ms: vec![50_001, 51_003, 52_040],
            last_event_time: None,
        };
        assert_eq!(log.schedule_start_ms(1_000, 60.0), Some(50_001));
        assert_eq!(SendLog::default().schedule_start_ms(0, 1.0), None);
    }
}
