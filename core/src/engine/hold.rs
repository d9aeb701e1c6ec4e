//! Rules `hold-needs-evidence` and `pause-is-a-restart`: hold after a restart or a
//! pause, and leaving it.

use core::time::Duration;

use super::actions::Bounded;
use super::{Engine, EngineTimer, Step};
use crate::config::ReplicationMode;
use crate::io::{Action, DecisionKind, Event, Reason, ReleaseRefused, Severity};
use crate::time::Instant;
use crate::types::{PathHealth, PathId, PeerState, PersistedRole, Role, StartFacts};

impl Engine {
    /// Hold: no VIP, not acting as primary, until positive evidence about the peer
    /// arrives or an operator releases the node (rule `hold-needs-evidence`). Only a
    /// ping sent from now on can be answered with evidence.
    pub(super) fn enter_hold(&mut self, now: Instant, reason: Reason) {
        self.begin_hold(now, reason);
        self.push(Action::ReleaseVip);
    }

    /// The hold of a primary whose daemon restarted while its PostgreSQL kept serving
    /// with the VIP: the VIP stays while the evidence comes. The peer promotes only
    /// once its remote DB path to this very database has failed, so while that DB
    /// answers it, it has not taken over; and if it does answer, evidence comes within
    /// one probe. A whole detection on the slowest peer path without evidence: drop the
    /// VIP and hold as any restarted node (`on_hold_vip`).
    pub(super) fn enter_hold_keeping_vip(&mut self, now: Instant, reason: Reason) {
        self.begin_hold(now, reason);
        self.hold_keeps_vip = true;
        let window = self.cfg.slowest_peer_detection();
        self.set_timer(EngineTimer::HoldVip, now + window);
    }

    pub(super) fn begin_hold(&mut self, now: Instant, reason: Reason) {
        self.decide(now, DecisionKind::Hold, reason);
        self.set_step(Step::Idle);
        self.hold_since = now;
        self.hold_first_seq = self.next_id;
        self.hold_heard_peer = false;
        self.hold_waiting = false;
        self.hold_keeps_vip = false;
        self.clear_timer(EngineTimer::HoldVip);
        self.set_role(now, Role::Hold);
        self.set_timer(EngineTimer::HoldGrace, now + self.cfg.startup_grace);
    }

    /// A guarded re-open failed before `pg_promote` and the standby cannot take over:
    /// hold, with a critical alarm, and after one gateway interval hold afresh. The
    /// evidence that led to the re-open is spent: the peer may have moved since, so
    /// only evidence of the new hold's epoch re-opens again.
    pub(super) fn reopen_failed(&mut self, now: Instant) {
        self.alarm_once(Reason::PromoteFailed);
        self.reopening = false;
        self.promote_sent = false;
        self.begin_hold(now, Reason::PromoteFailed);
        self.set_step(Step::ReopenPause);
        self.clear_timer(EngineTimer::HoldGrace);
        self.set_timer(EngineTimer::HoldRetry, now + self.cfg.gateway.interval);
    }

    /// The pause after a failed re-open ended.
    pub(super) fn on_hold_retry(&mut self, now: Instant) {
        if self.role == Role::Hold && self.step == Step::ReopenPause {
            self.begin_hold(now, Reason::PromoteFailed);
        }
    }

    /// No evidence within the window a restarted primary keeps its VIP for.
    pub(super) fn on_hold_vip(&mut self, now: Instant) {
        if self.role == Role::Hold && self.hold_keeps_vip {
            self.hold_keeps_vip = false;
            self.decide(now, DecisionKind::Hold, Reason::PeerNotHeard);
            self.push(Action::ReleaseVip);
        }
    }

