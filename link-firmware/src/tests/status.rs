//! BridgeStatus cadence and content, status requests, and the LED view.

use twinbeat_protocol::{BridgeStatus, Frame, Message, NodeId, Side};

use super::mock::{ack, frames_in, ping, rig, rig_with, status_request, wire, TestBridge, CLUSTER};
use crate::{BridgeConfig, LedView};

/// The status frames in what the bridge wrote to `side`'s host.
fn statuses(bridge: &mut TestBridge, side: Side) -> Vec<BridgeStatus> {
    let bytes = match side {
        Side::A => bridge.port_a_mut().take_tx(),
        Side::B => bridge.port_b_mut().take_tx(),
    };
    frames_in(&bytes)
        .into_iter()
        .filter_map(|frame: Frame| match frame.message {
            Message::BridgeStatus(status) => {
                assert_eq!(frame.sender, NodeId::BRIDGE);
                assert_eq!(frame.cluster, CLUSTER);
                Some(status)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_is_sent_before_a_cluster_is_adopted() {
    let (mut bridge, clock) = rig();
    for _ in 0..50 {
        clock.advance(100);
        bridge.poll();
    }
    assert!(bridge.port_a_mut().take_tx().is_empty());
    assert!(bridge.port_b_mut().take_tx().is_empty());
}

#[test]
fn status_goes_out_on_both_sides_every_interval() {
    let (mut bridge, clock) = rig();
    bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, 1)));
    bridge.poll();
    bridge.port_b_mut().take_tx();

    clock.advance(499);
    bridge.poll();
    assert!(statuses(&mut bridge, Side::A).is_empty());
    assert!(statuses(&mut bridge, Side::B).is_empty());

    clock.advance(1);
    bridge.poll();
    let on_a = statuses(&mut bridge, Side::A);
    let on_b = statuses(&mut bridge, Side::B);
    let expected = BridgeStatus {
        uptime_ms: 500,
        since_a_ms: Some(500),
        since_b_ms: None,
        frames_dropped: 0,
        to_side: Side::A,
    };
    assert_eq!(on_a, [expected]);
    assert_eq!(
        on_b,
        [BridgeStatus {
            to_side: Side::B,
            ..expected
        }]
    );

    // Ten seconds stepped 10 ms at a time: exactly one status per interval.
    for _ in 0..1_000 {
        clock.advance(10);
        bridge.poll();
    }
    let on_a = statuses(&mut bridge, Side::A);
    assert_eq!(on_a.len(), 20);
    assert_eq!(statuses(&mut bridge, Side::B).len(), 20);
    assert!(
        on_a.windows(2)
            .all(|w| w[1].uptime_ms - w[0].uptime_ms == 500),
        "{on_a:?}"
    );
    assert_eq!(on_a.last().map(|s| s.uptime_ms), Some(10_500));
}

#[test]
fn status_interval_is_configurable() {
    let config = BridgeConfig {
        status_interval_ms: 2_000,
        ..BridgeConfig::DEFAULT
    };
    let (mut bridge, clock) = rig_with(config, 0);
    bridge.port_b_mut().rx.extend(wire(&ack(CLUSTER, 1)));
    for _ in 0..100 {
        clock.advance(100);
        bridge.poll();
    }
    assert_eq!(statuses(&mut bridge, Side::B).len(), 5);
}

#[test]
fn status_request_is_answered_on_its_own_side_only() {
    let (mut bridge, clock) = rig();
    bridge.port_b_mut().rx.extend(wire(&ack(CLUSTER, 1)));
    bridge.poll();
    bridge.port_a_mut().take_tx();
    clock.advance(120);
    bridge
        .port_a_mut()
        .rx
        .extend(wire(&status_request(CLUSTER)));
    bridge.poll();
    assert_eq!(
        statuses(&mut bridge, Side::A),
        [BridgeStatus {
            uptime_ms: 120,
            since_a_ms: Some(0),
            since_b_ms: Some(120),
            frames_dropped: 0,
            to_side: Side::A
        }]
    );
    assert!(
        bridge.port_b_mut().take_tx().is_empty(),
        "request not forwarded"
    );
    assert_eq!(bridge.counters().requests_answered, 1);
}

#[test]
fn one_side_silent_blinks_and_reports_the_silence() {
    let (mut bridge, clock) = rig();
    let mut levels = Vec::new();
    for seq in 0..50 {
        if seq % 10 == 0 {
            bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, seq)));
        }
        bridge.poll();
        levels.push(bridge.led().on);
        clock.advance(100);
    }
    assert_eq!(bridge.view(), LedView::OneSilent);
    assert!(
        levels.contains(&true) && levels.contains(&false),
        "{levels:?}"
    );
    // 250 ms half period sampled every 100 ms over 5 s: about 20 switches.
    assert!(bridge.led().writes >= 15, "{}", bridge.led().writes);
    let last = statuses(&mut bridge, Side::A).pop().expect("statuses sent");
    assert_eq!(last.since_b_ms, None);
    assert!(last.since_a_ms.is_some_and(|ms| ms < 1_000));

    // B speaks once, then stays silent: its "since" grows and the LED goes back to blinking.
    bridge.port_b_mut().rx.extend(wire(&ack(CLUSTER, 1)));
    bridge.poll();
    assert_eq!(bridge.view(), LedView::BothHeard);
    for seq in 0..40 {
        if seq % 10 == 0 {
            bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, seq)));
        }
        clock.advance(100);
        bridge.poll();
    }
    assert_eq!(bridge.view(), LedView::OneSilent);
    let last = statuses(&mut bridge, Side::B).pop().expect("statuses sent");
    assert!(last.since_b_ms.is_some_and(|ms| ms >= 3_500), "{last:?}");
}

