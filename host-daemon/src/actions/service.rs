//! Control of the local PostgreSQL service, by `local_db.service.manager`:
//! `pg_ctl` (run as the owner of the data directory, because pg_ctl refuses root),
//! `systemd` (over D-Bus, see [`super::systemd`]) or `command` (shell commands).
//!
//! Every operation is bounded by the timeout it is given; a child that overruns it
//! is killed. Start the daemon as a child subreaper and run the reaper
//! ([`super::postmaster::spawn_reaper`]) so a postmaster that pg_ctl left behind is
//! reaped when it dies.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::postmaster;
use super::systemd::{Bus, SystemdError, SystemdManager};

/// How the local PostgreSQL is managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceControl {
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

/// The `pg_ctl` manager's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgCtl {
    /// The pg_ctl binary.
    pub pg_ctl: PathBuf,
    /// The data directory (`-D`); its owner runs pg_ctl.
    pub data_dir: PathBuf,
    /// The server log (`-l`); default `data_dir/twinbeat-postmaster.log`. A log file
    /// is always given so the postmaster never inherits pg_ctl's output pipes.
    pub log_file: Option<PathBuf>,
}

/// How to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// `-m fast`: roll back sessions, checkpoint.
    Fast,
    /// `-m immediate`: quit at once (crash recovery on the next start); used by fencing.
    Immediate,
}

/// Errors of service control.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    /// The systemd manager failed.
    #[error(transparent)]
    Systemd(#[from] SystemdError),
}

