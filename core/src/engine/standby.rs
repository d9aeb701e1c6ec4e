//! The standby's rules `partial-loss-only-warns`, `all-paths-down-together`,
//! `fresh-checks`, `fenced-peer-hands-over` and `startup-grace`: when to promote, the
//! fresh checks, and the first step of rule `promotion-order`.

use super::switchover::stopped_for_switchover;
use super::{Engine, EngineTimer, Step};
use crate::config::{ReplicationMode, SWITCHOVER_REPLAY_POLL};
use crate::io::{Action, DecisionKind, Event, Reason};
use crate::time::Instant;
use crate::types::{
    AttemptId, LocalDbSample, PathHealth, PathId, PeerState, PersistedRole, PersistedState,
    ProbeOutcome, Role,
};

/// What a round of fresh checks is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FreshPurpose {
    /// A promotion, wanted for this reason (rule `fresh-checks`).
    Promote(Reason),
    /// The master's "take over at `lsn`?" (rule `fence-handshake`): the same checks
    /// but the ARP probe (the master holds the VIP while it asks), and the lag
    /// measured against the position asked.
    Takeover {
        /// The master's WAL position in the question.
        lsn: u64,
    },
    /// The master stopped for a switchover at this final LSN (rule
    /// `planned-switchover`): the same checks but the ARP probe (the master released
    /// the VIP before it stopped), and the replay position must be past it.
    Switchover {
        /// The master's final LSN.
        lsn: u64,
    },
}

/// Fresh checks in flight (rule `fresh-checks`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Fresh {
    purpose: FreshPurpose,
    db_id: AttemptId,
    /// `Some(None)`: the check answered with an error.
    db: Option<Option<LocalDbSample>>,
    gw_id: AttemptId,
    gw: Option<bool>,
    arp_id: AttemptId,
    arp_answered: Option<bool>,
}

impl Engine {
    /// Rule `partial-loss-only-warns` logging and rule `all-paths-down-together`
    /// arming, then a promotion check.
    pub(super) fn peer_paths_changed(&mut self, now: Instant) {
        if self.role != Role::Standby {
            return;
        }
        let down = PathId::PEER
            .iter()
            .filter(|p| self.effective_path(**p).health == PathHealth::Down)
            .count();
        let down = u8::try_from(down).unwrap_or(u8::MAX);
        if down != self.degraded_logged {
            self.degraded_logged = down;
            if down > 0 && down < 3 {
                self.log(Event::Degraded { paths_down: down });
            }
        }
        if down == 0 && self.disarm_alarmed {
            self.disarm_alarmed = false;
            self.log(Event::Rearmed);
        }
        self.evaluate_standby(now);
    }

    /// Why the standby would promote now (`Ok(Some)`), why not (`Ok(None)`: nothing to
    /// do), or the reason a wanted promotion is refused before any fresh check.
    fn promotion_trigger(&self, now: Instant) -> Result<Option<Reason>, Reason> {
        if self.peer.is_some_and(|v| v.state.fenced) {
            return Ok(Some(Reason::PeerFenced)); // rule `fenced-peer-hands-over`
        }
        if self.armed_and_master_db_gone() {
            return Ok(Some(Reason::PeerFencing)); // rule `fence-handshake`
        }
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        for p in PathId::PEER {
            let st = self.effective_path(p);
            let Some(since) = st.down_since.filter(|_| st.health == PathHealth::Down) else {
                return Ok(None); // rule `partial-loss-only-warns`: some path still up
            };
            first = Some(first.map_or(since, |f| f.min(since)));
            last = Some(last.map_or(since, |l| l.max(since)));
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(None);
        };
        if self.frame_block_until(now).is_some() {
            return Ok(None);
        }
        if last.saturating_duration_since(first) <= self.failure_window {
            Ok(Some(Reason::AllPathsDownTogether))
        } else if self.cfg.promote_when_degraded {
            Ok(Some(Reason::AllPathsDownDegraded))
        } else {
            Err(Reason::DegradedPair)
        }
    }

    /// A frame from an unfenced peer within the last `serial.retries × serial.timeout`
    /// proves its daemon alive whatever the paths say (pings can get through while our
    /// acks are lost). Until when that proof holds.
    fn frame_block_until(&self, now: Instant) -> Option<Instant> {
        let v = self.peer.filter(|v| !v.state.fenced)?;
        let until = v.heard_at + self.cfg.serial.detection_time();
        (now < until).then_some(until)
    }

