//! Golden vectors: frames and their exact encodings, shared with `WIRE.md`.
//! The daemon and the firmware test against these so every implementation
//! agrees byte for byte.

use crate::{
    Ack, BridgeStatus, ClusterId, Conditions, Extensions, Frame, Hello, HelloReply, Message,
    NodeId, NodeName, NodeState, Pause, Ping, Role, Side, SwitchoverStage, SyncEpoch,
    TakeoverAnswer, TakeoverRequest, WireVersion,
};

/// The cluster id of the vectors: `ClusterId::from_name("twinbeat")`.
pub const TWINBEAT: ClusterId = ClusterId(0x7E48_89D7);

/// One golden vector.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    /// Short name, also the seed-corpus file name.
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// The frame `encoded` decodes to.
    pub frame: Frame,
    /// The version `encoded` is written in.
    pub version: WireVersion,
    /// `encoded` is what `encode_as(&frame, version)` writes. False for bytes
    /// only a receiver meets: a tail field this crate does not know, which
    /// decoding skips and encoding cannot write.
    pub canonical: bool,
    /// The frame on the line, both delimiters included.
    pub encoded: &'static [u8],
}

const NONE: Extensions = Extensions::NONE;

/// A standby's routine state: term 1, healthy, WAL at 0/3000060.
const STANDBY: NodeState = NodeState {
    role: Role::Standby,
    term: 1,
    fenced: false,
    db_healthy: true,
    gateway_up: true,
    wal_lsn: 0x0300_0060,
};

/// Every head field at its widest.
const WIDEST: NodeState = NodeState {
    role: Role::Hold,
    term: u64::MAX,
    fenced: true,
    db_healthy: true,
    gateway_up: true,
    wal_lsn: u64::MAX,
};

/// Every extension at its widest.
const EVERY_EXTENSION: Extensions = Extensions {
    echoed_seq: Some(u32::MAX),
    conditions: Some(Conditions {
        human_promoted: true,
        leaving: true,
    }),
    sync_epoch: Some(SyncEpoch {
        synchronous: true,
        since_lsn: u64::MAX,
    }),
    pause: Some(Pause {
        seconds_left: Some(u32::MAX),
    }),
    config_fingerprint: Some(0xC0FF_EE42),
    node_name: match NodeName::new("pg-b.rack-7.eu-west-1.zürich.ch") {
        Ok(name) => Some(name),
        Err(_) => panic!("the vector's name fits NodeName::MAX_LEN"),
    },
    takeover_request: Some(TakeoverRequest { lsn: u64::MAX }),
    takeover_answer: Some(TakeoverAnswer {
        lsn: u64::MAX,
        verdict: u8::MAX,
    }),
    switchover: Some(SwitchoverStage::Stopped { lsn: u64::MAX }),
};

/// The widest frame this crate encodes.
const WIDEST_FRAME: Frame = Frame {
    cluster: ClusterId(u32::MAX),
    sender: NodeId(u32::MAX - 1),
    message: Message::Ping(Ping {
        seq: u32::MAX,
        state: WIDEST,
        extensions: EVERY_EXTENSION,
    }),
};

