//! Waiting for the pipeline's last output: ends on quiescence or a
//! deadline, never on an empty topic.
//!
//! After the flush records are written, the run waits until
//! - no new output record has arrived for the quiet period, and the
//!   pipeline has processed every event (when that is known: the reference
//!   pipeline in this process reports its offsets): **quiescent**; or
//! - the deadline has passed since the flush: **deadline**. Sessions still
//!   missing then are reported missing.

use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the waiter looks at the counters.
const TICK: Duration = Duration::from_millis(100);

/// When waiting ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// No new output for this long (after the flush) ends the wait.
    pub quiet: Duration,
    /// The wait never lasts longer than this after the flush.
    pub deadline: Duration,
}

/// Why the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitEnd {
    /// Output stopped arriving and the pipeline had consumed everything.
    Quiescent,
    /// The deadline passed first.
    Deadline,
}

/// The waiting state, fed with the output count and consumer lag.
#[derive(Debug, Clone)]
pub struct Waiter {
    policy: WaitPolicy,
    started: Instant,
    last_change: Instant,
    last_count: u64,
}

impl Waiter {
    /// Starts waiting at `now` with `count` output records seen so far.
    pub fn new(policy: WaitPolicy, now: Instant, count: u64) -> Waiter {
        Waiter {
            policy,
            started: now,
            last_change: now,
            last_count: count,
        }
    }

    /// Looks at the output count and the consumer lag at `now` (`None` when
    /// the lag is unknown: then quiet alone decides). Returns why the wait
    /// ends, or `None` to go on.
    pub fn check(
        &mut self,
        now: Instant,
        count: u64,
        consumer_lag: Option<i64>,
    ) -> Option<WaitEnd> {
        if count != self.last_count {
            self.last_count = count;
            self.last_change = now;
        }
        if now.duration_since(self.started) >= self.policy.deadline {
            return Some(WaitEnd::Deadline);
        }
        let quiet = now.duration_since(self.last_change) >= self.policy.quiet;
        let caught_up = consumer_lag.map_or(true, |lag| lag <= 0);
        (quiet && caught_up).then_some(WaitEnd::Quiescent)
    }
}

/// Shared counters the waiter reads: output records seen, and the last
/// sampled consumer-group lag (`-1` when unknown).
#[derive(Debug)]
pub struct Signals {
    /// Output records seen by the tail.
    pub outputs: AtomicU64,
    /// Last consumer-group lag on the events topic; `-1` when unknown.
    pub consumer_lag: AtomicI64,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            outputs: AtomicU64::new(0),
            consumer_lag: AtomicI64::new(-1),
        }
    }
}

impl Signals {
    fn lag(&self) -> Option<i64> {
        let lag = self.consumer_lag.load(Ordering::Relaxed);
        (lag >= 0).then_some(lag)
    }
}

/// Waits as [`Waiter`] decides, reading `signals`.
///
/// # Cancel safety
///
/// Cancel safe: it only reads counters and sleeps.
pub async fn wait_for_output(policy: WaitPolicy, signals: &Signals) -> (WaitEnd, Duration) {
    let started = Instant::now();
    let mut waiter = Waiter::new(policy, started, signals.outputs.load(Ordering::Relaxed));
    loop {
        tokio::time::sleep(TICK).await;
        let now = Instant::now();
        let count = signals.outputs.load(Ordering::Relaxed);
        if let Some(end) = waiter.check(now, count, signals.lag()) {
            return (end, now.duration_since(started));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: WaitPolicy = WaitPolicy {
        quiet: Duration::from_secs(2),
        deadline: Duration::from_secs(10),
    };

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn ends_quiescent_after_the_quiet_period_without_new_output() {
        let t0 = Instant::now();
        let mut w = Waiter::new(POLICY, t0, 5);
        assert_eq!(w.check(at(t0, 1_000), 6, None), None);
        assert_eq!(
            w.check(at(t0, 2_500), 6, None),
            None,
            "quiet since 1 s only"
        );
        assert_eq!(w.check(at(t0, 3_000), 6, None), Some(WaitEnd::Quiescent));
    }

    #[test]
    fn a_pipeline_still_behind_is_not_quiescent() {
        let t0 = Instant::now();
        let mut w = Waiter::new(POLICY, t0, 0);
        assert_eq!(w.check(at(t0, 5_000), 0, Some(120)), None);
        assert_eq!(w.check(at(t0, 5_100), 0, Some(0)), Some(WaitEnd::Quiescent));
    }

    #[test]
    fn the_deadline_ends_a_wait_that_never_goes_quiet() {
        let t0 = Instant::now();
        let mut w = Waiter::new(POLICY, t0, 0);
        for (i, ms) in (0..10_000).step_by(500).enumerate() {
            assert_eq!(w.check(at(t0, ms), i as u64 + 1, None), None);
        }
        assert_eq!(w.check(at(t0, 10_000), 99, None), Some(WaitEnd::Deadline));
    }

    #[tokio::test]
    async fn the_async_wait_ends_on_an_empty_topic() {
        let policy = WaitPolicy {
            quiet: Duration::from_millis(300),
            deadline: Duration::from_secs(5),
        };
        let signals = Signals::default();
        let (end, waited) = wait_for_output(policy, &signals).await;
        assert_eq!(end, WaitEnd::Quiescent);
        assert!(
            waited >= policy.quiet && waited < policy.deadline,
            "{waited:?}"
        );
    }
}
