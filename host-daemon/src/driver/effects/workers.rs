//! The per-resource FIFO workers: each takes one operation at a time, in the order
//! the engine queued them, and reports its answer. A DB operation runs until the
//! end of the window its action carried; one queued behind another gets what is left
//! of it, as a probe queued in its slot does.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use twinbeat_core::Input;

use super::guard;
use super::plan::{Plan, GARP_INTERVAL};
use super::Report;
use crate::actions::arp::GarpHandle;
use crate::actions::fence;
use crate::actions::maintenance_file::PauseRecord;
use crate::actions::promote::{self, PromoteOptions};
use crate::actions::publish;
use crate::actions::rejoin;
use crate::actions::state_file;
use crate::actions::sync_standby::{self, SyncConnection};
use crate::actions::vip::Vip;

/// A VIP operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VipOp {
    /// Add the VIP and announce it.
    Take,
    /// Remove it.
    Release,
}

/// A local DB operation, with the instants of its action on the driver's clock.
#[derive(Debug, Clone)]
pub(crate) enum DbOp {
    /// Publish the term, `pg_promote` and wait until writable.
    Promote {
        /// The term to publish first (rule `remote-db-reads-role`).
        term: u64,
        /// What `synchronous_standby_names` becomes after `pg_promote` (rule
        /// `sync-epoch`); `None`: left alone.
        sync_names: Option<String>,
        /// End of the connection's window.
        connect_by: TokioInstant,
        /// End of the promotion's window.
        deadline: TokioInstant,
    },
    /// Restart through the service manager. With `lift_guard` the start guard is
    /// disarmed around it, so the primary's own restart comes back writable.
    Restart {
        /// The engine asked to lift the guard for this one start (rule `start-guard`).
        lift_guard: bool,
        /// End of the restart's window.
        deadline: TokioInstant,
    },
    /// Stop and confirm the postmaster exited.
    Stop {
        /// End of the stop request's grace: SIGKILL then.
        kill_at: TokioInstant,
        /// End of the stop's window.
        deadline: TokioInstant,
    },
    /// Arm the start guard (the engine's `ArmStartGuard`); no answer to the engine.
    ArmGuard,
    /// Publish a setting where the peer's remote DB path reads it, or clear it
    /// (`None`): `twinbeat.handover` (the engine's `PublishHandover`),
    /// `twinbeat.sync_epoch` or `twinbeat.sync_ack` (`PublishSyncEpoch`,
    /// `PublishSyncAck`), their text from `probe::published`; no answer to the engine.
    Publish {
        /// The setting.
        setting: &'static str,
        /// Its new value.
        value: Option<String>,
    },
    /// Make the stopped local DB a streaming standby of the peer (rule
    /// `rejoin-after-fence`).
    Rejoin {
        /// The peer's term (for the log).
        term: u64,
        /// `pg_basebackup` rather than `pg_rewind`.
        reclone: bool,
        /// End of the rejoin's window.
        deadline: TokioInstant,
    },
    /// Checkpoint and stop the local DB cleanly, read the final LSN (rule
    /// `planned-switchover`).
    Demote {
        /// End of the demotion's window.
        deadline: TokioInstant,
    },
}

