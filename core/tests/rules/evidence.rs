//! Rule `hold-needs-evidence`: a node that was primary leaves hold only on positive
//! evidence that the peer has not taken over — a frame the peer built after the hold
//! began, or its PostgreSQL read in recovery in no higher term on this node's
//! timeline — or on the operator's release. Nothing heard is never evidence.

use std::time::Duration;

use crate::harness::{alarmed, cfg, decided, peer_state, Answer, Harness, World};
use twinbeat_core::{
    Action, DecisionKind, Input, PeerDbReading, PersistedRole, PersistedState, Reason,
    ReleaseRefused, Role, StartFacts,
};

/// A primary of term 3 whose daemon restarted (its DB still writable): it holds. The
/// peer's frames and database answer only as each test lets them.
fn held(serial: Answer, remote_db: Answer) -> Harness {
    let w = World {
        serial,
        remote_db,
        ..World::master_side()
    };
    let facts = StartFacts {
        persisted: Some(PersistedState {
            role: PersistedRole::Primary,
            term: 3,
        }),
        db_in_recovery: false,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    };
    let h = Harness::new(cfg(), facts, w);
    assert_eq!(h.e.role(), Role::Hold);
    h
}

/// The sequence numbers of the pings sent so far.
fn pings(h: &Harness) -> Vec<u32> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::SendPing { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

#[test]
fn an_ack_to_a_ping_sent_before_the_hold_is_no_evidence() {
    // A primary pings; it pauses (a frozen VM) and holds; the ack of the old ping,
    // queued somewhere meanwhile, arrives only now.
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.run_for(Duration::from_millis(1100));
    let before = *pings(&h).last().expect("a ping sent while primary");
    h.now += Duration::from_secs(3);
    h.e.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.e.role(), Role::Hold);
    let peer = peer_state(Role::Standby, 1);
    h.input(Input::AckReceived { seq: before, peer });
    h.run_for(Duration::from_millis(10));
    assert_eq!(h.e.role(), Role::Hold, "built before the hold began");
    // The answer to a ping sent during the hold ends it.
    let during = *pings(&h).last().expect("a ping sent in hold");
    assert!(during != before);
    h.input(Input::AckReceived { seq: during, peer });
    assert!(decided(&h, DecisionKind::Resume, Reason::PeerHeard));
}

#[test]
fn a_peer_ping_echoing_a_ping_sent_during_the_hold_is_evidence() {
    let mut h = held(Answer::Silent, Answer::Silent);
    h.run_for(Duration::from_millis(1500));
    let during = *pings(&h).last().expect("a ping sent in hold");
    let peer = peer_state(Role::Standby, 3);
    // An echo of nothing, or of a ping from before the hold: no evidence.
    h.input(Input::PingReceived {
        seq: 40,
        echoed: None,
        peer,
    });
    h.input(Input::PingReceived {
        seq: 41,
        echoed: Some(0),
        peer,
    });
    assert_eq!(h.e.role(), Role::Hold);
    h.input(Input::PingReceived {
        seq: 42,
        echoed: Some(during),
        peer,
    });
    h.run_for(Duration::from_millis(10));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(decided(&h, DecisionKind::Resume, Reason::PeerHeard));
}

#[test]
fn our_pings_echo_the_last_ping_heard_from_the_peer() {
    let mut h = held(Answer::Silent, Answer::Silent);
    h.input(Input::PingReceived {
        seq: 77,
        echoed: None,
        peer: peer_state(Role::Standby, 3),
    });
    h.run_for(Duration::from_millis(1500));
    let echo = h.log.iter().rev().find_map(|(_, a)| match a {
        Action::SendPing { echo, .. } => Some(*echo),
        _ => None,
    });
    assert_eq!(echo, Some(Some(77)));
}

#[test]
fn the_peer_db_in_recovery_on_our_timeline_is_evidence() {
    // The second event: the serial cable broken, the standby's PostgreSQL
    // answering over IP, plainly in recovery.
    let mut h = held(Answer::Silent, Answer::Ok);
    let cycle = cfg().remote_db_probe_cycle();
    // A reading at the very start of the hold may come from a peer that decided to
    // promote and has not published its term yet: it waits one of the peer's probe
    // cycles, in which the peer either reads this DB and aborts, or publishes.
    h.run_for(cycle - Duration::from_millis(10));
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(cfg().remote_db.interval + Duration::from_millis(100));
    assert_eq!(h.e.role(), Role::Primary);
    assert!(decided(&h, DecisionKind::Resume, Reason::PeerDbInRecovery));
}

