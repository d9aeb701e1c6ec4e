//! `twinbeat diagnose` against the lab pair: no `FAIL` on the healthy pair, and the
//! cause named, as `FAIL` or `warn`, for each mistake an operator makes (the list in
//! host-daemon/README.md). One lab for the whole sequence: a's daemon is stopped after
//! the healthy run, and each mistake is written into a's configuration (b's daemon
//! keeps running and pinging on the cable).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use twinbeat_lab::daemon::Profile;
use twinbeat_lab::netns::IFACE;
use twinbeat_lab::{Host, Lab, LabOptions, Node};

/// Bound of one diagnose run (every check is bounded; the serial listen is the
/// longest, two ping intervals).
const BOUND: Duration = Duration::from_secs(60);

/// Runs diagnose for `n` (without the capabilities `without`): exit code and report.
fn diagnose(lab: &Lab, n: Node, without: &[&str]) -> (Option<i32>, Value) {
    lab.diagnose(n, without, BOUND)
        .unwrap_or_else(|e| panic!("diagnose of {n} did not run: {e}"))
}

/// The finding of `check` in `report`.
fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["check"] == check))
        .unwrap_or_else(|| panic!("no finding {check:?} in {report:#}"))
}

/// Asserts `check` has `verdict` and its text names `cause`.
fn expect(report: &Value, check: &str, verdict: &str, cause: &str) {
    let f = finding(report, check);
    assert_eq!(f["verdict"], verdict, "{check}: {f:#}");
    let text = format!(
        "{} {}",
        f["found"].as_str().unwrap_or_default(),
        f["todo"].as_str().unwrap_or_default()
    );
    assert!(text.contains(cause), "{check} should name {cause:?}: {f:#}");
}

