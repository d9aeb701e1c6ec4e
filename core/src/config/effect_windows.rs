//! The window of each side effect the engine orders. The engine stamps every effect
//! action with the end of its window, counted from the `now` it was given, so these
//! bounds have one owner and the daemon keeps no timing of its own: it runs the effect
//! until the instant the action carries.

use core::time::Duration;

use super::Config;

/// Window of `Action::Promote`: connecting, `pg_promote` and the end of recovery.
pub const PROMOTE_WINDOW: Duration = Duration::from_secs(5);

/// Shortest window of `Action::RestartDb`: a restart waits for the server to accept
/// connections, which a short `restart_grace` must not cut off.
pub const MIN_RESTART_WINDOW: Duration = Duration::from_secs(5);

/// How long `Action::StopDb`'s stop request gets before the postmaster is SIGKILLed.
pub const STOP_GRACE: Duration = Duration::from_secs(1);

/// How long `Action::StopDb` waits for the postmaster to exit after the SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Bound on `Action::PublishHandover` (connect, `ALTER SYSTEM`, reload, read back).
pub const PUBLISH_WINDOW: Duration = Duration::from_secs(2);

/// Window of `Action::RunFenceAction` (the D-Bus call or the command).
pub const FENCE_ACTION_WINDOW: Duration = Duration::from_secs(30);

/// Pause after a failed rejoin before an automatic one (or one a restart interrupted)
/// is tried again (rule `rejoin-after-fence`): long enough for a peer that is still
/// starting, or a network that is still coming back, to settle.
pub const AUTO_REJOIN_RETRY: Duration = Duration::from_secs(30);

/// How often a switchover's standby samples its replay position until it is past the
/// master's final LSN (rule `planned-switchover`): the clients wait for it.
pub const SWITCHOVER_REPLAY_POLL: Duration = Duration::from_millis(10);

/// Window of `Action::SetSyncStandby` (rule `sync-epoch`): an `ALTER SYSTEM`, a
/// reload and a read back on a connection already open.
pub const SYNC_WINDOW: Duration = Duration::from_secs(5);

/// Pause after a failed `Action::SetSyncStandby` before the primary tries again (rule
/// `sync-epoch`): short, since commits (or a `strict` primary's VIP) may be waiting
/// on it.
pub const SYNC_RETRY: Duration = Duration::from_millis(250);

/// Pause after a failed `Action::EnsureSlot` before the standby asks again (rule
/// `standby-slot`).
pub const SLOT_RETRY: Duration = Duration::from_secs(60);

/// How long a standby's frames carry its operator's switchover request (rule
/// `planned-switchover`): a few serial rounds at the default 1 s interval; the master
/// starts or refuses on the first frame it hears.
pub const SWITCHOVER_REQUEST_WINDOW: Duration = Duration::from_secs(5);

impl Config {
    /// Window of `Action::RestartDb`: `restart_grace`, at least
    /// [`MIN_RESTART_WINDOW`].
    pub fn restart_window(&self) -> Duration {
        self.restart_grace.max(MIN_RESTART_WINDOW)
    }

    /// How long `Action::Promote` may take to connect: a local DB check's window,
    /// within [`PROMOTE_WINDOW`].
    pub fn promote_connect_window(&self) -> Duration {
        self.local_db.timeout.min(PROMOTE_WINDOW)
    }

    /// How long a standby's fresh checks may take (rule `fresh-checks`): each check
    /// ends by its own timeout, and the ARP probe always listens for its whole window,
    /// so the slowest answer arrives just after the longest timeout. The bound only
    /// catches an answer that never comes: half as long again.
    pub fn fresh_check_window(&self) -> Duration {
        let slowest = self
            .local_db
            .timeout
            .max(self.gateway.timeout)
            .max(self.arp_probe_timeout);
        slowest.saturating_add(slowest / 2)
    }

    /// One cycle of the peer's remote DB probe (`remote_db.interval +
    /// remote_db.timeout`; the pair runs one config): within it the peer has probed
    /// this node's PostgreSQL once (rule `hold-needs-evidence`).
    pub fn remote_db_probe_cycle(&self) -> Duration {
        self.remote_db
            .interval
            .saturating_add(self.remote_db.timeout)
    }

    /// How long a master waits for the answer to "take over?" (rule
    /// `fence-handshake`): the question reaches the standby in the master's next frame
    /// (at most a serial interval and timeout away), the standby runs its fresh checks,
    /// and the answer comes back in its next frame (as long again).
    pub fn takeover_answer_window(&self) -> Duration {
        let frame = self.serial.interval.saturating_add(self.serial.timeout);
        frame
            .saturating_mul(2)
            .saturating_add(self.fresh_check_window())
    }
}
