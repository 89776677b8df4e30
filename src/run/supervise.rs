//! Restarts the in-process reference pipeline when it stops on an error,
//! as a deployment's supervisor restarts a crashed job.
//!
//! The reference pipeline stops rather than skip an output it could not
//! deliver (it never commits past it). A fresh start resumes every
//! partition from its last committed checkpoint and re-sends the outputs
//! written since, each the same key with the same value, so a restart
//! loses nothing. The supervisor starts it again with the same consumer
//! group after [`RESTART_BACKOFF`], at most [`MAX_RESTARTS`] times per
//! run; the next failure is the run's error. A failure after the run asked
//! the pipeline to stop is never restarted: it is the run's error too.
//! Each restart is logged at warn and counted (`pipeline_restarts` in the
//! report).

use std::error::Error;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Restarts allowed per run; the failure after the last one ends the run.
pub const MAX_RESTARTS: u64 = 5;
/// Pause before a restart, so a broker that refuses writes for a moment
/// is not hammered by a pipeline failing at once again.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// How many times the supervisor restarted the pipeline, shared with the
/// report; the same counter across chaos restarts of the pipeline.
#[derive(Debug, Clone, Default)]
pub struct RestartCount(Arc<AtomicU64>);

impl RestartCount {
    /// Restarts so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one more; returns the new total.
    fn add(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Bounds of the supervisor.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// Restarts allowed.
    pub max_restarts: u64,
    /// Pause before each restart.
    pub backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: MAX_RESTARTS,
            backoff: RESTART_BACKOFF,
        }
    }
}

/// Completes when the run asks the pipeline to stop.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `attempt` until it returns `Ok`, starting it again (within
/// `policy`) each time it returns an error before `stop` fires. Each
/// attempt gets a shutdown future that completes when `stop` fires (or
/// its sender is dropped).
///
/// # Errors
///
/// The attempt's error when the restarts are used up, when it failed after
/// the stop, or when the stop came during the backoff.
///
/// # Cancel safety
///
/// Dropping it drops the running attempt: a crash of the pipeline.
pub async fn supervise<T, E, F, Fut>(
    mut attempt: F,
    mut stop: oneshot::Receiver<()>,
    policy: RestartPolicy,
    restarts: RestartCount,
) -> Result<T, E>
where
    E: Error,
    F: FnMut(ShutdownSignal) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let (stopping, stopped) = watch::channel(false);
    let mut stop_seen = false;
    let mut used = 0;
    loop {
        let run = attempt(shutdown_signal(stopped.clone()));
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = &mut stop, if !stop_seen => {
                    stop_seen = true;
                    stopping.send_replace(true);
                }
            }
        };
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) if stop_seen || used >= policy.max_restarts => return Err(error),
            Err(error) => error,
        };

        used += 1;
        let total = restarts.add();
        tracing::warn!(
            error = %chain(&error),
            restart = used,
            max_restarts = policy.max_restarts,
            backoff_ms = policy.backoff.as_millis() as u64,
            total,
            "the reference pipeline failed; restarting it from its last commit"
        );
        tokio::select! {
            () = tokio::time::sleep(policy.backoff) => {}
            _ = &mut stop => return Err(error),
        }
    }
}

/// A shutdown future for one attempt.
fn shutdown_signal(mut stopped: watch::Receiver<bool>) -> ShutdownSignal {
    Box::pin(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
}

/// `error: cause: cause`, for one log field.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[derive(Debug, thiserror::Error)]
    #[error("delivery failed")]
    struct Failed;

    fn quick(max_restarts: u64) -> RestartPolicy {
        RestartPolicy {
            max_restarts,
            backoff: Duration::from_millis(5),
        }
    }

    /// An attempt that fails its first `failures` times, then runs until
    /// shut down and returns how many attempts there were.
    fn flaky(failures: u32, attempts: Arc<AtomicU32>) -> impl FnMut(ShutdownSignal) -> Fut {
        move |shutdown| {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            Box::pin(async move {
                if n <= failures {
                    return Err(Failed);
                }
                shutdown.await;
                Ok(n)
            })
        }
    }

    type Fut = std::pin::Pin<Box<dyn Future<Output = Result<u32, Failed>> + Send>>;

    #[tokio::test]
    async fn a_failed_pipeline_is_started_again_and_stops_when_asked() {
        let (stop, stopped) = oneshot::channel();
        let attempts = Arc::new(AtomicU32::new(0));
        let restarts = RestartCount::default();
        let task = tokio::spawn(supervise(
            flaky(2, Arc::clone(&attempts)),
            stopped,
            quick(5),
            restarts.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!task.is_finished(), "the third attempt should be running");
        stop.send(()).unwrap();
        assert_eq!(task.await.unwrap().unwrap(), 3);
        assert_eq!(restarts.get(), 2);
    }

    #[tokio::test]
    async fn restarts_are_bounded() {
        let (_stop, stopped) = oneshot::channel();
        let attempts = Arc::new(AtomicU32::new(0));
        let restarts = RestartCount::default();
        let result = supervise(
            flaky(u32::MAX, Arc::clone(&attempts)),
            stopped,
            quick(3),
            restarts.clone(),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(
            attempts.load(Ordering::Relaxed),
            4,
            "first run and 3 restarts"
        );
        assert_eq!(restarts.get(), 3);
    }

    #[tokio::test]
    async fn a_failure_after_the_stop_is_not_restarted() {
        let (stop, stopped) = oneshot::channel();
        let attempts = Arc::new(AtomicU32::new(0));
        let restarts = RestartCount::default();
        let counter = Arc::clone(&attempts);
        let attempt = move |shutdown: ShutdownSignal| {
            counter.fetch_add(1, Ordering::Relaxed);
            async move {
                shutdown.await;
                Err::<(), _>(Failed)
            }
        };
        let task = tokio::spawn(supervise(attempt, stopped, quick(5), restarts.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.send(()).unwrap();
        assert!(task.await.unwrap().is_err());
        assert_eq!(attempts.load(Ordering::Relaxed), 1);
        assert_eq!(restarts.get(), 0);
    }
}
