//! Rule `planned-switchover`: a planned, zero-loss change of roles.
//!
//! The master (asked by its operator, or by the standby's frames carrying its
//! operator's request) checks that the pair is whole and the standby streams close
//! behind, persists `demoting`, releases the VIP, and has its PostgreSQL checkpointed
//! and stopped cleanly (`Action::Demote`); the shutdown checkpoint's location is the
//! **final LSN**, which its frames carry from then on. The standby, on such a frame in
//! its own term, samples its replay position until it is past the final LSN and then
//! promotes in the next term (rule `promotion-order`: the master's stopped frames are
//! no sign of a competing primary, as a fenced one's are not). The master follows the
//! first peer it sees primary in a higher term: it becomes its streaming standby
//! (`Action::Rejoin`, which after a clean shutdown has nothing to rewind).
//!
//! Interrupted at any step: a restart in `demoting` stops PostgreSQL cleanly again (or
//! finds it stopped), reads the final LSN again and carries on. A standby that does not
//! take over within `switchover_timeout` makes the master **withdraw**: its frames stop
//! carrying the final LSN (so the standby, before its `pg_promote`, aborts), it
//! restarts its PostgreSQL read-only under the start guard and holds; it re-opens only
//! on a fresh round trip in which the standby still says "standby, old term" (rule
//! `hold-needs-evidence`). A standby that had promoted makes it fence instead.

use super::actions::Bounded;
use super::rejoin::Rejoin;
use super::{Engine, EngineTimer, Step};
use crate::config::SWITCHOVER_REQUEST_WINDOW;
use crate::io::{Action, DecisionKind, Reason, Severity, SwitchoverRefused};
use crate::time::Instant;
use crate::types::{
    NodeId, PathHealth, PathId, PeerState, PersistedRole, PersistedState, Role, SwitchoverProgress,
    SwitchoverSide, SwitchoverStage,
};

/// The master's side of a switchover under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Demotion {
    /// What its frames carry: `Stopping`, then `Stopped { lsn }`.
    pub(super) stage: SwitchoverStage,
    /// Who asked.
    pub(super) reason: Reason,
    /// The node handed over to.
    pub(super) to: NodeId,
}

impl Engine {
    /// The operator's `twinbeat switchover` (rule `planned-switchover`). On the
    /// master it starts the demotion; on the standby it puts the request in this
    /// node's frames for [`SWITCHOVER_REQUEST_WINDOW`], and the master decides.
    /// Refused, with the reason, unless the pair is whole, not paused, nothing else is
    /// under way and the standby is a healthy replica within `max_lag_on_failover`.
    /// Returns the term handed over. Drain [`Engine::poll_action`] after it.
    pub fn request_switchover(&mut self, now: Instant) -> Result<u64, SwitchoverRefused> {
        self.handle_timeout(now);
        self.switchover_check(now)?;
        if self.role == Role::Primary {
            self.begin_demotion(now, Reason::OperatorSwitchover);
        } else {
            self.switchover_request = Some(now + SWITCHOVER_REQUEST_WINDOW);
            self.decide(now, DecisionKind::Switchover, Reason::OperatorSwitchover);
            self.announce();
        }
        Ok(self.term)
    }

    /// The switchover under way, for the status page.
    pub fn switchover(&self) -> Option<SwitchoverProgress> {
        if let Some(d) = self.switchover.filter(|_| self.role == Role::Demoting) {
            return Some(SwitchoverProgress {
                side: SwitchoverSide::HandingOver,
                term: self.term,
                stage: d.stage,
                reason: d.reason,
            });
        }
        if self.role != Role::Standby {
            return None;
        }
        let peer = self
            .peer
            .map(|v| v.state)
            .filter(|s| s.role == Role::Demoting && s.term == self.term);
        if let Some(stage) = peer.and_then(|s| s.switchover) {
            return Some(SwitchoverProgress {
                side: SwitchoverSide::TakingOver,
                term: self.term,
                stage,
                reason: Reason::Switchover,
            });
        }
        self.request_active().then_some(SwitchoverProgress {
            side: SwitchoverSide::TakingOver,
            term: self.term,
            stage: SwitchoverStage::Requested,
            reason: Reason::OperatorSwitchover,
        })
    }

