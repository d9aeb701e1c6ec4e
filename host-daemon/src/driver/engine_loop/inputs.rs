//! Probe results and serial events, turned into engine inputs.

use std::time::Duration;

use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, Input, PathId, ProbeOutcome};
use twinbeat_protocol as proto;

use super::{failed, Driver, IcmpDone};
use crate::driver::wire;
use crate::metrics::DropReason;
use crate::probe::icmp::IcmpOutcome;
use crate::probe::local_db::LocalDbSample;
use crate::probe::remote_db::{RemoteDbOutcome, Via};
use crate::probe::runner::Completed;
use crate::serial_link::LinkEvent;

impl Driver {
    /// After a result: feed it, then start what was queued behind it.
    pub(super) fn result(&mut self, path: PathId, input: Input, rtt: Option<Duration>) {
        let now = self.now();
        self.engine.handle_input(now, input);
        let st = self.engine.path(path);
        self.path_metrics[path.index()].observe(
            st.health == engine::PathHealth::Up,
            st.consecutive_failures,
            rtt,
        );
        let now = TokioInstant::now();
        if let Some(id) = self.slots.get_mut(path).and_then(|s| s.finished(now)) {
            self.inputs.push_back(failed(path, id));
        }
    }

    pub(super) fn on_icmp(&mut self, done: IcmpDone) {
        let attempt = done.attempt;
        let (outcome, rtt) = match done.outcome {
            IcmpOutcome::Reply { rtt, .. } => (ProbeOutcome::Ok { rtt }, Some(rtt)),
            IcmpOutcome::Failed(e) => {
                tracing::debug!("{}: {e}", done.key.name());
                (ProbeOutcome::Failed, None)
            }
        };
        let input = Input::ProbeDone {
            path: done.key,
            attempt,
            outcome,
        };
        self.result(done.key, input, rtt);
    }

    pub(super) fn on_remote(&mut self, done: Completed<PathId, RemoteDbOutcome>) {
        let attempt = done.attempt;
        let (outcome, reading, rtt) = match done.outcome {
            RemoteDbOutcome::Ok { rtt, via } => {
                let reading = match via {
                    Via::Query(reading) => Some(reading),
                    Via::ConnectProbe => None,
                    Via::Refused { reason } => {
                        self.on_remote_refused(reason);
                        None
                    }
                };
                if reading.is_some() {
                    if let Some(was) = self.remote_refusal.take() {
                        tracing::info!(
                            "the peer's PostgreSQL lets this node in again (it had refused: {was})"
                        );
                    }
                }
                (ProbeOutcome::Ok { rtt }, reading, Some(rtt))
            }
            RemoteDbOutcome::Failed(e) => {
                tracing::debug!("remote_db: {e:?}");
                (ProbeOutcome::Failed, None, None)
            }
        };
        let input = Input::RemoteDb {
            attempt,
            outcome,
            reading,
        };
        self.result(PathId::RemoteDb, input, rtt);
    }

    /// The peer's PostgreSQL answered but refused this node: counted, and each new reason
    /// logged once, since the path stays up without a reading (rule
    /// `remote-db-reads-role`).
    fn on_remote_refused(&mut self, reason: String) {
        self.shared.metrics.remote_db_refused.inc();
        if self.remote_refusal.as_deref() != Some(reason.as_str()) {
            tracing::warn!(
                "the peer's PostgreSQL answers but refuses this node, so the remote DB path \
                 cannot read its role: {reason}"
            );
            self.remote_refusal = Some(reason);
        }
    }

    pub(super) fn on_local(&mut self, done: Completed<PathId, LocalDbSample>) {
        let s = done.outcome;
        if s.healthy() {
            self.slot.clone_from(&s.slot);
        }
        let sample = match s.readiness {
            crate::probe::Readiness::NoResponse { .. } => None,
            _ => Some(engine::LocalDbSample {
                accepting: s.accepting(),
                select_ok: s.select_ok,
                // Unknown recovery state reads as "replica": the cautious side.
                in_recovery: s.in_recovery.unwrap_or(true),
                wal_lsn: s.wal_lsn.unwrap_or(0),
                replay_lsn: s.replay_lsn.unwrap_or(0),
                timeline: s.timeline.unwrap_or(0),
                standby: s.standby,
            }),
        };
        if let Some(err) = &s.error {
            tracing::debug!("local_db: {err}");
        }
        let input = Input::LocalDb {
            attempt: done.attempt,
            sample,
        };
        let rtt = s.healthy().then_some(s.elapsed);
        self.result(PathId::LocalDb, input, rtt);
    }

