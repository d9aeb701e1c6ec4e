//! From the file as written to the effective [`Config`]: defaults, then the rules.
//!
//! The defaults and the rules are listed in `host-daemon/README.md` ("Configuration").
//! `net` resolves the addresses (peer, gateway, VIP), `parts` the other sections.

mod net;
mod parts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::defaults as d;
use super::error::{ConfigError, Warning};
use super::host::HostFacts;
use super::raw::{RawConfig, RawPath};
use super::types::*;
use super::units::{DurationStr, Port};

/// Longest allowed per-attempt timeout: past a minute a probe no longer detects anything.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest allowed check interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Most retries allowed for any check.
pub const MAX_RETRIES: u32 = 1000;

/// Checks that depend on the host the file is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostChecks {
    /// Host-dependent problems are warnings (`check-config` on any machine).
    Warn,
    /// Host-dependent problems are errors (`run`, `check-config --strict`).
    Enforce,
}

pub(crate) struct Resolver<'a> {
    pub facts: &'a HostFacts,
    pub mode: HostChecks,
    pub env_password: Option<String>,
    pub warnings: Vec<Warning>,
}

type R<T> = Result<T, ConfigError>;

fn dur(v: Option<DurationStr>, default: Duration) -> Duration {
    v.map_or(default, |x| x.0)
}

fn check_interval(field: &str, v: Duration) -> R<Duration> {
    if v.is_zero() || v > MAX_INTERVAL {
        return Err(ConfigError::invalid(
            field,
            format!("{:?}", super::units::format_duration(v)),
            "an interval from 1ms to 1h",
        ));
    }
    Ok(v)
}

fn check_timeout(field: &str, v: Duration) -> R<Duration> {
    if v.is_zero() || v > MAX_TIMEOUT {
        return Err(ConfigError::invalid(
            field,
            format!("{:?}", super::units::format_duration(v)),
            "a timeout from 1ms to 60s",
        ));
    }
    Ok(v)
}

fn check_retries(field: &str, v: u32) -> R<u32> {
    if v == 0 || v > MAX_RETRIES {
        return Err(ConfigError::invalid(
            field,
            v,
            format!("retries from 1 to {MAX_RETRIES}"),
        ));
    }
    Ok(v)
}

fn path_timing(section: &str, raw: Option<RawPath>, def: (Duration, Duration)) -> R<PathTiming> {
    let raw = raw.unwrap_or_default();
    Ok(PathTiming {
        interval: check_interval(&format!("{section}.interval"), dur(raw.interval, def.0))?,
        timeout: check_timeout(&format!("{section}.timeout"), dur(raw.timeout, def.1))?,
        retries: check_retries(
            &format!("{section}.retries"),
            raw.retries.unwrap_or(d::RETRIES),
        )?,
    })
}

fn name_like(field: &str, v: &str) -> R<()> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if !ok {
        return Err(ConfigError::invalid(
            field,
            format!("{v:?}"),
            "1 to 64 characters from A-Z a-z 0-9 . _ - :",
        ));
    }
    Ok(())
}

fn non_empty(field: &str, v: Option<String>, default: &str) -> R<String> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.trim().is_empty() {
        return Err(ConfigError::invalid(field, "\"\"", "a non-empty string"));
    }
    Ok(v)
}

