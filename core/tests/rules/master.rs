//! Rules `fence-when-standby-can-take-over` and `fence-sequence`, and `local-db-restart-once` on a master.

use std::time::Duration;

use crate::harness::{peer_state, Answer, Harness, World};
use twinbeat_core::{Action, DecisionKind, Event, Input, Instant, Reason, Role, Severity};

fn actions_after(h: &Harness, since: Instant) -> Vec<Action> {
    h.log
        .iter()
        .filter(|(t, a)| {
            *t >= since
                && !matches!(
                    a,
                    Action::Log(_) | Action::Probe { .. } | Action::SendPing { .. }
                )
        })
        .map(|(_, a)| *a)
        .collect()
}

fn no_fence_with(h: &Harness, reason: Reason) -> bool {
    h.log.iter().any(|(_, a)| {
        matches!(a, Action::Log(Event::Decision(d)) if d.kind == DecisionKind::NoFence && d.reason == reason)
    })
}

#[test]
fn master_fences_when_gateway_down_and_standby_can_take_over() {
    let mut h = Harness::master(World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert!(h.fenced_started());
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.e.is_fenced());
}

#[test]
fn master_does_not_fence_on_shared_gateway_outage() {
    let mut w = World::master_side();
    w.peer.gateway_up = false;
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    assert!(no_fence_with(&h, Reason::SharedGatewayOutage));
}

#[test]
fn master_does_not_fence_when_standby_is_dead() {
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.run_for(Duration::from_secs(10));
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    assert!(no_fence_with(&h, Reason::PeerStateStale));
}

#[test]
fn master_does_not_fence_when_standby_is_fenced_or_unhealthy() {
    let mut w = World::master_side();
    w.peer.db_healthy = false;
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert!(no_fence_with(&h, Reason::PeerDbUnhealthy));
}

#[test]
fn master_never_fences_onto_a_standby_never_heard() {
    // Nothing heard from the standby at all: nobody to hand over to (rule
    // `fence-when-standby-can-take-over`), so fencing would help nobody.
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.icmp = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = Harness::new(crate::harness::cfg(), crate::harness::primary_facts(1), w);
    h.run_for(Duration::from_secs(61));
    assert_eq!(h.e.role(), Role::Hold, "nothing heard is no evidence");
    h.e.release_hold(h.now)
        .expect("the hold waits for the operator");
    h.drain();
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Primary, "released by the operator");
    assert!(h.e.peer().is_none());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary, "keeps serving");
    assert!(no_fence_with(&h, Reason::PeerNotHeard));
}

#[test]
fn master_never_fences_onto_a_standby_too_far_behind() {
    // The third event: the standby stopped streaming (every probe green) and
    // is 8 MB behind; the master loses its gateway. Fencing would leave no primary.
    let mut w = World::master_side();
    w.local_db = Some(crate::harness::writable(9_000_000));
    w.peer.wal_lsn = 1_000_000;
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    assert!(no_fence_with(&h, Reason::LagTooHigh { lag: 8_000_000 }));
}

#[test]
fn a_standby_warns_once_when_it_falls_behind() {
    let mut w = World::standby_side();
    w.peer.wal_lsn = 10_000_000;
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_secs(5));
    let warnings = h
        .log
        .iter()
        .filter(|(_, a)| {
            *a == Action::Log(Event::Alarm {
                severity: Severity::Warning,
                reason: Reason::NotStreaming,
            })
        })
        .count();
    assert_eq!(warnings, 1);
}