    pub(super) fn send(&mut self, message: proto::Message) {
        let frame = proto::Frame {
            cluster: self.cluster,
            sender: self.node,
            message,
        };
        match self.serial.send(&frame) {
            Ok(()) => {
                self.shared.metrics.serial_sent.inc();
            }
            // The device is away: the link reported it once (LinkEvent::Down, fed to
            // the engine then); this ping's attempt simply times out in its window.
            Err(crate::serial_link::SendError::NotOpen) => {}
            Err(e) => tracing::warn!("serial: frame not sent: {e}"),
        }
    }

    /// `twinbeat diagnose` at the other end asks who is there: our state as our pings
    /// carry it, read from the engine and changing nothing in it (a hello is no
    /// evidence of anything to the engine, so it is not an input).
    fn answer_hello(&mut self, asker: proto::NodeId, hello: proto::Hello) {
        tracing::info!(
            "serial: node {} asks who is here (twinbeat diagnose); answering",
            asker.0
        );
        let state = self.engine.own_state();
        self.send(proto::Message::HelloReply(proto::HelloReply {
            nonce: hello.nonce,
            state: wire::state_to_wire(state),
            config_fingerprint: state.config_fingerprint,
        }));
    }

    pub(super) fn on_serial(&mut self, event: LinkEvent) {
        let input = match event {
            LinkEvent::Up => {
                tracing::info!("serial: {} open", self.cfg.checks.serial_device.display());
                return;
            }
            LinkEvent::Down { reason } => {
                tracing::warn!(
                    "serial: {} down: {reason}",
                    self.cfg.checks.serial_device.display()
                );
                Input::SerialDeviceMissing
            }
            LinkEvent::Rejected { error } => {
                self.shared.metrics.dropped(drop_reason(&error));
                tracing::debug!("serial: frame dropped: {error}");
                return;
            }
            LinkEvent::Frame { frame, .. } => {
                self.shared.metrics.serial_received.inc();
                if !self.last_frame_seen {
                    self.last_frame_seen = true;
                    tracing::info!("serial: first frame from node {}", frame.sender.0);
                }
                match frame.message {
                    proto::Message::Ping(p) => Input::PingReceived {
                        seq: p.seq,
                        echoed: p.extensions.echoed_seq,
                        peer: wire::state_from_wire(frame.sender, p.state, &p.extensions),
                    },
                    proto::Message::Ack(a) => Input::AckReceived {
                        seq: a.seq,
                        peer: wire::state_from_wire(frame.sender, a.state, &a.extensions),
                    },
                    proto::Message::BridgeStatus(b) => {
                        Input::BridgeStatus(wire::bridge_from_wire(b))
                    }
                    // Only a bridge answers status requests.
                    proto::Message::BridgeStatusRequest => return,
                    proto::Message::Hello(hello) => return self.answer_hello(frame.sender, hello),
                    // Answers to a diagnose's question; a daemon asks none.
                    proto::Message::HelloReply(_) => return,
                }
            }
        };
        let now = self.now();
        let echoes = self.engine.own_frames_dropped();
        self.engine.handle_input(now, input);
        if self.engine.own_frames_dropped() != echoes {
            self.shared.metrics.serial_own_echo.inc();
        }
    }
}

fn drop_reason(e: &proto::DecodeError) -> DropReason {
    match e {
        proto::DecodeError::BadCrc => DropReason::Corrupt,
        proto::DecodeError::OverFull => DropReason::Overflow,
        proto::DecodeError::WrongCluster(_) => DropReason::Foreign,
        _ => DropReason::Malformed,
    }
}
