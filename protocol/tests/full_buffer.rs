//! A frame whose COBS bytes fill the deframer's buffer exactly leaves no room
//! for the delimiter the fast un-stuffing path puts back; the fallback path
//! must decode it just the same.

use twinbeat_protocol::vectors::ALL;
use twinbeat_protocol::{ClusterFilter, Deframer, Feed};

/// COBS length of the `ping_month_uptime` golden vector (without its two 0x00).
const PING_STUFFED_LEN: usize = 26;

#[test]
fn frame_exactly_filling_the_buffer_decodes() {
    let v = ALL
        .iter()
        .find(|v| v.name == "ping_month_uptime")
        .expect("golden vector exists");
    assert_eq!(v.encoded.len(), PING_STUFFED_LEN + 2);

    for n_is_exact in [true, false] {
        let got = if n_is_exact {
            decode_with::<PING_STUFFED_LEN>(v.encoded)
        } else {
            decode_with::<{ PING_STUFFED_LEN + 1 }>(v.encoded)
        };
        assert_eq!(got, Some(v.frame));
    }

    // One byte too few: over-full, never a frame.
    let mut d = Deframer::<{ PING_STUFFED_LEN - 1 }>::new(ClusterFilter::Any);
    let mut window = v.encoded;
    while !window.is_empty() {
        match d.feed(window) {
            Feed::Consumed => break,
            Feed::Frame { frame, .. } => panic!("{frame:?}"),
            Feed::Error { remaining, .. } => window = remaining,
        }
    }
    assert_eq!(d.counters().over_full, 1);
}

fn decode_with<const N: usize>(wire: &[u8]) -> Option<twinbeat_protocol::Frame> {
    let mut d = Deframer::<N>::new(ClusterFilter::Any);
    let mut window = wire;
    let mut got = None;
    while !window.is_empty() {
        match d.feed(window) {
            Feed::Consumed => break,
            Feed::Frame {
                frame,
                raw,
                remaining,
                ..
            } => {
                assert_eq!(raw, &wire[1..wire.len() - 1]);
                got = Some(frame);
                window = remaining;
            }
            Feed::Error { error, .. } => panic!("{error:?}"),
        }
    }
    got
}
