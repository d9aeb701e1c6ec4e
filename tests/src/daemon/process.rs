//! [`DaemonProcess`]: a `twinbeat run` the test started as its own child, killed by PID
//! when dropped (also when the test panics).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cmd::wait_child;
use crate::error::{io_err, LabError, Result};

/// A running daemon.
#[derive(Debug)]
pub struct DaemonProcess {
    child: Option<Child>,
}

impl DaemonProcess {
    /// Starts `cmd` (e.g. [`run_command`](super::run_command)) with `RUST_LOG=info`, its
    /// standard error to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Result<Self> {
        let stderr = File::create(log).map_err(io_err(log))?;
        cmd.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = cmd.spawn().map_err(|source| LabError::Spawn {
            cmd: crate::cmd::describe(&cmd),
            source,
        })?;
        Ok(Self { child: Some(child) })
    }

    /// The PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Has it exited already?
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then waits for the exit (SIGKILL after a minute); returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).ok()?);
        let _ = kill(pid, Signal::SIGTERM);
        wait_child(&mut child, Duration::from_secs(60)).ok()?.code()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
