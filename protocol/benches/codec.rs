//! Encode and decode throughput of `Ping` and `Ack` frames (one frame per
//! iteration; criterion reports frames/s as elements/s).

use criterion::{criterion_main, Criterion, Throughput};
use std::hint::black_box;
use twinbeat_protocol::vectors::ALL;
use twinbeat_protocol::{encode, ClusterFilter, Deframer, Feed, Frame, MAX_FRAME_LEN};

fn vector(name: &str) -> (Frame, &'static [u8]) {
    let v = ALL
        .iter()
        .find(|v| v.name == name)
        .expect("golden vector exists");
    (v.frame, v.encoded)
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    for (label, name) in [
        ("ping", "ping_month_uptime"),
        ("ack", "ack_primary"),
        ("ping_echo", "ping_echo"),
    ] {
        let (frame, wire) = vector(name);
        println!("{label}: {} bytes on the wire ({name})", wire.len());

        group.bench_function(format!("encode_{label}"), |b| {
            let mut out = [0u8; MAX_FRAME_LEN];
            b.iter(|| encode(black_box(&frame), &mut out).expect("fits"))
        });

        group.bench_function(format!("decode_{label}"), |b| {
            let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Only(frame.cluster));
            b.iter(|| match deframer.feed(black_box(wire)) {
                Feed::Frame { frame, .. } => frame,
                other => panic!("{other:?}"),
            })
        });
    }
    group.finish();
}

/// criterion's macro generates an undocumented `pub fn`; keep it contained.
mod group {
    #![allow(missing_docs, unreachable_pub)]
    criterion::criterion_group!(benches, super::codec);
}
criterion_main!(group::benches);
