//! Draining the engine's actions: probes are started, serial frames sent, side
//! effects handed to the effects workers, and the answers known at once fed back.

use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, Action, AttemptId, PathId};
use twinbeat_protocol as proto;

use super::{failed, Driver};
use crate::actions::state_file::PersistedState;
use crate::driver::effects::Report;
use crate::driver::slots::Started;
use crate::driver::wire;
use crate::status::LastFailover;

impl Driver {
    /// Drains the engine's actions, feeding back the answers that are known at once.
    pub(super) fn drain(&mut self) {
        let mut logged = false;
        loop {
            while let Some(action) = self.engine.poll_action() {
                match action {
                    Action::Probe {
                        path,
                        attempt,
                        deadline,
                        ..
                    } => self.start_probe(path, attempt, deadline),
                    Action::VipArpProbe { attempt, deadline } => {
                        self.effects.probe_arp(attempt, self.instant(deadline));
                    }
                    Action::SendPing { seq, echo, state } => {
                        self.send(proto::Message::Ping(proto::Ping {
                            seq,
                            state: wire::state_to_wire(state),
                            extensions: wire::extensions_to_wire(state, echo),
                        }))
                    }
                    Action::SendAck { seq, state } => self.send(proto::Message::Ack(proto::Ack {
                        seq,
                        state: wire::state_to_wire(state),
                        extensions: wire::extensions_to_wire(state, None),
                    })),
                    Action::FlushSerialInput => self.serial.flush_input(),
                    Action::Log(event) => {
                        logged = true;
                        self.log(event);
                    }
                    other => {
                        let reason = self.reason_for(&other);
                        tracing::debug!("effect {other:?}");
                        self.effects.perform(other, &reason, |t| self.instant(t));
                    }
                }
            }
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

    /// Starts attempt `id` on `path`'s probe, bounded by the deadline the engine sent.
    fn start_probe(&mut self, path: PathId, id: AttemptId, deadline: engine::Instant) {
        let deadline = self.instant(deadline);
        // Only the serial path has no slot: the engine probes it with SendPing, never
        // with Probe. If it ever asked, the attempt would fail at its window's end.
        let Some(slot) = self.slots.get_mut(path) else {
            tracing::error!(
                "engine asked to probe {}, which has no probe; it fails at its deadline",
                path.name()
            );
            return;
        };
        if slot.start(id, deadline, TokioInstant::now()) == Started::Failed {
            self.inputs.push_back(failed(path, id));
        }
    }

    /// Why a new state is persisted. Re-persisting the state already on disk (a
    /// fenced node confirming its fence after a restart) keeps the original reason,
    /// so `twinbeat status` still says why the node was fenced.
    fn reason_for(&self, action: &Action) -> String {
        if let Action::PersistMaintenance(_) = action {
            return self.pause_by.clone();
        }
        if let Action::Persist(s) = action {
            if s.role == self.persisted.state && s.term == self.persisted.term {
                return self.persisted.reason.clone();
            }
        }
        self.engine
            .last_decision()
            .map(|d| format!("{}: {}", d.kind.code(), d.reason.code()))
            .unwrap_or_else(|| "start-up".to_owned())
    }

    /// A finished side effect: remember what is on disk (and a promotion, for the
    /// status page's last failover) and feed the answer back.
    pub(super) fn on_effect(&mut self, report: Report) {
        if let Some(saved) = report.saved {
            if saved.state == twinbeat_core::PersistedRole::Promoting {
                self.last_failover = Some(last_failover(&saved));
            }
            self.persisted = saved;
            self.refresh();
        }
        self.inputs.push_back(report.input);
    }
}

/// A promotion as the status page shows it, from the record persisted for it.
pub(super) fn last_failover(record: &PersistedState) -> LastFailover {
    LastFailover {
        term: record.term,
        reason: record.reason.clone(),
        at_unix_ms: record.since_unix_ms,
    }
}
