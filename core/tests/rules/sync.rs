//! Rule `sync-epoch`: the primary names its standby as synchronous while it streams,
//! announces the epoch in every frame, degrades (in `sync`) only after the standby
//! acknowledged the asynchronous epoch or every claim expired, and never in `strict`;
//! a standby with an unexpired synchronous claim promotes without the lag check, and a
//! `strict` one without a claim never promotes by itself.

use std::time::Duration;

use crate::harness::{alarmed, cfg, decided, Answer, Harness, World};
use twinbeat_core::{
    Action, Config, DecisionKind, Instant, PeerDbReading, PublishedEpoch, Reason, ReplicationMode,
    Role, StandbyReading, SyncEpoch,
};

fn mode(m: ReplicationMode) -> Config {
    Config {
        replication: m,
        ..cfg()
    }
}

/// A master side whose standby streams (not named yet).
fn streaming_master_side() -> World {
    let mut w = World::master_side();
    if let Some(db) = w.local_db.as_mut() {
        db.standby = StandbyReading {
            named: false,
            streaming: true,
            synchronous: false,
        };
    }
    w
}

fn sets(h: &Harness, synchronous: bool) -> Vec<Instant> {
    h.log
        .iter()
        .filter(|(_, a)| {
            matches!(a, Action::SetSyncStandby { synchronous: s, .. } if *s == synchronous)
        })
        .map(|(t, _)| *t)
        .collect()
}

fn announced(h: &Harness) -> Option<SyncEpoch> {
    h.e.own_state().sync_epoch
}

/// A `sync` master whose standby is synchronous and announced so.
fn synchronous_master(m: ReplicationMode) -> Harness {
    let mut h = Harness::master_with(mode(m), streaming_master_side());
    h.run_for(Duration::from_secs(6));
    let named = sets(&h, true);
    assert_eq!(named.len(), 1, "names the streaming standby once");
    if m == ReplicationMode::Strict {
        // On the way out of hold, before the VIP.
        let vip = h
            .log
            .iter()
            .find(|(_, a)| *a == Action::TakeVip)
            .map(|(t, _)| *t)
            .expect("took the VIP");
        assert!(named[0] < vip, "strict names it before it takes the VIP");
    }
    assert!(
        announced(&h).is_some_and(|e| e.synchronous),
        "announces synchronous once PostgreSQL says so"
    );
    h
}

/// The standby's WAL sender stops streaming.
fn standby_stops_streaming(h: &mut Harness) {
    if let Some(db) = h.world.local_db.as_mut() {
        db.standby.streaming = false;
        db.standby.synchronous = false;
    }
}

#[test]
fn async_mode_leaves_the_names_alone_and_announces_no_epoch() {
    let mut h = Harness::master(streaming_master_side());
    h.run_for(Duration::from_secs(10));
    assert!(sets(&h, true).is_empty() && sets(&h, false).is_empty());
    assert_eq!(announced(&h), None);
}

#[test]
fn a_primary_announces_synchronous_only_after_postgres_says_the_standby_is() {
    let mut h = Harness::master_with(mode(ReplicationMode::Sync), streaming_master_side());
    // Named, but its sample has not shown the standby synchronous yet.
    h.world.sync_set_ok = true;
    let named_at = *sets(&h, true).first().expect("names the standby");
    assert!(
        announced(&h).is_some_and(|e| !e.synchronous),
        "asynchronous until a sample begun after the names shows sync_state = sync"
    );
    h.run_for(Duration::from_secs(5));
    let epoch = announced(&h).expect("an epoch");
    assert!(epoch.synchronous && epoch.since_lsn >= 1000);
    assert!(h.now > named_at);
}

