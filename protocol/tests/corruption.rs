//! 10^6 random corruptions of valid frames are never accepted as a message.
//!
//! Each trial encodes a random frame, damages the COBS bytes between its
//! delimiters (bit flips, truncation, insertion, deletion, or a splice with
//! another frame), sends `0x00 · damaged · 0x00`, and requires that no frame
//! at all comes out. Damage that leaves the bytes unchanged is redrawn, so a
//! decoded frame is always a false accept. The seed is fixed: the run is
//! deterministic (a CRC-32 passes random damage with p = 2^-32, so a given
//! seed either always passes or always fails).

mod common;

use common::{encoded, events, Event};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use twinbeat_protocol::{
    Ack, BridgeStatus, ClusterFilter, ClusterId, Conditions, DecodeError, Extensions, Frame, Hello,
    HelloReply, Message, NodeId, NodeName, NodeState, Pause, Ping, Role, Side, SwitchoverStage,
    SyncEpoch, TakeoverAnswer, TakeoverRequest,
};

/// Trials by default; `TWINBEAT_CORRUPTIONS=n` overrides.
const CORRUPTIONS: u64 = 1_000_000;
const SEED: u64 = 0x7477_696e_6265_6174; // "twinbeat"

/// A u64 of random width, so varints of every length appear.
fn wide(rng: &mut SmallRng) -> u64 {
    rng.random::<u64>() >> rng.random_range(0..64)
}

fn narrow(rng: &mut SmallRng) -> u32 {
    rng.random::<u32>() >> rng.random_range(0..32)
}

/// Each extension present half the time, so tails of every shape appear.
fn random_extensions(rng: &mut SmallRng) -> Extensions {
    const NAMES: [&str; 3] = ["a", "pg-b.rack-7", "pg-b.rack-7.eu-west-1.zürich.ch"];
    Extensions {
        echoed_seq: rng.random::<bool>().then(|| narrow(rng)),
        conditions: rng.random::<bool>().then(|| Conditions {
            human_promoted: rng.random(),
            leaving: rng.random(),
        }),
        sync_epoch: rng.random::<bool>().then(|| SyncEpoch {
            synchronous: rng.random(),
            since_lsn: wide(rng),
        }),
        pause: rng.random::<bool>().then(|| Pause {
            seconds_left: rng.random::<bool>().then(|| narrow(rng)),
        }),
        config_fingerprint: rng.random::<bool>().then(|| rng.random()),
        node_name: rng
            .random::<bool>()
            .then(|| NodeName::new(NAMES[rng.random_range(0..NAMES.len())]).expect("fits")),
        takeover_request: rng
            .random::<bool>()
            .then(|| TakeoverRequest { lsn: wide(rng) }),
        takeover_answer: rng.random::<bool>().then(|| TakeoverAnswer {
            lsn: wide(rng),
            verdict: rng.random(),
        }),
        switchover: rng.random::<bool>().then(|| match rng.random_range(0..3) {
            0 => SwitchoverStage::Requested,
            1 => SwitchoverStage::Stopping,
            _ => SwitchoverStage::Stopped { lsn: wide(rng) },
        }),
    }
}

fn random_frame(rng: &mut SmallRng) -> Frame {
    let state = NodeState {
        role: [Role::Standby, Role::Primary, Role::Promoting, Role::Hold][rng.random_range(0..4)],
        term: wide(rng),
        fenced: rng.random(),
        db_healthy: rng.random(),
        gateway_up: rng.random(),
        wal_lsn: wide(rng),
    };
    let seq = narrow(rng);
    let message = match rng.random_range(0..10) {
        0..=2 => Message::Ping(Ping {
            seq,
            state,
            extensions: random_extensions(rng),
        }),
        3..=5 => Message::Ack(Ack {
            seq,
            state,
            extensions: random_extensions(rng),
        }),
        6 => Message::BridgeStatus(BridgeStatus {
            uptime_ms: narrow(rng),
            since_a_ms: rng.random::<bool>().then(|| narrow(rng)),
            since_b_ms: rng.random::<bool>().then(|| narrow(rng)),
            frames_dropped: narrow(rng),
            to_side: if rng.random() { Side::A } else { Side::B },
        }),
        7 => Message::BridgeStatusRequest,
        8 => Message::Hello(Hello { nonce: narrow(rng) }),
        _ => Message::HelloReply(HelloReply {
            nonce: narrow(rng),
            state,
            config_fingerprint: rng.random::<bool>().then(|| rng.random()),
        }),
    };
    Frame {
        cluster: ClusterId(rng.random()),
        sender: NodeId(rng.random()),
        message,
    }
}

