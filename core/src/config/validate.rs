//! Checking a configuration before the engine runs with it: the accepted duration
//! range and the error naming the offending field.

use core::fmt;
use core::time::Duration;

use super::Config;
use crate::types::PathId;

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
