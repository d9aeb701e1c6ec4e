//! The sections without addresses: passwords, the service, the checks, failover, fence.

use std::path::PathBuf;

use super::net::resolve_host;
use super::{check_interval, dur, path_timing, Resolver, MAX_INTERVAL, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::{RawChecks, RawFailover, RawFence, RawPath, RawService};
use crate::config::types::*;
use crate::config::units::{Size, WindowSetting};

impl Resolver<'_> {
    pub(super) fn password(
        &mut self,
        section: &str,
        inline: Option<String>,
        file: Option<String>,
    ) -> R<Option<PasswordSource>> {
        match (inline, file) {
            (Some(_), Some(f)) => Err(ConfigError::invalid(
                &format!("{section}.password_file"),
                format!("{f:?}"),
                "either password or password_file, not both",
            )),
            (Some(p), None) => Ok(Some(PasswordSource::Inline(Secret(p)))),
            (None, Some(f)) => {
                let field = format!("{section}.password_file");
                if !f.starts_with('/') {
                    return Err(ConfigError::invalid(
                        &field,
                        format!("{f:?}"),
                        "an absolute path",
                    ));
                }
                match std::fs::metadata(&f) {
                    Ok(m) => {
                        use std::os::unix::fs::PermissionsExt;
                        if m.permissions().mode() & 0o077 != 0 {
                            self.warn(&field, format!("{f:?} holds a password and is readable by group or others (mode {:o}): chmod 600 it", m.permissions().mode() & 0o777));
                        }
                    }
                    Err(e) => self.host_problem(
                        &field,
                        format!("{f:?}"),
                        &format!("a readable file ({e})"),
                    )?,
                }
                Ok(Some(PasswordSource::File(PathBuf::from(f))))
            }
            (None, None) => Ok(None),
        }
    }

    pub(super) fn service(&mut self, raw: Option<RawService>) -> R<Service> {
        let raw = raw.unwrap_or_default();
        let f = |k: &str| format!("local_db.service.{k}");
        let data_dir = match raw.data_dir {
            Some(p) if p.starts_with('/') => Some(PathBuf::from(p)),
            Some(p) => {
                return Err(ConfigError::invalid(
                    &f("data_dir"),
                    format!("{p:?}"),
                    "an absolute path (the cluster's data directory)",
                ))
            }
            None => None,
        };
        let manager = match raw.manager.as_deref().unwrap_or(d::MANAGER) {
            "pg_ctl" => ServiceManager::PgCtl {
                pg_ctl: PathBuf::from(raw.pg_ctl.unwrap_or_else(|| d::PG_CTL.to_owned())),
                data_dir: data_dir.ok_or_else(|| {
                    ConfigError::invalid(
                        &f("data_dir"),
                        "(missing)",
                        "the data directory, required with manager = \"pg_ctl\"",
                    )
                })?,
            },
            "systemd" => ServiceManager::Systemd {
                data_dir,
                unit: match raw.unit {
                    Some(u) if !u.trim().is_empty() => u,
                    Some(u) => {
                        return Err(ConfigError::invalid(
                            &f("unit"),
                            format!("{u:?}"),
                            "a unit name",
                        ))
                    }
                    None if raw.manager.is_none() => d::UNIT.to_owned(),
                    None => {
                        return Err(ConfigError::invalid(
                            &f("unit"),
                            "(missing)",
                            "a unit name, required with manager = \"systemd\"",
                        ))
                    }
                },
            },
            "command" => ServiceManager::Command {
                data_dir,
                restart_command: raw
                    .restart_command
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            &f("restart_command"),
                            "(missing)",
                            "a command, required with manager = \"command\"",
                        )
                    })?,
                stop_command: raw
                    .stop_command
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            &f("stop_command"),
                            "(missing)",
                            "a command, required with manager = \"command\"",
                        )
                    })?,
            },
            other => {
                return Err(ConfigError::invalid(
                    &f("manager"),
                    format!("{other:?}"),
                    "one of \"pg_ctl\", \"systemd\", \"command\"",
                ))
            }
        };
        if manager.data_dir().is_none() {
            self.warn(
                &f("data_dir"),
                "not set: learned at start from the local DB (SHOW data_directory); \
                 while it is unknown a stop cannot be confirmed by PID and the start \
                 guard (standby.signal on the primary) is off"
                    .to_owned(),
            );
        }
        let restart_grace = check_interval(
            &f("restart_grace"),
            dur(raw.restart_grace, d::RESTART_GRACE),
        )?;
        Ok(Service {
            manager,
            restart_grace,
        })
    }

    pub(super) fn checks(&mut self, raw: RawChecks) -> R<Checks> {
        let icmp = raw.icmp.unwrap_or_default();
        let ttl = icmp.ttl.unwrap_or(d::TTL);
        let icmp_ttl = u8::try_from(ttl)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| ConfigError::invalid("checks.icmp.ttl", ttl, "a TTL from 1 to 255"))?;
        let icmp_t = path_timing(
            "checks.icmp",
            Some(RawPath {
                interval: icmp.interval,
                timeout: icmp.timeout,
                retries: icmp.retries,
            }),
            (d::ICMP_INTERVAL, d::ICMP_TIMEOUT),
        )?;
        let remote_db = path_timing(
            "checks.remote_db",
            raw.remote_db,
            (d::REMOTE_INTERVAL, d::REMOTE_TIMEOUT),
        )?;
        let ser = raw.serial.unwrap_or_default();
        let serial_baud = ser.baud.unwrap_or(d::BAUD);
        if serial_baud == 0 || serial_baud > 4_000_000 {
            return Err(ConfigError::invalid(
                "checks.serial.baud",
                serial_baud,
                "a speed from 1 to 4000000 baud",
            ));
        }
        let serial_bridge = ser.bridge.unwrap_or(false);
        let serial_device = ser.device.unwrap_or_else(|| d::SERIAL_DEVICE.to_owned());
        if !serial_device.starts_with('/') {
            return Err(ConfigError::invalid(
                "checks.serial.device",
                format!("{serial_device:?}"),
                "an absolute device path such as \"/dev/ttyS0\"",
            ));
        }
        if !std::path::Path::new(&serial_device).exists() {
            self.warn("checks.serial.device", format!("{serial_device:?} does not exist (yet): the serial path counts as down until it appears"));
        }
        let serial = path_timing(
            "checks.serial",
            Some(RawPath {
                interval: ser.interval,
                timeout: ser.timeout,
                retries: ser.retries,
            }),
            (d::SERIAL_INTERVAL, d::SERIAL_TIMEOUT),
        )?;
        if serial.timeout > serial.interval {
            return Err(ConfigError::invalid(
                "checks.serial.timeout",
                format!(
                    "{:?}",
                    crate::config::units::format_duration(serial.timeout)
                ),
                format!(
                    "at most checks.serial.interval ({}): an ack must be back before the next ping",
                    crate::config::units::format_duration(serial.interval)
                ),
            ));
        }
        let gw = raw.gateway.unwrap_or_default();
        let gateway_address = match gw.address {
            Some(a) => Some(resolve_host("checks.gateway.address", &a)?),
            None => None,
        };
        let gateway = path_timing(
            "checks.gateway",
            Some(RawPath {
                interval: gw.interval,
                timeout: gw.timeout,
                retries: gw.retries,
            }),
            (d::GATEWAY_INTERVAL, d::GATEWAY_TIMEOUT),
        )?;
        Ok(Checks {
            icmp: icmp_t,
            icmp_ttl,
            remote_db,
            serial,
            serial_device: PathBuf::from(serial_device),
            serial_baud,
            serial_bridge,
            gateway,
            gateway_address,
        })
    }

    pub(super) fn failover(&mut self, raw: Option<RawFailover>, checks: &Checks) -> R<Failover> {
        let raw = raw.unwrap_or_default();
        let slowest = [checks.icmp, checks.remote_db, checks.serial]
            .iter()
            .map(PathTiming::detection_time)
            .max()
            .unwrap_or_default();
        let (failure_window, failure_window_auto) =
            match raw.failure_window.unwrap_or(WindowSetting::Auto) {
                WindowSetting::Auto => (slowest.saturating_mul(2), true),
                WindowSetting::Fixed(w) => {
                    if w < slowest {
                        return Err(ConfigError::invalid(
                            "failover.failure_window",
                            format!("{:?}", crate::config::units::format_duration(w)),
                            format!(
                                "\"auto\" or at least the slowest path's retries × timeout ({})",
                                crate::config::units::format_duration(slowest)
                            ),
                        ));
                    }
                    (w, false)
                }
            };
        let startup_grace = dur(raw.startup_grace, d::STARTUP_GRACE);
        if startup_grace > MAX_INTERVAL {
            return Err(ConfigError::invalid(
                "failover.startup_grace",
                format!("{:?}", crate::config::units::format_duration(startup_grace)),
                "at most 1h",
            ));
        }
        let peer_state_max_age = dur(raw.peer_state_max_age, d::PEER_STATE_MAX_AGE);
        if peer_state_max_age <= checks.serial.interval {
            return Err(ConfigError::invalid(
                "failover.peer_state_max_age",
                format!(
                    "{:?}",
                    crate::config::units::format_duration(peer_state_max_age)
                ),
                format!(
                    "longer than checks.serial.interval ({}), or every peer state is stale",
                    crate::config::units::format_duration(checks.serial.interval)
                ),
            ));
        }
        Ok(Failover {
            startup_grace,
            failure_window,
            failure_window_auto,
            promote_when_degraded: raw.promote_when_degraded.unwrap_or(false),
            max_lag_on_failover: raw.max_lag_on_failover.unwrap_or(Size(d::MAX_LAG)).0,
            peer_state_max_age,
        })
    }

    pub(super) fn fence(&mut self, raw: Option<RawFence>) -> R<FenceAction> {
        let raw = raw.unwrap_or_default();
        match raw.action.as_deref().unwrap_or("stop-db") {
            "stop-db" => Ok(FenceAction::StopDb),
            "poweroff" => Ok(FenceAction::Poweroff),
            "command" => raw
                .command
                .filter(|c| !c.trim().is_empty())
                .map(FenceAction::Command)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "fence.command",
                        "(missing)",
                        "a command, required with action = \"command\"",
                    )
                }),
            other => Err(ConfigError::invalid(
                "fence.action",
                format!("{other:?}"),
                "one of \"stop-db\", \"poweroff\", \"command\"",
            )),
        }
    }
}
