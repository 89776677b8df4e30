//! Recovery time after a fault, from the run's per-second timelines. Pure.
//!
//! A run has recovered at the first second `s`, at or after the second the
//! fault ended in, from which, for `hold` seconds without a break:
//! - the lag p99 of the sessions due in each second is at most the bound
//!   (a second with nothing due passes: nothing was late), and
//! - the output rate averaged over those seconds is at least `output_rate`
//!   times the pre-fault output rate.
//!
//! Recovery time is `start of s - end of the fault`, at least 0, so it has
//! a resolution of one second. The search stops at the end of the load:
//! after it, the output rate falls for lack of input and says nothing
//! about recovery; a run not recovered by then has no recovery time.

/// What recovered means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Lag p99 bound, ms.
    pub lag_ms: f64,
    /// Share of the pre-fault output rate.
    pub output_share: f64,
    /// Seconds both must hold.
    pub hold_s: usize,
}

/// The per-second series recovery reads, bucket 0 = the run's start.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Output records per second.
    pub output: &'a [Option<f64>],
    /// Lag p99 of the sessions due in each second, ms.
    pub lag_p99: &'a [Option<f64>],
}

/// Why there is no recovery time.
#[derive(Debug, Clone, PartialEq)]
pub enum NotRecovered {
    /// Both conditions never held together for `hold` seconds before the
    /// end of the load.
    NotWithinBounds,
    /// The fault ended too close to the end of the load to watch `hold`
    /// seconds after it.
    NoTimeLeft,
}

impl NotRecovered {
    /// A sentence for the report.
    pub fn note(&self, bounds: &Bounds) -> String {
        match self {
            NotRecovered::NotWithinBounds => format!(
                "lag p99 and output rate were not back within bounds (lag p99 <= {} ms, \
                 output >= {:.0}% of the pre-fault rate, {} s in a row) before the load ended",
                bounds.lag_ms,
                bounds.output_share * 100.0,
                bounds.hold_s
            ),
            NotRecovered::NoTimeLeft => format!(
                "the fault ended less than {} s before the load did: recovery cannot be judged",
                bounds.hold_s
            ),
        }
    }
}

