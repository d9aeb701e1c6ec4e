//! The action queue and what the rule modules queue on it: the side effects with a
//! window, events, alarms and decisions.

use super::Engine;
use crate::config::{FENCE_ACTION_WINDOW, KILL_GRACE, PROMOTE_WINDOW, STOP_GRACE};
use crate::io::{Action, Decision, DecisionKind, Event, Reason, Severity};
use crate::time::Instant;

/// A side effect with a bound, before the engine stamps the end of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bounded {
    /// `Action::Promote`.
    Promote,
    /// `Action::RestartDb`.
    RestartDb,
    /// `Action::StopDb`.
    StopDb,
    /// `Action::RunFenceAction`.
    RunFenceAction,
}

impl Bounded {
    /// The kind of `action`, when it has a window.
    fn of(action: &Action) -> Option<Bounded> {
        match action {
            Action::Promote { .. } => Some(Bounded::Promote),
            Action::RestartDb { .. } => Some(Bounded::RestartDb),
            Action::StopDb { .. } => Some(Bounded::StopDb),
            Action::RunFenceAction { .. } => Some(Bounded::RunFenceAction),
            _ => None,
        }
    }
}

impl Engine {
    pub(super) fn push(&mut self, action: Action) {
        if self.actions.push_back(action).is_err() {
            self.dropped_actions = self.dropped_actions.saturating_add(1);
        }
    }

    /// Queues `effect` with the end of its window, counted from `now`: the engine
    /// owns every effect's bound, the daemon only runs the effect until the instant
    /// the action carries.
    pub(super) fn push_bounded(&mut self, now: Instant, effect: Bounded) {
        let action = self.windowed(now, effect);
        self.push(action);
    }

    /// `effect` as an action whose window starts at `now`.
    pub(super) fn windowed(&self, now: Instant, effect: Bounded) -> Action {
        match effect {
            Bounded::Promote => Action::Promote {
                term: self.term,
                synchronous: self.sync_on_promotion(),
                connect_by: now + self.cfg.promote_connect_window(),
                deadline: now + PROMOTE_WINDOW,
            },
            Bounded::RestartDb => Action::RestartDb {
                lift_guard: self.role == crate::types::Role::Primary,
                deadline: now + self.cfg.restart_window(),
            },
            Bounded::StopDb => Action::StopDb {
                kill_at: now + STOP_GRACE,
                deadline: now + STOP_GRACE + KILL_GRACE,
            },
            Bounded::RunFenceAction => Action::RunFenceAction {
                deadline: now + FENCE_ACTION_WINDOW,
            },
        }
    }

    /// `action` again at `now`: a retried effect gets a whole window of its own.
    pub(super) fn rewindowed(&self, now: Instant, action: Action) -> Action {
        Bounded::of(&action).map_or(action, |effect| self.windowed(now, effect))
    }

    pub(super) fn log(&mut self, event: Event) {
        self.push(Action::Log(event));
    }

    pub(super) fn alarm(&mut self, severity: Severity, reason: Reason) {
        self.log(Event::Alarm { severity, reason });
    }

    /// A critical alarm, logged once until a different one is raised.
    pub(super) fn alarm_once(&mut self, reason: Reason) {
        if self.alarm_latch != Some(reason) {
            self.alarm_latch = Some(reason);
            self.alarm(Severity::Critical, reason);
        }
    }

    pub(super) fn decide(&mut self, now: Instant, kind: DecisionKind, reason: Reason) {
        let d = Decision {
            kind,
            reason,
            at: now,
        };
        self.last_decision = Some(d);
        self.log(Event::Decision(d));
    }

    /// Like [`Engine::decide`] but silent when it repeats the last decision.
    pub(super) fn decide_once(&mut self, now: Instant, kind: DecisionKind, reason: Reason) {
        if self
            .last_decision
            .is_some_and(|d| d.kind == kind && d.reason == reason)
        {
            return;
        }
        self.decide(now, kind, reason);
    }
}
