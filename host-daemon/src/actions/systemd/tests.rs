//! The systemd service manager and the poweroff fence action over D-Bus, against a
//! private `dbus-daemon` and a small stand-in for systemd's Manager (the one
//! stand-in allowed: systemd is not PID 1 on the test machines); the restart's
//! escalation through a unit on a real PostgreSQL 15.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::zvariant::OwnedObjectPath;

use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

use super::{Bus, SystemdError};
use crate::actions::fence::{run_action, FenceAction, FencePlan};
use crate::actions::postmaster;
use crate::actions::service::tests::hung_server_restarts;
use crate::actions::service::{ServiceControl, ServiceError, StopMode};

struct DbusDaemon {
    child: Child,
    address: String,
}

impl DbusDaemon {
    fn start() -> Self {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon) is required");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            address: line.trim().to_owned(),
        }
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records the calls; answers like systemd (a job path, or NoSuchUnit).
struct FakeManager {
    calls: Arc<Mutex<Vec<String>>>,
    /// Run (`sh -c`, in the background) after answering RestartUnit, as systemd
    /// runs a queued job's ExecStart: the unit's server start.
    on_restart: Option<String>,
}

impl FakeManager {
    /// Serves a stand-in on `bus`; the connection must be kept.
    async fn serve(
        bus: &DbusDaemon,
        on_restart: Option<String>,
    ) -> (zbus::Connection, Arc<Mutex<Vec<String>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name("org.freedesktop.systemd1")
            .unwrap()
            .serve_at(
                "/org/freedesktop/systemd1",
                FakeManager {
                    calls: calls.clone(),
                    on_restart,
                },
            )
            .unwrap()
            .build()
            .await
            .unwrap();
        (conn, calls)
    }
}

impl FakeManager {
    fn job(&self, call: String, name: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        if name != "postgresql.service" {
            return Err(zbus::fdo::Error::Failed(format!("Unit {name} not loaded.")));
        }
        let mut calls = self.calls.lock().unwrap();
        calls.push(call);
        Ok(
            OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{}", calls.len()))
                .unwrap(),
        )
    }
}

#[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
impl FakeManager {
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        let job = self.job(format!("RestartUnit {name} {mode}"), name)?;
        if let Some(cmd) = self.on_restart.clone() {
            std::thread::spawn(move || Command::new("/bin/sh").arg("-c").arg(cmd).status());
        }
        Ok(job)
    }
    fn start_unit(&self, name: &str, mode: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        self.job(format!("StartUnit {name} {mode}"), name)
    }
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::fdo::Result<OwnedObjectPath> {
        self.job(format!("StopUnit {name} {mode}"), name)
    }
    fn kill_unit(&self, name: &str, whom: &str, signal: i32) -> zbus::fdo::Result<()> {
        self.job(format!("KillUnit {name} {whom} {signal}"), name)
            .map(|_| ())
    }
    fn power_off(&self) -> zbus::fdo::Result<()> {
        self.calls.lock().unwrap().push("PowerOff".into());
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn systemd_manager_calls_over_a_private_bus() {
    let bus = DbusDaemon::start();
    let (_server, calls) = FakeManager::serve(&bus, None).await;

    let t = Duration::from_secs(10);
    let svc = ServiceControl::Systemd {
        unit: "postgresql.service".into(),
        bus: Bus::Address(bus.address.clone()),
    };
    // Without a data directory the restart is the unit's own (nothing to confirm
    // by PID); the escalation is `service::tests`'.
    let r = svc
        .restart(None, tokio::time::Instant::now() + t)
        .await
        .unwrap();
    assert_eq!(r.new, None, "{r}");
    svc.stop(StopMode::Immediate, t).await.unwrap();
    svc.start(t).await.unwrap();
    assert_eq!(svc.kill(None, t).await.unwrap(), 1);

    let mut plan = FencePlan::new(&svc);
    plan.action = FenceAction::Poweroff {
        bus: Bus::Address(bus.address.clone()),
    };
    let step = run_action(&plan).await;
    assert!(step.result.is_ok(), "{:?}", step.result);

    assert_eq!(
        *calls.lock().unwrap(),
        [
            "RestartUnit postgresql.service replace",
            "StopUnit postgresql.service replace",
            "StartUnit postgresql.service replace",
            "KillUnit postgresql.service all 9",
            "PowerOff",
        ]
    );

    // systemd's refusal comes back as a clear error naming the method.
    let unknown = ServiceControl::Systemd {
        unit: "nope.service".into(),
        bus: Bus::Address(bus.address.clone()),
    };
    let e = unknown
        .restart(None, tokio::time::Instant::now() + t)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            ServiceError::Systemd(b) if matches!(**b, SystemdError::Call {
                method: "RestartUnit",
                ..
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not loaded"), "{e}");
}

/// A restart through a unit of a hung server (every process SIGSTOPped): the
/// stand-in's StopUnit stops nothing (as a unit whose stop waits on the hung
/// postmaster), so the restart escalates to SIGQUIT, then SIGKILL with KillUnit, and
/// starts the server with RestartUnit (the stand-in then runs `pg_ctl start -W`, as
/// the unit's ExecStart would, and does not wait for it), confirmed by a new
/// postmaster PID accepting connections.
#[tokio::test(flavor = "current_thread")]
async fn systemd_restart_of_a_hung_server_escalates_then_restarts_the_unit() {
    assert!(pg::installed(), "PostgreSQL 15 is required");
    postmaster::become_subreaper().unwrap();
    let _reaper = postmaster::spawn_reaper().unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let bus = DbusDaemon::start();
    let start = format!(
        "cd / && setpriv --reuid=postgres --regid=postgres --init-groups -- {PG_BIN}/pg_ctl -D {} -l {} -W start",
        db.data().display(),
        db.data().join("twinbeat-postmaster.log").display()
    );
    let (_server, calls) = FakeManager::serve(&bus, Some(start)).await;
    let svc = ServiceControl::Systemd {
        unit: "postgresql.service".into(),
        bus: Bus::Address(bus.address.clone()),
    };
    hung_server_restarts(&db, &svc).await;
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "StopUnit postgresql.service replace",
            "KillUnit postgresql.service all 9",
            "RestartUnit postgresql.service replace",
        ]
    );
}
