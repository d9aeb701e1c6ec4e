//! Rules `hold-needs-evidence` and `start-guard`: the daemon keeps `standby.signal` in a running
//! primary's data directory, so a PostgreSQL start it did not order (reboot, crash)
//! comes up read-only in recovery. A returning primary then holds, and either fences
//! (the peer won) or re-opens its DB with `pg_promote` in the same term. Rule `local-db-restart-once` on a
//! primary whose DB is read-only.

use std::time::Duration;

use crate::harness::{
    cfg, decided, peer_state, replica, unwindowed, writable, Answer, Harness, World, PROMOTE,
    STOP_DB,
};
use twinbeat_core::{
    Action, Config, DecisionKind, Engine, Event, Input, Instant, PersistedRole, PersistedState,
    Reason, ReleaseRefused, Role, RolePin, Severity, StartError, StartFacts,
};

fn facts(role: PersistedRole, term: u64, db_in_recovery: bool) -> StartFacts {
    StartFacts {
        persisted: Some(PersistedState { role, term }),
        db_in_recovery,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    }
}

/// The old master of term 1 came back after a reboot: its DB is up in recovery.
fn returning(peer_role: Role, peer_term: u64) -> World {
    World {
        local_db: Some(replica(1000)),
        peer: peer_state(peer_role, peer_term),
        ..World::master_side()
    }
}

fn start(w: World) -> Harness {
    Harness::new(cfg(), facts(PersistedRole::Primary, 1, true), w)
}

/// The side effects, in order (probes, frames and logs left out).
fn effects(h: &Harness) -> Vec<Action> {
    h.log
        .iter()
        .map(|(_, a)| unwindowed(*a))
        .filter(|a| {
            matches!(
                a,
                Action::Persist(_)
                    | Action::Promote { .. }
                    | Action::TakeVip
                    | Action::ArmStartGuard
                    | Action::ReleaseVip
                    | Action::StopDb { .. }
                    | Action::RestartDb { .. }
            )
        })
        .collect()
}

/// The re-open's side effects: the VIP dropped at start (hold), `Promote` on the guarded
/// DB, the VIP taken back, the guard armed again as the node is primary, "primary"
/// persisted again in the same term.
fn reopened_in(term: u64) -> Vec<Action> {
    vec![
        Action::ReleaseVip,
        PROMOTE,
        Action::TakeVip,
        Action::ArmStartGuard,
        primary(term),
    ]
}

/// A hold ended on a DB that is writable already: no `pg_promote`, the VIP taken, the
/// guard armed, persisted again in the same term.
fn resumed_writable_in(term: u64) -> Vec<Action> {
    vec![
        Action::ReleaseVip,
        Action::TakeVip,
        Action::ArmStartGuard,
        primary(term),
    ]
}

fn primary(term: u64) -> Action {
    Action::Persist(PersistedState {
        role: PersistedRole::Primary,
        term,
    })
}

#[test]
fn start_role_with_a_db_in_recovery() {
    let role = |f| Engine::new(cfg(), f, Instant::ZERO).map(|e| e.role());
    assert_eq!(role(facts(PersistedRole::Primary, 1, true)), Ok(Role::Hold));
    // Rule `promotion-order` unchanged: "promoting" that never left recovery re-evaluates as a standby.
    assert_eq!(
        role(facts(PersistedRole::Promoting, 2, true)),
        Ok(Role::Standby)
    );
    assert_eq!(
        role(facts(PersistedRole::Fenced, 1, true)),
        Ok(Role::Fencing)
    );
    assert_eq!(
        role(facts(PersistedRole::Standby, 1, true)),
        Ok(Role::Standby)
    );
}

#[test]
fn returning_primary_with_guarded_db_keeps_the_role_pins() {
    // A master pin fits a returning primary; a standby pin contradicts its claim.
    let pinned = |role| Config { role, ..cfg() };
    let f = facts(PersistedRole::Primary, 1, true);
    let master = Engine::new(pinned(RolePin::Master), f, Instant::ZERO);
    assert_eq!(master.map(|e| e.role()), Ok(Role::Hold));
    let standby = Engine::new(pinned(RolePin::Standby), f, Instant::ZERO);
    assert!(matches!(
        standby,
        Err(StartError::RolePinMismatch {
            found: Role::Hold,
            ..
        })
    ));
}

#[test]
fn returning_primary_with_guarded_db_holds_and_fences_when_peer_won() {
    let mut h = start(returning(Role::Primary, 2));
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.e.is_fenced());
    assert!(decided(&h, DecisionKind::Fence, Reason::PeerWins));
    let fx = effects(&h);
    assert!(fx.contains(&STOP_DB));
    assert!(!fx.contains(&PROMOTE), "a DB the peer replaced stays shut");
    assert!(!fx.contains(&Action::TakeVip));
}

