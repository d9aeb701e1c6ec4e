//! Frames go through unchanged; bad ones are dropped and counted.

use twinbeat_protocol::{vectors, ClusterId, Message};

use super::mock::{ack, frames_in, ping, rig, status_request, wire, CLUSTER};
use crate::{BridgeConfig, ConfigError};

#[test]
fn forwards_a_to_b_byte_identical() {
    let (mut bridge, _clock) = rig();
    let bytes = wire(&ping(CLUSTER, 1));
    bridge.port_a_mut().rx.extend(&bytes);
    bridge.poll();
    assert_eq!(bridge.port_b_mut().take_tx(), bytes);
    assert!(
        bridge.port_a_mut().take_tx().is_empty(),
        "nothing echoed back"
    );
    assert_eq!(bridge.counters().forwarded_a_to_b, 1);
}

#[test]
fn forwards_b_to_a_byte_identical() {
    let (mut bridge, _clock) = rig();
    let bytes = wire(&ack(CLUSTER, 9));
    bridge.port_b_mut().rx.extend(&bytes);
    bridge.poll();
    assert_eq!(bridge.port_a_mut().take_tx(), bytes);
    assert_eq!(bridge.counters().forwarded_b_to_a, 1);
}

#[test]
fn forwards_both_ways_at_once_byte_by_byte() {
    let (mut bridge, _clock) = rig();
    let a_sends: Vec<u8> = (0..5).flat_map(|seq| wire(&ping(CLUSTER, seq))).collect();
    let b_sends: Vec<u8> = (0..5).flat_map(|seq| wire(&ack(CLUSTER, seq))).collect();
    // One byte per step on each side: frames straddle many polls.
    for i in 0..a_sends.len().max(b_sends.len()) {
        if let Some(byte) = a_sends.get(i) {
            bridge.port_a_mut().rx.push_back(*byte);
        }
        if let Some(byte) = b_sends.get(i) {
            bridge.port_b_mut().rx.push_back(*byte);
        }
        bridge.poll();
    }
    assert_eq!(bridge.port_b_mut().take_tx(), a_sends);
    assert_eq!(bridge.port_a_mut().take_tx(), b_sends);
    assert_eq!(bridge.counters().forwarded_a_to_b, 5);
    assert_eq!(bridge.counters().forwarded_b_to_a, 5);
}

#[test]
fn forwards_every_golden_vector_unchanged() {
    assert!(
        !vectors::ALL.is_empty(),
        "the protocol ships golden vectors"
    );
    for vector in vectors::ALL {
        if vector.frame.message == Message::BridgeStatusRequest {
            continue; // answered, not forwarded: see status tests
        }
        let (mut bridge, _clock) = rig();
        bridge.port_a_mut().rx.extend(vector.encoded);
        // The widest frames take two steps to read (RX_CHUNK × READS_PER_POLL).
        bridge.poll();
        bridge.poll();
        assert_eq!(
            bridge.port_b_mut().take_tx(),
            vector.encoded,
            "vector {}",
            vector.name
        );
    }
}

#[test]
fn corrupt_frame_is_dropped_and_counted() {
    let (mut bridge, _clock) = rig();
    let mut bytes = wire(&ping(CLUSTER, 1));
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    assert_ne!(bytes[middle], 0, "the flip must not make a delimiter");
    bridge.port_a_mut().rx.extend(&bytes);
    bridge.poll();
    assert!(bridge.port_b_mut().take_tx().is_empty());
    assert_eq!(bridge.counters().corrupt, 1);
    assert_eq!(bridge.counters().frames_dropped(), 1);
    assert_eq!(bridge.status(twinbeat_protocol::Side::A).frames_dropped, 1);
    assert_eq!(
        bridge.status(twinbeat_protocol::Side::A).since_a_ms,
        None,
        "garbage is not hearing a side"
    );
}

#[test]
fn resyncs_after_noise() {
    let (mut bridge, _clock) = rig();
    let good = wire(&ping(CLUSTER, 7));
    // Noise without a delimiter runs into the good frame's leading 0x00;
    // noise with delimiters makes junk frames of its own.
    let mut line = vec![0x55, 0xAA, 0x13, 0x37, 0xFF];
    line.extend(&good);
    line.extend([0x00, 0x42, 0x42, 0x00, 0x99]);
    line.extend(&good);
    bridge.port_a_mut().rx.extend(&line);
    bridge.poll();
    bridge.poll();
    let forwarded = bridge.port_b_mut().take_tx();
    assert_eq!(forwarded, [good.clone(), good].concat());
    assert_eq!(bridge.counters().forwarded_a_to_b, 2);
    assert!(bridge.counters().corrupt >= 2, "{:?}", bridge.counters());
}

#[test]
fn over_long_garbage_is_dropped_and_next_frame_passes() {
    let (mut bridge, _clock) = rig();
    let good = wire(&ack(CLUSTER, 3));
    let mut line = vec![0x01; 10 * twinbeat_protocol::MAX_FRAME_LEN];
    line.extend(&good);
    bridge.port_b_mut().rx.extend(&line);
    for _ in 0..line.len() {
        bridge.poll();
    }
    assert_eq!(bridge.port_a_mut().take_tx(), good);
    assert_eq!(
        bridge.counters().corrupt,
        1,
        "one over-full report per run of garbage"
    );
}

