//! One slot per probed path: the probe task's handle, the attempt the engine waits
//! for, and at most one attempt queued behind a probe still finishing a late one.

use std::time::Duration;

use tokio::time::Instant;
use twinbeat_core::AttemptId;

use crate::probe::runner::{ProbeHandle, StartError};

/// What became of a start request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// Running; the result comes on the probe's channel.
    Running,
    /// Queued behind an attempt the engine already gave up on.
    Queued,
    /// Cannot run (no probe, task gone): the attempt fails now.
    Failed,
}

/// A probed path.
#[derive(Debug)]
pub(crate) struct Slot {
    handle: Option<ProbeHandle>,
    timeout: Duration,
    queued: Option<(AttemptId, Instant)>,
}

impl Slot {
    /// A slot for `handle` (`None`: the probe could not be set up, every attempt fails).
    pub(crate) fn new(handle: Option<ProbeHandle>, timeout: Duration) -> Self {
        Slot {
            handle,
            timeout,
            queued: None,
        }
    }

    /// Starts attempt `id` with the path's timeout. The engine owns the attempt's
    /// window; a probe still busy with an earlier (abandoned) attempt gets this one
    /// queued with what is left of its window.
    pub(crate) fn start(&mut self, id: AttemptId, now: Instant) -> Started {
        let Some(handle) = &self.handle else {
            return Started::Failed;
        };
        match handle.start(u64::from(id.0), self.timeout) {
            Ok(()) => Started::Running,
            Err(StartError::Busy) => {
                // A newer request supersedes an older queued one: the engine has
                // concluded that attempt already.
                self.queued = Some((id, now + self.timeout));
                Started::Queued
            }
            Err(StartError::Closed) => Started::Failed,
        }
    }

    /// After a result came back: starts the queued attempt, if any. Returns an
    /// attempt that must fail now (its window is over, or the probe is gone).
    pub(crate) fn finished(&mut self, now: Instant) -> Option<AttemptId> {
        let (id, deadline) = self.queued.take()?;
        let left = deadline.saturating_duration_since(now);
        let Some(handle) = &self.handle else {
            return Some(id);
        };
        if left.is_zero() {
            return Some(id);
        }
        match handle.start(u64::from(id.0), left) {
            Ok(()) => None,
            Err(StartError::Busy) => {
                self.queued = Some((id, deadline));
                None
            }
            Err(StartError::Closed) => Some(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::runner;
    use crate::probe::Probe;

    /// A probe whose attempts take a while and report their timeout.
    struct Slow;

    impl Probe for Slow {
        type Outcome = Duration;
        async fn attempt(&mut self, timeout: Duration) -> Duration {
            tokio::time::sleep(Duration::from_millis(20)).await;
            timeout
        }
    }

    #[tokio::test]
    async fn a_request_behind_a_late_attempt_is_queued_then_run() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let handle = runner::spawn((), Slow, tx);
        let mut slot = Slot::new(Some(handle), Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(slot.start(AttemptId(1), now), Started::Running);
        assert_eq!(slot.start(AttemptId(2), now), Started::Queued);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.attempt, 1);
        assert_eq!(slot.finished(Instant::now()), None);
        let second = rx.recv().await.unwrap();
        assert_eq!(second.attempt, 2);
        // It ran with what was left of its own window, not a fresh one.
        assert!(second.outcome <= Duration::from_secs(5));
        assert_eq!(slot.finished(Instant::now()), None);
    }

    #[test]
    fn without_a_probe_every_attempt_fails_at_once() {
        let mut slot = Slot::new(None, Duration::from_secs(1));
        assert_eq!(slot.start(AttemptId(1), Instant::now()), Started::Failed);
    }

    #[tokio::test]
    async fn a_queued_attempt_whose_window_is_over_fails() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let mut slot = Slot::new(Some(runner::spawn((), Slow, tx)), Duration::from_millis(1));
        let now = Instant::now();
        assert_eq!(slot.start(AttemptId(1), now), Started::Running);
        assert_eq!(slot.start(AttemptId(2), now), Started::Queued);
        rx.recv().await.unwrap();
        // The first attempt took 20 ms; the second's 1 ms window is long over.
        assert_eq!(
            slot.finished(now + Duration::from_secs(1)),
            Some(AttemptId(2))
        );
    }
}
