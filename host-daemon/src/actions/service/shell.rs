//! The `command` manager: shell commands run with `sh -c`, bounded by a timeout.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use super::{wait_bounded, ServiceError};

/// Runs `sh -c command`, bounded by `timeout`. Its output goes to the daemon's own
/// stdout/stderr (the journal): capturing it could hang on a server the command
/// started, which would hold the pipe open.
///
/// The command runs in a process group of its own, SIGKILLed as a whole when it
/// overruns or is abandoned (a restart cuts its stop command off at the step's
/// bound): killing `sh` alone would leave what it started running, e.g. a
/// `pg_ctl stop -w` that goes on waiting, or a script that signals the server the
/// restart has started meanwhile. A server the command started has its own session
/// (pg_ctl's child calls `setsid()`) and is not in the group.
pub(crate) async fn run_shell(command: &str, timeout: Duration) -> Result<(), ServiceError> {
    let what = format!("sh -c {command:?}");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ServiceError::Spawn {
            what: what.clone(),
            source,
        })?;
    let mut group = GroupKill(
        child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw),
    );
    let status = wait_bounded(&what, timeout, timeout, child.wait()).await?;
    // Finished: whatever it left in the background was meant to stay.
    group.0 = None;
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

/// SIGKILLs a command's process group when dropped, unless disarmed (`None`).
struct GroupKill(Option<Pid>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // ESRCH: the group is already empty.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}
