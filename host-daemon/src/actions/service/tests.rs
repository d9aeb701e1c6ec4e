//! pg_ctl restart / stop / start on a real PostgreSQL 15, run as the data directory's
//! owner (pg_ctl refuses root); the daemon-side reaper leaves no zombie postmaster.
//! The restart of a hung server (every process SIGSTOPped) escalates to SIGKILL and
//! comes back with a new postmaster (rule `local-db-restart-once`), through pg_ctl and
//! through shell commands.

use std::time::Duration;

use tokio::time::Instant;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

use super::restart::Stopped;
use super::{PgCtl, ServiceControl, ServiceError, StopMode};
use crate::actions::postmaster::{self, ProcState};

/// The restart's window in these tests: the default `restart_grace`.
const WINDOW: Duration = Duration::from_secs(10);

fn in_secs(s: u64) -> Instant {
    Instant::now() + Duration::from_secs(s)
}

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
        config_file: None,
        log_file: None,
    });
    let t = Duration::from_secs(60);

    let before = db.pid().unwrap();
    let r = svc.restart(None, Instant::now() + WINDOW).await.unwrap();
    println!("restart of a healthy server: {r}");
    assert_eq!(r.stopped, Stopped::Fast, "{r}");
    let after = db.pid().unwrap();
    assert_ne!(before, after, "restart made a new postmaster");
    assert_eq!((r.old, r.new), (Some(before), Some(after)));
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
    let r = svc.restart(None, Instant::now() + WINDOW).await.unwrap();
    assert_eq!(r.stopped, Stopped::NotRunning, "{r}");
    assert_eq!(r.new, db.pid());
    assert_eq!(db.query_text("SELECT 1").await.unwrap(), "1");
}

/// A hung server: the postmaster and every child SIGSTOPped, a client's backend among
/// them. The restart escalates to SIGKILL, every old process is gone, and a new
/// postmaster answers. `svc` manages `db` (the systemd tests use it too).
pub(crate) async fn hung_server_restarts(db: &PgServer, svc: &ServiceControl) {
    let (client, conn) = db
        .tcp_config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    assert_eq!(
        client
            .query_one("SELECT 1::text", &[])
            .await
            .unwrap()
            .get::<_, String>(0),
        "1"
    );
    let before = db.pid().unwrap();
    let mut old = postmaster::children_of(before);
    old.push(before);
    let frozen = db.freeze();
    assert!(
        frozen >= old.len() && old.len() >= 5,
        "stopped {frozen} of {old:?}"
    );
    // SIGSTOP takes effect when the kernel next schedules the process: on a loaded
    // machine, a moment after kill() returns.
    let mut state = postmaster::proc_state(before);
    for _ in 0..200 {
        if state == ProcState::Stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        state = postmaster::proc_state(before);
    }
    assert_eq!(state, ProcState::Stopped);

    let r = svc
        .restart(Some(db.data()), Instant::now() + WINDOW)
        .await
        .unwrap();
    println!("restart of a server with every process stopped: {r}");
    assert_eq!(r.stopped, Stopped::Killed, "{r}");
    let after = db.pid().unwrap();
    assert_ne!(before, after);
    assert_eq!((r.old, r.new), (Some(before), Some(after)));
    let left: Vec<i32> = old
        .iter()
        .copied()
        .filter(|p| !postmaster::proc_state(*p).is_dead())
        .collect();
    assert!(left.is_empty(), "old processes left: {left:?}");
    assert_eq!(db.query_text("SELECT 1").await.unwrap(), "1");
    drop(client);
    let _ = conn.await;
}

#[tokio::test(flavor = "current_thread")]
async fn pg_ctl_restart_of_a_hung_server_escalates_to_sigkill() {
    assert!(pg::installed(), "PostgreSQL 15 is required");
    postmaster::become_subreaper().unwrap();
    let _reaper = postmaster::spawn_reaper().unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let svc = ServiceControl::PgCtl(PgCtl {
        pg_ctl: format!("{PG_BIN}/pg_ctl").into(),
        data_dir: db.data().to_path_buf(),
        config_file: None,
        log_file: None,
    });
    hung_server_restarts(&db, &svc).await;
}

/// The command manager: its stop command is the fast stop (it waits, and is cut off
/// at the step's bound), SIGQUIT the immediate one, then SIGKILL; its restart command
/// starts the server, confirmed by PID.
#[tokio::test(flavor = "current_thread")]
async fn command_restart_of_a_hung_server_escalates_to_sigkill() {
    assert!(pg::installed(), "PostgreSQL 15 is required");
    postmaster::become_subreaper().unwrap();
    let _reaper = postmaster::spawn_reaper().unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let pg_ctl = format!(
        "cd / && setpriv --reuid=postgres --regid=postgres --init-groups -- {PG_BIN}/pg_ctl -D {}",
        db.data().display()
    );
    let svc = ServiceControl::Command {
        restart: format!(
            "{pg_ctl} -l {} -w start",
            db.data().join("twinbeat-postmaster.log").display()
        ),
        stop: format!("{pg_ctl} -m fast -w stop"),
    };
    let before = db.pid().unwrap();
    let r = svc
        .restart(Some(db.data()), Instant::now() + WINDOW)
        .await
        .unwrap();
    println!("command restart of a healthy server: {r}");
    assert_eq!(r.stopped, Stopped::Fast, "{r}");
    assert_ne!(r.new, Some(before));
    hung_server_restarts(&db, &svc).await;
}

#[tokio::test(flavor = "current_thread")]
async fn pg_ctl_refuses_a_root_owned_data_dir_and_commands_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let svc = ServiceControl::PgCtl(PgCtl {
        pg_ctl: format!("{PG_BIN}/pg_ctl").into(),
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        log_file: None,
    });
    if nix::unistd::geteuid().is_root() {
        let e = svc.restart(None, in_secs(5)).await.unwrap_err();
        assert!(matches!(e, ServiceError::RootOwned(_)), "{e}");
    }
    // The overrunning command dies with what it started (its process group).
    let sleeper = dir.path().join("sleeper");
    let cmd = ServiceControl::Command {
        restart: format!("sleep 30 & echo $! > {}; wait", sleeper.display()),
        stop: "exit 3".into(),
    };
    let e = cmd
        .restart(None, Instant::now() + Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Timeout { .. }), "{e}");
    let sleep_pid: i32 = std::fs::read_to_string(&sleeper)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = (0..100).any(|_| {
        postmaster::reap(sleep_pid);
        let dead = postmaster::proc_state(sleep_pid).is_dead();
        if !dead {
            std::thread::sleep(Duration::from_millis(10));
        }
        dead
    });
    assert!(gone, "the command's sleep {sleep_pid} outlived its timeout");
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
    // Without a data directory: the restart command alone, unconfirmed.
    let r = ok.restart(None, in_secs(5)).await.unwrap();
    assert_eq!(r.stopped, Stopped::Unconfirmed);
    assert!(marker.exists());
}