#[test]
fn sync_degrades_as_soon_as_the_standby_acknowledges_the_asynchronous_epoch() {
    let mut h = synchronous_master(ReplicationMode::Sync);
    h.world.echo_sync = true;
    let sync_epoch = announced(&h).expect("an epoch");
    let t0 = h.now;
    standby_stops_streaming(&mut h);
    h.run_for(Duration::from_secs(10));
    let cleared = sets(&h, false);
    assert_eq!(cleared.len(), 1, "clears the names once");
    let wait = h.e.config().sync_degrade_wait();
    let away = h.e.config().sync_away_bound();
    assert!(
        cleared[0].saturating_duration_since(t0) < away + wait,
        "the acknowledgement ends the wait: cleared {:?} after",
        cleared[0].saturating_duration_since(t0)
    );
    let degraded = announced(&h).expect("an epoch");
    assert!(!degraded.synchronous && degraded.since_lsn > sync_epoch.since_lsn);
    assert!(h.e.sync_status().last_degraded.is_some());
}

#[test]
fn sync_without_an_acknowledgement_clears_the_names_only_once_every_claim_expired() {
    let mut h = synchronous_master(ReplicationMode::Sync);
    standby_pings(&mut h);
    // The standby's host dies: every peer path goes silent.
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    let t0 = h.now;
    h.run_for(Duration::from_secs(10));
    assert!(announced(&h).is_some_and(|e| !e.synchronous));
    let cleared = sets(&h, false);
    assert_eq!(cleared.len(), 1, "clears the names");
    // A claim is renewed only by an ack carrying a synchronous epoch, as of a ping sent
    // before it was built: the last such ack bounds every claim.
    let last_renewal = last_synchronous_ack(&h).expect("acked pings while synchronous");
    let wait = h.e.config().sync_degrade_wait();
    assert!(
        cleared[0] >= last_renewal + wait,
        "not before every claim expired: {:?} after the last synchronous ack",
        cleared[0].saturating_duration_since(last_renewal)
    );
    assert!(
        cleared[0] < last_renewal + wait + Duration::from_millis(100),
        "nor much after: {:?}",
        cleared[0].saturating_duration_since(last_renewal)
    );
    assert!(cleared[0].saturating_duration_since(t0) < Duration::from_secs(10));
}

/// The standby pings (the scripted peer only answers ours otherwise): the master's
/// ack carries its synchronous epoch and may renew a claim.
fn standby_pings(h: &mut Harness) {
    let peer = h.world.peer;
    h.input(twinbeat_core::Input::PingReceived {
        seq: 1,
        echoed: None,
        peer,
    });
    h.run_for(Duration::from_millis(300));
}

/// When the last ack carrying a synchronous epoch was built.
fn last_synchronous_ack(h: &Harness) -> Option<Instant> {
    h.log
        .iter()
        .rev()
        .find(|(_, a)| {
            matches!(a, Action::SendAck { state, .. }
                if state.sync_epoch.is_some_and(|e| e.synchronous))
        })
        .map(|(t, _)| *t)
}

#[test]
fn strict_never_degrades_and_alarms_while_the_standby_is_away() {
    let mut h = synchronous_master(ReplicationMode::Strict);
    h.world.echo_sync = true;
    standby_stops_streaming(&mut h);
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(60));
    assert!(sets(&h, false).is_empty(), "strict never clears the names");
    assert!(announced(&h).is_some_and(|e| e.synchronous));
    assert!(alarmed(&h, Reason::SyncStandbyAway));
}

#[test]
fn sync_names_the_standby_again_once_it_streams() {
    let mut h = synchronous_master(ReplicationMode::Sync);
    h.world.echo_sync = true;
    let first = announced(&h).expect("an epoch");
    standby_stops_streaming(&mut h);
    h.run_for(Duration::from_secs(10));
    assert_eq!(sets(&h, false).len(), 1);
    if let Some(db) = h.world.local_db.as_mut() {
        db.standby.streaming = true;
    }
    h.run_for(Duration::from_secs(10));
    assert_eq!(sets(&h, true).len(), 2, "named again");
    let again = announced(&h).expect("an epoch");
    assert!(again.synchronous && again.since_lsn > first.since_lsn);
}

#[test]
fn a_failed_change_of_the_names_is_tried_again() {
    let mut w = streaming_master_side();
    w.sync_set_ok = false;
    let mut h = Harness::master_with(mode(ReplicationMode::Sync), w);
    h.run_for(Duration::from_secs(5));
    assert!(sets(&h, true).len() >= 2, "tries again after SYNC_RETRY");
    assert!(announced(&h).is_some_and(|e| !e.synchronous));
}

