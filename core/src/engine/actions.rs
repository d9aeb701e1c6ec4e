//! The action queue and the log entries the rule modules queue on it: events, alarms
//! and decisions.

use super::Engine;
use crate::io::{Action, Decision, DecisionKind, Event, Reason, Severity};
use crate::time::Instant;

impl Engine {
    pub(super) fn push(&mut self, action: Action) {
        if self.actions.push_back(action).is_err() {
            self.dropped_actions = self.dropped_actions.saturating_add(1);
        }
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
