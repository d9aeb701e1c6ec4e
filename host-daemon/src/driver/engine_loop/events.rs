//! What the engine reports: one log line per state change with its reason, alarms
//! kept for the status page, counters for the metrics.

use twinbeat_core as engine;

use super::Driver;
use tokio::time::Instant as TokioInstant;

use crate::actions::hooks::HookEvent;
use crate::metrics::{AlarmLabel, ReasonLabel};
use crate::status::AlarmStatus;

impl Driver {
    pub(super) fn log(&mut self, event: engine::Event) {
        use engine::{Event, Severity};
        match event {
            Event::PathDown(p) => tracing::warn!("path {} down", p.name()),
            Event::PathUp(p) => tracing::info!("path {} up", p.name()),
            Event::Degraded { paths_down } => {
                tracing::warn!("degraded: {paths_down} of 3 peer paths down, no promotion (rule partial-loss-only-warns)")
            }
            Event::Disarmed(r) => {
                self.alarm(
                    Severity::Critical,
                    "promotion_disarmed",
                    format!("automatic promotion disarmed: {}", r.text()),
                );
                tracing::error!(
                    "CRITICAL: automatic promotion disarmed: {r:?} (rule all-paths-down-together)"
                )
            }
            Event::Rearmed => tracing::info!("automatic promotion armed again: every peer path up"),
            Event::Maintenance { paused, reason } => {
                if paused {
                    tracing::warn!(
                        "maintenance: paused ({reason:?}): no promotion, fence or PostgreSQL restart for health until resumed (rule maintenance-pause)"
                    );
                } else {
                    tracing::warn!("maintenance: resumed ({reason:?}): the rules act again");
                }
            }
            Event::Decision(d) => {
                if d.kind == engine::DecisionKind::Fence {
                    self.hooks.fire(HookEvent::Fence {
                        role: self.engine.role().name(),
                        term: self.engine.term(),
                        reason: d.reason.code(),
                        reason_text: d.reason.text().to_owned(),
                    });
                }
                let by_reason = ReasonLabel {
                    reason: d.reason.code(),
                };
                let metrics = &self.shared.metrics;
                match d.kind {
                    engine::DecisionKind::Promote => {
                        self.promote_started = Some(TokioInstant::now());
                        metrics.promotions.get_or_create(&by_reason).inc()
                    }
                    engine::DecisionKind::Fence => metrics.fences.get_or_create(&by_reason).inc(),
                    engine::DecisionKind::Rejoin => metrics.rejoins.inc(),
                    engine::DecisionKind::Switchover => metrics.switchovers.inc(),
                    _ => 0,
                };
                tracing::warn!("decision {:?}: {:?}: {}", d.kind, d.reason, d.reason.text())
            }
            Event::Alarm {
                severity: Severity::Critical,
                reason,
            } => {
                self.alarm(Severity::Critical, reason.code(), reason.text().to_owned());
                tracing::error!("CRITICAL alarm: {reason:?}: {}", reason.text())
            }
            Event::Alarm {
                severity: Severity::Warning,
                reason,
            } => {
                self.alarm(Severity::Warning, reason.code(), reason.text().to_owned());
                tracing::warn!("alarm: {reason:?}: {}", reason.text())
            }
            Event::RoleChanged { from, to } => {
                if to == engine::Role::Primary {
                    if let Some(began) = self.promote_started.take() {
                        self.shared
                            .metrics
                            .last_failover_duration
                            .set(began.elapsed().as_secs_f64());
                    }
                }
                self.shared
                    .metrics
                    .term
                    .set(i64::try_from(self.engine.term()).unwrap_or(i64::MAX));
                let why = self.engine.last_decision().map(|d| d.reason);
                self.hooks.fire(HookEvent::RoleChange {
                    from: from.name(),
                    to: to.name(),
                    term: self.engine.term(),
                    reason: why.map_or("", engine::Reason::code),
                    reason_text: why.map_or("", engine::Reason::text),
                });
                tracing::warn!("role {from:?} -> {to:?} (term {})", self.engine.term())
            }
            Event::BridgeVerdict(Some(cause)) => {
                let cause = crate::driver::snapshot::cause_name(cause);
                tracing::warn!("bridge: serial path down, {cause}")
            }
            Event::BridgeVerdict(None) => {
                tracing::info!("bridge: no longer says the serial path is down")
            }
            Event::PauseDetected { gap } => {
                tracing::warn!(
                    "pause detected: timers fired {gap:?} late; treating it as a restart (rule pause-is-a-restart)"
                )
            }
            Event::TakeoverAsked { lsn } => tracing::warn!(
                "asking the standby to take over at WAL position {lsn} before fencing (rule fence-handshake)"
            ),
            Event::TakeoverAnswered { lsn, verdict } => {
                let verdict = match verdict {
                    engine::TakeoverVerdict::Ready => "ready",
                    engine::TakeoverVerdict::Refused(why) => why.name(),
                };
                let who = if self.engine.role() == engine::Role::Standby {
                    "this standby answers the master"
                } else {
                    "the standby answers"
                };
                tracing::warn!(
                    "{who}: take over at WAL position {lsn}? {verdict} (rule fence-handshake)"
                )
            }
        }
    }

    pub(super) fn alarm(&mut self, severity: engine::Severity, code: &'static str, text: String) {
        self.shared
            .metrics
            .alarms
            .get_or_create(&AlarmLabel {
                severity: severity.code(),
                code,
            })
            .inc();
        // The newest few alarms are shown on the status page; a repeat of the newest
        // one is counted instead of listed again.
        if let Some(last) = self.alarms.back_mut() {
            if last.code == code && last.text == text {
                last.count += 1;
                return;
            }
        }
        if self.alarms.len() == 16 {
            self.alarms.pop_front();
        }
        self.hooks.fire(HookEvent::Alarm {
            role: self.engine.role().name(),
            term: self.engine.term(),
            severity: severity.code(),
            reason: code.to_owned(),
            reason_text: text.clone(),
        });
        self.alarms.push_back(AlarmStatus {
            severity: severity.code().to_owned(),
            code: code.to_owned(),
            text,
            count: 1,
        });
    }
}