/// A standby whose primary's frames carry `epoch`, lagging further than
/// `max_lag_on_failover` behind it; then the primary's host dies.
fn standby_when_master_dies(m: ReplicationMode, epoch: SyncEpoch, lsn: u64) -> Harness {
    let mut w = World::standby_side();
    w.peer.sync_epoch = Some(epoch);
    w.peer.wal_lsn = lsn;
    let mut h = Harness::new(mode(m), crate::harness::standby_facts(), w);
    h.run_for(Duration::from_secs(5));
    assert_eq!(
        h.e.own_state().sync_epoch,
        Some(epoch),
        "the standby's frames echo its primary's epoch"
    );
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(5));
    h
}

const SYNCHRONOUS: SyncEpoch = SyncEpoch {
    synchronous: true,
    since_lsn: 900,
};
const ASYNCHRONOUS: SyncEpoch = SyncEpoch {
    synchronous: false,
    since_lsn: 900,
};
/// Far past the replica's 1000 + `max_lag_on_failover`.
const FAR_AHEAD: u64 = 1000 + 64 * 1024 * 1024;

fn promoted_with(h: &Harness) -> Option<Option<bool>> {
    h.log.iter().find_map(|(_, a)| match a {
        Action::Promote { synchronous, .. } => Some(*synchronous),
        _ => None,
    })
}

#[test]
fn a_standby_with_an_unexpired_claim_promotes_without_the_lag_check() {
    let h = standby_when_master_dies(ReplicationMode::Sync, SYNCHRONOUS, FAR_AHEAD);
    assert_eq!(
        promoted_with(&h),
        Some(Some(false)),
        "promotes, and clears the names (its peer is gone)"
    );
    let h = standby_when_master_dies(ReplicationMode::Strict, SYNCHRONOUS, FAR_AHEAD);
    assert_eq!(
        promoted_with(&h),
        Some(Some(true)),
        "strict names the old primary: commits wait until it rejoins"
    );
}

#[test]
fn a_sync_standby_without_a_claim_is_held_to_the_lag_check() {
    let h = standby_when_master_dies(ReplicationMode::Sync, ASYNCHRONOUS, FAR_AHEAD);
    assert_eq!(promoted_with(&h), None);
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::Log(twinbeat_core::Event::Decision(d))
            if d.kind == DecisionKind::NoPromotion && matches!(d.reason, Reason::LagTooHigh { .. })
    )));
    let h = standby_when_master_dies(ReplicationMode::Sync, ASYNCHRONOUS, 1000);
    assert_eq!(
        promoted_with(&h),
        Some(Some(false)),
        "within the lag: promotes"
    );
}

#[test]
fn a_strict_standby_without_a_claim_never_promotes_by_itself() {
    let h = standby_when_master_dies(ReplicationMode::Strict, ASYNCHRONOUS, 1000);
    assert_eq!(promoted_with(&h), None);
    assert!(decided(&h, DecisionKind::NoPromotion, Reason::NoSyncClaim));
}

#[test]
fn a_claim_expires_after_peer_state_max_age_without_a_fresh_epoch() {
    let mut w = World::standby_side();
    w.peer.sync_epoch = Some(SYNCHRONOUS);
    let mut h = Harness::new(
        mode(ReplicationMode::Strict),
        crate::harness::standby_facts(),
        w,
    );
    h.run_for(Duration::from_secs(5));
    assert!(h.e.sync_status().claim);
    // Frames stop; the other paths stay up, so nothing promotes.
    h.world.serial = Answer::Silent;
    let max_age = h.e.config().peer_state_max_age;
    h.run_for(max_age - Duration::from_secs(1));
    assert!(h.e.sync_status().claim, "still within peer_state_max_age");
    h.run_for(Duration::from_secs(2));
    assert!(!h.e.sync_status().claim, "expired");
}

