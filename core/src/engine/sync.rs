//! Rule `sync-epoch`: synchronous replication that loses no acknowledged commit and
//! never leaves commits waiting on a dead peer.
//!
//! In `sync` and `strict` mode the primary owns `synchronous_standby_names`
//! (`Action::SetSyncStandby`) and announces an epoch in every frame: whether its
//! PostgreSQL waits for the standby on every commit, and from which WAL position. It
//! announces "synchronous" only once its PostgreSQL says the standby is (`sync_state`),
//! and it stops waiting for the standby (clears the names) only after announcing an
//! asynchronous epoch that the standby acknowledged, or that nobody can still hold a
//! claim against: [`Config::sync_degrade_wait`] after it last built an ack that could
//! renew one. The standby acknowledges in its frames (they echo the epoch) and, for the
//! serial cable's outages, over the remote DB path: each node publishes in its own
//! PostgreSQL what the other's probe reads there (the primary its epoch, the standby
//! its acknowledgement of an asynchronous one it read). A standby's claim to be
//! synchronous is the last epoch it heard from its primary, good for
//! `peer_state_max_age`: with a claim it promotes without
//! the `max_lag_on_failover` check (everything acknowledged is in its WAL); without
//! one, `strict` never promotes by itself and `sync` is held to the lag check.
//!
//! `sync` stops announcing "synchronous" at the first sign of trouble (an IP path to the
//! standby down, or its WAL sender not streaming), degrades once the standby is gone
//! (both IP paths down, or not streaming for [`Config::sync_away_bound`]) and names it
//! again once it streams; `strict` never degrades.

use super::{Engine, EngineTimer, Step};
use crate::config::{ReplicationMode, SYNC_RETRY, SYNC_WINDOW};
use crate::io::{Action, Reason, Severity};
use crate::time::Instant;
use crate::types::{
    PathHealth, PathId, PeerDbReading, PeerState, PublishedEpoch, Role, StandbyReading, SyncEpoch,
};

/// The primary's side of rule `sync-epoch`.
#[derive(Clone, Copy, Debug)]
pub(super) struct SyncPrimary {
    /// What every frame announces.
    pub(super) announced: SyncEpoch,
    /// When this node last built an ack carrying a synchronous epoch (or became
    /// primary): a claim is only ever renewed by such an ack, as of a ping sent before
    /// it, so none outlives this by more than `sync_degrade_wait`.
    pub(super) renewed_at: Instant,
    /// The standby acknowledged the announced (asynchronous) epoch: its frames echoed
    /// it, or it published its acknowledgement where the remote DB path reads it.
    pub(super) acked: bool,
    /// What the last local sample begun after the last confirmed `SetSyncStandby` said
    /// of the standby: an older one may show names already changed.
    pub(super) standby: Option<StandbyReading>,
    /// Whether `synchronous_standby_names` names the standby: the last `SetSyncStandby`
    /// confirmed, or the sample's word after it.
    pub(super) named: Option<bool>,
    /// When the last `SetSyncStandby` was confirmed.
    pub(super) set_at: Option<Instant>,
    /// `Action::SetSyncStandby` is out, for this value.
    pub(super) in_flight: Option<bool>,
    /// The standby's WAL sender has not been streaming since.
    pub(super) away_since: Option<Instant>,
    /// When the primary last stopped waiting for its standby (status).
    pub(super) last_degraded: Option<Instant>,
    /// The standby-away alarm was raised (once per absence).
    pub(super) away_alarmed: bool,
}

impl SyncPrimary {
    /// At start: asynchronous since the engine started, nothing known of the names.
    pub(super) fn new(now: Instant) -> Self {
        SyncPrimary {
            announced: SyncEpoch {
                synchronous: false,
                since_lsn: 0,
            },
            renewed_at: now,
            acked: false,
            standby: None,
            named: None,
            set_at: None,
            in_flight: None,
            away_since: None,
            last_degraded: None,
            away_alarmed: false,
        }
    }
}

