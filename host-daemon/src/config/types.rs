//! The effective configuration: every default filled in, every value checked.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

pub(crate) use super::defaults::Profile;
/// `role`: `auto` asks PostgreSQL; the others pin the role. The engine's type: it
/// checks the pin at start.
pub(crate) use twinbeat_core::RolePin;

/// Attempt settings of one path (`interval`, `timeout`, `retries`): the engine's type,
/// which also derives the path's detection time.
pub(crate) use twinbeat_core::PathConfig;

/// The whole effective configuration of one node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    /// The timing preset the file chose (or the default one).
    pub profile: Profile,
    /// The settings the preset filled in (the file did not set them), for `check-config`.
    pub from_profile: Vec<String>,
    /// Cluster name; frames carry a hash of it. Given, or derived from the VIP.
    pub cluster_id: String,
    /// True when `cluster_id` was derived from the VIP (no `cluster_id` in the file).
    pub cluster_id_derived: bool,
    /// This node's name (default: the host name). The smaller id wins a term tie.
    pub node_id: String,
    /// Role pin.
    pub role: RolePin,
    /// Where the persisted state (term, fenced, promoting) lives.
    pub state_dir: PathBuf,
    /// The local PostgreSQL.
    pub local_db: LocalDb,
    /// The other node.
    pub peer: Peer,
    /// The paths and the gateway check.
    pub checks: Checks,
    /// The virtual IP.
    pub vip: Vip,
    /// Promotion settings.
    pub failover: Failover,
    /// What fencing does.
    pub fence: FenceAction,
    /// Status HTTP listener.
    pub status: StatusListen,
    /// Who may use the control socket besides root.
    pub control: Control,
    /// `[hooks]`: programs run on events, like Patroni's callbacks.
    pub hooks: Hooks,
    /// How a fenced node rejoins the peer as its standby.
    pub rejoin: Rejoin,
    /// `[replication] mode` (rule `sync-epoch`).
    pub replication: twinbeat_core::ReplicationMode,
}

/// A password; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a database password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordSource {
    /// No password (trust, peer or `.pgpass` authentication).
    None,
    /// Written in the config file.
    Inline(Secret),
    /// Read from this file when connecting.
    File(PathBuf),
    /// Taken from `TWINBEAT_PG_PASSWORD`.
    Env(Secret),
}

impl PasswordSource {
    /// The password itself. A file is read now (its content up to the first newline).
    pub(crate) fn resolve(&self) -> std::io::Result<Option<String>> {
        Ok(match self {
            PasswordSource::None => None,
            PasswordSource::Inline(s) | PasswordSource::Env(s) => Some(s.0.clone()),
            PasswordSource::File(p) => {
                let text = std::fs::read_to_string(p)?;
                Some(text.lines().next().unwrap_or("").to_owned())
            }
        })
    }
}

/// Credentials and address of one PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DbConn {
    /// Host name, IP, or unix socket directory.
    pub host: String,
    /// TCP port (also the socket's port number).
    pub port: u16,
    /// User.
    pub user: String,
    /// Password.
    pub password: PasswordSource,
    /// Database name.
    pub dbname: String,
}

/// `[local_db]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocalDb {
    /// How to reach it.
    pub conn: DbConn,
    /// Check period.
    pub check_interval: Duration,
    /// Per-check timeout.
    pub timeout: Duration,
    /// Failed checks before it counts as down.
    pub retries: u32,
    /// How it is restarted and stopped.
    pub service: Service,
}

/// `[local_db.service]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    /// The manager and its settings.
    pub manager: ServiceManager,
    /// `postgresql.conf` when it is not in the data directory (Debian keeps it in
    /// `/etc/postgresql/15/main`): `pg_ctl` starts the server with it, and the rejoin's
    /// crash recovery and `pg_rewind` read it.
    pub config_file: Option<PathBuf>,
    /// How long a restarted DB may take to become healthy.
    pub restart_grace: Duration,
}

/// The service manager of the local PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceManager {
    /// `pg_ctl -D data_dir`.
    PgCtl {
        /// The pg_ctl binary.
        pg_ctl: PathBuf,
        /// The cluster's data directory.
        data_dir: PathBuf,
    },
    /// A systemd unit (over D-Bus).
    Systemd {
        /// Unit name.
        unit: String,
        /// The cluster's data directory, when given (otherwise learned from the
        /// local DB with `SHOW data_directory` at start).
        data_dir: Option<PathBuf>,
    },
    /// Shell commands.
    Command {
        /// Restarts the DB.
        restart_command: String,
        /// Stops the DB.
        stop_command: String,
        /// The cluster's data directory, when given (otherwise learned from the
        /// local DB with `SHOW data_directory` at start).
        data_dir: Option<PathBuf>,
    },
}

impl ServiceManager {
    /// The configured data directory: always for pg_ctl, when given for the others.
    /// It is where `postmaster.pid` (stop confirmed by PID) and the start guard live.
    pub(crate) fn data_dir(&self) -> Option<&std::path::Path> {
        match self {
            ServiceManager::PgCtl { data_dir, .. } => Some(data_dir),
            ServiceManager::Systemd { data_dir, .. } | ServiceManager::Command { data_dir, .. } => {
                data_dir.as_deref()
            }
        }
    }
}

