//! Rule `local-db-restart-once`: the local database check on both roles, restart once
//! per incident, then stop.

use core::time::Duration;

use super::actions::Bounded;
use super::{Engine, EngineTimer, Step};
use crate::io::{DecisionKind, Event, Reason};
use crate::time::Instant;
use crate::types::{AttemptId, LocalDbSample, PathHealth, PathId, Role};

/// One local DB incident: from the path going down until the DB has been healthy for
/// `restart_grace`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Incident {
    /// Restarts requested in this incident (more than one only on a master that cannot
    /// hand over, with back-off).
    restarts: u32,
    /// Still unhealthy after the restart grace (the "unrecoverable" of rule
    /// `fence-when-standby-can-take-over`).
    pub(super) unrecoverable: bool,
    healthy_since: Option<Instant>,
}

impl Engine {
    pub(super) fn on_local_db(
        &mut self,
        now: Instant,
        id: AttemptId,
        sample: Option<LocalDbSample>,
    ) {
        if self.fresh_local_db(now, id, sample) {
            return;
        }
        let Some(a) = self.paths[PathId::LocalDb.index()]
            .attempt
            .filter(|a| a.id == id)
        else {
            return;
        };
        // A primary whose DB is in recovery is not serving (the start guard brought it
        // up read-only after an unordered start): unhealthy, so rule `local-db-restart-once` restarts it, and
        // the daemon lifts the guard before a restart it orders on a primary.
        let read_only_primary = self.role == Role::Primary && sample.is_some_and(|s| s.in_recovery);
        let healthy = sample.is_some_and(|s| s.healthy()) && !read_only_primary;
        let rtt = now.saturating_duration_since(a.started);
        let accepted = self.attempt_result(now, PathId::LocalDb, id, healthy.then_some(rtt));
        if accepted.is_none() {
            return;
        }
        if sample.is_some() {
            self.local = sample;
        }
        self.local_healthy = healthy;
        if self.promoted_by_hand() {
            self.alarm_once(Reason::LocalDbPromotedByHand);
        }
        let back_read_only = read_only_primary && sample.is_some_and(|s| s.healthy());
        if back_read_only && self.paused_primary_read_only(now) {
            return;
        }
        self.local_db_sampled(now, healthy);
        if self.role == Role::Primary {
            self.sync_sampled(now, a.started);
        }
    }

    fn local_db_sampled(&mut self, now: Instant, healthy: bool) {
        if healthy && self.db_stopped && !matches!(self.role, Role::Fencing | Role::Fenced) {
            // Someone started it again after rule `local-db-restart-once` stopped it.
            self.db_stopped = false;
        }
        let Some(inc) = self.incident.as_mut() else {
            return;
        };
        if !healthy {
            inc.healthy_since = None;
            return;
        }
        let since = *inc.healthy_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.cfg.restart_grace {
            // Healthy for a whole grace: the incident is over.
            self.incident = None;
            self.clear_timer(EngineTimer::RestartGrace);
            if self.role == Role::Primary {
                self.evaluate_primary(now);
            }
        }
    }

    /// Rule `local-db-restart-once`: the postmaster exited. No answer can be awaited
    /// from a process that is gone, so the path is down at once and the restart
    /// follows without `retries` checks: PostgreSQL's own crash restart is off
    /// (`restart_after_crash = off`), since it would read the start guard's
    /// `standby.signal` and leave a primary read-only; the daemon's restart of a
    /// primary lifts the guard for that one start (rule `start-guard`). An exit the
    /// engine ordered (a fence, a stop by this rule) or one inside an incident is not
    /// news.
    pub(super) fn on_postmaster_exited(&mut self, now: Instant) {
        if matches!(self.role, Role::Fencing | Role::Fenced | Role::Demoting) || self.db_stopped {
            return;
        }
        let retries = self.cfg.local_db.retries;
        let slot = &mut self.paths[PathId::LocalDb.index()];
        if slot.status.health == PathHealth::Down || self.incident.is_some() {
            return;
        }
        slot.status.health = PathHealth::Down;
        slot.status.consecutive_failures = retries;
        slot.status.down_since = Some(now);
        self.log(Event::PathDown(PathId::LocalDb));
        self.local_db_changed(now);
    }

