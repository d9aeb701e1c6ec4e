//! The serial link over a real pty pair made by socat: ping/ack between two
//! links, line noise and foreign frames counted and dropped without losing the
//! frames after them, a device unplugged and plugged back, a device missing at
//! start, and a peer on the previous wire version answered in it.

use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use twinbeat_lab::cmd::wait_until;
use twinbeat_lab::pty::PtyPair;
use twinbeat_lab::rt::runtime;
use twinbeat_protocol::{
    encode_as, Ack, ClusterId, DecodeError, Extensions, Frame, Message, NodeId, NodeState, Ping,
    Role, WireVersion, MAX_FRAME_LEN,
};

use super::{LinkEvent, SendError, SerialConfig, SerialLink};

/// Safety net against a hang; never reached when things work.
const LIMIT: Duration = Duration::from_secs(20);

fn cluster() -> ClusterId {
    ClusterId::from_name("pair-test")
}

fn state(role: Role) -> NodeState {
    NodeState {
        role,
        term: 3,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 0x0300_0148,
    }
}

fn ping(seq: u32) -> Frame {
    Frame {
        cluster: cluster(),
        sender: NodeId(1),
        message: Message::Ping(Ping {
            seq,
            state: state(Role::Standby),
            extensions: Extensions::NONE,
        }),
    }
}

