//! The `command` manager: shell commands run with `sh -c`, bounded by a timeout.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{wait_bounded, ServiceError};

/// Runs `sh -c command`, bounded by `timeout` (killed when it overruns). Its output
/// goes to the daemon's own stdout/stderr (the journal): capturing it could hang on
/// a server the command started, which would hold the pipe open.
pub(crate) async fn run_shell(command: &str, timeout: Duration) -> Result<(), ServiceError> {
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
    let status = wait_bounded(&what, timeout, timeout, child.wait()).await?;
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
