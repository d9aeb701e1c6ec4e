//! [`LoneNode`]: one `twinbeat run` in a namespace of its own, for the daemon's integration
//! tests. The node's namespace holds `tb0` (10.252.x.2/24); a second one, its gateway, holds
//! `tbg` (10.252.x.1/24). 10.252.x.3, the peer, does not exist: its ICMP and DB paths are
//! dead, and the serial device does not exist either, so every path to the peer is down.

use crate::unit_sandbox::{self, UnitPrivileges};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::daemon::{
    self, Checks, DaemonConfig, DaemonProcess, Failover, Gateway, Icmp, LocalDb, Peer, Serial,
    Service, Status, Timing, Vip,
};
use crate::error::{io_err, Result};
use crate::netns::{End, NetPair, Netns};
use crate::pg::PgServer;

/// The node's interface.
pub const NODE_IFACE: &str = "tb0";

/// A lone node's network, the daemon binary it runs and a temporary directory for its
/// configuration, state and log. Its daemon runs with the shipped unit's privileges
/// ([`crate::unit_sandbox`]).
#[derive(Debug)]
pub struct LoneNode {
    net: NetPair,
    /// The third octet of the node's /24.
    pub x: u32,
    binary: PathBuf,
    /// The unit whose sandbox the daemon runs in.
    unit: UnitPrivileges,
    /// `unshare … setpriv …`: that sandbox, put in front of `twinbeat run`.
    privileges: Vec<String>,
    dir: TempDir,
}

impl LoneNode {
    /// Builds the node's and its gateway's namespaces; `binary` is the `twinbeat` to run,
    /// unless `TWINBEAT_BIN` names another (the package's test: the installed one).
    pub fn new(binary: &Path) -> Result<Self> {
        let binary =
            std::env::var_os("TWINBEAT_BIN").map_or_else(|| binary.to_path_buf(), PathBuf::from);
        let unit = UnitPrivileges::from_unit(&unit_sandbox::unit_path())?;
        let privileges = unit.argv()?;
        let x = std::process::id() % 250 + 1;
        let node_addr = format!("10.252.{x}.2/24");
        let gw_addr = format!("10.252.{x}.1/24");
        let net = NetPair::new(
            "tbdrv",
            End::new(NODE_IFACE, &[&node_addr]),
            End::new("tbg", &[&gw_addr]),
        )?;
        let dir = tempfile::Builder::new()
            .prefix("tbdrv")
            .tempdir()
            .map_err(io_err("a temporary directory"))?;
        Ok(Self {
            net,
            x,
            binary,
            unit,
            privileges,
            dir,
        })
    }