    pub(super) fn all_peer_paths_down(&self) -> bool {
        PathId::PEER
            .iter()
            .all(|p| self.effective_path(*p).health == PathHealth::Down)
    }

    fn startup_grace_pending(&self, now: Instant) -> bool {
        !self.heard_peer && now < self.started_at + self.cfg.startup_grace
    }

    /// Rules `all-paths-down-together`, `fresh-checks`, `fenced-peer-hands-over` and
    /// `startup-grace`: decide whether to start the fresh checks.
    pub(super) fn evaluate_standby(&mut self, now: Instant) {
        if self.role != Role::Standby || self.fresh.is_some() {
            return;
        }
        if let Some(lsn) = self.switchover_offer(now) {
            // Rule `planned-switchover`: the master stopped and waits for this node.
            if self.timer(EngineTimer::FreshRetry).is_none() {
                self.start_fresh(now, FreshPurpose::Switchover { lsn });
            }
            return;
        }
        if self.all_peer_paths_down() {
            if let Some(until) = self.frame_block_until(now) {
                // Look again once the last frame is too old to prove anything.
                self.decide_once(now, DecisionKind::NoPromotion, Reason::PeerHeard);
                if self
                    .timer(EngineTimer::FreshRetry)
                    .is_none_or(|t| t > until)
                {
                    self.set_timer(EngineTimer::FreshRetry, until);
                }
                return;
            }
        }
        let trigger = match self.promotion_trigger(now) {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(_) if self.paused() => return,
            Err(reason) => {
                if !self.disarm_alarmed {
                    self.disarm_alarmed = true;
                    self.log(Event::Disarmed(reason));
                    self.alarm_once(reason);
                }
                self.decide_once(now, DecisionKind::NoPromotion, reason);
                return;
            }
        };
        let lost_paths = matches!(
            trigger,
            Reason::AllPathsDownTogether | Reason::AllPathsDownDegraded
        );
        if lost_paths && self.held_back(now, trigger) {
            return;
        }
        if self.startup_grace_pending(now) {
            self.decide_once(now, DecisionKind::NoPromotion, Reason::StartupGrace);
            return;
        }
        if self.db_stopped {
            self.alarm_once(Reason::LocalDbStopped);
            self.decide_once(now, DecisionKind::NoPromotion, Reason::LocalDbStopped);
            return;
        }
        if self.timer(EngineTimer::FreshRetry).is_some() {
            return;
        }
        self.start_fresh(now, FreshPurpose::Promote(trigger));
    }

    pub(super) fn start_fresh(&mut self, now: Instant, purpose: FreshPurpose) {
        let db_id = self.new_id();
        let gw_id = self.new_id();
        let arp_id = self.new_id();
        for (path, attempt) in [(PathId::LocalDb, db_id), (PathId::Gateway, gw_id)] {
            self.push(Action::Probe {
                path,
                attempt,
                deadline: now + self.cfg.path(path).timeout,
                fresh: true,
            });
        }
        let promote = matches!(purpose, FreshPurpose::Promote(_));
        if promote {
            self.push(Action::VipArpProbe {
                attempt: arp_id,
                deadline: now + self.cfg.arp_probe_timeout,
            });
        }
        self.fresh = Some(Fresh {
            purpose,
            db_id,
            db: None,
            gw_id,
            gw: None,
            arp_id,
            // A takeover check has no ARP probe: taken as unanswered.
            arp_answered: (!promote).then_some(false),
        });
        self.set_timer(EngineTimer::Fresh, now + self.cfg.fresh_check_window());
    }

    /// Takes a gateway result if it answers the fresh check; true when consumed.
    pub(super) fn fresh_gateway(
        &mut self,
        now: Instant,
        id: AttemptId,
        outcome: ProbeOutcome,
    ) -> bool {
        let Some(f) = self
            .fresh
            .as_mut()
            .filter(|f| f.gw_id == id && f.gw.is_none())
        else {
            return false;
        };
        f.gw = Some(matches!(outcome, ProbeOutcome::Ok { .. }));
        self.maybe_conclude_fresh(now);
        true
    }

    /// Takes a local DB result if it answers the fresh check; true when consumed.
    pub(super) fn fresh_local_db(
        &mut self,
        now: Instant,
        id: AttemptId,
        sample: Option<LocalDbSample>,
    ) -> bool {
        let Some(f) = self
            .fresh
            .as_mut()
            .filter(|f| f.db_id == id && f.db.is_none())
        else {
            return false;
        };
        f.db = Some(sample);
        if sample.is_some() {
            self.local = sample;
        }
        self.maybe_conclude_fresh(now);
        true
    }

