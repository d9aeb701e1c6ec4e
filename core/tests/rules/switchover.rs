//! Rule `planned-switchover`: the master demotes (persist `demoting`, release the VIP,
//! stop cleanly, hand the final LSN over in its frames), the standby promotes once it
//! has replayed past it, the old master follows the new primary; refused unless the
//! pair is whole; interrupted or timed out, it resumes or withdraws safely.

use std::time::Duration;

use crate::harness::{
    cfg, decided, peer_state, replica, unwindowed, writable, Answer, Harness, World,
};
use twinbeat_core::{
    Action, DecisionKind, Instant, NodeId, NodeState, PathId, PersistedRole, PersistedState,
    Reason, Role, StartFacts, SwitchoverRefused, SwitchoverSide, SwitchoverStage,
};

fn effects_since(h: &Harness, since: Instant) -> Vec<Action> {
    h.log
        .iter()
        .filter(|(t, _)| *t >= since)
        .map(|(_, a)| unwindowed(*a))
        .filter(|a| {
            matches!(
                a,
                Action::Persist(_)
                    | Action::ReleaseVip
                    | Action::TakeVip
                    | Action::Demote { .. }
                    | Action::Rejoin { .. }
                    | Action::RestartDb { .. }
                    | Action::Promote { .. }
                    | Action::StopDb { .. }
            )
        })
        .collect()
}

/// The stages the node's frames carried since `since`, deduplicated in order.
fn stages_sent(h: &Harness, since: Instant) -> Vec<Option<SwitchoverStage>> {
    let mut out: Vec<Option<SwitchoverStage>> = Vec::new();
    for (_, a) in h.log.iter().filter(|(t, _)| *t >= since) {
        if let Action::SendPing { state, .. } | Action::SendAck { state, .. } = a {
            if out.last() != Some(&state.switchover) {
                out.push(state.switchover);
            }
        }
    }
    out
}

fn demoting(term: u64, lsn: u64) -> NodeState {
    NodeState {
        switchover: Some(SwitchoverStage::Stopped { lsn }),
        db_healthy: false,
        ..peer_state(Role::Demoting, term)
    }
}

fn persisted(role: PersistedRole, term: u64) -> Action {
    Action::Persist(PersistedState { role, term })
}

/// `demoting`, handing over to the harness's peer (node 2).
fn demoting_to_peer(final_lsn: Option<u64>) -> PersistedRole {
    PersistedRole::Demoting {
        to: NodeId(2),
        final_lsn,
    }
}

/// A master that ran `twinbeat switchover` and has stopped at final LSN 1000.
fn stopped_master() -> Harness {
    let mut h = Harness::master(World::master_side());
    assert_eq!(h.e.request_switchover(h.now), Ok(1));
    h.drain();
    h.run_for(Duration::from_millis(50));
    assert_eq!(h.e.role(), Role::Demoting);
    h
}

#[test]
fn the_master_persists_demoting_releases_the_vip_then_stops_and_sends_its_final_lsn() {
    let mut h = Harness::master(World::master_side());
    let since = h.now;
    h.world.final_lsn = 4242;
    assert_eq!(h.e.request_switchover(h.now), Ok(1));
    h.drain();
    h.run_for(Duration::from_millis(50));
    assert_eq!(
        effects_since(&h, since),
        [
            persisted(demoting_to_peer(None), 1),
            Action::ReleaseVip,
            Action::Demote {
                deadline: Instant::ZERO
            },
            persisted(demoting_to_peer(Some(4242)), 1),
        ]
    );
    assert!(decided(
        &h,
        DecisionKind::Switchover,
        Reason::OperatorSwitchover
    ));
    assert_eq!(
        stages_sent(&h, since),
        [
            Some(SwitchoverStage::Stopping),
            Some(SwitchoverStage::Stopped { lsn: 4242 })
        ]
    );
    let progress = h.e.switchover().expect("under way");
    assert_eq!(progress.side, SwitchoverSide::HandingOver);
    assert_eq!(progress.stage, SwitchoverStage::Stopped { lsn: 4242 });
    // Its PostgreSQL stopped on purpose: no restart, no fence.
    h.run_for(Duration::from_secs(20));
    assert_eq!(h.e.role(), Role::Demoting);
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::RestartDb { .. } | Action::StopDb { .. })));
}

#[test]
fn the_old_master_follows_the_standby_once_it_is_primary_in_the_next_term() {
    let mut h = stopped_master();
    let since = h.now;
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.term(), 2);
    assert_eq!(
        effects_since(&h, since),
        [
            Action::Rejoin {
                term: 2,
                reclone: false,
                deadline: Instant::ZERO
            },
            persisted(PersistedRole::Standby, 2),
        ]
    );
    assert!(h.e.switchover().is_none());
}

