//! systemd notifications (`Type=notify`): READY=1 once the daemon runs, WATCHDOG=1
//! from the main loop at half the `WatchdogSec=` period, STATUS= lines for
//! `systemctl status`, STOPPING=1 on the way out.
//!
//! Without `NOTIFY_SOCKET` (not started by systemd) every call is a no-op. Tested
//! against a datagram socket the test listens on, because systemd is not PID 1 on
//! the test machines.

use std::io;
use std::time::Duration;

use sd_notify::NotifyState;

/// Errors of sd-notify.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    /// Sending to `NOTIFY_SOCKET` failed.
    #[error("sd_notify {what}: {source}")]
    Send {
        /// The message.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn send(what: &'static str, states: &[NotifyState<'_>]) -> Result<(), NotifyError> {
    sd_notify::notify(states).map_err(|source| NotifyError::Send { what, source })
}

/// READY=1 with a status line.
pub(crate) fn ready(status: &str) -> Result<(), NotifyError> {
    send("READY", &[NotifyState::Ready, NotifyState::Status(status)])
}

/// WATCHDOG=1: call it from the main loop every [`watchdog_period`].
pub(crate) fn watchdog() -> Result<(), NotifyError> {
    send("WATCHDOG", &[NotifyState::Watchdog])
}

/// STATUS=… (one line shown by `systemctl status`).
pub(crate) fn status(status: &str) -> Result<(), NotifyError> {
    send("STATUS", &[NotifyState::Status(status)])
}

/// STOPPING=1.
pub(crate) fn stopping() -> Result<(), NotifyError> {
    send("STOPPING", &[NotifyState::Stopping])
}

/// How often to send WATCHDOG=1: half of `WATCHDOG_USEC` (as systemd advises), or
/// `None` when the watchdog is off for this process.
pub(crate) fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

#[cfg(test)]
mod tests;
