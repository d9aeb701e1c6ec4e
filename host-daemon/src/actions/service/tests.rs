//! pg_ctl restart / stop / start on a real PostgreSQL 15, run as the data directory's
//! owner (pg_ctl refuses root); the daemon-side reaper leaves no zombie postmaster.

use std::time::Duration;

use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

use super::{PgCtl, ServiceControl, ServiceError, StopMode};
use crate::actions::postmaster::{self, ProcState};

fn uid_of(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn pg_ctl_restart_stop_start_as_the_data_dir_owner() {
    assert!(pg::installed(), "PostgreSQL 15 is required");
    postmaster::become_subreaper().unwrap();
    let _reaper = postmaster::spawn_reaper().unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let svc = ServiceControl::PgCtl(PgCtl {
        pg_ctl: format!("{PG_BIN}/pg_ctl").into(),
        data_dir: db.data().to_path_buf(),
        log_file: None,
    });
    let t = Duration::from_secs(60);

    let before = db.pid().unwrap();
    let start = std::time::Instant::now();
    svc.restart(t).await.unwrap();
    println!("pg_ctl restart -m fast: {:?}", start.elapsed());
    let after = db.pid().unwrap();
    assert_ne!(before, after, "restart made a new postmaster");
    assert_eq!(
        uid_of(after),
        pg::postgres_ids().unwrap().0,
        "runs as the data dir's owner"
    );
    assert_eq!(db.query_text("SELECT 1").await.unwrap(), "1");
    // The old postmaster was re-parented to us and reaped: no zombie left.
    assert_eq!(postmaster::proc_state(before), ProcState::Gone);

    let start = std::time::Instant::now();
    svc.stop(StopMode::Fast, t).await.unwrap();
    println!(
        "pg_ctl stop -m fast (confirmed by PID): {:?}",
        start.elapsed()
    );
    assert!(postmaster::proc_state(after).is_dead());
    assert!(db.query_text("SELECT 1").await.is_err());
    // Stopping a stopped server is fine.
    svc.stop(StopMode::Immediate, t).await.unwrap();

    svc.start(t).await.unwrap();
    let again = db.pid().unwrap();
    assert_eq!(db.query_text("SELECT 1").await.unwrap(), "1");
    let start = std::time::Instant::now();
    svc.stop(StopMode::Immediate, t).await.unwrap();
    println!(
        "pg_ctl stop -m immediate (confirmed by PID): {:?}",
        start.elapsed()
    );
    assert!(postmaster::proc_state(again).is_dead());
    // A restart of a stopped server starts it (and a zombie-free PID lets it).
    svc.restart(t).await.unwrap();
    assert_eq!(db.query_text("SELECT 1").await.unwrap(), "1");
}

#[tokio::test(flavor = "current_thread")]
async fn pg_ctl_refuses_a_root_owned_data_dir_and_commands_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let svc = ServiceControl::PgCtl(PgCtl {
        pg_ctl: format!("{PG_BIN}/pg_ctl").into(),
        data_dir: dir.path().to_path_buf(),
        log_file: None,
    });
    if nix::unistd::geteuid().is_root() {
        let e = svc.restart(Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, ServiceError::RootOwned(_)), "{e}");
    }
    let cmd = ServiceControl::Command {
        restart: "sleep 30".into(),
        stop: "exit 3".into(),
    };
    let e = cmd.restart(Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(e, ServiceError::Timeout { .. }), "{e}");
    let e = cmd
        .stop(StopMode::Immediate, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Failed { .. }), "{e}");
    let marker = dir.path().join("ran");
    let ok = ServiceControl::Command {
        restart: format!("touch {}", marker.display()),
        stop: "true".into(),
    };
    ok.restart(Duration::from_secs(5)).await.unwrap();
    assert!(marker.exists());
}
