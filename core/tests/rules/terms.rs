//! Rules `promotion-order`, `higher-term-wins`, `hold-needs-evidence` and `pause-is-a-restart`.

use std::time::Duration;

use crate::harness::{
    cfg, peer_state, replica, standby_facts, unwindowed, writable, Answer, Harness, World, PROMOTE,
};
use twinbeat_core::{
    Action, Config, Engine, Input, Instant, PersistedRole, PersistedState, Reason, Role, RolePin,
    StartError, StartFacts,
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

fn effects(h: &Harness) -> Vec<Action> {
    h.log
        .iter()
        .map(|(_, a)| unwindowed(*a))
        .filter(|a| !matches!(a, Action::Persist(s) if s.role == PersistedRole::Standby))
        .filter(|a| {
            matches!(
                a,
                Action::Persist(_)
                    | Action::Promote { .. }
                    | Action::TakeVip
                    | Action::ReleaseVip
                    | Action::StopDb { .. }
            )
        })
        .collect()
}

#[test]
fn promotion_order_persist_promote_vip_persist() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(5));
    let p = |role| Action::Persist(PersistedState { role, term: 2 });
    assert_eq!(
        effects(&h),
        vec![
            p(PersistedRole::Promoting),
            PROMOTE,
            Action::TakeVip,
            p(PersistedRole::Primary)
        ]
    );
}

#[test]
fn persist_failure_aborts_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.effects_ok = false;
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_millis(1500));
    assert!(!h.promoted());
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn restart_promoting_in_recovery_becomes_standby() {
    let h = Harness::new(
        cfg(),
        facts(PersistedRole::Promoting, 2, true),
        World::standby_side(),
    );
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.term(), 2);
}

#[test]
fn restart_promoting_out_of_recovery_finishes_through_hold() {
    let mut w = World::standby_side();
    w.local_db = Some(writable(1000));
    w.peer = peer_state(Role::Fenced, 1);
    w.peer.fenced = true;
    let mut h = Harness::new(cfg(), facts(PersistedRole::Promoting, 2, false), w);
    assert_eq!(h.e.role(), Role::Hold);
    assert!(matches!(
        h.log[0].1,
        Action::Persist(PersistedState {
            role: PersistedRole::Primary,
            term: 2
        })
    ));
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn primary_fences_on_higher_term_peer() {
    let mut h = Harness::master(World::master_side());
    h.input(Input::PingReceived {
        echoed: None,
        seq: 1,
        peer: peer_state(Role::Primary, 2),
    });
    assert_eq!(h.e.role(), Role::Fencing);
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::PeerWins)
    );
}

#[test]
fn primary_fences_on_equal_term_and_smaller_node_id() {
    let config = Config {
        node_id: twinbeat_core::NodeId(3),
        ..cfg()
    };
    let f = facts(PersistedRole::Primary, 1, false);
    let mut h = Harness::new(config, f, World::master_side());
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    // Peer id 2 < 3, same term.
    h.input(Input::PingReceived {
        echoed: None,
        seq: 1,
        peer: peer_state(Role::Primary, 1),
    });
    assert_eq!(h.e.role(), Role::Fencing);
}

#[test]
fn primary_ignores_lower_term_or_larger_id_peer() {
    let mut h = Harness::master(World::master_side());
    let mut peer = peer_state(Role::Primary, 1);
    peer.node_id = twinbeat_core::NodeId(9);
    h.input(Input::PingReceived {
        echoed: None,
        seq: 1,
        peer,
    });
    h.input(Input::PingReceived {
        echoed: None,
        seq: 2,
        peer: peer_state(Role::Primary, 0),
    });
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn persisted_primary_starts_in_hold() {
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = Harness::new(cfg(), facts(PersistedRole::Primary, 1, false), w);
    assert_eq!(h.e.role(), Role::Hold);
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::ReleaseVip)));
    h.run_for(Duration::from_secs(10));
    assert_eq!(h.e.role(), Role::Hold, "no VIP until the peer is heard");
    assert!(!h.log.iter().any(|(_, a)| matches!(a, Action::TakeVip)));
    // Heard (ack to a ping sent during the hold): resume.
    h.world.serial = Answer::Ok;
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(!h.promoted(), "a writable DB needs no re-opening");
}