/// What the status page shows of rule `sync-epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    /// The configured mode.
    pub mode: ReplicationMode,
    /// On a primary: the epoch it announces. On a standby: the last one heard.
    pub epoch: Option<SyncEpoch>,
    /// On a standby: it holds an unexpired synchronous claim now.
    pub claim: bool,
    /// On a primary: `synchronous_standby_names` names the standby.
    pub named: Option<bool>,
    /// When the primary last stopped waiting for its standby.
    pub last_degraded: Option<Instant>,
    /// On a primary: its standby is gone (both IP paths down, or not streaming for
    /// `Config::sync_away_bound`) and has not been synchronous since.
    pub standby_away: bool,
}

impl Engine {
    /// The epoch this node's frames carry: a primary's announcement, a standby's
    /// acknowledgement; nothing in `async` mode.
    pub(super) fn sync_epoch_to_send(&self) -> Option<SyncEpoch> {
        if !self.cfg.replication.managed() {
            return None;
        }
        match self.role {
            Role::Primary => Some(self.sync.announced),
            Role::Standby => self.sync_heard.map(|(e, _)| e),
            _ => None,
        }
    }

    /// Whether this standby holds an unexpired synchronous claim: the last epoch its
    /// primary announced said synchronous, and it is at most `peer_state_max_age` old.
    pub(super) fn sync_claim(&self, now: Instant) -> bool {
        self.sync_heard.is_some_and(|(e, at)| {
            e.synchronous && now.saturating_duration_since(at) <= self.cfg.peer_state_max_age
        })
    }

    /// Rule `sync-epoch`: whether every commit the master acknowledged is in this
    /// node's WAL, so a promotion for `trigger` needs no lag check: it holds a claim,
    /// or it answered "ready" with one to the handover that fenced the master (rule
    /// `fence-handshake`), which acknowledges nothing after its stop.
    pub(super) fn sync_covers(&self, now: Instant, trigger: Reason) -> bool {
        let handed_over = matches!(trigger, Reason::PeerFenced | Reason::PeerFencing)
            && self.sync_ready_term == Some(self.term);
        self.cfg.replication.managed() && (self.sync_claim(now) || handed_over)
    }

    /// An ack this primary built (`state`, for a ping received at `now`): one carrying
    /// a synchronous epoch may renew the standby's claim.
    pub(super) fn sync_ack_built(&mut self, now: Instant, state: &PeerState) {
        if self.role == Role::Primary && state.sync_epoch.is_some_and(|e| e.synchronous) {
            self.sync.renewed_at = now;
        }
    }

    /// What the remote DB path read of rule `sync-epoch`. A standby takes an
    /// asynchronous epoch its primary published in this term (it ends the claim, and
    /// the standby acknowledges it there in turn); a synchronous one renews nothing,
    /// because nothing bounds how long ago it was written. A primary takes the
    /// standby's acknowledgement of the epoch it announces, from this run.
    pub(super) fn sync_read_peer_db(&mut self, now: Instant, reading: &PeerDbReading) {
        if !self.cfg.replication.managed() {
            return;
        }
        match self.role {
            Role::Standby if !reading.in_recovery => {
                let Some(p) = reading
                    .sync_epoch
                    .filter(|p| p.term == self.term && !p.epoch.synchronous)
                else {
                    return;
                };
                self.standby_heard_epoch(now, Some(p.epoch), None);
                // Acknowledged only once held: a stale one (overtaken) is not.
                if self.sync_heard.is_some_and(|(e, _)| e == p.epoch)
                    && self.sync_ack_published != Some(p)
                {
                    self.sync_ack_published = Some(p);
                    self.push(Action::PublishSyncAck(p));
                }
            }
            Role::Primary if reading.in_recovery => {
                let mine = PublishedEpoch {
                    term: self.term,
                    run: self.run_id,
                    epoch: self.sync.announced,
                };
                if !mine.epoch.synchronous && reading.sync_ack == Some(mine) && !self.sync.acked {
                    self.sync.acked = true;
                    self.evaluate_sync(now);
                }
            }
            _ => {}
        }
    }

    /// A frame from the peer: a standby takes the epoch of its primary (of its term); a
    /// primary notes the acknowledgement of its asynchronous epoch. `sent`: the frame
    /// is the ack to this node's ping sent then.
    pub(super) fn sync_heard_frame(
        &mut self,
        now: Instant,
        peer: &PeerState,
        sent: Option<Instant>,
    ) {
        if !self.cfg.replication.managed() {
            return;
        }
        match self.role {
            Role::Standby if peer.role == Role::Primary && peer.term == self.term => {
                self.standby_heard_epoch(now, peer.sync_epoch, sent);
            }
            Role::Primary if peer.role == Role::Standby && peer.term == self.term => {
                if !self.sync.announced.synchronous && peer.sync_epoch == Some(self.sync.announced)
                {
                    self.sync.acked = true;
                }
                self.evaluate_sync(now);
            }
            _ => {}
        }
    }

