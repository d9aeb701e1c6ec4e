//! Rule `maintenance-pause`: an operator's pause of the pair holds back promotions for
//! lost paths, fences for a lost gateway or DB and restarts of PostgreSQL; it travels in
//! every frame and the peer's carrying it back is its acknowledgement; `resume` on either
//! node, or the end of `--for`, ends it; the safety rules keep running.

use std::time::Duration;

use crate::harness::{cfg, decided, peer_state, primary_facts, replica, Answer, Harness, World};
use twinbeat_core::{
    Action, DecisionKind, Engine, Event, MaintenanceWindow, PauseOrigin, Reason, Role, StartFacts,
    UnpauseRefused,
};

fn pause_forever() -> Option<MaintenanceWindow> {
    Some(MaintenanceWindow { left: None })
}

fn sent_pause(h: &Harness) -> Option<Option<MaintenanceWindow>> {
    h.log.iter().rev().find_map(|(_, a)| match a {
        Action::SendPing { state, .. } | Action::SendAck { state, .. } => Some(state.pause),
        _ => None,
    })
}

#[test]
fn a_paused_standby_never_promotes_for_lost_paths_and_does_once_resumed() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.e.pause(h.now, None);
    h.drain();
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(10));
    assert!(!h.promoted());
    assert!(decided(
        &h,
        DecisionKind::Maintenance,
        Reason::AllPathsDownTogether
    ));
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.unpause(h.now), Ok(()));
    h.drain();
    h.run_for(Duration::from_secs(3));
    assert!(h.promoted(), "the paths still down are judged once resumed");
}

#[test]
fn a_paused_master_never_fences_for_a_lost_gateway_nor_asks() {
    let mut h = Harness::master(World::master_side());
    h.e.pause(h.now, None);
    h.drain();
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Log(Event::TakeoverAsked { .. }))));
    assert!(decided(
        &h,
        DecisionKind::Maintenance,
        Reason::OwnGatewayDown
    ));
    assert_eq!(h.e.role(), Role::Primary);
    h.e.unpause(h.now).unwrap();
    h.drain();
    h.run_for(Duration::from_secs(15));
    assert!(
        h.fenced_started(),
        "the lost gateway is judged once resumed"
    );
}

#[test]
fn a_paused_master_never_restarts_or_stops_its_db_and_keeps_the_vip() {
    let mut h = Harness::master(World::master_side());
    let since = h.now;
    h.e.pause(h.now, None);
    h.drain();
    h.world.local_db = None;
    h.run_for(Duration::from_secs(60));
    let effects = h.count_since(since, |a| {
        matches!(
            a,
            Action::RestartDb { .. } | Action::StopDb { .. } | Action::ReleaseVip
        )
    });
    assert_eq!(effects, 0);
    assert!(decided(
        &h,
        DecisionKind::Maintenance,
        Reason::LocalDbUnhealthy
    ));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn a_primary_whose_db_the_operator_restarted_while_paused_holds_with_its_vip_and_reopens() {
    let mut h = Harness::master(World::master_side());
    let since = h.now;
    h.e.pause(h.now, None);
    h.drain();
    // The operator's restart: down, then back read-only under the start guard.
    h.world.local_db = None;
    h.run_for(Duration::from_secs(5));
    h.world.local_db = Some(replica(1000));
    h.run_for(Duration::from_secs(5));
    assert!(decided(
        &h,
        DecisionKind::Hold,
        Reason::ReadOnlyInMaintenance
    ));
    assert_eq!(h.count_since(since, |a| matches!(a, Action::ReleaseVip)), 0);
    assert_eq!(
        h.count_since(since, |a| matches!(a, Action::Promote { term: 1, .. })),
        1,
        "re-opened in its own term on the peer's evidence"
    );
    assert_eq!(h.e.role(), Role::Primary);
    assert!(h.e.maintenance().is_some(), "still paused");
}

#[test]
fn the_pause_travels_in_every_frame_and_the_peer_carrying_it_acknowledges_it() {
    let mut h = Harness::master(World::master_side());
    h.e.pause(h.now, Some(Duration::from_secs(600)));
    h.drain();
    let m = h.e.maintenance().expect("paused at once");
    assert_eq!(m.origin, PauseOrigin::Operator);
    assert!(!m.peer_acknowledged, "one-sided until the peer carries it");
    let sent = sent_pause(&h).flatten().expect("announced at once");
    assert!(sent.left.is_some_and(|l| l <= Duration::from_secs(600)));
    h.world.peer.pause = pause_forever();
    h.run_for(Duration::from_secs(3));
    assert!(h.e.maintenance().is_some_and(|m| m.peer_acknowledged));
}

#[test]
fn a_pause_heard_from_the_peer_pauses_this_node_until_the_peer_ends_it() {
    let mut w = World::standby_side();
    w.peer.pause = pause_forever();
    let mut h = Harness::standby(w);
    h.settle();
    let m = h.e.maintenance().expect("paused by the peer");
    assert_eq!(m.origin, PauseOrigin::Peer);
    assert!(sent_pause(&h).flatten().is_some(), "carried back");
    h.world.peer.pause = None;
    h.run_for(Duration::from_secs(3));
    assert!(h.e.maintenance().is_none());
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::Log(Event::Maintenance {
            paused: false,
            reason: Reason::PeerUnpause
        })
    )));
}

