//! Rule `rejoin-after-fence`: a fenced node becomes the standby of the peer that is
//! primary in a higher term, on the operator's request, by itself with `auto_rejoin`
//! (only after a lost gateway or a lost term, a bounded number of times), and again
//! after a restart that interrupted a rejoin. Always on fresh evidence.

use std::time::Duration;

use crate::harness::{
    alarmed, cfg, decided, peer_state, replica, unwindowed, Answer, Harness, World,
};
use twinbeat_core::{
    Action, Config, DecisionKind, Input, Instant, PeerDbReading, PersistedRole, PersistedState,
    Reason, RejoinRefused, Role, StartFacts, AUTO_REJOIN_RETRY,
};

/// A master fenced for a lost gateway (its standby said it can take over); the
/// standby then promoted in term 2, and the harness's peer says so in every frame.
fn fenced_for_lost_gateway(cfg: Config) -> Harness {
    let mut h = Harness::master_with(cfg, World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert_eq!(h.e.role(), Role::Fenced, "the harness must fence first");
    h.world.local_db = None;
    h.world.peer = peer_state(Role::Primary, 2);
    h
}

fn persists(h: &Harness, since: Instant) -> Vec<PersistedState> {
    h.log
        .iter()
        .filter(|(t, _)| *t >= since)
        .filter_map(|(_, a)| match a {
            Action::Persist(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn rejoins(h: &Harness, since: Instant) -> Vec<Action> {
    h.log
        .iter()
        .filter(|(t, a)| *t >= since && matches!(a, Action::Rejoin { .. }))
        .map(|(_, a)| unwindowed(*a))
        .collect()
}

fn state(role: PersistedRole, term: u64) -> PersistedState {
    PersistedState { role, term }
}

#[test]
fn a_fenced_node_rejoins_on_request_as_the_standby_of_the_primary_in_a_higher_term() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.run_for(Duration::from_secs(2));
    let since = h.now;
    assert_eq!(h.e.request_rejoin(h.now, false), Ok(2));
    h.drain();
    assert!(h.e.rejoin_progress().is_some());
    h.run_for(Duration::from_secs(5));
    assert_eq!(
        rejoins(&h, since),
        [Action::Rejoin {
            term: 2,
            reclone: false,
            deadline: Instant::ZERO
        }]
    );
    assert_eq!(
        persists(&h, since),
        [
            state(PersistedRole::Rejoining, 1),
            state(PersistedRole::Standby, 2)
        ],
        "rejoining is on disk before the rewind starts; the standby's term after it"
    );
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.term(), 2);
    assert!(!h.e.is_fenced());
    assert!(h.e.rejoin_progress().is_none());
    assert!(decided(&h, DecisionKind::Rejoin, Reason::OperatorRejoin));
    assert!(decided(&h, DecisionKind::Standby, Reason::OperatorRejoin));
    // The rejoined standby watches its DB and the master again, and says so.
    let frames_after = h.count_since(since, |a| {
        matches!(a, Action::SendPing { state, .. } if state.role == Role::Standby && !state.fenced)
    });
    assert!(frames_after > 0);
}

#[test]
fn a_rejoin_asks_for_a_reclone_when_the_operator_does() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.run_for(Duration::from_secs(2));
    let since = h.now;
    assert_eq!(h.e.request_rejoin(h.now, true), Ok(2));
    h.drain();
    h.run_for(Duration::from_secs(1));
    assert_eq!(
        rejoins(&h, since),
        [Action::Rejoin {
            term: 2,
            reclone: true,
            deadline: Instant::ZERO
        }]
    );
}

#[test]
fn a_rejoin_carries_the_end_of_its_window() {
    let c = Config {
        rejoin_timeout: Duration::from_secs(600),
        ..cfg()
    };
    let mut h = fenced_for_lost_gateway(c);
    h.run_for(Duration::from_secs(2));
    h.world.rejoin = Answer::Silent;
    h.e.request_rejoin(h.now, false).expect("accepted");
    h.drain();
    h.run_for(Duration::from_millis(10));
    let (at, deadline) = h
        .log
        .iter()
        .find_map(|(t, a)| match a {
            Action::Rejoin { deadline, .. } => Some((*t, *deadline)),
            _ => None,
        })
        .expect("a rejoin");
    assert_eq!(deadline, at + Duration::from_secs(600));
}

#[test]
fn a_rejoin_is_refused_without_fresh_evidence_of_a_primary_in_a_higher_term() {
    let mut h = fenced_for_lost_gateway(cfg());
    // The peer says it is still a standby in the old term.
    h.world.peer = peer_state(Role::Standby, 1);
    h.run_for(Duration::from_secs(3));
    assert_eq!(
        h.e.request_rejoin(h.now, false),
        Err(RejoinRefused::NoPrimaryPeer { term: 1 })
    );
    // It was primary in term 2, but nothing was heard for longer than
    // `peer_state_max_age` and its PostgreSQL does not answer.
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(3));
    h.world.serial = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.run_for(h.e.config().peer_state_max_age + Duration::from_secs(1));
    assert_eq!(
        h.e.request_rejoin(h.now, false),
        Err(RejoinRefused::NoPrimaryPeer { term: 1 })
    );
    assert!(rejoins(&h, Instant::ZERO).is_empty());
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn only_a_fenced_node_rejoins() {
    let mut h = Harness::master(World::master_side());
    assert_eq!(
        h.e.request_rejoin(h.now, false),
        Err(RejoinRefused::NotFenced(Role::Primary))
    );
    let mut s = Harness::standby(World::standby_side());
    s.settle();
    assert_eq!(
        s.e.request_rejoin(s.now, false),
        Err(RejoinRefused::NotFenced(Role::Standby))
    );
}

#[test]
fn the_remote_db_path_alone_is_evidence_enough_to_rejoin() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.world.serial = Answer::Silent;
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: Some(2),
        timeline: 2,
        wal_lsn: 5000,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(h.e.config().peer_state_max_age + Duration::from_secs(1));
    assert_eq!(h.e.request_rejoin(h.now, false), Ok(2));
}

#[test]
fn a_failed_rejoin_stays_fenced_persists_fenced_again_and_alarms() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.world.rejoin = Answer::FailFast;
    h.run_for(Duration::from_secs(2));
    let since = h.now;
    h.e.request_rejoin(h.now, false).expect("accepted");
    h.drain();
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.e.is_fenced());
    assert!(alarmed(&h, Reason::RejoinFailed));
    assert_eq!(
        persists(&h, since),
        [
            state(PersistedRole::Rejoining, 1),
            state(PersistedRole::Fenced, 1)
        ]
    );
    // Without `auto_rejoin` nothing tries again by itself; the operator may.
    h.run_for(AUTO_REJOIN_RETRY * 3);
    assert_eq!(rejoins(&h, since).len(), 1);
    h.world.rejoin = Answer::Ok;
    assert_eq!(h.e.request_rejoin(h.now, true), Ok(2));
}

