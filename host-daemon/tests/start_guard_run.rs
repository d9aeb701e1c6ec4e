//! The start guard (rule 12) with the real `twinbeat` binary and real PostgreSQL 15:
//! a promoted standby gets `standby.signal` armed; a restart the daemon orders on
//! its primary (the postmaster was killed) comes back writable with the guard
//! re-armed; a restart outside the daemon (`pg_ctl restart` by an operator, a
//! reboot) comes back in recovery, read-only.

mod actions_support;
mod daemon_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use actions_support::{have_pg, pg_cmd, postgres_ids, PgBase, PgCluster, PG_BIN};
use daemon_support::{pg_ctl_config, spawn, status_json, stop, wait_for, wait_persisted, Net};
use twinbeat::actions::postmaster;
use twinbeat_core::PersistedRole;

/// One statement over the unix socket in `base` (the postmaster may live in the
/// daemon's network namespace, whose 127.0.0.1 the test cannot reach).
fn query(base: &Path, port: u16, sql: &str) -> Result<String, tokio_postgres::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = tokio_postgres::Config::new();
        c.host_path(base)
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5));
        let (client, conn) = c.connect(tokio_postgres::NoTls).await?;
        let task = tokio::spawn(conn);
        let rows = client.simple_query(sql).await;
        drop(client);
        let _ = task.await;
        for m in rows? {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                return Ok(r.get(0).unwrap_or("").to_owned());
            }
        }
        Ok(String::new())
    })
}

#[test]
fn the_primary_keeps_a_start_guard_only_its_own_restarts_lift() {
    assert!(
        have_pg(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    // The postmasters this test kills must be reaped by it: a zombie's PID in
    // postmaster.pid would make the next pg_ctl wait for it.
    postmaster::become_subreaper().unwrap();
    let base = PgBase::new();
    let primary = PgCluster::primary(&base, "a");
    let standby = PgCluster::standby(&base, "b", &primary);
    let signal = standby.data.join("standby.signal");
    assert!(
        signal.exists(),
        "pg_basebackup -R writes the replica's signal"
    );
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pg_ctl_config(dir.path(), &net, &base, &standby, None);
    let log = dir.path().join("stderr.log");
    let child = spawn(&net, &cfg, &log);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    // 1. Promoted: PostgreSQL removed standby.signal, the daemon put it back.
    let promoted = wait_persisted(
        &dir.path().join("state"),
        PersistedRole::Primary,
        Duration::from_secs(40),
    );
    assert!(promoted.is_some(), "never persisted primary\n{}", stderr());
    let armed = wait_for(Duration::from_secs(10), || {
        status_json(&net, &cfg).filter(|s| s["role"] == "primary" && s["start_guard"] == "armed")
    });
    assert!(armed.is_some(), "guard not shown armed\n{}", stderr());
    assert!(
        stderr().contains("start guard armed (promoted)"),
        "{}",
        stderr()
    );
    let meta = std::fs::metadata(&signal).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), postgres_ids());
    assert_eq!(
        query(base.path(), standby.port, "SELECT pg_is_in_recovery()").unwrap(),
        "f"
    );

    // 2. The postmaster dies; the engine (primary) orders a restart: the daemon
    // lifts the guard for it, so it comes back writable, and re-arms it.
    let pid = standby.pid().unwrap();
    postmaster::kill_tree(pid);
    let reaped = wait_for(Duration::from_secs(10), || {
        postmaster::reap(pid);
        postmaster::proc_state(pid).is_dead().then_some(())
    });
    assert!(reaped.is_some(), "postmaster {pid} did not die");
    let rearmed = wait_for(Duration::from_secs(60), || {
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
        query(base.path(), standby.port, "SELECT pg_is_in_recovery()").unwrap(),
        "f",
        "the primary's own restart comes back writable\n{log_text}"
    );
    query(
        base.path(),
        standby.port,
        "CREATE TABLE after_ordered_restart (x int)",
    )
    .unwrap();
    assert!(signal.exists(), "re-armed");
    let code = stop(child);
    assert_eq!(code, Some(0), "{}", stderr());
    for line in stderr()
        .lines()
        .filter(|l| l.contains("start guard") || l.contains("restart"))
    {
        eprintln!("log: {line}");
    }

    // 3. A start the daemon did not order (here an operator's restart with the
    // daemon down) comes back in recovery, read-only.
    let data = standby.data.to_str().unwrap();
    let pg_log = standby.log();
    pg_cmd(
        "pg_ctl",
        &[
            "restart",
            "-D",
            data,
            "-l",
            pg_log.to_str().unwrap(),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
        ],
    );
    assert_eq!(
        query(base.path(), standby.port, "SELECT pg_is_in_recovery()").unwrap(),
        "t"
    );
    let refused = query(
        base.path(),
        standby.port,
        "CREATE TABLE split_brain (x int)",
    )
    .expect_err("a guarded start must be read-only");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION),
        "{refused}"
    );
}
