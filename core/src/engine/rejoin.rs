//! Rule `rejoin-after-fence`: a fenced node becomes the standby of the peer that is
//! primary in a higher term. Asked by the operator (`Engine::request_rejoin`), or by
//! the node itself with `auto_rejoin` after a fence for a lost gateway or a lost term
//! (never after its own DB was unrecoverable), and taken up again after a restart that
//! interrupted one. Each needs positive evidence at the moment it starts: a fresh frame
//! or a fresh reading of the peer's PostgreSQL saying "primary in a term above mine";
//! one the node starts by itself needs the reading (the rewind reads that server).
//!
//! The sequence: persist `rejoining` (a restart fences again and takes the rejoin up),
//! `Action::Rejoin` (the daemon saves what the old timeline held, rewinds or reclones
//! from the peer, starts PostgreSQL, waits until it streams), then the node is a
//! standby in the peer's term and persists that. A failure fences the node again (the
//! fence sequence without the fence action) with an alarm; an automatic rejoin
//! tries again after [`AUTO_REJOIN_RETRY`], at most `auto_rejoin_attempts` times.

use super::{Engine, EngineTimer, Step};
use crate::config::AUTO_REJOIN_RETRY;
use crate::io::{Action, DecisionKind, Reason, RejoinRefused, Severity};
use crate::time::Instant;
use crate::types::{PersistedRole, PersistedState, RejoinProgress, Role};

/// A rejoin under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rejoin {
    /// The peer's term: the node's once it is its standby.
    pub(super) term: u64,
    /// Rebuild with `pg_basebackup` rather than rewind.
    pub(super) reclone: bool,
    /// Who asked: the operator, `auto_rejoin`, an interrupted rejoin, or a
    /// switchover's old master following the new primary.
    pub(super) reason: Reason,
}

impl Engine {
    /// The operator's `twinbeat rejoin [--reclone]` (rule `rejoin-after-fence`).
    /// Accepted on a fenced node with nothing under way and fresh evidence that the
    /// peer is primary in a higher term; returns that term. Drain
    /// [`Engine::poll_action`] after it.
    pub fn request_rejoin(&mut self, now: Instant, reclone: bool) -> Result<u64, RejoinRefused> {
        self.handle_timeout(now);
        if self.role != Role::Fenced {
            return Err(RejoinRefused::NotFenced(self.role));
        }
        if self.step != Step::Idle {
            return Err(RejoinRefused::Busy);
        }
        let Some(term) = self.primary_peer_term(now) else {
            return Err(RejoinRefused::NoPrimaryPeer { term: self.term });
        };
        self.begin_rejoin(term, reclone, Reason::OperatorRejoin);
        Ok(term)
    }

    /// The rejoin under way, for the status page.
    pub fn rejoin_progress(&self) -> Option<RejoinProgress> {
        self.rejoin.map(|r| RejoinProgress {
            term: r.term,
            reclone: r.reclone,
            reason: r.reason,
            running: self.step == Step::Rejoining,
        })
    }

    /// The term the peer is primary in, when it is above this node's and fresh
    /// evidence says so: a frame within `peer_state_max_age`, or a reading of its
    /// PostgreSQL ([`Engine::primary_peer_term_by_db`]).
    pub(super) fn primary_peer_term(&self, now: Instant) -> Option<u64> {
        let by_frame = self
            .fresh_peer(now)
            .filter(|s| s.role == Role::Primary && !s.fenced && s.term > self.term)
            .map(|s| s.term);
        by_frame.max(self.primary_peer_term_by_db(now))
    }

    /// The term the peer's PostgreSQL says it is primary in (writable, with the term
    /// its daemon published), read within one remote DB probe cycle and above this
    /// node's. A rejoin the node starts by itself waits for this one: it also proves
    /// that the peer's PostgreSQL, which the rewind reads, is reachable.
    pub(super) fn primary_peer_term_by_db(&self, now: Instant) -> Option<u64> {
        self.peer_db
            .filter(|(r, at)| {
                now.saturating_duration_since(*at) <= self.cfg.remote_db_probe_cycle()
                    && r.primary_above(self.term)
            })
            .and_then(|(r, _)| r.term)
    }

