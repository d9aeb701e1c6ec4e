//! The `pg_ctl` manager: pg_ctl run as the owner of the data directory (pg_ctl
//! refuses root), each call bounded by its timeout.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{as_owner, ServiceError, StopMode};
use crate::actions::postmaster;

/// The `pg_ctl` manager's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgCtl {
    /// The pg_ctl binary.
    pub pg_ctl: PathBuf,
    /// The data directory (`-D`); its owner runs pg_ctl.
    pub data_dir: PathBuf,
    /// `postgresql.conf` when it is not in the data directory (`-o "-c config_file=…"`
    /// on start and restart; the configuration refuses a path with a single quote).
    pub config_file: Option<PathBuf>,
    /// The server log (`-l`); default `data_dir/twinbeat-postmaster.log`. A log file
    /// is always given so the postmaster never inherits pg_ctl's output pipes.
    pub log_file: Option<PathBuf>,
}

impl PgCtl {
    fn log_file(&self) -> PathBuf {
        self.log_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("twinbeat-postmaster.log"))
    }

    /// `pg_ctl restart -m fast -w`: the restart when the postmaster's PID cannot be
    /// read (see [`ServiceControl::restart`](super::ServiceControl::restart)).
    pub(crate) async fn restart(&self, timeout: Duration) -> Result<(), ServiceError> {
        let mut args = self.base_args("restart");
        args.extend(["-m".into(), "fast".into(), "-w".into()]);
        args.extend(self.wait_args(timeout));
        self.run(args, timeout).await
    }

    /// `pg_ctl start -w`: returns once the server accepts connections (pg_ctl reads
    /// that from `postmaster.pid`, for the postmaster it started).
    pub(crate) async fn start(&self, timeout: Duration) -> Result<(), ServiceError> {
        let mut args = self.base_args("start");
        args.push("-w".into());
        args.extend(self.wait_args(timeout));
        self.run(args, timeout).await
    }

    /// `pg_ctl stop -m <mode> -W`, then waits for the postmaster's PID to die.
    pub(crate) async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), ServiceError> {
        // An unreadable or half-written PID file must not prevent the stop request;
        // it only means the exit cannot be confirmed by PID.
        let pid = postmaster::read_pid(&self.data_dir).ok().flatten();
        let result = self.request_stop(mode, timeout).await;
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
            what: format!("postmaster {pid} exit after pg_ctl stop -m {}", mode.name()),
            after: timeout,
        })
    }

    /// `pg_ctl stop -m <mode> -W`: only the request (pg_ctl signals the postmaster
    /// and returns). The wait is the caller's, on the PID, which also sees a zombie
    /// as dead (pg_ctl would wait for the PID file to vanish).
    pub(crate) async fn request_stop(
        &self,
        mode: StopMode,
        timeout: Duration,
    ) -> Result<(), ServiceError> {
        let mut args = vec![
            "stop".into(),
            "-D".into(),
            self.data_dir.clone().into_os_string(),
        ];
        args.extend(["-m".into(), mode.name().into(), "-W".into()]);
        self.run(args, timeout).await
    }

    fn base_args(&self, verb: &str) -> Vec<OsString> {
        let mut args = vec![
            verb.into(),
            "-D".into(),
            self.data_dir.clone().into_os_string(),
            "-l".into(),
            self.log_file().into_os_string(),
        ];
        if let Some(file) = &self.config_file {
            // pg_ctl runs the server through the shell: one quoted word.
            args.push("-o".into());
            args.push(format!("-c config_file='{}'", file.display()).into());
        }
        args
    }

    fn wait_args(&self, timeout: Duration) -> [OsString; 2] {
        ["-t".into(), timeout.as_secs().max(1).to_string().into()]
    }

    /// Runs pg_ctl as the data directory's owner, bounded by `timeout`.
    async fn run(&self, args: Vec<OsString>, timeout: Duration) -> Result<(), ServiceError> {
        let what = as_owner::describe(&self.pg_ctl, args.first().map(OsString::as_os_str));
        let mut cmd = as_owner::command(&self.pg_ctl, &self.data_dir)?;
        cmd.args(&args);
        let out = as_owner::output(&what, cmd, timeout).await?;
        as_owner::succeeded(&what, out).map(drop)
    }
}
