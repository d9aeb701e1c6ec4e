//! The file as written: every setting optional, unknown keys refused.
//!
//! [`super::resolve`] turns this into the effective [`super::Config`] with every default
//! filled in. The flat JSON format is rewritten into the same shape by
//! [`super::flat`].

use serde::Deserialize;

use super::units::{DurationStr, Port, Size, WindowSetting};

/// The whole file (the TOML contract of `host-daemon/README.md`, or the same shape in
/// JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub profile: Option<String>,
    pub cluster_id: Option<String>,
    pub node_id: Option<String>,
    pub role: Option<String>,
    pub state_dir: Option<String>,
    pub local_db: Option<RawLocalDb>,
    pub peer: Option<RawPeer>,
    pub checks: Option<RawChecks>,
    pub vip: Option<RawVip>,
    pub failover: Option<RawFailover>,
    pub fence: Option<RawFence>,
    pub status: Option<RawStatus>,
    pub control: Option<RawControl>,
    pub rejoin: Option<RawRejoin>,
    pub replication: Option<RawReplication>,
    pub hooks: Option<RawHooks>,
}

/// `[hooks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHooks {
    pub on_role_change: Option<String>,
    pub on_fence: Option<String>,
    pub on_alarm: Option<String>,
    pub timeout: Option<DurationStr>,
}

/// `[replication]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplication {
    pub mode: Option<String>,
}

/// `[local_db]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLocalDb {
    pub host: Option<String>,
    pub port: Option<Port>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub dbname: Option<String>,
    pub check_interval: Option<DurationStr>,
    pub timeout: Option<DurationStr>,
    pub retries: Option<u32>,
    pub service: Option<RawService>,
}

/// `[local_db.service]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub manager: Option<String>,
    pub pg_ctl: Option<String>,
    pub data_dir: Option<String>,
    pub config_file: Option<String>,
    pub unit: Option<String>,
    pub restart_command: Option<String>,
    pub stop_command: Option<String>,
    pub restart_grace: Option<DurationStr>,
}

/// `[peer]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeer {
    pub address: Option<String>,
    pub node_id: Option<String>,
    pub db_port: Option<Port>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
}

/// `[checks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecks {
    pub icmp: Option<RawIcmp>,
    pub remote_db: Option<RawPath>,
    pub serial: Option<RawSerial>,
    pub gateway: Option<RawGateway>,
}

/// `[checks.remote_db]`: the common attempt settings of a path.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPath {
    pub interval: Option<DurationStr>,
    pub timeout: Option<DurationStr>,
    pub retries: Option<u32>,
}

/// `[checks.icmp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIcmp {
    pub interval: Option<DurationStr>,
    pub timeout: Option<DurationStr>,
    pub retries: Option<u32>,
    pub ttl: Option<u32>,
}

/// `[checks.serial]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSerial {
    pub device: Option<String>,
    pub baud: Option<u32>,
    pub interval: Option<DurationStr>,
    pub timeout: Option<DurationStr>,
    pub retries: Option<u32>,
    pub bridge: Option<bool>,
}

/// `[checks.gateway]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub address: Option<String>,
    pub interval: Option<DurationStr>,
    pub timeout: Option<DurationStr>,
    pub retries: Option<u32>,
}

/// `[vip]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVip {
    pub address: Option<String>,
    pub interface: Option<String>,
    pub gratuitous_arp: Option<u32>,
    pub arp_probe_timeout: Option<DurationStr>,
}

/// `[failover]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFailover {
    pub startup_grace: Option<DurationStr>,
    pub failure_window: Option<WindowSetting>,
    pub promote_when_degraded: Option<bool>,
    pub max_lag_on_failover: Option<Size>,
    pub peer_state_max_age: Option<DurationStr>,
    pub auto_rejoin: Option<bool>,
    pub auto_rejoin_attempts: Option<u32>,
    pub switchover_timeout: Option<DurationStr>,
}

/// `[fence]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFence {
    pub action: Option<String>,
    pub command: Option<String>,
}

/// `[status]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatus {
    pub listen: Option<String>,
}

/// `[control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControl {
    pub group: Option<String>,
}

/// `[rejoin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRejoin {
    pub timeout: Option<DurationStr>,
    pub bin_dir: Option<String>,
}
