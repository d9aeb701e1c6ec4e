//! The driver API: inputs and timeouts in, actions and the next deadline out.

use super::{Engine, Step};
use crate::io::{Action, Input, Reason, Severity};
use crate::time::Instant;

impl Engine {
    /// Feeds one observation. Due timers run first, so the state is current at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.handle_timeout(now);
        match input {
            Input::ProbeDone {
                path,
                attempt,
                outcome,
            } => self.on_probe(now, path, attempt, outcome),
            Input::LocalDb { attempt, sample } => self.on_local_db(now, attempt, sample),
            Input::RemoteDb {
                attempt,
                outcome,
                reading,
            } => self.on_remote_db(now, attempt, outcome, reading),
            Input::AckReceived { seq, peer } => {
                if !self.drop_own_frame(now, &peer) {
                    self.on_ack(now, seq, peer);
                }
            }
            Input::PingReceived { seq, echoed, peer } => {
                if !self.drop_own_frame(now, &peer) {
                    self.last_peer_ping = Some(seq);
                    let state = self.own_state();
                    self.sync_ack_built(now, &state);
                    self.push(Action::SendAck { seq, state });
                    self.on_frame(now, peer, echoed);
                }
            }
            Input::SerialDeviceMissing => self.on_serial_missing(now),
            Input::BridgeStatus(status) => self.on_bridge_status(now, status),
            Input::VipArpProbe { attempt, answered } => self.on_arp(now, attempt, answered),
            Input::Persisted(state) => self.on_persisted(now, state, true),
            Input::PersistFailed(state) => self.on_persisted(now, state, false),
            Input::Promoted => self.on_promoted(now, Ok(())),
            Input::PromoteFailed { requested } => self.on_promoted(now, Err(requested)),
            Input::VipTaken => self.on_vip_taken(now, true),
            Input::VipFailed => self.on_vip_taken(now, false),
            Input::VipReleased => self.on_vip_released(now, true),
            Input::VipReleaseFailed => self.on_vip_released(now, false),
            Input::DbRestarted => self.on_db_restarted(now),
            Input::DbRestartFailed => {
                self.alarm(Severity::Warning, Reason::DbRestartFailed);
                self.on_db_restarted(now);
            }
            Input::DbStopped => self.on_db_stopped(now, true),
            Input::PostmasterExited => self.on_postmaster_exited(now),
            Input::DbStopFailed => self.on_db_stopped(now, false),
            Input::FenceActionDone => {
                if self.step == Step::FenceAction {
                    self.step = Step::Idle;
                    self.consider_rejoin(now);
                }
            }
            Input::Demoted { lsn } => self.on_demoted(now, Some(lsn)),
            Input::DemoteFailed => self.on_demoted(now, None),
            Input::SlotEnsured { term } => self.on_slot_ensured(now, term, true),
            Input::SlotNotEnsured { term } => self.on_slot_ensured(now, term, false),
            Input::SyncStandbySet { synchronous } => {
                self.on_sync_standby_set(now, synchronous, true);
            }
            Input::SyncStandbyNotSet { synchronous } => {
                self.on_sync_standby_set(now, synchronous, false);
            }
            Input::Rejoined => self.on_rejoined(now, true),
            Input::RejoinFailed => self.on_rejoined(now, false),
        }
    }

    /// Runs every timer due at or before `now`. Call it when [`Engine::poll_timeout`]
    /// is reached (calling it early or often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_pause(now);
        // Bounded so a pathological config can never spin forever.
        for _ in 0..256 {
            let Some((timer, due)) = self.earliest_timer() else {
                break;
            };
            if due > now {
                break;
            }
            self.clear_timer(timer);
            self.on_timer(now, timer);
        }
    }

    /// Next action for the daemon, in order. Drain after every call.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.earliest_timer().map(|(_, due)| due)
    }
}
