//! The master's rules `fence-when-standby-can-take-over` (when to fence) and
//! `fence-sequence` (how), plus the results of every side effect.

use core::time::Duration;

use super::actions::Bounded;
use super::handover::Via;
use super::{Engine, EngineTimer, Step};
use crate::io::{Action, DecisionKind, Reason, Severity};
use crate::time::Instant;
use crate::types::{PathHealth, PathId, PersistedRole, PersistedState, Role};

impl Engine {
    /// Own gateway changed health. When it goes down the master waits long enough for
    /// the peer to notice a shared outage and report it before judging (rule
    /// `fence-when-standby-can-take-over`).
    pub(super) fn gateway_changed(&mut self, now: Instant) {
        if self.paths[PathId::Gateway.index()].status.health == PathHealth::Down {
            if self.role == Role::Primary
                && self.timer(EngineTimer::GatewaySettle).is_none()
                && !self.gateway_settled
            {
                self.restart_gateway_settle(now);
            }
        } else {
            self.gateway_settled = false;
            self.clear_timer(EngineTimer::GatewaySettle);
            self.evaluate_primary(now);
        }
    }

    /// Waits long enough for both nodes' gateway checks to agree: a full detection on
    /// the gateway path plus one serial round for the peer's report.
    pub(super) fn restart_gateway_settle(&mut self, now: Instant) {
        if self.paths[PathId::Gateway.index()].status.health != PathHealth::Down {
            return;
        }
        let g = self.cfg.gateway;
        let s = self.cfg.serial;
        let settle = g.interval + g.detection_time() + s.interval + s.timeout;
        self.gateway_settled = false;
        self.set_timer(EngineTimer::GatewaySettle, now + settle);
    }

    /// Rule `fence-when-standby-can-take-over`: the standby can take over if its state,
    /// at most `peer_state_max_age` old, says standby, DB healthy, gateway up, not
    /// fenced, not promoted by hand, and the WAL it has received is within
    /// `max_lag_on_failover` of ours — the check its own fresh checks (rule
    /// `fresh-checks`) will make before it promotes, so a fence never lands on a standby
    /// that will then refuse. A standby never heard cannot take over: with nobody to
    /// hand over to, fencing helps nobody.
    pub(super) fn peer_can_take_over(&self, now: Instant) -> Result<(), Reason> {
        let Some(v) = self.peer else {
            return Err(Reason::PeerNotHeard);
        };
        if now.saturating_duration_since(v.heard_at) > self.cfg.peer_state_max_age {
            return Err(Reason::PeerStateStale);
        }
        let s = v.state;
        if s.fenced {
            return Err(Reason::PeerFenced);
        }
        if s.human_promoted {
            // Rule `human-promoted-standby`: writable already, and not following us.
            return Err(Reason::PeerHumanPromoted);
        }
        if s.role != Role::Standby {
            return Err(Reason::PeerNotStandby);
        }
        if !s.gateway_up {
            return Err(Reason::SharedGatewayOutage);
        }
        if !s.db_healthy {
            return Err(Reason::PeerDbUnhealthy);
        }
        let ours = self.local.map_or(0, |l| l.wal_lsn);
        let lag = ours.saturating_sub(s.wal_lsn);
        if lag > self.cfg.max_lag_on_failover {
            return Err(Reason::LagTooHigh { lag });
        }
        Ok(())
    }

    /// Rule `fence-when-standby-can-take-over`: fence on an unrecoverable DB or a lost
    /// gateway, when the standby can take over and says so (rule `fence-handshake`);
    /// otherwise alarm and keep serving.
    pub(super) fn evaluate_primary(&mut self, now: Instant) {
        if self.role != Role::Primary {
            return;
        }
        let db_bad = self.incident.is_some_and(|i| i.unrecoverable);
        let gw_bad = self.gateway_settled
            && self.paths[PathId::Gateway.index()].status.health == PathHealth::Down;
        let cause = if db_bad {
            Reason::OwnDbUnrecoverable
        } else if gw_bad {
            Reason::OwnGatewayDown
        } else {
            self.end_handover();
            return;
        };
        if self.held_back(now, cause) {
            return;
        }
        // The standby's last frame must say it can take over before the master asks
        // it to (rule `fence-handshake`); the answer decides. With serial down, its
        // PostgreSQL read over the remote DB path says it, and the question goes there.
        match self.peer_can_take_over(now) {
            Ok(()) => self.ask_takeover(now, cause, Via::Serial),
            Err(why) => {
                let serial_up = self.effective_path(PathId::Serial).health == PathHealth::Up;
                if !serial_up && self.peer_db_can_take_over(now).is_ok() {
                    self.ask_takeover(now, cause, Via::Db);
                    return;
                }
                self.end_handover();
                self.alarm_once(cause);
                self.decide_once(now, DecisionKind::NoFence, why);
            }
        }
    }

