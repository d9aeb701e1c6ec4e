//! The engine's configuration errors in the daemon's one-line form: each typed field id
//! named as the file names it, the value as written, and what the engine's bounds
//! accept (rule `config-names-field-and-value`). The bounds themselves are the
//! engine's; only the words are here.

use twinbeat_core::{self as engine, ConfigField, DurationRange, PathId};

use super::error::ConfigError;
use super::units::format_duration;

/// The name a field of the engine's config has in the file.
pub(super) fn file_name(field: ConfigField) -> String {
    let path_key = |path: PathId, key: &str| match path {
        PathId::LocalDb if key == "interval" => "local_db.check_interval".to_owned(),
        PathId::LocalDb => format!("local_db.{key}"),
        p => format!("checks.{}.{key}", p.name()),
    };
    match field {
        ConfigField::Interval(p) => path_key(p, "interval"),
        ConfigField::Timeout(p) => path_key(p, "timeout"),
        ConfigField::Retries(p) => path_key(p, "retries"),
        ConfigField::RestartGrace => "local_db.service.restart_grace".to_owned(),
        ConfigField::StartupGrace => "failover.startup_grace".to_owned(),
        ConfigField::FailureWindow => "failover.failure_window".to_owned(),
        ConfigField::PeerStateMaxAge => "failover.peer_state_max_age".to_owned(),
        ConfigField::ArpProbeTimeout => "vip.arp_probe_timeout".to_owned(),
        ConfigField::RejoinTimeout => "rejoin.timeout".to_owned(),
        ConfigField::AutoRejoinAttempts => "failover.auto_rejoin_attempts".to_owned(),
        ConfigField::SwitchoverTimeout => "failover.switchover_timeout".to_owned(),
    }
}

/// What a duration field accepts, in words: "an interval from 1ms to 1h".
fn expected_range(field: ConfigField, range: DurationRange) -> String {
    let noun = match field {
        ConfigField::Interval(_) | ConfigField::RestartGrace => "an interval",
        ConfigField::Timeout(_) | ConfigField::ArpProbeTimeout => "a timeout",
        _ => "a duration",
    };
    let zero = if range.zero_ok { "0 or " } else { "" };
    format!(
        "{zero}{noun} from {} to {}",
        format_duration(range.min),
        format_duration(range.max)
    )
}

/// Folds the engine's validation error into the daemon's one config error type.
pub(super) fn from_core_error(e: engine::ConfigError) -> ConfigError {
    let field = file_name(e.field());
    let quoted = |d| format!("{:?}", format_duration(d));
    let serial_interval = file_name(ConfigField::Interval(PathId::Serial));
    match e {
        engine::ConfigError::DurationOutOfRange {
            field: f,
            value,
            range,
        } => ConfigError::invalid(&field, quoted(value), expected_range(f, range)),
        engine::ConfigError::RetriesOutOfRange { value, .. } => ConfigError::invalid(
            &field,
            value,
            format!("retries from 1 to {}", engine::MAX_RETRIES),
        ),
        engine::ConfigError::SerialTimeoutOverInterval { timeout, interval } => {
            ConfigError::invalid(
                &field,
                quoted(timeout),
                format!(
                    "at most {serial_interval} ({}): an ack must be back before the next ping",
                    format_duration(interval)
                ),
            )
        }
        engine::ConfigError::LocalTimeoutNotBelowRestartGrace {
            timeout,
            restart_grace,
        } => ConfigError::invalid(
            &field,
            quoted(timeout),
            format!(
                "less than {} ({})",
                file_name(ConfigField::RestartGrace),
                format_duration(restart_grace)
            ),
        ),
        engine::ConfigError::PeerStateMaxAgeNotAboveSerialInterval {
            value,
            serial_interval: interval,
        } => ConfigError::invalid(
            &field,
            quoted(value),
            format!(
                "longer than {serial_interval} ({}), or every peer state is stale",
                format_duration(interval)
            ),
        ),
        engine::ConfigError::FailureWindowTooShort { value, min } => ConfigError::invalid(
            &field,
            quoted(value),
            format!(
                "\"auto\" or at least the slowest path's retries × timeout ({})",
                format_duration(min)
            ),
        ),
    }
}
