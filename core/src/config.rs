//! Engine configuration: every path's timing, the role pin and the failover settings,
//! and the values derived from them (detection times, the failure window, the pause
//! threshold, the bridge's bounds). The accepted ranges live in `bounds`, the check
//! and its error in `validate`, the side effects' windows in `effect_windows`.

use core::time::Duration;

use crate::types::{NodeId, PathId};

mod bounds;
mod effect_windows;
mod validate;

pub use bounds::{
    ConfigField, DurationRange, MAX_DURATION, MAX_INTERVAL, MAX_RETRIES, MAX_TIMEOUT, MIN_DURATION,
};
pub use effect_windows::{
    AUTO_REJOIN_RETRY, FENCE_ACTION_WINDOW, KILL_GRACE, MIN_RESTART_WINDOW, PROMOTE_WINDOW,
    PUBLISH_WINDOW, SLOT_RETRY, STOP_GRACE, SWITCHOVER_REPLAY_POLL, SWITCHOVER_REQUEST_WINDOW,
    SYNC_RETRY, SYNC_WINDOW,
};
pub use validate::ConfigError;

/// Timing of one path (rules `attempt-window` and `path-down-after-retries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathConfig {
    /// Delay between a successful attempt and the next one.
    pub interval: Duration,
    /// Window owned by every attempt: no reply within it is a failure, and an attempt
    /// that fails fast still ends only when its window ends.
    pub timeout: Duration,
    /// Consecutive failed attempts after which the path is down.
    pub retries: u32,
}

impl PathConfig {
    /// A path config from milliseconds (interval, timeout) and a retry count.
    pub const fn from_millis(interval_ms: u64, timeout_ms: u64, retries: u32) -> Self {
        PathConfig {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
            retries,
        }
    }

    /// `retries × timeout`: the shortest time in which this path can go down.
    pub fn detection_time(&self) -> Duration {
        self.timeout.saturating_mul(self.retries)
    }
}

/// What the operator pinned the node's role to (`role` in the config file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RolePin {
    /// The role comes from PostgreSQL and the persisted state (rule `hold-needs-evidence`).
    #[default]
    Auto,
    /// The node must start as the master; a disagreeing start is refused.
    Master,
    /// The node must start as the standby; a disagreeing start is refused.
    Standby,
}

impl RolePin {
    /// The spelling used in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            RolePin::Auto => "auto",
            RolePin::Master => "master",
            RolePin::Standby => "standby",
        }
    }
}

/// How the pair replicates (`[replication] mode`, rule `sync-epoch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplicationMode {
    /// Asynchronous: twinbeat leaves `synchronous_standby_names` alone; a failover may
    /// lose up to `max_lag_on_failover` of acknowledged commits.
    #[default]
    Async,
    /// The primary names its standby as synchronous while it streams, and degrades to
    /// asynchronous (a handshake, rule `sync-epoch`) when the standby is gone, so
    /// commits go on.
    Sync,
    /// Like `Sync`, but never degrades: commits wait while the standby is away, and a
    /// standby without a current synchronous claim never promotes by itself.
    Strict,
}

impl ReplicationMode {
    /// The spelling used in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplicationMode::Async => "async",
            ReplicationMode::Sync => "sync",
            ReplicationMode::Strict => "strict",
        }
    }

    /// twinbeat manages `synchronous_standby_names` (every mode but `Async`).
    pub const fn managed(self) -> bool {
        !matches!(self, ReplicationMode::Async)
    }
}

