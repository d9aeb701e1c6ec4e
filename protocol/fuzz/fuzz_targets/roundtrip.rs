//! Any frame encodes, fits `MAX_FRAME_LEN`, and decodes back to itself (in
//! the current version) with its COBS bytes handed out as `raw`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinbeat_protocol::{encode, ClusterFilter, Deframer, Feed, Frame, WireVersion, MAX_FRAME_LEN};

fuzz_target!(|frame: Frame| {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = encode(&frame, &mut out).expect("every frame fits MAX_FRAME_LEN");
    let wire = &out[..n];
    assert_eq!(wire.first(), Some(&0));
    assert_eq!(wire.last(), Some(&0));

    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Only(frame.cluster));
    match deframer.feed(wire) {
        Feed::Frame {
            frame: got,
            version,
            raw,
            remaining,
        } => {
            assert_eq!(got, frame);
            assert_eq!(version, WireVersion::CURRENT);
            assert_eq!(raw, &wire[1..n - 1]);
            assert!(remaining.is_empty());
        }
        other => panic!("{frame:?} encoded as {wire:02x?} decoded as {other:?}"),
    }
    assert_eq!(deframer.counters().frames_ok, 1);
});
