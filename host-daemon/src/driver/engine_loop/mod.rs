//! The task that owns the engine. `inputs` turns probe results and serial frames into
//! engine inputs; `events` logs what the engine reports.

mod events;
mod inputs;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, Action, AttemptId, Engine, Input, PathId, ProbeOutcome};
use twinbeat_protocol as proto;

use super::effects::{self, Effects, Plan, Report};
use super::slots::{Slot, Started};
use super::{db_target, snapshot, wire, RunError, SNAPSHOT_PERIOD};
use crate::actions::notify;
use crate::actions::state_file::PersistedState;
use crate::config::{self, Config};
use crate::metrics::PathMetrics;
use crate::probe::icmp::{IcmpOutcome, IcmpProber};
use crate::probe::local_db::{LocalDbProbe, LocalDbSample};
use crate::probe::remote_db::{RemoteDbOutcome, RemoteDbProbe};
use crate::probe::runner::{self, Completed};
use crate::serial_link::{LinkEvent, SerialConfig, SerialLink};
use crate::status::Shared;

type IcmpDone = Completed<PathId, IcmpOutcome>;

/// Owns the engine and everything that feeds it.
#[derive(Debug)]
pub struct Driver {
    engine: Engine,
    epoch: TokioInstant,
    cfg: Config,
    node: proto::NodeId,
    cluster: proto::ClusterId,
    shared: Arc<Shared>,
    icmp: Slot,
    gateway: Slot,
    remote: Slot,
    local: Slot,
    icmp_rx: mpsc::Receiver<IcmpDone>,
    remote_rx: mpsc::Receiver<Completed<PathId, RemoteDbOutcome>>,
    local_rx: mpsc::Receiver<Completed<PathId, LocalDbSample>>,
    serial: SerialLink,
    serial_rx: mpsc::Receiver<LinkEvent>,
    /// Answers produced while draining actions, fed back before waiting again.
    inputs: VecDeque<Input>,
    alarms: VecDeque<(String, u64)>,
    /// Per-path metric handles, indexed by `PathId::index`.
    path_metrics: [PathMetrics; 5],
    last_frame_seen: bool,
    /// Performs the side effects.
    effects: Effects,
    effects_rx: mpsc::UnboundedReceiver<Report>,
    /// The record last loaded from or written to `state_dir`.
    persisted: PersistedState,
    /// The last STATUS= line sent to systemd.
    notified: String,
    /// The engine's role was `Primary` at the end of the last drain: a change to
    /// `Primary` arms the start guard.
    was_primary: bool,
}

async fn icmp_slot(
    prober: &IcmpProber,
    path: PathId,
    address: Option<IpAddr>,
    timeout: Duration,
    tx: &mpsc::Sender<IcmpDone>,
) -> Slot {
    let Some(address) = address else {
        tracing::error!("{}: no address: every attempt fails", path.name());
        return Slot::new(None, timeout);
    };
    match prober.target(address).await {
        Ok(target) => Slot::new(Some(runner::spawn(path, target, tx.clone())), timeout),
        Err(e) => {
            tracing::error!("{} to {address}: {e}: every attempt fails", path.name());
            Slot::new(None, timeout)
        }
    }
}