    /// The standby's claim. An asynchronous epoch (or none: the primary runs `async`)
    /// ends it at once. A synchronous one renews it only in an ack to this node's own
    /// ping, and as of when that ping was sent: the primary built the ack after that,
    /// so no claim outlives the primary's last synchronous announcement by more than
    /// `peer_state_max_age`, however late the frame. An epoch older than the one held
    /// (a smaller `since_lsn`: a frame overtaken by a later one) is stale.
    fn standby_heard_epoch(
        &mut self,
        now: Instant,
        epoch: Option<SyncEpoch>,
        sent: Option<Instant>,
    ) {
        let Some(e) = epoch else {
            self.sync_heard = None;
            return;
        };
        if self
            .sync_heard
            .is_some_and(|(held, _)| e.since_lsn < held.since_lsn)
        {
            return;
        }
        match (e.synchronous, sent) {
            (false, _) => self.sync_heard = Some((e, now)),
            (true, Some(sent)) => self.sync_heard = Some((e, sent)),
            (true, None) => {}
        }
    }

    /// Rule `sync-epoch` on the primary: converge the names and the announcement on
    /// what the mode wants for the standby as it is now.
    pub(super) fn evaluate_sync(&mut self, now: Instant) {
        if self.step == Step::NameStandby && self.role == Role::Hold {
            // A retry of the names a resume waits for.
            self.set_sync_standby(now, true);
            return;
        }
        let mode = self.cfg.replication;
        if !mode.managed() || self.role != Role::Primary {
            return;
        }
        let Some(sample) = self.local.filter(|l| l.healthy() && !l.in_recovery) else {
            return;
        };
        let Some(standby) = self.sync.standby else {
            return;
        };
        // Replication runs over IP: the standby is suspect when a path that sees its host
        // or its PostgreSQL over IP is down or its WAL sender does not stream, and gone
        // when both are down or it has not streamed for `sync_away_bound`. The serial
        // cable carries no WAL: serial alone decides nothing here.
        let ip_down = [PathId::Icmp, PathId::RemoteDb]
            .map(|p| self.effective_path(p).health == PathHealth::Down);
        let away = self
            .sync
            .away_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.sync_away_bound());
        let suspect = ip_down.contains(&true) || !standby.streaming;
        let gone = away || !ip_down.contains(&false);
        let named = self.sync.named.unwrap_or(standby.named);
        if mode == ReplicationMode::Strict {
            if gone && !self.sync.away_alarmed {
                self.sync.away_alarmed = true;
                self.alarm(Severity::Critical, Reason::SyncStandbyAway);
            }
            if !named {
                self.set_sync_standby(now, true);
            } else if standby.synchronous && !self.sync.announced.synchronous {
                self.announce_sync(sample.wal_lsn, true);
            }
            return;
        }
        if gone && !self.sync.away_alarmed {
            self.sync.away_alarmed = true;
            self.alarm(Severity::Warning, Reason::SyncStandbyAway);
        }
        if self.sync.announced.synchronous {
            if suspect {
                // Stop renewing claims at the first sign, so the wait for the last one
                // to expire starts early; the names go only once the standby is gone.
                self.announce_sync(sample.wal_lsn, false);
                self.evaluate_sync(now);
            }
            return;
        }
        if named {
            if standby.synchronous && !suspect {
                self.announce_sync(sample.wal_lsn, true);
            } else if gone {
                let safe_at = self.sync.renewed_at + self.cfg.sync_degrade_wait();
                if self.sync.acked || now >= safe_at {
                    self.set_sync_standby(now, false);
                } else {
                    self.set_timer(EngineTimer::SyncDegrade, safe_at);
                }
            }
        } else if standby.streaming && !suspect {
            // Caught up and following: wait for it on every commit again.
            self.set_sync_standby(now, true);
        }
    }

    /// A new epoch, its `since_lsn` past every earlier one's.
    fn announce_sync(&mut self, wal_lsn: u64, synchronous: bool) {
        let since_lsn = wal_lsn.max(self.sync.announced.since_lsn.saturating_add(1));
        self.sync.announced = SyncEpoch {
            synchronous,
            since_lsn,
        };
        self.sync.acked = false;
        self.push(Action::PublishSyncEpoch(PublishedEpoch {
            term: self.term,
            run: self.run_id,
            epoch: self.sync.announced,
        }));
        if synchronous {
            self.sync.away_alarmed = false;
            self.clear_timer(EngineTimer::SyncDegrade);
        }
    }

    pub(super) fn set_sync_standby(&mut self, now: Instant, synchronous: bool) {
        if self.sync.in_flight.is_some() || self.timer(EngineTimer::SyncRetry).is_some() {
            return;
        }
        self.sync.in_flight = Some(synchronous);
        self.push(Action::SetSyncStandby {
            synchronous,
            deadline: now + SYNC_WINDOW,
        });
    }

    /// The answer to `Action::SetSyncStandby`.
    pub(super) fn on_sync_standby_set(&mut self, now: Instant, synchronous: bool, ok: bool) {
        if self.sync.in_flight != Some(synchronous) {
            return;
        }
        self.sync.in_flight = None;
        if !ok {
            self.alarm(Severity::Warning, Reason::SyncStandbyNotSet);
            self.set_timer(EngineTimer::SyncRetry, now + SYNC_RETRY);
            return;
        }
        self.sync.named = Some(synchronous);
        self.sync.standby = None;
        self.sync.set_at = Some(now);
        if self.step == Step::NameStandby && synchronous {
            self.resume_serving(now);
            return;
        }
        if !synchronous {
            self.sync.last_degraded = Some(now);
            self.alarm(Severity::Warning, Reason::SyncDegraded);
        }
        self.evaluate_sync(now);
    }

    /// A local sample on a primary, begun at `started`: the names as PostgreSQL has
    /// them, and whether the standby streams. A sample begun before the last change of
    /// the names, or while one is out, may show the old ones: not used.
    pub(super) fn sync_sampled(&mut self, now: Instant, started: Instant) {
        let Some(sample) = self.local.filter(|l| l.healthy() && !l.in_recovery) else {
            return;
        };
        if self.sync.in_flight.is_some() || self.sync.set_at.is_some_and(|t| started < t) {
            return;
        }
        self.sync.standby = Some(sample.standby);
        self.sync.named = Some(sample.standby.named);
        if sample.standby.streaming {
            self.sync.away_since = None;
        } else {
            self.sync.away_since.get_or_insert(now);
        }
        self.evaluate_sync(now);
    }

    /// What `Action::Promote` does to the names after `pg_promote`: clear them in `sync`
    /// (the old primary is gone; they return once it streams as standby), name the peer
    /// in `strict` (commits wait until it rejoins). A primary re-opening in its own
    /// term names it in `strict` too, and in `sync` leaves them as they were: its
    /// standby may still hold a claim.
    pub(super) fn sync_on_promotion(&self) -> Option<bool> {
        match self.cfg.replication {
            ReplicationMode::Async => None,
            ReplicationMode::Sync if self.reopening => None,
            ReplicationMode::Sync => Some(false),
            ReplicationMode::Strict => Some(true),
        }
    }

    /// Whether this node, a standby (or one promoting), holds an unexpired synchronous
    /// claim at `now` (rule `sync-epoch`): it promotes without the lag check.
    pub fn holds_sync_claim(&self, now: Instant) -> bool {
        matches!(self.role, Role::Standby | Role::Promoting) && self.sync_claim(now)
    }

    /// The status page's view of rule `sync-epoch`.
    pub fn sync_status(&self) -> SyncStatus {
        let now = self.last_now;
        let primary = self.role == Role::Primary;
        SyncStatus {
            mode: self.cfg.replication,
            epoch: if primary {
                Some(self.sync.announced).filter(|_| self.cfg.replication.managed())
            } else {
                self.sync_heard.map(|(e, _)| e)
            },
            claim: !primary && self.sync_claim(now),
            named: if primary { self.sync.named } else { None },
            last_degraded: self.sync.last_degraded,
            standby_away: primary && self.sync.away_alarmed,
        }
    }
}