#[test]
fn hold_fences_on_peer_primary_in_higher_term() {
    let mut w = World::master_side();
    w.peer = peer_state(Role::Primary, 2);
    let mut h = Harness::new(cfg(), facts(PersistedRole::Primary, 1, false), w);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(!h.log.iter().any(|(_, a)| matches!(a, Action::TakeVip)));
}

#[test]
fn hold_never_ends_on_a_timer_alone() {
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.icmp = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = Harness::new(cfg(), facts(PersistedRole::Primary, 1, false), w);
    h.run_for(Duration::from_secs(59));
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(Duration::from_secs(600));
    assert_eq!(h.e.role(), Role::Hold);
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::PeerNotHeard)
    );
    assert!(!h.log.iter().any(|(_, a)| matches!(a, Action::TakeVip)));
}

#[test]
fn a_first_start_with_nothing_persisted_resumes_after_grace_when_peer_gone() {
    // The pair's bootstrap: the node never served under the daemon.
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.icmp = Answer::Silent;
    w.remote_db = Answer::Silent;
    let facts = StartFacts {
        persisted: None,
        db_in_recovery: false,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    };
    let mut h = Harness::new(cfg(), facts, w);
    h.run_for(Duration::from_secs(59));
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn hold_keeps_holding_when_peer_alive_but_silent() {
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = Harness::new(cfg(), facts(PersistedRole::Primary, 1, false), w);
    h.run_for(Duration::from_secs(200));
    assert_eq!(h.e.role(), Role::Hold);
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::PeerAliveButSilent)
    );
}

#[test]
fn persisted_fenced_stays_fenced() {
    let mut h = Harness::new(
        cfg(),
        facts(PersistedRole::Fenced, 1, false),
        World::master_side(),
    );
    h.run_for(Duration::from_secs(30));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.e.is_fenced());
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::TakeVip | Action::RunFenceAction { .. })));
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::StopDb { .. })));
}

#[test]
fn fresh_standby_start_and_pin_mismatch() {
    let h = Harness::new(cfg(), standby_facts(), World::standby_side());
    assert_eq!(h.e.role(), Role::Standby);
    let pinned = Config {
        role: RolePin::Standby,
        ..cfg()
    };
    let err = Engine::new(
        pinned,
        facts(PersistedRole::Primary, 1, false),
        Instant::ZERO,
    );
    assert!(matches!(err, Err(StartError::RolePinMismatch { .. })));
    let pinned = Config {
        role: RolePin::Master,
        ..cfg()
    };
    assert!(Engine::new(pinned, standby_facts(), Instant::ZERO).is_err());
}

#[test]
fn pause_drops_vip_and_holds() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    // The whole machine freezes for 3 s: the engine is called that much later.
    h.now += Duration::from_secs(3);
    h.e.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.e.role(), Role::Hold);
    let first_effect = h
        .log
        .iter()
        .find(|(t, a)| {
            *t > t0
                && !matches!(
                    a,
                    Action::Log(_)
                        | Action::Probe { .. }
                        | Action::SendPing { .. }
                        | Action::FlushSerialInput
                )
        })
        .map(|(_, a)| unwindowed(*a));
    assert_eq!(first_effect, Some(Action::ReleaseVip));
    assert!(
        h.log
            .iter()
            .any(|(t, a)| *t > t0 && *a == Action::FlushSerialInput),
        "frames queued during the pause are dropped"
    );
    // Hears the (still standby) peer: resumes.
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn a_second_pause_in_hold_starts_the_evidence_over() {
    // Found by the simulation: a node paused, held, sent a ping, and froze again; the
    // peer's ack to that ping waited out the second pause in a buffer (and the peer
    // promoted meanwhile). It answers a ping sent after the first hold began, but not
    // after the second pause: no evidence.
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.now += Duration::from_secs(3);
    h.e.handle_timeout(h.now);
    h.drain();
    h.run_for(Duration::from_millis(500));
    assert_eq!(h.e.role(), Role::Hold);
    let before = h
        .log
        .iter()
        .rev()
        .find_map(|(_, a)| match a {
            Action::SendPing { seq, .. } => Some(*seq),
            _ => None,
        })
        .expect("pings while holding");
    h.now += Duration::from_secs(3);
    let second = h.now;
    h.input(Input::AckReceived {
        seq: before,
        peer: peer_state(Role::Standby, 1),
    });
    assert_eq!(
        h.count_since(second, |a| *a == Action::TakeVip),
        0,
        "an ack from the backlog is no evidence"
    );
    // The peer answers a ping sent after the second pause: evidence.
    h.world.serial = Answer::Ok;
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn short_gap_is_not_a_pause() {
    let mut h = Harness::master(World::master_side());
    h.now += Duration::from_millis(100);
    h.e.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.e.role(), Role::Primary);
}

