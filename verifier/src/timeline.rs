//! Per-second series over a run, all on one time axis: bucket `i` covers
//! `[start_ms + i * bucket_ms, start_ms + (i + 1) * bucket_ms)` of the
//! harness clock. Pure: callers pass times, nothing here reads a clock.
//!
//! Three kinds of series:
//! - [`Counter`]: things that happened in each bucket (events produced,
//!   sessions out, sessions closed);
//! - [`LagByBucket`]: a lag percentile of the sessions due in each bucket;
//! - [`Gauge`]: a sampled level (consumer-group lag), the last sample in
//!   each bucket.
//!
//! A bucket with nothing to say is `null` in a gauge or percentile series
//! and 0 in a counter.

use crate::lag::{lag_histogram, record_lag};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The time axis of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Start of bucket 0, epoch ms on the harness clock.
    pub start_ms: i64,
    /// Width of a bucket, ms (1000 for per-second series).
    pub bucket_ms: u64,
}

impl Axis {
    /// Per-second buckets from `start_ms`.
    pub fn per_second(start_ms: i64) -> Axis {
        Axis {
            start_ms,
            bucket_ms: 1_000,
        }
    }

    /// The bucket of `at_ms`; `None` before the start.
    pub fn bucket(&self, at_ms: i64) -> Option<usize> {
        let offset = at_ms.checked_sub(self.start_ms)?;
        (offset >= 0).then(|| (offset as u64 / self.bucket_ms.max(1)) as usize)
    }

    /// Buckets needed to cover up to `end_ms` (inclusive).
    pub fn buckets_until(&self, end_ms: i64) -> usize {
        self.bucket(end_ms).map_or(0, |b| b + 1)
    }
}

/// A count per bucket.
#[derive(Debug, Clone)]
pub struct Counter {
    axis: Axis,
    counts: Vec<u64>,
    before_start: u64,
}

impl Counter {
    /// An empty counter on `axis`.
    pub fn new(axis: Axis) -> Counter {
        Counter {
            axis,
            counts: Vec::new(),
            before_start: 0,
        }
    }

    /// Adds `n` at `at_ms`. Times before the axis start are counted apart.
    pub fn add(&mut self, at_ms: i64, n: u64) {
        match self.axis.bucket(at_ms) {
            Some(b) => {
                if self.counts.len() <= b {
                    self.counts.resize(b + 1, 0);
                }
                self.counts[b] += n;
            }
            None => self.before_start += n,
        }
    }

    /// Counts added before the axis start.
    pub fn before_start(&self) -> u64 {
        self.before_start
    }

    /// Sum over all buckets (and before the start).
    pub fn total(&self) -> u64 {
        self.before_start + self.counts.iter().sum::<u64>()
    }

    /// Counts per bucket, padded or cut to `len` buckets, scaled to a rate
    /// per second.
    pub fn per_second(&self, len: usize) -> Vec<Option<f64>> {
        let scale = 1_000.0 / self.axis.bucket_ms.max(1) as f64;
        (0..len)
            .map(|b| Some(self.counts.get(b).copied().unwrap_or(0) as f64 * scale))
            .collect()
    }
}

/// Lag of the sessions due in each bucket.
#[derive(Debug, Clone)]
pub struct LagByBucket {
    axis: Axis,
    buckets: BTreeMap<usize, Histogram<u64>>,
}

impl LagByBucket {
    /// Empty, on `axis`.
    pub fn new(axis: Axis) -> LagByBucket {
        LagByBucket {
            axis,
            buckets: BTreeMap::new(),
        }
    }

    /// Adds the lag of a session due at `due_ms`; a session due before the
    /// axis start goes in bucket 0.
    pub fn add(&mut self, due_ms: i64, lag_ms: u64) {
        let b = self.axis.bucket(due_ms).unwrap_or(0);
        record_lag(self.buckets.entry(b).or_insert_with(lag_histogram), lag_ms);
    }

    /// The `quantile` (0.99 for p99) of each bucket, `None` where no session
    /// was due, over `len` buckets.
    pub fn quantile(&self, quantile: f64, len: usize) -> Vec<Option<f64>> {
        (0..len)
            .map(|b| {
                self.buckets
                    .get(&b)
                    .map(|h| h.value_at_quantile(quantile) as f64)
            })
            .collect()
    }

    /// Sessions per bucket (sessions closed), as a rate per second.
    pub fn count_per_second(&self, len: usize) -> Vec<Option<f64>> {
        let scale = 1_000.0 / self.axis.bucket_ms.max(1) as f64;
        (0..len)
            .map(|b| Some(self.buckets.get(&b).map_or(0, |h| h.len()) as f64 * scale))
            .collect()
    }
}

