//! The task that owns the engine. `start` spawns what feeds it; `drain` carries out
//! its actions; `inputs` turns probe results and serial frames into engine inputs;
//! `events` logs what the engine reports; `publish` keeps systemd's STATUS= line and
//! the status snapshot current; `operator` carries out the operator's commands from
//! the control socket.

mod drain;
mod events;
mod inputs;
mod operator;
mod publish;
mod start;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, AttemptId, Engine, Input, PathId, ProbeOutcome};
use twinbeat_protocol as proto;

use super::effects::{Effects, Report};
use super::slots::Slots;
use super::{RunError, SNAPSHOT_PERIOD};
use crate::actions::hooks::Hooks;
use crate::actions::notify;
use crate::actions::state_file::PersistedState;
use crate::config::Config;
use crate::control::Operation;
use crate::metrics::PathMetrics;
use crate::probe::icmp::IcmpOutcome;
use crate::probe::local_db::LocalDbSample;
use crate::probe::remote_db::RemoteDbOutcome;
use crate::probe::runner::Completed;
use crate::serial_link::{LinkEvent, SerialLink};
use crate::status::{AlarmStatus, Shared};

type IcmpDone = Completed<PathId, IcmpOutcome>;

/// Owns the engine and everything that feeds it.
#[derive(Debug)]
pub(crate) struct Driver {
    engine: Engine,
    epoch: TokioInstant,
    cfg: Config,
    node: proto::NodeId,
    cluster: proto::ClusterId,
    shared: Arc<Shared>,
    /// The probed paths' slots (see `slots`).
    slots: Slots,
    icmp_rx: mpsc::Receiver<IcmpDone>,
    remote_rx: mpsc::Receiver<Completed<PathId, RemoteDbOutcome>>,
    local_rx: mpsc::Receiver<Completed<PathId, LocalDbSample>>,
    serial: SerialLink,
    serial_rx: mpsc::Receiver<LinkEvent>,
    /// Answers produced while draining actions, fed back before waiting again.
    inputs: VecDeque<Input>,
    alarms: VecDeque<AlarmStatus>,
    /// The operator's `[hooks]`, run on role changes, fences and alarms.
    hooks: Hooks,
    /// When the last decision to promote was made, until this node serves as primary
    /// (`twinbeat_last_failover_duration_seconds`).
    promote_started: Option<TokioInstant>,
    /// Per-path metric handles, one table indexed by path (`PathId::index`), like
    /// the slots: one entry for each of `PathId::ALL`.
    path_metrics: [PathMetrics; PathId::ALL.len()],
    last_frame_seen: bool,
    /// Why the peer's PostgreSQL last refused this node, until it lets it in again: each
    /// new reason is logged once (rule `remote-db-reads-role`).
    remote_refusal: Option<String>,
    /// Performs the side effects.
    effects: Effects,
    effects_rx: mpsc::UnboundedReceiver<Report>,
    /// Operator commands from the control socket.
    ops_rx: mpsc::Receiver<Operation>,
    /// The record last loaded from or written to `state_dir`.
    persisted: PersistedState,
    /// The last STATUS= line sent to systemd.
    notified: String,
    /// Who paused the pair on this node (the control socket's caller, or what the
    /// persisted pause says), for the status page and the pause's file.
    pause_by: String,
    /// This node's last promotion, for the status page.
    last_failover: Option<crate::status::LastFailover>,
    /// The replication slot the last local check read (a primary's), for the status
    /// page.
    slot: Option<crate::probe::local_db::SlotReading>,
}

impl Driver {
    fn now(&self) -> engine::Instant {
        let us = TokioInstant::now()
            .saturating_duration_since(self.epoch)
            .as_micros();
        engine::Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The engine's `t` on the driver's clock (the inverse of `now`).
    fn instant(&self, t: engine::Instant) -> TokioInstant {
        self.epoch + Duration::from_micros(t.as_micros())
    }

    fn deadline(&self) -> Option<TokioInstant> {
        self.engine.poll_timeout().map(|t| self.instant(t))
    }

    /// Runs until SIGTERM or SIGINT, then returns.
    pub(crate) async fn run_until_signal(&mut self) -> Result<(), RunError> {
        let io = |what| move |source| RunError::Io { what, source };
        let mut term =
            signal(SignalKind::terminate()).map_err(io("installing the SIGTERM handler"))?;
        let mut int =
            signal(SignalKind::interrupt()).map_err(io("installing the SIGINT handler"))?;
        let mut tick = tokio::time::interval(SNAPSHOT_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Without a watchdog the arm still exists but fires hourly and does nothing.
        let watchdog_period = notify::watchdog_period();
        let mut watchdog =
            tokio::time::interval(watchdog_period.unwrap_or(Duration::from_secs(3600)));
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.drain();
        self.refresh();
        if let Err(e) = notify::ready(&self.status_line()) {
            tracing::warn!("{e}");
        }
        tracing::info!("running");
        // One timer, moved to each new deadline: cheaper than a new one per turn at
        // the ICMP path's 1 kHz.
        let far = || TokioInstant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(self.deadline().unwrap_or_else(far));
        tokio::pin!(sleep);
        loop {
            let deadline = self.deadline().unwrap_or_else(far);
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
                () = &mut sleep => {
                    let now = self.now();
                    self.engine.handle_timeout(now);
                }
                Some(done) = self.icmp_rx.recv() => self.on_icmp(done),
                Some(done) = self.remote_rx.recv() => self.on_remote(done),
                Some(done) = self.local_rx.recv() => self.on_local(done),
                Some(event) = self.serial_rx.recv() => self.on_serial(event),
                Some(report) = self.effects_rx.recv() => self.on_effect(report),
                Some(op) = self.ops_rx.recv() => self.on_operation(op),
                _ = tick.tick() => self.refresh(),
                _ = watchdog.tick(), if watchdog_period.is_some() => {
                    if let Err(e) = notify::watchdog() {
                        tracing::warn!("{e}");
                    }
                }
            }
            self.drain();
        }
        self.refresh();
        Ok(())
    }
}

fn failed(path: PathId, attempt: AttemptId) -> Input {
    match path {
        PathId::LocalDb => Input::LocalDb {
            attempt,
            sample: None,
        },
        PathId::Serial => Input::SerialDeviceMissing,
        PathId::RemoteDb => Input::RemoteDb {
            attempt,
            outcome: ProbeOutcome::Failed,
            reading: None,
        },
        path => Input::ProbeDone {
            path,
            attempt,
            outcome: ProbeOutcome::Failed,
        },
    }
}