#[test]
fn the_old_master_waits_while_the_standby_promotes_and_does_not_fence_on_its_higher_term() {
    let mut h = stopped_master();
    h.world.peer = peer_state(Role::Promoting, 2);
    h.run_for(cfg().switchover_timeout * 3);
    assert_eq!(h.e.role(), Role::Demoting);
    assert!(!h.fenced_started());
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn the_old_master_follows_a_successor_seen_only_on_the_remote_db_path() {
    let mut h = stopped_master();
    h.world.serial = Answer::Silent;
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(3));
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Rejoin { term: 2, .. })));
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn the_standby_promotes_only_once_it_has_replayed_past_the_final_lsn() {
    let mut w = World::standby_side();
    w.local_db = Some(replica(4000));
    let mut h = Harness::standby(w);
    h.settle();
    h.world.peer = demoting(1, 5000);
    h.run_for(Duration::from_secs(3));
    assert!(!h.promoted(), "replay is behind the final LSN");
    assert_eq!(h.e.role(), Role::Standby);
    let progress = h.e.switchover().expect("taking over");
    assert_eq!(progress.side, SwitchoverSide::TakingOver);
    // Replay reaches the checkpoint record's end: past its start.
    h.world.local_db = Some(replica(5001));
    let since = h.now;
    h.run_for(Duration::from_millis(100));
    assert!(h.promoted());
    assert_eq!(h.e.term(), 2);
    assert!(decided(&h, DecisionKind::Promote, Reason::Switchover));
    // The master released the VIP before it stopped: no ARP probe to wait for.
    assert_eq!(
        h.count_since(since, |a| matches!(a, Action::VipArpProbe { .. })),
        0
    );
    h.run_for(Duration::from_millis(100));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn a_standby_does_not_promote_once_the_master_withdrew_its_offer() {
    let mut w = World::standby_side();
    w.local_db = Some(replica(4000));
    let mut h = Harness::standby(w);
    h.settle();
    h.world.peer = demoting(1, 5000);
    h.run_for(Duration::from_secs(2));
    // The master withdrew: it holds, its frames carry no final LSN.
    h.world.peer = peer_state(Role::Hold, 1);
    h.run_for(Duration::from_secs(2));
    h.world.local_db = Some(replica(6000));
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn a_standby_promoting_for_a_switchover_is_not_aborted_by_the_stopped_masters_frames() {
    let mut w = World::standby_side();
    w.local_db = Some(replica(6000));
    // Persisting "promoting" takes a while: the master's frames arrive meanwhile.
    let mut h = Harness::standby(w);
    h.settle();
    h.world.peer = demoting(1, 5000);
    h.world.effects_ok = true;
    h.run_for(Duration::from_secs(3));
    assert!(h.promoted());
    assert!(!decided(&h, DecisionKind::Standby, Reason::PeerHeard));
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn a_switchover_is_refused_unless_the_pair_is_whole_and_the_standby_close_behind() {
    // Lagging (not streaming): the standby's received WAL is far behind.
    let mut w = World::master_side();
    w.peer.wal_lsn = 0;
    w.local_db = Some(writable(100 * 1024 * 1024));
    let mut h = Harness::master(w);
    assert!(matches!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::Lagging { .. })
    ));
    // Serial down.
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(8));
    assert_eq!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::SerialDown)
    );
    // Degraded: the remote DB path is down.
    let mut h = Harness::master(World::master_side());
    h.world.remote_db = Answer::FailFast;
    h.run_for(Duration::from_secs(3));
    assert_eq!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::Degraded(PathId::RemoteDb))
    );
    // Paused.
    let mut h = Harness::master(World::master_side());
    h.e.pause(h.now, None);
    h.drain();
    assert_eq!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::Paused)
    );
    // The standby's PostgreSQL is down.
    let mut h = Harness::master(World::master_side());
    h.world.peer.db_healthy = false;
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::StandbyNotReady)
    );
    // Nothing was done by any of them.
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Demote { .. })));
    // Neither a fenced node nor one in hold switches over.
    let mut h = Harness::new(
        cfg(),
        StartFacts {
            persisted: Some(PersistedState {
                role: PersistedRole::Fenced,
                term: 1,
            }),
            ..crate::harness::primary_facts(1)
        },
        World::master_side(),
    );
    h.run_for(Duration::from_secs(1));
    assert_eq!(
        h.e.request_switchover(h.now),
        Err(SwitchoverRefused::WrongRole(Role::Fenced))
    );
}

#[test]
fn the_standby_asks_in_its_frames_and_the_master_starts_the_switchover() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let since = h.now;
    assert_eq!(h.e.request_switchover(h.now), Ok(1));
    h.drain();
    h.run_for(Duration::from_millis(10));
    assert_eq!(
        stages_sent(&h, since).first(),
        Some(&Some(SwitchoverStage::Requested))
    );
    // The master side: a frame carrying the request starts its demotion.
    let mut m = Harness::master(World::master_side());
    m.world.peer.switchover = Some(SwitchoverStage::Requested);
    m.run_for(Duration::from_secs(2));
    assert!(decided(
        &m,
        DecisionKind::Switchover,
        Reason::PeerRequestedSwitchover
    ));
    assert_eq!(m.e.role(), Role::Demoting);
}

