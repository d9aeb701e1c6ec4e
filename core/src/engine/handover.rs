//! Rule `fence-handshake`: a master fences only after the standby said, after its own
//! fresh checks, that it can take over.
//!
//! Over serial the master asks in every frame ("take over at LSN P?"), the standby
//! checks and answers in every frame, and the master fences on a "ready" in a frame the
//! standby built after the question. With serial down the same exchange runs over the
//! remote DB path: each side publishes its stage in its own PostgreSQL
//! (`Action::PublishHandover`) and reads the other's on its remote DB probe. There the
//! standby cannot see a `fenced` frame, so two more stages close the gap: on "ready"
//! the master publishes `Fencing` (from then on it is committed to fence), the standby
//! publishes `Armed` (from then on it takes over once the master's PostgreSQL is gone),
//! and the master fences on `Armed`.

use super::standby::FreshPurpose;
use super::{Engine, EngineTimer};
use crate::io::{Action, DecisionKind, Event, Reason};
use crate::time::Instant;
use crate::types::{
    Handover, PathHealth, PathId, PeerDbReading, PeerState, Published, Role, Stage,
    TakeoverRefusal, TakeoverVerdict,
};

/// The path a question travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Via {
    /// In every frame.
    Serial,
    /// Published in each node's PostgreSQL, read by the other's remote DB probe.
    Db,
}

/// The master's side of a handover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Asking {
    /// The question is out; `EngineTimer::Handover` ends the wait for an answer.
    Open {
        /// Why the master wants to fence.
        cause: Reason,
        /// The master's WAL position in the question.
        lsn: u64,
        /// The last id allocated before the question: only a frame answering or
        /// echoing a later ping was built after it (`sent_since`).
        first_seq: u32,
        /// The path the question travels on.
        via: Via,
    },
    /// Over the DB path: "ready" heard and `Fencing` published. The master is committed:
    /// it fences on `Armed`, or when `EngineTimer::Handover` ends the wait (the standby
    /// may have armed without the master reading it).
    Committed {
        /// Why the master fences.
        cause: Reason,
        /// The master's WAL position in the question.
        lsn: u64,
    },
    /// Refused or unanswered: no question until `EngineTimer::Handover`, so that the
    /// standby sees none and checks afresh when asked again.
    Pausing,
}

/// The standby's side: the question it is answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Answer {
    /// The master's term in the question (the DB path's; a frame's question is about
    /// the sender's current term).
    pub(super) term: u64,
    /// The position the question named.
    pub(super) lsn: u64,
    /// `None` while the fresh checks run.
    pub(super) verdict: Option<TakeoverVerdict>,
    /// The path the question came on, and the answer goes back on.
    pub(super) via: Via,
    /// Over the DB path: the master published `Fencing` and this standby `Armed`; it
    /// takes over once the master's PostgreSQL is gone.
    pub(super) armed: bool,
}

impl Engine {
    /// What this node's frames say about a handover: the master's open question over
    /// serial, or the standby's answer to one once its checks concluded.
    pub(super) fn handover_to_send(&self) -> Option<Handover> {
        match (self.role, self.asking, self.answer) {
            (
                Role::Primary,
                Some(Asking::Open {
                    lsn,
                    via: Via::Serial,
                    ..
                }),
                _,
            ) => Some(Handover::Asked { lsn }),
            (
                Role::Standby,
                _,
                Some(Answer {
                    lsn,
                    verdict: Some(verdict),
                    via: Via::Serial,
                    ..
                }),
            ) => Some(Handover::Answered { lsn, verdict }),
            _ => None,
        }
    }

    /// Whether a question is out and its answer awaited, or the master is committed.
    pub(super) fn takeover_question_open(&self) -> bool {
        matches!(
            self.asking,
            Some(Asking::Open { .. } | Asking::Committed { .. })
        )
    }

    /// Over the DB path the master has committed to fence: a failure of its own DB
    /// then fences at once (the standby may be armed already).
    pub(super) fn committed_to_fence(&self) -> Option<Reason> {
        match self.asking {
            Some(Asking::Committed { cause, .. }) => Some(cause),
            _ => None,
        }
    }

