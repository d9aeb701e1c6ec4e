//! The fence's host-side steps. The engine owns the sequence (rule `fence-sequence`:
//! stop the DB, release the VIP, persist "fenced", advertise it, then the action)
//! and orders each step as an action; this module performs the two that are
//! fence-specific:
//! - [`stop_confirmed`] (the engine's `StopDb`): stop PostgreSQL (`-m immediate` /
//!   StopUnit / stop command) and confirm the postmaster exited (its PID from
//!   `postmaster.pid` gone or a zombie); if it has not within `stop_bound` (a
//!   SIGSTOPped postmaster ignores the request), SIGKILL it and its children
//!   (systemd: KillUnit SIGKILL) and wait `kill_bound` more;
//! - [`run_action`] (the engine's `RunFenceAction`): the configured action, stop-db
//!   (nothing more), poweroff (systemd PowerOff over D-Bus), or a command.
//!
//! Releasing the VIP is [`super::vip::Vip::remove`] and persisting "fenced" is
//! [`super::state_file::StateStore::save_async`], as for any other role change.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::postmaster;
use super::service::{run_shell, ServiceControl, ServiceError, StopMode};
use super::systemd::{Bus, SystemdError, SystemdManager};

/// What to do once the node is fenced (`fence.action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FenceAction {
    /// Nothing more: the daemon stays up, the DB stays stopped (default).
    StopDb,
    /// systemd's PowerOff over D-Bus.
    Poweroff {
        /// The bus ([`Bus::System`] in production).
        bus: Bus,
    },
    /// `sh -c` this command.
    Command(String),
}

/// Everything the two steps need.
#[derive(Debug)]
pub(crate) struct FencePlan<'a> {
    /// The local DB's manager.
    pub service: &'a ServiceControl,
    /// Where `postmaster.pid` is (default: the pg_ctl manager's data directory).
    /// Without it a systemd/command stop cannot be confirmed by PID.
    pub data_dir: Option<PathBuf>,
    /// The configured action.
    pub action: FenceAction,
    /// Grace for the stop request before SIGKILL.
    pub stop_bound: Duration,
    /// Grace after SIGKILL.
    pub kill_bound: Duration,
    /// Bound for the action (D-Bus call or command).
    pub action_timeout: Duration,
}

impl<'a> FencePlan<'a> {
    /// A plan with the engine's default windows (`STOP_GRACE`, `KILL_GRACE`,
    /// `FENCE_ACTION_WINDOW`: the driver sets each from the action's own deadline).
    pub(crate) fn new(service: &'a ServiceControl) -> Self {
        Self {
            service,
            data_dir: service.data_dir().map(PathBuf::from),
            action: FenceAction::StopDb,
            stop_bound: twinbeat_core::STOP_GRACE,
            kill_bound: twinbeat_core::KILL_GRACE,
            action_timeout: twinbeat_core::FENCE_ACTION_WINDOW,
        }
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FenceError {
    /// The stop or kill request failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The postmaster was still alive after SIGKILL and `kill_bound`.
    #[error("postmaster {0} still alive after SIGKILL")]
    PostmasterSurvived(i32),
    /// PowerOff failed.
    #[error(transparent)]
    Systemd(#[from] SystemdError),
}

/// What a step did.
#[derive(Debug)]
pub(crate) struct StepReport {
    /// Its duration.
    pub elapsed: Duration,
    /// A short description of what happened, or why it failed.
    pub result: Result<String, FenceError>,
}

async fn timed<F>(f: F) -> StepReport
where
    F: std::future::Future<Output = Result<String, FenceError>>,
{
    let start = Instant::now();
    let result = f.await;
    StepReport {
        elapsed: start.elapsed(),
        result,
    }
}

/// The configured action (the engine's `RunFenceAction`, once "fenced" is on disk
/// and advertised).
pub(crate) async fn run_action(plan: &FencePlan<'_>) -> StepReport {
    timed(async {
        match &plan.action {
            FenceAction::StopDb => Ok("stop-db: nothing more to do".to_owned()),
            FenceAction::Poweroff { bus } => {
                let m = SystemdManager::connect(bus, plan.action_timeout).await?;
                m.power_off().await?;
                Ok("poweroff requested".to_owned())
            }
            FenceAction::Command(c) => {
                run_shell(c, plan.action_timeout).await?;
                Ok(format!("command {c:?} done"))
            }
        }
    })
    .await
}

/// Stops the DB and confirms the postmaster exited (SIGKILL after `stop_bound`).
/// The daemon's `StopDb` (rules `local-db-restart-once` and `fence-sequence`) uses
/// it; `killed` in the result says whether SIGKILL was needed.
pub(crate) async fn stop_confirmed(plan: &FencePlan<'_>) -> (StepReport, bool) {
    let mut killed = false;
    let report = timed(stop_db(plan, &mut killed)).await;
    (report, killed)
}

async fn stop_db(plan: &FencePlan<'_>, killed: &mut bool) -> Result<String, FenceError> {
    // An unreadable PID file must not prevent the stop: it only costs the
    // confirmation (reported below).
    let pid = plan
        .data_dir
        .as_deref()
        .and_then(|d| postmaster::read_pid(d).ok().flatten());
    let stop = plan
        .service
        .stop(StopMode::Immediate, plan.stop_bound)
        .await;
    let Some(pid) = pid else {
        stop?;
        return Ok(
            if plan
                .data_dir
                .as_deref()
                .is_some_and(|d| !d.join("postmaster.pid").exists())
            {
                "not running (no postmaster.pid)".to_owned()
            } else {
                "stop requested (no readable postmaster.pid: exit not confirmed by PID)".to_owned()
            },
        );
    };
    // The request may have failed (e.g. timed out on a frozen postmaster): the PID
    // decides, and SIGKILL is the fallback either way.
    // pg_ctl's stop already waited `stop_bound` for the PID; the others only asked.
    let grace = match plan.service {
        ServiceControl::PgCtl(_) => Duration::ZERO,
        _ => plan.stop_bound,
    };
    if postmaster::wait_dead(pid, grace).await {
        return Ok(format!("postmaster {pid} exited"));
    }
    *killed = true;
    // Both ways: KillUnit may not reach a postmaster outside the unit, and a D-Bus
    // failure must not spare the postmaster its SIGKILL.
    let manager_kill = plan
        .service
        .kill(plan.data_dir.as_deref(), plan.action_timeout)
        .await;
    postmaster::kill_tree(pid);
    if postmaster::wait_dead(pid, plan.kill_bound).await {
        Ok(format!(
            "postmaster {pid} SIGKILLed after {:?}",
            plan.stop_bound
        ))
    } else {
        manager_kill?;
        Err(FenceError::PostmasterSurvived(pid))
    }
}

#[cfg(test)]
mod tests;
