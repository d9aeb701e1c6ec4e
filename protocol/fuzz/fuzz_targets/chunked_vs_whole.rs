//! The same bytes fed whole and in chunks must give the same sequence of
//! frames and errors. Input: one control byte (bit 0: accept any cluster or
//! only the golden vectors' one), then the stream; chunk lengths are drawn
//! from the stream bytes mixed with the control byte, so the fuzzer steers both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinbeat_protocol::vectors::TWINBEAT;
use twinbeat_protocol::{
    ClusterFilter, DecodeError, Deframer, Feed, Frame, WireVersion, MAX_FRAME_LEN,
};

#[derive(Debug, PartialEq)]
enum Event {
    Frame(Frame, WireVersion, Vec<u8>),
    Error(DecodeError),
}

fn run<'a>(chunks: impl Iterator<Item = &'a [u8]>, filter: ClusterFilter) -> Vec<Event> {
    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(filter);
    let mut events = Vec::new();
    for chunk in chunks {
        let mut window = chunk;
        while !window.is_empty() {
            match deframer.feed(window) {
                Feed::Consumed => break,
                Feed::Frame {
                    frame,
                    version,
                    raw,
                    remaining,
                } => {
                    events.push(Event::Frame(frame, version, raw.to_vec()));
                    window = remaining;
                }
                Feed::Error { error, remaining } => {
                    events.push(Event::Error(error));
                    window = remaining;
                }
            }
        }
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let filter = if control & 1 == 0 {
        ClusterFilter::Any
    } else {
        ClusterFilter::Only(TWINBEAT)
    };
    let whole = run(core::iter::once(stream), filter);

    let mut chunks = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        // 0-length chunks included: an empty read must change nothing.
        let len = usize::from((stream[at] ^ control) % 50);
        let end = (at + len).min(stream.len());
        chunks.push(&stream[at..end]);
        at = if len == 0 { at + 1 } else { end };
        if len == 0 {
            chunks.push(&stream[at - 1..at]);
        }
    }
    let chunked = run(chunks.into_iter(), filter);
    assert_eq!(whole, chunked);
});
