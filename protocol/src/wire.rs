//! The fixed-width frame header and its checked view (smoltcp `wire/` style):
//! offsets are named once here, and every accessor is infallible once
//! [`Header::new_checked`] has accepted the buffer. The header's layout is
//! frozen for every version (`WIRE.md`, "Versioning rule"), so the version and
//! kind numbers live here too.

use crate::types::{ClusterId, Message, NodeId};

/// Byte offsets of the header fields.
mod field {
    use core::ops::Range;
    pub(super) const VERSION: usize = 0;
    pub(super) const KIND: usize = 1;
    pub(super) const CLUSTER: Range<usize> = 2..6;
    pub(super) const SENDER: Range<usize> = 6..10;
}

/// Length of the fixed header: version, kind, cluster id, sender id.
pub const HEADER_LEN: usize = field::SENDER.end;
/// Length of the trailing CRC-32C.
pub const CRC_LEN: usize = 4;

/// A protocol version this crate speaks: the header's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum WireVersion {
    /// Ping and Ack bodies without a tail. Still decoded, so that a node
    /// upgraded first keeps hearing its peer (`WIRE.md`, "Rolling upgrade").
    V2 = 2,
    /// Ping and Ack bodies end in a tail of optional fields.
    V3 = 3,
}

impl WireVersion {
    /// The version [`crate::encode`] writes.
    pub const CURRENT: WireVersion = WireVersion::V3;

    /// The header byte of this version.
    pub const fn byte(self) -> u8 {
        self as u8
    }

    /// The version a header byte names, if this crate speaks it.
    pub const fn from_byte(byte: u8) -> Option<WireVersion> {
        match byte {
            2 => Some(WireVersion::V2),
            3 => Some(WireVersion::V3),
            _ => None,
        }
    }
}

/// The kind byte of each message (the header's second byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Kind {
    /// [`Message::Ping`].
    Ping = 1,
    /// [`Message::Ack`].
    Ack = 2,
    /// [`Message::BridgeStatus`].
    BridgeStatus = 3,
    /// [`Message::BridgeStatusRequest`].
    BridgeStatusRequest = 4,
    /// [`Message::Hello`].
    Hello = 5,
    /// [`Message::HelloReply`].
    HelloReply = 6,
}

impl Kind {
    /// The kind of `message`.
    pub const fn of(message: &Message) -> Kind {
        match message {
            Message::Ping(_) => Kind::Ping,
            Message::Ack(_) => Kind::Ack,
            Message::BridgeStatus(_) => Kind::BridgeStatus,
            Message::BridgeStatusRequest => Kind::BridgeStatusRequest,
            Message::Hello(_) => Kind::Hello,
            Message::HelloReply(_) => Kind::HelloReply,
        }
    }

    /// The kind a header byte names, if this crate knows it.
    pub const fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Ping),
            2 => Some(Kind::Ack),
            3 => Some(Kind::BridgeStatus),
            4 => Some(Kind::BridgeStatusRequest),
            5 => Some(Kind::Hello),
            6 => Some(Kind::HelloReply),
            _ => None,
        }
    }
}

/// A read view of the header at the front of a decoded (un-COBSed) frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    bytes: &'a [u8; HEADER_LEN],
}

impl<'a> Header<'a> {
    /// Views the first [`HEADER_LEN`] bytes of `buffer`; `None` if it is shorter.
    pub(crate) fn new_checked(buffer: &'a [u8]) -> Option<Self> {
        let bytes = buffer.first_chunk::<HEADER_LEN>()?;
        Some(Header { bytes })
    }

    pub(crate) fn version(&self) -> u8 {
        self.bytes[field::VERSION]
    }

    pub(crate) fn kind(&self) -> u8 {
        self.bytes[field::KIND]
    }

    pub(crate) fn cluster(&self) -> ClusterId {
        ClusterId(read_u32_le(self.bytes, field::CLUSTER.start))
    }

    pub(crate) fn sender(&self) -> NodeId {
        NodeId(read_u32_le(self.bytes, field::SENDER.start))
    }

    /// Writes a header into the front of `out` (which must hold [`HEADER_LEN`] bytes).
    pub(crate) fn emit(
        out: &mut [u8; HEADER_LEN],
        version: WireVersion,
        kind: Kind,
        cluster: ClusterId,
        sender: NodeId,
    ) {
        out[field::VERSION] = version.byte();
        out[field::KIND] = kind as u8;
        out[field::CLUSTER].copy_from_slice(&cluster.0.to_le_bytes());
        out[field::SENDER].copy_from_slice(&sender.0.to_le_bytes());
    }
}

/// Reads a little-endian u32 at a constant in-bounds offset of the header.
fn read_u32_le(bytes: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}
