//! The fixed-width frame header and its checked view (smoltcp `wire/` style):
//! offsets are named once here, and every accessor is infallible once
//! [`Header::new_checked`] has accepted the buffer.

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

/// The kind byte of each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Ping = 1,
    Ack = 2,
    BridgeStatus = 3,
    BridgeStatusRequest = 4,
}

impl Kind {
    pub(crate) const fn of(message: &Message) -> Kind {
        match message {
            Message::Ping(_) => Kind::Ping,
            Message::Ack(_) => Kind::Ack,
            Message::BridgeStatus(_) => Kind::BridgeStatus,
            Message::BridgeStatusRequest => Kind::BridgeStatusRequest,
        }
    }

    pub(crate) const fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Ping),
            2 => Some(Kind::Ack),
            3 => Some(Kind::BridgeStatus),
            4 => Some(Kind::BridgeStatusRequest),
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
        version: u8,
        kind: Kind,
        cluster: ClusterId,
        sender: NodeId,
    ) {
        out[field::VERSION] = version;
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