pub(crate) async fn vip_worker(
    plan: Arc<Plan>,
    mut rx: mpsc::UnboundedReceiver<VipOp>,
    done: mpsc::UnboundedSender<Report>,
) {
    // One netlink connection for the daemon's life, opened in the runtime's
    // network namespace.
    let vip = match &plan.vip {
        Some(spec) => match Vip::new(spec.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("VIP: cannot open netlink: {e}: every VIP operation fails");
                None
            }
        },
        None => {
            tracing::error!("VIP: no interface known for the VIP: every VIP operation fails");
            None
        }
    };
    let mut announcing: Option<GarpHandle> = None;
    while let Some(op) = rx.recv().await {
        let input = match (op, &vip) {
            (VipOp::Take, Some(vip)) => {
                let start = Instant::now();
                match vip.take(plan.garp_count, GARP_INTERVAL).await {
                    Ok((report, arp_err)) => {
                        tracing::warn!(
                            "VIP {} taken on {} ({:?}) in {:?}, first gratuitous ARP after {:?}",
                            vip.spec().address,
                            vip.spec().interface,
                            report.outcome,
                            start.elapsed(),
                            report.first_announcement_elapsed
                        );
                        if let Some(e) = arp_err {
                            tracing::error!("VIP held but not announced: {e}");
                        }
                        if let Some(old) = std::mem::replace(&mut announcing, report.announcements)
                        {
                            old.cancel();
                        }
                        Input::VipTaken
                    }
                    Err(e) => {
                        tracing::error!("CRITICAL: cannot take the VIP: {e}");
                        Input::VipFailed
                    }
                }
            }
            (VipOp::Release, Some(vip)) => {
                if let Some(h) = announcing.take() {
                    h.cancel();
                }
                match vip.remove().await {
                    Ok(outcome) => {
                        tracing::warn!("VIP {} released: {outcome:?}", vip.spec().address);
                        Input::VipReleased
                    }
                    Err(e) => {
                        tracing::error!("CRITICAL: cannot release the VIP: {e}");
                        Input::VipReleaseFailed
                    }
                }
            }
            (VipOp::Take, None) => Input::VipFailed,
            (VipOp::Release, None) => {
                // Without netlink the address can still be looked up: nothing to
                // release is a release done.
                if super::vip_present(plan_addr(&plan)) {
                    Input::VipReleaseFailed
                } else {
                    Input::VipReleased
                }
            }
        };
        if done.send(input.into()).is_err() {
            return;
        }
    }
}