/// Mean of the known values of `values[from..to]`, `None` when there are
/// none (a missing value counts as 0 for counters: pass them as `Some(0)`).
pub fn mean(values: &[Option<f64>], from: usize, to: usize) -> Option<f64> {
    let to = to.min(values.len());
    let known: Vec<f64> = values.get(from..to)?.iter().flatten().copied().collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// The pre-fault output rate: mean output per second from the first second
/// with output up to (not including) the fault's first second. 0 when no
/// output came before the fault.
pub fn baseline_output(output: &[Option<f64>], load_start_s: usize, fault_start_s: usize) -> f64 {
    let first = (load_start_s..fault_start_s.min(output.len()))
        .find(|&s| output[s].is_some_and(|v| v > 0.0));
    match first {
        Some(first) => mean(output, first, fault_start_s).unwrap_or(0.0),
        None => 0.0,
    }
}

/// Recovery time in ms after a fault that ended at `fault_end_ms` (ms from
/// the run's start), judging seconds up to `load_end_ms` (exclusive).
pub fn recovery_ms(
    series: Series<'_>,
    fault_end_ms: i64,
    load_end_ms: i64,
    baseline: f64,
    bounds: &Bounds,
) -> Result<u64, NotRecovered> {
    let hold = bounds.hold_s.max(1);
    let first = (fault_end_ms.max(0) / 1_000) as usize;
    let end = ((load_end_ms.max(0) / 1_000) as usize).min(series.output.len());
    if first + hold > end {
        return Err(NotRecovered::NoTimeLeft);
    }
    let wanted = baseline * bounds.output_share;
    let lag_ok = |s: usize| {
        series
            .lag_p99
            .get(s)
            .copied()
            .flatten()
            .map_or(true, |lag| lag <= bounds.lag_ms)
    };
    for s in first..=end - hold {
        let lags_ok = (s..s + hold).all(lag_ok);
        let output = mean(series.output, s, s + hold).unwrap_or(0.0);
        if lags_ok && output >= wanted {
            let at = s as i64 * 1_000;
            return Ok((at - fault_end_ms).max(0) as u64);
        }
    }
    Err(NotRecovered::NotWithinBounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        lag_ms: 1_000.0,
        output_share: 0.5,
        hold_s: 3,
    };

    fn some(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    #[test]
    fn recovery_is_the_first_second_both_hold_for_the_hold_period() {
        // Output 10/s, nothing during the fault (seconds 4-6), a catch-up
        // burst, lag high for sessions due in seconds 4 to 8.
        let output = some(&[
            0., 10., 10., 10., 0., 0., 0., 30., 12., 10., 10., 10., 10., 10.,
        ]);
        let mut lag = vec![Some(200.0); 14];
        for l in &mut lag[4..9] {
            *l = Some(4_000.0);
        }
        lag[0] = None;
        let series = Series {
            output: &output,
            lag_p99: &lag,
        };
        let base = baseline_output(&output, 0, 4);
        assert_eq!(base, 10.0);
        // The fault ended at 6.5 s; second 9 is the first of three good ones.
        assert_eq!(recovery_ms(series, 6_500, 14_000, base, &BOUNDS), Ok(2_500));
    }

    #[test]
    fn a_run_already_within_bounds_recovers_at_once() {
        let output = some(&[10.; 10]);
        let lag = some(&[100.; 10]);
        let series = Series {
            output: &output,
            lag_p99: &lag,
        };
        assert_eq!(recovery_ms(series, 3_000, 10_000, 10.0, &BOUNDS), Ok(0));
        // A fault ending mid-second: recovered from the start of that
        // second, so 0 rather than negative.
        assert_eq!(recovery_ms(series, 3_400, 10_000, 10.0, &BOUNDS), Ok(0));
    }

    #[test]
    fn low_output_or_a_lag_spike_in_the_window_delays_recovery() {
        let output = some(&[10., 10., 10., 2., 2., 10., 10., 10., 10., 10.]);
        let mut lag = some(&[100.; 10]);
        lag[6] = Some(5_000.0);
        let series = Series {
            output: &output,
            lag_p99: &lag,
        };
        // Windows from 3, 4 average below 5/s or include second 6's lag;
        // 5 and 6 include second 6; from 7 on all holds.
        assert_eq!(recovery_ms(series, 3_000, 10_000, 10.0, &BOUNDS), Ok(4_000));
    }

    #[test]
    fn never_back_within_bounds_or_no_time_left_has_no_recovery_time() {
        let output = some(&[10., 10., 0., 0., 0., 0., 0., 0.]);
        let lag = vec![None; 8];
        let series = Series {
            output: &output,
            lag_p99: &lag,
        };
        assert_eq!(
            recovery_ms(series, 2_000, 8_000, 10.0, &BOUNDS),
            Err(NotRecovered::NotWithinBounds)
        );
        assert_eq!(
            recovery_ms(series, 6_000, 8_000, 10.0, &BOUNDS),
            Err(NotRecovered::NoTimeLeft)
        );
        assert!(NotRecovered::NoTimeLeft.note(&BOUNDS).contains("3 s"));
    }

    #[test]
    fn without_output_before_the_fault_only_lag_decides() {
        let output = some(&[0., 0., 0., 0., 0., 0.]);
        assert_eq!(baseline_output(&output, 0, 3), 0.0);
        let lag = some(&[100.; 6]);
        let series = Series {
            output: &output,
            lag_p99: &lag,
        };
        assert_eq!(recovery_ms(series, 1_000, 6_000, 0.0, &BOUNDS), Ok(0));
    }
}
