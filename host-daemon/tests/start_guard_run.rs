//! The start guard (rule `start-guard`) with the real `twinbeat` binary and real PostgreSQL 15:
//! a promoted standby gets `standby.signal` armed; a restart the daemon orders on
//! its primary (the postmaster was killed) comes back writable with the guard
//! re-armed; a restart outside the daemon (`pg_ctl restart` by an operator, a
//! reboot) comes back in recovery, read-only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use twinbeat_lab::cmd::poll;
use twinbeat_lab::lone::LoneNode;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};
use twinbeat_lab::procs;

#[test]
fn the_primary_keeps_a_start_guard_only_its_own_restarts_lift() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    // The postmasters this test kills must be reaped by it: a zombie's PID in
    // postmaster.pid would make the next pg_ctl wait for it.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    let signal = standby.data().join("standby.signal");
    assert!(
        signal.exists(),
        "pg_basebackup -R writes the replica's signal"
    );
    let net =
        LoneNode::new(Path::new(env!("CARGO_BIN_EXE_twinbeat"))).expect("the node's namespaces");
    let cfg = net.pg_ctl_config(&standby, None).unwrap();
    let log = net.log();
    let child = net.spawn(&cfg, &[]).unwrap();
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    // 1. Promoted: PostgreSQL removed standby.signal, the daemon put it back.
    let promoted = net.wait_persisted("primary", Duration::from_secs(40));
    assert!(promoted.is_some(), "never persisted primary\n{}", stderr());
    let armed = poll(Duration::from_secs(10), || {
        net.status_json(&cfg)
            .filter(|s| s["role"] == "primary" && s["start_guard"] == "armed")
    });
    assert!(armed.is_some(), "guard not shown armed\n{}", stderr());
    assert!(
        stderr().contains("start guard armed (primary)"),
        "{}",
        stderr()
    );
    let meta = std::fs::metadata(&signal).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), pg::postgres_ids().unwrap());
    assert_eq!(standby.query("SELECT pg_is_in_recovery()").unwrap(), "f");

    // 2. The postmaster dies; the engine (primary) orders a restart: the daemon
    // lifts the guard for it, so it comes back writable, and re-arms it.
    let pid = standby.pid().unwrap();
    procs::signal_tree(pid, Signal::SIGKILL);
    let reaped = poll(Duration::from_secs(10), || {
        procs::reap(pid);
        procs::gone(pid).then_some(())
    });
    assert!(reaped.is_some(), "postmaster {pid} did not die");
    let rearmed = poll(Duration::from_secs(60), || {
        stderr()
            .contains("start guard armed (after the primary's restart)")
            .then_some(())
    });
    assert!(rearmed.is_some(), "no re-arm after a restart\n{}", stderr());
    let log_text = stderr();
    let disarm_at = log_text.find("start guard disarmed (restart ordered on the primary)");
    let restarted_at = log_text.find("local DB restarted");
    assert!(
        disarm_at.is_some() && disarm_at < restarted_at,
        "disarm before the restart\n{log_text}"
    );
    assert_ne!(standby.pid(), Some(pid), "a new postmaster");
    assert_eq!(
        standby.query("SELECT pg_is_in_recovery()").unwrap(),
        "f",
        "the primary's own restart comes back writable\n{log_text}"
    );
    standby
        .query("CREATE TABLE after_ordered_restart (x int)")
        .unwrap();
    assert!(signal.exists(), "re-armed");
    let code = child.stop();
    assert_eq!(code, Some(0), "{}", stderr());
    for line in stderr()
        .lines()
        .filter(|l| l.contains("start guard") || l.contains("restart"))
    {
        eprintln!("log: {line}");
    }

    // 3. A start the daemon did not order (here an operator's restart with the
    // daemon down) comes back in recovery, read-only.
    standby
        .pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"])
        .unwrap();
    assert_eq!(standby.query("SELECT pg_is_in_recovery()").unwrap(), "t");
    let refused = standby
        .query("CREATE TABLE split_brain (x int)")
        .expect_err("a guarded start must be read-only");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION),
        "{refused}"
    );
}
