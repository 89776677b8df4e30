//! The harness clock: one monotonic clock for every time a run measures.
//!
//! Times are taken as `Instant`s and turned into epoch milliseconds by one
//! fixed offset read once at the start of the run, so two stamps never
//! disagree because the wall clock was adjusted in between, and lag never
//! subtracts times read from two different clocks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The run's clock: an `Instant` origin and the epoch time it stands for.
#[derive(Debug, Clone, Copy)]
pub struct HarnessClock {
    origin: Instant,
    origin_epoch_ms: i64,
}

impl HarnessClock {
    /// A clock whose origin is now.
    pub fn start() -> HarnessClock {
        let origin = Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        HarnessClock {
            origin,
            origin_epoch_ms: since_epoch.as_millis() as i64,
        }
    }

    /// The epoch ms of the origin.
    pub fn origin_ms(&self) -> i64 {
        self.origin_epoch_ms
    }

    /// `at` as epoch ms on this clock (an instant before the origin maps
    /// before the origin's epoch time).
    pub fn epoch_ms(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.origin) {
            Some(after) => self.origin_epoch_ms + after.as_millis() as i64,
            None => self.origin_epoch_ms - self.origin.duration_since(at).as_millis() as i64,
        }
    }

    /// Now, as epoch ms on this clock.
    pub fn now_ms(&self) -> i64 {
        self.epoch_ms(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_map_by_a_fixed_offset() {
        let clock = HarnessClock::start();
        let later = clock.origin + Duration::from_millis(1_500);
        assert_eq!(clock.epoch_ms(later) - clock.origin_ms(), 1_500);
        let earlier = clock.origin.checked_sub(Duration::from_millis(20));
        if let Some(earlier) = earlier {
            assert_eq!(clock.origin_ms() - clock.epoch_ms(earlier), 20);
        }
    }
}