    pub(super) fn on_arp(&mut self, now: Instant, id: AttemptId, answered: bool) {
        if let Some(f) = self
            .fresh
            .as_mut()
            .filter(|f| f.arp_id == id && f.arp_answered.is_none())
        {
            f.arp_answered = Some(answered);
            self.maybe_conclude_fresh(now);
        }
    }

    fn maybe_conclude_fresh(&mut self, now: Instant) {
        if self
            .fresh
            .is_some_and(|f| f.db.is_some() && f.gw.is_some() && f.arp_answered.is_some())
        {
            self.conclude_fresh(now);
        }
    }

    /// The furthest WAL position the master was last known at (rule `fresh-checks`):
    /// its last frame's, or a later reading of its writable PostgreSQL over the remote
    /// DB path (read every `remote_db.interval`, far more often than frames arrive).
    fn last_known_primary_lsn(&self) -> Option<u64> {
        let framed = self.peer.map(|v| v.state.wal_lsn);
        let read = self
            .peer_db
            .filter(|(r, _)| !r.in_recovery && r.wal_lsn != 0)
            .map(|(r, _)| r.wal_lsn);
        framed.max(read)
    }

    /// The verdict of rule `fresh-checks` (missing answers count as failures).
    fn fresh_verdict(&self, now: Instant, f: &Fresh) -> Result<(), Reason> {
        let sample =
            f.db.ok_or(Reason::FreshCheckTimeout)?
                .ok_or(Reason::LocalDbUnhealthy)?;
        if !sample.healthy() {
            return Err(Reason::LocalDbUnhealthy);
        }
        if !sample.in_recovery {
            return Err(Reason::LocalDbNotInRecovery);
        }
        if !f.gw.ok_or(Reason::FreshCheckTimeout)? {
            return Err(Reason::GatewayDown);
        }
        let primary_lsn = match f.purpose {
            // Rule `sync-epoch`: with a synchronous claim every acknowledged commit is
            // in this node's WAL, whatever the lag; without one `strict` never
            // promotes by itself.
            FreshPurpose::Promote(trigger) if self.sync_covers(now, trigger) => None,
            FreshPurpose::Promote(_) if self.cfg.replication == ReplicationMode::Strict => {
                return Err(Reason::NoSyncClaim);
            }
            FreshPurpose::Promote(_) => self.last_known_primary_lsn(),
            // A handover is a promotion too: `strict` answers "ready" only with a claim.
            FreshPurpose::Takeover { .. }
                if self.cfg.replication == ReplicationMode::Strict && !self.sync_claim(now) =>
            {
                return Err(Reason::NoSyncClaim);
            }
            FreshPurpose::Takeover { lsn } => Some(lsn),
            FreshPurpose::Switchover { lsn } => {
                // Replayed past the shutdown checkpoint: nothing the master wrote is
                // missing (rule `planned-switchover`).
                if sample.replay_lsn <= lsn {
                    return Err(Reason::ReplayBehind {
                        behind: lsn.saturating_add(1).saturating_sub(sample.replay_lsn),
                    });
                }
                None
            }
        };
        if let Some(primary_lsn) = primary_lsn {
            let lag = primary_lsn.saturating_sub(sample.wal_lsn);
            if lag > self.cfg.max_lag_on_failover {
                return Err(Reason::LagTooHigh { lag });
            }
        }
        if f.arp_answered.ok_or(Reason::FreshCheckTimeout)? {
            return Err(Reason::VipAnswered);
        }
        Ok(())
    }

    pub(super) fn conclude_fresh(&mut self, now: Instant) {
        let Some(f) = self.fresh.take() else { return };
        self.clear_timer(EngineTimer::Fresh);
        if self.role != Role::Standby {
            return;
        }
        let trigger = match f.purpose {
            FreshPurpose::Promote(trigger) => trigger,
            FreshPurpose::Takeover { lsn } => {
                let verdict = self.fresh_verdict(now, &f);
                if verdict.is_ok() && self.sync_claim(now) {
                    // Rule `sync-epoch`: the master fences on this "ready" and
                    // acknowledges nothing after its stop: the claim holds for the
                    // promotion its fenced frames bring, however long that takes.
                    self.sync_ready_term = Some(self.term);
                }
                self.answer_takeover(lsn, verdict);
                // A promotion check may have waited for this one.
                self.evaluate_standby(now);
                return;
            }
            FreshPurpose::Switchover { lsn } => {
                return self.conclude_switchover_check(now, &f, lsn)
            }
        };
        match self.fresh_verdict(now, &f) {
            Err(reason) => {
                self.alarm_once(reason);
                self.decide_once(now, DecisionKind::NoPromotion, reason);
                // Re-evaluated continuously, at the gateway's pace.
                self.set_timer(EngineTimer::FreshRetry, now + self.cfg.gateway.interval);
            }
            Ok(()) => {
                // The world may have changed while the checks ran.
                if self.promotion_trigger(now) == Ok(Some(trigger))
                    && !self.startup_grace_pending(now)
                {
                    self.begin_promotion(now, trigger);
                } else {
                    self.evaluate_standby(now);
                }
            }
        }
    }