/// Rule `pause-is-a-restart` with the default config: the peer needs all three paths
/// down, the slowest after 5 × 200 ms, so a gap of up to half that (500 ms) is no
/// pause while the serial path is up; with it down the peer may need only the fastest
/// (5 × 100 ms), so the threshold falls to 250 ms.
#[test]
fn pause_threshold_is_half_the_slowest_path_while_serial_is_up() {
    let gap = |h: &mut Harness, ms: u64| {
        h.now += Duration::from_millis(ms);
        h.e.handle_timeout(h.now);
        h.drain();
        h.e.role()
    };
    let mut h = Harness::master(World::master_side());
    assert_eq!(gap(&mut h, 400), Role::Primary, "under half the slowest");
    h.run_for(Duration::from_secs(2));
    assert_eq!(gap(&mut h, 600), Role::Hold, "over half the slowest");

    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        h.e.path(twinbeat_core::PathId::Serial).health,
        twinbeat_core::PathHealth::Down
    );
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(
        gap(&mut h, 400),
        Role::Hold,
        "serial down: half the fastest"
    );
}

#[test]
fn paused_standby_does_not_count_the_pause_as_failures() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    for _ in 0..5 {
        h.now += Duration::from_secs(2);
        h.e.handle_timeout(h.now);
        h.drain();
        h.run_for(Duration::from_millis(5));
    }
    assert!(!h.promoted());
    assert_eq!(
        h.e.path(twinbeat_core::PathId::Icmp).consecutive_failures,
        0
    );
    let _ = replica(0);
}

#[test]
fn stale_results_are_ignored() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.input(Input::Promoted);
    h.input(Input::Persisted(PersistedState {
        role: PersistedRole::Primary,
        term: 9,
    }));
    h.input(Input::DbStopped);
    assert_eq!(h.e.role(), Role::Standby);
    // A VIP taken for no step in progress is given back at once.
    h.input(Input::VipTaken);
    assert_eq!(h.log.last().map(|(_, a)| *a), Some(Action::ReleaseVip));
}

#[test]
fn standby_persists_the_masters_term() {
    // Otherwise a restart (term forgotten) could promote into a term already used.
    let mut w = World::standby_side();
    w.peer = peer_state(Role::Primary, 7);
    let mut h = Harness::standby(w);
    h.settle();
    assert_eq!(h.e.term(), 7);
    let persisted = h.log.iter().filter(|(_, a)| {
        matches!(
            a,
            Action::Persist(PersistedState {
                role: PersistedRole::Standby,
                term: 7
            })
        )
    });
    assert_eq!(persisted.count(), 1, "once per new term");
}

#[test]
fn hold_waits_for_a_losing_primary_peer_to_fence() {
    // We hold term 3; the peer claims primary in term 2: it must fence first.
    let mut w = World::master_side();
    w.peer = peer_state(Role::Primary, 2);
    let mut h = Harness::new(cfg(), facts(PersistedRole::Primary, 3, false), w);
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(!h.log.iter().any(|(_, a)| matches!(a, Action::TakeVip)));
    // The peer fenced: resume.
    h.world.peer = peer_state(Role::Fenced, 2);
    h.world.peer.fenced = true;
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn standby_retries_persisting_a_learned_term() {
    let mut w = World::standby_side();
    w.peer = peer_state(Role::Primary, 4);
    w.effects_ok = false;
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_millis(3500));
    let tries = h.log.iter().filter(|(_, a)| {
        matches!(
            a,
            Action::Persist(PersistedState {
                role: PersistedRole::Standby,
                term: 4
            })
        )
    });
    assert!(tries.count() >= 3, "retried every gateway interval");
}