#[test]
fn auto_rejoin_is_off_by_default() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.run_for(Duration::from_secs(60));
    assert!(rejoins(&h, Instant::ZERO).is_empty());
    assert_eq!(h.e.role(), Role::Fenced);
}

fn auto() -> Config {
    Config {
        auto_rejoin: true,
        auto_rejoin_attempts: 2,
        ..cfg()
    }
}

#[test]
fn auto_rejoin_follows_a_fence_for_a_lost_gateway_once_the_peer_is_primary() {
    let mut h = fenced_for_lost_gateway(auto());
    h.run_for(Duration::from_secs(5));
    assert!(decided(&h, DecisionKind::Rejoin, Reason::AutoRejoin));
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.term(), 2);
}

#[test]
fn auto_rejoin_follows_a_lost_term() {
    // A returning primary of term 1 hears the peer primary in term 2: it fences
    // (rule `higher-term-wins`), then rejoins.
    let mut w = World::master_side();
    w.peer = peer_state(Role::Primary, 2);
    w.local_db = Some(replica(1000));
    let mut h = Harness::new(auto(), crate::harness::primary_facts(1), w);
    h.world.local_db = None;
    h.run_for(Duration::from_secs(10));
    assert!(decided(&h, DecisionKind::Fence, Reason::PeerWins));
    assert!(decided(&h, DecisionKind::Rejoin, Reason::AutoRejoin));
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn auto_rejoin_never_follows_an_unrecoverable_own_db() {
    let mut h = Harness::master_with(auto(), World::master_side());
    h.world.local_db = None;
    h.world.restart = Answer::FailFast;
    h.run_for(Duration::from_secs(60));
    assert!(decided(&h, DecisionKind::Fence, Reason::OwnDbUnrecoverable));
    assert_eq!(h.e.role(), Role::Fenced);
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(60));
    assert!(rejoins(&h, Instant::ZERO).is_empty());
    assert_eq!(h.e.role(), Role::Fenced);
    // The operator still may, having looked at the node.
    assert_eq!(h.e.request_rejoin(h.now, false), Ok(2));
}