    /// The node's directory: `twinbeat.toml`, `state/`, `stderr.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// The daemon's standard error.
    pub fn log(&self) -> PathBuf {
        self.dir().join("stderr.log")
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Waits up to `deadline` until the daemon's state file says `state` ("primary",
    /// "fenced"...); returns the file's content.
    pub fn wait_persisted(&self, state: &str, deadline: Duration) -> Option<serde_json::Value> {
        crate::cmd::poll(deadline, || {
            daemon::persisted_state(&self.state_dir()).filter(|s| s["state"] == state)
        })
    }

    /// The node's namespace.
    pub fn node(&self) -> &Netns {
        &self.net.a
    }

    /// `10.252.x.<host>`, with `/24` if `prefix`.
    pub fn addr(&self, host: u32, prefix: bool) -> String {
        format!(
            "10.252.{}.{host}{}",
            self.x,
            if prefix { "/24" } else { "" }
        )
    }

    /// Whether the node's interface holds `addr`.
    pub fn node_has(&self, addr: &str) -> bool {
        self.node().has_addr(NODE_IFACE, addr)
    }

    /// The VIP most tests use: 10.252.x.100/24 on `tb0`, two gratuitous ARPs.
    pub fn vip(&self) -> Vip {
        Vip {
            address: self.addr(100, true),
            gratuitous_arp: Some(2),
            ..Vip::default()
        }
    }

    /// A configuration with small timeouts (every dead path is down within about a
    /// second): the local DB at `db_host`:`db_port` managed by `service`. Written to
    /// `twinbeat.toml` in [`dir`](Self::dir); returns that path.
    pub fn config(
        &self,
        db: (&str, u16),
        service: Service,
        startup_grace: &str,
        vip: Vip,
    ) -> Result<PathBuf> {
        self.write_config(&self.daemon_config(db, service, startup_grace, vip))
    }

    /// Writes `config` to `twinbeat.toml` in [`dir`](Self::dir); returns that path.
    pub fn write_config(&self, config: &DaemonConfig) -> Result<PathBuf> {
        let path = self.dir().join("twinbeat.toml");
        config.write(&path, "")?;
        Ok(path)
    }

    /// The configuration [`config`](Self::config) writes, for a test to change first.
    pub fn daemon_config(
        &self,
        (db_host, db_port): (&str, u16),
        service: Service,
        startup_grace: &str,
        vip: Vip,
    ) -> DaemonConfig {
        let dir = self.dir();
        DaemonConfig {
            profile: None,
            hooks: None,
            cluster_id: Some("tbdrv".into()),
            node_id: "b".into(),
            role: None,
            state_dir: dir.join("state"),
            local_db: LocalDb {
                host: db_host.into(),
                port: db_port,
                user: Some("postgres".into()),
                dbname: Some("postgres".into()),
                check_interval: Some("200ms".into()),
                timeout: Some("1s".into()),
                retries: Some(3),
                password: None,
                password_file: None,
                service: Service {
                    restart_grace: Some("5s".into()),
                    ..service
                },
            },
            peer: Peer {
                address: self.addr(3, false),
                node_id: None,
                db_port: 5999,
                ..Peer::default()
            },
            checks: Checks {
                icmp: Icmp {
                    timing: Timing::new("10ms", "100ms", 3),
                    ttl: None,
                },
                remote_db: Some(Timing::new("10ms", "200ms", 3)),
                serial: Serial {
                    device: dir.join("no-such-tty"),
                    timing: Timing::new("200ms", "100ms", 3),
                    ..Serial::default()
                },
                gateway: Gateway {
                    address: self.addr(1, false),
                    timing: Timing::new("200ms", "300ms", 3),
                },
            },
            vip,
            failover: Some(Failover {
                startup_grace: Some(startup_grace.into()),
                ..Failover::default()
            }),
            fence: None,
            status: Status {
                listen: "127.0.0.1:8432".into(),
            },
            control: None,
            replication: None,
        }
    }

    /// [`config`](Self::config) for a daemon managing `db` with `pg_ctl` over its unix
    /// socket (which reaches the server from the node's namespace), a 1 s startup grace,
    /// and `vip` (else [`vip`](Self::vip)).
    pub fn pg_ctl_config(&self, db: &PgServer, vip: Option<Vip>) -> Result<PathBuf> {
        let sock = db.sock_dir().display().to_string();
        self.config(
            (&sock, db.port()),
            Service::pg_ctl(db.data()),
            "1s",
            vip.unwrap_or_else(|| self.vip()),
        )
    }

    /// Starts `twinbeat run --config <config>` in the node's namespace with `env`, its
    /// standard error to [`log`](Self::log).
    pub fn spawn(&self, config: &Path, env: &[(&str, &str)]) -> Result<DaemonProcess> {
        let mut argv = self.privileges.clone();
        argv.extend([
            self.binary.to_string_lossy().into_owned(),
            "run".into(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
        ]);
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let mut cmd = crate::netns::exec_in(self.node().name(), &argv[0], &args);
        cmd.envs(env.iter().copied());
        DaemonProcess::spawn(cmd, &self.log())
    }

    /// Whether the daemon with `pid` runs in the unit's sandbox
    /// ([`unit_sandbox::check_process`]).
    pub fn check_sandbox(&self, pid: u32) -> std::result::Result<(), String> {
        unit_sandbox::check_process(pid, &self.unit)
    }

    /// `twinbeat status --json` in the node's namespace; `None` while it does not answer.
    pub fn status_json(&self, config: &Path) -> Option<serde_json::Value> {
        daemon::status_json(self.node().name(), &self.binary, config)
    }
}
