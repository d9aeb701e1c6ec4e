//! Draining the engine's actions: probes are started, serial frames sent, side
//! effects handed to the effects workers, and the answers known at once fed back.

use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, Action, AttemptId, PathId};
use twinbeat_protocol as proto;

use super::{failed, Driver};
use crate::driver::effects::{self, Report};
use crate::driver::slots::Started;
use crate::driver::wire;

impl Driver {
    /// Drains the engine's actions, feeding back the answers that are known at once.
    pub(super) fn drain(&mut self) {
        let mut logged = false;
        loop {
            while let Some(action) = self.engine.poll_action() {
                match action {
                    Action::Probe { path, attempt, .. } => self.start_probe(path, attempt),
                    Action::SendPing { seq, state } => {
                        self.send(proto::Message::Ping(proto::Ping {
                            seq,
                            state: wire::state_to_wire(state),
                            extensions: proto::Extensions::NONE,
                        }))
                    }
                    Action::SendAck { seq, state } => self.send(proto::Message::Ack(proto::Ack {
                        seq,
                        state: wire::state_to_wire(state),
                        extensions: proto::Extensions::NONE,
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
    pub(super) fn on_effect(&mut self, report: Report) {
        if let Some(saved) = report.saved {
            self.persisted = saved;
            self.refresh();
        }
        self.inputs.push_back(report.input);
    }
}
