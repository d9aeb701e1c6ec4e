//! Rule `remote-db-reads-role`: what the remote DB path reads of the peer's
//! PostgreSQL (role, published term, timeline) and what each role makes of it.

use super::{Engine, Step};
use crate::io::{DecisionKind, Reason};
use crate::time::Instant;
use crate::types::{AttemptId, PathId, PeerDbReading, ProbeOutcome, Role};

impl Engine {
    /// Answer to a remote DB probe. An accepted success counts for the path like any
    /// probe (rule `attempt-window`); its reading is then judged by role.
    pub(super) fn on_remote_db(
        &mut self,
        now: Instant,
        id: AttemptId,
        outcome: ProbeOutcome,
        reading: Option<PeerDbReading>,
    ) {
        let ok = match outcome {
            ProbeOutcome::Ok { rtt } => Some(rtt),
            ProbeOutcome::Failed => None,
        };
        if self.attempt_result(now, PathId::RemoteDb, id, ok).is_none() {
            return;
        }
        let Some(reading) = reading.filter(|_| ok.is_some()) else {
            return;
        };
        self.peer_db = Some((reading, now));
        self.sync_read_peer_db(now, &reading);
        self.peer_db_read(now, reading);
    }

    /// Rules `higher-term-wins`, `hold-needs-evidence`, `promotion-order` and
    /// `human-promoted-standby`, as the remote DB path carries them.
    fn peer_db_read(&mut self, now: Instant, reading: PeerDbReading) {
        if reading.primary_above(self.term) {
            // The peer serves writes in a later term: it took over.
            self.learn_peer_term(reading.term.unwrap_or(0));
        }
        match self.role {
            Role::Standby => {
                if reading.primary_above(self.term) {
                    self.learn_standby_term(reading.term.unwrap_or(0));
                }
                self.takeover_published(now, &reading);
            }
            Role::Promoting if self.step == Step::PersistPromoting => {
                // Before `pg_promote`: a database that answers is alive and may be a
                // primary (rule `promotion-order`).
                self.promoting_db_answered(now);
            }
            Role::Promoting | Role::Primary => {
                if reading.primary_above(self.term) {
                    self.begin_fence(now, Reason::PeerWins);
                } else if !reading.in_recovery {
                    self.alarm_once(Reason::SecondWritablePeer);
                } else if self.role == Role::Primary {
                    self.takeover_read(now, &reading);
                }
            }
            Role::Hold => self.hold_read_peer_db(now, reading),
            Role::Fenced => self.consider_rejoin(now),
            Role::Demoting => self.demoting_read_peer_db(now),
            Role::Fencing => {}
        }
    }

    /// Rule `hold-needs-evidence` over the remote DB path: a peer writable in a later
    /// term won; a replica in no later term on this node's timeline (or an ancestor)
    /// proves the peer has not taken over; anything else proves nothing yet.
    fn hold_read_peer_db(&mut self, now: Instant, reading: PeerDbReading) {
        self.hold_heard_peer = true;
        if reading.primary_above(self.term) {
            self.begin_fence(now, Reason::PeerWins);
            return;
        }
        if !reading.in_recovery {
            self.alarm_once(Reason::SecondWritablePeer);
            self.decide_once(now, DecisionKind::Hold, Reason::SecondWritablePeer);
            return;
        }
        let timeline = self.local.map_or(0, |s| s.timeline);
        if reading.proves_not_taken_over(self.term, timeline) {
            // A replica read just after the hold began may belong to a peer that had
            // decided to promote and not yet published its term. Within one of the
            // peer's remote DB probe cycles it has either probed this node's
            // PostgreSQL and aborted (rule `promotion-order`), or sent `pg_promote`
            // with its term published first, which a later reading shows.
            let settled = now >= self.hold_since + self.cfg.remote_db_probe_cycle();
            if self.step == Step::Idle && settled {
                self.resume(now, Reason::PeerDbInRecovery);
            }
        } else {
            self.decide_once(now, DecisionKind::Hold, Reason::PeerDbAhead);
        }
    }
}