#[test]
fn a_master_refuses_a_standbys_request_it_cannot_honour_and_says_why() {
    let mut w = World::master_side();
    w.peer.wal_lsn = 0;
    w.local_db = Some(writable(100 * 1024 * 1024));
    let mut m = Harness::master(w);
    m.world.peer.switchover = Some(SwitchoverStage::Requested);
    m.run_for(Duration::from_secs(3));
    assert_eq!(m.e.role(), Role::Primary);
    assert!(m.log.iter().any(|(_, a)| matches!(
        a,
        Action::Log(twinbeat_core::Event::Decision(d))
            if d.kind == DecisionKind::NoSwitchover
                && matches!(d.reason, Reason::SwitchoverRefused(SwitchoverRefused::Lagging { .. }))
    )));
}

#[test]
fn without_a_successor_the_master_withdraws_and_reopens_only_on_a_fresh_round_trip() {
    let mut h = stopped_master();
    // The standby never takes over; its PostgreSQL restarts read-only (start guard).
    // Nothing reaches the master from it after the withdrawal, on serial or on the
    // remote DB path (rule `hold-needs-evidence` takes either).
    h.world.local_db = Some(replica(1000));
    h.world.serial = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    let since = h.now;
    h.run_for(cfg().switchover_timeout + Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Hold);
    assert!(decided(
        &h,
        DecisionKind::NoSwitchover,
        Reason::SwitchoverTimedOut
    ));
    assert_eq!(
        effects_since(&h, since),
        [
            persisted(PersistedRole::Primary, 1),
            Action::RestartDb {
                lift_guard: false,
                deadline: Instant::ZERO
            }
        ]
    );
    // No frame since the withdrawal: the standby may have promoted; no re-open.
    h.run_for(Duration::from_secs(3));
    assert!(!h.promoted());
    assert_eq!(h.e.role(), Role::Hold);
    // The standby answers, still standby in term 1: re-open in the master's term.
    h.world.serial = Answer::Ok;
    h.run_for(Duration::from_secs(3));
    assert!(h.promoted());
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 1);
}

#[test]
fn a_withdrawing_master_that_hears_the_standby_promoted_fences() {
    let mut h = stopped_master();
    h.world.local_db = Some(replica(1000));
    h.world.serial = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.run_for(cfg().switchover_timeout + Duration::from_secs(1));
    assert_eq!(h.e.role(), Role::Hold);
    h.world.serial = Answer::Ok;
    h.world.peer = peer_state(Role::Promoting, 2);
    h.run_for(Duration::from_secs(3));
    assert!(h.fenced_started());
    assert!(!h.promoted());
}

#[test]
fn a_failed_demote_withdraws_and_the_master_reopens() {
    let mut w = World::master_side();
    w.demote = Answer::FailFast;
    let mut h = Harness::master(w);
    assert_eq!(h.e.request_switchover(h.now), Ok(1));
    h.drain();
    h.world.local_db = Some(replica(1000));
    h.run_for(Duration::from_secs(5));
    assert!(decided(
        &h,
        DecisionKind::NoSwitchover,
        Reason::DemoteFailed
    ));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 1);
}

#[test]
fn a_failed_follow_fences_the_old_master_for_the_operator() {
    let mut h = stopped_master();
    h.world.rejoin = Answer::FailFast;
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(crate::harness::alarmed(&h, Reason::RejoinFailed));
}

#[test]
fn a_restart_in_demoting_stops_again_and_follows_a_peer_already_primary() {
    let mut w = World::master_side();
    w.peer = peer_state(Role::Primary, 2);
    let facts = StartFacts {
        persisted: Some(PersistedState {
            role: demoting_to_peer(Some(1000)),
            term: 1,
        }),
        db_in_recovery: false,
        vip_held: true,
        maintenance: None,
        run_id: 0,
    };
    let mut h = Harness::new(cfg(), facts, w);
    h.run_for(Duration::from_secs(3));
    assert_eq!(
        effects_since(&h, Instant::ZERO),
        [
            Action::ReleaseVip,
            Action::Demote {
                deadline: Instant::ZERO
            },
            persisted(demoting_to_peer(Some(1000)), 1),
            Action::Rejoin {
                term: 2,
                reclone: false,
                deadline: Instant::ZERO
            },
            persisted(PersistedRole::Standby, 2),
        ]
    );
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn a_demote_and_its_wait_carry_the_switchover_timeout_as_their_window() {
    let mut h = Harness::master(World::master_side());
    h.e.request_switchover(h.now).expect("accepted");
    h.drain();
    h.run_for(Duration::from_millis(10));
    let (at, deadline) = h
        .log
        .iter()
        .find_map(|(t, a)| match a {
            Action::Demote { deadline } => Some((*t, *deadline)),
            _ => None,
        })
        .expect("demote");
    assert_eq!(deadline, at + cfg().switchover_timeout);
    assert_eq!(
        h.e.switchover().map(|p| p.reason),
        Some(Reason::OperatorSwitchover)
    );
}