#[test]
fn master_fences_on_unrecoverable_db() {
    let mut h = Harness::master(World::master_side());
    h.world.local_db = None;
    h.run_for(Duration::from_secs(30));
    let restarts = h.count_since(Instant::ZERO, |a| matches!(a, Action::RestartDb { .. }));
    assert_eq!(restarts, 1, "restart once per incident");
    assert!(h.fenced_started());
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn master_keeps_restarting_db_when_standby_cannot_take_over() {
    let mut w = World::master_side();
    w.peer.gateway_up = false;
    let mut h = Harness::master(w);
    h.world.local_db = None;
    h.run_for(Duration::from_secs(120));
    assert!(!h.fenced_started());
    let restarts = h.count_since(Instant::ZERO, |a| matches!(a, Action::RestartDb { .. }));
    assert!(
        (3..=6).contains(&restarts),
        "{restarts} restarts with back-off"
    );
}

#[test]
fn fence_order_stop_db_then_release_vip_then_persist_then_advertise() {
    let mut h = Harness::master(World::master_side());
    h.world.effects_ok = true;
    let t0 = h.now;
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    let seq: Vec<Action> = actions_after(&h, t0)
        .into_iter()
        .filter(|a| !matches!(a, Action::SendAck { .. }))
        .collect();
    let pos = |f: &dyn Fn(&Action) -> bool| seq.iter().position(f).expect("present");
    let stop = pos(&|a| matches!(a, Action::StopDb { .. }));
    let release = pos(&|a| matches!(a, Action::ReleaseVip));
    let persist =
        pos(&|a| matches!(a, Action::Persist(s) if s.role == twinbeat_core::PersistedRole::Fenced));
    let action = pos(&|a| matches!(a, Action::RunFenceAction { .. }));
    assert!(
        stop < release && release < persist && persist < action,
        "{seq:?}"
    );
    // Not advertised before the stop and the release are confirmed.
    let (persisted_at, first_fenced_ping) = fence_and_first_fenced_ping(&h);
    assert!(first_fenced_ping >= persisted_at);
}

/// When "fenced" was on disk (the fence action starts then) and when the first ping
/// saying `fenced` went out.
fn fence_and_first_fenced_ping(h: &Harness) -> (Instant, Instant) {
    let first = |f: &dyn Fn(&Action) -> bool| {
        h.log
            .iter()
            .find(|(_, a)| f(a))
            .map(|(t, _)| *t)
            .expect("present")
    };
    (
        first(&|a| matches!(a, Action::RunFenceAction { .. })),
        first(&|a| matches!(a, Action::SendPing { state, .. } if state.fenced)),
    )
}

#[test]
fn fenced_state_is_announced_at_once() {
    // The fast handover of `fenced-peer-hands-over`: the standby learns of the fence from the next frame, so
    // the fenced node sends one as soon as "fenced" is on disk, not a serial interval
    // (1 s by default) later.
    let mut h = Harness::master(World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    let (fenced_at, first_fenced_ping) = fence_and_first_fenced_ping(&h);
    assert_eq!(first_fenced_ping, fenced_at);
}

#[test]
fn fencing_waits_for_db_stop_confirmation() {
    let mut h = Harness::master(World::master_side());
    h.world.effects_ok = false; // StopDb cannot confirm the postmaster gone
    h.world.gateway = Answer::Silent;
    let t0 = h.now;
    h.run_for(Duration::from_secs(20));
    assert_eq!(h.e.role(), Role::Fencing);
    assert!(!h.e.is_fenced());
    assert!(!h.e.own_state().fenced);
    assert_eq!(h.count_since(t0, |a| matches!(a, Action::ReleaseVip)), 0);
    assert!(
        h.count_since(Instant::ZERO, |a| matches!(a, Action::StopDb { .. })) > 1,
        "retried"
    );
}

#[test]
fn an_unconfirmed_stop_powers_off_only_when_poweroff_is_the_fence_action() {
    for poweroff in [false, true] {
        let cfg = twinbeat_core::Config {
            poweroff_on_unconfirmed_stop: poweroff,
            ..crate::harness::cfg()
        };
        let mut h = Harness::master_with(cfg, World::master_side());
        h.world.effects_ok = false; // a postmaster in uninterruptible sleep
        h.world.gateway = Answer::Silent;
        h.run_for(Duration::from_secs(20));
        assert_eq!(h.e.role(), Role::Fencing);
        assert!(!h.e.own_state().fenced, "never advertised");
        let powered_off = h.count_since(Instant::ZERO, |a| {
            matches!(a, Action::RunFenceAction { .. })
        });
        assert_eq!(powered_off, usize::from(poweroff), "poweroff {poweroff}");
    }
}

#[test]
fn fenced_is_sticky() {
    let mut h = Harness::master(World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert_eq!(h.e.role(), Role::Fenced);
    let t0 = h.now;
    h.world.gateway = Answer::Ok;
    h.input(Input::PingReceived {
        echoed: None,
        seq: 5,
        peer: peer_state(Role::Standby, 1),
    });
    h.run_for(Duration::from_secs(120));
    assert_eq!(h.e.role(), Role::Fenced);
    assert_eq!(
        h.count_since(t0, |a| matches!(
            a,
            Action::TakeVip | Action::Promote { .. }
        )),
        0
    );
}