#[test]
fn auto_rejoin_tries_at_most_the_configured_attempts_with_a_pause_between() {
    let mut h = fenced_for_lost_gateway(auto());
    h.world.rejoin = Answer::FailFast;
    h.run_for(Duration::from_secs(2));
    h.run_for(AUTO_REJOIN_RETRY * 5);
    let at: Vec<Instant> = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Rejoin { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(at.len(), 2, "auto_rejoin_attempts = 2");
    assert!(at[1].saturating_duration_since(at[0]) >= AUTO_REJOIN_RETRY);
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn a_restart_in_rejoining_fences_again_then_takes_the_rejoin_up() {
    // The daemon stopped mid-rejoin: PostgreSQL may be half rewound, or already
    // started as a replica. `auto_rejoin` is off: the operator's request stands.
    let facts = StartFacts {
        persisted: Some(state(PersistedRole::Rejoining, 1)),
        db_in_recovery: true,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    };
    let mut w = World::master_side();
    w.peer = peer_state(Role::Primary, 2);
    w.local_db = Some(replica(1000));
    let mut h = Harness::new(cfg(), facts, w);
    h.run_for(Duration::from_secs(5));
    let stop = h
        .log
        .iter()
        .position(|(_, a)| matches!(a, Action::StopDb { .. }))
        .expect("the DB is stopped first");
    let rejoin = h
        .log
        .iter()
        .position(|(_, a)| matches!(a, Action::Rejoin { .. }))
        .expect("then the rejoin is taken up");
    assert!(stop < rejoin);
    assert!(decided(&h, DecisionKind::Rejoin, Reason::RejoinInterrupted));
    assert_eq!(h.e.role(), Role::Standby);
    assert_eq!(h.e.term(), 2);
}

#[test]
fn a_restart_in_rejoining_waits_for_evidence() {
    let facts = StartFacts {
        persisted: Some(state(PersistedRole::Rejoining, 1)),
        db_in_recovery: true,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    };
    let mut w = World::master_side();
    w.serial = Answer::Silent;
    w.remote_db = Answer::Silent;
    let mut h = Harness::new(cfg(), facts, w);
    h.run_for(Duration::from_secs(30));
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(rejoins(&h, Instant::ZERO).is_empty());
    // The peer's frames say it is primary in term 2, but its PostgreSQL, which the
    // rewind reads, does not answer: still no rejoin.
    h.world.serial = Answer::Ok;
    h.world.peer = peer_state(Role::Primary, 2);
    h.run_for(Duration::from_secs(5));
    assert!(rejoins(&h, Instant::ZERO).is_empty());
    h.world.remote_db = Answer::Ok;
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn a_rejoin_input_without_a_rejoin_under_way_is_ignored() {
    let mut h = fenced_for_lost_gateway(cfg());
    h.input(Input::Rejoined);
    assert_eq!(h.e.role(), Role::Fenced);
    assert!(h.e.is_fenced());
}
