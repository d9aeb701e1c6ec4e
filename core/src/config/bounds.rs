//! The one set of bounds on the engine's settings, and the typed ids of the fields they
//! apply to. The daemon maps each [`ConfigField`] to the name it has in the file, so
//! its errors can name the field and the value (rule `config-names-field-and-value`).

use core::fmt;
use core::time::Duration;

use crate::types::PathId;

/// Shortest duration a positive setting accepts: sub-millisecond timings are below
/// what the daemon's timers can honour.
pub const MIN_DURATION: Duration = Duration::from_millis(1);

/// Longest check interval (and restart or startup grace): an hour between attempts
/// no longer watches anything.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Longest attempt window: past a minute a probe no longer detects anything.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest duration any other setting accepts: a day. Longer values are typos (a
/// missing unit) and would also make saturating time arithmetic meaningless.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Most retries any path accepts; at least one is needed, or a path would be down
/// before any attempt.
pub const MAX_RETRIES: u32 = 1000;

/// One setting of the engine's [`Config`](super::Config), named by what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigField {
    /// A path's `interval`.
    Interval(PathId),
    /// A path's `timeout` (the window of every attempt).
    Timeout(PathId),
    /// A path's `retries`.
    Retries(PathId),
    /// `restart_grace`.
    RestartGrace,
    /// `startup_grace`.
    StartupGrace,
    /// `failure_window`.
    FailureWindow,
    /// `peer_state_max_age`.
    PeerStateMaxAge,
    /// `arp_probe_timeout`.
    ArpProbeTimeout,
    /// `rejoin_timeout`.
    RejoinTimeout,
    /// `auto_rejoin_attempts`.
    AutoRejoinAttempts,
    /// `switchover_timeout`.
    SwitchoverTimeout,
}

impl fmt::Display for ConfigField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigField::Interval(p) => write!(f, "{}.interval", p.name()),
            ConfigField::Timeout(p) => write!(f, "{}.timeout", p.name()),
            ConfigField::Retries(p) => write!(f, "{}.retries", p.name()),
            ConfigField::RestartGrace => f.write_str("restart_grace"),
            ConfigField::StartupGrace => f.write_str("startup_grace"),
            ConfigField::FailureWindow => f.write_str("failure_window"),
            ConfigField::PeerStateMaxAge => f.write_str("peer_state_max_age"),
            ConfigField::ArpProbeTimeout => f.write_str("arp_probe_timeout"),
            ConfigField::RejoinTimeout => f.write_str("rejoin_timeout"),
            ConfigField::AutoRejoinAttempts => f.write_str("auto_rejoin_attempts"),
            ConfigField::SwitchoverTimeout => f.write_str("switchover_timeout"),
        }
    }
}

/// The durations one field accepts: `min..=max`, and zero as well when `zero_ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationRange {
    /// Shortest accepted positive value.
    pub min: Duration,
    /// Longest accepted value.
    pub max: Duration,
    /// Zero is accepted too (it switches the setting off).
    pub zero_ok: bool,
}

impl DurationRange {
    const fn positive(max: Duration) -> Self {
        DurationRange {
            min: MIN_DURATION,
            max,
            zero_ok: false,
        }
    }

    /// Whether `value` is accepted.
    pub fn contains(&self, value: Duration) -> bool {
        (value >= self.min || (self.zero_ok && value.is_zero())) && value <= self.max
    }
}

impl ConfigField {
    /// The accepted range of a duration field; `None` for a retry count (which
    /// accepts `1..=MAX_RETRIES`).
    pub const fn duration_range(self) -> Option<DurationRange> {
        Some(match self {
            ConfigField::Interval(_) | ConfigField::RestartGrace => {
                DurationRange::positive(MAX_INTERVAL)
            }
            ConfigField::Timeout(_) | ConfigField::ArpProbeTimeout => {
                DurationRange::positive(MAX_TIMEOUT)
            }
            // Zero: no grace, a fresh standby may promote at once (rule `startup-grace`).
            ConfigField::StartupGrace => DurationRange {
                zero_ok: true,
                ..DurationRange::positive(MAX_INTERVAL)
            },
            ConfigField::FailureWindow
            | ConfigField::PeerStateMaxAge
            | ConfigField::RejoinTimeout
            | ConfigField::SwitchoverTimeout => DurationRange::positive(MAX_DURATION),
            ConfigField::Retries(_) | ConfigField::AutoRejoinAttempts => return None,
        })
    }
}
