//! Rule `standby-slot`: a standby streams through a physical replication slot named
//! after it on the primary, so the primary keeps the WAL it still needs. A rejoin (and
//! a switchover's old master, which rejoins) creates it; a standby built by hand
//! without one gets it too: once per term, when the standby's PostgreSQL is a healthy
//! replica and a fresh frame says the peer is the primary of this node's term, the
//! engine asks the daemon to make sure of it (`Action::EnsureSlot`: create the slot on
//! the primary unless there, set `primary_slot_name`, reload), and after a failure asks
//! again after [`SLOT_RETRY`].

use super::{Engine, EngineTimer};
use crate::config::SLOT_RETRY;
use crate::io::{Action, Reason, Severity};
use crate::time::Instant;
use crate::types::Role;

impl Engine {
    /// Asks for the slot when this standby has none confirmed in its term.
    pub(super) fn consider_slot(&mut self, now: Instant) {
        if self.role != Role::Standby
            || self.slot_in_flight
            || self.slot_term == Some(self.term)
            || self.timer(EngineTimer::SlotRetry).is_some()
        {
            return;
        }
        let replica = self
            .local
            .is_some_and(|l| l.healthy() && l.in_recovery && self.local_healthy);
        let primary = self
            .fresh_peer(now)
            .is_some_and(|s| s.role == Role::Primary && s.term == self.term && !s.fenced);
        if replica && primary {
            self.slot_in_flight = true;
            self.push(Action::EnsureSlot {
                term: self.term,
                deadline: now + SLOT_WINDOW,
            });
        }
    }

    /// The answer to `Action::EnsureSlot` for `term`.
    pub(super) fn on_slot_ensured(&mut self, now: Instant, term: u64, ok: bool) {
        self.slot_in_flight = false;
        if ok {
            self.slot_term = Some(term);
        } else {
            self.alarm(Severity::Warning, Reason::SlotNotEnsured);
            self.set_timer(EngineTimer::SlotRetry, now + SLOT_RETRY);
        }
    }
}

/// Window of `Action::EnsureSlot`: two short queries on each server and a reload.
pub(super) const SLOT_WINDOW: core::time::Duration = core::time::Duration::from_secs(10);