#[test]
fn serial_alone_never_degrades_the_wal_runs_over_ip() {
    let mut h = synchronous_master(ReplicationMode::Sync);
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(sets(&h, false).is_empty());
    assert!(announced(&h).is_some_and(|e| e.synchronous));
}

#[test]
fn a_suspect_standby_that_recovers_is_announced_synchronous_again_without_a_degrade() {
    let mut h = synchronous_master(ReplicationMode::Sync);
    let first = announced(&h).expect("an epoch");
    // ICMP alone fails for a while: suspect, not gone.
    h.world.icmp = Answer::Silent;
    h.run_for(Duration::from_secs(3));
    assert!(
        announced(&h).is_some_and(|e| !e.synchronous),
        "stops renewing claims at the first sign"
    );
    h.world.icmp = Answer::Ok;
    h.run_for(Duration::from_secs(5));
    assert!(sets(&h, false).is_empty(), "never degraded");
    let again = announced(&h).expect("an epoch");
    assert!(again.synchronous && again.since_lsn > first.since_lsn);
}

#[test]
fn a_claim_is_renewed_only_by_an_ack_to_the_standbys_own_ping() {
    // The primary's pings say synchronous, its acks say nothing (it runs `async`): a
    // ping proves nothing about when it was built, so no claim.
    let mut w = World::standby_side();
    w.peer.sync_epoch = None;
    let mut h = Harness::new(
        mode(ReplicationMode::Sync),
        crate::harness::standby_facts(),
        w,
    );
    h.run_for(Duration::from_secs(2));
    let mut ping = h.world.peer;
    ping.sync_epoch = Some(SYNCHRONOUS);
    h.input(twinbeat_core::Input::PingReceived {
        seq: 7,
        echoed: None,
        peer: ping,
    });
    assert!(!h.e.sync_status().claim, "a ping does not renew a claim");
    h.world.peer.sync_epoch = Some(SYNCHRONOUS);
    h.run_for(Duration::from_secs(2));
    assert!(h.e.sync_status().claim, "an ack to its own ping does");
}

#[test]
fn an_epoch_older_than_the_one_held_is_stale_and_ignored() {
    let mut w = World::standby_side();
    w.peer.sync_epoch = Some(SyncEpoch {
        synchronous: false,
        since_lsn: 2000,
    });
    let mut h = Harness::new(
        mode(ReplicationMode::Sync),
        crate::harness::standby_facts(),
        w,
    );
    h.run_for(Duration::from_secs(2));
    assert!(!h.e.sync_status().claim);
    // A frame overtaken by the degrade: its synchronous epoch began earlier.
    h.world.peer.sync_epoch = Some(SYNCHRONOUS);
    h.run_for(Duration::from_secs(2));
    assert!(!h.e.sync_status().claim, "never back to an older epoch");
    assert_eq!(
        h.e.own_state().sync_epoch.map(|e| e.since_lsn),
        Some(2000),
        "still acknowledges the newer one"
    );
}

/// The primary's epoch as its PostgreSQL shows it to the standby's remote DB path.
fn published_by_primary(term: u64, epoch: SyncEpoch) -> PeerDbReading {
    PeerDbReading {
        sync_epoch: Some(PublishedEpoch {
            term,
            run: 7,
            epoch,
        }),
        ..crate::harness::peer_db_of(&crate::harness::peer_state(Role::Primary, term))
    }
}