/// A sampled level: the last sample in each bucket.
#[derive(Debug, Clone)]
pub struct Gauge {
    axis: Axis,
    last: BTreeMap<usize, f64>,
    max: Option<f64>,
}

impl Gauge {
    /// Empty, on `axis`.
    pub fn new(axis: Axis) -> Gauge {
        Gauge {
            axis,
            last: BTreeMap::new(),
            max: None,
        }
    }

    /// Takes a sample at `at_ms`; samples before the start are ignored.
    /// Samples must come in time order.
    pub fn sample(&mut self, at_ms: i64, value: f64) {
        if let Some(b) = self.axis.bucket(at_ms) {
            self.last.insert(b, value);
            self.max = Some(self.max.map_or(value, |m: f64| m.max(value)));
        }
    }

    /// The largest sample.
    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// The last sample taken, if any.
    pub fn last(&self) -> Option<f64> {
        self.last.values().next_back().copied()
    }

    /// The last sample of each bucket over `len` buckets, `None` where no
    /// sample fell.
    pub fn values(&self, len: usize) -> Vec<Option<f64>> {
        (0..len).map(|b| self.last.get(&b).copied()).collect()
    }
}

/// Named series on one axis, as they appear in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// The time axis.
    pub axis: Axis,
    /// Number of buckets in every series.
    pub buckets: usize,
    /// Series by name; each has `buckets` values, `null` where unknown.
    pub series: BTreeMap<String, Vec<Option<f64>>>,
}

impl Timeline {
    /// An empty timeline of `buckets` buckets.
    pub fn new(axis: Axis, buckets: usize) -> Timeline {
        Timeline {
            axis,
            buckets,
            series: BTreeMap::new(),
        }
    }

    /// Adds a series, padded with `None` or cut to the timeline's length.
    pub fn insert(&mut self, name: &str, mut values: Vec<Option<f64>>) {
        values.resize(self.buckets, None);
        self.series.insert(name.to_string(), values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_half_open_seconds_from_the_start() {
        let axis = Axis::per_second(10_000);
        assert_eq!(axis.bucket(9_999), None);
        assert_eq!(axis.bucket(10_000), Some(0));
        assert_eq!(axis.bucket(10_999), Some(0));
        assert_eq!(axis.bucket(11_000), Some(1));
        assert_eq!(axis.buckets_until(12_500), 3);
        assert_eq!(axis.buckets_until(0), 0);
    }

    #[test]
    fn counters_fill_gaps_with_zero_and_keep_early_counts_apart() {
        let mut c = Counter::new(Axis::per_second(0));
        c.add(100, 2);
        c.add(2_500, 3);
        c.add(-1, 7);
        assert_eq!(
            c.per_second(4),
            vec![Some(2.0), Some(0.0), Some(3.0), Some(0.0)]
        );
        assert_eq!((c.before_start(), c.total()), (7, 12));
    }

    #[test]
    fn a_counter_on_wider_buckets_reports_a_rate_per_second() {
        let mut c = Counter::new(Axis {
            start_ms: 0,
            bucket_ms: 2_000,
        });
        c.add(0, 10);
        assert_eq!(c.per_second(1), vec![Some(5.0)]);
    }

    #[test]
    fn lag_percentiles_are_per_bucket_and_null_where_nothing_was_due() {
        let mut l = LagByBucket::new(Axis::per_second(0));
        for lag in 1..=100 {
            l.add(500, lag);
        }
        l.add(2_100, 4_000);
        let p99 = l.quantile(0.99, 3);
        assert_eq!(p99[1], None);
        assert!((98.0..=100.0).contains(&p99[0].unwrap()), "{p99:?}");
        assert!((3_990.0..=4_010.0).contains(&p99[2].unwrap()), "{p99:?}");
        assert_eq!(
            l.count_per_second(3),
            vec![Some(100.0), Some(0.0), Some(1.0)]
        );
    }

    #[test]
    fn gauges_keep_the_last_sample_of_each_bucket() {
        let mut g = Gauge::new(Axis::per_second(0));
        g.sample(100, 5.0);
        g.sample(900, 3.0);
        g.sample(2_000, 1.0);
        assert_eq!(g.values(3), vec![Some(3.0), None, Some(1.0)]);
        assert_eq!((g.max(), g.last()), (Some(5.0), Some(1.0)));
    }

    #[test]
    fn a_timeline_pads_every_series_to_its_length() {
        let mut t = Timeline::new(Axis::per_second(0), 3);
        t.insert("a", vec![Some(1.0)]);
        t.insert("b", vec![Some(1.0); 5]);
        assert_eq!(t.series["a"], vec![Some(1.0), None, None]);
        assert_eq!(t.series["b"].len(), 3);
    }
}
