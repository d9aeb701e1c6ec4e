//! Performs the side effects the engine asks for and reports each result back as
//! the engine input that answers it.
//!
//! Each effect runs in its own task. The core's ordering guarantee — one VIP
//! operation at a time and one DB operation at a time, each in queue order — is kept
//! by a small FIFO worker per resource: [`workers::vip_worker`] (take, release) and
//! [`workers::db_worker`] (promote, restart, stop). Persisting has its own FIFO too,
//! so "promoting" is never overtaken by "primary". The ARP probe and the fence
//! action run as independent tasks; [`postmaster_watch`] reports the postmaster's
//! exit.

mod guard;
pub(crate) mod plan;
mod postmaster_watch;
mod workers;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use twinbeat_core::{Action, AttemptId, Input};

use crate::actions::arp_probe::{self, ProbeOptions, ProbeOutcome};
use crate::actions::fence;
use crate::actions::maintenance_file::PauseRecord;
use crate::actions::state_file;
use crate::probe::published;
pub(crate) use plan::Plan;
use workers::{DbOp, VipOp};

/// Probes sent by the pre-promotion ARP probe (rule `fresh-checks`).
const ARP_PROBES: u32 = 3;

/// One finished effect.
#[derive(Debug)]
pub(crate) struct Report {
    /// The engine's answer.
    pub(crate) input: Input,
    /// The record now on disk, after a successful persist.
    pub(crate) saved: Option<state_file::PersistedState>,
}

impl From<Input> for Report {
    fn from(input: Input) -> Report {
        Report { input, saved: None }
    }
}

/// Sends effects to their workers.
#[derive(Debug)]
pub(crate) struct Effects {
    plan: Arc<Plan>,
    vip: mpsc::UnboundedSender<VipOp>,
    db: mpsc::UnboundedSender<DbOp>,
    persist: mpsc::UnboundedSender<state_file::PersistedState>,
    pauses: mpsc::UnboundedSender<Option<PauseRecord>>,
    sync: mpsc::UnboundedSender<(bool, TokioInstant)>,
    done: mpsc::UnboundedSender<Report>,
}

impl Effects {
    /// Spawns the workers; results arrive on the returned receiver.
    pub(crate) fn spawn(plan: Plan) -> (Effects, mpsc::UnboundedReceiver<Report>) {
        let plan = Arc::new(plan);
        let (done, done_rx) = mpsc::unbounded_channel();
        let (vip, vip_rx) = mpsc::unbounded_channel();
        let (db, db_rx) = mpsc::unbounded_channel();
        let (persist, persist_rx) = mpsc::unbounded_channel();
        tokio::spawn(workers::vip_worker(Arc::clone(&plan), vip_rx, done.clone()));
        tokio::spawn(workers::db_worker(Arc::clone(&plan), db_rx, done.clone()));
        tokio::spawn(postmaster_watch::postmaster_watch(
            Arc::clone(&plan),
            done.clone(),
        ));
        tokio::spawn(workers::persist_worker(
            Arc::clone(&plan),
            persist_rx,
            done.clone(),
        ));
        let (pauses, pauses_rx) = mpsc::unbounded_channel();
        tokio::spawn(workers::pause_worker(Arc::clone(&plan), pauses_rx));
        let (sync, sync_rx) = mpsc::unbounded_channel();
        tokio::spawn(workers::sync_worker(
            Arc::clone(&plan),
            sync_rx,
            done.clone(),
        ));
        let effects = Effects {
            plan,
            vip,
            db,
            persist,
            pauses,
            sync,
            done,
        };
        (effects, done_rx)
    }