    /// Rule `fence-sequence`: stop the DB (confirmed), release the VIP, persist "fenced", advertise
    /// it, then run the fence action. Each step waits for the previous one's result.
    pub(super) fn begin_fence(&mut self, now: Instant, reason: Reason) {
        self.decide(now, DecisionKind::Fence, reason);
        self.fence_reason = Some(reason);
        self.fresh = None;
        self.clear_timer(EngineTimer::Fresh);
        self.clear_timer(EngineTimer::GatewaySettle);
        self.clear_timer(EngineTimer::RestartGrace);
        self.clear_timer(EngineTimer::HoldGrace);
        self.clear_timer(EngineTimer::HoldVip);
        self.hold_keeps_vip = false;
        self.incident = None;
        self.guarded_primary = false;
        self.reopening = false;
        self.promote_sent = false;
        self.set_step(Step::StopDb);
        self.set_role(now, Role::Fencing);
        self.push_bounded(now, Bounded::StopDb);
    }

    pub(super) fn on_db_stopped(&mut self, now: Instant, ok: bool) {
        if self.step != Step::StopDb {
            return;
        }
        if ok {
            self.db_stopped = true;
            self.local_healthy = false;
            self.set_step(Step::ReleaseVip);
            self.push(Action::ReleaseVip);
        } else {
            // Never "fenced" while a postmaster may still run: keep trying to stop it,
            // and with a poweroff fence action configured, power off (the one way to
            // be sure), without advertising anything (rule `fence-sequence`).
            self.alarm(Severity::Critical, Reason::DbStopFailed);
            if self.cfg.poweroff_on_unconfirmed_stop && !self.poweroff_asked {
                self.poweroff_asked = true;
                self.push_bounded(now, Bounded::RunFenceAction);
            }
            let stop = self.windowed(now, Bounded::StopDb);
            self.retry_later(now, stop, self.cfg.local_db.timeout);
        }
    }

    pub(super) fn on_vip_released(&mut self, now: Instant, ok: bool) {
        if ok {
            if self.step == Step::DemoteReleaseVip {
                self.on_demote_vip_released(now);
            } else if self.step == Step::ReleaseVip {
                self.set_step(Step::PersistFenced);
                let state = PersistedState {
                    role: PersistedRole::Fenced,
                    term: self.term,
                };
                self.push(Action::Persist(state));
            }
        } else {
            // Whatever asked for the release (fence or hold), it must happen.
            self.alarm(Severity::Critical, Reason::VipReleaseFailed);
            self.retry_later(now, Action::ReleaseVip, self.cfg.gateway.interval);
        }
    }

    pub(super) fn on_persisted(&mut self, now: Instant, state: PersistedState, ok: bool) {
        if state.role == PersistedRole::Standby {
            // A standby's learned term: keep trying, a restart must not forget it.
            if !ok && state.term == self.term && self.step == Step::Idle {
                self.alarm(Severity::Warning, Reason::PersistFailed);
                self.retry_later(now, Action::Persist(state), self.cfg.gateway.interval);
            }
            return;
        }
        let expected = matches!(
            (self.step, state.role),
            (Step::PersistPromoting, PersistedRole::Promoting)
                | (Step::PersistPrimary, PersistedRole::Primary)
                | (Step::PersistFenced, PersistedRole::Fenced)
                | (Step::PersistRejoining, PersistedRole::Rejoining)
                | (Step::PersistDemoting, PersistedRole::Demoting { .. })
        );
        if !expected || state.term != self.term {
            return; // an answer to an earlier, abandoned step
        }
        if self.step == Step::PersistRejoining {
            return self.on_rejoining_persisted(now, ok);
        }
        if self.step == Step::PersistDemoting {
            return self.on_demoting_persisted(now, ok);
        }
        match (self.step, ok) {
            (Step::PersistPromoting, true) => {
                // From here the term is this node's to finish: a hold (a pause) re-opens
                // rather than follows, as for a guarded primary.
                self.guarded_primary = true;
                self.set_step(Step::AwaitPromoted);
                self.push_bounded(now, Bounded::Promote);
            }
            (Step::PersistPromoting, false) => self.abort_promotion(now, Reason::PersistFailed),
            (Step::PersistPrimary, true) => self.set_step(Step::Idle),
            (Step::PersistPrimary, false) => {
                self.alarm(Severity::Critical, Reason::PersistFailed);
                self.retry_later(now, Action::Persist(state), self.cfg.gateway.interval);
            }
            (Step::PersistFenced, _) => {
                if !ok {
                    // The DB is stopped and the VIP gone: advertise the fence anyway so
                    // the standby can take over, and keep trying to persist it.
                    self.alarm(Severity::Critical, Reason::PersistFailed);
                }
                self.fenced = true;
                self.set_role(now, Role::Fenced);
                self.announce();
                if self.run_fence_action {
                    self.set_step(Step::FenceAction);
                    self.push_bounded(now, Bounded::RunFenceAction);
                } else {
                    self.set_step(Step::Idle);
                    self.consider_rejoin(now);
                }
                if !ok {
                    self.retry_later(now, Action::Persist(state), self.cfg.gateway.interval);
                }
            }
            _ => {}
        }
    }

