//! Rule `remote-db-reads-role`: the remote DB path reads the peer's role, published
//! term and timeline, and every role that may serve probes the peer over IP, so a
//! second primary is seen on every path, not only on serial.

use std::time::Duration;

use crate::harness::{alarmed, decided, Answer, Harness, World};
use twinbeat_core::{Action, DecisionKind, PathId, PeerDbReading, Reason, Role};

fn probes_of(h: &Harness, path: PathId, since: twinbeat_core::Instant) -> usize {
    h.count_since(
        since,
        |a| matches!(a, Action::Probe { path: p, .. } if *p == path),
    )
}

#[test]
fn a_primary_keeps_probing_the_peer_over_ip() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    h.run_for(Duration::from_secs(1));
    assert!(probes_of(&h, PathId::Icmp, t0) > 0);
    assert!(probes_of(&h, PathId::RemoteDb, t0) > 0);
}

#[test]
fn a_primary_fences_when_the_peer_db_serves_in_a_higher_term() {
    // Serial is out: only the remote DB path carries the news.
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: Some(2),
        timeline: 2,
        wal_lsn: 0,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(Duration::from_millis(200));
    assert!(decided(&h, DecisionKind::Fence, Reason::PeerWins));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn a_primary_alarms_on_a_writable_peer_db_in_no_higher_term() {
    // Somebody promoted the standby by hand (no term published), or a stale primary:
    // no rule may settle two writable databases alone.
    let mut h = Harness::master(World::master_side());
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: None,
        timeline: 2,
        wal_lsn: 0,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Primary, "keeps serving");
    assert!(alarmed(&h, Reason::SecondWritablePeer));
}

#[test]
fn a_standby_learns_a_higher_term_from_the_peer_db() {
    let mut w = World::standby_side();
    w.serial = Answer::Silent;
    w.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: Some(6),
        timeline: 3,
        wal_lsn: 0,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_millis(200));
    assert_eq!(h.e.term(), 6);
    let (reading, _) = h.e.peer_db().expect("a reading kept for the status page");
    assert_eq!(reading.term, Some(6));
}