/// Waits for the first event `pick` accepts, collecting the ones skipped.
fn wait_for<T>(
    rt: &tokio::runtime::Runtime,
    events: &mut Receiver<LinkEvent>,
    skipped: &mut Vec<LinkEvent>,
    mut pick: impl FnMut(&LinkEvent) -> Option<T>,
) -> T {
    rt.block_on(async {
        tokio::time::timeout(LIMIT, async {
            loop {
                let event = events.recv().await.expect("link alive");
                if let Some(found) = pick(&event) {
                    return found;
                }
                skipped.push(event);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no matching event; skipped {skipped:?}"))
    })
}

fn spawn(path: &std::path::Path) -> (SerialLink, Receiver<LinkEvent>) {
    SerialLink::spawn(SerialConfig::new(path, 115_200, cluster()))
}

fn wait_up(rt: &tokio::runtime::Runtime, events: &mut Receiver<LinkEvent>) {
    wait_for(rt, events, &mut Vec::new(), |e| {
        (e == &LinkEvent::Up).then_some(())
    });
}

/// One end's link and its events.
type LinkEnd = (SerialLink, Receiver<LinkEvent>);

/// A pty pair with a link opened and up on each end (the pair must outlive them: dropping
/// it kills socat).
fn linked_pair(rt: &tokio::runtime::Runtime) -> (PtyPair, LinkEnd, LinkEnd) {
    let pair = PtyPair::new().expect("a pty pair (socat)");
    let (a, mut a_events) = spawn(&pair.a);
    let (b, mut b_events) = spawn(&pair.b);
    wait_up(rt, &mut a_events);
    wait_up(rt, &mut b_events);
    (pair, (a, a_events), (b, b_events))
}

/// `a` pings, `b` answers with an ack echoing the seq, `a` receives it.
fn ping_ack(
    rt: &tokio::runtime::Runtime,
    (a, a_events): (&SerialLink, &mut Receiver<LinkEvent>),
    (b, b_events): (&SerialLink, &mut Receiver<LinkEvent>),
    seq: u32,
) {
    a.send(&ping(seq)).expect("send ping");
    let got = wait_for(rt, b_events, &mut Vec::new(), |e| match e {
        LinkEvent::Frame { frame, .. } => Some(*frame),
        _ => None,
    });
    assert_eq!(got, ping(seq));
    let ack = Frame {
        cluster: cluster(),
        sender: NodeId(2),
        message: Message::Ack(Ack {
            seq,
            state: state(Role::Primary),
            extensions: Extensions::NONE,
        }),
    };
    b.send(&ack).expect("send ack");
    let got = wait_for(rt, a_events, &mut Vec::new(), |e| match e {
        LinkEvent::Frame { frame, .. } => Some(*frame),
        _ => None,
    });
    assert_eq!(got, ack);
}

#[test]
fn ping_and_ack_cross_the_line() {
    let rt = runtime();
    let (_pair, (a, mut a_events), (b, mut b_events)) = linked_pair(&rt);
    for seq in 0..20 {
        ping_ack(&rt, (&a, &mut a_events), (&b, &mut b_events), seq);
    }
    // The writer thread counts a frame once its write returns, which can be
    // after the answer to it has already arrived.
    wait_until("20 frames counted as sent", LIMIT, || {
        a.counters().frames_sent == 20
    })
    .unwrap();
    assert_eq!(b.counters().decode.frames_ok, 20);
    assert_eq!(a.counters().decode.frames_ok, 20);
    assert_eq!(b.counters().decode.errors(), 0);
}

#[test]
fn garbage_and_foreign_frames_are_counted_and_dropped_and_later_frames_decode() {
    let rt = runtime();
    let (_pair, (a, _a_events), (b, mut b_events)) = linked_pair(&rt);

    // Noise that ends in a delimiter (a corrupt frame), a valid frame of another
    // cluster, a corrupted copy of a good frame, then a good frame.
    a.send_raw(vec![0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x42, 0x00])
        .expect("noise");
    let mut foreign = ping(7);
    foreign.cluster = ClusterId::from_name("another-pair");
    a.send(&foreign).expect("foreign frame");
    let mut bytes = vec![0; MAX_FRAME_LEN];
    let len = twinbeat_protocol::encode(&ping(8), &mut bytes).expect("encode");
    bytes.truncate(len);
    bytes[len / 2] ^= 0x55;
    a.send_raw(bytes).expect("corrupted frame");
    a.send(&ping(9)).expect("good frame");

    let mut skipped = Vec::new();
    let got = wait_for(&rt, &mut b_events, &mut skipped, |e| match e {
        LinkEvent::Frame { frame, .. } => Some(*frame),
        _ => None,
    });
    assert_eq!(got, ping(9), "the first frame accepted is the good one");
    let rejected: Vec<DecodeError> = skipped
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Rejected { error } => Some(*error),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 3, "{skipped:?}");
    assert!(
        rejected.contains(&DecodeError::WrongCluster(foreign.cluster)),
        "{rejected:?}"
    );
    // Counters are published after each read; wait for the good frame's.
    wait_until("counters", LIMIT, || b.counters().decode.frames_ok == 1).unwrap();
    let counters = b.counters().decode;
    assert_eq!(counters.wrong_cluster, 1, "{counters:?}");
    assert_eq!(counters.errors(), 3, "{counters:?}");
}

#[test]
fn unplugged_device_is_reported_and_reopened() {
    let rt = runtime();
    let (mut pair, (a, mut a_events), (b, mut b_events)) = linked_pair(&rt);
    ping_ack(&rt, (&a, &mut a_events), (&b, &mut b_events), 1);

    pair.unplug();
    for events in [&mut a_events, &mut b_events] {
        wait_for(&rt, events, &mut Vec::new(), |e| {
            matches!(e, LinkEvent::Down { .. }).then_some(())
        });
    }
    wait_until("link a closed", LIMIT, || !a.is_open()).unwrap();
    assert!(matches!(a.send(&ping(2)), Err(SendError::NotOpen)));

    pair.plug().expect("plug");
    wait_up(&rt, &mut a_events);
    wait_up(&rt, &mut b_events);
    ping_ack(&rt, (&a, &mut a_events), (&b, &mut b_events), 3);
    assert_eq!(a.counters().opens, 2);
    assert_eq!(b.counters().opens, 2);
}

#[test]
fn device_missing_at_start_is_down_until_it_appears() {
    let mut pair = PtyPair::new().expect("a pty pair (socat)");
    pair.unplug();
    let rt = runtime();
    let (a, mut a_events) = spawn(&pair.a);
    let reason = wait_for(&rt, &mut a_events, &mut Vec::new(), |e| match e {
        LinkEvent::Down { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.contains("cannot open"), "{reason}");
    assert!(!a.is_open());
    wait_until("a few retries", LIMIT, || a.counters().open_failures >= 2).unwrap();

    pair.plug().expect("plug");
    wait_up(&rt, &mut a_events);
    let (b, mut b_events) = spawn(&pair.b);
    wait_up(&rt, &mut b_events);
    ping_ack(&rt, (&a, &mut a_events), (&b, &mut b_events), 1);
}

/// `frame` as a node of `version` writes it.
fn bytes_as(frame: &Frame, version: WireVersion) -> Vec<u8> {
    let mut out = vec![0; MAX_FRAME_LEN];
    let n = encode_as(frame, version, &mut out).expect("encode");
    out.truncate(n);
    out
}

#[test]
fn a_peer_on_the_previous_version_is_heard_and_answered_in_it() {
    let rt = runtime();
    // `a` is upgraded; the far end plays the peer, first on version 2, then upgraded.
    let (_pair, (a, mut a_events), (peer, mut peer_events)) = linked_pair(&rt);
    assert_eq!(a.peer_version(), WireVersion::V3, "until the peer is heard");
    let frame_of = |events: &mut Receiver<LinkEvent>| {
        wait_for(&rt, events, &mut Vec::new(), |e| match e {
            LinkEvent::Frame { frame, version, .. } => Some((*frame, *version)),
            _ => None,
        })
    };
    let answer = |seq| {
        let mut ack = ping(seq);
        ack.message = Message::Ack(Ack {
            seq,
            state: state(Role::Primary),
            extensions: Extensions {
                echoed_seq: Some(seq),
                ..Extensions::NONE
            },
        });
        ack
    };
    let without_extensions = |mut frame: Frame| {
        if let Message::Ack(ack) = &mut frame.message {
            ack.extensions = Extensions::NONE;
        }
        frame
    };

    // The peer not yet upgraded: its version-2 ping is heard...
    peer.send_raw(bytes_as(&ping(1), WireVersion::V2))
        .expect("v2 ping");
    assert_eq!(frame_of(&mut a_events), (ping(1), WireVersion::V2));
    assert_eq!(a.peer_version(), WireVersion::V2);
    // ...and answered in version 2, which it understands (no tail).
    a.send(&answer(1)).expect("ack");
    assert_eq!(
        frame_of(&mut peer_events),
        (without_extensions(answer(1)), WireVersion::V2)
    );

    // The peer upgraded: version 3 both ways, extensions included.
    peer.send_raw(bytes_as(&ping(2), WireVersion::V3))
        .expect("v3 ping");
    assert_eq!(frame_of(&mut a_events), (ping(2), WireVersion::V3));
    a.send(&answer(2)).expect("ack");
    assert_eq!(frame_of(&mut peer_events), (answer(2), WireVersion::V3));
    assert_eq!(a.counters().decode.errors(), 0);
    assert_eq!(peer.counters().decode.errors(), 0);
}