    /// The start guard's state for the status page: `armed`, `disarmed`, `unknown`.
    pub(crate) fn start_guard(&self) -> &'static str {
        guard::state_name(self.plan.data_dir.known())
    }

    /// Learns the data directory now if it was not configured (logged either way),
    /// so the first stop does not have to.
    pub(crate) async fn learn_data_dir(&self) {
        self.plan.data_dir.get(&self.plan.promote_target).await;
    }

    /// Starts the pre-promotion ARP probe `attempt` (rule `fresh-checks`). Its
    /// probes and the listening after them fit in the time left until `deadline`,
    /// the end of the window the engine gave it: the driver keeps no ARP timing of
    /// its own.
    pub(crate) fn probe_arp(&self, attempt: AttemptId, deadline: TokioInstant) {
        let options = probe_options(deadline.saturating_duration_since(TokioInstant::now()));
        let plan = Arc::clone(&self.plan);
        let done = self.done.clone();
        tokio::spawn(async move {
            let answered = arp_probe(&plan, attempt, options).await;
            let _ = done.send(Input::VipArpProbe { attempt, answered }.into());
        });
    }

    /// Starts `action`. `reason` is persisted with a new state (shown by
    /// `twinbeat status`). `at` puts the engine's instants on the
    /// driver's clock: each effect runs until the end of the window its action
    /// carries, and the driver reads no timing from the config. Returns false for the
    /// actions the engine loop carries out itself: the probes (the ARP probe is
    /// [`Effects::probe_arp`]), the frames and the log events.
    pub(crate) fn perform(
        &self,
        action: Action,
        reason: &str,
        at: impl Fn(twinbeat_core::Instant) -> TokioInstant,
    ) -> bool {
        // A send fails only when a worker is gone (the runtime is shutting down):
        // nothing can be performed then, and the engine's answer no longer matters.
        match action {
            Action::Persist(s) => {
                let record = state_file::PersistedState::new(s.role, s.term, reason);
                let _ = self.persist.send(record);
            }
            Action::Promote {
                term,
                synchronous,
                connect_by,
                deadline,
            } => {
                let sync_names = synchronous.and_then(|s| {
                    let standby = self.plan.sync_standby.as_deref()?;
                    Some(crate::actions::sync_standby::value_for(standby, s))
                });
                let _ = self.db.send(DbOp::Promote {
                    term,
                    sync_names,
                    connect_by: at(connect_by),
                    deadline: at(deadline),
                });
            }
            Action::RestartDb {
                lift_guard,
                deadline,
            } => {
                let _ = self.db.send(DbOp::Restart {
                    lift_guard,
                    deadline: at(deadline),
                });
            }
            // In order with the DB operations already queued (a restart or a stop
            // before it finishes first).
            Action::ArmStartGuard => {
                let _ = self.db.send(DbOp::ArmGuard);
            }
            Action::PublishHandover(p) => {
                let _ = self.db.send(DbOp::Publish {
                    setting: published::HANDOVER,
                    value: p.as_ref().map(published::format),
                });
            }
            Action::PublishSyncEpoch(p) => {
                let _ = self.db.send(DbOp::Publish {
                    setting: published::SYNC_EPOCH,
                    value: Some(published::format_epoch(&p)),
                });
            }
            Action::PublishSyncAck(p) => {
                let _ = self.db.send(DbOp::Publish {
                    setting: published::SYNC_ACK,
                    value: Some(published::format_epoch(&p)),
                });
            }
            Action::StopDb { kill_at, deadline } => {
                let _ = self.db.send(DbOp::Stop {
                    kill_at: at(kill_at),
                    deadline: at(deadline),
                });
            }
            // In order, so a pause and its end never land on disk the wrong way round.
            Action::PersistMaintenance(p) => {
                let _ = self
                    .pauses
                    .send(p.map(|w| PauseRecord::new(w.left, reason)));
            }
            Action::Rejoin {
                term,
                reclone,
                deadline,
            } => {
                let _ = self.db.send(DbOp::Rejoin {
                    term,
                    reclone,
                    deadline: at(deadline),
                });
            }
            Action::EnsureSlot { term, deadline } => {
                let plan = Arc::clone(&self.plan);
                let done = self.done.clone();
                let deadline = at(deadline);
                tokio::spawn(async move {
                    let input = workers::ensure_slot(&plan, term, deadline).await;
                    let _ = done.send(input.into());
                });
            }
            Action::SetSyncStandby {
                synchronous,
                deadline,
            } => {
                let _ = self.sync.send((synchronous, at(deadline)));
            }
            Action::Demote { deadline } => {
                let _ = self.db.send(DbOp::Demote {
                    deadline: at(deadline),
                });
            }
            Action::TakeVip => {
                let _ = self.vip.send(VipOp::Take);
            }
            Action::ReleaseVip => {
                let _ = self.vip.send(VipOp::Release);
            }
            Action::RunFenceAction { deadline } => {
                let plan = Arc::clone(&self.plan);
                let done = self.done.clone();
                let deadline = at(deadline);
                tokio::spawn(async move {
                    let step = fence::run_action(&plan.fence_action_plan(deadline)).await;
                    match &step.result {
                        Ok(what) => tracing::warn!("fence action: {what} ({:?})", step.elapsed),
                        Err(e) => tracing::error!("CRITICAL: fence action failed: {e}"),
                    }
                    let _ = done.send(Input::FenceActionDone.into());
                });
            }
            Action::Probe { .. }
            | Action::VipArpProbe { .. }
            | Action::SendPing { .. }
            | Action::SendAck { .. }
            | Action::FlushSerialInput
            | Action::Log(_) => return false,
        }
        true
    }
}

/// The ARP probe's timing within `window`: [`ARP_PROBES`] probes go out `interval`
/// apart and the listening lasts one more interval, so count + 1 gaps fill it.
fn probe_options(window: Duration) -> ProbeOptions {
    ProbeOptions {
        count: ARP_PROBES,
        interval: (window / (ARP_PROBES + 1)).max(Duration::from_millis(1)),
    }
}

/// Whether somebody answers ARP for the VIP. "Could not check" counts as answered:
/// it is the one answer that can never lead to a second holder (rule `fresh-checks`).
async fn arp_probe(plan: &Plan, attempt: AttemptId, options: ProbeOptions) -> bool {
    let Some(spec) = &plan.vip else {
        tracing::error!("VIP ARP probe {attempt:?}: no interface for the VIP: counted as held");
        return true;
    };
    let IpAddr::V4(v4) = spec.address else {
        // RFC 5227 is IPv4 only; the IPv6 equivalent (DAD) is left to the kernel,
        // which marks a duplicate address "dadfailed" when it is added.
        tracing::warn!(
            "VIP ARP probe: {} is IPv6: no ARP probe, counted as free",
            spec.address
        );
        return false;
    };
    match arp_probe::probe_vip(&spec.interface, v4, options).await {
        Ok(ProbeOutcome::Free) => false,
        Ok(ProbeOutcome::Held { by, after }) => {
            tracing::error!(
                "VIP ARP probe: {v4} answered by {} after {after:?}: somebody holds the VIP",
                by.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            );
            true
        }
        Err(e) => {
            tracing::error!("VIP ARP probe on {}: {e}: counted as held", spec.interface);
            true
        }
    }
}

/// Whether `vip` is on one of this host's interfaces.
pub(crate) fn vip_present(vip: IpAddr) -> bool {
    if_addrs::get_if_addrs()
        .map(|addrs| addrs.iter().any(|a| a.ip() == vip))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_probes_and_listening_fill_the_window() {
        let o = probe_options(Duration::from_millis(150));
        assert_eq!(o.count, 3);
        assert_eq!(o.interval, Duration::from_micros(37_500));
        assert_eq!(
            probe_options(Duration::ZERO).interval,
            Duration::from_millis(1)
        );
    }
}