/// The COBS bytes of `frame`, without delimiters.
fn inner(frame: &Frame) -> Vec<u8> {
    let wire = encoded(frame);
    wire[1..wire.len() - 1].to_vec()
}

const KINDS: [&str; 6] = [
    "bit flips",
    "truncation",
    "front cut",
    "insertion",
    "deletion",
    "splice",
];

/// Damages `good` in place with corruption `kind`; may be a no-op (redrawn by the caller).
fn corrupt(kind: usize, good: &[u8], rng: &mut SmallRng) -> Vec<u8> {
    let mut bad = good.to_vec();
    let len = bad.len();
    match kind {
        0 => {
            for _ in 0..rng.random_range(1..=8) {
                bad[rng.random_range(0..len)] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => bad.truncate(rng.random_range(0..len)),
        2 => {
            bad.drain(..rng.random_range(1..=len));
        }
        3 => {
            // Strictly inside: a 0x00 inserted at either end would only add
            // an empty frame next to an intact one, a true no-op on the line.
            for _ in 0..rng.random_range(1..=3) {
                let at = rng.random_range(1..bad.len());
                bad.insert(at, rng.random());
            }
        }
        4 => {
            for _ in 0..rng.random_range(1..=3).min(bad.len()) {
                bad.remove(rng.random_range(0..bad.len()));
            }
        }
        _ => {
            let other = inner(&random_frame(rng));
            let head = rng.random_range(0..=len);
            let tail = rng.random_range(0..=other.len());
            bad.truncate(head);
            bad.extend_from_slice(&other[tail..]);
            if bad == other {
                return good.to_vec(); // no-op in effect: redraw
            }
        }
    }
    bad
}

#[test]
fn random_corruptions_are_never_accepted() {
    let trials: u64 = std::env::var("TWINBEAT_CORRUPTIONS")
        .ok()
        .map(|v| v.parse().expect("TWINBEAT_CORRUPTIONS is a count"))
        .unwrap_or(CORRUPTIONS);
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut per_kind = [0u64; KINDS.len()];
    let mut per_error: std::collections::BTreeMap<String, u64> = Default::default();
    let mut done = 0;
    while done < trials {
        let good = inner(&random_frame(&mut rng));
        let kind = rng.random_range(0..KINDS.len());
        let bad = corrupt(kind, &good, &mut rng);
        if bad == good {
            continue;
        }
        let wire = [&[0u8][..], &bad, &[0]].concat();
        let (got, _) = events([&wire[..]], ClusterFilter::Any);
        for event in &got {
            match event {
                Event::Frame(f, _, _) => panic!(
                    "trial {done}: {} of {good:02x?} into {bad:02x?} was accepted as {f:?}",
                    KINDS[kind]
                ),
                Event::Error(e) => *per_error.entry(error_name(e)).or_default() += 1,
            }
        }
        per_kind[kind] += 1;
        done += 1;
    }
    println!("corruptions: {done} (seed {SEED:#x}), none accepted");
    for (name, n) in KINDS.iter().zip(per_kind) {
        println!("  {name}: {n}");
    }
    println!("  rejections by reason: {per_error:?}");
}

fn error_name(e: &DecodeError) -> String {
    let debug = format!("{e:?}");
    debug.split('(').next().unwrap_or_default().to_string()
}
