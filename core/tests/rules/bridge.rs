//! The heartbeat bridge's verdict on the serial path (`checks.serial.bridge`, rule
//! `bridge-verdict`).
//!
//! The bridge's reports are scripted here: each test says what the bridge has heard,
//! and feeds a `BridgeStatus` every `BRIDGE_STATUS_PERIOD` as the firmware does.

use std::time::Duration;

use crate::harness::{cfg, standby_facts, Answer, Harness, World};
use twinbeat_core::{
    Action, BridgeState, BridgeStatus, Config, Event, Input, PathHealth, PathId, Reason, Role,
    SerialDownCause,
};

/// The bridge's status period: the wire protocol's, which the firmware sends by.
const BRIDGE_STATUS_PERIOD: Duration =
    Duration::from_millis(twinbeat_protocol::BRIDGE_STATUS_PERIOD_MS as u64);

fn bridge_cfg() -> Config {
    Config {
        serial_bridge: Some(BRIDGE_STATUS_PERIOD),
        ..cfg()
    }
}

/// What the scripted bridge reports: time since it heard the peer (`None`: never).
fn status(since_peer: Option<Duration>) -> Input {
    Input::BridgeStatus(BridgeStatus {
        uptime: Duration::from_secs(600),
        since_heard_us: Some(Duration::from_millis(20)),
        since_heard_peer: since_peer,
        frames_dropped: 0,
        we_are_side_b: true,
    })
}

/// Runs for `d`, the bridge reporting on schedule; `since_peer(elapsed)` says how long
/// the peer has been silent at the bridge, `elapsed` since this call began.
fn run_with_bridge(h: &mut Harness, d: Duration, since_peer: impl Fn(Duration) -> Duration) {
    let mut elapsed = Duration::ZERO;
    while elapsed < d {
        h.input(status(Some(since_peer(elapsed))));
        h.run_for(BRIDGE_STATUS_PERIOD);
        elapsed += BRIDGE_STATUS_PERIOD;
    }
}

/// The peer's frames pass the bridge all the time.
fn peer_heard(_: Duration) -> Duration {
    Duration::from_millis(50)
}

fn verdict_logged(h: &Harness, cause: Option<SerialDownCause>) -> bool {
    h.log
        .iter()
        .any(|(_, a)| matches!(a, Action::Log(Event::BridgeVerdict(c)) if *c == cause))
}

fn bridged_standby() -> Harness {
    let mut h = Harness::new(bridge_cfg(), standby_facts(), World::standby_side());
    run_with_bridge(&mut h, Duration::from_secs(3), peer_heard);
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert_eq!(h.e.serial_down_cause(), None);
    h
}

#[test]
fn bridge_says_peer_silent_marks_serial_down() {
    let mut h = bridged_standby();
    // The master dies: every path goes quiet, and the bridge, still alive, reports
    // the master's side silent for longer and longer.
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.world.serial = Answer::Silent;
    run_with_bridge(&mut h, Duration::from_secs(5), |t| t + peer_heard(t));
    assert!(verdict_logged(
        &h,
        Some(SerialDownCause::PeerSilentAtBridge)
    ));
    assert!(h.promoted(), "{:?}", h.e.last_decision());
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::AllPathsDownTogether)
    );
}

#[test]
fn bridge_saying_peer_silent_marks_serial_down_even_between_acks() {
    // The verdict stands on its own: the serial path is down as soon as the live bridge
    // says so, whatever the attempts in flight say.
    let mut h = bridged_standby();
    run_with_bridge(&mut h, Duration::from_secs(1), |_| Duration::from_secs(3));
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Down);
    assert_eq!(
        h.e.serial_down_cause(),
        Some(SerialDownCause::PeerSilentAtBridge)
    );
    // Rule `partial-loss-only-warns`: one path down is a warning, never a promotion.
    assert!(!h.promoted());
}

