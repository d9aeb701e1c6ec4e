//! `Action::Demote` (rule `planned-switchover`): the master hands its PostgreSQL over.
//! It shares the rejoin's tools (`pg_controldata` run as the data directory's owner,
//! the local connection), since the old master then rejoins the new primary.
//!
//! 1. a running server gets a `CHECKPOINT` first, so the shutdown's own checkpoint
//!    has little to write while clients wait;
//! 2. it is stopped in fast mode through the service manager (the start guard's
//!    `standby.signal` stays: a start nobody ordered comes up read-only), and the
//!    postmaster must be gone;
//! 3. `pg_controldata` must say "shut down": its latest checkpoint location is the
//!    shutdown checkpoint, the final LSN the standby replays past before it promotes.
//!    A server already stopped cleanly is only read (a restart in `demoting`); one
//!    that stopped in recovery, or crashed, has no final LSN to give.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant as TokioInstant;

use super::{connect_local, controldata, RejoinError, RejoinPlan, QUERY_BOUND};
use crate::actions::postmaster;
use crate::actions::service::{ServiceControl, ServiceError, StopMode};

/// How often the postmaster's exit is polled after the stop request.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// Why `Action::Demote` failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoteError {
    /// The data directory is unknown.
    #[error("demote: the data directory is unknown")]
    NoDataDir,
    /// The service manager could not stop the server.
    #[error("demote: stopping PostgreSQL: {0}")]
    Stop(#[from] ServiceError),
    /// The postmaster was still running at the end of the window.
    #[error("demote: the postmaster (PID {0}) is still running")]
    StillRunning(i32),
    /// `pg_controldata` could not be run or read.
    #[error("demote: {0}")]
    ControlData(#[from] RejoinError),
    /// The control file says the cluster was not shut down cleanly as a primary.
    #[error("demote: the cluster's state is {0:?}, not a primary's clean shutdown: no final LSN")]
    NotShutDown(String),
}

/// Checkpoints and stops the local PostgreSQL cleanly by `deadline`; returns the
/// final LSN.
pub(crate) async fn demote(
    plan: &RejoinPlan,
    service: &ServiceControl,
    data_dir: Option<&Path>,
    deadline: TokioInstant,
) -> Result<u64, DemoteError> {
    let data_dir = data_dir.ok_or(DemoteError::NoDataDir)?;
    if let Some(pid) = running_postmaster(data_dir) {
        if let Err(e) = checkpoint(&plan.local, deadline).await {
            tracing::warn!("demote: CHECKPOINT before the stop failed ({e}); stopping anyway");
        }
        let left = deadline.saturating_duration_since(TokioInstant::now());
        service.stop(StopMode::Fast, left).await?;
        loop {
            if running_postmaster(data_dir).is_none() {
                break;
            }
            if TokioInstant::now() >= deadline {
                return Err(DemoteError::StillRunning(pid));
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }
    let control = controldata(plan, data_dir, deadline).await?;
    final_lsn(&control)
}

/// The final LSN a clean primary shutdown left in the control file.
fn final_lsn(control: &controldata::ControlData) -> Result<u64, DemoteError> {
    if control.state == "shut down" {
        Ok(control.checkpoint_lsn)
    } else {
        Err(DemoteError::NotShutDown(control.state.clone()))
    }
}

/// The PID of a live postmaster of `data_dir`, if any.
fn running_postmaster(data_dir: &Path) -> Option<i32> {
    postmaster::read_pid(data_dir)
        .ok()
        .flatten()
        .filter(|pid| !postmaster::postmaster_state(*pid).is_dead())
}

/// `CHECKPOINT` on the local server, bounded.
async fn checkpoint(local: &tokio_postgres::Config, deadline: TokioInstant) -> Result<(), String> {
    let bound = deadline
        .saturating_duration_since(TokioInstant::now())
        .min(QUERY_BOUND);
    let work = async {
        let (client, task) = connect_local(local, bound)
            .await
            .map_err(|e| e.to_string())?;
        let done = client
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| e.to_string());
        drop(client);
        let _ = task.await;
        done
    };
    tokio::time::timeout(bound, work)
        .await
        .map_err(|_| format!("no answer within {bound:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(state: &str) -> controldata::ControlData {
        controldata::ControlData {
            state: state.to_owned(),
            timeline: 1,
            wal_log_hints: true,
            checksums: false,
            wal_segment_size: 16 << 20,
            redo_lsn: 0x0300_0028,
            checkpoint_lsn: 0x0300_0028,
        }
    }

    #[test]
    fn only_a_primarys_clean_shutdown_gives_a_final_lsn() {
        assert_eq!(final_lsn(&control("shut down")).ok(), Some(0x0300_0028));
        for state in [
            "shut down in recovery",
            "in production",
            "in crash recovery",
        ] {
            assert!(matches!(
                final_lsn(&control(state)),
                Err(DemoteError::NotShutDown(_))
            ));
        }
    }
}
