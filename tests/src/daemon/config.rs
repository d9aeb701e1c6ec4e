//! [`DaemonConfig`]: the one writer of `twinbeat run`'s TOML configuration (the daemon's
//! contract format) for the lab's nodes and the daemon's own tests. Every section is a
//! struct; a `None` field is left out, so the daemon's default applies.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{io_err, LabError, Result};

/// A whole configuration file.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonConfig {
    /// `profile`: the daemon's timing preset ("default", "fast").
    pub profile: Option<String>,
    /// `cluster_id`.
    pub cluster_id: Option<String>,
    /// `node_id`.
    pub node_id: String,
    /// `role` ("auto", "master", "standby").
    pub role: Option<String>,
    /// `state_dir`.
    pub state_dir: PathBuf,
    /// `[local_db]`.
    pub local_db: LocalDb,
    /// `[peer]`.
    pub peer: Peer,
    /// `[checks.*]`.
    pub checks: Checks,
    /// `[vip]`.
    pub vip: Vip,
    /// `[failover]`.
    pub failover: Option<Failover>,
    /// `[fence]`.
    pub fence: Option<Fence>,
    /// `[status]`.
    pub status: Status,
    /// `[control]`.
    pub control: Option<Control>,
    /// `[replication]`.
    pub replication: Option<ReplicationSection>,
    /// `[hooks]`.
    pub hooks: Option<Hooks>,
}

/// `[hooks]`: commands run with `sh -c` on events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hooks {
    /// On a role change.
    pub on_role_change: Option<String>,
    /// When the node begins to fence itself.
    pub on_fence: Option<String>,
    /// On an alarm.
    pub on_alarm: Option<String>,
}

impl Hooks {
    /// Every hook echoes its event on one line, which the daemon logs as the hook's
    /// output: `event=… role=… previous=… term=… reason=… severity=… peer=…`.
    pub fn echo_event() -> Self {
        let echo = "echo \"event=$TWINBEAT_EVENT role=$TWINBEAT_ROLE previous=$TWINBEAT_PREVIOUS_ROLE term=$TWINBEAT_TERM reason=$TWINBEAT_REASON severity=$TWINBEAT_SEVERITY peer=$TWINBEAT_PEER\"";
        Self {
            on_role_change: Some(echo.into()),
            on_fence: Some(echo.into()),
            on_alarm: Some(echo.into()),
        }
    }
}

/// `[replication]`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicationSection {
    /// "async", "sync" or "strict".
    pub mode: String,
}

/// `[local_db]` and its `[local_db.service]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalDb {
    /// Host or unix socket directory.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Role to log in as.
    pub user: Option<String>,
    /// The password itself (the file is then written at mode 0600).
    pub password: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Database.
    pub dbname: Option<String>,
    /// How often the local DB is checked.
    pub check_interval: Option<String>,
    /// Bound of one check.
    pub timeout: Option<String>,
    /// Failed checks before it counts as down.
    pub retries: Option<u32>,
    /// `[local_db.service]`.
    pub service: Service,
}

/// `[local_db.service]`: how the daemon restarts and stops PostgreSQL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Service {
    /// "pg_ctl", "command" or "systemd".
    pub manager: String,
    /// The `pg_ctl` binary.
    pub pg_ctl: Option<PathBuf>,
    /// The data directory.
    pub data_dir: Option<PathBuf>,
    /// The `command` manager's restart.
    pub restart_command: Option<String>,
    /// The `command` manager's stop.
    pub stop_command: Option<String>,
    /// How long a restart may take.
    pub restart_grace: Option<String>,
}

impl Service {
    /// The `pg_ctl` manager with Debian's PostgreSQL 15 on `data_dir`.
    pub fn pg_ctl(data_dir: &Path) -> Self {
        Self {
            manager: "pg_ctl".into(),
            pg_ctl: Some(Path::new(crate::pg::PG_BIN).join("pg_ctl")),
            data_dir: Some(data_dir.to_path_buf()),
            ..Self::default()
        }
    }