fn plan_addr(plan: &Plan) -> std::net::IpAddr {
    plan.vip
        .as_ref()
        .map(|s| s.address)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

pub(crate) async fn db_worker(
    plan: Arc<Plan>,
    mut rx: mpsc::UnboundedReceiver<DbOp>,
    done: mpsc::UnboundedSender<Report>,
) {
    while let Some(op) = rx.recv().await {
        let input = match op {
            DbOp::Promote {
                term,
                sync_names,
                connect_by,
                deadline,
            } => {
                let now = TokioInstant::now();
                let mut target = plan.promote_target.clone();
                target.connect_timeout(connect_by.saturating_duration_since(now));
                let opts = PromoteOptions {
                    term,
                    timeout: deadline.saturating_duration_since(now),
                    ..PromoteOptions::default()
                };
                match promote::promote_with_config(&target, opts, sync_names.as_deref()).await {
                    Ok(r) => {
                        tracing::warn!(
                            "promoted: term published in {:?}, writable {:?} after the request ({} polls, {} requests{})",
                            r.publish,
                            r.request_to_writable,
                            r.polls,
                            r.requests,
                            if r.already_primary { ", was already primary" } else { "" }
                        );
                        // The engine arms the start guard once the node serves
                        // (`ArmStartGuard`), off the promotion's path.
                        Input::Promoted
                    }
                    Err(e) => {
                        tracing::error!("CRITICAL: promotion failed: {e}");
                        Input::PromoteFailed {
                            requested: e.requested,
                        }
                    }
                }
            }
            DbOp::Restart {
                lift_guard,
                deadline,
            } => restart(&plan, lift_guard, deadline).await,
            DbOp::ArmGuard => {
                guard::arm(plan.data_dir.get(&plan.promote_target).await, "primary").await;
                continue;
            }
            DbOp::Publish { setting, value } => {
                publish_setting(&plan.promote_target, setting, value.as_deref()).await;
                continue;
            }
            DbOp::Rejoin {
                term,
                reclone,
                deadline,
            } => rejoin(&plan, term, reclone, deadline).await,
            DbOp::Demote { deadline } => demote(&plan, deadline).await,

            DbOp::Stop { kill_at, deadline } => {
                let dir = plan.data_dir.get(&plan.promote_target).await;
                let stop = plan.stop_plan(dir, kill_at, deadline);
                let (step, killed) = fence::stop_confirmed(&stop).await;
                match step.result {
                    Ok(what) => {
                        tracing::warn!(
                            "local DB stopped: {what} in {:?}{}",
                            step.elapsed,
                            if killed { " (SIGKILL needed)" } else { "" }
                        );
                        Input::DbStopped
                    }
                    Err(e) => {
                        tracing::error!("CRITICAL: local DB stop not confirmed: {e}");
                        Input::DbStopFailed
                    }
                }
            }
        };
        if done.send(input.into()).is_err() {
            return;
        }
    }
}

/// Publishes (or clears) `setting` in the local PostgreSQL on a connection of its
/// own, within [`PUBLISH_WINDOW`](twinbeat_core::PUBLISH_WINDOW). A failure is a
/// warning: the peer's readings tell the engine what arrived (rules `fence-handshake`
/// and `sync-epoch`).
async fn publish_setting(
    target: &tokio_postgres::Config,
    setting: &'static str,
    value: Option<&str>,
) {
    let bound = twinbeat_core::PUBLISH_WINDOW;
    let poll = std::time::Duration::from_millis(2);
    let work = publish::publish_with_config(target, setting, value, poll);
    match tokio::time::timeout(bound, work).await {
        Ok(Ok(())) => tracing::info!("published {setting} = {:?}", value.unwrap_or("")),
        Ok(Err(e)) => tracing::warn!("cannot publish {setting}: {e}"),
        Err(_) => tracing::warn!("publishing {setting} took longer than {bound:?}"),
    }
}

/// A restart. With `lift_guard` (the engine orders it on a primary): disarm, restart,
/// re-arm whatever the restart's result (a DB that failed to come back must not come
/// back writable later on an unordered start). Otherwise the guard (or a standby's
/// own `standby.signal`) stays, so it comes back read-only. The restart itself escalates
/// until the old server is gone, starts it and waits for a new postmaster accepting
/// connections ([`ServiceControl::restart`](crate::actions::service::ServiceControl::restart)),
/// all by `deadline`; it needs the data directory in every role, to find the
/// postmaster's PID.
async fn restart(plan: &Plan, lift_guard: bool, deadline: TokioInstant) -> Input {
    let dir = plan.data_dir.get(&plan.promote_target).await;
    if lift_guard {
        if let Some(d) = dir {
            guard::disarm(d, "restart ordered on the primary").await;
        }
    }
    let input = match plan.service.restart(dir, deadline).await {
        Ok(r) => {
            tracing::warn!("local DB restarted: {r}");
            Input::DbRestarted
        }
        Err(e) => {
            tracing::error!("local DB restart failed: {e}");
            Input::DbRestartFailed
        }
    };
    if lift_guard {
        guard::arm(dir, "after the primary's restart").await;
    }
    input
}

/// The standby's slot (rule `standby-slot`), logged; its answer to the engine. Not in
/// the DB worker's queue: a peer that does not answer must never hold a promotion
/// back behind it.
pub(crate) async fn ensure_slot(plan: &Plan, term: u64, deadline: TokioInstant) -> Input {
    match rejoin::ensure_slot(&plan.rejoin, deadline).await {
        Ok((slot, changed)) => {
            if changed {
                tracing::warn!(
                    "replication slot {slot} on the primary of term {term}; primary_slot_name set and reloaded (rule standby-slot)"
                );
            }
            Input::SlotEnsured { term }
        }
        Err(e) => {
            tracing::warn!("replication slot not made sure of: {e}");
            Input::SlotNotEnsured { term }
        }
    }
}

/// The switchover's demotion, logged; its answer to the engine.
async fn demote(plan: &Plan, deadline: TokioInstant) -> Input {
    let dir = plan.data_dir.get(&plan.promote_target).await;
    let started = TokioInstant::now();
    match rejoin::demote(&plan.rejoin, &plan.service, dir, deadline).await {
        Ok(lsn) => {
            tracing::warn!(
                "switchover: local DB checkpointed and shut down cleanly in {:?}; final LSN {}",
                started.elapsed(),
                rejoin::format_lsn(lsn)
            );
            Input::Demoted { lsn }
        }
        Err(e) => {
            tracing::error!("switchover: {e}");
            Input::DemoteFailed
        }
    }
}

/// The rejoin, logged; its answer to the engine.
async fn rejoin(plan: &Plan, term: u64, reclone: bool, deadline: TokioInstant) -> Input {
    let dir = plan.data_dir.get(&plan.promote_target).await;
    tracing::warn!(
        "rejoin: making the local DB a standby of the peer (primary in term {term}){}",
        if reclone { " with pg_basebackup" } else { "" }
    );
    match rejoin::rejoin(&plan.rejoin, &plan.service, dir, reclone, deadline).await {
        Ok(done) => {
            tracing::warn!(
                "rejoin: streaming from the peer after {:?} ({:?}){}",
                done.elapsed,
                done.method,
                done.report
                    .map(|r| format!("; report in {}", r.dir.display()))
                    .unwrap_or_default()
            );
            Input::Rejoined
        }
        Err(e) => {
            tracing::error!("CRITICAL: {e}");
            Input::RejoinFailed
        }
    }
}

/// Writes or removes the maintenance pause's file, one at a time in queue order; a
/// failure is a warning (a lost pause leaves the rules running unpaused).
pub(crate) async fn pause_worker(
    plan: Arc<Plan>,
    mut rx: mpsc::UnboundedReceiver<Option<PauseRecord>>,
) {
    while let Some(record) = rx.recv().await {
        let store = plan.pauses.clone();
        let saved = tokio::task::spawn_blocking(move || store.save(record.as_ref())).await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("maintenance pause not kept on disk: {e}"),
            Err(e) => tracing::warn!(
                "maintenance pause not kept on disk in {}: {e}",
                plan.pauses.dir().display()
            ),
        }
    }
}

