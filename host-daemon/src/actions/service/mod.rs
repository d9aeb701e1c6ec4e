//! Control of the local PostgreSQL service, by `local_db.service.manager`:
//! `pg_ctl` (run as the owner of the data directory, because pg_ctl refuses root),
//! `systemd` (over D-Bus, see [`super::systemd`]) or `command` (shell commands).
//!
//! Every operation is bounded by the timeout it is given; a child that overruns it
//! is killed. Start the daemon as a child subreaper and run the reaper
//! ([`super::postmaster::spawn_reaper`]) so a postmaster that pg_ctl left behind is
//! reaped when it dies.
//!
//! Each manager has its own module: [`PgCtl`] in `pg_ctl`, [`run_shell`] in `shell`,
//! systemd's in [`super::systemd`]. The restart, which escalates from a fast stop to
//! SIGKILL whatever the manager (rule `local-db-restart-once`), is in `restart`. This
//! module holds what they share: the choice of manager, the stop mode and the error.

pub(crate) mod as_owner;
mod pg_ctl;
mod restart;
mod shell;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::postmaster;
use super::systemd::{Bus, SystemdError, SystemdManager};

pub(crate) use pg_ctl::PgCtl;
pub(crate) use shell::run_shell;

/// How the local PostgreSQL is managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceControl {
    /// `pg_ctl -D data_dir`.
    PgCtl(PgCtl),
    /// A systemd unit over D-Bus.
    Systemd {
        /// The unit, e.g. `postgresql@15-main.service`.
        unit: String,
        /// The bus ([`Bus::System`] in production).
        bus: Bus,
    },
    /// Shell commands (run with `sh -c`).
    Command {
        /// Restarts (or starts) the DB.
        restart: String,
        /// Stops the DB.
        stop: String,
    },
}

/// How to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// `-m fast`: roll back sessions, checkpoint; a restart's first step.
    Fast,
    /// `-m immediate`: quit at once (crash recovery on the next start); used by
    /// fencing and by a restart whose fast stop did not end the server.
    Immediate,
}

impl StopMode {
    /// pg_ctl's name of the mode.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
        }
    }
}

/// Errors of service control.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    /// The data directory's owner could not be read.
    #[error("service: cannot read the owner of {path}: {source}")]
    Owner {
        /// The data directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The data directory belongs to root; pg_ctl would refuse to run.
    #[error("service: {0} is owned by root; pg_ctl refuses to run as root")]
    RootOwned(PathBuf),
    /// The command could not be started.
    #[error("service: cannot run {what}: {source}")]
    Spawn {
        /// The command.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The command ran and failed.
    #[error("service: {what} failed ({status}): {output}")]
    Failed {
        /// The command.
        what: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed (pg_ctl only; shell commands print to the daemon's log).
        output: String,
    },
    /// It did not finish within the bound (a child is killed).
    #[error("service: {what} did not finish within {after:?}")]
    Timeout {
        /// The command or step.
        what: String,
        /// The bound.
        after: Duration,
    },
    /// The postmaster's PID file could not be read.
    #[error("service: cannot read postmaster.pid in {path}: {source}")]
    PidFile {
        /// The data directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The postmaster could not be signalled.
    #[error("service: cannot signal postmaster {pid}: {source}")]
    Signal {
        /// The postmaster.
        pid: i32,
        /// The OS error.
        #[source]
        source: nix::Error,
    },
    /// PostgreSQL processes outlived SIGKILL (uninterruptible sleep): the old server
    /// is not confirmed stopped.
    #[error("service: PostgreSQL processes still there {after:?} after SIGKILL: {}; the old server is not confirmed stopped", restart::survivors_text(.pids))]
    Survived {
        /// Each survivor's PID and state letter in `/proc`.
        pids: Vec<(i32, char)>,
        /// How long they had.
        after: Duration,
    },
    /// The start did not bring up a new postmaster accepting connections.
    #[error(
        "service: no new postmaster accepting connections in {path} within {after:?} ({seen})"
    )]
    NotStarted {
        /// The data directory.
        path: PathBuf,
        /// The start's bound.
        after: Duration,
        /// What `postmaster.pid` said last.
        seen: String,
    },
    /// The systemd manager failed (boxed: it is the largest error by far).
    #[error(transparent)]
    Systemd(Box<SystemdError>),
}

impl From<SystemdError> for ServiceError {
    fn from(e: SystemdError) -> Self {
        ServiceError::Systemd(Box::new(e))
    }
}

impl ServiceControl {
    /// The data directory, when the manager knows it (pg_ctl).
    pub(crate) fn data_dir(&self) -> Option<&Path> {
        match self {
            Self::PgCtl(p) => Some(&p.data_dir),
            _ => None,
        }
    }

    /// Starts the DB: pg_ctl `start`, systemd StartUnit, or the restart command. The
    /// daemon starts a stopped DB only at the end of a rejoin (rule
    /// `rejoin-after-fence`); otherwise it restarts it (rule `local-db-restart-once`).
    pub(crate) async fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        match self {
            Self::PgCtl(p) => p.start(timeout).await,
            Self::Systemd { unit, bus } => {
                let m = SystemdManager::connect(bus, timeout).await?;
                m.start_unit(unit).await?;
                Ok(())
            }
            Self::Command { restart, .. } => run_shell(restart, timeout).await,
        }
    }

    /// Stops the DB. For pg_ctl this returns once the postmaster has exited (or
    /// [`ServiceError::Timeout`]); systemd and commands return once the request is done.
    pub(crate) async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), ServiceError> {
        match self {
            Self::PgCtl(p) => p.stop(mode, timeout).await,
            Self::Systemd { unit, bus } => {
                let m = SystemdManager::connect(bus, timeout).await?;
                m.stop_unit(unit).await?;
                Ok(())
            }
            Self::Command { stop, .. } => run_shell(stop, timeout).await,
        }
    }

    /// SIGKILLs the DB's processes: systemd KillUnit(all, SIGKILL); otherwise the
    /// postmaster from `postmaster.pid` and its children (needs the data directory).
    pub(crate) async fn kill(
        &self,
        data_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<usize, ServiceError> {
        if let Self::Systemd { unit, bus } = self {
            let m = SystemdManager::connect(bus, timeout).await?;
            m.kill_unit(unit, nix::sys::signal::Signal::SIGKILL as i32)
                .await?;
            return Ok(1);
        }
        let Some(dir) = data_dir.or(self.data_dir()) else {
            return Ok(0);
        };
        match postmaster::read_pid(dir) {
            Ok(Some(pid)) => Ok(postmaster::kill_tree(pid).len()),
            Ok(None) => Ok(0),
            Err(source) => Err(ServiceError::PidFile {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }
}

/// Awaits `wait` (a child process's exit) for at most `limit`, the one bound both
/// the pg_ctl and the shell manager put on a command: its I/O error is a
/// [`ServiceError::Spawn`], running over a [`ServiceError::Timeout`] reporting `after`
/// (the timeout the caller was given, which `limit` may exceed by a grace).
async fn wait_bounded<T>(
    what: &str,
    limit: Duration,
    after: Duration,
    wait: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, ServiceError> {
    match tokio::time::timeout(limit, wait).await {
        Ok(r) => r.map_err(|source| ServiceError::Spawn {
            what: what.to_owned(),
            source,
        }),
        Err(_) => Err(ServiceError::Timeout {
            what: what.to_owned(),
            after,
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests;