    /// What this node's frames say about a switchover.
    pub(super) fn switchover_to_send(&self) -> Option<SwitchoverStage> {
        match self.role {
            Role::Demoting => self.switchover.map(|d| d.stage),
            Role::Standby if self.request_active() => Some(SwitchoverStage::Requested),
            _ => None,
        }
    }

    /// The standby's request is out and the master has not started yet.
    fn request_active(&self) -> bool {
        let started = self.peer.is_some_and(|v| v.state.role == Role::Demoting);
        self.switchover_request
            .is_some_and(|until| self.last_now < until)
            && !started
    }

    /// Whether the pair can switch over now, seen from this node (the primary or its
    /// standby): whole (every peer path up, a frame within `peer_state_max_age`), not
    /// paused, nothing under way, both databases healthy, the standby a replica whose
    /// received WAL is within `max_lag_on_failover` of the primary's.
    fn switchover_check(&self, now: Instant) -> Result<(), SwitchoverRefused> {
        let partner = match self.role {
            Role::Primary => Role::Standby,
            Role::Standby => Role::Primary,
            role => return Err(SwitchoverRefused::WrongRole(role)),
        };
        let busy = self.step != Step::Idle
            || self.fresh.is_some()
            || self.asking.is_some()
            || self.answer.is_some()
            || self.rejoin.is_some()
            || self.incident.is_some();
        if busy {
            return Err(SwitchoverRefused::Busy);
        }
        let fresh_peer = self.fresh_peer(now);
        if self.paused() || fresh_peer.is_some_and(|s| s.pause.is_some()) {
            return Err(SwitchoverRefused::Paused);
        }
        let Some(peer) = fresh_peer else {
            return Err(SwitchoverRefused::SerialDown);
        };
        for path in PathId::PEER {
            if self.effective_path(path).health != PathHealth::Up {
                return Err(if path == PathId::Serial {
                    SwitchoverRefused::SerialDown
                } else {
                    SwitchoverRefused::Degraded(path)
                });
            }
        }
        if peer.role != partner || peer.term != self.term || peer.fenced {
            return Err(SwitchoverRefused::PeerNotPartner {
                role: peer.role,
                term: peer.term,
            });
        }
        let own = self.local.filter(|l| l.healthy() && self.local_healthy);
        let gateway_up = self.effective_path(PathId::Gateway).health != PathHealth::Down;
        let (primary_lsn, standby_lsn) = if self.role == Role::Primary {
            let own = own
                .filter(|l| !l.in_recovery && gateway_up)
                .ok_or(SwitchoverRefused::Unhealthy)?;
            if !peer.db_healthy || !peer.gateway_up || peer.human_promoted {
                return Err(SwitchoverRefused::StandbyNotReady);
            }
            (own.wal_lsn, peer.wal_lsn)
        } else {
            let own = own
                .filter(|l| l.in_recovery && gateway_up)
                .ok_or(SwitchoverRefused::StandbyNotReady)?;
            if !peer.db_healthy || !peer.gateway_up {
                return Err(SwitchoverRefused::Unhealthy);
            }
            (peer.wal_lsn, own.wal_lsn)
        };
        let lag = primary_lsn.saturating_sub(standby_lsn);
        if lag > self.cfg.max_lag_on_failover {
            return Err(SwitchoverRefused::Lagging { lag });
        }
        Ok(())
    }

    /// A frame of the standby carrying its operator's request: the master starts the
    /// switchover if its own checks pass, and otherwise says why (once).
    pub(super) fn switchover_requested(&mut self, now: Instant, peer: &PeerState) {
        if peer.switchover != Some(SwitchoverStage::Requested) || self.role != Role::Primary {
            return;
        }
        match self.switchover_check(now) {
            Ok(()) => self.begin_demotion(now, Reason::PeerRequestedSwitchover),
            Err(why) => self.decide_once(
                now,
                DecisionKind::NoSwitchover,
                Reason::SwitchoverRefused(why),
            ),
        }
    }

