//! Rule `own-frames-dropped`: a frame carrying this node's own id is never the peer's.

use std::time::Duration;

use crate::harness::{peer_state, Answer, Harness, World};
use twinbeat_core::{
    Action, DecisionKind, Event, Input, PathHealth, PathId, Reason, Role, Severity,
};

/// Runs for `d` with the serial line echoing every frame this node sends back to it
/// (a loopback plug, a half-duplex line), on top of whatever the world answers.
fn run_echoing(h: &mut Harness, d: Duration) {
    let end = h.now + d;
    let mut seen = h.log.len();
    while h.now < end {
        h.run_for(Duration::from_millis(5));
        while seen < h.log.len() {
            let (_, action) = h.log[seen];
            seen += 1;
            let echo = match action {
                Action::SendPing { seq, state, .. } => Input::PingReceived {
                    echoed: None,
                    seq,
                    peer: state,
                },
                Action::SendAck { seq, state } => Input::AckReceived { seq, peer: state },
                _ => continue,
            };
            h.input(echo);
        }
    }
}

fn own_frame_warnings(h: &Harness) -> usize {
    h.log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Log(Event::Alarm {
                    severity: Severity::Warning,
                    reason: Reason::OwnNodeIdHeard,
                })
            )
        })
        .count()
}

#[test]
fn own_echo_never_completes_a_ping_nor_counts_as_the_peer() {
    // The peer is gone on every path; only our own frames come back.
    let world = World {
        icmp: Answer::Silent,
        remote_db: Answer::Silent,
        serial: Answer::Silent,
        ..World::standby_side()
    };
    let mut h = Harness::standby(world);
    run_echoing(&mut h, Duration::from_secs(3));
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Down);
    assert!(h.e.peer().is_none(), "an echo is no peer view");
    assert_eq!(
        h.count_since(twinbeat_core::Instant::ZERO, |a| matches!(
            a,
            Action::SendAck { .. }
        )),
        0,
        "an echoed ping is not answered"
    );
    assert!(
        h.e.own_frames_dropped() >= 5,
        "{}",
        h.e.own_frames_dropped()
    );
    assert_eq!(
        own_frame_warnings(&h),
        1,
        "one warning for the run of echoes"
    );
    // The peer was never heard, so the startup grace still holds the promotion back.
    let d = h.e.last_decision().expect("a decision");
    assert_eq!(
        (d.kind, d.reason),
        (DecisionKind::NoPromotion, Reason::StartupGrace)
    );
    assert!(!h.promoted());

    // The real peer comes back on a line that still echoes: its acks count, ours do not.
    h.world = World::standby_side();
    let dropped = h.e.own_frames_dropped();
    run_echoing(&mut h, Duration::from_secs(3));
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert_eq!(
        h.e.peer().expect("peer heard").state,
        peer_state(Role::Primary, 1)
    );
    assert!(h.e.own_frames_dropped() > dropped, "still counted");
    assert_eq!(
        own_frame_warnings(&h),
        1,
        "echoes kept coming: no new warning"
    );
    assert_eq!(h.e.role(), Role::Standby);
    assert!(!h.promoted());
}