/// Every golden vector.
pub const ALL: &[Vector] = &[
    Vector {
        name: "ping_standby",
        about: "A standby's routine ping: term 1, healthy, WAL at 0/3000060.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 1, state: STANDBY, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0c, 0x01, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x60, 0x5d, 0x6d, 0xb1, 0x00],
    },
    Vector {
        name: "ack_primary",
        about: "The primary's answer to it.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 1, state: NodeState { role: Role::Primary, term: 1, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0148 }, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x0c, 0x01, 0x19, 0x01, 0xc8, 0x82, 0x80, 0x18, 0x58, 0x1d, 0xd5, 0x9f, 0x00],
    },
    Vector {
        name: "ping_month_uptime",
        about: "A primary after ~23 days of pings (3-byte seq), term 12, WAL at 16/B374D848 (a long-running primary).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 2_000_000, state: NodeState { role: Role::Primary, term: 12, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x16_B374_D848 }, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x10, 0x80, 0x89, 0x7a, 0x19, 0x0c, 0xc8, 0xb0, 0xd3, 0x9b, 0xeb, 0x02, 0x35, 0x90, 0xe3, 0x8f, 0x00],
    },
    Vector {
        name: "ping_fenced",
        about: "A fenced master: the flag it carries in every frame.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 42, state: NodeState { role: Role::Primary, term: 7, fenced: true, db_healthy: false, gateway_up: false, wal_lsn: 0x0400_0000 }, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x0c, 0x2a, 0x05, 0x07, 0x80, 0x80, 0x80, 0x20, 0xd1, 0x77, 0x71, 0x6d, 0x00],
    },
    Vector {
        name: "ack_hold_zero",
        about: "All-zero values (a node in hold that has never replicated).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 0, state: NodeState { role: Role::Hold, term: 0, fenced: false, db_healthy: false, gateway_up: false, wal_lsn: 0 }, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x01, 0x02, 0x03, 0x01, 0x05, 0xe0, 0xfc, 0x75, 0x08, 0x00],
    },
    Vector {
        name: "ping_promoting",
        about: "A standby mid-promotion (2-byte seq).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 300, state: NodeState { role: Role::Promoting, term: 2, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0060 }, extensions: NONE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0d, 0xac, 0x02, 0x1a, 0x02, 0xe0, 0x80, 0x80, 0x18, 0x6c, 0xd1, 0xb8, 0x3b, 0x00],
    },
    Vector {
        name: "ping_echo",
        about: "A standby's routine ping in version 3: it has seen the primary's ping 1.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 2, state: STANDBY, extensions: Extensions { echoed_seq: Some(1), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0f, 0x02, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x01, 0x01, 0x01, 0x35, 0x79, 0xdb, 0x84, 0x00],
    },
    Vector {
        name: "ping_routine",
        about: "A standby's routine ping as a daemon sends it since rule `pair-agrees`: the echo and its settings' fingerprint (tail field 9).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 2, state: STANDBY, extensions: Extensions { echoed_seq: Some(1), config_fingerprint: Some(0x5EED_F00D), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x15, 0x02, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x01, 0x01, 0x01, 0x09, 0x04, 0x0d, 0xf0, 0xed, 0x5e, 0x24, 0x06, 0x8d, 0x24, 0x00],
    },
    Vector {
        name: "ack_leaving",
        about: "A primary that an operator promoted, leaving the pair: both condition bits.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 2, state: NodeState { role: Role::Primary, term: 2, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0148 }, extensions: Extensions { echoed_seq: Some(1), conditions: Some(Conditions { human_promoted: true, leaving: true }), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x12, 0x02, 0x19, 0x02, 0xc8, 0x82, 0x80, 0x18, 0x01, 0x01, 0x01, 0x03, 0x01, 0x03, 0x35, 0x7b, 0xa4, 0x67, 0x00],
    },
    Vector {
        name: "ping_unknown_field",
        about: "A ping from a later sender: tag 125, unknown here, is skipped.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 2, state: STANDBY, extensions: Extensions { echoed_seq: Some(1), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: false,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x14, 0x02, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x01, 0x01, 0x01, 0x7d, 0x03, 0x2a, 0x06, 0x07, 0xba, 0xe0, 0x29, 0x1b, 0x00],
    },
    Vector {
        name: "ping_takeover_request",
        about: "A primary that lost its gateway asks the standby to take over at 0/3000148.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 3, state: NodeState { role: Role::Primary, term: 2, fenced: false, db_healthy: true, gateway_up: false, wal_lsn: 0x0300_0148 }, extensions: Extensions { echoed_seq: Some(2), takeover_request: Some(TakeoverRequest { lsn: 0x0300_0148 }), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x15, 0x03, 0x09, 0x02, 0xc8, 0x82, 0x80, 0x18, 0x01, 0x01, 0x02, 0x0d, 0x04, 0xc8, 0x82, 0x80, 0x18, 0x68, 0x2e, 0xf3, 0xfc, 0x00],
    },
    Vector {
        name: "ack_takeover_answer",
        about: "The standby's answer after its fresh checks: ready to take over at 0/3000148.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ack(Ack { seq: 3, state: NodeState { role: Role::Standby, term: 2, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0148 }, extensions: Extensions { echoed_seq: Some(3), takeover_answer: Some(TakeoverAnswer { lsn: 0x0300_0148, verdict: TakeoverAnswer::READY }), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x11, 0x03, 0x18, 0x02, 0xc8, 0x82, 0x80, 0x18, 0x01, 0x01, 0x03, 0x0f, 0x05, 0xc8, 0x82, 0x80, 0x18, 0x05, 0x1b, 0x0b, 0x53, 0x4a, 0x00],
    },
    Vector {
        name: "ping_switchover_requested",
        about: "A standby whose operator ran `twinbeat switchover` asks its master to hand the primary role over.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 4, state: NodeState { role: Role::Standby, term: 2, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0148 }, extensions: Extensions { echoed_seq: Some(3), switchover: Some(SwitchoverStage::Requested), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0d, 0x04, 0x18, 0x02, 0xc8, 0x82, 0x80, 0x18, 0x01, 0x01, 0x03, 0x11, 0x01, 0x05, 0x94, 0x96, 0xd0, 0x63, 0x00],
    },
    Vector {
        name: "ping_switchover_stopped",
        about: "The master handing over: still primary of term 2, its PostgreSQL shut down cleanly with the shutdown checkpoint at 1/28.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 5, state: NodeState { role: Role::Primary, term: 2, fenced: false, db_healthy: false, gateway_up: true, wal_lsn: 0x0000_0001_0000_0028 }, extensions: Extensions { echoed_seq: Some(4), switchover: Some(SwitchoverStage::Stopped { lsn: 0x0000_0001_0000_0028 }), ..NONE } }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x18, 0x05, 0x11, 0x02, 0xa8, 0x80, 0x80, 0x80, 0x10, 0x01, 0x01, 0x04, 0x11, 0x06, 0x02, 0xa8, 0x80, 0x80, 0x80, 0x10, 0x8d, 0x56, 0xad, 0xa8, 0x00],
    },
    Vector {
        name: "ping_every_extension",
        about: "Every field and every extension at its widest: the longest frame this crate encodes.",
        frame: WIDEST_FRAME,
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x96, 0x03, 0x01, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x03, 0x01, 0x03, 0x05, 0x0b, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x07, 0x06, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x09, 0x04, 0x42, 0xee, 0xff, 0xc0, 0x0b, 0x20, 0x70, 0x67, 0x2d, 0x62, 0x2e, 0x72, 0x61, 0x63, 0x6b, 0x2d, 0x37, 0x2e, 0x65, 0x75, 0x2d, 0x77, 0x65, 0x73, 0x74, 0x2d, 0x31, 0x2e, 0x7a, 0xc3, 0xbc, 0x72, 0x69, 0x63, 0x68, 0x2e, 0x63, 0x68, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0f, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0x11, 0x0b, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0e, 0x6d, 0x46, 0x55, 0x00],
    },
    Vector {
        name: "ping_max",
        about: "The same with an unknown field filling the tail to `MAX_TAIL_LEN`: a frame of exactly `MAX_FRAME_LEN` bytes.",
        frame: WIDEST_FRAME,
        version: WireVersion::V3,
        canonical: false,
        encoded: &[0x00, 0xa9, 0x03, 0x01, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x03, 0x01, 0x03, 0x05, 0x0b, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x07, 0x06, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x09, 0x04, 0x42, 0xee, 0xff, 0xc0, 0x0b, 0x20, 0x70, 0x67, 0x2d, 0x62, 0x2e, 0x72, 0x61, 0x63, 0x6b, 0x2d, 0x37, 0x2e, 0x65, 0x75, 0x2d, 0x77, 0x65, 0x73, 0x74, 0x2d, 0x31, 0x2e, 0x7a, 0xc3, 0xbc, 0x72, 0x69, 0x63, 0x68, 0x2e, 0x63, 0x68, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0f, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0x11, 0x0b, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x7f, 0x11, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5b, 0xcb, 0x5c, 0x3a, 0x00],
    },
    Vector {
        name: "ping_standby_v2",
        about: "`ping_standby` in version 2 (no tail), as a peer not yet upgraded sends it.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 1, state: STANDBY, extensions: NONE }),
        },
        version: WireVersion::V2,
        canonical: true,
        encoded: &[0x00, 0x08, 0x02, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0c, 0x01, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x3f, 0x81, 0x89, 0xee, 0x00],
    },
    Vector {
        name: "bridge_status",
        about: "A bridge's status sent to side A: B never heard.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId::BRIDGE,
            message: Message::BridgeStatus(BridgeStatus { uptime_ms: 123_456, since_a_ms: Some(15), since_b_ms: None, frames_dropped: 3, to_side: Side::A }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x10, 0x03, 0x03, 0xd7, 0x89, 0x48, 0x7e, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc4, 0x07, 0x01, 0x0f, 0x02, 0x03, 0x05, 0x84, 0x11, 0x0b, 0x16, 0x00],
    },
    Vector {
        name: "bridge_status_request",
        about: "A host asking the bridge for its status (empty body).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::BridgeStatusRequest,
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x04, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x05, 0xe9, 0xf2, 0xd4, 0xc1, 0x00],
    },
    Vector {
        name: "hello",
        about: "`twinbeat diagnose` on node 1 asking who is at the other end of the cable.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Hello(Hello { nonce: 0x0BAD_CAFE }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x05, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x09, 0xfe, 0x95, 0xb7, 0x5d, 0xc0, 0x5c, 0xd4, 0x6a, 0x00],
    },
    Vector {
        name: "hello_reply",
        about: "Node 2's daemon answering it: a standby in term 1, and its settings' fingerprint.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::HelloReply(HelloReply { nonce: 0x0BAD_CAFE, state: STANDBY, config_fingerprint: Some(0x5EED_F00D) }),
        },
        version: WireVersion::V3,
        canonical: true,
        encoded: &[0x00, 0x08, 0x03, 0x06, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x15, 0xfe, 0x95, 0xb7, 0x5d, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x01, 0x8d, 0xe0, 0xb7, 0xf7, 0x05, 0xb9, 0x9b, 0xf7, 0x30, 0x00],
    },
];