#[test]
fn returning_primary_with_guarded_db_reopens_when_peer_is_standby() {
    let mut h = start(returning(Role::Standby, 1));
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 1, "the same term: the peer never won");
    assert!(decided(&h, DecisionKind::Resume, Reason::PeerHeard));
    // No "promoting" persisted: the VIP only after the DB is writable again.
    assert_eq!(effects(&h), reopened_in(1));
    // Serving with a writable DB: no `local-db-restart-once` restart follows.
    h.run_for(Duration::from_secs(30));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(!effects(&h)
        .iter()
        .any(|a| matches!(a, Action::RestartDb { .. })));
    assert!(h.e.own_state().db_healthy);
}

#[test]
fn returning_primary_with_guarded_db_holds_until_evidence_or_the_operator() {
    // The first event: back from a crash with the link and the cable out.
    let mut w = returning(Role::Standby, 1);
    w.icmp = Answer::Silent;
    w.remote_db = Answer::Silent;
    w.serial = Answer::Silent;
    let mut h = start(w);
    h.run_for(Duration::from_secs(59));
    assert_eq!(h.e.role(), Role::Hold, "startup_grace (60 s) not over");
    assert_eq!(
        h.e.release_hold(h.now),
        Err(ReleaseRefused::GraceRunning),
        "evidence may still come"
    );
    h.run_for(Duration::from_secs(2));
    // "Nothing heard" is never evidence: a critical alarm, and still no re-open.
    assert_eq!(h.e.role(), Role::Hold);
    assert!(decided(&h, DecisionKind::Hold, Reason::PeerNotHeard));
    assert!(h.log.iter().any(|(_, a)| *a
        == Action::Log(Event::Alarm {
            severity: Severity::Critical,
            reason: Reason::PeerNotHeard
        })));
    h.run_for(Duration::from_secs(3600));
    assert_eq!(h.e.role(), Role::Hold, "no timer ends the hold");
    assert!(!h.promoted());
    assert!(h.e.hold_releasable());
    // The operator's release re-opens the DB in the same term.
    assert_eq!(h.e.release_hold(h.now), Ok(()));
    h.drain();
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 1);
    assert!(decided(&h, DecisionKind::Resume, Reason::OperatorRelease));
    assert_eq!(effects(&h), reopened_in(1));
    assert_eq!(
        h.e.release_hold(h.now),
        Err(ReleaseRefused::NotHolding(Role::Primary))
    );
}

#[test]
fn returning_primary_fences_when_the_peer_db_serves_in_a_higher_term() {
    // No frame comes, but the remote DB path reads the peer writable in term 2.
    let mut w = returning(Role::Primary, 2);
    w.serial = Answer::Silent;
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(decided(&h, DecisionKind::Fence, Reason::PeerWins));
    assert!(!h.promoted());
}

#[test]
fn returning_primary_with_guarded_db_keeps_holding_when_peer_alive_but_silent() {
    // The peer's host answers, its database and its daemon do not: it may have taken
    // over. Holding on is the only safe choice.
    let mut w = returning(Role::Primary, 2);
    w.serial = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = start(w);
    h.run_for(Duration::from_secs(200));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(!h.promoted());
    assert!(decided(&h, DecisionKind::Hold, Reason::PeerAliveButSilent));
}

#[test]
fn guarded_reopen_is_not_aborted_by_a_live_standby_peer() {
    let mut w = returning(Role::Standby, 1);
    w.promote = Answer::Silent; // pg_promote still running
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Promoting);
    // The standby keeps pinging and acking while pg_promote runs.
    for seq in 1..=5 {
        h.input(Input::PingReceived {
            echoed: None,
            seq,
            peer: peer_state(Role::Standby, 1),
        });
        h.run_for(Duration::from_secs(1));
    }
    assert_eq!(h.e.role(), Role::Promoting);
    assert_eq!(effects(&h), vec![Action::ReleaseVip, PROMOTE]);
    h.world.local_db = Some(writable(1000));
    h.input(Input::Promoted);
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 1);
    assert_eq!(effects(&h), reopened_in(1));
}

#[test]
fn guarded_reopen_fences_when_the_peer_wins() {
    let mut w = returning(Role::Standby, 1);
    w.promote = Answer::Silent;
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Promoting);
    // Rule `higher-term-wins` still applies while pg_promote runs.
    h.input(Input::PingReceived {
        echoed: None,
        seq: 1,
        peer: peer_state(Role::Primary, 2),
    });
    assert_eq!(h.e.role(), Role::Fencing);
    h.input(Input::Promoted); // too late: the fence goes on
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(!effects(&h).contains(&Action::TakeVip));
}