#[test]
fn a_peer_db_in_recovery_proves_nothing_in_a_later_term_or_timeline() {
    for reading in [
        // Published a higher term: it was promoting, or is a later guarded primary.
        PeerDbReading {
            in_recovery: true,
            term: Some(4),
            timeline: 1,
            wal_lsn: 0,
            published: None,
            sync_epoch: None,
            sync_ack: None,
        },
        // A later timeline: it took over once.
        PeerDbReading {
            in_recovery: true,
            term: None,
            timeline: 2,
            wal_lsn: 0,
            published: None,
            sync_epoch: None,
            sync_ack: None,
        },
        // An unknown timeline proves nothing.
        PeerDbReading {
            in_recovery: true,
            term: None,
            timeline: 0,
            wal_lsn: 0,
            published: None,
            sync_epoch: None,
            sync_ack: None,
        },
    ] {
        let mut h = held(Answer::Silent, Answer::Ok);
        h.world.peer_db = Some(reading);
        h.run_for(Duration::from_secs(5));
        assert_eq!(h.e.role(), Role::Hold, "{reading:?}");
        assert!(decided(&h, DecisionKind::Hold, Reason::PeerDbAhead));
    }
}

#[test]
fn a_writable_peer_db_in_no_higher_term_holds_with_a_critical_alarm() {
    let mut h = held(Answer::Silent, Answer::Ok);
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: Some(2),
        timeline: 2,
        wal_lsn: 0,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(alarmed(&h, Reason::SecondWritablePeer));
    assert!(!h.log.iter().any(|(_, a)| *a == Action::TakeVip));
}

#[test]
fn the_operator_cannot_overrule_a_peer_that_was_heard() {
    let mut h = held(Answer::Silent, Answer::Ok);
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: true,
        term: Some(9),
        timeline: 1,
        wal_lsn: 0,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(Duration::from_secs(120));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(!h.e.hold_releasable());
    assert_eq!(h.e.release_hold(h.now), Err(ReleaseRefused::PeerHeard));
    assert_eq!(h.e.role(), Role::Hold);
}

/// A primary whose daemon restarted (a package upgrade) while PostgreSQL kept serving
/// with the VIP.
fn restarted_serving(w: World) -> Harness {
    let facts = StartFacts {
        persisted: Some(PersistedState {
            role: PersistedRole::Primary,
            term: 3,
        }),
        db_in_recovery: false,
        vip_held: true,
        maintenance: None,
        run_id: 0,
    };
    Harness::new(cfg(), facts, w)
}

fn vip_effects(h: &Harness) -> usize {
    h.log
        .iter()
        .filter(|(_, a)| matches!(a, Action::TakeVip | Action::ReleaseVip))
        .count()
}

#[test]
fn a_restarted_primary_keeps_the_vip_while_it_checks() {
    // The "invisible daemon restart": the VIP is neither dropped nor re-added.
    let mut h = restarted_serving(World::master_side());
    assert_eq!(h.e.role(), Role::Hold);
    h.run_for(Duration::from_millis(100));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(vip_effects(&h), 0, "{:?}", h.log);
    assert!(!h.promoted(), "a writable DB needs no re-opening");
}

#[test]
fn a_restarted_primary_drops_the_vip_when_no_evidence_comes_in_time() {
    let mut h = restarted_serving(World {
        serial: Answer::Silent,
        remote_db: Answer::Silent,
        ..World::master_side()
    });
    let window = h.e.config().slowest_peer_detection();
    h.run_for(window - Duration::from_millis(1));
    assert_eq!(vip_effects(&h), 0);
    h.run_for(Duration::from_millis(2));
    assert_eq!(h.e.role(), Role::Hold);
    assert_eq!(
        h.log
            .iter()
            .filter(|(_, a)| *a == Action::ReleaseVip)
            .count(),
        1
    );
}

#[test]
fn a_restarted_primary_keeping_the_vip_fences_when_the_peer_won() {
    let mut h = restarted_serving(World {
        peer: peer_state(Role::Primary, 4),
        ..World::master_side()
    });
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.log.iter().any(|(_, a)| *a == Action::ReleaseVip));
    assert!(!h.log.iter().any(|(_, a)| *a == Action::TakeVip));
}

#[test]
fn a_standby_starting_with_the_vip_releases_it() {
    // A stale address from an earlier run would answer for the primary's.
    let facts = StartFacts {
        persisted: None,
        db_in_recovery: true,
        vip_held: true,
        maintenance: None,
        run_id: 0,
    };
    let h = Harness::new(cfg(), facts, World::standby_side());
    assert_eq!(h.e.role(), Role::Standby);
    assert!(h.log.iter().any(|(_, a)| *a == Action::ReleaseVip));
}
