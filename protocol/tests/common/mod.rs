//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use proptest::prelude::*;
use twinbeat_protocol::{
    encode, Ack, BridgeStatus, ClusterFilter, ClusterId, Conditions, DecodeError, Deframer,
    Extensions, Feed, Frame, Hello, HelloReply, Message, NodeId, NodeName, NodeState, Pause, Ping,
    Role, Side, SwitchoverStage, SyncEpoch, TakeoverAnswer, TakeoverRequest, WireVersion,
    MAX_FRAME_LEN,
};

/// One thing a deframer reported.
// A `Frame` carries every tail field inline (184 bytes): boxing it here would
// only clutter the tests' patterns.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A frame, the version it came in, and its raw COBS bytes.
    Frame(Frame, WireVersion, Vec<u8>),
    /// A rejected frame.
    Error(DecodeError),
}

/// Feeds `chunks` in order to one deframer and records every event.
pub fn events<'c>(
    chunks: impl IntoIterator<Item = &'c [u8]>,
    filter: ClusterFilter,
) -> (Vec<Event>, Deframer<MAX_FRAME_LEN>) {
    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(filter);
    let mut out = Vec::new();
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
                    out.push(Event::Frame(frame, version, raw.to_vec()));
                    window = remaining;
                }
                Feed::Error { error, remaining } => {
                    out.push(Event::Error(error));
                    window = remaining;
                }
            }
        }
    }
    (out, deframer)
}

/// Only the frames of `events`.
pub fn frames(events: &[Event]) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f, _, _) => Some(*f),
            Event::Error(_) => None,
        })
        .collect()
}

/// `encode` into a fresh Vec.
pub fn encoded(frame: &Frame) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = encode(frame, &mut out).expect("every frame fits MAX_FRAME_LEN");
    out[..n].to_vec()
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Standby),
        Just(Role::Primary),
        Just(Role::Promoting),
        Just(Role::Hold)
    ]
}

pub fn node_state() -> impl Strategy<Value = NodeState> {
    (
        role(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(role, term, fenced, db_healthy, gateway_up, wal_lsn)| NodeState {
                role,
                term,
                fenced,
                db_healthy,
                gateway_up,
                wal_lsn,
            },
        )
}

/// A node name of 0 to 32 bytes, multi-byte characters included.
pub fn node_name() -> impl Strategy<Value = NodeName> {
    "[a-z0-9.é·-]{0,16}".prop_map(|name| {
        let mut end = name.len().min(NodeName::MAX_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        NodeName::new(&name[..end]).expect("cut to fit")
    })
}

/// Any switchover stage.
pub fn switchover_stage() -> impl Strategy<Value = SwitchoverStage> {
    prop_oneof![
        Just(SwitchoverStage::Requested),
        Just(SwitchoverStage::Stopping),
        any::<u64>().prop_map(|lsn| SwitchoverStage::Stopped { lsn }),
    ]
}

/// Any extensions, each field present or not.
pub fn extensions() -> impl Strategy<Value = Extensions> {
    (
        any::<Option<u32>>(),
        any::<Option<(bool, bool)>>(),
        any::<Option<(bool, u64)>>(),
        any::<Option<Option<u32>>>(),
        any::<Option<u32>>(),
        proptest::option::of(node_name()),
        any::<Option<u64>>(),
        any::<Option<(u64, u8)>>(),
        proptest::option::of(switchover_stage()),
    )
        .prop_map(
            |(
                echoed_seq,
                conditions,
                sync_epoch,
                pause,
                config_fingerprint,
                node_name,
                takeover_request,
                takeover_answer,
                switchover,
            )| {
                Extensions {
                    echoed_seq,
                    conditions: conditions.map(|(human_promoted, leaving)| Conditions {
                        human_promoted,
                        leaving,
                    }),
                    sync_epoch: sync_epoch.map(|(synchronous, since_lsn)| SyncEpoch {
                        synchronous,
                        since_lsn,
                    }),
                    pause: pause.map(|seconds_left| Pause { seconds_left }),
                    config_fingerprint,
                    node_name,
                    takeover_request: takeover_request.map(|lsn| TakeoverRequest { lsn }),
                    takeover_answer: takeover_answer
                        .map(|(lsn, verdict)| TakeoverAnswer { lsn, verdict }),
                    switchover,
                }
            },
        )
}

pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u32>(), node_state(), extensions()).prop_map(|(seq, state, extensions)| {
            Message::Ping(Ping {
                seq,
                state,
                extensions,
            })
        }),
        (any::<u32>(), node_state(), extensions()).prop_map(|(seq, state, extensions)| {
            Message::Ack(Ack {
                seq,
                state,
                extensions,
            })
        }),
        (
            any::<u32>(),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<u32>(),
            any::<bool>()
        )
            .prop_map(|(uptime_ms, since_a_ms, since_b_ms, frames_dropped, a)| {
                Message::BridgeStatus(BridgeStatus {
                    uptime_ms,
                    since_a_ms,
                    since_b_ms,
                    frames_dropped,
                    to_side: if a { Side::A } else { Side::B },
                })
            }),
        Just(Message::BridgeStatusRequest),
        any::<u32>().prop_map(|nonce| Message::Hello(Hello { nonce })),
        (any::<u32>(), node_state(), any::<Option<u32>>()).prop_map(
            |(nonce, state, config_fingerprint)| {
                Message::HelloReply(HelloReply {
                    nonce,
                    state,
                    config_fingerprint,
                })
            }
        ),
    ]
}

pub fn frame() -> impl Strategy<Value = Frame> {
    (any::<u32>(), any::<u32>(), message()).prop_map(|(cluster, sender, message)| Frame {
        cluster: ClusterId(cluster),
        sender: NodeId(sender),
        message,
    })
}