#[test]
fn adopts_first_cluster_and_drops_others() {
    let (mut bridge, clock) = rig();
    let other = ClusterId(0xBAD0_C0DE);
    bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, 1)));
    bridge.poll();
    assert_eq!(bridge.cluster(), Some(CLUSTER));
    bridge.port_b_mut().take_tx();

    bridge.port_b_mut().rx.extend(wire(&ack(other, 1)));
    bridge.port_a_mut().rx.extend(wire(&status_request(other)));
    bridge.poll();
    assert!(
        bridge.port_a_mut().take_tx().is_empty(),
        "foreign frame and request both ignored"
    );
    assert_eq!(bridge.counters().foreign_cluster, 2);
    assert_eq!(bridge.counters().frames_dropped(), 2);
    assert_eq!(
        bridge.status(twinbeat_protocol::Side::A).since_b_ms,
        None,
        "a foreign frame is not hearing B"
    );

    // While the adopted cluster keeps talking, it stays adopted.
    for seq in 0..30 {
        clock.advance(1_000);
        bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, seq)));
        bridge.port_b_mut().rx.extend(wire(&ack(other, seq)));
        bridge.poll();
    }
    assert_eq!(bridge.cluster(), Some(CLUSTER));
    assert_eq!(bridge.counters().adoptions, 1);
}

#[test]
fn readopts_after_the_adopted_cluster_falls_silent() {
    let (mut bridge, clock) = rig();
    let renamed = ClusterId(0x0000_0002);
    bridge.port_a_mut().rx.extend(wire(&ping(CLUSTER, 1)));
    bridge.poll();
    clock.advance(BridgeConfig::DEFAULT.readopt_after_ms - 1);
    bridge.port_a_mut().rx.extend(wire(&ping(renamed, 1)));
    bridge.poll();
    assert_eq!(bridge.cluster(), Some(CLUSTER), "too early");
    clock.advance(1);
    bridge.port_b_mut().take_tx();
    let bytes = wire(&ping(renamed, 2));
    bridge.port_a_mut().rx.extend(&bytes);
    bridge.poll();
    assert_eq!(bridge.cluster(), Some(renamed));
    assert_eq!(bridge.counters().adoptions, 2);
    let out = bridge.port_b_mut().take_tx();
    assert!(
        out.starts_with(&bytes),
        "forwarded first, then status: {out:?}"
    );
    assert!(frames_in(&out[bytes.len()..])
        .iter()
        .all(|f| f.cluster == renamed));
}

#[test]
fn full_transmitter_queues_then_drops_whole_frames() {
    let (mut bridge, _clock) = rig();
    bridge.port_b_mut().tx_room = Some(0);
    // More pings than the transmit queue holds.
    let count = crate::TX_CAPACITY / wire(&ping(CLUSTER, 0)).len() + 10;
    let frames: Vec<Vec<u8>> = (0u32..)
        .take(count)
        .map(|seq| wire(&ping(CLUSTER, seq)))
        .collect();
    for frame in &frames {
        bridge.port_a_mut().rx.extend(frame);
        bridge.poll();
    }
    let queued = bridge.counters().forwarded_a_to_b as usize;
    assert!(queued > 0 && queued < frames.len(), "queued {queued}");
    assert_eq!(
        bridge.counters().tx_overflow as usize,
        frames.len() - queued
    );
    assert_eq!(
        bridge.tx_pending().1,
        frames[..queued].iter().map(Vec::len).sum::<usize>()
    );

    // The transmitter frees up a few bytes at a time; what was queued comes out in order.
    for _ in 0..10_000 {
        bridge.port_b_mut().tx_room = Some(3);
        bridge.poll();
    }
    assert_eq!(bridge.port_b_mut().take_tx(), frames[..queued].concat());
}

#[test]
fn port_errors_are_counted_and_the_bridge_goes_on() {
    let (mut bridge, _clock) = rig();
    bridge.port_a_mut().fail_next_read = true;
    let bytes = wire(&ping(CLUSTER, 1));
    bridge.port_a_mut().rx.extend(&bytes);
    bridge.poll();
    assert_eq!(bridge.counters().port_errors, 1);
    bridge.poll();
    assert_eq!(bridge.port_b_mut().take_tx(), bytes);
}

#[test]
fn watchdog_is_fed_once_per_step() {
    let (mut bridge, _clock) = rig();
    for _ in 0..7 {
        bridge.poll();
    }
    assert_eq!(bridge.watchdog().0, 7);
}

#[test]
fn zero_durations_are_refused() {
    let cases = [
        (
            BridgeConfig {
                status_interval_ms: 0,
                ..BridgeConfig::DEFAULT
            },
            ConfigError::ZeroStatusInterval,
        ),
        (
            BridgeConfig {
                recent_ms: 0,
                ..BridgeConfig::DEFAULT
            },
            ConfigError::ZeroRecentWindow,
        ),
        (
            BridgeConfig {
                blink_half_period_ms: 0,
                ..BridgeConfig::DEFAULT
            },
            ConfigError::ZeroBlinkHalfPeriod,
        ),
        (
            BridgeConfig {
                readopt_after_ms: 0,
                ..BridgeConfig::DEFAULT
            },
            ConfigError::ZeroReadoptAfter,
        ),
    ];
    for (config, error) in cases {
        assert_eq!(config.validate(), Err(error));
    }
    assert_eq!(BridgeConfig::default().validate(), Ok(()));
}