#[test]
fn bridge_silent_marks_serial_down() {
    let mut h = bridged_standby();
    // The bridge stops reporting; the master lives on every path.
    h.run_for(bridge_cfg().bridge_silence_bound() + Duration::from_millis(100));
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Down);
    assert_eq!(h.e.serial_down_cause(), Some(SerialDownCause::BridgeSilent));
    assert!(matches!(
        h.e.bridge_state(h.now),
        BridgeState::Silent(Some(_))
    ));
    assert!(verdict_logged(&h, Some(SerialDownCause::BridgeSilent)));
    h.run_for(Duration::from_secs(30));
    assert!(
        !h.promoted(),
        "partial-loss-only-warns: the other paths are up"
    );
    // The bridge comes back: the verdict is lifted and the attempts decide again.
    run_with_bridge(&mut h, Duration::from_secs(2), peer_heard);
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert!(verdict_logged(&h, None));
}

#[test]
fn bridge_never_heard_counts_as_silent() {
    let mut h = Harness::new(bridge_cfg(), standby_facts(), World::standby_side());
    h.run_for(bridge_cfg().bridge_silence_bound() + Duration::from_millis(100));
    assert_eq!(h.e.serial_down_cause(), Some(SerialDownCause::BridgeSilent));
    assert_eq!(h.e.bridge_state(h.now), BridgeState::Silent(None));
}

#[test]
fn bridge_alive_and_peer_heard_keeps_ping_ack_judgement() {
    let mut h = bridged_standby();
    assert!(matches!(h.e.bridge_state(h.now), BridgeState::Alive(..)));
    // Our acks get lost while the bridge hears the peer's pings: the attempts still
    // take the serial path down, as without a bridge.
    h.world.serial = Answer::Silent;
    run_with_bridge(&mut h, Duration::from_secs(3), peer_heard);
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Down);
    assert_eq!(h.e.serial_down_cause(), Some(SerialDownCause::NoAck));
    assert!(!verdict_logged(
        &h,
        Some(SerialDownCause::PeerSilentAtBridge)
    ));
    // And the acks coming back bring it up.
    h.world.serial = Answer::Ok;
    run_with_bridge(&mut h, Duration::from_secs(3), peer_heard);
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert_eq!(h.e.serial_down_cause(), None);
}

#[test]
fn bridge_status_is_not_hearing_the_peer() {
    // A fresh standby whose master never answered on any path: a bridge saying it hears
    // the master must not end the startup grace (rule `startup-grace`) nor make a peer view.
    let world = World {
        icmp: Answer::Silent,
        remote_db: Answer::Silent,
        serial: Answer::Silent,
        ..World::standby_side()
    };
    let mut h = Harness::new(bridge_cfg(), standby_facts(), world);
    run_with_bridge(&mut h, Duration::from_secs(10), peer_heard);
    assert!(h.e.peer().is_none());
    assert_ne!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert!(!h.promoted());
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::StartupGrace)
    );
}

#[test]
fn bridge_silent_on_a_plain_cable_never_promotes_a_live_master() {
    // `checks.serial.bridge = true` on a plain cable (no bridge): serial is down from
    // the start. An IP partition later must not promote while the master's frames
    // still arrive: they prove it alive (the frame guard of `partial-loss-only-warns`).
    let mut h = Harness::new(bridge_cfg(), standby_facts(), World::standby_side());
    h.run_for(Duration::from_secs(60));
    assert_eq!(h.e.serial_down_cause(), Some(SerialDownCause::BridgeSilent));
    h.world.icmp = Answer::Silent;
    h.world.remote_db = Answer::Silent;
    h.run_for(Duration::from_secs(30));
    assert!(!h.promoted());
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::PeerHeard)
    );
}

#[test]
fn bridge_status_is_ignored_unless_configured() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    run_with_bridge(&mut h, Duration::from_secs(10), |_| Duration::from_secs(60));
    assert_eq!(h.e.path(PathId::Serial).health, PathHealth::Up);
    assert_eq!(h.e.serial_down_cause(), None);
    assert_eq!(h.e.bridge_state(h.now), BridgeState::NotConfigured);
    assert!(h.e.bridge().is_some(), "still stored for the status page");
}
