//! Rule `standby-slot`: a standby makes sure once per term that it streams through a
//! slot named after it on the primary, and asks again after a failure.

use std::time::Duration;

use crate::harness::{alarmed, peer_state, Harness, World};
use twinbeat_core::{Action, Reason, Role, SLOT_RETRY};

fn slot_asks(h: &Harness) -> usize {
    h.log
        .iter()
        .filter(|(_, a)| matches!(a, Action::EnsureSlot { .. }))
        .count()
}

#[test]
fn a_standby_makes_sure_of_its_slot_once_per_term_of_its_primary() {
    let mut h = Harness::standby(World::standby_side());
    h.run_for(Duration::from_secs(10));
    assert_eq!(slot_asks(&h), 1);
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::EnsureSlot { term: 1, .. })));
    // A new primary in a higher term: once more.
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(10));
    assert_eq!(slot_asks(&h), 2);
}

#[test]
fn a_standby_asks_for_its_slot_only_as_a_healthy_replica_of_a_fresh_primary() {
    let mut w = World::standby_side();
    w.peer = peer_state(Role::Hold, 1);
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_secs(10));
    assert_eq!(slot_asks(&h), 0, "the peer is not primary");
    // Its own DB goes down (the path judges it down), then the peer is primary.
    h.world.local_db = None;
    h.run_for(Duration::from_secs(30));
    h.world.peer = peer_state(Role::Primary, 1);
    h.run_for(Duration::from_secs(10));
    assert_eq!(slot_asks(&h), 0, "its own DB is down");
}

#[test]
fn a_failed_slot_is_asked_for_again_after_the_retry_pause() {
    let mut w = World::standby_side();
    w.slot_ok = false;
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_secs(5));
    assert_eq!(slot_asks(&h), 1);
    assert!(
        !alarmed(&h, Reason::SlotNotEnsured),
        "a warning, not critical"
    );
    h.run_for(SLOT_RETRY - Duration::from_secs(10));
    assert_eq!(slot_asks(&h), 1);
    h.world.slot_ok = true;
    h.run_for(Duration::from_secs(15));
    assert_eq!(slot_asks(&h), 2);
    h.run_for(SLOT_RETRY * 2);
    assert_eq!(slot_asks(&h), 2);
}
