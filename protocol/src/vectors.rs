//! Golden vectors: frames and their exact encodings, shared with `WIRE.md`.
//! The daemon and the firmware test against these so every implementation
//! agrees byte for byte.

use crate::{Ack, BridgeStatus, ClusterId, Frame, Message, NodeId, NodeState, Ping, Role, Side};

/// The cluster id of the vectors: `ClusterId::from_name("twinbeat")`.
pub const TWINBEAT: ClusterId = ClusterId(0x7E48_89D7);

/// One golden vector.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    /// Short name, also the seed-corpus file name.
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// The frame.
    pub frame: Frame,
    /// `encode(&frame)`, both delimiters included.
    pub encoded: &'static [u8],
}

/// Every golden vector.
pub const ALL: &[Vector] = &[
    Vector {
        name: "ping_standby",
        about: "A standby's routine ping: term 1, healthy, WAL at 0/3000060.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 1, state: NodeState { role: Role::Standby, term: 1, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0060 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0c, 0x01, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18, 0x3f, 0x81, 0x89, 0xee, 0x00],
    },
    Vector {
        name: "ack_primary",
        about: "The primary's answer to it.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 1, state: NodeState { role: Role::Primary, term: 1, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0148 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x0c, 0x01, 0x19, 0x01, 0xc8, 0x82, 0x80, 0x18, 0x07, 0xc1, 0x31, 0xc0, 0x00],
    },
    Vector {
        name: "ping_month_uptime",
        about: "A primary after ~23 days of pings (3-byte seq), term 12, WAL at 16/B374D848 (a long-running primary).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 2_000_000, state: NodeState { role: Role::Primary, term: 12, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x16_B374_D848 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x10, 0x80, 0x89, 0x7a, 0x19, 0x0c, 0xc8, 0xb0, 0xd3, 0x9b, 0xeb, 0x02, 0xd8, 0xed, 0xe9, 0x82, 0x00],
    },
    Vector {
        name: "ping_fenced",
        about: "A fenced master: the flag it carries in every frame.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ping(Ping { seq: 42, state: NodeState { role: Role::Primary, term: 7, fenced: true, db_healthy: false, gateway_up: false, wal_lsn: 0x0400_0000 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x0c, 0x2a, 0x05, 0x07, 0x80, 0x80, 0x80, 0x20, 0x8e, 0xab, 0x95, 0x32, 0x00],
    },
    Vector {
        name: "ack_hold_zero",
        about: "All-zero values (a node in hold that has never replicated).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 0, state: NodeState { role: Role::Hold, term: 0, fenced: false, db_healthy: false, gateway_up: false, wal_lsn: 0 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x02, 0xd7, 0x89, 0x48, 0x7e, 0x01, 0x01, 0x01, 0x01, 0x02, 0x03, 0x01, 0x05, 0xa6, 0xa9, 0x72, 0x5c, 0x00],
    },
    Vector {
        name: "ping_promoting",
        about: "A standby mid-promotion (2-byte seq).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::Ping(Ping { seq: 300, state: NodeState { role: Role::Promoting, term: 2, fenced: false, db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0060 } }),
        },
        encoded: &[0x00, 0x08, 0x02, 0x01, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x0d, 0xac, 0x02, 0x1a, 0x02, 0xe0, 0x80, 0x80, 0x18, 0x47, 0xd3, 0xd1, 0x34, 0x00],
    },
    Vector {
        name: "ping_max",
        about: "Every field at its widest: a frame of exactly `MAX_FRAME_LEN` bytes.",
        frame: Frame {
            cluster: ClusterId(u32::MAX),
            sender: NodeId(u32::MAX - 1),
            message: Message::Ping(Ping { seq: u32::MAX, state: NodeState { role: Role::Hold, term: u64::MAX, fenced: true, db_healthy: true, gateway_up: true, wal_lsn: u64::MAX } }),
        },
        encoded: &[0x00, 0x29, 0x02, 0x01, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x53, 0xa1, 0xb3, 0x44, 0x00],
    },
    Vector {
        name: "bridge_status",
        about: "A bridge's status sent to side A: B never heard.",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId::BRIDGE,
            message: Message::BridgeStatus(BridgeStatus { uptime_ms: 123_456, since_a_ms: Some(15), since_b_ms: None, frames_dropped: 3, to_side: Side::A }),
        },
        encoded: &[0x00, 0x10, 0x02, 0x03, 0xd7, 0x89, 0x48, 0x7e, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc4, 0x07, 0x01, 0x0f, 0x02, 0x03, 0x05, 0xaf, 0x13, 0x62, 0x19, 0x00],
    },
    Vector {
        name: "bridge_status_request",
        about: "A host asking the bridge for its status (empty body).",
        frame: Frame {
            cluster: TWINBEAT,
            sender: NodeId(2),
            message: Message::BridgeStatusRequest,
        },
        encoded: &[0x00, 0x08, 0x02, 0x04, 0xd7, 0x89, 0x48, 0x7e, 0x02, 0x01, 0x01, 0x05, 0x4c, 0x89, 0x82, 0x0a, 0x00],
    },
];