impl Resolver<'_> {
    fn warn(&mut self, field: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// A problem that only matters on the target host: an error under
    /// [`HostChecks::Enforce`], a warning otherwise.
    fn host_problem(
        &mut self,
        field: &str,
        value: impl std::fmt::Display,
        expected: &str,
    ) -> R<()> {
        match self.mode {
            HostChecks::Enforce => Err(ConfigError::invalid(field, value, expected)),
            HostChecks::Warn => {
                self.warn(field, format!("invalid value {value} on this host: expected {expected} (`run` refuses this)"));
                Ok(())
            }
        }
    }

    pub(crate) fn resolve(&mut self, raw: RawConfig) -> R<Config> {
        let role = match raw.role.as_deref().unwrap_or("auto") {
            "auto" => RolePin::Auto,
            "master" => RolePin::Master,
            "standby" => RolePin::Standby,
            other => {
                return Err(ConfigError::invalid(
                    "role",
                    format!("{other:?}"),
                    "one of \"auto\", \"master\", \"standby\"",
                ))
            }
        };
        let state_dir = raw.state_dir.unwrap_or_else(|| d::STATE_DIR.to_owned());
        if !state_dir.starts_with('/') {
            return Err(ConfigError::invalid(
                "state_dir",
                format!("{state_dir:?}"),
                "an absolute path",
            ));
        }

        // [local_db]
        let ldb = raw.local_db.unwrap_or_default();
        let local_pw = self.password("local_db", ldb.password, ldb.password_file)?;
        let local_pw = match local_pw {
            Some(p) => p,
            None => self
                .env_password
                .clone()
                .map_or(PasswordSource::None, |p| PasswordSource::Env(Secret(p))),
        };
        let conn = DbConn {
            host: non_empty("local_db.host", ldb.host, d::DB_HOST)?,
            port: ldb.port.unwrap_or(Port(d::DB_PORT)).0,
            user: non_empty("local_db.user", ldb.user, d::DB_USER)?,
            password: local_pw,
            dbname: non_empty("local_db.dbname", ldb.dbname, d::DB_NAME)?,
        };
        let check_interval_v = check_interval(
            "local_db.check_interval",
            dur(ldb.check_interval, d::LOCAL_INTERVAL),
        )?;
        let timeout = check_timeout("local_db.timeout", dur(ldb.timeout, d::LOCAL_TIMEOUT))?;
        let retries = check_retries("local_db.retries", ldb.retries.unwrap_or(d::RETRIES))?;
        let service = self.service(ldb.service)?;
        if timeout >= service.restart_grace {
            return Err(ConfigError::invalid(
                "local_db.timeout",
                format!("{:?}", super::units::format_duration(timeout)),
                format!(
                    "less than local_db.service.restart_grace ({})",
                    super::units::format_duration(service.restart_grace)
                ),
            ));
        }
        let local_db = LocalDb {
            conn,
            check_interval: check_interval_v,
            timeout,
            retries,
            service,
        };

        let checks_raw = raw.checks.unwrap_or_default();
        let checks = self.checks(checks_raw)?;
        let vip = self.vip(raw.vip)?;
        let peer = self.peer(raw.peer, &local_db.conn, role)?;
        let mut checks = checks;
        checks.gateway_address = self.gateway(checks.gateway_address, role, &peer, &vip)?;
        if vip.address.addr() == peer.address {
            return Err(ConfigError::invalid(
                "vip.address",
                vip.address,
                "an address other than peer.address",
            ));
        }

        let failover = self.failover(raw.failover, &checks)?;
        let fence = self.fence(raw.fence)?;
        let listen_s = raw
            .status
            .and_then(|s| s.listen)
            .unwrap_or_else(|| d::LISTEN.to_owned());
        let listen: SocketAddr = listen_s.parse().map_err(|_| {
            ConfigError::invalid(
                "status.listen",
                format!("{listen_s:?}"),
                "an IP:port address such as \"127.0.0.1:8432\"",
            )
        })?;

        let (cluster_id, cluster_id_derived) = match raw.cluster_id {
            Some(c) => {
                name_like("cluster_id", &c)?;
                (c, false)
            }
            None => (vip.address.addr().to_string(), true),
        };
        let node_id = match raw.node_id {
            Some(n) => n,
            None => self
                .facts
                .hostname
                .clone()
                .unwrap_or_else(|| "twinbeat".to_owned()),
        };
        name_like("node_id", &node_id)?;

        Ok(Config {
            cluster_id,
            cluster_id_derived,
            node_id,
            role,
            state_dir: PathBuf::from(state_dir),
            local_db,
            peer,
            checks,
            vip,
            failover,
            fence,
            status: StatusListen { listen },
        })
    }
}