    /// The master wants to fence for `cause` and the standby can take over as far as it
    /// can tell (`via` says from what: its last frame, or its PostgreSQL read over the
    /// remote DB path): ask, unless a question is out or the master pauses between two.
    pub(super) fn ask_takeover(&mut self, now: Instant, cause: Reason, via: Via) {
        if self.asking.is_some() {
            return;
        }
        let lsn = self.local.map_or(0, |l| l.wal_lsn);
        self.asking = Some(Asking::Open {
            cause,
            lsn,
            first_seq: self.next_id,
            via,
        });
        match via {
            Via::Db => self.publish(Stage::Ask, lsn),
            // The question should not wait for the next serial interval (1 s by
            // default): a ping at once, built after `first_seq`, carries it.
            Via::Serial => self.announce(),
        }
        self.log(Event::TakeoverAsked { lsn });
        self.set_timer(
            EngineTimer::Handover,
            now + self.cfg.takeover_answer_window(),
        );
    }

    fn publish(&mut self, stage: Stage, lsn: u64) {
        self.push(Action::PublishHandover(Some(Published {
            stage,
            term: self.term,
            lsn,
        })));
    }

    /// The reason to fence is gone: no question, no pause. A committed master fences
    /// whatever happens (the standby may be armed already).
    pub(super) fn end_handover(&mut self) {
        match self.asking {
            None | Some(Asking::Committed { .. }) => {}
            Some(Asking::Open { via, .. }) => {
                self.asking = None;
                self.clear_timer(EngineTimer::Handover);
                if via == Via::Db {
                    self.push(Action::PublishHandover(None));
                }
            }
            Some(Asking::Pausing) => {
                self.asking = None;
                self.clear_timer(EngineTimer::Handover);
            }
        }
    }

    /// The master left the primary role. Fencing carries a committed handover out; any
    /// other role withdraws it (a pause: the standby sees `Fencing` gone and disarms).
    pub(super) fn handover_left_primary(&mut self, role: Role) {
        if role == Role::Fencing {
            self.asking = None;
            self.clear_timer(EngineTimer::Handover);
            return;
        }
        if let Some(Asking::Committed { .. }) = self.asking {
            self.asking = None;
            self.clear_timer(EngineTimer::Handover);
            self.push(Action::PublishHandover(None));
        }
        self.end_handover();
    }

    /// `EngineTimer::Handover`: an open question went unanswered (alarm, keep serving,
    /// pause), a committed master's wait for `Armed` ended (fence), or the pause ended
    /// (ask again if the reason to fence remains).
    pub(super) fn on_handover_timer(&mut self, now: Instant) {
        match self.asking {
            Some(Asking::Open { cause, via, .. }) => {
                if via == Via::Db {
                    self.push(Action::PublishHandover(None));
                }
                self.alarm_once(cause);
                self.decide_once(now, DecisionKind::NoFence, Reason::TakeoverNotAnswered);
                self.pause_handover(now);
            }
            Some(Asking::Committed { cause, .. }) => self.begin_fence(now, cause),
            Some(Asking::Pausing) => {
                self.asking = None;
                self.evaluate_primary(now);
            }
            None => {}
        }
    }

    fn pause_handover(&mut self, now: Instant) {
        self.asking = Some(Asking::Pausing);
        self.set_timer(
            EngineTimer::Handover,
            now + self.cfg.takeover_answer_window(),
        );
    }

    /// A refusal (or a "ready" the standby's state no longer backs): alarm, keep
    /// serving, pause before asking again.
    fn takeover_refused(&mut self, now: Instant, cause: Reason, why: Reason, via: Via) {
        if via == Via::Db {
            self.push(Action::PublishHandover(None));
        }
        self.alarm_once(cause);
        self.decide_once(now, DecisionKind::NoFence, why);
        self.pause_handover(now);
    }

