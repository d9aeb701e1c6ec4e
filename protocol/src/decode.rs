//! Decoding one frame's COBS bytes (delimiters already stripped) into a
//! [`Frame`], or only as far as its [`Envelope`] (what a bridge needs).

use crate::body::decode_body;
use crate::types::{ClusterId, Frame, NodeId, CRC32C};
use crate::wire::{Header, Kind, WireVersion, CRC_LEN, HEADER_LEN};

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
    /// CRC good but the version byte names no [`WireVersion`] this crate speaks.
    UnknownVersion(u8),
    /// CRC and version good but the kind byte names no known message.
    UnknownKind(u8),
    /// CRC good but the body does not decode (postcard, or a version-3 tail:
    /// see [`crate::TailError`]).
    Malformed,
    /// CRC good and the body deserialised, but bytes were left over after it
    /// (never for a version-3 Ping or Ack: their tail runs to the end).
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

/// A frame checked as far as its header: COBS, length, CRC, version and
/// cluster, with the body unread. A bridge forwards on this alone (rule
/// `bridge-verdict`), so it never needs to understand a body, and a field added
/// to a body later passes through it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Envelope {
    /// The kind byte, known to this crate or not.
    pub kind: u8,
    /// The cluster the sender belongs to.
    pub cluster: ClusterId,
    /// The sender.
    pub sender: NodeId,
}

impl Envelope {
    /// The kind, if this crate knows it.
    pub fn known_kind(&self) -> Option<Kind> {
        Kind::from_byte(self.kind)
    }
}

/// What a deframer makes of an un-stuffed frame.
pub(crate) trait Unpack: Sized {
    fn unpack(raw: &[u8], filter: ClusterFilter) -> Result<(Self, WireVersion), DecodeError>;
}

impl Unpack for Envelope {
    fn unpack(raw: &[u8], filter: ClusterFilter) -> Result<(Self, WireVersion), DecodeError> {
        let (version, header, _body) = check(raw, filter)?;
        let envelope = Envelope {
            kind: header.kind(),
            cluster: header.cluster(),
            sender: header.sender(),
        };
        Ok((envelope, version))
    }
}

impl Unpack for Frame {
    #[inline(always)]
    fn unpack(raw: &[u8], filter: ClusterFilter) -> Result<(Self, WireVersion), DecodeError> {
        let (version, header, body) = check(raw, filter)?;
        let kind = Kind::from_byte(header.kind()).ok_or(DecodeError::UnknownKind(header.kind()))?;
        let frame = Frame {
            cluster: header.cluster(),
            sender: header.sender(),
            message: decode_body(kind, version, body)?,
        };
        Ok((frame, version))
    }
}

/// Un-stuffs `framed` (a frame's COBS bytes followed by its closing 0x00) into
/// `scratch` (at least as long as `framed`) and unpacks it.
pub(crate) fn decode_framed<T: Unpack>(
    framed: &[u8],
    filter: ClusterFilter,
    scratch: &mut [u8],
) -> Result<(T, WireVersion), DecodeError> {
    // The un-stuffed frame is shorter than `framed`, so a `scratch` at least
    // that long holds it and `decode_buf` cannot run out of room. corncobs
    // moves whole runs and skips empty ones, several times cheaper than
    // `cobs`, which handles one byte at a time.
    if scratch.len() < framed.len() {
        return Err(DecodeError::BadCobs);
    }
    let unstuffed_len = corncobs::decode_buf(framed, scratch).map_err(|_| DecodeError::BadCobs)?;
    let unstuffed = scratch.get(..unstuffed_len).ok_or(DecodeError::BadCobs)?;
    T::unpack(unstuffed, filter)
}

/// Like [`decode_framed`] for COBS bytes without their closing 0x00 (a frame
/// that fills the deframer's whole buffer): un-stuffs a copy in place.
pub(crate) fn decode_unterminated<T: Unpack>(
    stuffed: &[u8],
    filter: ClusterFilter,
    scratch: &mut [u8],
) -> Result<(T, WireVersion), DecodeError> {
    let work = scratch
        .get_mut(..stuffed.len())
        .ok_or(DecodeError::BadCobs)?;
    work.copy_from_slice(stuffed);
    let unstuffed_len = corncobs::decode_in_place(work).map_err(|_| DecodeError::BadCobs)?;
    let unstuffed = work.get(..unstuffed_len).ok_or(DecodeError::BadCobs)?;
    T::unpack(unstuffed, filter)
}

/// Checks an un-stuffed frame (header · body · crc) in this order: length,
/// CRC, version, cluster. The CRC is checked before anything is interpreted,
/// so corrupt bytes never reach a body decoder. Returns the version, the
/// header and the body.
#[inline(always)]
fn check(
    raw: &[u8],
    filter: ClusterFilter,
) -> Result<(WireVersion, Header<'_>, &[u8]), DecodeError> {
    if raw.len() < HEADER_LEN + CRC_LEN {
        return Err(DecodeError::TooShort);
    }
    let (covered, crc) = raw.split_at(raw.len() - CRC_LEN);
    let crc: [u8; CRC_LEN] = crc.try_into().map_err(|_| DecodeError::TooShort)?;
    if CRC32C.checksum(covered) != u32::from_le_bytes(crc) {
        return Err(DecodeError::BadCrc);
    }
    let header = Header::new_checked(covered).ok_or(DecodeError::TooShort)?;
    let version = WireVersion::from_byte(header.version())
        .ok_or(DecodeError::UnknownVersion(header.version()))?;
    let cluster = header.cluster();
    if !filter.accepts(cluster) {
        return Err(DecodeError::WrongCluster(cluster));
    }
    let body = covered.get(HEADER_LEN..).ok_or(DecodeError::TooShort)?;
    Ok((version, header, body))
}
