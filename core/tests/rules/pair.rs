//! Rule `pair-agrees`: every frame carries the fingerprint of the sender's settings the
//! pair must share; a peer whose fingerprint differs is a warning when first seen, and
//! never changes a decision.

use std::time::Duration;

use crate::harness::{cfg, standby_facts, Harness, World};
use twinbeat_core::{Action, Config, Event, Reason, Role, Severity};

fn with(fingerprint: Option<u32>) -> Config {
    Config {
        fingerprint,
        ..cfg()
    }
}

/// A standby whose primary's frames carry `theirs`, run for a while.
fn standby(ours: Option<u32>, theirs: Option<u32>) -> Harness {
    let mut w = World::standby_side();
    w.peer.config_fingerprint = theirs;
    let mut h = Harness::new(with(ours), standby_facts(), w);
    h.run_for(Duration::from_secs(5));
    h
}

fn warnings(h: &Harness) -> usize {
    h.log
        .iter()
        .filter(|(_, a)| {
            *a == Action::Log(Event::Alarm {
                severity: Severity::Warning,
                reason: Reason::PeerConfigDiffers,
            })
        })
        .count()
}

#[test]
fn every_frame_carries_this_nodes_fingerprint() {
    let h = standby(Some(7), Some(7));
    assert_eq!(h.e.own_state().config_fingerprint, Some(7));
    let acks = h.log.iter().filter_map(|(_, a)| match a {
        Action::SendPing { state, .. } => Some(state.config_fingerprint),
        _ => None,
    });
    assert!(acks.clone().count() > 0);
    assert!(acks.into_iter().all(|f| f == Some(7)));
}

#[test]
fn a_peer_whose_settings_differ_is_a_warning_once_and_nothing_else() {
    let h = standby(Some(7), Some(8));
    assert_eq!(warnings(&h), 1, "once, though every frame differs");
    assert_eq!(h.e.pair_fingerprints(), Some((7, 8)));
    let same = standby(Some(7), Some(7));
    assert_eq!(h.e.role(), same.e.role(), "no decision changes");
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn a_peer_that_agrees_or_sends_none_raises_nothing() {
    let h = standby(Some(7), Some(7));
    assert_eq!(warnings(&h), 0);
    assert_eq!(h.e.pair_fingerprints(), Some((7, 7)));
    let older = standby(Some(7), None);
    assert_eq!(warnings(&older), 0, "an older peer sends none");
    assert_eq!(older.e.pair_fingerprints(), None);
}

#[test]
fn a_peer_that_changes_to_other_differing_settings_warns_again() {
    let mut h = standby(Some(7), Some(8));
    h.world.peer.config_fingerprint = Some(7);
    h.run_for(Duration::from_secs(3));
    h.world.peer.config_fingerprint = Some(9);
    h.run_for(Duration::from_secs(3));
    assert_eq!(warnings(&h), 2);
}