    /// A frame reached the master while it asks over serial. `answers`: the ping of
    /// ours the frame answers or echoes. Only an answer built after the question
    /// counts; "ready" fences (if the standby's state, just updated, still says it can
    /// take over), "refused" keeps serving with an alarm.
    pub(super) fn takeover_answered(
        &mut self,
        now: Instant,
        peer: &PeerState,
        answers: Option<u32>,
    ) {
        let Some(Asking::Open {
            cause,
            lsn,
            first_seq,
            via: Via::Serial,
        }) = self.asking
        else {
            return;
        };
        let Some(Handover::Answered {
            lsn: answered,
            verdict,
        }) = peer.handover
        else {
            return;
        };
        if answered != lsn || !answers.is_some_and(|s| sent_since(first_seq, s)) {
            return; // an answer to an earlier question
        }
        self.log(Event::TakeoverAnswered { lsn, verdict });
        let why = match verdict {
            TakeoverVerdict::Ready => match self.peer_can_take_over(now) {
                Ok(()) => return self.begin_fence(now, cause),
                Err(why) => why,
            },
            TakeoverVerdict::Refused(why) => Reason::TakeoverRefused(why),
        };
        self.takeover_refused(now, cause, why, Via::Serial);
    }

    /// A reading of the standby's PostgreSQL reached the master while it asks over the
    /// DB path: "ready" commits it (publish `Fencing`), `Armed` fences.
    pub(super) fn takeover_read(&mut self, now: Instant, reading: &PeerDbReading) {
        let Some(p) = reading.published.filter(|p| p.term == self.term) else {
            return;
        };
        match self.asking {
            Some(Asking::Open {
                cause,
                lsn,
                via: Via::Db,
                ..
            }) if p.lsn == lsn => {
                let Stage::Answer(verdict) = p.stage else {
                    return;
                };
                self.log(Event::TakeoverAnswered { lsn, verdict });
                let why = match verdict {
                    TakeoverVerdict::Ready => match self.peer_db_can_take_over(now) {
                        Ok(()) => {
                            self.asking = Some(Asking::Committed { cause, lsn });
                            self.publish(Stage::Fencing, lsn);
                            self.set_timer(
                                EngineTimer::Handover,
                                now + self.cfg.takeover_answer_window(),
                            );
                            return;
                        }
                        Err(why) => why,
                    },
                    TakeoverVerdict::Refused(why) => Reason::TakeoverRefused(why),
                };
                self.takeover_refused(now, cause, why, Via::Db);
            }
            Some(Asking::Committed { cause, lsn }) if p.lsn == lsn && p.stage == Stage::Armed => {
                self.begin_fence(now, cause);
            }
            _ => {}
        }
    }

    /// Rule `fence-handshake` over the remote DB path: the standby as its PostgreSQL
    /// reads — fresh, in recovery, in no higher term, and its received WAL within
    /// `max_lag_on_failover` of ours (its own gateway and DB checks are its answer's).
    pub(super) fn peer_db_can_take_over(&self, now: Instant) -> Result<(), Reason> {
        let Some((r, at)) = self.peer_db else {
            return Err(Reason::PeerNotHeard);
        };
        if self.paths[PathId::RemoteDb.index()].status.health != PathHealth::Up
            || now.saturating_duration_since(at) > self.cfg.peer_state_max_age
        {
            return Err(Reason::PeerStateStale);
        }
        if !r.in_recovery || r.term.is_some_and(|t| t > self.term) {
            return Err(Reason::PeerNotStandby);
        }
        let ours = self.local.map_or(0, |l| l.wal_lsn);
        let lag = ours.saturating_sub(r.wal_lsn);
        if r.wal_lsn == 0 || lag > self.cfg.max_lag_on_failover {
            return Err(Reason::LagTooHigh { lag });
        }
        Ok(())
    }

    /// A frame reached the standby: a primary's question starts the fresh checks once
    /// per question; a frame without one forgets the last answer given over serial, so
    /// the next question is checked afresh.
    pub(super) fn takeover_asked(&mut self, now: Instant, peer: &PeerState) {
        match peer.handover {
            Some(Handover::Asked { lsn }) if peer.role == Role::Primary => {
                self.consider_question(now, peer.term, lsn, Via::Serial);
            }
            _ => {
                if self.answer.is_some_and(|a| a.via == Via::Serial) {
                    self.answer = None;
                }
            }
        }
    }

