//! The restart of rule `local-db-restart-once`, which must end the old server: a hung
//! PostgreSQL (every process SIGSTOPped, or stuck) ignores a fast stop, and a restart
//! that gives up there fails, so the master fences and the standby promotes for a
//! database that only needed killing. Within the window the engine gave, the restart
//! escalates until the old postmaster (its PID from `postmaster.pid`) is gone:
//!
//! 1. fast stop through the manager: `pg_ctl stop -m fast`, systemd's StopUnit, or the
//!    `stop_command`; wait for the postmaster's PID to exit;
//! 2. still there: immediate stop, `pg_ctl stop -m immediate`, or for systemd and
//!    commands a SIGQUIT to the postmaster (what `-m immediate` sends); wait;
//! 3. still there: SIGKILL of the postmaster and every child of it found in `/proc`
//!    ([`postmaster::kill_tree`]; the backends call `setsid()`, so a process-group kill
//!    would miss them), for systemd KillUnit as well; wait until all are gone (reaping
//!    our zombies). SIGKILL ends a stopped process too; only one in uninterruptible
//!    sleep (`D`) can outlive it, and then the restart fails: the old server is not
//!    confirmed stopped, a start could not take its place;
//! 4. start through the manager: `pg_ctl start -w`; systemd's RestartUnit (with the
//!    old server gone it is a start, and unlike StartUnit it also reaches the
//!    instances of Debian's umbrella `postgresql.service`); the `restart_command`
//!    (which starts a stopped DB). Confirmed by PID: a new postmaster, not the old
//!    one, accepting connections (status `ready` or `standby` in `postmaster.pid`, as
//!    `pg_ctl start -w` reads it).
//!
//! Each escalation is logged (warn) with the time since the restart began. Without a
//! data directory (a systemd or command manager whose `SHOW data_directory` never
//! answered) or with an unreadable `postmaster.pid`, nothing can be confirmed by PID:
//! the manager's own restart runs, unconfirmed, and a warning says so.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::time::Instant as TokioInstant;

use super::{run_shell, ServiceControl, ServiceError, StopMode};
use crate::actions::postmaster::{self, ProcState};
use crate::actions::systemd::SystemdManager;

/// One stop step's bound: `1/share` of the restart's window, at most `max`.
#[derive(Debug, Clone, Copy)]
struct StepBound {
    share: u32,
    max: Duration,
}

impl StepBound {
    fn of(self, window: Duration) -> Duration {
        (window / self.share).min(self.max)
    }
}

/// The fast stop. A healthy server stops well within it (its shutdown checkpoint);
/// one that needs longer is hung or very busy, and crash recovery after an
/// immediate stop is then the quicker way back.
const FAST_STOP: StepBound = StepBound {
    share: 4,
    max: Duration::from_secs(3),
};

/// The immediate stop (a SIGQUIT): a postmaster that runs exits within milliseconds;
/// one still there after a second does not run.
const IMMEDIATE_STOP: StepBound = StepBound {
    share: 8,
    max: Duration::from_secs(1),
};

/// The wait after SIGKILL, which no process refuses: what is left after a second is
/// in uninterruptible sleep.
const KILL_CONFIRM: StepBound = StepBound {
    share: 8,
    max: Duration::from_secs(1),
};

/// A restart's window split into its steps' bounds (`FAST_STOP`, `IMMEDIATE_STOP`,
/// `KILL_CONFIRM`, the one owner of these numbers). The start gets what is left
/// when it begins: at least half the window, more when the stop ended early
/// (a 10 s window: 2.5 s, 1 s, 1 s, and at least 5.5 s to start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// For the fast stop.
    pub fast: Duration,
    /// For the immediate stop.
    pub immediate: Duration,
    /// For the processes to go after SIGKILL.
    pub kill: Duration,
}

impl Bounds {
    /// The bounds of a restart with `window` to go.
    pub(crate) fn of(window: Duration) -> Bounds {
        Bounds {
            fast: FAST_STOP.of(window),
            immediate: IMMEDIATE_STOP.of(window),
            kill: KILL_CONFIRM.of(window),
        }
    }
}

/// What ended the old server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// No postmaster was running: only the start.
    NotRunning,
    /// The fast stop.
    Fast,
    /// The immediate stop.
    Immediate,
    /// SIGKILL of the postmaster and its children.
    Killed,
    /// Not known: no data directory or no readable `postmaster.pid`, so the
    /// manager's own restart ran.
    Unconfirmed,
}

/// A restart done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restarted {
    /// The old postmaster's PID, if one was running.
    pub old: Option<i32>,
    /// The new postmaster's PID (`None` only when [`Stopped::Unconfirmed`]).
    pub new: Option<i32>,
    /// What ended the old server.
    pub stopped: Stopped,
    /// The whole restart.
    pub elapsed: Duration,
}