    /// The master's first step: persist `demoting` in its term.
    fn begin_demotion(&mut self, now: Instant, reason: Reason) {
        self.decide(now, DecisionKind::Switchover, reason);
        let to = self.peer.map_or(NodeId(0), |v| v.state.node_id);
        self.switchover = Some(Demotion {
            stage: SwitchoverStage::Stopping,
            reason,
            to,
        });
        self.set_step(Step::PersistDemoting);
        self.set_role(now, Role::Demoting);
        self.push(Action::Persist(PersistedState {
            role: PersistedRole::Demoting {
                to,
                final_lsn: None,
            },
            term: self.term,
        }));
    }

    /// A restart that found `demoting` (to `to`) persisted: the same steps again from
    /// the VIP's release (each is idempotent: a stopped server is only read).
    pub(super) fn resume_demotion(&mut self, now: Instant, to: NodeId) {
        self.switchover = Some(Demotion {
            stage: SwitchoverStage::Stopping,
            reason: Reason::Restarted,
            to,
        });
        self.set_role(now, Role::Demoting);
        self.set_step(Step::DemoteReleaseVip);
        self.push(Action::ReleaseVip);
    }

    /// `Persisted(Demoting)` (or its failure).
    pub(super) fn on_demoting_persisted(&mut self, now: Instant, ok: bool) {
        if !ok {
            // Nothing was given up yet: the master serves on.
            self.alarm(Severity::Warning, Reason::PersistFailed);
            self.switchover = None;
            self.set_step(Step::Idle);
            self.set_role(now, Role::Primary);
            self.decide(now, DecisionKind::NoSwitchover, Reason::PersistFailed);
            return;
        }
        // The standby learns the stage at once, not at the next serial interval.
        self.announce();
        self.set_step(Step::DemoteReleaseVip);
        self.push(Action::ReleaseVip);
    }

    /// The VIP is gone: stop PostgreSQL cleanly and read the final LSN.
    pub(super) fn on_demote_vip_released(&mut self, now: Instant) {
        self.set_step(Step::Demote);
        self.push(Action::Demote {
            deadline: now + self.cfg.switchover_timeout,
        });
    }

    /// The answer to `Action::Demote`.
    pub(super) fn on_demoted(&mut self, now: Instant, lsn: Option<u64>) {
        if self.role != Role::Demoting || self.step != Step::Demote {
            return;
        }
        let Some(lsn) = lsn else {
            // No clean primary shutdown to hand over at. A peer already primary in a
            // higher term (a restart in `demoting` after the follow had begun, or a
            // failover meanwhile) is followed all the same: the rejoin rewinds what
            // needs it and saves the report. Otherwise the switchover is withdrawn.
            if let Some(term) = self.primary_peer_term(now) {
                self.set_step(Step::AwaitSuccessor);
                self.follow_successor(now, term);
            } else {
                self.withdraw_switchover(now, Reason::DemoteFailed);
            }
            return;
        };
        self.db_stopped = true;
        self.local_healthy = false;
        if let Some(d) = self.switchover.as_mut() {
            d.stage = SwitchoverStage::Stopped { lsn };
            // On record for the operator; a restart reads the control file again. No
            // answer is awaited (`on_persisted` expects none in this step).
            let to = d.to;
            self.push(Action::Persist(PersistedState {
                role: PersistedRole::Demoting {
                    to,
                    final_lsn: Some(lsn),
                },
                term: self.term,
            }));
        }
        self.set_step(Step::AwaitSuccessor);
        self.set_timer(
            EngineTimer::SwitchoverWait,
            now + self.cfg.switchover_timeout,
        );
        self.announce();
        // A restart in `demoting` may find the standby promoted already.
        if let Some(term) = self.primary_peer_term(now) {
            self.follow_successor(now, term);
        }
    }

    /// A frame while demoting: the peer primary in a higher term is the successor.
    pub(super) fn demoting_heard(&mut self, now: Instant, peer: &PeerState) {
        if peer.role == Role::Primary && !peer.fenced && peer.term > self.term {
            self.follow_successor(now, peer.term);
        }
    }

    /// The peer's PostgreSQL read writable in a higher term while demoting: the
    /// successor, seen on the remote DB path (serial may be down).
    pub(super) fn demoting_read_peer_db(&mut self, now: Instant) {
        if let Some(term) = self.primary_peer_term_by_db(now) {
            self.follow_successor(now, term);
        }
    }