    /// A reading of the master's PostgreSQL reached the standby: a published question
    /// starts the fresh checks once, `Fencing` after our "ready" arms us, and nothing
    /// published withdraws our answer.
    pub(super) fn takeover_published(&mut self, now: Instant, reading: &PeerDbReading) {
        let question = reading
            .published
            .filter(|p| !reading.in_recovery && p.term >= self.term);
        match question.map(|p| p.stage) {
            Some(Stage::Ask) => {
                if let Some(p) = question {
                    self.consider_question(now, p.term, p.lsn, Via::Db);
                }
            }
            Some(Stage::Fencing) => {
                let Some(p) = question else { return };
                if let Some(a) = self.answer.as_mut().filter(|a| {
                    a.via == Via::Db
                        && (a.term, a.lsn) == (p.term, p.lsn)
                        && a.verdict == Some(TakeoverVerdict::Ready)
                        && !a.armed
                }) {
                    // From here this standby takes over once the master's DB is gone.
                    a.armed = true;
                    self.publish_answer(Stage::Armed, p.term, p.lsn);
                }
            }
            _ => {
                if self.answer.is_some_and(|a| a.via == Via::Db) {
                    self.answer = None;
                    self.push(Action::PublishHandover(None));
                }
            }
        }
    }

    fn consider_question(&mut self, now: Instant, term: u64, lsn: u64, via: Via) {
        if self
            .answer
            .is_some_and(|a| (a.term, a.lsn, a.via) == (term, lsn, via))
            || self.fresh.is_some()
        {
            return; // answered, or checks running (the question comes again)
        }
        self.answer = Some(Answer {
            term,
            lsn,
            verdict: None,
            via,
            armed: false,
        });
        self.start_fresh(now, FreshPurpose::Takeover { lsn });
    }

    fn publish_answer(&mut self, stage: Stage, term: u64, lsn: u64) {
        self.push(Action::PublishHandover(Some(Published {
            stage,
            term,
            lsn,
        })));
    }

    /// The standby's checks for the question about `lsn` concluded.
    pub(super) fn answer_takeover(&mut self, lsn: u64, checks: Result<(), Reason>) {
        let Some(a) = self.answer.filter(|a| a.lsn == lsn && a.verdict.is_none()) else {
            return; // the master stopped asking meanwhile
        };
        let verdict = match checks {
            Ok(()) => TakeoverVerdict::Ready,
            Err(reason) => TakeoverVerdict::Refused(refusal_of(reason)),
        };
        self.answer = Some(Answer {
            verdict: Some(verdict),
            ..a
        });
        match a.via {
            Via::Db => self.publish_answer(Stage::Answer(verdict), a.term, lsn),
            // The answer goes out at once too: a ping echoing the master's last ping,
            // which carried the question, so the master counts it as built after it.
            Via::Serial => self.announce(),
        }
        self.log(Event::TakeoverAnswered { lsn, verdict });
    }

    /// An armed standby (over the DB path) whose view of the master's PostgreSQL is
    /// down: the master fenced (rule `fence-handshake`).
    pub(super) fn armed_and_master_db_gone(&self) -> bool {
        self.answer.is_some_and(|a| a.armed)
            && self.effective_path(PathId::RemoteDb).health == PathHealth::Down
    }

    /// The standby left its role: an answer published over the DB path is withdrawn.
    pub(super) fn handover_left_standby(&mut self) {
        if self.answer.take().is_some_and(|a| a.via == Via::Db) {
            self.push(Action::PublishHandover(None));
        }
    }
}

/// Whether ping `seq` was sent after the last id allocated before some moment
/// (`first`): ids only grow (wrapping; compared as serial numbers), so the peer built a
/// frame answering or echoing it after that moment.
pub(super) fn sent_since(first: u32, seq: u32) -> bool {
    let after = seq.wrapping_sub(first);
    after != 0 && after < u32::MAX / 2
}

/// The fresh check that failed, as the answer names it.
fn refusal_of(reason: Reason) -> TakeoverRefusal {
    match reason {
        Reason::LocalDbNotInRecovery => TakeoverRefusal::NotInRecovery,
        Reason::GatewayDown => TakeoverRefusal::GatewayDown,
        Reason::LagTooHigh { .. } => TakeoverRefusal::LagTooHigh,
        Reason::FreshCheckTimeout => TakeoverRefusal::CheckTimedOut,
        Reason::NoSyncClaim => TakeoverRefusal::NoSyncClaim,
        _ => TakeoverRefusal::LocalDbUnhealthy,
    }
}