impl Driver {
    /// Starts the engine and spawns the probes and the serial link.
    pub async fn start(
        cfg: Config,
        core_cfg: engine::Config,
        facts: engine::StartFacts,
        persisted: PersistedState,
        shared: Arc<Shared>,
    ) -> Result<Driver, RunError> {
        let epoch = TokioInstant::now();
        let engine =
            Engine::new(core_cfg, facts, engine::Instant::ZERO).map_err(RunError::Start)?;
        let (icmp_tx, icmp_rx) = mpsc::channel(16);
        let (remote_tx, remote_rx) = mpsc::channel(4);
        let (local_tx, local_rx) = mpsc::channel(4);
        let prober = IcmpProber::new(u32::from(cfg.checks.icmp_ttl));
        let icmp = icmp_slot(
            &prober,
            PathId::Icmp,
            Some(cfg.peer.address),
            cfg.checks.icmp.timeout,
            &icmp_tx,
        )
        .await;
        let gateway = icmp_slot(
            &prober,
            PathId::Gateway,
            cfg.checks.gateway_address,
            cfg.checks.gateway.timeout,
            &icmp_tx,
        )
        .await;
        let remote = RemoteDbProbe::new(db_target(&cfg.peer.db, "twinbeat-remote")?);
        let remote = Slot::new(
            Some(runner::spawn(PathId::RemoteDb, remote, remote_tx)),
            cfg.checks.remote_db.timeout,
        );
        let local_target = db_target(&cfg.local_db.conn, "twinbeat-local")?;
        let plan = Plan::new(&cfg, &local_target);
        if engine.role() != engine::Role::Primary {
            effects::drop_stale_vip(&plan).await;
        }
        let (effects, effects_rx) = Effects::spawn(plan);
        effects.learn_data_dir().await;
        tracing::info!(
            "start guard (standby.signal): {} at start",
            effects.start_guard()
        );
        let local = LocalDbProbe::new(local_target);
        let local = Slot::new(
            Some(runner::spawn(PathId::LocalDb, local, local_tx)),
            cfg.local_db.timeout,
        );
        let cluster = proto::ClusterId::from_name(&cfg.cluster_id);
        let (serial, serial_rx) = SerialLink::spawn(SerialConfig::new(
            cfg.checks.serial_device.clone(),
            cfg.checks.serial_baud,
            cluster,
        ));
        tracing::info!(
            "node {} (engine id {}) in cluster {:?} ({:#010x}), role pin {}, start role {:?}, term {}",
            cfg.node_id,
            config::node_number(&cfg.node_id),
            cfg.cluster_id,
            cluster.0,
            cfg.role.as_str(),
            engine.role(),
            engine.term()
        );
        let path_metrics = PathId::ALL.map(|p| shared.metrics.path(p.name()));
        Ok(Driver {
            path_metrics,
            engine,
            epoch,
            node: proto::NodeId(config::node_number(&cfg.node_id)),
            cluster,
            cfg,
            shared,
            icmp,
            gateway,
            remote,
            local,
            icmp_rx,
            remote_rx,
            local_rx,
            serial,
            serial_rx,
            inputs: VecDeque::new(),
            alarms: VecDeque::new(),
            last_frame_seen: false,
            effects,
            effects_rx,
            persisted,
            notified: String::new(),
            was_primary: false,
        })
    }