impl fmt::Display for Restarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.stopped {
            Stopped::NotRunning => "it was not running",
            Stopped::Fast => "fast stop",
            Stopped::Immediate => "escalated to an immediate stop",
            Stopped::Killed => "escalated to SIGKILL",
            Stopped::Unconfirmed => {
                return write!(
                    f,
                    "the manager's own restart in {:?}, not confirmed by PID",
                    self.elapsed
                )
            }
        };
        let old = self.old.map_or("none".to_owned(), |p| p.to_string());
        let new = self.new.map_or("?".to_owned(), |p| p.to_string());
        write!(f, "postmaster {old} → {new} in {:?} ({how})", self.elapsed)
    }
}

/// The survivors of a SIGKILL, for [`ServiceError::Survived`].
pub(super) fn survivors_text(pids: &[(i32, char)]) -> String {
    pids.iter()
        .map(|(p, st)| match st {
            'D' => format!("{p} in state D (uninterruptible sleep)"),
            _ => format!("{p} in state {st}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pause before starting again after a start that failed within the window.
const START_RETRY: Duration = Duration::from_millis(100);

impl ServiceControl {
    /// Restarts the DB (rule `local-db-restart-once`), escalating as the module says,
    /// by `deadline`. `data_dir` is where `postmaster.pid` is (default: the pg_ctl
    /// manager's).
    pub(crate) async fn restart(
        &self,
        data_dir: Option<&Path>,
        deadline: TokioInstant,
    ) -> Result<Restarted, ServiceError> {
        let began = Instant::now();
        let window = deadline.saturating_duration_since(TokioInstant::now());
        let Some(dir) = data_dir.or(self.data_dir()) else {
            tracing::warn!(
                "local DB restart: the data directory is unknown: the manager's own restart, not confirmed by PID"
            );
            return self.unconfirmed(window, began).await;
        };
        let old = match postmaster::read_pid(dir) {
            // A zombie is dead (and reaped here if ours, so its PID frees the lock file).
            Ok(Some(pid)) if !postmaster::wait_dead(pid, Duration::ZERO).await => Some(pid),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "local DB restart: cannot read {}/postmaster.pid ({e}): the manager's own restart, not confirmed by PID",
                    dir.display()
                );
                return self.unconfirmed(window, began).await;
            }
        };
        let stopped = match old {
            None => Stopped::NotRunning,
            Some(pid) => self.stop_escalating(pid, Bounds::of(window), began).await?,
        };
        let new = self.start_confirmed(dir, old, deadline).await?;
        Ok(Restarted {
            old,
            new: Some(new),
            stopped,
            elapsed: began.elapsed(),
        })
    }

    /// The manager's own restart: pg_ctl `restart -m fast`, systemd RestartUnit, or
    /// the restart command.
    async fn unconfirmed(
        &self,
        window: Duration,
        began: Instant,
    ) -> Result<Restarted, ServiceError> {
        match self {
            Self::PgCtl(p) => p.restart(window).await?,
            Self::Systemd { unit, bus } => {
                SystemdManager::connect(bus, window)
                    .await?
                    .restart_unit(unit)
                    .await?;
            }
            Self::Command { restart, .. } => run_shell(restart, window).await?,
        }
        Ok(Restarted {
            old: None,
            new: None,
            stopped: Stopped::Unconfirmed,
            elapsed: began.elapsed(),
        })
    }

    /// Steps 1 to 3: ends the postmaster `pid`, escalating.
    async fn stop_escalating(
        &self,
        pid: i32,
        bounds: Bounds,
        began: Instant,
    ) -> Result<Stopped, ServiceError> {
        if self.stop_step(StopMode::Fast, pid, bounds.fast).await {
            return Ok(Stopped::Fast);
        }
        tracing::warn!(
            "local DB restart: postmaster {pid} still there {:?} after the fast stop request: immediate stop",
            began.elapsed()
        );
        if self
            .stop_step(StopMode::Immediate, pid, bounds.immediate)
            .await
        {
            return Ok(Stopped::Immediate);
        }
        tracing::warn!(
            "local DB restart: postmaster {pid} still there {:?} after the immediate stop request: SIGKILL of it and its children",
            began.elapsed()
        );
        let pids = postmaster::kill_tree(pid);
        let left = match self {
            // KillUnit too: the unit may hold processes outside the postmaster's
            // children (its own stop command, still waiting); its failure is only
            // logged, the PIDs decide.
            Self::Systemd { .. } => {
                let unit = async {
                    if let Err(e) = self.kill(None, bounds.kill).await {
                        tracing::warn!("local DB restart: {e}");
                    }
                };
                tokio::join!(unit, postmaster::wait_all_dead(&pids, bounds.kill)).1
            }
            _ => postmaster::wait_all_dead(&pids, bounds.kill).await,
        };
        if !left.is_empty() {
            return Err(ServiceError::Survived {
                pids: left,
                after: bounds.kill,
            });
        }
        tracing::warn!(
            "local DB restart: postmaster {pid} and its {} children gone {:?} after the restart began (SIGKILL)",
            pids.len().saturating_sub(1),
            began.elapsed()
        );
        Ok(Stopped::Killed)
    }

    /// A stop request in `mode`, then a wait for `pid` to exit, both within `bound`.
    /// Returns whether it exited. A request that failed or hung is only logged: the
    /// PID decides, and the next step follows.
    async fn stop_step(&self, mode: StopMode, pid: i32, bound: Duration) -> bool {
        let start = Instant::now();
        match tokio::time::timeout(bound, self.stop_request(mode, pid, bound)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::info!(
                "local DB restart: {} stop request: {e} (the postmaster's PID decides)",
                mode.name()
            ),
            Err(_) => tracing::info!(
                "local DB restart: {} stop request still running after {bound:?}",
                mode.name()
            ),
        }
        postmaster::wait_dead(pid, bound.saturating_sub(start.elapsed())).await
    }

    async fn stop_request(
        &self,
        mode: StopMode,
        pid: i32,
        bound: Duration,
    ) -> Result<(), ServiceError> {
        match (self, mode) {
            (Self::PgCtl(p), _) => p.request_stop(mode, bound).await,
            (Self::Systemd { unit, bus }, StopMode::Fast) => {
                SystemdManager::connect(bus, bound)
                    .await?
                    .stop_unit(unit)
                    .await?;
                Ok(())
            }
            (Self::Command { stop, .. }, StopMode::Fast) => run_shell(stop, bound).await,
            // What `pg_ctl stop -m immediate` sends; the units and the commands have
            // no immediate mode of their own.
            (_, StopMode::Immediate) => match postmaster::postmaster_state(pid) {
                ProcState::Gone | ProcState::Zombie => Ok(()),
                ProcState::Alive | ProcState::Stopped => kill(Pid::from_raw(pid), Signal::SIGQUIT)
                    .map_err(|source| ServiceError::Signal { pid, source }),
            },
        }
    }

    /// Step 4: starts the DB and waits, by `deadline`, for a postmaster other than
    /// `old` that accepts connections. Returns its PID.
    async fn start_confirmed(
        &self,
        dir: &Path,
        old: Option<i32>,
        deadline: TokioInstant,
    ) -> Result<i32, ServiceError> {
        let window = deadline.saturating_duration_since(TokioInstant::now());
        // A postmaster that just died (its PID watched, rule `local-db-restart-once`)
        // may leave backends that are still noticing it and hold its shared memory for a
        // few milliseconds: the start then refuses ("another server might be running").
        // Start again until the window ends.
        loop {
            let left = deadline.saturating_duration_since(TokioInstant::now());
            let started: Result<(), ServiceError> = async {
                match self {
                    Self::PgCtl(p) => p.start(left).await?,
                    Self::Systemd { unit, bus } => {
                        SystemdManager::connect(bus, left)
                            .await?
                            .restart_unit(unit)
                            .await?;
                    }
                    Self::Command { restart, .. } => run_shell(restart, left).await?,
                }
                Ok(())
            }
            .await;
            match started {
                Ok(()) => break,
                Err(e) if TokioInstant::now() + START_RETRY < deadline => {
                    tracing::warn!("local DB start failed, starting again: {e}");
                    tokio::time::sleep(START_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            let pid = postmaster::read_pid(dir).ok().flatten();
            let status = postmaster::read_status(dir);
            if let Some(p) = pid.filter(|p| Some(*p) != old) {
                let accepting = matches!(status.as_deref(), Some("ready" | "standby"));
                if accepting && postmaster::postmaster_state(p) == ProcState::Alive {
                    return Ok(p);
                }
            }
            if TokioInstant::now() >= deadline {
                return Err(ServiceError::NotStarted {
                    path: dir.to_path_buf(),
                    after: window,
                    seen: format!("PID {pid:?}, status {status:?}, old PID {old:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_gets_at_least_half_the_window() {
        let b = Bounds::of(Duration::from_secs(10));
        assert_eq!(
            (b.fast, b.immediate, b.kill),
            (
                Duration::from_millis(2500),
                Duration::from_secs(1),
                Duration::from_secs(1)
            )
        );
        for w in [1, 5, 10, 60, 3600].map(Duration::from_secs) {
            let b = Bounds::of(w);
            assert!(b.fast + b.immediate + b.kill <= w / 2, "{w:?}: {b:?}");
        }
        let b = Bounds::of(Duration::from_secs(3600));
        assert_eq!(b.fast, Duration::from_secs(3), "a few seconds at most");
    }

    #[test]
    fn a_survivor_of_sigkill_is_named_with_its_state() {
        let e = ServiceError::Survived {
            pids: vec![(12, 'D'), (13, 'R')],
            after: Duration::from_secs(1),
        };
        assert_eq!(
            e.to_string(),
            "service: PostgreSQL processes still there 1s after SIGKILL: 12 in state D \
             (uninterruptible sleep), 13 in state R; the old server is not confirmed stopped"
        );
    }
}