/// Every finding that is not ok, for the test's output.
fn not_ok(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|x| x["verdict"] != "ok")
                .map(|x| format!("{} {}: {}", x["verdict"], x["check"], x["found"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Rewrites a's configuration with `tune` (b's is written unchanged).
fn tune_a(lab: &Lab, tune: impl Fn(&mut twinbeat_lab::daemon::DaemonConfig)) {
    lab.write_daemon_configs_with(Profile::Default, |c| {
        if c.node_id == "a" {
            tune(c);
        }
    })
    .expect("configs written");
}

/// A pty whose other side echoes every byte back (`socat ... EXEC:cat`): a serial
/// cable looped back. Killed by PID when dropped.
struct Loopback(Child);

impl Loopback {
    fn new(link: &std::path::Path) -> Self {
        let child = Command::new("socat")
            .arg(format!("PTY,link={},raw,echo=0", link.display()))
            .arg("EXEC:cat")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat");
        let appeared =
            twinbeat_lab::cmd::poll(Duration::from_secs(5), || link.exists().then_some(()));
        assert!(appeared.is_some(), "the looped pty appeared");
        Loopback(child)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn diagnose_passes_the_healthy_pair_and_names_each_mistake() {
    let _g = twinbeat_lab::exclusive();
    let lab = common::start(LabOptions {
        daemons: Some(Profile::Default),
        ..common::opts()
    });
    // Roles come from the local servers first; the serial path is up a ping later.
    let serial_up = |s: &Value| {
        s["paths"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["name"] == "serial" && p["state"] == "up")
        })
    };
    let healthy = twinbeat_lab::cmd::poll(Duration::from_secs(60), || {
        lab.daemon_status(Node::A)
            .ok()
            .filter(|s| s["role"] == "primary" && serial_up(s))
            .and_then(|_| lab.daemon_status(Node::B).ok())
            .filter(|s| s["role"] == "standby" && serial_up(s))
    });
    assert!(healthy.is_some(), "a healthy pair");

    // The healthy pair, beside the running daemons: no FAIL on either node.
    for n in Node::BOTH {
        let (code, report) = diagnose(&lab, n, &[]);
        assert_eq!(report["daemon_running"], true, "{report:#}");
        let failures: Vec<String> = not_ok(&report)
            .into_iter()
            .filter(|l| l.starts_with("\"fail\""))
            .collect();
        assert!(failures.is_empty(), "{n}: {failures:#?}\n{report:#}");
        assert_ne!(code, Some(2));
        eprintln!("{n} healthy, not ok: {:#?}", not_ok(&report));
        expect(&report, "serial", "ok", "path up");
        expect(&report, "pair", "ok", "fingerprint");
    }

    // Without a's daemon: diagnose opens a's end of the cable and b's daemon answers its hello.
    lab.stop_daemon(Node::A, Duration::from_secs(10));
    let (_, report) = diagnose(&lab, Node::A, &[]);
    assert_eq!(report["daemon_running"], false);
    expect(&report, "serial", "ok", "\"b\" (node");
    expect(&report, "serial", "ok", "answered: standby");

    let own = lab.topo.addr(Host::A).to_string();
    for (peer, cause) in [
        ("127.0.0.1", "loopback"),
        (own.as_str(), "an address of this host"),
    ] {
        tune_a(&lab, |c| c.peer.address = peer.to_owned());
        let (code, report) = diagnose(&lab, Node::A, &[]);
        expect(&report, "address.peer", "fail", cause);
        assert_eq!(code, Some(2));
    }

    tune_a(&lab, |c| c.cluster_id = Some("another-pair".into()));
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "serial", "fail", "another cluster");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let looped = dir.path().join("looped.tty");
    let _loop = Loopback::new(&looped);
    tune_a(&lab, |c| c.checks.serial.device = looped.clone());
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "serial", "fail", "looped back");

    // Different retries on the two nodes: diagnose hears b's fingerprint on the cable,
    // and a running daemon compares it too and says so in its status.
    tune_a(&lab, |c| c.checks.icmp.timing.retries = Some(3));
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "pair", "fail", "settings differ");
    lab.start_daemon(Node::A).expect("a's daemon started");
    let differs = twinbeat_lab::cmd::poll(Duration::from_secs(30), || {
        lab.daemon_status(Node::A)
            .ok()
            .filter(|s| s["pair"]["agrees"] == false)
    });
    assert!(differs.is_some(), "a's status says the settings differ");
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "pair", "fail", "settings differ");
    lab.stop_daemon(Node::A, Duration::from_secs(10));

    // Back to a's own configuration for the rest.
    tune_a(&lab, |_| {});

    // The peer reachable only through the gateway: a routes b's address via the
    // gateway's namespace, which forwards it.
    let b = format!("{}/32", lab.topo.addr(Host::B));
    let gw = lab.topo.addr(Host::Gateway).to_string();
    let forwards = lab
        .topo
        .exec(Host::Gateway, "sysctl", &["-qw", "net.ipv4.ip_forward=1"])
        .status()
        .expect("sysctl");
    assert!(forwards.success(), "the gateway forwards");
    lab.topo
        .ip(Host::A, &["route", "add", &b, "via", &gw, "dev", IFACE])
        .expect("a routes b through the gateway");
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "route.peer", "warn", &format!("goes through {gw}"));
    lab.topo
        .ip(Host::A, &["route", "del", &b])
        .expect("the route removed");
    let (_, report) = diagnose(&lab, Node::A, &["net_admin"]);
    expect(&report, "vip.capabilities", "fail", "CAP_NET_ADMIN");

    // Another host answers for the VIP: the client takes it, a lets it go.
    let vip = format!("{}/24", lab.topo.vip());
    let _ = lab.topo.ip(Host::A, &["addr", "del", &vip, "dev", IFACE]);
    lab.topo
        .ip(Host::Client, &["addr", "add", &vip, "dev", IFACE])
        .expect("the client takes the VIP");
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(
        &report,
        "vip.holder",
        "fail",
        "not this node and not the peer",
    );

    // pg_rewind's prerequisite off: wal_log_hints off, and the lab's clusters have no
    // data checksums.
    lab.sql(Node::A, "ALTER SYSTEM SET wal_log_hints = off")
        .expect("ALTER SYSTEM");
    lab.stop_pg(Node::A).expect("a's PostgreSQL stopped");
    lab.start_pg(Node::A).expect("a's PostgreSQL started");
    let (_, report) = diagnose(&lab, Node::A, &[]);
    expect(&report, "db.local.wal_log_hints", "fail", "pg_rewind");
}
