//! Property tests: round trip, no panics on garbage, chunking, resync after noise.

mod common;

use common::{encoded, events, frame, frames, Event};
use proptest::prelude::*;
use twinbeat_protocol::{
    encode_as, ClusterFilter, Extensions, Frame, Message, WireVersion, MAX_FRAME_LEN,
};

/// `frame` as a version-2 receiver would see it: no extensions.
fn without_extensions(mut frame: Frame) -> Frame {
    match &mut frame.message {
        Message::Ping(p) => p.extensions = Extensions::NONE,
        Message::Ack(a) => a.extensions = Extensions::NONE,
        Message::BridgeStatus(_)
        | Message::BridgeStatusRequest
        | Message::Hello(_)
        | Message::HelloReply(_) => {}
    }
    frame
}

/// Bytes biased towards 0x00 and towards frame-like content, so delimiters,
/// empty frames and COBS code bytes are exercised often.
fn noise(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![3 => any::<u8>(), 1 => Just(0u8), 1 => 1u8..4],
        0..max,
    )
}

/// Noise segments and valid frames, interleaved.
fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<Frame>)> {
    proptest::collection::vec((noise(120), frame()), 0..8).prop_map(|parts| {
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        for (junk, f) in parts {
            bytes.extend_from_slice(&junk);
            bytes.extend_from_slice(&encoded(&f));
            sent.push(f);
        }
        (bytes, sent)
    })
}

/// Splits `bytes` at the given cut points (sorted, clamped).
fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        out.push(bytes[at..c].to_vec());
        at = c;
    }
    out.push(bytes[at..].to_vec());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_message_round_trips(f in frame()) {
        let wire = encoded(&f);
        let raw = wire[1..wire.len() - 1].to_vec();
        let (got, d) = events([&wire[..]], ClusterFilter::Only(f.cluster));
        prop_assert_eq!(got, vec![Event::Frame(f, WireVersion::V3, raw)]);
        prop_assert_eq!(d.counters().frames_ok, 1);
        prop_assert!(wire.len() <= MAX_FRAME_LEN);
    }

    /// What a peer not yet upgraded sends decodes as version 2, equal to the
    /// frame but for the extensions, which version 2 cannot carry.
    #[test]
    fn a_version_2_frame_decodes_without_extensions(f in frame()) {
        let mut out = [0u8; MAX_FRAME_LEN];
        let n = encode_as(&f, WireVersion::V2, &mut out).expect("fits");
        let wire = &out[..n];
        prop_assert_eq!(wire[2], 2, "version byte");
        let (got, _) = events([wire], ClusterFilter::Only(f.cluster));
        let raw = wire[1..n - 1].to_vec();
        prop_assert_eq!(got, vec![Event::Frame(without_extensions(f), WireVersion::V2, raw)]);
        // Without extensions a version-3 frame is exactly as long.
        let v3 = encoded(&without_extensions(f));
        prop_assert_eq!(v3.len(), n);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in noise(600)) {
        let (got, d) = events([&bytes[..]], ClusterFilter::Any);
        // Every event was counted, once.
        let c = d.counters();
        prop_assert_eq!(got.len() as u64, u64::from(c.frames_ok) + u64::from(c.errors()));
    }

    #[test]
    fn chunked_feeding_equals_whole((bytes, _) in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let (whole, _) = events([&bytes[..]], ClusterFilter::Any);
        let pieces = chunked(&bytes, &cuts);
        let (parts, _) = events(pieces.iter().map(Vec::as_slice), ClusterFilter::Any);
        prop_assert_eq!(whole, parts);
    }

    #[test]
    fn noise_loses_no_following_good_frame((bytes, sent) in stream()) {
        let (got, _) = events([&bytes[..]], ClusterFilter::Any);
        prop_assert_eq!(frames(&got), sent);
    }

    #[test]
    fn byte_at_a_time_equals_whole((bytes, sent) in stream()) {
        let (got, _) = events(bytes.chunks(1), ClusterFilter::Any);
        prop_assert_eq!(frames(&got), sent);
    }
}
