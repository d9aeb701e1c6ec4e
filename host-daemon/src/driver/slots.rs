//! The probed paths' slots, one table indexed by path. A slot holds the probe task's
//! handle and at most one attempt queued behind a probe still finishing a late one.
//! Each attempt's window comes with it in `Action::Probe` (rule `attempt-window`): a
//! slot knows no timeout of its own.

use tokio::time::Instant;
use twinbeat_core::{AttemptId, PathId};

use crate::probe::runner::{ProbeHandle, StartError};

/// What became of a start request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// Running; the result comes on the probe's channel.
    Running,
    /// Queued behind an attempt the engine already gave up on.
    Queued,
    /// Cannot run (no probe, task gone, window over): the attempt fails now.
    Failed,
}

/// A probed path.
#[derive(Debug)]
pub(crate) struct Slot {
    handle: Option<ProbeHandle>,
    /// An attempt waiting for the probe, and the end of its window.
    queued: Option<(AttemptId, Instant)>,
}

impl Slot {
    /// A slot for `handle` (`None`: the probe could not be set up, every attempt fails).
    pub(crate) fn new(handle: Option<ProbeHandle>) -> Self {
        Slot {
            handle,
            queued: None,
        }
    }

    /// Starts attempt `id`, whose window ends at `deadline`. The engine owns the
    /// window; a probe still busy with an earlier (abandoned) attempt gets this one
    /// queued with what is left of its window.
    pub(crate) fn start(&mut self, id: AttemptId, deadline: Instant, now: Instant) -> Started {
        self.run(id, deadline, now)
    }

    /// After a result came back: starts the queued attempt, if any. Returns an
    /// attempt that must fail now (its window is over, or the probe is gone).
    pub(crate) fn finished(&mut self, now: Instant) -> Option<AttemptId> {
        let (id, deadline) = self.queued.take()?;
        (self.run(id, deadline, now) == Started::Failed).then_some(id)
    }

    /// Hands attempt `id` to the probe with what is left of its window, or queues it
    /// while the probe is busy.
    fn run(&mut self, id: AttemptId, deadline: Instant, now: Instant) -> Started {
        let Some(handle) = &self.handle else {
            return Started::Failed;
        };
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Started::Failed;
        }
        match handle.start(id, left) {
            Ok(()) => Started::Running,
            Err(StartError::Busy) => {
                // A newer request supersedes an older queued one: the engine has
                // concluded that attempt already.
                self.queued = Some((id, deadline));
                Started::Queued
            }
            Err(StartError::Closed) => Started::Failed,
        }
    }
}

/// One slot per probed path, at `PathId as usize`. The serial path has none: its
/// attempts are frames (`Action::SendPing`), which the serial link sends.
#[derive(Debug, Default)]
pub(crate) struct Slots([Option<Slot>; PathId::ALL.len()]);

impl Slots {
    /// Gives `path` its slot.
    pub(crate) fn insert(&mut self, path: PathId, slot: Slot) {
        self.0[path as usize] = Some(slot);
    }

    /// The slot of `path`; `None` for a path that is never probed.
    pub(crate) fn get_mut(&mut self, path: PathId) -> Option<&mut Slot> {
        self.0[path as usize].as_mut()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let mut slot = Slot::new(Some(handle));
        let now = Instant::now();
        let deadline = now + Duration::from_secs(5);
        assert_eq!(slot.start(AttemptId(1), deadline, now), Started::Running);
        assert_eq!(slot.start(AttemptId(2), deadline, now), Started::Queued);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.attempt, AttemptId(1));
        assert_eq!(slot.finished(Instant::now()), None);
        let second = rx.recv().await.unwrap();
        assert_eq!(second.attempt, AttemptId(2));
        // It ran with what was left of its own window, not a fresh one.
        assert!(second.outcome <= Duration::from_secs(5));
        assert_eq!(slot.finished(Instant::now()), None);
    }

    #[test]
    fn without_a_probe_every_attempt_fails_at_once() {
        let mut slot = Slot::new(None);
        let now = Instant::now();
        assert_eq!(
            slot.start(AttemptId(1), now + Duration::from_secs(1), now),
            Started::Failed
        );
    }

    #[tokio::test]
    async fn a_queued_attempt_whose_window_is_over_fails() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let mut slot = Slot::new(Some(runner::spawn((), Slow, tx)));
        let now = Instant::now();
        let deadline = now + Duration::from_millis(1);
        assert_eq!(slot.start(AttemptId(1), deadline, now), Started::Running);
        assert_eq!(slot.start(AttemptId(2), deadline, now), Started::Queued);
        rx.recv().await.unwrap();
        // The first attempt took 20 ms; the second's 1 ms window is long over.
        assert_eq!(
            slot.finished(now + Duration::from_secs(1)),
            Some(AttemptId(2))
        );
    }

    #[test]
    fn the_table_has_a_slot_for_each_probed_path_and_none_for_serial() {
        let mut slots = Slots::default();
        for path in PathId::ALL {
            if path != PathId::Serial {
                slots.insert(path, Slot::new(None));
            }
        }
        for path in PathId::ALL {
            assert_eq!(slots.get_mut(path).is_some(), path != PathId::Serial);
        }
    }
}
