//! Rule `fence-handshake`: a master that wants to fence asks the standby "take over at
//! LSN P?" in its frames and fences only on a "ready" the standby built after the
//! question, after its own fresh checks; a refusal or silence keeps it serving with an
//! alarm.

use std::time::Duration;

use crate::harness::{alarmed, decided, peer_state, replica, Answer, Harness, World};
use twinbeat_core::{
    Action, DecisionKind, Event, Handover, Input, PathId, PeerDbReading, Published, Reason, Role,
    Stage, TakeoverRefusal, TakeoverVerdict,
};

/// When the master first asked, and the `seq` of its first ping carrying the question.
fn first_question(h: &Harness) -> Option<(twinbeat_core::Instant, u32)> {
    h.log.iter().find_map(|(t, a)| match a {
        Action::SendPing { seq, state, .. }
            if matches!(state.handover, Some(Handover::Asked { .. })) =>
        {
            Some((*t, *seq))
        }
        _ => None,
    })
}

fn first_stop(h: &Harness) -> Option<twinbeat_core::Instant> {
    h.log
        .iter()
        .find(|(_, a)| matches!(a, Action::StopDb { .. }))
        .map(|(t, _)| *t)
}

#[test]
fn the_master_fences_only_after_the_standby_answers_ready() {
    let mut h = Harness::master(World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    let (asked_at, _) = first_question(&h).expect("the master asked");
    let stopped_at = first_stop(&h).expect("the master fenced");
    assert!(asked_at < stopped_at, "asked before fencing");
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::Log(Event::TakeoverAnswered {
            verdict: TakeoverVerdict::Ready,
            ..
        })
    )));
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn the_master_keeps_serving_when_the_standby_refuses_and_asks_again_later() {
    let mut w = World::master_side();
    w.takeover = Some(TakeoverVerdict::Refused(TakeoverRefusal::LagTooHigh));
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    let refused = Reason::TakeoverRefused(TakeoverRefusal::LagTooHigh);
    assert!(decided(&h, DecisionKind::NoFence, refused));
    assert!(alarmed(&h, Reason::OwnGatewayDown));
    // Between two questions the master's frames carry none (so the standby checks
    // afresh when asked again).
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::SendPing { state, .. } if state.handover.is_none()
    )));
    // The standby catches up: the next question gets "ready".
    h.world.takeover = Some(TakeoverVerdict::Ready);
    h.run_for(Duration::from_secs(30));
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn the_master_keeps_serving_when_nobody_answers() {
    // A standby that never answers (a version-2 daemon in a rolling upgrade, or one
    // busy elsewhere): no answer is no "yes".
    let mut w = World::master_side();
    w.takeover = None;
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(60));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    assert!(decided(
        &h,
        DecisionKind::NoFence,
        Reason::TakeoverNotAnswered
    ));
}

#[test]
fn an_answer_built_before_the_question_is_no_answer() {
    let mut w = World::master_side();
    w.takeover = None;
    let mut h = Harness::master(w);
    h.world.gateway = Answer::Silent;
    // Run until the question is out.
    for _ in 0..300 {
        if first_question(&h).is_some() {
            break;
        }
        h.run_for(Duration::from_millis(100));
    }
    let (asked_at, asked_seq) = first_question(&h).expect("the master asked");
    let earlier_seq = h
        .log
        .iter()
        .filter(|(t, _)| *t < asked_at)
        .filter_map(|(_, a)| match a {
            Action::SendPing { seq, .. } => Some(*seq),
            _ => None,
        })
        .next_back()
        .expect("pings before the question");
    let mut ready = peer_state(Role::Standby, 1);
    ready.handover = Some(Handover::Answered {
        lsn: 1000,
        verdict: TakeoverVerdict::Ready,
    });
    // A ping of the standby that echoes a ping sent before the question.
    h.input(Input::PingReceived {
        seq: 900,
        echoed: Some(earlier_seq),
        peer: ready,
    });
    assert!(!h.fenced_started(), "built before the question");
    // The same answer, echoing the question's ping: built after it.
    h.input(Input::PingReceived {
        seq: 901,
        echoed: Some(asked_seq),
        peer: ready,
    });
    assert!(h.fenced_started());
}

