//! Checking a configuration before the engine runs with it, against the bounds of
//! `bounds`, and the error naming the offending field and value (rule
//! `config-names-field-and-value`).

use core::fmt;
use core::time::Duration;

use super::bounds::{ConfigField, DurationRange, MAX_RETRIES};
use super::Config;
use crate::types::PathId;

/// A configuration value the engine cannot run with. Every variant names the field
/// (a typed [`ConfigField`]; the daemon prints the file's name for it) and the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A duration outside its field's range ([`ConfigField::duration_range`]).
    DurationOutOfRange {
        /// The field.
        field: ConfigField,
        /// The value given.
        value: Duration,
        /// What the field accepts.
        range: DurationRange,
    },
    /// A retry count outside `1..=MAX_RETRIES`.
    RetriesOutOfRange {
        /// The field, a [`ConfigField::Retries`].
        field: ConfigField,
        /// The value given.
        value: u32,
    },
    /// `serial.timeout` is longer than `serial.interval`: the ack of one ping must be
    /// back before the next ping is due.
    SerialTimeoutOverInterval {
        /// `serial.timeout`.
        timeout: Duration,
        /// `serial.interval`.
        interval: Duration,
    },
    /// `local_db.timeout` is not shorter than `restart_grace`: a restarted database
    /// could not answer one check within its grace (rule `local-db-restart-once`).
    LocalTimeoutNotBelowRestartGrace {
        /// `local_db.timeout`.
        timeout: Duration,
        /// `restart_grace`.
        restart_grace: Duration,
    },
    /// `peer_state_max_age` is not longer than `serial.interval`: every peer state
    /// would be stale before the next one arrives (rule `fence-when-standby-can-take-over`).
    PeerStateMaxAgeNotAboveSerialInterval {
        /// `peer_state_max_age`.
        value: Duration,
        /// `serial.interval`.
        serial_interval: Duration,
    },
    /// The failure window is shorter than the slowest peer path's `retries × timeout`,
    /// so a dead master could never have all its paths down "together" (rule
    /// `all-paths-down-together`).
    FailureWindowTooShort {
        /// The value given.
        value: Duration,
        /// The smallest accepted value.
        min: Duration,
    },
}

