//! Decoding one frame's COBS bytes (delimiters already stripped) into a [`Frame`].

use serde::de::DeserializeOwned;

use crate::types::{ClusterId, Frame, Message, CRC32C};
use crate::wire::{Header, Kind, CRC_LEN, HEADER_LEN};
use crate::VERSION;

/// Why a frame was rejected. Every kind has its own counter in [`crate::Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// More bytes arrived without a 0x00 than the deframer can buffer; the
    /// frame was dropped and input is discarded up to the next 0x00.
    OverFull,
    /// The bytes between two 0x00 are not valid COBS.
    BadCobs,
    /// The CRC-32C does not match: corrupted on the line.
    BadCrc,
    /// CRC good but the version byte is not [`crate::VERSION`] (a newer or older peer).
    UnknownVersion(u8),
    /// CRC and version good but the kind byte names no known message.
    UnknownKind(u8),
    /// CRC good but postcard could not deserialise the body.
    Malformed,
    /// CRC good and the body deserialised, but bytes were left over after it.
    TrailingBytes,
    /// Fewer bytes than a header and a CRC.
    TooShort,
    /// A valid frame of another cluster (the id it carried).
    WrongCluster(ClusterId),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::OverFull => f.write_str("frame longer than the receive buffer"),
            DecodeError::BadCobs => f.write_str("invalid COBS encoding"),
            DecodeError::BadCrc => f.write_str("CRC-32C mismatch"),
            DecodeError::UnknownVersion(v) => write!(f, "unknown protocol version {v}"),
            DecodeError::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            DecodeError::Malformed => f.write_str("malformed message body"),
            DecodeError::TrailingBytes => f.write_str("trailing bytes after message body"),
            DecodeError::TooShort => f.write_str("frame shorter than header and CRC"),
            DecodeError::WrongCluster(id) => write!(f, "frame of another cluster {:#010x}", id.0),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Which cluster ids a deframer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClusterFilter {
    /// Only frames of this cluster; others are [`DecodeError::WrongCluster`].
    Only(ClusterId),
    /// Any cluster: a bridge accepts any and adopts the id it sees.
    Any,
}

impl ClusterFilter {
    fn accepts(self, id: ClusterId) -> bool {
        match self {
            ClusterFilter::Only(only) => only == id,
            ClusterFilter::Any => true,
        }
    }
}

/// Un-stuffs `framed` (a frame's COBS bytes followed by its closing 0x00) into
/// `scratch` (at least as long as `framed`) and checks the frame, in this
/// order: length, CRC, version, cluster, kind, body. The CRC is checked before
/// anything is interpreted so corrupt bytes never reach the deserialiser.
pub(crate) fn decode_framed(
    framed: &[u8],
    filter: ClusterFilter,
    scratch: &mut [u8],
) -> Result<Frame, DecodeError> {
    // The un-stuffed frame is shorter than `framed`, so a `scratch` at least
    // that long holds it and `decode_buf` cannot run out of room. corncobs
    // moves whole runs and skips empty ones, several times cheaper than
    // `cobs`, which handles one byte at a time.
    if scratch.len() < framed.len() {
        return Err(DecodeError::BadCobs);
    }
    let unstuffed_len = corncobs::decode_buf(framed, scratch).map_err(|_| DecodeError::BadCobs)?;
    let unstuffed = scratch.get(..unstuffed_len).ok_or(DecodeError::BadCobs)?;
    decode_unstuffed(unstuffed, filter)
}

/// Like [`decode_framed`] for COBS bytes without their closing 0x00 (a frame
/// that fills the deframer's whole buffer): un-stuffs a copy in place.
pub(crate) fn decode_unterminated(
    stuffed: &[u8],
    filter: ClusterFilter,
    scratch: &mut [u8],
) -> Result<Frame, DecodeError> {
    let work = scratch
        .get_mut(..stuffed.len())
        .ok_or(DecodeError::BadCobs)?;
    work.copy_from_slice(stuffed);
    let unstuffed_len = corncobs::decode_in_place(work).map_err(|_| DecodeError::BadCobs)?;
    let unstuffed = work.get(..unstuffed_len).ok_or(DecodeError::BadCobs)?;
    decode_unstuffed(unstuffed, filter)
}

/// Checks and parses an un-stuffed frame (header · body · crc).
fn decode_unstuffed(raw: &[u8], filter: ClusterFilter) -> Result<Frame, DecodeError> {
    if raw.len() < HEADER_LEN + CRC_LEN {
        return Err(DecodeError::TooShort);
    }
    let (covered, crc) = raw.split_at(raw.len() - CRC_LEN);
    let crc: [u8; CRC_LEN] = crc.try_into().map_err(|_| DecodeError::TooShort)?;
    if CRC32C.checksum(covered) != u32::from_le_bytes(crc) {
        return Err(DecodeError::BadCrc);
    }

    let header = Header::new_checked(covered).ok_or(DecodeError::TooShort)?;
    if header.version() != VERSION {
        return Err(DecodeError::UnknownVersion(header.version()));
    }
    let cluster = header.cluster();
    if !filter.accepts(cluster) {
        return Err(DecodeError::WrongCluster(cluster));
    }
    let kind = Kind::from_byte(header.kind()).ok_or(DecodeError::UnknownKind(header.kind()))?;
    let body = covered.get(HEADER_LEN..).ok_or(DecodeError::TooShort)?;
    let message = match kind {
        Kind::Ping => Message::Ping(body_of(body)?),
        Kind::Ack => Message::Ack(body_of(body)?),
        Kind::BridgeStatus => Message::BridgeStatus(body_of(body)?),
        Kind::BridgeStatusRequest => {
            if !body.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            Message::BridgeStatusRequest
        }
    };
    Ok(Frame {
        cluster,
        sender: header.sender(),
        message,
    })
}

/// Deserialises a whole body: every byte must belong to the message.
/// Inlined so the message stays in registers: returned through memory, its
/// fields were stored piecewise and re-read whole, and the failed store
/// forwarding cost about a tenth of a frame's decode time (`perf annotate`
/// of the codec bench: 123 → 111 ns per Ping).
#[inline(always)]
fn body_of<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Ok(value),
        Ok(_) => Err(DecodeError::TrailingBytes),
        Err(_) => Err(DecodeError::Malformed),
    }
}