/// `[peer]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Peer {
    /// The peer's address as written (a host name or an IP).
    pub host: String,
    /// What `host` resolved to; ICMP goes here.
    pub address: IpAddr,
    /// The peer's `node_id`: the `application_name` of its WAL receiver as a standby,
    /// which `synchronous_standby_names` names (rule `sync-epoch`). Required when
    /// `replication.mode` is not `async`.
    pub node_id: Option<String>,
    /// The peer's database (user/password/dbname default to `[local_db]`'s).
    pub db: DbConn,
    /// TLS to the peer's PostgreSQL.
    pub tls: PeerTls,
}

/// `sslmode`, as libpq reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SslMode {
    /// Plain TCP.
    #[default]
    Disable,
    /// TLS when the server offers it, unverified; plain otherwise.
    Prefer,
    /// TLS, unverified (verified like `verify-ca` when `sslrootcert` is given, as libpq).
    Require,
    /// TLS, the certificate chain verified against `sslrootcert`.
    VerifyCa,
    /// TLS, the chain verified and the certificate naming `peer.address`.
    VerifyFull,
}

impl SslMode {
    /// Every mode and its name in the file (libpq's).
    pub(crate) const ALL: [(SslMode, &'static str); 5] = [
        (SslMode::Disable, "disable"),
        (SslMode::Prefer, "prefer"),
        (SslMode::Require, "require"),
        (SslMode::VerifyCa, "verify-ca"),
        (SslMode::VerifyFull, "verify-full"),
    ];

    /// Its name in the file.
    pub(crate) fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("disable", |(_, n)| n)
    }
}

/// `[peer] sslmode`, `sslrootcert`, `sslcert`, `sslkey`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PeerTls {
    /// The mode.
    pub mode: SslMode,
    /// The CA certificates (PEM) the peer's certificate must chain to.
    pub root_cert: Option<PathBuf>,
    /// This node's client certificate (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

/// `[checks]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checks {
    /// ICMP to the peer.
    pub icmp: PathConfig,
    /// IP TTL of the ICMP probes.
    pub icmp_ttl: u8,
    /// `SELECT 1` on the peer's database.
    pub remote_db: PathConfig,
    /// Serial ping/ack.
    pub serial: PathConfig,
    /// Serial device.
    pub serial_device: PathBuf,
    /// Serial speed.
    pub serial_baud: u32,
    /// The cable runs through a heartbeat bridge whose `BridgeStatus` reports judge the
    /// serial path too (`checks.serial.bridge`, default false).
    pub serial_bridge: bool,
    /// ICMP to the gateway.
    pub gateway: PathConfig,
    /// Gateway address: given, or the default route's next hop.
    pub gateway_address: Option<IpAddr>,
}

/// `[vip]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vip {
    /// The VIP with its prefix length.
    pub address: IpNet,
    /// Interface it goes on: given, or the one whose subnet holds the VIP.
    pub interface: Option<String>,
    /// Gratuitous ARPs sent after taking it.
    pub gratuitous_arp: u32,
    /// Bound of the pre-promotion ARP probe for the VIP (rule `fresh-checks`).
    pub arp_probe_timeout: Duration,
}

/// `[failover]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failover {
    /// No promotion before the master was heard once or this has passed.
    pub startup_grace: Duration,
    /// All paths must go down within this of the first (rule `all-paths-down-together`).
    /// `None`: "auto", derived by the engine (`twinbeat_core::Config::effective_failure_window`).
    pub failure_window: Option<Duration>,
    /// Promote even when a path had been down long before the others.
    pub promote_when_degraded: bool,
    /// Largest replication lag, in bytes, at which a promotion may happen.
    pub max_lag_on_failover: u64,
    /// Oldest peer state that still counts as current.
    pub peer_state_max_age: Duration,
    /// A node fenced for a lost gateway or a lost term rejoins by itself.
    pub auto_rejoin: bool,
    /// Automatic rejoins tried before waiting for the operator.
    pub auto_rejoin_attempts: u32,
    /// A planned switchover's bound: the master's checkpoint and clean stop, then its
    /// wait for the standby to take over before it withdraws.
    pub switchover_timeout: Duration,
}

/// `[rejoin]`: `twinbeat rejoin` and `auto_rejoin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejoin {
    /// Bound of one rejoin: report, rewind or base backup, start, streaming.
    pub timeout: Duration,
    /// Where `pg_rewind`, `pg_basebackup`, `pg_waldump` and `pg_controldata` are.
    pub bin_dir: PathBuf,
}

/// `[fence] action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FenceAction {
    /// Stop PostgreSQL (the default).
    StopDb,
    /// Stop PostgreSQL, then power the machine off.
    Poweroff,
    /// Stop PostgreSQL, then run this command.
    Command(String),
}

/// `[status]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusListen {
    /// Listen address of the status HTTP server.
    pub listen: SocketAddr,
}

/// `[hooks]`: commands run with `sh -c` on events, with the event in the environment
/// (`actions::hooks`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Hooks {
    /// Run when this node's role changes.
    pub on_role_change: Option<String>,
    /// Run when this node begins to fence itself.
    pub on_fence: Option<String>,
    /// Run when the engine raises an alarm.
    pub on_alarm: Option<String>,
    /// The bound of one run: past it the hook's process group is killed.
    pub timeout: Duration,
}

/// `[control]`: the operator's control socket (`<state_dir>/twinbeat.sock`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Control {
    /// A group whose members may use it besides root; `None`: root only.
    pub group: Option<String>,
}