    /// A frame while holding. A winning peer means this node lost: fence and stay
    /// fenced. Otherwise only a frame the peer built after this node entered hold may
    /// end it (`fresh`): the answer to, or the echo of, a ping sent since. The peer
    /// built it after receiving that ping, so if it was about to promote it has either
    /// aborted (and says standby) or is past `pg_promote` (and says so). Frames queued
    /// before (a tty buffer, the bridge, a paused VM's backlog) prove nothing.
    pub(super) fn hold_heard(&mut self, now: Instant, peer: PeerState, fresh: bool) {
        self.hold_heard_peer = true;
        if self.peer_wins(&peer) {
            self.begin_fence(now, Reason::PeerWins);
        } else if peer.role.claims_primary() && !peer.fenced {
            // We win, but the peer still claims the primary position: it fences on
            // hearing our state, and its next frame (fenced) lets us resume. Taking
            // the VIP now would overlap with its.
            self.decide_once(now, DecisionKind::Hold, Reason::PeerWins);
        } else if fresh && self.step == Step::Idle {
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

    /// `startup_grace` passed in hold without evidence. "Nothing heard" is never
    /// evidence: a node that was primary keeps holding, with a critical alarm, until
    /// evidence arrives or an operator releases it (Pacemaker's `wait_for_all` for two
    /// nodes). Only a first start (nothing persisted: the node never served under the
    /// daemon) with no sign of the peer resumes on its own, as the pair's bootstrap.
    pub(super) fn on_hold_grace(&mut self, now: Instant) {
        if self.role != Role::Hold || self.step != Step::Idle {
            return;
        }
        let alive = [PathId::Icmp, PathId::RemoteDb]
            .iter()
            .any(|p| self.effective_path(*p).health == PathHealth::Up);
        if !self.hold_needs_evidence && !alive {
            self.resume(now, Reason::PeerNotHeard);
            return;
        }
        let reason = if alive {
            Reason::PeerAliveButSilent
        } else {
            Reason::PeerNotHeard
        };
        self.hold_waiting = true;
        self.alarm_once(reason);
        self.decide_once(now, DecisionKind::Hold, reason);
        if !self.hold_needs_evidence {
            // The bootstrap looks again: the peer may be gone for good by then.
            self.set_timer(EngineTimer::HoldGrace, now + self.cfg.startup_grace);
        }
    }

    /// The operator's release of a hold (`twinbeat resume --force-primary`): accepted
    /// only in exactly the hold that waits for the operator — `startup_grace` passed and
    /// nothing heard from the peer since the hold began (a peer that was heard is
    /// judged by the rules, not overruled). The node then re-opens its DB or takes the
    /// VIP as on evidence (rule `hold-needs-evidence`).
    pub fn release_hold(&mut self, now: Instant) -> Result<(), ReleaseRefused> {
        self.handle_timeout(now);
        if self.role != Role::Hold {
            return Err(ReleaseRefused::NotHolding(self.role));
        }
        if self.step != Step::Idle {
            return Err(ReleaseRefused::Busy);
        }
        if self.hold_heard_peer {
            return Err(ReleaseRefused::PeerHeard);
        }
        if !self.hold_waiting {
            return Err(ReleaseRefused::GraceRunning);
        }
        self.alarm(Severity::Warning, Reason::OperatorRelease);
        self.resume(now, Reason::OperatorRelease);
        Ok(())
    }

    /// Leave hold: a writable DB takes the VIP back; a read-only one is re-opened if
    /// this node is the primary of its term (the start guard put it in recovery), and
    /// otherwise makes the node a standby.
    pub(super) fn resume(&mut self, now: Instant, reason: Reason) {
        self.clear_timer(EngineTimer::HoldGrace);
        self.hold_waiting = false;
        // No sample yet (the peer's ack can beat the first local check): trust what the
        // DB said at start. Should it have left recovery since, `Promote` only confirms.
        let in_recovery = self.local.map_or(self.start_in_recovery, |s| s.in_recovery);
        if in_recovery && self.guarded_primary {
            // The peer has not won (it would have been heard as primary in a higher
            // term): the term is still ours, so no new term and no "promoting" to
            // persist. `Role::Promoting` past `pg_promote` lets only rule `higher-term-wins` stop it,
            // not a live standby peer (`promoting_heard`).
            self.decide(now, DecisionKind::Resume, reason);
            self.reopening = true;
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
        if self.cfg.replication == ReplicationMode::Strict && !self.hold_keeps_vip {
            // Rule `sync-epoch`: a `strict` primary names its standby before it takes
            // the VIP (a daemon that stopped between `pg_promote` and the names comes
            // back here with neither).
            self.set_step(Step::NameStandby);
            self.sync.in_flight = None;
            self.clear_timer(EngineTimer::SyncRetry);
            self.set_sync_standby(now, true);
            return;
        }
        self.resume_serving(now);
    }

    /// The end of a resume: take the VIP (or keep the one never released).
    pub(super) fn resume_serving(&mut self, now: Instant) {
        if self.hold_keeps_vip {
            // The address never left: nothing to add, no ARP to send.
            self.hold_keeps_vip = false;
            self.clear_timer(EngineTimer::HoldVip);
            self.set_step(Step::TakeVip);
            self.on_vip_taken(now, true);
            return;
        }
        self.set_step(Step::TakeVip);
        self.push(Action::TakeVip);
    }

    /// Rule `pause-is-a-restart`: called far later than due. Attempts in flight are void; a node that may
    /// hold the VIP drops it and holds until it hears the peer.
    pub(super) fn on_pause(&mut self, now: Instant, gap: Duration) {
        self.log(Event::PauseDetected { gap });
        // Frames that waited out the pause in a buffer are no evidence.
        self.push(Action::FlushSerialInput);
        self.restart_attempts(now);
        self.fresh = None;
        self.clear_timer(EngineTimer::Fresh);
        match (self.role, self.step) {
            (Role::Promoting, Step::PersistPromoting) => {
                self.abort_promotion(now, Reason::Paused);
            }
            (Role::Primary | Role::Promoting, _)
            | (Role::Hold, Step::TakeVip | Step::NameStandby) => {
                self.enter_hold(now, Reason::Paused);
            }
            (Role::Hold, _) if self.hold_keeps_vip => {
                self.enter_hold(now, Reason::Paused);
            }
            (Role::Hold, _) => {
                // Paused again while holding: what was sent before this pause is
                // answered from the backlog, so the evidence starts over from here.
                self.hold_since = now;
                self.hold_first_seq = self.next_id;
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
        (Some(PersistedRole::Fenced | PersistedRole::Rejoining), _) => Role::Fencing,
        // Rule `planned-switchover`: the demotion carries on from the VIP's release.
        (Some(PersistedRole::Demoting { .. }), _) => Role::Demoting,
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
        Some(PersistedRole::Primary | PersistedRole::Demoting { .. }) => true,
        Some(PersistedRole::Promoting) => !start.db_in_recovery,
        _ => false,
    };
    (role, term, primary_claim)
}
