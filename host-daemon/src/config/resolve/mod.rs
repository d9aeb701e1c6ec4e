//! From the file as written to the effective [`Config`]: every default filled in, and
//! the names, addresses, passwords and host facts checked. The engine's timings are only
//! filled in here: the engine checks them, once, against its own bounds (`to_core`).
//!
//! The defaults and the rules are listed in `host-daemon/README.md` ("Configuration").
//! One file per section: `local_db` (with its service), `checks` (the paths, the serial
//! line, the gateway address), `peer`, `vip`, `failover`, `fence`, `control`; `password` holds the
//! password sources of `[local_db]` and `[peer]`, `address` the host-name resolution
//! and the this-host check shared by `[peer]` and `[checks.gateway]`. The top-level
//! keys are resolved here.

mod address;
mod checks;
mod control;
mod failover;
mod fence;
mod hooks;
mod local_db;
mod password;
mod peer;
mod vip;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::defaults::{self as d, Timings};
use super::error::{ConfigError, Warning};
use super::host::HostFacts;
use super::raw::{RawConfig, RawPath};
use super::types::*;
use super::units::DurationStr;

/// Checks that depend on the host the file is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostChecks {
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
    /// The `profile` preset's timings, read first.
    pub timings: Timings,
    /// The settings the preset filled in, for `check-config`.
    pub from_profile: Vec<String>,
}

type R<T> = Result<T, ConfigError>;

fn dur(v: Option<DurationStr>, default: Duration) -> Duration {
    v.map_or(default, |x| x.0)
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

/// `v` when it is an absolute path; otherwise an error naming the field and the value.
fn absolute(field: &str, v: String, expected: &str) -> R<String> {
    if !v.starts_with('/') {
        return Err(ConfigError::invalid(field, format!("{v:?}"), expected));
    }
    Ok(v)
}

/// The error for a setting that has no default and was not given.
fn missing(field: &str, expected: &str) -> ConfigError {
    ConfigError::invalid(field, "(missing)", expected)
}

/// The value of a setting without a default, or an error naming it as missing.
fn required<T>(field: &str, v: Option<T>, expected: &str) -> R<T> {
    v.ok_or_else(|| missing(field, expected))
}

fn non_empty(field: &str, v: Option<String>, default: &str) -> R<String> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.trim().is_empty() {
        return Err(ConfigError::invalid(field, "\"\"", "a non-empty string"));
    }
    Ok(v)
}

impl Resolver<'_> {
    /// `given`, or the profile's `preset` for `field` (noted as the preset's).
    fn timed(&mut self, field: &str, given: Option<DurationStr>, preset: Duration) -> Duration {
        given.map_or_else(
            || {
                self.from_profile.push(field.to_owned());
                preset
            },
            |g| g.0,
        )
    }

    /// A path's attempt settings: the profile's interval and timeout where `raw` gives
    /// none, the default retries; the engine checks them.
    fn path_config(
        &mut self,
        section: &str,
        raw: RawPath,
        (interval, timeout): (Duration, Duration),
    ) -> PathConfig {
        PathConfig {
            interval: self.timed(&format!("{section}.interval"), raw.interval, interval),
            timeout: self.timed(&format!("{section}.timeout"), raw.timeout, timeout),
            retries: raw.retries.unwrap_or(d::RETRIES),
        }
    }

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
        let profile = match raw.profile.as_deref() {
            None => Profile::default(),
            Some(name) => Profile::from_name(name).ok_or_else(|| {
                ConfigError::invalid("profile", format!("{name:?}"), "\"default\" or \"fast\"")
            })?,
        };
        self.timings = profile.timings();
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
        let state_dir = absolute(
            "state_dir",
            raw.state_dir.unwrap_or_else(|| d::STATE_DIR.to_owned()),
            "an absolute path",
        )?;

        let local_db = self.local_db(raw.local_db)?;
        let mut checks = self.checks(raw.checks.unwrap_or_default())?;
        let vip = self.vip(raw.vip)?;
        let peer = self.peer(raw.peer, &local_db.conn, role)?;
        checks.gateway_address = self.gateway_address(checks.gateway_address, role, &peer, &vip)?;
        if vip.address.addr() == peer.address {
            return Err(ConfigError::invalid(
                "vip.address",
                vip.address,
                "an address other than peer.address",
            ));
        }
        let replication = replication_mode(raw.replication.and_then(|r| r.mode))?;
        let failover = self.failover(raw.failover, replication);
        let rejoin = failover::rejoin(raw.rejoin, &local_db.service.manager);
        if !rejoin.bin_dir.is_absolute() {
            return Err(ConfigError::invalid(
                "rejoin.bin_dir",
                format!("{:?}", rejoin.bin_dir.display().to_string()),
                "an absolute path",
            ));
        }
        let fence = fence::fence(raw.fence)?;
        let control = self.control(raw.control)?;
        let hooks = hooks::hooks(raw.hooks)?;

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
        match &peer.node_id {
            None if replication.managed() => {
                return Err(missing(
                    "peer.node_id",
                    "the peer's node_id (its application_name as a standby), which replication.mode = \"sync\" or \"strict\" names in synchronous_standby_names",
                ))
            }
            Some(p) if *p == node_id => {
                return Err(ConfigError::invalid(
                    "peer.node_id",
                    format!("{p:?}"),
                    "the peer's node_id, not this node's",
                ))
            }
            _ => {}
        }

        Ok(Config {
            profile,
            from_profile: std::mem::take(&mut self.from_profile),
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
            control,
            hooks,
            rejoin,
            replication,
        })
    }
}

/// `[replication] mode` (rule `sync-epoch`).
fn replication_mode(v: Option<String>) -> R<twinbeat_core::ReplicationMode> {
    use twinbeat_core::ReplicationMode as M;
    let v = v.unwrap_or_else(|| M::Async.as_str().to_owned());
    [M::Async, M::Sync, M::Strict]
        .into_iter()
        .find(|m| m.as_str() == v)
        .ok_or_else(|| {
            ConfigError::invalid(
                "replication.mode",
                format!("{v:?}"),
                "one of \"async\", \"sync\", \"strict\"",
            )
        })
}