#[test]
fn both_sides_heard_keeps_the_led_on_steady() {
    let (mut bridge, clock) = rig();
    for seq in 0..100 {
        bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, seq)));
        bridge.port_b_mut().rx.extend(wire(&ack(CLUSTER, seq)));
        bridge.poll();
        clock.advance(100);
    }
    assert_eq!(bridge.view(), LedView::BothHeard);
    assert!(bridge.led().on);
    assert_eq!(bridge.led().writes, 1, "switched on once, never toggled");
}

#[test]
fn both_sides_silent_turns_the_led_off_but_status_goes_on() {
    let (mut bridge, clock) = rig();
    bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, 1)));
    bridge.port_b_mut().rx.extend(wire(&ack(CLUSTER, 1)));
    bridge.poll();
    assert!(bridge.led().on);
    for _ in 0..40 {
        clock.advance(100);
        bridge.poll();
    }
    assert_eq!(bridge.view(), LedView::BothSilent);
    assert!(!bridge.led().on);
    let on_a = statuses(&mut bridge, Side::A);
    assert_eq!(
        on_a.len(),
        8,
        "the bridge keeps telling the hosts it is alive"
    );
    let last = on_a.last().expect("sent");
    assert_eq!(
        (last.since_a_ms, last.since_b_ms),
        (Some(4_000), Some(4_000))
    );
}

#[test]
fn never_heard_leaves_the_led_off() {
    let (mut bridge, clock) = rig();
    for _ in 0..10 {
        bridge.poll();
        clock.advance(300);
    }
    assert_eq!(bridge.view(), LedView::BothSilent);
    assert!(!bridge.led().on);
    assert_eq!(bridge.led().writes, 1);
}

#[test]
fn clock_wrap_keeps_the_cadence() {
    let (mut bridge, clock) = rig_with(BridgeConfig::DEFAULT, u32::MAX - 1_234);
    bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, 1)));
    for _ in 0..300 {
        clock.advance(10);
        bridge.poll();
    }
    let on_a = statuses(&mut bridge, Side::A);
    assert_eq!(on_a.len(), 6);
    assert_eq!(on_a.last().map(|s| s.uptime_ms), Some(3_000));
    assert_eq!(on_a.last().and_then(|s| s.since_a_ms), Some(2_990));
}