    /// The standby promoted past the final LSN: become its streaming standby. After
    /// a clean shutdown `pg_rewind` finds nothing to rewind; the rejoin's other steps
    /// (the replication slot on the new primary, the start, the wait until it
    /// streams) are the same.
    fn follow_successor(&mut self, now: Instant, term: u64) {
        if self.role != Role::Demoting || self.step != Step::AwaitSuccessor {
            return;
        }
        self.clear_timer(EngineTimer::SwitchoverWait);
        self.decide(now, DecisionKind::Rejoin, Reason::Switchover);
        self.rejoin = Some(Rejoin {
            term,
            reclone: false,
            reason: Reason::Switchover,
        });
        self.set_step(Step::Rejoining);
        self.push(Action::Rejoin {
            term,
            reclone: false,
            deadline: now + self.cfg.rejoin_timeout,
        });
    }

    /// `EngineTimer::SwitchoverWait`: the standby has not taken over. A peer that
    /// says it is promoting (or primary) in a higher term may be past `pg_promote`,
    /// which is never abandoned: wait on. Otherwise withdraw.
    pub(super) fn on_switchover_wait(&mut self, now: Instant) {
        if self.role != Role::Demoting || self.step != Step::AwaitSuccessor {
            return;
        }
        let promoting = self.peer.is_some_and(|v| {
            v.state.role.claims_primary() && !v.state.fenced && v.state.term > self.term
        });
        if promoting {
            self.set_timer(
                EngineTimer::SwitchoverWait,
                now + self.cfg.switchover_timeout,
            );
            return;
        }
        self.withdraw_switchover(now, Reason::SwitchoverTimedOut);
    }

    /// The master takes its offer back: its frames stop carrying the final LSN at
    /// once (the hold's), PostgreSQL restarts read-only under the start guard, and the
    /// hold re-opens it in this node's term only on evidence built after this moment
    /// (rule `hold-needs-evidence`): the standby's answer to a ping sent now. A
    /// standby that had promoted wins it instead (`higher-term-wins`).
    fn withdraw_switchover(&mut self, now: Instant, reason: Reason) {
        self.clear_timer(EngineTimer::SwitchoverWait);
        self.switchover = None;
        self.alarm(Severity::Warning, reason);
        self.decide(now, DecisionKind::NoSwitchover, reason);
        // What the DB said before it stopped is not what it will say: the start guard
        // brings it up in recovery, and the re-open decides from there.
        self.local = None;
        self.start_in_recovery = true;
        self.db_stopped = true;
        // A restart from here on is a guarded primary's (hold, then re-open), not a
        // demotion's.
        self.push(Action::Persist(PersistedState {
            role: PersistedRole::Primary,
            term: self.term,
        }));
        self.begin_hold(now, reason);
        self.set_step(Step::ReopenDb);
        self.push_bounded(now, Bounded::RestartDb);
    }

    /// The answer to the withdrawal's `RestartDb` (well or not): the hold now looks
    /// for its evidence; a ping at once asks for it.
    pub(super) fn on_reopen_db_restarted(&mut self) {
        self.set_step(Step::Idle);
        self.db_stopped = false;
        self.announce();
    }

    /// The standby's side: the master's offer, from its last frame within
    /// `peer_state_max_age`: it stopped for a switchover of this node's term at this
    /// final LSN.
    pub(super) fn switchover_offer(&self, now: Instant) -> Option<u64> {
        let s = self.fresh_peer(now)?;
        match (s.role, s.switchover) {
            (Role::Demoting, Some(SwitchoverStage::Stopped { lsn }))
                if s.term == self.term && !s.fenced =>
            {
                Some(lsn)
            }
            _ => None,
        }
    }
}

/// A master that stopped for a switchover is, like a fenced one, no sign of a
/// competing primary while the standby promotes: its PostgreSQL is shut down and its
/// start guard armed (rule `promotion-order`'s abort does not apply).
pub(super) fn stopped_for_switchover(peer: &PeerState) -> bool {
    peer.role == Role::Demoting && matches!(peer.switchover, Some(SwitchoverStage::Stopped { .. }))
}
