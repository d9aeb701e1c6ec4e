//! A stop with the `command` manager confirmed by the postmaster's PID.
//! `local_db.service.data_dir` is not configured: the real `twinbeat` binary learns
//! it from the local DB (`SHOW data_directory`). A node persisted as fenced stops
//! its real PostgreSQL 15 at start; a stop command that does nothing leaves the
//! postmaster alive, so only the PID check and the SIGKILL fallback can stop it.

use std::path::Path;
use std::time::Duration;

use twinbeat_lab::cmd::poll;
use twinbeat_lab::daemon::{write_persisted_state, Service};
use twinbeat_lab::lone::LoneNode;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};
use twinbeat_lab::procs;

fn fenced_node_stops_its_db(stop_command: impl Fn(&Path) -> String) -> (String, i32) {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is not installed at {PG_BIN}"
    );
    // The postmaster the daemon kills is reaped by the test (its parent).
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let pid = db.pid().unwrap();
    let net =
        LoneNode::new(Path::new(env!("CARGO_BIN_EXE_twinbeat"))).expect("the node's namespaces");
    let sock = db.sock_dir().to_str().unwrap();
    let cfg = net
        .config(
            (sock, db.port()),
            Service::command("true", &stop_command(db.data())),
            "60s",
            net.vip(),
        )
        .unwrap();
    write_persisted_state(&net.state_dir(), "fenced", 2, "test: fenced").unwrap();
    let log = net.log();
    let child = net.spawn(&cfg, &[]).unwrap();
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let stopped = poll(Duration::from_secs(30), || {
        stderr().contains("local DB stopped").then_some(())
    });
    let fenced = poll(Duration::from_secs(10), || {
        net.status_json(&cfg).filter(|s| s["role"] == "fenced")
    });
    let code = child.stop();
    let text = stderr();
    assert!(stopped.is_some(), "no confirmed stop\n{text}");
    assert!(fenced.is_some(), "never fenced\n{text}");
    assert_eq!(code, Some(0), "{text}");
    let learned = format!(
        "learned {} from the local DB",
        std::fs::canonicalize(db.data()).unwrap().display()
    );
    assert!(text.contains(&learned), "{learned}\n{text}");
    let dead = poll(Duration::from_secs(10), || {
        procs::reap(pid);
        procs::gone(pid).then_some(())
    });
    assert!(dead.is_some(), "postmaster {pid} survived\n{text}");
    (text, pid)
}

#[test]
fn a_stop_command_that_does_nothing_is_caught_by_pid_and_sigkill() {
    let (text, pid) = fenced_node_stops_its_db(|_| "true".to_owned());
    let want = format!("postmaster {pid} SIGKILLed");
    assert!(text.contains(&want), "{want}\n{text}");
    assert!(text.contains("(SIGKILL needed)"), "{text}");
}

#[test]
fn a_stop_command_that_stops_is_confirmed_by_pid() {
    // The operator's usual stop, run as the data directory's owner.
    let (text, pid) = fenced_node_stops_its_db(|data| {
        format!(
            "runuser -u postgres -- {PG_BIN}/pg_ctl -D {} stop -m immediate -W",
            data.display()
        )
    });
    let want = format!("local DB stopped: postmaster {pid} exited");
    assert!(text.contains(&want), "{want}\n{text}");
}
