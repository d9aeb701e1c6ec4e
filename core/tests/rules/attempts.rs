//! Rules `attempt-window`, `path-down-after-retries`, `confirmation-cascade` and `state-in-every-frame`.

use std::time::Duration;

use crate::harness::{Answer, Harness, World};
use twinbeat_core::{Action, Event, Input, PathHealth, PathId, Role};

fn is_probe(path: PathId) -> impl Fn(&Action) -> bool {
    move |a| matches!(a, Action::Probe { path: p, fresh: false, .. } if *p == path)
}

fn down_at(h: &Harness, path: PathId) -> Option<twinbeat_core::Instant> {
    h.log
        .iter()
        .find(|(_, a)| matches!(a, Action::Log(Event::PathDown(p)) if *p == path))
        .map(|(t, _)| *t)
}

#[test]
fn attempt_window_holds_fast_failure() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let t0 = h.now;
    h.world.icmp = Answer::FailFast;
    h.run_for(Duration::from_secs(1));
    // 100 ms windows: about 10 attempts in a second, not hundreds.
    let attempts = h.count_since(t0, is_probe(PathId::Icmp));
    assert!((9..=11).contains(&attempts), "{attempts} icmp attempts");
    // Down after 5 windows of 100 ms, counted from the first failing attempt.
    let down = down_at(&h, PathId::Icmp).expect("icmp down");
    let took = down.saturating_duration_since(t0);
    assert!(
        took >= Duration::from_millis(500) && took <= Duration::from_millis(502),
        "{took:?}"
    );
}

#[test]
fn late_reply_does_not_rescue_attempt() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.icmp = Answer::After(Duration::from_millis(150));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.path(PathId::Icmp).health, PathHealth::Down);
}

#[test]
fn path_down_after_retries_consecutive_failures_not_one_more() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let t0 = h.now;
    h.world.remote_db = Answer::Silent;
    h.run_for(Duration::from_millis(799));
    assert_eq!(h.e.path(PathId::RemoteDb).consecutive_failures, 3);
    assert_ne!(h.e.path(PathId::RemoteDb).health, PathHealth::Down);
    h.run_for(Duration::from_millis(300));
    let down = down_at(&h, PathId::RemoteDb).expect("down");
    // 5 attempts of 200 ms, the first one starting within the 10 ms interval.
    let took = down.saturating_duration_since(t0);
    assert!(
        took >= Duration::from_millis(1000) && took <= Duration::from_millis(1011),
        "{took:?}"
    );
    assert_eq!(h.e.path(PathId::RemoteDb).consecutive_failures, 5);
}

#[test]
fn path_up_on_first_success() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.remote_db = Answer::Silent;
    h.run_for(Duration::from_secs(2));
    assert_eq!(h.e.path(PathId::RemoteDb).health, PathHealth::Down);
    h.world.remote_db = Answer::Ok;
    h.run_for(Duration::from_millis(250));
    let st = h.e.path(PathId::RemoteDb);
    assert_eq!(st.health, PathHealth::Up);
    assert_eq!(st.consecutive_failures, 0);
    assert_eq!(st.down_since, None);
    assert_eq!(st.last_rtt, Some(crate::harness::LATENCY));
}

#[test]
fn success_waits_interval_failure_retries_at_once() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    // Serial: interval 1 s after a success.
    let t0 = h.now;
    h.run_for(Duration::from_secs(3));
    let pings = h.count_since(t0, |a| matches!(a, Action::SendPing { .. }));
    assert!((2..=4).contains(&pings), "{pings} pings in 3 s");
    // After a failure the next ping goes out at once: one per 200 ms window.
    h.world.serial = Answer::Silent;
    h.world.icmp = Answer::Ok;
    let t1 = h.now;
    h.run_for(Duration::from_secs(3));
    let pings = h.count_since(t1, |a| matches!(a, Action::SendPing { .. }));
    assert!(pings >= 13, "{pings} pings in 3 s of failures");
}

#[test]
fn one_attempt_in_flight_per_path() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.gateway = Answer::Silent;
    let t0 = h.now;
    h.run_for(Duration::from_secs(5));
    // 500 ms windows back to back: at most 11 attempts in 5 s.
    let n = h.count_since(t0, is_probe(PathId::Gateway));
    assert!(n <= 11, "{n} gateway attempts");
}

#[test]
fn cascade_starts_later_paths_at_once() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    // Serial pings at 0, 1.001, 2.002 s...: start between two of them.
    h.run_for(Duration::from_millis(500));
    h.world.icmp = Answer::Silent;
    let t0 = h.now;
    h.run_for(Duration::from_millis(150));
    // The first icmp failure (at most 101 ms in) made serial ping at once.
    let ping_at = h
        .log
        .iter()
        .find(|(t, a)| *t > t0 && matches!(a, Action::SendPing { .. }))
        .map(|(t, _)| *t)
        .expect("cascaded ping");
    let icmp_retry_at_same_instant = h.log.iter().any(|(t, a)| {
        *t == ping_at
            && matches!(
                a,
                Action::Probe {
                    path: PathId::Icmp,
                    ..
                }
            )
    });
    assert!(
        icmp_retry_at_same_instant,
        "the ping goes out when an icmp attempt fails"
    );
    assert!(ping_at.saturating_duration_since(t0) <= Duration::from_millis(105));
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn dead_master_confirmed_on_all_paths_in_about_a_second() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let t0 = h.now;
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(3));
    let last = PathId::PEER
        .iter()
        .map(|p| down_at(&h, *p).expect("down"))
        .max()
        .expect("3");
    let took = last.saturating_duration_since(t0);
    assert!(took <= Duration::from_millis(1200), "confirmed in {took:?}");
}

#[test]
fn both_roles_ping_and_answer_pings_with_their_state() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    h.run_for(Duration::from_secs(3));
    assert!(h.count_since(t0, |a| matches!(a, Action::SendPing { .. })) >= 2);
    let peer = crate::harness::peer_state(Role::Standby, 1);
    h.input(Input::PingReceived {
        echoed: None,
        seq: 77,
        peer,
    });
    let ack = h.log.iter().rev().find_map(|(_, a)| match a {
        Action::SendAck { seq, state } => Some((*seq, *state)),
        _ => None,
    });
    let (seq, state) = ack.expect("ack sent");
    assert_eq!(seq, 77);
    assert_eq!(state.role, Role::Primary);
    assert_eq!(state.term, 1);
    assert!(!state.fenced && state.db_healthy && state.gateway_up);
    assert_eq!(h.e.peer().expect("heard").state, peer);
    assert_eq!(h.e.peer().expect("heard").heard_at, h.now);
}

#[test]
fn bridge_status_is_stored() {
    let mut h = Harness::standby(World::standby_side());
    let s = twinbeat_core::BridgeStatus {
        uptime: Duration::from_secs(9),
        since_heard_us: Some(Duration::from_millis(3)),
        since_heard_peer: None,
        frames_dropped: 4,
        we_are_side_b: false,
    };
    h.input(Input::BridgeStatus(s));
    assert_eq!(h.e.bridge(), Some((s, h.now)));
}