impl ServiceControl {
    /// The data directory, when the manager knows it (pg_ctl).
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            Self::PgCtl(p) => Some(&p.data_dir),
            _ => None,
        }
    }

    /// Restarts the DB (rule 2): pg_ctl `restart -m fast` (starts it if it was down),
    /// systemd RestartUnit, or the restart command.
    pub async fn restart(&self, timeout: Duration) -> Result<(), ServiceError> {
        match self {
            Self::PgCtl(p) => p.restart(timeout).await,
            Self::Systemd { unit, bus } => {
                let m = SystemdManager::connect(bus, timeout).await?;
                m.restart_unit(unit).await?;
                Ok(())
            }
            Self::Command { restart, .. } => run_shell(restart, timeout).await,
        }
    }

    /// Starts the DB: pg_ctl `start`, systemd StartUnit, or the restart command.
    pub async fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
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
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), ServiceError> {
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
    pub async fn kill(
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
            Ok(Some(pid)) => Ok(postmaster::kill_tree(pid)),
            Ok(None) => Ok(0),
            Err(source) => Err(ServiceError::PidFile {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }
}

impl PgCtl {
    fn log_file(&self) -> PathBuf {
        self.log_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("twinbeat-postmaster.log"))
    }

    /// `pg_ctl restart -m fast -w`.
    pub async fn restart(&self, timeout: Duration) -> Result<(), ServiceError> {
        let mut args = self.base_args("restart");
        args.extend(["-m".into(), "fast".into(), "-w".into()]);
        args.extend(self.wait_args(timeout));
        self.run(args, timeout).await
    }

    /// `pg_ctl start -w`.
    pub async fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        let mut args = self.base_args("start");
        args.push("-w".into());
        args.extend(self.wait_args(timeout));
        self.run(args, timeout).await
    }

    /// `pg_ctl stop -m <mode> -W`, then waits for the postmaster's PID to die.
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), ServiceError> {
        // An unreadable or half-written PID file must not prevent the stop request;
        // it only means the exit cannot be confirmed by PID.
        let pid = postmaster::read_pid(&self.data_dir).ok().flatten();
        let mut args = vec![
            "stop".into(),
            "-D".into(),
            self.data_dir.clone().into_os_string(),
        ];
        let m = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        // -W: pg_ctl only signals; the wait is ours, on the PID, which also sees a
        // zombie as dead (pg_ctl would wait for the PID file to vanish).
        args.extend(["-m".into(), m.into(), "-W".into()]);
        let result = self.run(args, timeout).await;
        let Some(pid) = pid else {
            // No PID file: not running, and pg_ctl's complaint is not an error for
            // us. A PID file we cannot read: pg_ctl's verdict is all we have.
            return if self.data_dir.join("postmaster.pid").exists() {
                result
            } else {
                Ok(())
            };
        };
        if result.is_err() {
            // pg_ctl could not signal it: only an already dead postmaster is fine.
            return if postmaster::wait_dead(pid, Duration::ZERO).await {
                Ok(())
            } else {
                result
            };
        }
        if postmaster::wait_dead(pid, timeout).await {
            return Ok(());
        }
        Err(ServiceError::Timeout {
            what: format!("postmaster {pid} exit after pg_ctl stop -m {m}"),
            after: timeout,
        })
    }

    fn base_args(&self, verb: &str) -> Vec<OsString> {
        vec![
            verb.into(),
            "-D".into(),
            self.data_dir.clone().into_os_string(),
            "-l".into(),
            self.log_file().into_os_string(),
        ]
    }

    fn wait_args(&self, timeout: Duration) -> [OsString; 2] {
        ["-t".into(), timeout.as_secs().max(1).to_string().into()]
    }

    /// Runs pg_ctl as the data directory's owner, bounded by `timeout`.
    async fn run(&self, args: Vec<OsString>, timeout: Duration) -> Result<(), ServiceError> {
        let what = format!(
            "{} {}",
            self.pg_ctl.display(),
            args.first()
                .map(|a| a.to_string_lossy())
                .unwrap_or_default()
        );
        let meta = std::fs::metadata(&self.data_dir).map_err(|source| ServiceError::Owner {
            path: self.data_dir.clone(),
            source,
        })?;
        let (uid, gid) = (meta.uid(), meta.gid());
        if uid == 0 {
            return Err(ServiceError::RootOwned(self.data_dir.clone()));
        }
        let mut cmd = Command::new(&self.pg_ctl);
        cmd.args(&args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if nix::unistd::geteuid().as_raw() != uid {
            cmd.uid(uid).gid(gid);
            if let Ok(Some(user)) = nix::unistd::User::from_uid(uid.into()) {
                cmd.env("HOME", &user.dir)
                    .env("USER", &user.name)
                    .env("LOGNAME", &user.name);
            }
        }
        let child = cmd.spawn().map_err(|source| ServiceError::Spawn {
            what: what.clone(),
            source,
        })?;
        let out =
            match tokio::time::timeout(timeout + Duration::from_secs(1), child.wait_with_output())
                .await
            {
                Ok(r) => r.map_err(|source| ServiceError::Spawn {
                    what: what.clone(),
                    source,
                })?,
                Err(_) => {
                    return Err(ServiceError::Timeout {
                        what,
                        after: timeout,
                    })
                }
            };
        if out.status.success() {
            Ok(())
        } else {
            let mut output = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if output.is_empty() {
                output = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            }
            Err(ServiceError::Failed {
                what,
                status: out.status,
                output,
            })
        }
    }
}

/// Runs `sh -c command`, bounded by `timeout` (killed when it overruns). Its output
/// goes to the daemon's own stdout/stderr (the journal): capturing it could hang on
/// a server the command started, which would hold the pipe open.
pub async fn run_shell(command: &str, timeout: Duration) -> Result<(), ServiceError> {
    let what = format!("sh -c {command:?}");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ServiceError::Spawn {
            what: what.clone(),
            source,
        })?;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(r) => r.map_err(|source| ServiceError::Spawn {
            what: what.clone(),
            source,
        })?,
        Err(_) => {
            return Err(ServiceError::Timeout {
                what,
                after: timeout,
            })
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(ServiceError::Failed {
            what,
            status,
            output: String::new(),
        })
    }
}