    /// The `command` manager with these restart and stop commands.
    pub fn command(restart: &str, stop: &str) -> Self {
        Self {
            manager: "command".into(),
            restart_command: Some(restart.into()),
            stop_command: Some(stop.into()),
            ..Self::default()
        }
    }
}

/// `[peer]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Peer {
    /// The peer's address.
    pub address: String,
    /// The peer's `node_id` (its `application_name` as a standby).
    pub node_id: Option<String>,
    /// The peer's PostgreSQL port.
    pub db_port: u16,
    /// `disable` … `verify-full`.
    pub sslmode: Option<String>,
    /// The CA that signs the peer's server certificate.
    pub sslrootcert: Option<PathBuf>,
    /// This node's client certificate.
    pub sslcert: Option<PathBuf>,
    /// Its key.
    pub sslkey: Option<PathBuf>,
}

/// Timing of one path; `None` leaves the daemon's default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    /// Time between attempts.
    pub interval: Option<String>,
    /// Bound of one attempt.
    pub timeout: Option<String>,
    /// Consecutive failures before the path is down.
    pub retries: Option<u32>,
}

impl Timing {
    /// All three set.
    pub fn new(interval: &str, timeout: &str, retries: u32) -> Self {
        Self {
            interval: Some(interval.into()),
            timeout: Some(timeout.into()),
            retries: Some(retries),
        }
    }
}

/// `[checks.*]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checks {
    /// `[checks.icmp]`.
    pub icmp: Icmp,
    /// `[checks.remote_db]`.
    pub remote_db: Option<Timing>,
    /// `[checks.serial]`.
    pub serial: Serial,
    /// `[checks.gateway]`.
    pub gateway: Gateway,
}

/// `[checks.icmp]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Icmp {
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
    /// TTL of the echoes.
    pub ttl: Option<u8>,
}

/// `[checks.serial]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Serial {
    /// The tty.
    pub device: PathBuf,
    /// Baud rate.
    pub baud: Option<u32>,
    /// The cable runs through the heartbeat bridge.
    pub bridge: Option<bool>,
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// `[checks.gateway]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gateway {
    /// The gateway's address.
    pub address: String,
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// `[vip]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vip {
    /// Address with prefix length.
    pub address: String,
    /// Interface it goes on.
    pub interface: Option<String>,
    /// Gratuitous ARPs (or unsolicited neighbour advertisements) sent when taken.
    pub gratuitous_arp: Option<u32>,
    /// How long the ARP probe before a take waits for a holder.
    pub arp_probe_timeout: Option<String>,
}

/// `[failover]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Failover {
    /// `startup_grace`.
    pub startup_grace: Option<String>,
    /// `failure_window`.
    pub failure_window: Option<String>,
    /// `promote_when_degraded`.
    pub promote_when_degraded: Option<bool>,
    /// `max_lag_on_failover`.
    pub max_lag_on_failover: Option<String>,
    /// `peer_state_max_age`.
    pub peer_state_max_age: Option<String>,
    /// `auto_rejoin`.
    pub auto_rejoin: Option<bool>,
}

/// `[fence]`.
#[derive(Debug, Clone, Serialize)]
pub struct Fence {
    /// What the fence does after stopping the DB ("stop-db", "poweroff", a command).
    pub action: String,
}

/// `[status]`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Where the status server listens.
    pub listen: String,
}

/// `[control]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Control {
    /// `group`: who may use the control socket besides root.
    pub group: Option<String>,
}

impl DaemonConfig {
    /// The TOML text.
    pub fn render(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| LabError::Parse {
            what: "the daemon configuration".into(),
            detail: e.to_string(),
        })
    }

    /// Writes the TOML text to `path`, after `header` (comment lines), with mode 0600 (it
    /// may name a password file), and creates the state directory.
    pub fn write(&self, path: &Path, header: &str) -> Result<()> {
        std::fs::create_dir_all(&self.state_dir).map_err(io_err(&self.state_dir))?;
        super::write_private(path, &format!("{header}{}", self.render()?))
    }
}
