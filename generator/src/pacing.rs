//! Pacing on an absolute schedule: a record is due at `start + (send_time -
//! sim_start) / time_scale`, computed from the run's start every time and
//! never from the previous send. A stall therefore shows up as lag on every
//! record behind it instead of silently stretching the schedule (no
//! coordinated omission). Lag is measured from the intended time.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// Paces records to wall time and measures schedule lag.
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    sim_start: i64,
    time_scale: f64,
    miss_threshold: Duration,
    lag_us: Histogram<u64>,
    misses: u64,
}

/// What pacing measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PacingSummary {
    /// Records paced.
    pub records: u64,
    /// Schedule lag (actual minus intended send), microseconds.
    pub lag_p50_us: u64,
    /// 99th percentile of lag.
    pub lag_p99_us: u64,
    /// 99.9th percentile of lag.
    pub lag_p999_us: u64,
    /// Largest lag.
    pub lag_max_us: u64,
    /// Records sent later than the miss threshold.
    pub misses: u64,
    /// The miss threshold, microseconds.
    pub miss_threshold_us: u64,
}

impl Pacer {
    /// A pacer whose schedule starts now.
    pub fn new(sim_start: i64, time_scale: f64, miss_threshold: Duration) -> Self {
        Pacer {
            start: Instant::now(),
            sim_start,
            time_scale,
            miss_threshold,
            lag_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds"),
            misses: 0,
        }
    }

    /// The wall instant a record with `send_time` is due.
    pub fn due(&self, send_time: i64) -> Instant {
        let sim_ms = (send_time - self.sim_start).max(0) as f64;
        self.start + Duration::from_secs_f64(sim_ms / 1000.0 / self.time_scale)
    }

    /// Sleeps until `send_time` is due, then records the lag.
    pub fn wait(&mut self, send_time: i64) {
        let due = self.due(send_time);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let lag = Instant::now().saturating_duration_since(due);
        if lag > self.miss_threshold {
            self.misses += 1;
        }
        let us = (lag.as_micros() as u64).clamp(1, 3_600_000_000);
        self.lag_us.saturating_record(us);
    }

    /// The summary so far.
    pub fn summary(&self) -> PacingSummary {
        let h = &self.lag_us;
        PacingSummary {
            records: h.len(),
            lag_p50_us: h.value_at_quantile(0.5),
            lag_p99_us: h.value_at_quantile(0.99),
            lag_p999_us: h.value_at_quantile(0.999),
            lag_max_us: h.max(),
            misses: self.misses,
            miss_threshold_us: self.miss_threshold.as_micros() as u64,
        }
    }
}

/// A ceiling on records per second (`load.max_rate`): a token bucket with
/// one second of burst. It holds back a sender that is ahead of the
/// ceiling; it never speeds one up.
#[derive(Debug)]
pub struct RateCap {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
    waits: u64,
}

impl RateCap {
    /// A cap of `per_second` records per second (at least 1).
    pub fn new(per_second: f64) -> Self {
        let n = NonZeroU32::new(per_second.clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let clock = DefaultClock::default();
        RateCap {
            limiter: RateLimiter::direct_with_clock(Quota::per_second(n), clock.clone()),
            clock,
            waits: 0,
        }
    }

    /// Blocks until one more record fits under the ceiling.
    pub fn wait(&mut self) {
        while let Err(not_until) = self.limiter.check() {
            self.waits += 1;
            std::thread::sleep(not_until.wait_time_from(self.clock.now()));
        }
    }

    /// How often a record had to wait for the ceiling.
    pub fn waits(&self) -> u64 {
        self.waits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_absolute_and_compressed() {
        let pacer = Pacer::new(1_000, 60.0, Duration::from_millis(10));
        // One simulated minute after start is due one wall second after.
        let d = pacer.due(61_000) - pacer.due(1_000);
        assert_eq!(d, Duration::from_secs(1));
    }

    #[test]
    fn the_cap_holds_a_fast_sender_to_its_rate() {
        let mut cap = RateCap::new(200.0);
        let start = Instant::now();
        // One second of burst (200) passes at once; the next 50 need about
        // 50 / 200 s more.
        for _ in 0..250 {
            cap.wait();
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(cap.waits() > 0);
    }

    #[test]
    fn a_stall_counts_as_misses_for_records_behind_it() {
        let mut pacer = Pacer::new(0, 1000.0, Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(30));
        // Due at 0 and 1 ms wall: both already 25+ ms late.
        pacer.wait(0);
        pacer.wait(1000);
        let s = pacer.summary();
        assert_eq!(s.misses, 2);
        assert!(s.lag_p50_us >= 25_000, "{s:?}");
    }
}