#[test]
fn over_the_db_path_a_standby_takes_an_asynchronous_epoch_and_acknowledges_it() {
    let mut w = World::standby_side();
    w.peer.sync_epoch = Some(SYNCHRONOUS);
    let mut h = Harness::new(
        mode(ReplicationMode::Sync),
        crate::harness::standby_facts(),
        w,
    );
    h.run_for(Duration::from_secs(3));
    assert!(h.e.sync_status().claim);
    let term = h.e.own_state().term;
    // Serial goes down; the primary degrades and publishes the asynchronous epoch.
    h.world.serial = Answer::Silent;
    let degraded = SyncEpoch {
        synchronous: false,
        since_lsn: 2000,
    };
    // Another term's value (left by an earlier primary) proves nothing.
    h.world.peer_db = Some(published_by_primary(term + 1, degraded));
    h.world.peer_db.as_mut().unwrap().term = None;
    h.run_for(Duration::from_millis(500));
    assert!(h.e.sync_status().claim, "another term's epoch is ignored");
    assert_eq!(h.world.published_sync, None);
    h.world.peer_db = Some(published_by_primary(term, degraded));
    h.run_for(Duration::from_millis(500));
    assert!(
        !h.e.sync_status().claim,
        "the asynchronous epoch ends the claim"
    );
    let ack = PublishedEpoch {
        term,
        run: 7,
        epoch: degraded,
    };
    assert_eq!(
        h.world.published_sync,
        Some(ack),
        "and it acknowledges it there"
    );
    let acks = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::PublishSyncAck(_)))
        .count();
    assert_eq!(acks, 1, "once");
}

#[test]
fn over_the_db_path_a_synchronous_epoch_renews_no_claim() {
    // Nothing bounds how long ago a value in PostgreSQL was written.
    let mut w = World::standby_side();
    w.serial = Answer::Silent;
    let mut h = Harness::new(
        mode(ReplicationMode::Strict),
        crate::harness::standby_facts(),
        w,
    );
    let term = h.e.own_state().term;
    h.world.peer_db = Some(published_by_primary(term, SYNCHRONOUS));
    h.run_for(Duration::from_secs(3));
    assert!(!h.e.sync_status().claim);
    assert_eq!(h.world.published_sync, None, "nothing to acknowledge");
}

/// A `sync` master whose serial path is down and whose standby stopped streaming:
/// the standby can acknowledge only over the remote DB path.
fn degrading_without_serial() -> (Harness, PublishedEpoch) {
    let mut h = synchronous_master(ReplicationMode::Sync);
    standby_pings(&mut h);
    h.world.serial = Answer::Silent;
    standby_stops_streaming(&mut h);
    let mut published = None;
    for _ in 0..100 {
        h.run_for(Duration::from_millis(20));
        published = h.world.published_sync.filter(|p| !p.epoch.synchronous);
        if published.is_some() {
            break;
        }
    }
    let published = published.expect("publishes the asynchronous epoch");
    assert_eq!(Some(published.epoch), announced(&h));
    (h, published)
}

#[test]
fn sync_degrades_on_an_acknowledgement_read_over_the_db_path() {
    let (mut h, published) = degrading_without_serial();
    let t0 = h.now;
    h.world.peer_db = Some(PeerDbReading {
        sync_ack: Some(published),
        ..crate::harness::peer_db_of(&h.world.peer)
    });
    h.run_for(Duration::from_secs(10));
    let cleared = sets(&h, false);
    assert_eq!(cleared.len(), 1, "clears the names once");
    let away = h.e.config().sync_away_bound();
    let renewed = last_synchronous_ack(&h).expect("acked while synchronous");
    let wait = h.e.config().sync_degrade_wait();
    assert!(
        cleared[0] < renewed + wait && cleared[0] <= t0 + away,
        "the acknowledgement ends the wait: cleared {:?} after",
        cleared[0].saturating_duration_since(t0)
    );
}

#[test]
fn an_acknowledgement_left_by_an_earlier_run_is_not_one() {
    let (mut h, published) = degrading_without_serial();
    // The same term and epoch, written for a primary daemon that has since restarted.
    let stale = PublishedEpoch {
        run: published.run.wrapping_add(1),
        ..published
    };
    h.world.peer_db = Some(PeerDbReading {
        sync_ack: Some(stale),
        ..crate::harness::peer_db_of(&h.world.peer)
    });
    h.run_for(Duration::from_secs(10));
    let cleared = sets(&h, false);
    assert_eq!(cleared.len(), 1);
    let renewed = last_synchronous_ack(&h).expect("acked while synchronous");
    assert!(
        cleared[0] >= renewed + h.e.config().sync_degrade_wait(),
        "waits for every claim to expire"
    );
}