/// The engine's configuration. `Default` gives the design's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id; on an equal term the smaller id wins (rule `higher-term-wins`).
    pub node_id: NodeId,
    /// Role pin (rule `hold-needs-evidence`).
    pub role: RolePin,
    /// ICMP echo to the peer (standby).
    pub icmp: PathConfig,
    /// `SELECT 1` on the peer's database (standby).
    pub remote_db: PathConfig,
    /// Serial ping/ack (both roles).
    pub serial: PathConfig,
    /// Own gateway (both roles).
    pub gateway: PathConfig,
    /// Local database check (both roles).
    pub local_db: PathConfig,
    /// How long a restarted local DB gets to become healthy, and how long it must stay
    /// healthy to end an incident (rule `local-db-restart-once`).
    pub restart_grace: Duration,
    /// A fresh standby does not promote before hearing the master or this long (rule
    /// `startup-grace`); also how long a held node waits for its peer (rule
    /// `hold-needs-evidence`).
    pub startup_grace: Duration,
    /// Paths must go down within this of each other to count as "together" (rule
    /// `all-paths-down-together`).
    /// `None`: twice the slowest peer path's `retries × timeout`.
    pub failure_window: Option<Duration>,
    /// Promote even when one path had been down long before the others (rule
    /// `all-paths-down-together`).
    pub promote_when_degraded: bool,
    /// Largest replication lag, in bytes, a promotion accepts (rule `fresh-checks`).
    pub max_lag_on_failover: u64,
    /// Oldest peer state a master trusts when deciding to fence (rule
    /// `fence-when-standby-can-take-over`).
    pub peer_state_max_age: Duration,
    /// How long the daemon's VIP ARP probe may take before it counts as failed (rule `fresh-checks`).
    pub arp_probe_timeout: Duration,
    /// `Some(period)`: the serial cable runs through a heartbeat bridge that sends a
    /// `BridgeStatus` every `period`, and its reports judge the serial path too
    /// (`checks.serial.bridge`; see the engine's `bridge`). The period is the
    /// protocol's fact, not the engine's: the daemon passes the wire protocol's
    /// constant, which the bridge's firmware sends by.
    pub serial_bridge: Option<Duration>,
    /// The configured fence action powers the host off (`fence.action = "poweroff"`):
    /// a stop of the local DB that cannot be confirmed (a process in uninterruptible
    /// sleep) then powers off too, the one way to make sure it is stopped (rule
    /// `fence-sequence`). Never advertised as fenced either way.
    pub poweroff_on_unconfirmed_stop: bool,
    /// A fenced node rejoins the peer as its standby by itself (rule
    /// `rejoin-after-fence`): only after a fence for a lost gateway or a lost term, and
    /// only on evidence that the peer is primary in a higher term. It discards what the
    /// old timeline held past the fork (the rejoin saves a report of it first).
    pub auto_rejoin: bool,
    /// How many automatic rejoins a fenced node tries before it waits for the operator.
    pub auto_rejoin_attempts: u32,
    /// Window of `Action::Rejoin`: the report, the rewind (or the base backup), the
    /// start and the wait until PostgreSQL streams.
    pub rejoin_timeout: Duration,
    /// Rule `planned-switchover`: the window of `Action::Demote` (checkpoint and clean
    /// stop), then how long the master waits for the standby to promote past its final
    /// LSN before it withdraws and re-opens its PostgreSQL.
    pub switchover_timeout: Duration,
    /// Rule `sync-epoch`: asynchronous, synchronous with degrade, or strict.
    pub replication: ReplicationMode,
    /// Rule `pair-agrees`: a hash of the settings both nodes must share (the daemon's
    /// to compute; `None`: not compared). Every frame carries it.
    pub fingerprint: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: NodeId(1),
            role: RolePin::Auto,
            icmp: PathConfig::from_millis(1, 100, 5),
            remote_db: PathConfig::from_millis(10, 200, 5),
            serial: PathConfig::from_millis(1000, 200, 5),
            gateway: PathConfig::from_millis(1000, 500, 5),
            local_db: PathConfig::from_millis(2000, 1000, 5),
            restart_grace: Duration::from_secs(10),
            startup_grace: Duration::from_secs(60),
            failure_window: None,
            promote_when_degraded: false,
            max_lag_on_failover: 1024 * 1024,
            peer_state_max_age: Duration::from_secs(5),
            arp_probe_timeout: Duration::from_millis(150),
            serial_bridge: None,
            poweroff_on_unconfirmed_stop: false,
            auto_rejoin: false,
            auto_rejoin_attempts: 3,
            rejoin_timeout: Duration::from_secs(3600),
            switchover_timeout: Duration::from_secs(60),
            replication: ReplicationMode::Async,
            fingerprint: None,
        }
    }
}

