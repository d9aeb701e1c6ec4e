//! Issue 5: a stop with the `command` manager confirmed by the postmaster's PID.
//! `local_db.service.data_dir` is not configured: the real `twinbeat` binary learns
//! it from the local DB (`SHOW data_directory`). A node persisted as fenced stops
//! its real PostgreSQL 15 at start; a stop command that does nothing leaves the
//! postmaster alive, so only the PID check and the SIGKILL fallback can stop it.

mod actions_support;
mod daemon_support;

use std::path::Path;
use std::time::Duration;

use actions_support::{have_pg, PgBase, PgCluster, PG_BIN};
use daemon_support::{config, spawn, status_json, stop, wait_for, Net};
use twinbeat::actions::postmaster;
use twinbeat::actions::state_file::{PersistedState, StateStore};
use twinbeat_core::PersistedRole;

fn fenced_node_stops_its_db(stop_command: impl Fn(&Path) -> String) -> (String, i32) {
    assert!(have_pg(), "PostgreSQL 15 is not installed at {PG_BIN}");
    // The postmaster the daemon kills is reaped by the test (its parent).
    postmaster::become_subreaper().unwrap();
    let base = PgBase::new();
    let db = PgCluster::primary(&base, "db");
    let pid = db.pid().unwrap();
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let service = format!(
        "manager = \"command\"\nrestart_command = \"true\"\nstop_command = {:?}",
        stop_command(&db.data)
    );
    let cfg = config(
        dir.path(),
        &net,
        base.path().to_str().unwrap(),
        db.port,
        &service,
        "60s",
    );
    StateStore::new(dir.path().join("state"))
        .save(&PersistedState::new(
            PersistedRole::Fenced,
            2,
            "test: fenced",
        ))
        .unwrap();
    let log = dir.path().join("stderr.log");
    let child = spawn(&net, &cfg, &log);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let stopped = wait_for(Duration::from_secs(30), || {
        stderr().contains("local DB stopped").then_some(())
    });
    let fenced = wait_for(Duration::from_secs(10), || {
        status_json(&net, &cfg).filter(|s| s["role"] == "fenced")
    });
    let code = stop(child);
    let text = stderr();
    assert!(stopped.is_some(), "no confirmed stop\n{text}");
    assert!(fenced.is_some(), "never fenced\n{text}");
    assert_eq!(code, Some(0), "{text}");
    let learned = format!(
        "learned {} from the local DB",
        std::fs::canonicalize(&db.data).unwrap().display()
    );
    assert!(text.contains(&learned), "{learned}\n{text}");
    let dead = wait_for(Duration::from_secs(10), || {
        postmaster::reap(pid);
        postmaster::proc_state(pid).is_dead().then_some(())
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
