//! Engine configuration: every path's timing, the role pin and the failover settings.

use core::fmt;
use core::time::Duration;

use crate::types::{NodeId, PathId};

/// Timing of one path (design §2 "Paths and attempts").
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
    /// The role comes from PostgreSQL and the persisted state (rule 12).
    #[default]
    Auto,
    /// The node must start as the master; a disagreeing start is refused.
    Master,
    /// The node must start as the standby; a disagreeing start is refused.
    Standby,
}

/// The engine's configuration. `Default` gives the design's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id; on an equal term the smaller id wins (rule 11).
    pub node_id: NodeId,
    /// Role pin (rule 12).
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
    /// healthy to end an incident (rule 2).
    pub restart_grace: Duration,
    /// A fresh standby does not promote before hearing the master or this long (rule 7);
    /// also how long a held node waits for its peer (rule 12).
    pub startup_grace: Duration,
    /// Paths must go down within this of each other to count as "together" (rule 4).
    /// `None`: twice the slowest peer path's `retries × timeout`.
    pub failure_window: Option<Duration>,
    /// Promote even when one path had been down long before the others (rule 4).
    pub promote_when_degraded: bool,
    /// Largest replication lag, in bytes, a promotion accepts (rule 5).
    pub max_lag_on_failover: u64,
    /// Oldest peer state a master trusts when deciding to fence (rule 8).
    pub peer_state_max_age: Duration,
    /// How long the daemon's VIP ARP probe may take before it counts as failed (rule 5).
    pub arp_probe_timeout: Duration,
    /// The serial cable runs through a heartbeat bridge whose `BridgeStatus` reports
    /// judge the serial path too (`checks.serial.bridge`; see the engine's `bridge`).
    pub serial_bridge: bool,
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
            serial_bridge: false,
        }
    }
}

/// Period of the heartbeat bridge's unsolicited `BridgeStatus` on each side: the
/// firmware's default (`twinbeat-link`, `BridgeConfig::DEFAULT.status_interval_ms`).
pub const BRIDGE_STATUS_PERIOD: Duration = Duration::from_millis(500);

/// Longest duration any setting accepts: a day. Longer values are typos (a missing
/// unit) and would also make saturating time arithmetic meaningless.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Shortest duration a positive setting accepts: the engine schedules in microseconds,
/// and sub-millisecond timings are below what the daemon's timers can honour.
pub const MIN_DURATION: Duration = Duration::from_millis(1);

/// A configuration value the engine cannot run with. Every variant names the field
/// (as written in the TOML file) and the offending value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A duration is shorter than [`MIN_DURATION`] (zero included).
    TooShort {
        /// The field, e.g. `"checks.icmp.timeout"`.
        field: &'static str,
        /// The value given.
        value: Duration,
    },
    /// A duration is longer than [`MAX_DURATION`].
    DurationTooLong {
        /// The field.
        field: &'static str,
        /// The value given.
        value: Duration,
    },
    /// A retry count is zero (a path would be down before any attempt).
    ZeroRetries {
        /// The field, e.g. `"checks.serial.retries"`.
        field: &'static str,
    },
    /// The failure window is shorter than the slowest peer path's `retries × timeout`,
    /// so a dead master could never have all its paths down "together".
    FailureWindowTooShort {
        /// The value given.
        value: Duration,
        /// The smallest accepted value.
        min: Duration,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooShort { field, value } => write!(
                f,
                "{field}: {} us is shorter than the minimum of 1 ms",
                value.as_micros()
            ),
            ConfigError::DurationTooLong { field, value } => write!(
                f,
                "{field}: {} ms is longer than the maximum of {} s",
                value.as_millis(),
                MAX_DURATION.as_secs()
            ),
            ConfigError::ZeroRetries { field } => write!(f, "{field}: must be >= 1, got 0"),
            ConfigError::FailureWindowTooShort { value, min } => write!(
                f,
                "failover.failure_window: {} ms is shorter than the slowest path's retries x timeout ({} ms)",
                value.as_millis(),
                min.as_millis()
            ),
        }
    }
}

#[cfg(feature = "std")]
extern crate std;
#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