pub(crate) async fn persist_worker(
    plan: Arc<Plan>,
    mut rx: mpsc::UnboundedReceiver<state_file::PersistedState>,
    done: mpsc::UnboundedSender<Report>,
) {
    while let Some(record) = rx.recv().await {
        let state = record.engine_state();
        let report = match plan.store.save_async(record.clone()).await {
            Ok(()) => {
                tracing::info!(
                    "persisted {:?} in term {} ({})",
                    record.state,
                    record.term,
                    record.reason
                );
                Report {
                    input: Input::Persisted(state),
                    saved: Some(record),
                }
            }
            Err(e) => {
                tracing::error!("CRITICAL: cannot persist {:?}: {e}", record.state);
                Input::PersistFailed(state).into()
            }
        };
        if done.send(report).is_err() {
            return;
        }
    }
}

/// How often the sync worker checks its held connection between requests.
const SYNC_CONNECTION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Rule `sync-epoch`: changes `synchronous_standby_names`, one request at a time, on a
/// connection it opens at start and opens again whenever it finds it broken, so a
/// change never needs a new connection while clients waiting on the standby hold
/// every slot. Idle in `async` mode.
pub(crate) async fn sync_worker(
    plan: Arc<Plan>,
    mut rx: mpsc::UnboundedReceiver<(bool, TokioInstant)>,
    done: mpsc::UnboundedSender<Report>,
) {
    let Some(standby) = plan.sync_standby.clone() else {
        // Nothing asks in `async` mode; drain so a sender never blocks.
        while rx.recv().await.is_some() {}
        return;
    };
    let mut conn = SyncConnection::new(plan.promote_target.clone());
    loop {
        tokio::select! {
            request = rx.recv() => {
                let Some((synchronous, deadline)) = request else { return };
                let want = sync_standby::value_for(&standby, synchronous);
                let started = Instant::now();
                let input = match conn.set(&want, deadline).await {
                    Ok(()) => {
                        tracing::warn!(
                            "synchronous_standby_names = {want:?} (rule sync-epoch), in {:?}",
                            started.elapsed()
                        );
                        Input::SyncStandbySet { synchronous }
                    }
                    Err(e) => {
                        tracing::error!("cannot set synchronous_standby_names = {want:?}: {e}");
                        Input::SyncStandbyNotSet { synchronous }
                    }
                };
                let _ = done.send(input.into());
            }
            () = tokio::time::sleep(SYNC_CONNECTION_CHECK), if !conn.is_open() => {
                let by = TokioInstant::now() + SYNC_CONNECTION_CHECK;
                if let Err(e) = conn.ensure_open(by).await {
                    tracing::debug!("sync worker: no connection to the local PostgreSQL yet: {e}");
                }
            }
        }
    }
}
