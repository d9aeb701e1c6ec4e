//! Helpers of the tests that run the real `twinbeat` binary: network namespaces
//! (`tbdrv-<pid>-<n>`, 10.252.x.y/24 only inside them), a config with short
//! timeouts, the daemon's process and its `status --json`.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::actions_support::sh;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces: `node` (`tb0`, 10.252.x.2/24) and `gw` (`tbg`, 10.252.x.1/24,
/// the node's gateway). 10.252.x.3, the "master", does not exist: its ICMP and DB
/// paths are dead.
pub struct Net {
    pub node: String,
    pub gw: String,
    pub x: u32,
}

impl Net {
    pub fn new() -> Net {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let node = format!("tbdrv-{pid}-{}", 2 * n);
        let gw = format!("tbdrv-{pid}-{}", 2 * n + 1);
        let x = (pid * 2 + n) % 250 + 1;
        for ns in [&node, &gw] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let net = Net { node, gw, x };
        sh(&[
            "ip", "-n", &net.node, "link", "add", "tb0", "type", "veth", "peer", "name", "tbg",
            "netns", &net.gw,
        ]);
        sh(&[
            "ip",
            "-n",
            &net.node,
            "addr",
            "add",
            &net.addr(2, true),
            "dev",
            "tb0",
        ]);
        sh(&[
            "ip",
            "-n",
            &net.gw,
            "addr",
            "add",
            &net.addr(1, true),
            "dev",
            "tbg",
        ]);
        sh(&["ip", "-n", &net.node, "link", "set", "tb0", "up"]);
        sh(&["ip", "-n", &net.gw, "link", "set", "tbg", "up"]);
        net
    }

    pub fn addr(&self, host: u32, prefix: bool) -> String {
        format!(
            "10.252.{}.{host}{}",
            self.x,
            if prefix { "/24" } else { "" }
        )
    }

    /// Whether the node's interface holds `addr`.
    pub fn node_has(&self, addr: &str) -> bool {
        sh(&["ip", "-n", &self.node, "-o", "addr", "show", "dev", "tb0"])
            .contains(&format!("{addr}/"))
    }

    /// `twinbeat` with `args` inside the node namespace.
    pub fn twinbeat(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.node, env!("CARGO_BIN_EXE_twinbeat")])
            .args(args);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.node, &self.gw] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Small timeouts: every dead path is down within about a second.
pub fn config(
    dir: &Path,
    net: &Net,
    db_host: &str,
    db_port: u16,
    service: &str,
    startup_grace: &str,
) -> PathBuf {
    let vip = format!("address = \"{}\"\ngratuitous_arp = 2", net.addr(100, true));
    config_with_vip(dir, net, db_host, db_port, service, startup_grace, &vip)
}

/// [`config`] with `vip` as the body of the `[vip]` section.
#[allow(clippy::too_many_arguments)]
pub fn config_with_vip(
    dir: &Path,
    net: &Net,
    db_host: &str,
    db_port: u16,
    service: &str,
    startup_grace: &str,
    vip: &str,
) -> PathBuf {
    let text = format!(
        r#"node_id = "b"
cluster_id = "tbdrv"
state_dir = "{state}"

[local_db]
host = "{db_host}"
port = {db_port}
user = "postgres"
dbname = "postgres"
check_interval = "200ms"
timeout = "1s"
retries = 3

[local_db.service]
{service}
restart_grace = "5s"

[peer]
address = "{peer}"
db_port = 5999

[checks.icmp]
interval = "10ms"
timeout = "100ms"
retries = 3

[checks.remote_db]
interval = "10ms"
timeout = "200ms"
retries = 3

[checks.serial]
device = "{serial}"
interval = "200ms"
timeout = "100ms"
retries = 3

[checks.gateway]
address = "{gw}"
interval = "200ms"
timeout = "300ms"
retries = 3

[vip]
{vip}

[failover]
startup_grace = "{startup_grace}"

[status]
listen = "127.0.0.1:8432"
"#,
        state = dir.join("state").display(),
        peer = net.addr(3, false),
        gw = net.addr(1, false),
        serial = dir.join("no-such-tty").display(),
    );
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let path = dir.join("twinbeat.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn spawn(net: &Net, cfg: &Path, log: &Path) -> Child {
    spawn_with(net, cfg, log, &[])
}

pub fn spawn_with(net: &Net, cfg: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    net.twinbeat(&["run", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

pub fn stop(mut child: Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap().code()
}

pub fn status_json(net: &Net, cfg: &Path) -> Option<serde_json::Value> {
    let out = net
        .twinbeat(&["status", "--json", "--config", cfg.to_str().unwrap()])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `f` every 100 ms until it returns `Some` or `bound` passes (generous:
/// only a hung or wrong daemon gets near it).
pub fn wait_for<T>(bound: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + bound;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`config`] for a daemon managing `db` (of `base`, reached over its unix socket
/// directory, which the node namespace shares) with pg_ctl, a 1 s startup grace, and
/// `vip` as the `[vip]` body if given.
pub fn pg_ctl_config(
    dir: &Path,
    net: &Net,
    base: &crate::actions_support::PgBase,
    db: &crate::actions_support::PgCluster,
    vip: Option<&str>,
) -> PathBuf {
    let service = format!(
        "manager = \"pg_ctl\"\npg_ctl = \"{}/pg_ctl\"\ndata_dir = \"{}\"",
        crate::actions_support::PG_BIN,
        db.data.display()
    );
    let sock = base.path().to_str().expect("a UTF-8 socket directory");
    match vip {
        Some(vip) => config_with_vip(dir, net, sock, db.port, &service, "1s", vip),
        None => config(dir, net, sock, db.port, &service, "1s"),
    }
}

/// Waits until the state file in `state_dir` says `state`.
pub fn wait_persisted(
    state_dir: &Path,
    state: twinbeat_core::PersistedRole,
    bound: Duration,
) -> Option<twinbeat::actions::state_file::PersistedState> {
    let store = twinbeat::actions::state_file::StateStore::new(state_dir.to_path_buf());
    wait_for(bound, || {
        store.load().ok().flatten().filter(|s| s.state == state)
    })
}
