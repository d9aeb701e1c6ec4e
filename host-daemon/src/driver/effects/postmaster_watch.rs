//! Watches the local postmaster's PID and reports its exit to the engine
//! (`Input::PostmasterExited`, rule `local-db-restart-once`): with
//! `restart_after_crash = off` a crashed backend makes the postmaster exit, and the
//! daemon's own restart (the start guard lifted on a primary, rule `start-guard`) is
//! what brings a primary back writable, within about a second instead of the local DB
//! path's `retries × timeout`.
//!
//! A poll, not a pidfd: the postmaster is usually not our child (the service manager
//! or an earlier daemon started it), and a poll needs no unsafe code. It reads
//! `/proc/<pid>/stat` every [`WATCH_PERIOD`], and `postmaster.pid` only while no live
//! postmaster is known: a few dozen small reads a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use twinbeat_core::Input;

use super::{Plan, Report};
use crate::actions::postmaster;

/// How often the postmaster's PID is looked at.
pub(crate) const WATCH_PERIOD: Duration = Duration::from_millis(25);

/// How often the data directory is asked for while it is unknown (it is learned from
/// the local DB when not configured, and the DB may be down).
const LEARN_PERIOD: Duration = Duration::from_secs(1);

pub(crate) async fn postmaster_watch(plan: Arc<Plan>, done: mpsc::UnboundedSender<Report>) {
    let mut tick = tokio::time::interval(WATCH_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut watched: Option<i32> = None;
    let mut next_learn = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let dir = match plan.data_dir.known() {
            Some(dir) => dir,
            None => {
                if tokio::time::Instant::now() >= next_learn {
                    next_learn = tokio::time::Instant::now() + LEARN_PERIOD;
                    // Learned for every user of the data directory at once.
                    let _ = plan.data_dir.get(&plan.promote_target).await;
                }
                continue;
            }
        };
        match watched {
            Some(pid) if postmaster::proc_state(pid).is_dead() => {
                watched = None;
                tracing::warn!("local postmaster (PID {pid}) exited");
                if done.send(Input::PostmasterExited.into()).is_err() {
                    return;
                }
            }
            Some(_) => {}
            None => {
                watched = postmaster::read_pid(dir)
                    .ok()
                    .flatten()
                    .filter(|pid| !postmaster::proc_state(*pid).is_dead());
            }
        }
    }
}
