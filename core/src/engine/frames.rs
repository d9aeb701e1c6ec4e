//! Frames from the peer: rule `state-in-every-frame` (the peer view), and the
//! comparison of rule `higher-term-wins`.

use super::Engine;
use crate::io::{Action, Reason};
use crate::time::Instant;
use crate::types::{PeerState, PeerView, PersistedRole, PersistedState, Role};

impl Engine {
    /// A frame from the peer (ping or ack): rules `state-in-every-frame`,
    /// `fenced-peer-hands-over`, `higher-term-wins` and `hold-needs-evidence`.
    pub(super) fn on_frame(&mut self, now: Instant, peer: PeerState, fresh_round_trip: bool) {
        if peer.node_id == self.cfg.node_id {
            self.alarm_once(Reason::DuplicateNodeId);
            return;
        }
        let peer_gateway_was_down = self.peer.is_some_and(|v| !v.state.gateway_up);
        self.peer = Some(PeerView {
            state: peer,
            heard_at: now,
        });
        self.heard_peer = true;
        self.peer_max_term = self.peer_max_term.max(peer.term);
        match self.role {
            Role::Standby => {
                if peer.role.claims_primary() && peer.term > self.term {
                    // Persisted so that a restart cannot promote into a term the
                    // master already used (the t+1 of rule `promotion-order` must exceed every
                    // t seen).
                    self.term = peer.term;
                    let state = PersistedState {
                        role: PersistedRole::Standby,
                        term: peer.term,
                    };
                    self.push(Action::Persist(state));
                }
                self.evaluate_standby(now);
            }
            Role::Promoting => self.promoting_heard(now, peer),
            Role::Primary => {
                if self.peer_wins(&peer) {
                    self.begin_fence(now, Reason::PeerWins);
                } else {
                    if peer_gateway_was_down && peer.gateway_up {
                        // The end of a shared outage: the peer may see its gateway
                        // again before we see ours. Judge ours afresh.
                        self.restart_gateway_settle(now);
                    }
                    self.evaluate_primary(now);
                }
            }
            Role::Hold => self.hold_heard(now, peer, fresh_round_trip),
            Role::Fencing | Role::Fenced => {}
        }
    }

    /// Rule `higher-term-wins`: the peer claims primary in a higher term, or the same term with a
    /// smaller node id.
    pub(super) fn peer_wins(&self, peer: &PeerState) -> bool {
        peer.role.claims_primary()
            && !peer.fenced
            && (peer.term > self.term
                || (peer.term == self.term && peer.node_id < self.cfg.node_id))
    }
}