#[test]
fn a_resume_here_ends_it_and_the_peers_echo_does_not_pause_again() {
    let mut w = World::master_side();
    w.peer.pause = pause_forever();
    let mut h = Harness::master_with(cfg(), w);
    assert!(h.e.maintenance().is_some());
    h.e.unpause(h.now).unwrap();
    h.drain();
    // The peer still carries it for a while (it has not heard the resume yet).
    h.run_for(Duration::from_secs(3));
    assert!(h.e.maintenance().is_none());
    h.world.peer.pause = None;
    h.run_for(Duration::from_secs(3));
    assert!(h.e.maintenance().is_none());
    // A new pause of the peer is taken up again.
    h.world.peer.pause = pause_forever();
    h.run_for(Duration::from_secs(3));
    assert!(h
        .e
        .maintenance()
        .is_some_and(|m| m.origin == PauseOrigin::Peer));
}

#[test]
fn a_pause_for_a_while_ends_by_itself() {
    let mut h = Harness::master(World::master_side());
    h.e.pause(h.now, Some(Duration::from_secs(10)));
    h.drain();
    assert!(h.log.iter().any(|(_, a)| *a
        == Action::PersistMaintenance(Some(MaintenanceWindow {
            left: Some(Duration::from_secs(10))
        }))));
    h.run_for(Duration::from_secs(11));
    assert!(h.e.maintenance().is_none());
    assert_eq!(
        h.log.iter().rev().find_map(|(_, a)| match a {
            Action::PersistMaintenance(p) => Some(*p),
            _ => None,
        }),
        Some(None)
    );
}

#[test]
fn an_operators_pause_survives_a_restart() {
    let facts = StartFacts {
        maintenance: Some(MaintenanceWindow {
            left: Some(Duration::from_secs(30)),
        }),
        ..primary_facts(1)
    };
    let e = Engine::new(cfg(), facts, twinbeat_core::Instant::from_millis(5)).unwrap();
    let m = e.maintenance().expect("restored");
    assert_eq!(m.origin, PauseOrigin::Operator);
    assert_eq!(
        m.until,
        Some(twinbeat_core::Instant::from_millis(5) + Duration::from_secs(30))
    );
}

#[test]
fn a_higher_term_still_wins_while_paused() {
    let mut h = Harness::master(World::master_side());
    h.e.pause(h.now, None);
    h.drain();
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(3));
    assert!(decided(&h, DecisionKind::Fence, Reason::PeerWins));
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn resume_without_a_pause_is_refused() {
    let mut h = Harness::master(World::master_side());
    assert_eq!(h.e.unpause(h.now), Err(UnpauseRefused::NotPaused));
}
