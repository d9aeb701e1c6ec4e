//! Runs a [`Probe`] in its own task, so the driver's `select!` loop only deals
//! with channels.
//!
//! ```text
//! let (results_tx, mut results) = mpsc::channel(16);
//! let icmp = runner::spawn(PathKey::Icmp, target, results_tx.clone());
//! icmp.start(attempt, Duration::from_millis(100))?;   // never blocks
//! // later, in select!:  Some(done) = results.recv() => done.key, done.attempt, done.outcome
//! ```
//!
//! The task runs one attempt at a time (rule `attempt-window`: at most one
//! attempt in flight per path); [`ProbeHandle::start`] refuses a second one with
//! [`StartError::Busy`] rather than queueing it. Dropping the handle ends the
//! task after its current attempt.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use twinbeat_core::AttemptId;

use super::Probe;

/// A finished attempt, as sent to the driver.
#[derive(Debug)]
pub(crate) struct Completed<K, O> {
    /// The key given to [`spawn`] (which path this is).
    pub key: K,
    /// The attempt given to [`ProbeHandle::start`]: the engine's id, unchanged.
    pub attempt: AttemptId,
    /// What the probe reported.
    pub outcome: O,
}

/// Why [`ProbeHandle::start`] did not start an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StartError {
    /// An attempt is already in flight.
    #[error("an attempt is already in flight")]
    Busy,
    /// The probe task has ended (its result channel was closed).
    #[error("the probe task has ended")]
    Closed,
}

/// Starts attempts on a probe running in its own task.
#[derive(Debug)]
pub(crate) struct ProbeHandle {
    requests: mpsc::Sender<(AttemptId, Duration)>,
    in_flight: Arc<AtomicBool>,
}

impl ProbeHandle {
    /// Starts `attempt`, bounded by `timeout`; its result arrives on the channel
    /// given to [`spawn`].
    pub(crate) fn start(&self, attempt: AttemptId, timeout: Duration) -> Result<(), StartError> {
        if self.in_flight.swap(true, Ordering::AcqRel) {
            return Err(StartError::Busy);
        }
        self.requests
            .try_send((attempt, timeout))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => StartError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    self.in_flight.store(false, Ordering::Release);
                    StartError::Closed
                }
            })
    }

    /// True while an attempt is running (from [`ProbeHandle::start`] until its
    /// result has been handed to the channel); the tests watch it.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// Moves `probe` into a new task that runs the attempts the returned handle
/// starts and sends each result, tagged with `key`, to `results`.
pub(crate) fn spawn<K, P>(
    key: K,
    mut probe: P,
    results: mpsc::Sender<Completed<K, P::Outcome>>,
) -> ProbeHandle
where
    K: Clone + Send + 'static,
    P: Probe,
{
    let (requests, mut incoming) = mpsc::channel::<(AttemptId, Duration)>(1);
    let in_flight = Arc::new(AtomicBool::new(false));
    let busy = in_flight.clone();
    tokio::spawn(async move {
        while let Some((attempt, timeout)) = incoming.recv().await {
            let outcome = probe.attempt(timeout).await;
            let done = Completed {
                key: key.clone(),
                attempt,
                outcome,
            };
            // Cleared before the send so a driver reacting to this result can
            // start the next attempt at once.
            busy.store(false, Ordering::Release);
            if results.send(done).await.is_err() {
                break;
            }
        }
    });
    ProbeHandle {
        requests,
        in_flight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers each attempt with its own timeout, after a gate opens, so the
    /// test controls when an attempt is "in flight".
    struct Gated {
        gate: mpsc::Receiver<()>,
    }

    impl Probe for Gated {
        type Outcome = Duration;

        async fn attempt(&mut self, timeout: Duration) -> Duration {
            let _ = self.gate.recv().await;
            timeout
        }
    }

    #[tokio::test]
    async fn one_attempt_at_a_time_and_results_carry_key_and_number() {
        let (open_gate, gate) = mpsc::channel(4);
        let (results_tx, mut results) = mpsc::channel(4);
        let handle = spawn("icmp", Gated { gate }, results_tx);

        handle
            .start(AttemptId(7), Duration::from_millis(5))
            .expect("idle");
        assert!(handle.in_flight());
        assert_eq!(
            handle.start(AttemptId(8), Duration::from_millis(5)),
            Err(StartError::Busy)
        );

        open_gate.send(()).await.expect("gate");
        let done = results.recv().await.expect("result");
        assert_eq!(
            (done.key, done.attempt, done.outcome),
            ("icmp", AttemptId(7), Duration::from_millis(5))
        );
        assert!(!handle.in_flight());

        handle
            .start(AttemptId(9), Duration::from_millis(6))
            .expect("idle again");
        open_gate.send(()).await.expect("gate");
        let done = results.recv().await.expect("result");
        assert_eq!(
            (done.attempt, done.outcome),
            (AttemptId(9), Duration::from_millis(6))
        );
    }

    #[tokio::test]
    async fn a_dropped_result_channel_closes_the_handle() {
        let (open_gate, gate) = mpsc::channel(4);
        let (results_tx, results) = mpsc::channel(4);
        let handle = spawn(0u8, Gated { gate }, results_tx);
        drop(results);
        handle.start(AttemptId(1), Duration::ZERO).expect("idle");
        open_gate.send(()).await.expect("gate");
        // The task ends once it cannot deliver; a later start sees it closed.
        let mut closed = false;
        for _ in 0..1000 {
            tokio::task::yield_now().await;
            if handle.start(AttemptId(2), Duration::ZERO) == Err(StartError::Closed) {
                closed = true;
                break;
            }
        }
        assert!(closed);
    }
}