    /// `auto_rejoin`, or a rejoin a restart interrupted: starts one when the node is
    /// fenced with nothing under way and the evidence is there. Called on every frame
    /// and reading while fenced, when a fence finishes and when the retry pause ends.
    pub(super) fn consider_rejoin(&mut self, now: Instant) {
        if self.role != Role::Fenced
            || self.step != Step::Idle
            || self.timer(EngineTimer::RejoinRetry).is_some()
        {
            return;
        }
        let reason = if self.rejoin_interrupted {
            Reason::RejoinInterrupted
        } else if self.cfg.auto_rejoin
            && self.auto_rejoins < self.cfg.auto_rejoin_attempts
            && matches!(
                self.fence_reason,
                Some(Reason::OwnGatewayDown | Reason::PeerWins)
            )
        {
            Reason::AutoRejoin
        } else {
            return;
        };
        let Some(term) = self.primary_peer_term_by_db(now) else {
            return;
        };
        if reason == Reason::AutoRejoin {
            self.auto_rejoins += 1;
        }
        self.rejoin_interrupted = false;
        self.begin_rejoin(term, false, reason);
    }

    fn begin_rejoin(&mut self, term: u64, reclone: bool, reason: Reason) {
        self.decide(self.last_now, DecisionKind::Rejoin, reason);
        self.rejoin = Some(Rejoin {
            term,
            reclone,
            reason,
        });
        self.set_step(Step::PersistRejoining);
        self.push(Action::Persist(PersistedState {
            role: PersistedRole::Rejoining,
            term: self.term,
        }));
    }

    /// `Persisted(Rejoining)` (or its failure): the rejoin itself, or back to fenced.
    pub(super) fn on_rejoining_persisted(&mut self, now: Instant, ok: bool) {
        let Some(r) = self.rejoin else { return };
        if !ok {
            self.alarm(Severity::Critical, Reason::PersistFailed);
            self.rejoin = None;
            self.set_step(Step::Idle);
            self.set_timer(EngineTimer::RejoinRetry, now + AUTO_REJOIN_RETRY);
            return;
        }
        self.set_step(Step::Rejoining);
        // The rejoin starts PostgreSQL as a replica: the node no longer advertises a
        // confirmed fence (rule `fenced-peer-hands-over` reads it), and a failure
        // fences it again.
        self.fenced = false;
        self.announce();
        self.push(Action::Rejoin {
            term: r.term,
            reclone: r.reclone,
            deadline: now + self.cfg.rejoin_timeout,
        });
    }

    /// The answer to `Action::Rejoin`.
    pub(super) fn on_rejoined(&mut self, now: Instant, ok: bool) {
        if self.step != Step::Rejoining {
            return;
        }
        let Some(r) = self.rejoin.take() else { return };
        self.set_step(Step::Idle);
        self.switchover = None;
        if !ok {
            // The fence sequence again, without the fence action: the DB stopped and
            // confirmed, the VIP confirmed gone, "fenced" persisted, then advertised.
            // The cause of the first fence still decides `auto_rejoin`.
            self.alarm(Severity::Critical, Reason::RejoinFailed);
            let cause = self.fence_reason;
            self.run_fence_action = false;
            self.begin_fence(now, Reason::RejoinFailed);
            self.fence_reason = cause;
            self.set_timer(EngineTimer::RejoinRetry, now + AUTO_REJOIN_RETRY);
            return;
        }
        // PostgreSQL streams from the peer: this node is its standby in its term.
        self.term = self.term.max(r.term);
        self.peer_max_term = self.peer_max_term.max(r.term);
        self.fenced = false;
        self.db_stopped = false;
        self.local = None;
        self.local_healthy = false;
        self.start_in_recovery = true;
        self.fence_reason = None;
        self.auto_rejoins = 0;
        self.run_fence_action = true;
        self.poweroff_asked = false;
        self.decide(now, DecisionKind::Standby, r.reason);
        self.push(Action::Persist(PersistedState {
            role: PersistedRole::Standby,
            term: self.term,
        }));
        // The rewind copied the peer's `postgresql.auto.conf`, with whatever it had
        // published for a handover: nothing of it is this node's (rule
        // `fence-handshake`).
        self.push(Action::PublishHandover(None));
        self.set_role(now, Role::Standby);
        self.announce();
    }

    /// `EngineTimer::RejoinRetry`: the pause after a failed rejoin is over.
    pub(super) fn on_rejoin_retry(&mut self, now: Instant) {
        self.consider_rejoin(now);
    }
}
