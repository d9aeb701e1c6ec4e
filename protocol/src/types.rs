//! The message types carried in frames (what is said, not how it is framed).

use serde::{Deserialize, Serialize};

use crate::extensions::Extensions;
use crate::packed_state::PackedState;

/// Slice-by-16 tables (16 KiB) where memory is plentiful: they halve the CRC
/// cost of a frame on a server; a microcontroller keeps the 1 KiB bytewise table.
#[cfg(target_pointer_width = "64")]
type CrcTable = crc::Table<16>;
#[cfg(not(target_pointer_width = "64"))]
type CrcTable = crc::Table<1>;

/// CRC-32C (Castagnoli, `CRC_32_ISCSI`): the frame checksum and the cluster-name hash.
/// A static, not a const: a const would be re-materialised at every use.
pub(crate) static CRC32C: crc::Crc<u32, CrcTable> =
    crc::Crc::<u32, CrcTable>::new(&crc::CRC_32_ISCSI);

/// Identifies one twinbeat pair, so two pairs sharing a serial bridge or a
/// mis-cabled line never act on each other's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ClusterId(pub u32);

impl ClusterId {
    /// The id of a cluster name: CRC-32C (`CRC_32_ISCSI`: poly 0x1EDC6F41,
    /// reflected, init and xorout 0xFFFF_FFFF) of its UTF-8 bytes, no
    /// terminator, no normalisation. `from_name("123456789") == ClusterId(0xE306_9283)`.
    pub fn from_name(name: &str) -> Self {
        ClusterId(CRC32C.checksum(name.as_bytes()))
    }
}

/// Identifies the sender of a frame within its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node id a heartbeat bridge uses for the frames it originates
    /// (`BridgeStatus`); hosts must not configure it.
    pub const BRIDGE: NodeId = NodeId(u32::MAX);
}

/// The role a node is in, as it reports it to its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Role {
    /// Replicating from the peer; may promote under the decision rules.
    Standby,
    /// Serving writes and holding the VIP.
    Primary,
    /// Between "persisted promoting to term t+1" and "primary in term t+1".
    Promoting,
    /// Restarted or paused after being primary/fenced: no VIP until it hears the peer.
    Hold,
}

/// The sender's state, carried in every ping and ack (rule `state-in-every-frame`). On the
/// wire the role and the three flags share one byte (see `packed_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "PackedState", try_from = "PackedState")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NodeState {
    /// Current role.
    pub role: Role,
    /// Promotion term; a higher term wins a primary-vs-primary conflict.
    pub term: u64,
    /// The node has fenced itself (sticky until an operator rejoins it).
    pub fenced: bool,
    /// The node's local PostgreSQL passed its last check.
    pub db_healthy: bool,
    /// The node's own gateway answered its last check.
    pub gateway_up: bool,
    /// WAL position: current LSN on a primary, last received LSN on a standby.
    pub wal_lsn: u64,
}

/// A heartbeat; the receiver answers with an [`Ack`] echoing `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Ping {
    /// Sender-chosen sequence number (wraps).
    pub seq: u32,
    /// The sender's state.
    pub state: NodeState,
    /// Optional fields (version 3's tail); none in a version-2 frame.
    pub extensions: Extensions,
}

/// The answer to a [`Ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Ack {
    /// The `seq` of the ping being answered.
    pub seq: u32,
    /// The sender's (the answering node's) state.
    pub state: NodeState,
    /// Optional fields (version 3's tail); none in a version-2 frame.
    pub extensions: Extensions,
}

/// One of the two serial ports of a heartbeat bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Side {
    /// The port wired to host A (UART0 on the reference board).
    A,
    /// The port wired to host B (UART1 on the reference board).
    B,
}

/// A heartbeat bridge's report, so a host can tell "bridge alive, peer
/// silent" from "bridge silent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct BridgeStatus {
    /// Milliseconds since the bridge started (wraps after ~49 days).
    pub uptime_ms: u32,
    /// Milliseconds since a valid frame last came in on side A; `None` = never.
    pub since_a_ms: Option<u32>,
    /// Milliseconds since a valid frame last came in on side B; `None` = never.
    pub since_b_ms: Option<u32>,
    /// Frames the bridge dropped (corrupt, over-full, wrong cluster…) since start.
    pub frames_dropped: u32,
    /// The side this copy of the status is sent on.
    pub to_side: Side,
}

/// A question on the cable: "who is at the other end?" Sent by `twinbeat diagnose`,
/// which has no state a peer could act on (a ping carries one: rule
/// `state-in-every-frame`); a node's daemon answers it with a [`HelloReply`] and
/// nothing else acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Hello {
    /// Chosen by the asker; the reply echoes it.
    pub nonce: u32,
}

/// A daemon's answer to a [`Hello`]: who it is (the frame's cluster and sender), its
/// state, and its settings' fingerprint. Information for a human: no node's rules
/// read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct HelloReply {
    /// The [`Hello`]'s nonce.
    pub nonce: u32,
    /// The answering node's state, as its pings carry it.
    pub state: NodeState,
    /// The answering node's settings' fingerprint (tail field 9 of its pings).
    pub config_fingerprint: Option<u32>,
}

/// Every message the protocol carries; the frame header's kind byte says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Message {
    /// Kind 1.
    Ping(Ping),
    /// Kind 2.
    Ack(Ack),
    /// Kind 3, sent by a bridge.
    BridgeStatus(BridgeStatus),
    /// Kind 4, empty body: asks a bridge for a [`BridgeStatus`] at once.
    BridgeStatusRequest,
    /// Kind 5: who is at the other end of the cable?
    Hello(Hello),
    /// Kind 6: a daemon's answer to a [`Hello`].
    HelloReply(HelloReply),
}

/// One frame: the envelope every message travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Frame {
    /// The cluster the sender belongs to (a bridge: the one it adopted).
    pub cluster: ClusterId,
    /// The sender ([`NodeId::BRIDGE`] for a bridge).
    pub sender: NodeId,
    /// What is said.
    pub message: Message,
}
