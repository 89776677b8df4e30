//! Unit tests of the core's semantics and of each defect's deviation.

use crate::{
    Checkpoint, Defect, Defects, FinalView, Input, Output, Sessionizer, SessionizerConfig,
};
use watchload_model::{DeviceType, EventType, SessionRules, WatchEvent, WatchSession};

fn rules() -> SessionRules {
    SessionRules {
        session_gap_ms: 100,
        max_step_ms: 30,
        allowed_lateness_ms: 50,
        lateness_margin_ms: 0,
    }
}

fn with(defects: &[Defect], rules: SessionRules) -> Sessionizer {
    Sessionizer::new(SessionizerConfig {
        rules,
        defects: defects.iter().copied().collect::<Defects>(),
    })
    .unwrap()
}

fn ev(id: &str, user: &str, device: &str, time: i64) -> WatchEvent {
    WatchEvent {
        event_id: id.to_string(),
        schema_version: 1,
        user_id: user.to_string(),
        device_id: device.to_string(),
        device_type: DeviceType::Tv,
        playback_id: format!("{user}-{device}"),
        content_id: "c1".to_string(),
        event_type: EventType::Heartbeat,
        position_ms: 0,
        seq: time as u32,
        event_time: time,
    }
}

/// Feeds events as offsets `from..`, with arrival timestamps `arrivals`
/// when given, and returns the outputs.
fn feed(s: &mut Sessionizer, from: i64, events: &[WatchEvent], arrivals: &[i64]) -> Vec<Output> {
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let payload = serde_json::to_vec(event).unwrap();
        let input = Input {
            partition: 0,
            offset: from + i as i64,
            payload: Some(&payload),
            timestamp_ms: arrivals.get(i).copied(),
        };
        s.push(input, &mut out);
    }
    out
}

fn upserted(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter(|o| matches!(o, Output::Upsert(_)))
        .filter_map(|o| o.session_id().map(str::to_string))
        .collect()
}

fn final_view(mut s: Sessionizer, mut out: Vec<Output>) -> Vec<WatchSession> {
    s.flush(&mut out);
    let mut view = FinalView::new();
    out.iter().for_each(|o| view.apply(o));
    view.into_sessions().into_values().collect()
}

#[test]
fn session_is_emitted_once_the_watermark_passes_end_plus_gap() {
    let mut s = with(&[], rules());
    let out = feed(
        &mut s,
        0,
        &[ev("a", "u", "d", 0), ev("b", "u", "d", 50)],
        &[],
    );
    assert!(out.is_empty());
    let out = feed(&mut s, 2, &[ev("c", "v", "d", 150)], &[]);
    assert!(
        upserted(&out).is_empty(),
        "stream time 150 is not past 50 + 100"
    );
    let out = feed(&mut s, 3, &[ev("d", "v", "d", 151)], &[]);
    assert_eq!(upserted(&out), ["u@0"]);
}

#[test]
fn user_state_is_evicted_past_gap_plus_lateness() {
    let mut s = with(&[], rules());
    feed(
        &mut s,
        0,
        &[ev("a", "u", "d", 0), ev("b", "v", "d", 150)],
        &[],
    );
    assert_eq!(s.open_users(), 2);
    feed(&mut s, 2, &[ev("c", "v", "d", 151)], &[]);
    assert_eq!(
        s.open_users(),
        1,
        "u is final once stream time is past 0 + 100 + 50"
    );
}

#[test]
fn late_event_extends_an_emitted_session_by_key() {
    let mut s = with(&[], rules());
    let events = [
        ev("a", "u", "d", 0),
        ev("b", "v", "d", 110),
        ev("c", "u", "d", 70),
    ];
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(
        upserted(&out),
        ["u@0", "u@0"],
        "first at 110, again after the late event"
    );
    let Some(Output::Upsert(last)) = out.last() else {
        panic!("expected an upsert, got {out:?}")
    };
    assert_eq!(last.session.session_end, 70);
}

#[test]
fn merge_of_emitted_sessions_tombstones_the_later_key() {
    // Allowed lateness above the gap: an emitted session can be merged.
    let rules = SessionRules {
        session_gap_ms: 40,
        allowed_lateness_ms: 100,
        ..rules()
    };
    let mut s = with(&[], rules);
    let events = [
        ev("a", "u", "d", 0),
        ev("b", "u", "d", 60),
        ev("c", "v", "d", 105),
        ev("d", "u", "d", 30),
    ];
    let out = feed(&mut s, 0, &events, &[]);
    let tombstones: Vec<&str> = out
        .iter()
        .filter(|o| matches!(o, Output::Tombstone { .. }))
        .filter_map(Output::session_id)
        .collect();
    assert_eq!(tombstones, ["u@60"]);
    let sessions = final_view(s, out);
    assert_eq!(sessions.iter().filter(|x| x.user_id == "u").count(), 1);
}