    fn now(&self) -> engine::Instant {
        let us = TokioInstant::now()
            .saturating_duration_since(self.epoch)
            .as_micros();
        engine::Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn deadline(&self) -> Option<TokioInstant> {
        self.engine
            .poll_timeout()
            .map(|t| self.epoch + Duration::from_micros(t.as_micros()))
    }

    /// Runs until SIGTERM or SIGINT, then returns.
    pub async fn run_until_signal(&mut self) -> Result<(), RunError> {
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

    /// Drains the engine's actions, feeding back the answers that are known at once.
    fn drain(&mut self) {
        let mut logged = false;
        loop {
            while let Some(action) = self.engine.poll_action() {
                match action {
                    Action::Probe { path, attempt, .. } => self.start_probe(path, attempt),
                    Action::SendPing { seq, state } => {
                        self.send(proto::Message::Ping(proto::Ping {
                            seq,
                            state: wire::state_to_wire(state),
                        }))
                    }
                    Action::SendAck { seq, state } => self.send(proto::Message::Ack(proto::Ack {
                        seq,
                        state: wire::state_to_wire(state),
                    })),
                    Action::Log(event) => {
                        logged = true;
                        self.log(event);
                    }
                    other => {
                        let reason = self.reason_for(&other);
                        tracing::debug!("effect {other:?}");
                        let primary = self.engine.role() == engine::Role::Primary;
                        self.effects.perform(other, &reason, primary);
                    }
                }
            }
            // Rule 12's start guard: every way into Primary (a promotion's VIP taken,
            // a resume after the hold) arms it; the engine has no action for it.
            let primary = self.engine.role() == engine::Role::Primary;
            if primary && !self.was_primary {
                self.effects.became_primary();
            }
            self.was_primary = primary;
            let Some(input) = self.inputs.pop_front() else {
                break;
            };
            let now = self.now();
            self.engine.handle_input(now, input);
        }
        if logged {
            self.refresh();
        }
    }

    fn start_probe(&mut self, path: PathId, id: AttemptId) {
        let now = TokioInstant::now();
        let slot = match path {
            PathId::Icmp => &mut self.icmp,
            PathId::Gateway => &mut self.gateway,
            PathId::RemoteDb => &mut self.remote,
            PathId::LocalDb => &mut self.local,
            // The engine probes the serial path with SendPing, never with Probe; if it
            // ever asked, the attempt would fail at its window's end.
            PathId::Serial => {
                tracing::error!("engine asked for a serial Probe; it fails at its timeout");
                return;
            }
        };
        if slot.start(id, now) == Started::Failed {
            self.inputs.push_back(failed(path, id));
        }
    }

    fn slot(&mut self, path: PathId) -> &mut Slot {
        match path {
            PathId::Icmp => &mut self.icmp,
            PathId::Gateway => &mut self.gateway,
            PathId::RemoteDb => &mut self.remote,
            _ => &mut self.local,
        }
    }

    /// Why a new state is persisted. Re-persisting the state already on disk (a
    /// fenced node confirming its fence after a restart) keeps the original reason,
    /// so `twinbeat status` still says why the node was fenced.
    fn reason_for(&self, action: &Action) -> String {
        if let Action::Persist(s) = action {
            if effects::node_state(s.role) == self.persisted.state && s.term == self.persisted.term
            {
                return self.persisted.reason.clone();
            }
        }
        self.engine
            .last_decision()
            .map(|d| format!("{:?}: {:?}", d.kind, d.reason))
            .unwrap_or_else(|| "start-up".to_owned())
    }

    /// A finished side effect: remember what is on disk and feed the answer back.
    fn on_effect(&mut self, report: Report) {
        if let Some(saved) = report.saved {
            self.persisted = saved;
            self.refresh();
        }
        self.inputs.push_back(report.input);
    }

    /// The systemd STATUS= line: role, term and each peer path.
    fn status_line(&self) -> String {
        let paths: Vec<String> = [PathId::Icmp, PathId::RemoteDb, PathId::Serial]
            .iter()
            .map(|&p| {
                let h = match self.engine.path(p).health {
                    engine::PathHealth::Up => "up",
                    engine::PathHealth::Down => "down",
                    engine::PathHealth::Unknown => "?",
                };
                format!("{} {h}", p.name())
            })
            .collect();
        format!(
            "{:?} term {}{}; {}",
            self.engine.role(),
            self.engine.term(),
            if self.engine.is_fenced() {
                " FENCED"
            } else {
                ""
            },
            paths.join(", ")
        )
    }

    /// Rewrites the status snapshot from the engine.
    fn refresh(&mut self) {
        let line = self.status_line();
        if line != self.notified {
            if let Err(e) = notify::status(&line) {
                tracing::warn!("{e}");
            }
            self.notified = line;
        }
        let now = self.now();
        let mut snap = snapshot::build(
            &self.engine,
            now,
            &self.cfg,
            self.epoch.elapsed(),
            &self.serial.counters(),
            &self.alarms,
            &self.persisted,
        );
        snap.start_guard = self.effects.start_guard().into();
        self.shared.update(|s| *s = snap);
    }
}

fn failed(path: PathId, attempt: AttemptId) -> Input {
    match path {
        PathId::LocalDb => Input::LocalDb {
            attempt,
            sample: None,
        },
        PathId::Serial => Input::SerialDeviceMissing,
        path => Input::ProbeDone {
            path,
            attempt,
            outcome: ProbeOutcome::Failed,
        },
    }
}
