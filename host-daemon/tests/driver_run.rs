//! `twinbeat run` (the real binary) performing real side effects inside network
//! namespaces this test creates (`tbdrv-<pid>-<n>`, 10.252.x.y/24 only inside them):
//! a node persisted as fenced stays fenced; a standby whose master is dead on every
//! path promotes a real streaming standby, takes the VIP and persists the new term.

mod actions_support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actions_support::{have_pg, sh, PgBase, PgCluster, PG_BIN};
use twinbeat::actions::state_file::{NodeState, PersistedState, StateStore};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces: `node` (`tb0`, 10.252.x.2/24) and `gw` (`tbg`, 10.252.x.1/24,
/// the node's gateway). 10.252.x.3, the "master", does not exist: its ICMP and DB
/// paths are dead.
struct Net {
    node: String,
    gw: String,
    x: u32,
}

impl Net {
    fn new() -> Net {
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

    fn addr(&self, host: u32, prefix: bool) -> String {
        format!(
            "10.252.{}.{host}{}",
            self.x,
            if prefix { "/24" } else { "" }
        )
    }

    /// Whether the node's interface holds `addr`.
    fn node_has(&self, addr: &str) -> bool {
        sh(&["ip", "-n", &self.node, "-o", "addr", "show", "dev", "tb0"])
            .contains(&format!("{addr}/"))
    }

    /// `twinbeat` with `args` inside the node namespace.
    fn twinbeat(&self, args: &[&str]) -> Command {
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
#[allow(clippy::too_many_arguments)]
fn config(
    dir: &Path,
    net: &Net,
    db_host: &str,
    db_port: u16,
    service: &str,
    startup_grace: &str,
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
address = "{vip}"
gratuitous_arp = 2

[failover]
startup_grace = "{startup_grace}"

[status]
listen = "127.0.0.1:8432"
"#,
        state = dir.join("state").display(),
        peer = net.addr(3, false),
        gw = net.addr(1, false),
        vip = net.addr(100, true),
        serial = dir.join("no-such-tty").display(),
    );
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let path = dir.join("twinbeat.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(net: &Net, cfg: &Path, log: &Path) -> Child {
    spawn_with(net, cfg, log, &[])
}

fn spawn_with(net: &Net, cfg: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    net.twinbeat(&["run", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap().code()
}

fn status_json(net: &Net, cfg: &Path) -> Option<serde_json::Value> {
    let out = net
        .twinbeat(&["status", "--json", "--config", cfg.to_str().unwrap()])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `f` every 100 ms until it returns `Some` or `bound` passes (generous:
/// only a hung or wrong daemon gets near it).
fn wait_for<T>(bound: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
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

#[test]
fn a_node_persisted_fenced_stays_fenced() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &net,
        "127.0.0.1",
        actions_support::free_port(),
        "manager = \"command\"\nrestart_command = \"true\"\nstop_command = \"true\"",
        "60s",
    );
    StateStore::new(dir.path().join("state"))
        .save(&PersistedState::new(
            NodeState::Fenced,
            3,
            "test: fenced by an operator drill",
        ))
        .unwrap();
    // systemd's side of Type=notify: a datagram socket the daemon reports to.
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let log = dir.path().join("stderr.log");
    let child = spawn_with(
        &net,
        &cfg,
        &log,
        &[
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let seen = wait_for(Duration::from_secs(30), || {
        status_json(&net, &cfg).filter(|s| s["role"] == "fenced")
    });
    let code = stop(child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    let s = seen.unwrap_or_else(|| panic!("never reported fenced\n{stderr}"));
    assert_eq!(s["fenced"], true, "{s}");
    assert_eq!(s["term"], 3, "{s}");
    assert_eq!(s["persisted"]["state"], "fenced", "{s}");
    assert_eq!(
        s["persisted"]["reason"], "test: fenced by an operator drill",
        "{s}"
    );
    assert!(!net.node_has(&net.addr(100, false)));
    assert_eq!(code, Some(0), "{stderr}");
    let mut notes = String::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = notify.recv(&mut buf) {
        notes.push_str(&String::from_utf8_lossy(&buf[..n]));
        notes.push('\n');
    }
    for want in [
        "READY=1",
        "WATCHDOG=1",
        "STATUS=Fenced term 3 FENCED",
        "STOPPING=1",
    ] {
        assert!(notes.contains(want), "{want} not in {notes}");
    }
    // Still fenced on disk after the run.
    let after = StateStore::new(dir.path().join("state"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!((after.state, after.term), (NodeState::Fenced, 3));
}

#[test]
fn a_standby_whose_master_is_dead_promotes_takes_the_vip_and_persists_the_term() {
    assert!(
        have_pg(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    let base = PgBase::new();
    let primary = PgCluster::primary(&base, "a");
    let standby = PgCluster::standby(&base, "b", &primary);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(standby.query_text("SELECT pg_is_in_recovery()"))
            .unwrap(),
        "t"
    );
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    // The daemon lives in the node namespace; PostgreSQL in the test's: the unix
    // socket directory reaches it from both.
    let service = format!(
        "manager = \"pg_ctl\"\npg_ctl = \"{PG_BIN}/pg_ctl\"\ndata_dir = \"{}\"",
        standby.data.display()
    );
    let cfg = config(
        dir.path(),
        &net,
        base.path().to_str().unwrap(),
        standby.port,
        &service,
        "1s",
    );
    let log = dir.path().join("stderr.log");
    let child = spawn(&net, &cfg, &log);
    let store = StateStore::new(dir.path().join("state"));
    let persisted = wait_for(Duration::from_secs(40), || {
        store
            .load()
            .ok()
            .flatten()
            .filter(|s| s.state == NodeState::Primary)
    });
    let vip_held = net.node_has(&net.addr(100, false));
    let status = wait_for(Duration::from_secs(10), || {
        status_json(&net, &cfg).filter(|s| s["persisted"]["state"] == "primary")
    });
    let code = stop(child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    let persisted = persisted.unwrap_or_else(|| panic!("never persisted primary\n{stderr}"));
    assert_eq!(persisted.term, 1, "{stderr}");
    assert!(vip_held, "VIP not on tb0\n{stderr}");
    assert_eq!(
        rt.block_on(standby.query_text("SELECT pg_is_in_recovery()"))
            .unwrap(),
        "f",
        "{stderr}"
    );
    rt.block_on(standby.query_text("CREATE TABLE promoted_by_twinbeat (x int)"))
        .unwrap();
    let status = status.unwrap_or_else(|| panic!("no status\n{stderr}"));
    assert_eq!(status["role"], "primary", "{status}");
    assert_eq!(status["vip"]["holder"], "this node", "{status}");
    assert_eq!(status["persisted"]["state"], "primary", "{status}");
    assert_eq!(code, Some(0), "{stderr}");
    for want in ["path icmp down", "path remote_db down", "path serial down"] {
        assert!(stderr.contains(want), "{want}\n{stderr}");
    }
    if let Some(line) = stderr.lines().find(|l| l.contains("promoted: writable")) {
        eprintln!("figure: {line}");
    }
    if let Some(line) = stderr.lines().find(|l| l.contains("taken on tb0")) {
        eprintln!("figure: {line}");
    }
}
