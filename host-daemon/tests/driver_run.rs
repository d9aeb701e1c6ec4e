//! `twinbeat run` (the real binary) performing real side effects inside network
//! namespaces this test creates (`tbdrv-<pid>-<n>`, 10.252.x.y/24 only inside them):
//! a node persisted as fenced stays fenced; a standby whose master is dead on every
//! path promotes a real streaming standby, takes the VIP and persists the new term.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use twinbeat_lab::cmd::poll;
use twinbeat_lab::daemon::{persisted_state, write_persisted_state, Service};
use twinbeat_lab::lone::LoneNode;
use twinbeat_lab::netns::free_local_port;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

#[test]
fn a_node_persisted_fenced_stays_fenced() {
    let net =
        LoneNode::new(Path::new(env!("CARGO_BIN_EXE_twinbeat"))).expect("the node's namespaces");
    let cfg = net
        .config(
            ("127.0.0.1", free_local_port()),
            Service::command("true", "true"),
            "60s",
            net.vip(),
        )
        .unwrap();
    write_persisted_state(
        &net.state_dir(),
        "fenced",
        3,
        "test: fenced by an operator drill",
    )
    .unwrap();
    // systemd's side of Type=notify: a datagram socket the daemon reports to.
    let notify_path = net.dir().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let log = net.log();
    let child = net
        .spawn(
            &cfg,
            &[
                ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
                ("WATCHDOG_USEC", "400000"),
            ],
        )
        .unwrap();
    let seen = poll(Duration::from_secs(30), || {
        net.status_json(&cfg).filter(|s| s["role"] == "fenced")
    });
    let code = child.stop();
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
    let after = persisted_state(&net.state_dir()).unwrap();
    assert_eq!(after["state"], "fenced", "{after}");
    assert_eq!(after["term"], 3, "{after}");
}

#[test]
fn a_standby_whose_master_is_dead_promotes_takes_the_vip_and_persists_the_term() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(standby.query_text("SELECT pg_is_in_recovery()"))
            .unwrap(),
        "t"
    );
    let net =
        LoneNode::new(Path::new(env!("CARGO_BIN_EXE_twinbeat"))).expect("the node's namespaces");
    // The daemon lives in the node namespace; PostgreSQL in the test's: the unix
    // socket directory reaches it from both.
    let cfg = net.pg_ctl_config(&standby, None).unwrap();
    let log = net.log();
    let child = net.spawn(&cfg, &[]).unwrap();
    let persisted = net.wait_persisted("primary", Duration::from_secs(40));
    let sandboxed = child.pid().map(|pid| net.check_sandbox(pid));
    let vip_held = net.node_has(&net.addr(100, false));
    let status = poll(Duration::from_secs(10), || {
        net.status_json(&cfg)
            .filter(|s| s["persisted"]["state"] == "primary")
    });
    let code = child.stop();
    let stderr = std::fs::read_to_string(&log).unwrap();
    let persisted = persisted.unwrap_or_else(|| panic!("never persisted primary\n{stderr}"));
    assert_eq!(persisted["term"], 1, "{stderr}");
    // It did all that in the unit's sandbox (tests/src/unit_sandbox.rs).
    assert_eq!(sandboxed, Some(Ok(())));
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