#[test]
fn a_guarded_reopen_that_fails_hands_over_by_fencing() {
    // Two standbys that hear each other never promote: a primary that cannot re-open
    // its DB fences so that the standby, fit to take over, does.
    let mut w = returning(Role::Standby, 1);
    w.promote = Answer::FailFast;
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(decided(&h, DecisionKind::Fence, Reason::OwnDbUnrecoverable));
    assert!(!effects(&h).contains(&Action::TakeVip));
}

#[test]
fn a_guarded_reopen_that_fails_with_nobody_to_hand_over_to_holds_and_retries() {
    // Becoming a standby would leave two standbys once the peer is back as one (found
    // by the simulation: the peer's daemon had died mid-promotion). The node keeps its
    // claim, holds, and re-opens again on evidence of a new hold, a gateway interval on.
    let mut w = returning(Role::Standby, 1);
    w.peer.db_healthy = false;
    w.promote = Answer::FailFast;
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(decided(&h, DecisionKind::Hold, Reason::PromoteFailed));
    assert!(!decided(&h, DecisionKind::Standby, Reason::PromoteFailed));
    let critical = h.log.iter().filter(|(_, a)| {
        matches!(
            a,
            Action::Log(Event::Alarm {
                severity: Severity::Critical,
                reason: Reason::PromoteFailed
            })
        )
    });
    assert_eq!(critical.count(), 1, "one alarm per incident");
    assert!(!effects(&h).contains(&Action::TakeVip));
    let attempts: Vec<_> = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Promote { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert!(attempts.len() >= 2, "it tries again: {attempts:?}");
    for pair in attempts.windows(2) {
        assert!(pair[1] >= pair[0] + cfg().gateway.interval, "{attempts:?}");
    }

    // The fault clears: the next attempt re-opens and the node serves.
    h.world.promote = Answer::Ok;
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(effects(&h).contains(&Action::TakeVip));
}

#[test]
fn returning_primary_whose_guard_was_removed_resumes_without_promote() {
    // Started in recovery, but writable by the time the hold ends (someone removed the
    // guard and restarted it): today's hold, the VIP is taken back directly.
    let w = World {
        local_db: Some(writable(1000)),
        // The DB's first sample comes before the peer's first ack. (Without any sample
        // the engine trusts the start facts and re-opens: `Promote` on a writable DB
        // only confirms it.)
        serial: Answer::After(Duration::from_millis(5)),
        ..returning(Role::Standby, 1)
    };
    let mut h = start(w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(effects(&h), resumed_writable_in(1));
}

#[test]
fn primary_treats_a_read_only_db_as_unhealthy() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    // PostgreSQL crashed and was restarted behind the daemon: the guard kept it in
    // recovery. The harness models the daemon: a restart ordered on a primary lifts
    // the guard and comes back writable.
    h.world.local_db = Some(replica(1000));
    h.run_for(Duration::from_secs(60));
    assert!(decided(
        &h,
        DecisionKind::RestartDb,
        Reason::LocalDbUnhealthy
    ));
    let restarts = h.count_since(t0, |a| matches!(a, Action::RestartDb { .. }));
    assert_eq!(restarts, 1, "restarted once, then healthy");
    let advertised_unhealthy = h
        .log
        .iter()
        .any(|(t, a)| *t >= t0 && matches!(a, Action::SendPing { state, .. } if !state.db_healthy));
    assert!(advertised_unhealthy, "frames said the DB was not serving");
    assert_eq!(h.e.role(), Role::Primary);
    assert!(!h.fenced_started());
    assert!(h.e.own_state().db_healthy);
}

#[test]
fn returning_primary_with_writable_db_takes_the_vip_without_promote() {
    // Today's `hold-needs-evidence` hold: the peer's first ack comes before the first local DB check,
    // and the start facts (writable) decide: no `pg_promote`.
    let h = Harness::master(World::master_side());
    assert!(!h.promoted());
    assert_eq!(effects(&h), resumed_writable_in(1));
}

#[test]
fn a_promotion_arms_the_start_guard_once_the_node_serves() {
    let h = crate::standby::master_dies(World::standby_side());
    assert_eq!(h.e.role(), Role::Primary);
    let serving: Vec<Action> = effects(&h)
        .into_iter()
        .skip_while(|a| *a != PROMOTE)
        .collect();
    assert_eq!(
        serving,
        vec![PROMOTE, Action::TakeVip, Action::ArmStartGuard, primary(2)],
        "the guard is armed after the VIP, off the promotion's path, before \"primary\" is persisted"
    );
}

#[test]
fn a_standby_never_arms_the_start_guard() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.run_for(Duration::from_secs(10));
    assert_eq!(
        h.count_since(Instant::ZERO, |a| *a == Action::ArmStartGuard),
        0
    );
}
