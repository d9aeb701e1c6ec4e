//! Frames from the peer: rules `own-frames-dropped` and `state-in-every-frame` (the
//! peer view), and the comparison of rule `higher-term-wins`.

use super::Engine;
use crate::io::{Action, Reason, Severity};
use crate::time::Instant;
use crate::types::{PeerState, PeerView, PersistedRole, PersistedState, Role};

impl Engine {
    /// Rule `own-frames-dropped`: a frame carrying this node's own id is an echo (a
    /// loopback plug, a half-duplex line) or a peer configured with the same id, never
    /// the peer's answer. Dropped before anything reads it — not an ack, not a ping to
    /// answer (answering an echoed ping would echo an ack for our own attempt), not
    /// "peer heard" — and counted. It is a wiring fault the operator must fix: a
    /// warning when echoes start, and again only after they stopped for longer than
    /// this node leaves between its frames (`serial.interval + serial.timeout`), so a
    /// half-duplex line that echoes and carries the peer's frames warns once, not per
    /// frame. True when dropped.
    pub(super) fn drop_own_frame(&mut self, now: Instant, sender: &PeerState) -> bool {
        if sender.node_id != self.cfg.node_id {
            return false;
        }
        self.own_frames_dropped = self.own_frames_dropped.saturating_add(1);
        let quiet = self
            .cfg
            .serial
            .interval
            .saturating_add(self.cfg.serial.timeout);
        if self
            .own_frame_at
            .is_none_or(|at| now.saturating_duration_since(at) > quiet)
        {
            self.alarm(Severity::Warning, Reason::OwnNodeIdHeard);
        }
        self.own_frame_at = Some(now);
        true
    }

    /// A frame from the peer (ping or ack): rules `state-in-every-frame`,
    /// `fenced-peer-hands-over`, `higher-term-wins`, `hold-needs-evidence` and
    /// `human-promoted-standby` and `fence-handshake`. `answers`: the ping of ours the
    /// frame answers (an ack) or echoes (a ping), so the peer built it after receiving
    /// that ping (see `sent_since_hold`).
    pub(super) fn on_frame(&mut self, now: Instant, peer: PeerState, answers: Option<u32>) {
        let peer_gateway_was_down = self.peer.is_some_and(|v| !v.state.gateway_up);
        self.peer = Some(PeerView {
            state: peer,
            heard_at: now,
        });
        self.heard_peer = true;
        self.learn_peer_term(peer.term);
        self.pause_heard(now, peer.pause);
        self.compare_fingerprint(peer.config_fingerprint);
        let sent = answers.and_then(|seq| self.ack_sent_at(seq));
        self.sync_heard_frame(now, &peer, sent);
        if peer.human_promoted {
            // Not a claim to the primary position: no rule acts on it, an operator must.
            self.alarm_once(Reason::PeerHumanPromoted);
        }
        match self.role {
            Role::Standby => {
                if peer.role.claims_primary() {
                    self.learn_standby_term(peer.term);
                }
                self.watch_streaming(&peer);
                self.takeover_asked(now, &peer);
                self.evaluate_standby(now);
                self.consider_slot(now);
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
                    self.takeover_answered(now, &peer, answers);
                    self.evaluate_primary(now);
                    self.switchover_requested(now, &peer);
                }
            }
            Role::Demoting => self.demoting_heard(now, &peer),
            Role::Hold => {
                let fresh = answers.is_some_and(|s| self.sent_since_hold(s));
                self.hold_heard(now, peer, fresh);
            }
            Role::Fenced => {
                // The peer's role decides whether its PostgreSQL is read (`path_active`).
                self.sync_paths(now);
                self.consider_rejoin(now);
            }
            Role::Fencing => {}
        }
    }

    /// Rule `pair-agrees`: the pair must share the settings the fingerprint covers
    /// (paths' timings, failure window, replication mode, VIP, cluster), or each node
    /// judges the other by rules it does not run. A difference is an alarm when it is
    /// first seen (and again when the peer's fingerprint changes to another that
    /// differs), never a decision: the rules act as they would.
    fn compare_fingerprint(&mut self, theirs: Option<u32>) {
        let (Some(ours), Some(theirs)) = (self.cfg.fingerprint, theirs) else {
            return;
        };
        if theirs != ours && self.peer_fingerprint != Some(theirs) {
            self.alarm(Severity::Warning, Reason::PeerConfigDiffers);
        }
        self.peer_fingerprint = Some(theirs);
    }

    /// A standby whose received WAL falls further behind the primary's than
    /// `max_lag_on_failover` could not take over (rule `fresh-checks`): a warning when
    /// that starts (replication stopped: an empty `primary_conninfo`, a broken slot),
    /// once, until it catches up again.
    fn watch_streaming(&mut self, peer: &PeerState) {
        if peer.role != Role::Primary {
            return;
        }
        let Some(local) = self.local.filter(|l| l.in_recovery) else {
            return;
        };
        let behind = peer.wal_lsn.saturating_sub(local.wal_lsn) > self.cfg.max_lag_on_failover;
        if behind && !self.lag_warned {
            self.alarm(Severity::Warning, Reason::NotStreaming);
        }
        self.lag_warned = behind;
    }

    /// Every term the peer was seen in: a promotion goes past all of them (rule
    /// `promotion-order`).
    pub(super) fn learn_peer_term(&mut self, term: u64) {
        self.peer_max_term = self.peer_max_term.max(term);
    }

    /// A standby learns a higher term the peer claims the primary position in, and
    /// persists it, so that a restart cannot promote into a term the master already
    /// used (the t+1 of rule `promotion-order` must exceed every t seen).
    pub(super) fn learn_standby_term(&mut self, term: u64) {
        if term > self.term {
            self.term = term;
            // Rule `sync-epoch`: a claim is against the primary of its term.
            self.sync_heard = None;
            self.push(Action::Persist(PersistedState {
                role: PersistedRole::Standby,
                term,
            }));
        }
    }

    /// Whether ping `seq` was sent after this node last entered hold: ids only grow
    /// (wrapping; compared as serial numbers), so the peer built a frame answering or
    /// echoing it after the hold began (rule `hold-needs-evidence`).
    pub(super) fn sent_since_hold(&self, seq: u32) -> bool {
        super::handover::sent_since(self.hold_first_seq, seq)
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
