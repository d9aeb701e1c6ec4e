//! The nodes' `twinbeat run` daemons: their configuration (the daemon issue's format, the
//! contract), the binary, and reading their status.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{io_err, LabError, Result};
use crate::netns::{Host, Node, Topology, IFACE};
use crate::pg::{PgNode, PG_BIN, PORT};

/// Where each daemon serves its status, inside its own namespace.
pub const STATUS_LISTEN: &str = "127.0.0.1:8432";

/// Timing profile of the daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The user's rates: icmp 1 ms, remote DB 10 ms, serial 1 s, local DB 2 s; retries 5.
    Default,
    /// Tight timeouts: icmp 20 ms, remote DB 25 ms, serial every 50 ms with a 25 ms timeout,
    /// gateway and local DB checks at 100–200 ms.
    Fast,
}

impl Profile {
    /// "default" or "fast".
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Fast => "fast",
        }
    }
}

/// The TOML configuration of `node`'s daemon, on a plain cable.
pub fn config_toml(
    topo: &Topology,
    pg: &PgNode,
    profile: Profile,
    tty: &Path,
    state_dir: &Path,
    password_file: &Path,
) -> String {
    config_toml_with(topo, pg, profile, tty, state_dir, password_file, false)
}

/// The TOML configuration of `node`'s daemon; `bridge`: the cable runs through the
/// heartbeat bridge (`checks.serial.bridge`).
pub fn config_toml_with(
    topo: &Topology,
    pg: &PgNode,
    profile: Profile,
    tty: &Path,
    state_dir: &Path,
    password_file: &Path,
    bridge: bool,
) -> String {
    let node = pg.node;
    let peer = topo.addr(node.peer().host());
    let gw = topo.addr(Host::Gateway);
    // (icmp interval, icmp timeout, remote interval, remote timeout, serial interval,
    //  serial timeout, gateway interval, gateway timeout, local interval, local timeout,
    //  restart grace, startup grace, VIP ARP probe window)
    let t = match profile {
        Profile::Default => [
            "1ms", "100ms", "10ms", "200ms", "1s", "200ms", "1s", "500ms", "2s", "1s", "10s",
            "60s", "150ms",
        ],
        Profile::Fast => [
            "1ms", "20ms", "10ms", "25ms", "50ms", "25ms", "100ms", "100ms", "200ms", "100ms",
            "2s", "10s", "20ms",
        ],
    };
    format!(
        r#"# twinbeat lab, node {node}, profile {profile}
cluster_id = "tblab-{id}"
node_id = "{node}"
role = "auto"
state_dir = "{state}"

[local_db]
host = "{sock}"
port = {PORT}
user = "postgres"
password_file = "{pwfile}"
dbname = "postgres"
check_interval = "{t8}"
timeout = "{t9}"
retries = 5

[local_db.service]
manager = "pg_ctl"
pg_ctl = "{PG_BIN}/pg_ctl"
data_dir = "{data}"
restart_grace = "{t10}"

[peer]
address = "{peer}"
db_port = {PORT}

[checks.icmp]
interval = "{t0}"
timeout = "{t1}"
retries = 5
ttl = 64

[checks.remote_db]
interval = "{t2}"
timeout = "{t3}"
retries = 5

[checks.serial]
device = "{tty}"
baud = 115200
bridge = {bridge}
interval = "{t4}"
timeout = "{t5}"
retries = 5

[checks.gateway]
address = "{gw}"
interval = "{t6}"
timeout = "{t7}"
retries = 5

[vip]
address = "{vip}/24"
interface = "{IFACE}"
gratuitous_arp = 5
arp_probe_timeout = "{t12}"

[failover]
startup_grace = "{t11}"
failure_window = "auto"
promote_when_degraded = false
max_lag_on_failover = "1MiB"
peer_state_max_age = "5s"

[fence]
action = "stop-db"

[status]
listen = "{STATUS_LISTEN}"
"#,
        profile = profile.name(),
        id = topo.id,
        state = state_dir.display(),
        sock = pg.sock_dir.display(),
        pwfile = password_file.display(),
        data = pg.data.display(),
        tty = tty.display(),
        bridge = bridge,
        vip = topo.vip(),
        t0 = t[0],
        t1 = t[1],
        t2 = t[2],
        t12 = t[12],
        t3 = t[3],
        t4 = t[4],
        t5 = t[5],
        t6 = t[6],
        t7 = t[7],
        t8 = t[8],
        t9 = t[9],
        t10 = t[10],
        t11 = t[11],
    )
}

/// Finds the release build of `twinbeat`: `$TWINBEAT_BIN`, else `twinbeat` beside the running
/// executable (or its parent, for test binaries in `deps/`), else `<target>/release/twinbeat`.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TWINBEAT_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        candidates.push(dir.join("twinbeat"));
    }
    candidates.push(target_dir().join("release").join("twinbeat"));
    candidates.into_iter().find(|p| p.is_file())
}

fn workspace_root() -> PathBuf {
    // tests/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The `twinbeat` binary, built with `cargo build --release -p twinbeat` if it is missing.
pub fn binary_or_build() -> Result<PathBuf> {
    if let Some(p) = find_binary() {
        return Ok(p);
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "-p", "twinbeat"])
        .current_dir(workspace_root());
    crate::cmd::run_within(cmd, Duration::from_secs(1800))
        .map_err(|e| LabError::Daemon(format!("cargo build --release -p twinbeat: {e}")))?;
    find_binary()
        .ok_or_else(|| LabError::Daemon("built, but target/release/twinbeat is not there".into()))
}

/// The command line of `node`'s daemon inside its namespace.
pub fn argv(topo: &Topology, node: Node, binary: &Path, config: &Path) -> Vec<String> {
    vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        topo.ns(node.host()),
        binary.display().to_string(),
        "run".into(),
        "--config".into(),
        config.display().to_string(),
    ]
}

/// Writes `text` to `path` with mode 0600 (it names a password file).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))
}

/// GETs `path` (e.g. "/status") from `node`'s daemon, inside its namespace. Returns the body.
pub fn http_get(topo: &Topology, node: Node, path: &str) -> Result<String> {
    let addr: SocketAddr = STATUS_LISTEN.parse().map_err(|e| LabError::Parse {
        what: "status address".into(),
        detail: format!("{e}"),
    })?;
    let path = path.to_owned();
    topo.in_netns(node.host(), move || -> Result<String> {
        let err = io_err(format!("http://{addr}{path} in {node}"));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .map_err(io_err(format!("connect {addr}")))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(io_err("set_read_timeout"))?;
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .map_err(io_err("write request"))?;
        let mut text = String::new();
        s.read_to_string(&mut text).map_err(err)?;
        Ok(text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or(text))
    })?
}
