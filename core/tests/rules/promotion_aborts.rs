//! Rule `promotion-order`: between deciding and sending `pg_promote`, a sign that the
//! peer's daemon or its PostgreSQL is alive aborts the promotion; the persisted
//! "promoting" term is kept and never reused.

use std::time::Duration;

use crate::harness::{peer_state, Answer, Harness, World};
use twinbeat_core::{
    Action, Input, PathId, PersistedRole, PersistedState, ProbeOutcome, Reason, Role,
};

fn is_persist_promoting(a: &Action) -> bool {
    matches!(a, Action::Persist(s) if s.role == PersistedRole::Promoting)
}

/// A settled standby whose master vanished on every path, stopped right after it asked
/// to persist "promoting", before the answer (so before `pg_promote`). Returns the term
/// it is promoting to.
fn standby_about_to_promote() -> (Harness, u64) {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    let mut guard = 0;
    while !h.log.iter().any(|(_, a)| is_persist_promoting(a)) && guard < 5000 {
        h.run_for(Duration::from_millis(1));
        guard += 1;
    }
    assert_eq!(h.e.role(), Role::Promoting);
    let term = h.e.term();
    (h, term)
}

/// The probe of `path` in flight: its attempt id.
fn attempt_in_flight(h: &Harness, path: PathId) -> twinbeat_core::AttemptId {
    h.log
        .iter()
        .rev()
        .find_map(|(_, a)| match a {
            Action::Probe {
                path: p, attempt, ..
            } if *p == path => Some(*attempt),
            _ => None,
        })
        .expect("a probe in flight")
}

fn answer_ok(h: &mut Harness, path: PathId) {
    let attempt = attempt_in_flight(h, path);
    if path == PathId::RemoteDb {
        let reading = Some(crate::harness::peer_db_of(&h.world.peer));
        let outcome = ProbeOutcome::Ok {
            rtt: Duration::from_millis(1),
        };
        h.input(Input::RemoteDb {
            attempt,
            outcome,
            reading,
        });
        return;
    }
    h.input(Input::ProbeDone {
        path,
        attempt,
        outcome: ProbeOutcome::Ok {
            rtt: Duration::from_millis(1),
        },
    });
}

/// Every "promoting" term persisted, in order.
fn promoting_terms(h: &Harness) -> Vec<u64> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Persist(PersistedState {
                role: PersistedRole::Promoting,
                term,
            }) => Some(*term),
            _ => None,
        })
        .collect()
}

#[test]
fn promotion_aborts_when_the_peer_is_heard_before_pg_promote() {
    let (mut h, _) = standby_about_to_promote();
    h.input(Input::PingReceived {
        echoed: None,
        seq: 9,
        peer: peer_state(Role::Primary, 1),
    });
    assert_eq!(h.e.role(), Role::Standby);
    h.run_for(Duration::from_millis(50));
    assert!(!h.promoted(), "no pg_promote after the abort");
}

#[test]
fn promotion_aborts_when_the_peer_db_answers_before_pg_promote() {
    let (mut h, term) = standby_about_to_promote();
    answer_ok(&mut h, PathId::RemoteDb);
    assert_eq!(h.e.role(), Role::Standby);
    let d = h.e.last_decision().expect("a decision");
    assert_eq!(d.reason, Reason::PeerDbAnswered);
    h.run_for(Duration::from_millis(50));
    assert!(!h.promoted(), "no pg_promote after the abort");
    // The aborted term stays this node's: whatever comes next never reuses it.
    assert_eq!(h.e.term(), term);
    h.run_for(Duration::from_secs(10));
    let terms = promoting_terms(&h);
    assert!(
        terms.windows(2).all(|w| w[0] < w[1]),
        "a promoting term is never reused: {terms:?}"
    );
}

#[test]
fn an_icmp_answer_does_not_abort_a_promotion() {
    // The host answering says nothing about whether its PostgreSQL is a primary.
    let (mut h, term) = standby_about_to_promote();
    answer_ok(&mut h, PathId::Icmp);
    assert_eq!(h.e.role(), Role::Promoting);
    h.run_for(Duration::from_millis(50));
    assert!(h.promoted(), "pg_promote follows");
    assert_eq!(h.e.term(), term);
}

#[test]
fn a_promotion_once_requested_is_never_abandoned() {
    // Replay stuck behind a recovery conflict outlives the window: `pg_promote` was
    // sent and cannot be taken back. The node stays promoting and keeps confirming.
    let (mut h, term) = standby_about_to_promote();
    h.world.promote = Answer::FailFast;
    h.world.promote_requested = true;
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Promoting);
    assert_eq!(h.e.term(), term);
    assert!(crate::harness::alarmed(&h, Reason::PromotionPending));
    let asks = h.count_since(twinbeat_core::Instant::ZERO, |a| {
        matches!(a, Action::Promote { .. })
    });
    assert!(asks >= 2, "keeps confirming: {asks} requests");
    // PostgreSQL finally leaves recovery: the promotion finishes.
    h.world.promote = Answer::Ok;
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), term);
}

#[test]
fn every_promote_carries_the_term_to_publish_first() {
    let (mut h, term) = standby_about_to_promote();
    h.run_for(Duration::from_millis(50));
    let published = h.log.iter().find_map(|(_, a)| match a {
        Action::Promote { term, .. } => Some(*term),
        _ => None,
    });
    assert_eq!(published, Some(term));
}

#[test]
fn a_retry_that_fails_before_its_request_does_not_undo_a_sent_promotion() {
    let (mut h, term) = standby_about_to_promote();
    h.world.promote = Answer::Silent;
    h.run_for(Duration::from_millis(10));
    h.input(Input::PromoteFailed { requested: true });
    // The retry cannot even connect: still no abandoning what was sent.
    h.input(Input::PromoteFailed { requested: false });
    h.run_for(Duration::from_millis(10));
    assert_eq!(h.e.role(), Role::Promoting);
    assert_eq!(h.e.term(), term);
}
