//! Rule `human-promoted-standby`: a standby whose PostgreSQL left recovery without the
//! daemon (somebody ran `pg_promote` by hand) says so in every frame, as its own
//! condition, not as a claim to the primary position; the master keeps the VIP, never
//! fences onto it, and raises a critical alarm.

use std::time::Duration;

use crate::harness::{alarmed, decided, peer_state, writable, Answer, Harness, World};
use twinbeat_core::{DecisionKind, Input, Reason, Role};

#[test]
fn a_standby_promoted_by_hand_says_so_and_never_promotes() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.local_db = Some(writable(1000));
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Standby);
    let own = h.e.own_state();
    assert!(own.human_promoted);
    assert_eq!(
        own.role,
        Role::Standby,
        "not a claim to the primary position"
    );
    assert!(alarmed(&h, Reason::LocalDbPromotedByHand));
    // The master vanishes: a writable local DB is no replica to promote.
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(10));
    assert!(!h.promoted());
}

#[test]
fn the_master_never_fences_onto_a_human_promoted_standby() {
    let mut h = Harness::master(World::master_side());
    let mut peer = peer_state(Role::Standby, 1);
    peer.human_promoted = true;
    h.world.peer = peer;
    h.input(Input::PingReceived {
        seq: 5,
        echoed: None,
        peer,
    });
    assert!(alarmed(&h, Reason::PeerHumanPromoted));
    // Its gateway lost, the master would hand over to a standby that can take over;
    // this one cannot (it follows nobody): keep serving.
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(!h.fenced_started());
    assert!(decided(
        &h,
        DecisionKind::NoFence,
        Reason::PeerHumanPromoted
    ));
}