/// A standby whose master asks "take over at `lsn`?" in every frame.
fn asked_standby(lsn: u64) -> Harness {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.peer.handover = Some(Handover::Asked { lsn });
    h.world.peer.wal_lsn = lsn;
    h
}

fn answer_sent(h: &Harness) -> Option<Handover> {
    h.log.iter().rev().find_map(|(_, a)| match a {
        Action::SendPing { state, .. } | Action::SendAck { state, .. } => Some(state.handover),
        _ => None,
    })?
}

#[test]
fn the_standby_answers_after_its_fresh_checks() {
    let mut h = asked_standby(1000);
    let since = h.now;
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        answer_sent(&h),
        Some(Handover::Answered {
            lsn: 1000,
            verdict: TakeoverVerdict::Ready
        })
    );
    for path in [PathId::LocalDb, PathId::Gateway] {
        let fresh = h.count_since(
            since,
            |a| matches!(a, Action::Probe { path: p, fresh: true, .. } if *p == path),
        );
        assert_eq!(fresh, 1, "one fresh check of {path:?} per question");
    }
    // The master holds the VIP while it asks: no ARP probe.
    assert_eq!(
        h.count_since(since, |a| matches!(a, Action::VipArpProbe { .. })),
        0
    );
    assert_eq!(h.e.role(), Role::Standby);
}

#[test]
fn the_standby_refuses_when_its_checks_fail() {
    let mut h = asked_standby(9_000_000);
    h.world.local_db = Some(replica(1_000_000));
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        answer_sent(&h),
        Some(Handover::Answered {
            lsn: 9_000_000,
            verdict: TakeoverVerdict::Refused(TakeoverRefusal::LagTooHigh)
        })
    );

    let mut h = asked_standby(1000);
    h.world.gateway = Answer::FailFast;
    h.run_for(Duration::from_secs(2));
    assert_eq!(
        answer_sent(&h),
        Some(Handover::Answered {
            lsn: 1000,
            verdict: TakeoverVerdict::Refused(TakeoverRefusal::GatewayDown)
        })
    );
}

#[test]
fn the_standby_forgets_its_answer_when_the_question_ends() {
    let mut h = asked_standby(1000);
    h.run_for(Duration::from_secs(2));
    assert!(answer_sent(&h).is_some());
    h.world.peer.handover = None;
    h.run_for(Duration::from_secs(2));
    assert_eq!(answer_sent(&h), None);
    assert_eq!(h.e.own_state().handover, None);
}

fn published(h: &Harness) -> Vec<Option<Published>> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::PublishHandover(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn stage(stage: Stage, lsn: u64) -> Option<Published> {
    Some(Published {
        stage,
        term: 1,
        lsn,
    })
}

#[test]
fn with_serial_down_the_master_asks_over_the_db_path() {
    // The standby's PostgreSQL answers over IP (in recovery, caught up); serial is
    // down, so its frames are stale. The exchange runs through both databases:
    // Ask → the standby's "ready" → Fencing (committed) → Armed → fence.
    let mut h = Harness::master(World::master_side());
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(5));
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(20));
    let stages: Vec<_> = published(&h)
        .into_iter()
        .flatten()
        .map(|p| p.stage)
        .collect();
    assert_eq!(stages, vec![Stage::Ask, Stage::Fencing]);
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn over_the_db_path_a_refusal_withdraws_the_question() {
    let mut w = World::master_side();
    w.takeover = Some(TakeoverVerdict::Refused(TakeoverRefusal::GatewayDown));
    let mut h = Harness::master(w);
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(5));
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(20));
    assert!(!h.fenced_started());
    assert_eq!(h.e.role(), Role::Primary);
    let refused = Reason::TakeoverRefused(TakeoverRefusal::GatewayDown);
    assert!(decided(&h, DecisionKind::NoFence, refused));
    assert!(!published(&h)
        .iter()
        .flatten()
        .any(|p| p.stage == Stage::Fencing));
    assert_eq!(h.world.published, None, "the question withdrawn");
}

