//! The bridge forwards on the envelope alone: tail fields it does not know,
//! kinds it does not know and the previous wire version go through unchanged,
//! and each side hears the bridge's status in the version its host speaks.

use twinbeat_protocol::vectors::{self, TWINBEAT};
use twinbeat_protocol::{encode_as, Frame, Message, WireVersion, MAX_FRAME_LEN};

use super::mock::{ack, forge, frames_in, ping, rig, status_request, CLUSTER};

fn vector(name: &str) -> &'static vectors::Vector {
    vectors::ALL
        .iter()
        .find(|v| v.name == name)
        .expect("golden vector exists")
}

/// `frame` on the line in `version`.
fn wire_as(frame: &Frame, version: WireVersion) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = encode_as(frame, version, &mut out).expect("encodes");
    out[..n].to_vec()
}

/// The version byte of each frame in `bytes`: the first byte after the COBS
/// code byte (a version is never 0x00, so COBS leaves it in place).
fn versions_in(bytes: &[u8]) -> Vec<u8> {
    bytes
        .split(|b| *b == 0)
        .filter(|frame| !frame.is_empty())
        .map(|frame| frame[1])
        .collect()
}

#[test]
fn forwards_a_v3_frame_with_an_unknown_tail_field_unchanged() {
    for name in ["ping_unknown_field", "ping_max"] {
        let v = vector(name);
        assert!(
            !v.canonical,
            "{name} carries a field no encoder here writes"
        );
        let (mut bridge, _clock) = rig();
        bridge.port_a_mut().rx.extend(v.encoded);
        // The widest frame takes two steps to read (RX_CHUNK × READS_PER_POLL).
        bridge.poll();
        bridge.poll();
        assert_eq!(bridge.port_b_mut().take_tx(), v.encoded, "{name}");
        assert_eq!(bridge.counters().forwarded_a_to_b, 1);
    }
    // An unknown even tag: a host refuses the frame (Malformed), the bridge
    // does not read the body and forwards it all the same.
    let head = [0x01, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18];
    let required = forge(
        3,
        1,
        TWINBEAT,
        &[&head[..], &[1, 1, 1, 14, 1, 0xee]].concat(),
    );
    let (mut bridge, _clock) = rig();
    bridge.port_b_mut().rx.extend(&required);
    bridge.poll();
    assert_eq!(bridge.port_a_mut().take_tx(), required);
    assert_eq!(bridge.counters().corrupt, 0);
}

#[test]
fn forwards_a_v2_frame_unchanged() {
    let v = vector("ping_standby_v2");
    assert_eq!(v.version, WireVersion::V2);
    let (mut bridge, _clock) = rig();
    bridge.port_a_mut().rx.extend(v.encoded);
    bridge.poll();
    assert_eq!(bridge.port_b_mut().take_tx(), v.encoded);

    let old_ack = wire_as(&ack(TWINBEAT, 4), WireVersion::V2);
    bridge.port_b_mut().rx.extend(&old_ack);
    bridge.poll();
    assert_eq!(bridge.port_a_mut().take_tx(), old_ack);
    assert_eq!(
        (
            bridge.counters().forwarded_a_to_b,
            bridge.counters().forwarded_b_to_a
        ),
        (1, 1)
    );
}

#[test]
fn forwards_an_unknown_kind_and_drops_an_unknown_version() {
    let (mut bridge, _clock) = rig();
    let new_kind = forge(3, 9, CLUSTER, &[1, 2, 3]);
    bridge.port_a_mut().rx.extend(&new_kind);
    bridge.poll();
    assert_eq!(bridge.port_b_mut().take_tx(), new_kind);

    let next_version = forge(4, 1, CLUSTER, &[1, 2, 3]);
    bridge.port_a_mut().rx.extend(&next_version);
    bridge.poll();
    assert!(bridge.port_b_mut().take_tx().is_empty());
    assert_eq!(bridge.counters().corrupt, 1);
}

#[test]
fn each_side_hears_the_status_in_its_own_version() {
    let (mut bridge, clock) = rig();
    // A is not yet upgraded, B is.
    bridge
        .port_a_mut()
        .rx
        .extend(wire_as(&ping(CLUSTER, 1), WireVersion::V2));
    bridge
        .port_b_mut()
        .rx
        .extend(wire_as(&ack(CLUSTER, 1), WireVersion::V3));
    bridge.poll();
    bridge.port_a_mut().take_tx();
    bridge.port_b_mut().take_tx();

    for (version, byte) in [(WireVersion::V2, 2), (WireVersion::V3, 3)] {
        bridge
            .port_a_mut()
            .rx
            .extend(wire_as(&status_request(CLUSTER), version));
        bridge.poll();
        let answer = bridge.port_a_mut().take_tx();
        assert_eq!(
            versions_in(&answer),
            [byte],
            "answer to a {version:?} request"
        );
        assert!(matches!(
            frames_in(&answer)[..],
            [Frame {
                message: Message::BridgeStatus(_),
                ..
            }]
        ));
    }

    // The periodic status, once A speaks version 2 again: 2 to A, 3 to B.
    bridge
        .port_a_mut()
        .rx
        .extend(wire_as(&ping(CLUSTER, 2), WireVersion::V2));
    bridge.poll();
    bridge.port_b_mut().take_tx();
    for _ in 0..6 {
        clock.advance(100);
        bridge.poll();
    }
    let on_a = bridge.port_a_mut().take_tx();
    let on_b = bridge.port_b_mut().take_tx();
    assert!(!on_a.is_empty() && versions_in(&on_a).iter().all(|v| *v == 2));
    assert!(!on_b.is_empty() && versions_in(&on_b).iter().all(|v| *v == 3));
}