    /// The local DB path changed health.
    pub(super) fn local_db_changed(&mut self, now: Instant) {
        if self.paths[PathId::LocalDb.index()].status.health != PathHealth::Down {
            return;
        }
        self.local_healthy = false;
        if self.held_back(now, Reason::LocalDbUnhealthy) {
            return;
        }
        if let Some(cause) = self
            .committed_to_fence()
            .filter(|_| self.role == Role::Primary)
        {
            // Committed over the DB path: the standby may be armed, and takes over
            // once this DB is gone; restarting it would make two (rule
            // `fence-handshake`).
            self.begin_fence(now, cause);
            return;
        }
        match self.incident {
            None => {
                self.incident = Some(Incident {
                    restarts: 1,
                    unrecoverable: false,
                    healthy_since: None,
                });
                self.decide(now, DecisionKind::RestartDb, Reason::LocalDbUnhealthy);
                self.push_bounded(now, Bounded::RestartDb);
                // The grace counts from the end of the restart (`on_db_restarted`): an
                // escalated restart of a hung server may take most of its window. Until
                // then, the window itself bounds the wait for its answer.
                let window = self.cfg.restart_window();
                self.set_timer(
                    EngineTimer::RestartGrace,
                    now + window + self.cfg.restart_grace,
                );
            }
            // Down again within the same incident and the grace already judged it
            // healthy once: no second restart, it is unrecoverable now.
            Some(_) if self.timer(EngineTimer::RestartGrace).is_none() => {
                self.on_restart_grace(now)
            }
            Some(_) => {}
        }
    }

    /// The restart finished (well or not): the grace starts now, and the local DB is
    /// checked at once rather than at the next interval.
    pub(super) fn on_db_restarted(&mut self, now: Instant) {
        if self.step == Step::ReopenDb {
            // A withdrawn switchover's restart (rule `planned-switchover`).
            self.on_reopen_db_restarted();
            return;
        }
        // Only the incident's one restart: the back-off restarts of a master nobody can
        // take over from keep their own pace.
        let first = self
            .incident
            .is_some_and(|i| i.restarts == 1 && !i.unrecoverable);
        if !first || self.timer(EngineTimer::RestartGrace).is_none() {
            return;
        }
        self.set_timer(EngineTimer::RestartGrace, now + self.cfg.restart_grace);
        if self.path_active(PathId::LocalDb) {
            self.paths[PathId::LocalDb.index()].attempt = None;
            self.start_attempt(now, PathId::LocalDb);
        }
    }

    /// End of a restart grace: still unhealthy means unrecoverable.
    pub(super) fn on_restart_grace(&mut self, now: Instant) {
        if self.local_healthy || self.held_back(now, Reason::OwnDbUnrecoverable) {
            return;
        }
        let Some(inc) = self.incident.as_mut() else {
            return;
        };
        inc.unrecoverable = true;
        match self.role {
            Role::Primary => {
                self.evaluate_primary(now);
                // Still primary: nobody can take over, keep restarting with back-off
                // (not while the standby is asked to take over: its answer decides,
                // rule `fence-handshake`, and the next grace looks again).
                if self.role == Role::Primary {
                    let asking = self.takeover_question_open();
                    if let Some(inc) = self.incident.as_mut() {
                        inc.restarts = inc.restarts.saturating_add(1);
                        let shift = inc.restarts.saturating_sub(1).min(3);
                        let backoff = self.cfg.restart_grace.saturating_mul(1 << shift);
                        if !asking {
                            self.push_bounded(now, Bounded::RestartDb);
                        }
                        self.set_timer(
                            EngineTimer::RestartGrace,
                            now + backoff.min(Duration::from_secs(3600)),
                        );
                    }
                }
            }
            Role::Standby | Role::Hold => {
                self.decide(now, DecisionKind::StopDb, Reason::OwnDbUnrecoverable);
                self.alarm_once(Reason::LocalDbStopped);
                self.db_stopped = true;
                self.push_bounded(now, Bounded::StopDb);
            }
            Role::Promoting | Role::Fencing | Role::Fenced | Role::Demoting => {}
        }
    }
}