impl ConfigError {
    /// The field the error is about.
    pub const fn field(&self) -> ConfigField {
        match self {
            ConfigError::DurationOutOfRange { field, .. }
            | ConfigError::RetriesOutOfRange { field, .. } => *field,
            ConfigError::SerialTimeoutOverInterval { .. } => ConfigField::Timeout(PathId::Serial),
            ConfigError::LocalTimeoutNotBelowRestartGrace { .. } => {
                ConfigField::Timeout(PathId::LocalDb)
            }
            ConfigError::PeerStateMaxAgeNotAboveSerialInterval { .. } => {
                ConfigField::PeerStateMaxAge
            }
            ConfigError::FailureWindowTooShort { .. } => ConfigField::FailureWindow,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field();
        match self {
            ConfigError::DurationOutOfRange { value, range, .. } => write!(
                f,
                "{field}: {} us is outside {} us ..= {} us",
                value.as_micros(),
                range.min.as_micros(),
                range.max.as_micros()
            ),
            ConfigError::RetriesOutOfRange { value, .. } => {
                write!(f, "{field}: {value} is outside 1 ..= {MAX_RETRIES}")
            }
            ConfigError::SerialTimeoutOverInterval { timeout, interval } => write!(
                f,
                "{field}: {} ms is longer than serial.interval ({} ms)",
                timeout.as_millis(),
                interval.as_millis()
            ),
            ConfigError::LocalTimeoutNotBelowRestartGrace {
                timeout,
                restart_grace,
            } => write!(
                f,
                "{field}: {} ms is not shorter than restart_grace ({} ms)",
                timeout.as_millis(),
                restart_grace.as_millis()
            ),
            ConfigError::PeerStateMaxAgeNotAboveSerialInterval {
                value,
                serial_interval,
            } => write!(
                f,
                "{field}: {} ms is not longer than serial.interval ({} ms)",
                value.as_millis(),
                serial_interval.as_millis()
            ),
            ConfigError::FailureWindowTooShort { value, min } => write!(
                f,
                "{field}: {} ms is shorter than the slowest path's retries x timeout ({} ms)",
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

fn check_duration(field: ConfigField, value: Duration) -> Result<(), ConfigError> {
    match field.duration_range() {
        Some(range) if !range.contains(value) => Err(ConfigError::DurationOutOfRange {
            field,
            value,
            range,
        }),
        _ => Ok(()),
    }
}

fn check_path(c: &Config, path: PathId) -> Result<(), ConfigError> {
    let p = c.path(path);
    check_duration(ConfigField::Interval(path), p.interval)?;
    check_duration(ConfigField::Timeout(path), p.timeout)?;
    if !(1..=MAX_RETRIES).contains(&p.retries) {
        return Err(ConfigError::RetriesOutOfRange {
            field: ConfigField::Retries(path),
            value: p.retries,
        });
    }
    Ok(())
}

impl Config {
    /// Checks every field; the first problem found is returned, in the order the
    /// daemon's file lists the settings (`[local_db]`, `[checks]`, `[vip]`,
    /// `[failover]`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_path(self, PathId::LocalDb)?;
        check_duration(ConfigField::RestartGrace, self.restart_grace)?;
        if self.local_db.timeout >= self.restart_grace {
            return Err(ConfigError::LocalTimeoutNotBelowRestartGrace {
                timeout: self.local_db.timeout,
                restart_grace: self.restart_grace,
            });
        }
        for path in [PathId::Icmp, PathId::RemoteDb, PathId::Serial] {
            check_path(self, path)?;
        }
        if self.serial.timeout > self.serial.interval {
            return Err(ConfigError::SerialTimeoutOverInterval {
                timeout: self.serial.timeout,
                interval: self.serial.interval,
            });
        }
        check_path(self, PathId::Gateway)?;
        check_duration(ConfigField::ArpProbeTimeout, self.arp_probe_timeout)?;
        if let Some(w) = self.failure_window {
            // The slowest path's detection time is at least `MIN_DURATION` (every
            // timeout and retry count passed), so this also keeps the window positive.
            let min = self.slowest_peer_detection();
            if w < min {
                return Err(ConfigError::FailureWindowTooShort { value: w, min });
            }
            check_duration(ConfigField::FailureWindow, w)?;
        }
        check_duration(ConfigField::StartupGrace, self.startup_grace)?;
        check_duration(ConfigField::PeerStateMaxAge, self.peer_state_max_age)?;
        if self.peer_state_max_age <= self.serial.interval {
            return Err(ConfigError::PeerStateMaxAgeNotAboveSerialInterval {
                value: self.peer_state_max_age,
                serial_interval: self.serial.interval,
            });
        }
        check_duration(ConfigField::RejoinTimeout, self.rejoin_timeout)?;
        check_duration(ConfigField::SwitchoverTimeout, self.switchover_timeout)?;
        if !(1..=MAX_RETRIES).contains(&self.auto_rejoin_attempts) {
            return Err(ConfigError::RetriesOutOfRange {
                field: ConfigField::AutoRejoinAttempts,
                value: self.auto_rejoin_attempts,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::bounds::{MAX_INTERVAL, MAX_TIMEOUT};
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_design() {
        let c = Config::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.effective_failure_window(), Duration::from_secs(2));
        // Rule `pause-is-a-restart`: half the slowest peer path's 5 × 200 ms (remote_db,
        // serial) while the pair is whole; half the fastest's 5 × 100 ms (icmp) while
        // the serial path is not up.
        assert_eq!(c.pause_threshold(), Duration::from_millis(500));
        assert_eq!(c.degraded_pause_threshold(), Duration::from_millis(250));
    }

    #[test]
    fn validate_names_field_and_value() {
        let mut c = Config::default();
        c.icmp.timeout = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::DurationOutOfRange {
                field: ConfigField::Timeout(PathId::Icmp),
                value: Duration::ZERO,
                range: DurationRange {
                    min: Duration::from_millis(1),
                    max: MAX_TIMEOUT,
                    zero_ok: false
                }
            })
        );
        let mut c = Config::default();
        c.serial.retries = 0;
        assert_eq!(
            c.validate(),
            Err(ConfigError::RetriesOutOfRange {
                field: ConfigField::Retries(PathId::Serial),
                value: 0
            })
        );
        let c = Config {
            restart_grace: Duration::from_secs(100_000),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::DurationOutOfRange {
                field: ConfigField::RestartGrace,
                value,
                range: DurationRange { max: MAX_INTERVAL, .. },
            }) if value == Duration::from_secs(100_000)
        ));
        let c = Config {
            failure_window: Some(Duration::from_millis(10)),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::FailureWindowTooShort { .. })
        ));
    }

    #[test]
    fn relations_between_fields_are_checked() {
        let mut c = Config::default();
        c.serial.timeout = c.serial.interval + Duration::from_millis(1);
        assert_eq!(
            c.validate().map_err(|e| e.field()),
            Err(ConfigField::Timeout(PathId::Serial))
        );
        let mut c = Config::default();
        c.local_db.timeout = c.restart_grace;
        assert_eq!(
            c.validate().map_err(|e| e.field()),
            Err(ConfigField::Timeout(PathId::LocalDb))
        );
        let mut c = Config::default();
        c.peer_state_max_age = c.serial.interval;
        assert_eq!(
            c.validate().map_err(|e| e.field()),
            Err(ConfigField::PeerStateMaxAge)
        );
        let c = Config {
            startup_grace: Duration::ZERO,
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
    }
}