impl Config {
    /// The config of one path.
    pub fn path(&self, path: PathId) -> &PathConfig {
        match path {
            PathId::Icmp => &self.icmp,
            PathId::RemoteDb => &self.remote_db,
            PathId::Serial => &self.serial,
            PathId::Gateway => &self.gateway,
            PathId::LocalDb => &self.local_db,
        }
    }

    /// With a bridge: no `BridgeStatus` for this long means the bridge (or the line to
    /// it) is silent. `max(serial.retries × serial.interval, 3 × the bridge's status
    /// period)`: as patient as the ping/ack judgement at its own pace, and never fewer
    /// than three missed reports, so one lost or corrupt status frame is not a broken
    /// line.
    pub fn bridge_silence_bound(&self) -> Duration {
        let status_period = self.serial_bridge.unwrap_or(Duration::ZERO);
        self.serial
            .interval
            .saturating_mul(self.serial.retries)
            .max(status_period.saturating_mul(3))
    }

    /// With a bridge: the peer's side silent at the bridge for longer than this means
    /// the peer is silent. `max(serial.retries × serial.timeout, serial.interval +
    /// serial.timeout)`: the first is the serial path's own detection time; the second
    /// is the longest gap a healthy peer leaves between its frames (it pings every
    /// `interval` after a success, and at most `timeout` later after a failure), so a
    /// slow ping interval cannot make a live peer look silent.
    pub fn bridge_peer_silence(&self) -> Duration {
        self.serial
            .detection_time()
            .max(self.serial.interval.saturating_add(self.serial.timeout))
    }

    /// Slowest peer path's `retries × timeout` (icmp, remote_db, serial).
    pub fn slowest_peer_detection(&self) -> Duration {
        PathId::PEER
            .iter()
            .map(|p| self.path(*p).detection_time())
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The failure window in force: the configured one or twice the slowest peer path's
    /// `retries × timeout`.
    pub fn effective_failure_window(&self) -> Duration {
        self.failure_window
            .unwrap_or_else(|| self.slowest_peer_detection().saturating_mul(2))
    }

    /// Scheduling gaps longer than this are a pause (rule `pause-is-a-restart`) while
    /// the pair is whole. Half the slowest peer path's `retries × timeout`: the peer
    /// promotes on its own only once all three paths are down (rule
    /// `all-paths-down-together`), so not before the slowest of them has failed
    /// `retries` times; the half is the margin for attempts that had already failed
    /// before the pause. The peer's faster way, a fenced frame (rule
    /// `fenced-peer-hands-over`), needs a frame from this node, which a paused node
    /// cannot send.
    pub fn pause_threshold(&self) -> Duration {
        self.slowest_peer_detection() / 2
    }

    /// Rule `sync-epoch`: a standby whose WAL sender has not been streaming for this
    /// long is gone, and `sync` degrades. The failure window: as long as the pair
    /// gives its peer paths to fail together.
    pub fn sync_away_bound(&self) -> Duration {
        self.effective_failure_window()
    }

    /// Rule `sync-epoch`: how long after it last built an ack saying "synchronous" a
    /// primary stops waiting for a standby that did not acknowledge its asynchronous
    /// epoch: `peer_state_max_age`. A standby's claim lasts that long from when it sent
    /// the ping that ack answered, which was before the ack was built, so the claim has
    /// expired by then however late the ack came.
    pub fn sync_degrade_wait(&self) -> Duration {
        self.peer_state_max_age
    }

    /// The pause threshold while this node's serial path is not up (rule
    /// `pause-is-a-restart`): the peer may already see paths down, and then needs only
    /// the remaining ones to fail — at worst the fastest. Half the fastest peer path's
    /// `retries × timeout`; also what the watchdog's period is derived from, so that
    /// either threshold is noticed.
    pub fn degraded_pause_threshold(&self) -> Duration {
        let fastest = PathId::PEER
            .iter()
            .map(|p| self.path(*p).detection_time())
            .min()
            .unwrap_or(Duration::ZERO);
        fastest / 2
    }
}
