//! Rules `hold-needs-evidence` and `pause-is-a-restart`: hold after a restart or a
//! pause, and leaving it.

use core::time::Duration;

use super::actions::Bounded;
use super::{Engine, EngineTimer, Step};
use crate::io::{Action, DecisionKind, Event, Reason};
use crate::time::Instant;
use crate::types::{PathHealth, PathId, PeerState, PersistedRole, Role, StartFacts};

impl Engine {
    /// Hold: no VIP, not acting as primary, until the peer is heard (rule
    /// `hold-needs-evidence`).
    pub(super) fn enter_hold(&mut self, now: Instant, reason: Reason) {
        self.decide(now, DecisionKind::Hold, reason);
        self.set_step(Step::Idle);
        self.hold_since = now;
        self.set_role(now, Role::Hold);
        self.push(Action::ReleaseVip);
        self.set_timer(EngineTimer::HoldGrace, now + self.cfg.startup_grace);
    }

    /// A frame while holding. A winning peer means this node lost: fence and stay
    /// fenced. Otherwise only the ack of a ping sent after entering hold may end it:
    /// the peer built that ack after receiving our ping, so if it was about to promote
    /// it has either aborted (and says standby) or is past `pg_promote` (and says so).
    pub(super) fn hold_heard(&mut self, now: Instant, peer: PeerState, fresh_round_trip: bool) {
        if self.peer_wins(&peer) {
            self.begin_fence(now, Reason::PeerWins);
        } else if peer.role.claims_primary() && !peer.fenced {
            // We win, but the peer still claims the primary position: it fences on
            // hearing our state, and its next frame (fenced) lets us resume. Taking
            // the VIP now would overlap with its.
            self.decide_once(now, DecisionKind::Hold, Reason::PeerWins);
        } else if fresh_round_trip && self.step == Step::Idle {
            self.resume(
                now,
                if peer.fenced {
                    Reason::PeerFenced
                } else {
                    Reason::PeerHeard
                },
            );
        }
    }

    /// Nothing heard within `startup_grace`: the peer is gone, resume — unless its host
    /// or database still answers, in which case it is alive but silent and holding on
    /// is the only safe choice.
    pub(super) fn on_hold_grace(&mut self, now: Instant) {
        if self.role != Role::Hold || self.step != Step::Idle {
            return;
        }
        let alive = [PathId::Icmp, PathId::RemoteDb]
            .iter()
            .any(|p| self.effective_path(*p).health == PathHealth::Up);
        if alive {
            self.alarm_once(Reason::PeerAliveButSilent);
            self.decide_once(now, DecisionKind::Hold, Reason::PeerAliveButSilent);
            self.set_timer(EngineTimer::HoldGrace, now + self.cfg.startup_grace);
        } else {
            self.resume(now, Reason::PeerNotHeard);
        }
    }

    /// Leave hold: a writable DB takes the VIP back; a read-only one is re-opened if
    /// this node is the primary of its term (the start guard put it in recovery), and
    /// otherwise makes the node a standby.
    fn resume(&mut self, now: Instant, reason: Reason) {
        self.clear_timer(EngineTimer::HoldGrace);
        // No sample yet (the peer's ack can beat the first local check): trust what the
        // DB said at start. Should it have left recovery since, `Promote` only confirms.
        let in_recovery = self.local.map_or(self.start_in_recovery, |s| s.in_recovery);
        if in_recovery && self.guarded_primary {
            // The peer has not won (it would have been heard as primary in a higher
            // term): the term is still ours, so no new term and no "promoting" to
            // persist. `Role::Promoting` past `pg_promote` lets only rule `higher-term-wins` stop it,
            // not a live standby peer (`promoting_heard`).
            self.decide(now, DecisionKind::Resume, reason);
            self.set_step(Step::AwaitPromoted);
            self.set_role(now, Role::Promoting);
            self.push_bounded(now, Bounded::Promote);
            return;
        }
        if in_recovery {
            self.decide(now, DecisionKind::Standby, reason);
            self.set_role(now, Role::Standby);
            return;
        }
        self.decide(now, DecisionKind::Resume, reason);
        self.set_step(Step::TakeVip);
        self.push(Action::TakeVip);
    }

    /// Rule `pause-is-a-restart`: called far later than due. Attempts in flight are void; a node that may
    /// hold the VIP drops it and holds until it hears the peer.
    pub(super) fn on_pause(&mut self, now: Instant, gap: Duration) {
        self.log(Event::PauseDetected { gap });
        self.restart_attempts(now);
        self.fresh = None;
        self.clear_timer(EngineTimer::Fresh);
        match (self.role, self.step) {
            (Role::Promoting, Step::PersistPromoting) => {
                self.abort_promotion(now, Reason::Paused);
            }
            (Role::Primary | Role::Promoting, _) | (Role::Hold, Step::TakeVip) => {
                self.enter_hold(now, Reason::Paused);
            }
            _ => {}
        }
    }
}

/// Rule `hold-needs-evidence`: the starting role and term from the persisted state and PostgreSQL, and
/// whether the node starts as a (possibly guarded) primary.
pub(super) fn start_role(start: StartFacts) -> (Role, u64, bool) {
    let term = start.persisted.map_or(0, |p| p.term);
    let persisted = start.persisted.map(|p| p.role);
    let role = match (persisted, start.db_in_recovery) {
        (Some(PersistedRole::Fenced), _) => Role::Fencing,
        // The start guard: a primary's PostgreSQL started by anyone but the daemon
        // (reboot, crash) comes up in recovery. It is still the primary of its term
        // until the peer is heard: hold, then fence or re-open it.
        (Some(PersistedRole::Primary), true) => Role::Hold,
        // A replica is a standby whatever else was persisted (rule `promotion-order`: "promoting" that
        // never left recovery re-evaluates as a standby).
        (_, true) => Role::Standby,
        // A writable database without a confirmed, current claim waits for the peer.
        (_, false) => Role::Hold,
    };
    // "Promoting" out of recovery finishes as primary (`Engine::new` persists it).
    let primary_claim = match persisted {
        Some(PersistedRole::Primary) => true,
        Some(PersistedRole::Promoting) => !start.db_in_recovery,
        _ => false,
    };
    (role, term, primary_claim)
}
