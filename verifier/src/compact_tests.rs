//! Tests of `compact.rs`.

use super::*;
use crate::matching::is_exact;

const LINE: &str = r#"{"session_id":"u\"1@5","user_id":"u\"1","session_start":5,"session_end":9,"event_count":2,"playbacks":1,"content_ids":["a","b\\c"],"watch_ms":4,"device_switches":0,"devices":[{"device_id":"d","device_type":"tv","first_event_time":5,"last_event_time":9,"watch_ms":4}],"tolerated":false,"fault_counts":{"jitter":1},"fault_samples":[]}"#;

fn spilled_truth() -> (Vec<u8>, TruthSession) {
    let line: TruthLine = serde_json::from_str(LINE).unwrap();
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    encode_truth(&line, &mut scratch, &mut out).unwrap();
    let expected = crate::run_dir::parse_truth_line(LINE).unwrap();
    (out, expected)
}

fn as_output(t: &TruthSession) -> OutputSession {
    OutputSession::complete(
        &t.session,
        Origin {
            stream: 1,
            position: 7,
        },
    )
}

fn truth_fields(bytes: &[u8]) -> (TruthSession, Vec<u8>) {
    let (record, rest) = postcard::take_from_bytes::<TruthRecord>(bytes).unwrap();
    assert!(rest.is_empty());
    let TruthRecord::Session {
        user_id,
        session_id,
        start,
        end,
        tolerated,
        fields,
        faults,
    } = record
    else {
        panic!("a session record");
    };
    let t = truth_session(
        user_id, session_id, start, end, tolerated, fields.0, faults.0,
    );
    (t.unwrap(), fields.0.to_vec())
}

fn output_fields(s: Option<&OutputSession>) -> (Option<OutputSession>, Vec<u8>) {
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let origin = Origin {
        stream: 1,
        position: 7,
    };
    encode_output(origin, "u\"1", "k", s, &mut scratch, &mut out).unwrap();
    let record: OutputRecord = postcard::from_bytes(&out).unwrap();
    assert_eq!((record.user_id, record.key), ("u\"1", "k"));
    match record.body {
        OutputBody::Delete => (None, Vec::new()),
        OutputBody::Upsert {
            start,
            end,
            complete,
            fields,
        } => {
            let o = output_session(record.user_id, origin, (start, end), complete, fields.0);
            (Some(o.unwrap()), fields.0.to_vec())
        }
    }
}

#[test]
fn truth_round_trips_with_escapes_and_faults() {
    let (bytes, expected) = spilled_truth();
    assert_eq!(truth_fields(&bytes).0, expected);
}

#[test]
fn equal_fields_encode_to_equal_bytes_and_only_then() {
    let (bytes, truth) = spilled_truth();
    let (_, truth_bytes) = truth_fields(&bytes);
    let output = as_output(&truth);
    let (decoded, output_bytes) = output_fields(Some(&output));
    assert_eq!(decoded.as_ref(), Some(&output));
    assert!(is_exact(&truth, &output));
    assert_eq!(truth_bytes, output_bytes);

    let mut other = output.clone();
    other.devices.as_mut().unwrap()[0].device_type = DeviceType::Phone;
    assert!(!is_exact(&truth, &other));
    assert_ne!(output_fields(Some(&other)).1, truth_bytes);
}

#[test]
fn partial_outputs_and_tombstones_round_trip() {
    let (_, truth) = spilled_truth();
    let mut output = as_output(&truth);
    output.devices = None;
    output.playbacks = None;
    assert_eq!(output_fields(Some(&output)).0, Some(output));
    assert_eq!(output_fields(None).0, None);
}