fn check_duration(field: &'static str, value: Duration, zero_ok: bool) -> Result<(), ConfigError> {
    if value < MIN_DURATION && !(zero_ok && value.is_zero()) {
        return Err(ConfigError::TooShort { field, value });
    }
    if value > MAX_DURATION {
        return Err(ConfigError::DurationTooLong { field, value });
    }
    Ok(())
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
    /// it) is silent. `max(serial.retries × serial.interval, 3 × BRIDGE_STATUS_PERIOD)`:
    /// as patient as the ping/ack judgement at its own pace, and never fewer than three
    /// missed reports, so one lost or corrupt status frame is not a broken line.
    pub fn bridge_silence_bound(&self) -> Duration {
        self.serial
            .interval
            .saturating_mul(self.serial.retries)
            .max(BRIDGE_STATUS_PERIOD.saturating_mul(3))
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

    /// Scheduling gaps longer than this are a pause (rule 13). It is half the fastest
    /// peer path's `retries × timeout`: the peer cannot have seen all three paths down
    /// in less time than that, so a shorter gap is harmless and a longer one is not.
    pub fn pause_threshold(&self) -> Duration {
        let fastest = PathId::PEER
            .iter()
            .map(|p| self.path(*p).detection_time())
            .min()
            .unwrap_or(Duration::ZERO);
        fastest / 2
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const PATHS: [(PathId, [&str; 3]); 5] = [
            (
                PathId::Icmp,
                [
                    "checks.icmp.interval",
                    "checks.icmp.timeout",
                    "checks.icmp.retries",
                ],
            ),
            (
                PathId::RemoteDb,
                [
                    "checks.remote_db.interval",
                    "checks.remote_db.timeout",
                    "checks.remote_db.retries",
                ],
            ),
            (
                PathId::Serial,
                [
                    "checks.serial.interval",
                    "checks.serial.timeout",
                    "checks.serial.retries",
                ],
            ),
            (
                PathId::Gateway,
                [
                    "checks.gateway.interval",
                    "checks.gateway.timeout",
                    "checks.gateway.retries",
                ],
            ),
            (
                PathId::LocalDb,
                [
                    "local_db.check_interval",
                    "local_db.timeout",
                    "local_db.retries",
                ],
            ),
        ];
        for (path, [interval, timeout, retries]) in PATHS {
            let p = self.path(path);
            check_duration(interval, p.interval, false)?;
            check_duration(timeout, p.timeout, false)?;
            if p.retries == 0 {
                return Err(ConfigError::ZeroRetries { field: retries });
            }
        }
        check_duration("local_db.restart_grace", self.restart_grace, false)?;
        check_duration("failover.startup_grace", self.startup_grace, true)?;
        check_duration(
            "failover.peer_state_max_age",
            self.peer_state_max_age,
            false,
        )?;
        check_duration("vip.arp_probe_timeout", self.arp_probe_timeout, false)?;
        if let Some(w) = self.failure_window {
            check_duration("failover.failure_window", w, false)?;
            let min = self.slowest_peer_detection();
            if w < min {
                return Err(ConfigError::FailureWindowTooShort { value: w, min });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_design() {
        let c = Config::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.effective_failure_window(), Duration::from_secs(2));
        assert_eq!(c.pause_threshold(), Duration::from_millis(250));
    }

    #[test]
    fn validate_names_field_and_value() {
        let mut c = Config::default();
        c.icmp.timeout = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::TooShort {
                field: "checks.icmp.timeout",
                value: Duration::ZERO
            })
        );
        let mut c = Config::default();
        c.serial.retries = 0;
        assert_eq!(
            c.validate(),
            Err(ConfigError::ZeroRetries {
                field: "checks.serial.retries"
            })
        );
        let c = Config {
            restart_grace: Duration::from_secs(100_000),
            ..Config::default()
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::DurationTooLong {
                field: "local_db.restart_grace",
                value: Duration::from_secs(100_000)
            })
        );
        let c = Config {
            failure_window: Some(Duration::from_millis(10)),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::FailureWindowTooShort { .. })
        ));
    }
}