    /// The answer to `Promote`. `Err(requested)`: not confirmed out of recovery; with
    /// `pg_promote` sent it cannot be taken back and PostgreSQL may still finish it
    /// (replay stuck behind a recovery conflict), so the node stays promoting and keeps
    /// confirming, with an alarm (rule `promotion-order`).
    pub(super) fn on_promoted(&mut self, now: Instant, result: Result<(), bool>) {
        if self.step != Step::AwaitPromoted {
            return;
        }
        // Once `pg_promote` was sent for this promotion, a later attempt that fails
        // before its own request does not undo the first one.
        let result = result.map_err(|requested| requested || self.promote_sent);
        if result.is_ok() {
            self.reopening = false;
            self.promote_sent = false;
            // The end of recovery is confirmed: a sample taken before it must neither
            // make a later resume follow as a replica nor count against the primary
            // (rule `local-db-restart-once`), so the local DB check starts over.
            if let Some(s) = self.local.as_mut() {
                s.in_recovery = false;
            }
            self.paths[PathId::LocalDb.index()].attempt = None;
            self.start_attempt(now, PathId::LocalDb);
            self.set_step(Step::TakeVip);
            self.push(Action::TakeVip);
        } else if result == Err(true) {
            self.promote_sent = true;
            self.alarm_once(Reason::PromotionPending);
            self.decide_once(now, DecisionKind::Promote, Reason::PromotionPending);
            let promote = self.windowed(now, Bounded::Promote);
            self.retry_later(now, promote, self.cfg.gateway.interval);
        } else if self.reopening
            && self.peer_can_take_over(now).is_ok()
            && !self.held_back(now, Reason::OwnDbUnrecoverable)
        {
            // A primary that cannot re-open its own DB must not become a second
            // standby: two standbys that hear each other never promote. It hands over
            // like a master whose DB failed (rule `fence-when-standby-can-take-over`).
            self.alarm_once(Reason::PromoteFailed);
            self.begin_fence(now, Reason::OwnDbUnrecoverable);
        } else if self.reopening {
            // Nobody to hand over to: becoming a standby would leave the pair with two
            // standbys should the peer come back as one. Keep the claim and try again
            // on fresh evidence (rule `start-guard`).
            self.reopen_failed(now);
        } else {
            self.abort_promotion(now, Reason::PromoteFailed);
        }
    }

    pub(super) fn on_vip_taken(&mut self, now: Instant, ok: bool) {
        if self.step != Step::TakeVip {
            if ok {
                // Taken for a step since abandoned (fence, hold): give it back.
                self.push(Action::ReleaseVip);
            }
            return;
        }
        if ok {
            self.vip_failures = 0;
            self.set_role(now, Role::Primary);
            self.guarded_primary = true;
            self.set_step(Step::PersistPrimary);
            self.push(Action::Persist(PersistedState {
                role: PersistedRole::Primary,
                term: self.term,
            }));
            self.evaluate_primary(now);
        } else {
            // The database is already writable: stay, keep trying, and back off so a
            // lasting fault (a missing interface) is not hammered; one alarm per incident.
            self.vip_failures = self.vip_failures.saturating_add(1);
            if self.vip_failures == 1 {
                self.alarm(Severity::Critical, Reason::VipFailed);
            }
            let delay = vip_retry_delay(self.cfg.gateway.interval, self.vip_failures);
            self.retry_later(now, Action::TakeVip, delay);
        }
    }
}

/// Longest pause between two VIP add attempts.
pub(super) const VIP_RETRY_MAX: Duration = Duration::from_secs(30);

/// The pause after the `failures`-th failed VIP add in a row: the gateway interval,
/// doubling each time, capped at [`VIP_RETRY_MAX`].
fn vip_retry_delay(interval: Duration, failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    interval.saturating_mul(1 << shift).min(VIP_RETRY_MAX)
}