#[test]
fn gap_equal_to_session_gap_stays_and_exclusive_gap_splits_it() {
    let events = [ev("a", "u", "d", 0), ev("b", "u", "d", 100)];
    let mut s = with(&[], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out).len(), 1);
    let mut s = with(&[Defect::ExclusiveGap], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out).len(), 2);
}

#[test]
fn duplicates_are_dropped_and_no_dedup_counts_them() {
    let events = [
        ev("a", "u", "d", 0),
        ev("b", "u", "d", 10),
        ev("a", "u", "d", 0),
    ];
    let mut s = with(&[], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(s.stats().duplicates, 1);
    assert_eq!(final_view(s, out)[0].event_count, 2);
    let mut s = with(&[Defect::NoDedup], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out)[0].event_count, 3);
}

#[test]
fn lateness_beyond_allowed_drops_and_drop_late_drops_any_reordering() {
    let events = [
        ev("a", "u", "d", 100),
        ev("b", "u", "d", 50),
        ev("c", "u", "d", 49),
    ];
    let mut s = with(&[], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(
        (s.stats().admitted, s.stats().late),
        (2, 1),
        "lateness 50 admitted, 51 not"
    );
    assert_eq!(final_view(s, out)[0].session_start, 50);
    let mut s = with(&[Defect::DropLate], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out)[0].session_start, 100);
}

#[test]
fn poison_becomes_a_dead_letter_with_its_reason() {
    let mut s = with(&[], rules());
    let mut out = Vec::new();
    let input = Input {
        partition: 3,
        offset: 9,
        payload: Some(b"{oops"),
        timestamp_ms: None,
    };
    s.push(input, &mut out);
    let [Output::DeadLetter(letter)] = out.as_slice() else {
        panic!("expected one dead letter, got {out:?}")
    };
    assert_eq!((letter.partition, letter.offset), (3, 9));
    assert_eq!(letter.reason.kind.as_str(), "invalid-json");
    assert_eq!(letter.payload, b"{oops");
}

#[test]
fn processing_time_sessions_on_arrival() {
    let events = [ev("a", "u", "d", 0), ev("b", "u", "d", 500)];
    let mut s = with(&[Defect::ProcessingTime], rules());
    let out = feed(&mut s, 0, &events, &[1000, 1010]);
    let sessions = final_view(s, out);
    assert_eq!((sessions.len(), sessions[0].session_start), (1, 1000));
}

#[test]
fn single_device_splits_cross_device_sessions() {
    let events = [ev("a", "u", "phone", 0), ev("b", "u", "tv", 20)];
    let mut s = with(&[], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out).len(), 1);
    let mut s = with(&[Defect::SingleDevice], rules());
    let out = feed(&mut s, 0, &events, &[]);
    assert_eq!(final_view(s, out).len(), 2);
}

#[test]
fn checkpoint_is_the_oldest_record_open_state_needs() {
    let mut s = with(&[], rules());
    let events = [
        ev("a", "u", "d", 0),
        ev("b", "v", "d", 120),
        ev("c", "w", "d", 160),
    ];
    feed(&mut s, 0, &events, &[]);
    let checkpoint = s.checkpoint(0).unwrap();
    assert_eq!(
        (checkpoint.offset, checkpoint.stream_time),
        (1, Some(0)),
        "u is evicted"
    );
    assert_eq!(checkpoint.resume_offset, 3);
    let mut s = with(&[Defect::LoseStateOnRestart], rules());
    feed(&mut s, 0, &events, &[]);
    assert_eq!(s.checkpoint(0), Some(Checkpoint::fresh(3)));
}

/// Regression: a restart must resume with the stream time from before the
/// oldest needed record (`c1`, read at stream time 1000), or an event that
/// was too late the first time (`y0`, 55 behind) is admitted on replay and
/// moves the start of `y`'s session.
#[test]
fn restart_restores_stream_time_before_the_oldest_needed_record() {
    let mut events = vec![
        ev("a", "a", "d", 1000),
        ev("c1", "c", "d", 955),
        ev("y0", "y", "d", 945),
    ];
    for (i, time) in [1040, 1130, 1200].into_iter().enumerate() {
        events.push(ev(&format!("c{}", i + 2), "c", "d", time));
        events.push(ev(&format!("y{}", i + 1), "y", "d", time));
    }
    events.push(ev("z", "z", "d", 1500));
    let commit = events.len() - 1;
    let mut first = with(&[], rules());
    let mut out = feed(&mut first, 0, &events[..commit], &[]);
    let checkpoint = first.checkpoint(0).unwrap();
    assert_eq!((checkpoint.offset, checkpoint.stream_time), (1, Some(1000)));

    let mut second = with(&[], rules());
    second.resume(0, checkpoint);
    out.extend(feed(&mut second, 1, &events[1..], &[]));
    let sessions = final_view(second, out);
    let y: Vec<i64> = sessions
        .iter()
        .filter(|s| s.user_id == "y")
        .map(|s| s.session_start)
        .collect();
    assert_eq!(y, [1040]);
}