    /// Rule `planned-switchover`: the standby's checks against the master's final LSN.
    /// Past it, and the master still offers it: promote. Not yet replayed: sample
    /// again after [`SWITCHOVER_REPLAY_POLL`]. Anything else: say why, and look again
    /// at the gateway's pace while the master waits (it withdraws after
    /// `switchover_timeout`).
    fn conclude_switchover_check(&mut self, now: Instant, f: &Fresh, lsn: u64) {
        match self.fresh_verdict(now, f) {
            Ok(()) if self.switchover_offer(now) == Some(lsn) => {
                self.begin_promotion(now, Reason::Switchover);
            }
            Ok(()) => self.evaluate_standby(now),
            Err(Reason::ReplayBehind { .. }) => {
                self.set_timer(EngineTimer::FreshRetry, now + SWITCHOVER_REPLAY_POLL);
            }
            Err(reason) => {
                self.alarm_once(reason);
                self.decide_once(now, DecisionKind::NoPromotion, reason);
                self.set_timer(EngineTimer::FreshRetry, now + self.cfg.gateway.interval);
            }
        }
    }

    /// Rule `promotion-order`, first step: persist "promoting to term t+1".
    fn begin_promotion(&mut self, now: Instant, trigger: Reason) {
        let target = self.term.max(self.peer_max_term).saturating_add(1);
        self.term = target;
        self.decide(now, DecisionKind::Promote, trigger);
        self.set_step(Step::PersistPromoting);
        self.set_role(now, Role::Promoting);
        self.push(Action::Persist(PersistedState {
            role: PersistedRole::Promoting,
            term: target,
        }));
    }

    /// Back to standby after a refused or failed promotion step (or a guarded primary's
    /// failed re-open, rule `start-guard`).
    pub(super) fn abort_promotion(&mut self, now: Instant, reason: Reason) {
        self.alarm_once(reason);
        self.decide(now, DecisionKind::Standby, reason);
        self.set_step(Step::Idle);
        self.guarded_primary = false;
        self.reopening = false;
        self.promote_sent = false;
        self.set_role(now, Role::Standby);
        self.set_timer(EngineTimer::FreshRetry, now + self.cfg.gateway.interval);
    }

    /// The peer's PostgreSQL answered on the remote DB path (an accepted success, rule
    /// `attempt-window`). Before `pg_promote` this aborts a promotion like a frame does
    /// (`promoting_heard`): a database that answers is alive, and may be a primary.
    /// As there, a peer that said fenced does not abort: it confirmed its DB stopped
    /// before saying so, and a start after that comes up read-only under its start
    /// guard. The "promoting" term stays persisted and is never reused (rule
    /// `promotion-order`). An ICMP answer does not abort: it says the host is up, not
    /// what its PostgreSQL is.
    pub(super) fn promoting_db_answered(&mut self, now: Instant) {
        let peer_fenced = self.peer.is_some_and(|v| v.state.fenced);
        if self.role == Role::Promoting && self.step == Step::PersistPromoting && !peer_fenced {
            self.abort_promotion(now, Reason::PeerDbAnswered);
        }
    }

    /// A frame while promoting: before `pg_promote` any live, unfenced peer aborts the
    /// promotion; afterwards only rule `higher-term-wins` can stop it.
    pub(super) fn promoting_heard(&mut self, now: Instant, peer: PeerState) {
        if self.step == Step::PersistPromoting {
            if !peer.fenced && !stopped_for_switchover(&peer) {
                self.abort_promotion(now, Reason::PeerHeard);
            }
        } else if self.peer_wins(&peer) {
            self.begin_fence(now, Reason::PeerWins);
        }
    }
}