#[test]
fn a_committed_master_fences_when_its_own_db_fails() {
    // Once `Fencing` is published the standby may be armed: a DB that fails then is
    // fenced, never restarted (a restart would make two primaries).
    let mut w = World::master_side();
    w.takeover = Some(TakeoverVerdict::Ready);
    let mut h = Harness::master(w);
    h.world.serial = Answer::Silent;
    h.run_for(Duration::from_secs(5));
    h.world.gateway = Answer::Silent;
    // The standby's readings stop right after "ready", before it could arm.
    for _ in 0..20_000 {
        if published(&h)
            .iter()
            .flatten()
            .any(|p| p.stage == Stage::Fencing)
        {
            break;
        }
        h.run_for(Duration::from_millis(1));
    }
    h.world.remote_db = Answer::Silent;
    assert!(!h.fenced_started());
    h.world.local_db = None;
    h.input(Input::PostmasterExited);
    assert!(h.fenced_started());
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::RestartDb { .. })));
}

#[test]
fn a_standby_armed_over_the_db_path_takes_over_once_the_master_db_is_gone() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.serial = Answer::Silent;
    let master = |stage_: Stage| PeerDbReading {
        in_recovery: false,
        term: Some(1),
        timeline: 1,
        wal_lsn: 1000,
        published: stage(stage_, 1000),
        sync_epoch: None,
        sync_ack: None,
    };
    h.world.peer_db = Some(master(Stage::Ask));
    h.run_for(Duration::from_secs(3));
    assert_eq!(
        h.world.published,
        stage(Stage::Answer(TakeoverVerdict::Ready), 1000)
    );
    assert!(!h.promoted());
    h.world.peer_db = Some(master(Stage::Fencing));
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.world.published, stage(Stage::Armed, 1000));
    assert!(!h.promoted(), "armed, but the master's DB still answers");
    // The master fences: its PostgreSQL is gone; ICMP still answers.
    h.world.remote_db = Answer::FailFast;
    h.run_for(Duration::from_secs(10));
    assert!(h.promoted());
    assert!(decided(&h, DecisionKind::Promote, Reason::PeerFencing));
}

#[test]
fn a_standby_never_arms_on_fencing_it_did_not_answer_ready_to() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.serial = Answer::Silent;
    h.world.peer_db = Some(PeerDbReading {
        in_recovery: false,
        term: Some(1),
        timeline: 1,
        wal_lsn: 1000,
        published: stage(Stage::Fencing, 1000),
        sync_epoch: None,
        sync_ack: None,
    });
    h.run_for(Duration::from_secs(2));
    h.world.remote_db = Answer::FailFast;
    h.run_for(Duration::from_secs(10));
    assert!(
        !h.promoted(),
        "a stale `Fencing` (no question answered) arms nothing"
    );
}

/// When the engine logged `event`, and whether a ping carrying `carried` went out then.
fn ping_at_once(h: &Harness, event: fn(&Event) -> bool, carried: fn(&Handover) -> bool) -> bool {
    let Some(at) = h.log.iter().find_map(|(t, a)| match a {
        Action::Log(e) if event(e) => Some(*t),
        _ => None,
    }) else {
        return false;
    };
    h.log.iter().any(|(t, a)| {
        *t == at
            && matches!(a, Action::SendPing { state, .. } if state.handover.as_ref().is_some_and(carried))
    })
}

#[test]
fn the_question_and_its_answer_go_out_at_once() {
    // Neither waits for the next serial interval (1 s by default).
    let mut h = Harness::master(World::master_side());
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert!(ping_at_once(
        &h,
        |e| matches!(e, Event::TakeoverAsked { .. }),
        |x| matches!(x, Handover::Asked { .. })
    ));
    assert_eq!(h.e.role(), Role::Fenced);

    let mut h = asked_standby(1000);
    h.run_for(Duration::from_secs(2));
    assert!(ping_at_once(
        &h,
        |e| matches!(e, Event::TakeoverAnswered { .. }),
        |x| matches!(x, Handover::Answered { .. })
    ));
}
