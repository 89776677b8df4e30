//! The Kafka headers that carry harness bookkeeping next to each event.
//!
//! Every value is UTF-8 text, so any client (kcat, kafka-python, a JVM
//! pipeline) can read them. Pipelines under test must ignore them.

use rdkafka::message::{Header, Headers, OwnedHeaders};

/// Identifies the run that produced the record.
pub const RUN_ID: &str = "watchload.run_id";
/// The intended send time, epoch milliseconds, decimal.
pub const SEND_TIME: &str = "watchload.send_time";
/// The fault labels of the record, comma-separated, empty when none.
pub const LABELS: &str = "watchload.labels";
/// The record's number within its producer's run, from 0, decimal: what
/// reconciliation matches a read-back record with its delivery outcome by.
pub const RECORD: &str = "watchload.record";

/// The harness headers of one record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessHeaders {
    /// Value of [`RUN_ID`].
    pub run_id: String,
    /// Value of [`SEND_TIME`].
    pub send_time_ms: i64,
    /// Value of [`LABELS`], split on commas.
    pub labels: Vec<String>,
    /// Value of [`RECORD`].
    pub record: u64,
}

/// Builds the harness headers of one record.
pub fn encode<L: AsRef<str>>(
    run_id: &str,
    send_time_ms: i64,
    labels: &[L],
    record: u64,
) -> OwnedHeaders {
    let mut joined = String::new();
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            joined.push(',');
        }
        joined.push_str(label.as_ref());
    }
    let send_time = send_time_ms.to_string();
    let record = record.to_string();
    OwnedHeaders::new_with_capacity(4)
        .insert(Header {
            key: RUN_ID,
            value: Some(run_id),
        })
        .insert(Header {
            key: SEND_TIME,
            value: Some(&send_time),
        })
        .insert(Header {
            key: LABELS,
            value: Some(&joined),
        })
        .insert(Header {
            key: RECORD,
            value: Some(&record),
        })
}

/// Decodes the harness headers from `(key, value)` pairs; `None` when one
/// is missing or not what watchload writes (a record from another producer).
pub fn decode<'a, I>(headers: I) -> Option<HarnessHeaders>
where
    I: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    let mut run_id = None;
    let mut send_time_ms = None;
    let mut labels = None;
    let mut record = None;
    for (key, value) in headers {
        let text = std::str::from_utf8(value).ok();
        match key {
            RUN_ID => run_id = text.map(str::to_string),
            SEND_TIME => send_time_ms = text.and_then(|t| t.parse::<i64>().ok()),
            LABELS => labels = text.map(split_labels),
            RECORD => record = text.and_then(|t| t.parse::<u64>().ok()),
            _ => {}
        }
    }
    Some(HarnessHeaders {
        run_id: run_id?,
        send_time_ms: send_time_ms?,
        labels: labels?,
        record: record?,
    })
}

/// Copies headers out of a message into owned `(key, value)` pairs; a
/// header without a value becomes an empty value.
pub fn to_pairs<H: Headers>(headers: &H) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
        .collect()
}

fn split_labels(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|label| !label.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reverses_encode() {
        let headers = encode("run-1", 1_700_000_000_123, &["jitter", "duplicate"], 42);
        let pairs = to_pairs(&headers);
        let decoded = decode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).unwrap();
        assert_eq!(
            decoded,
            HarnessHeaders {
                run_id: "run-1".to_string(),
                send_time_ms: 1_700_000_000_123,
                labels: vec!["jitter".to_string(), "duplicate".to_string()],
                record: 42,
            }
        );
    }

    #[test]
    fn no_labels_decode_to_an_empty_list() {
        let headers = encode::<&str>("r", 1, &[], 0);
        let pairs = to_pairs(&headers);
        let decoded = decode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).unwrap();
        assert!(decoded.labels.is_empty());
    }

    #[test]
    fn a_foreign_record_decodes_to_none() {
        let pairs: [(&str, &[u8]); 1] = [("traceparent", b"00-abc")];
        assert_eq!(decode(pairs), None);
        let bad: [(&str, &[u8]); 4] = [
            (RUN_ID, b"r"),
            (SEND_TIME, b"1"),
            (LABELS, b""),
            (RECORD, b"not a number"),
        ];
        assert_eq!(decode(bad), None);
    }
}
