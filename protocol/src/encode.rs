//! Frame encoder: header · body · CRC-32C, COBS-stuffed between two 0x00.

use crate::body::{encode_body, MAX_HEAD_LEN};
use crate::extensions::Extensions;
use crate::types::{Frame, CRC32C};
use crate::wire::{Header, Kind, WireVersion, CRC_LEN, HEADER_LEN};

/// Longest body this encoder writes: a Ping or Ack with every field of
/// [`Extensions`] at its widest (the receive bound, [`crate::MAX_BODY_LEN`],
/// also leaves room for fields added later).
const MAX_ENCODED_BODY_LEN: usize = MAX_HEAD_LEN + Extensions::MAX_LEN;
/// Longest un-stuffed frame this encoder writes.
const MAX_ENCODED_RAW_LEN: usize = HEADER_LEN + MAX_ENCODED_BODY_LEN + CRC_LEN;

/// Why [`encode`] could not write a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// `out` is shorter than the worst-case encoding of this frame; `needed`
    /// bytes always suffice ([`crate::MAX_FRAME_LEN`] suffices for any frame).
    BufferTooSmall {
        /// Bytes the encoder requires for this frame.
        needed: usize,
    },
    /// The body could not be written. Cannot happen for the message types of
    /// this crate (their bodies fit by construction); reported rather than
    /// panicking.
    Body,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: frame needs {needed} bytes")
            }
            EncodeError::Body => f.write_str("message body could not be serialised"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Writes `frame` into `out` as `0x00 · COBS(header · body · crc) · 0x00` in
/// [`WireVersion::CURRENT`] and returns the number of bytes written. The
/// leading 0x00 lets a receiver that caught line noise resync before this
/// frame rather than lose it.
pub fn encode(frame: &Frame, out: &mut [u8]) -> Result<usize, EncodeError> {
    encode_as(frame, WireVersion::CURRENT, out)
}

/// [`encode`] in a chosen version: a node or a bridge answers a peer that
/// still speaks the previous version in that version (`WIRE.md`, "Rolling
/// upgrade"). Version 2 has no tail, so a Ping's or Ack's extensions are left out.
pub fn encode_as(
    frame: &Frame,
    version: WireVersion,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let mut raw = [0u8; MAX_ENCODED_RAW_LEN];
    let raw_len = write_raw(frame, version, &mut raw)?;
    let unstuffed = raw.get(..raw_len).ok_or(EncodeError::Body)?;

    let needed = 2 + cobs::max_encoding_length(raw_len);
    let too_small = EncodeError::BufferTooSmall { needed };
    if out.len() < needed {
        return Err(too_small);
    }
    let (first, rest) = out.split_first_mut().ok_or(too_small)?;
    *first = 0;
    let stuffed = cobs::try_encode(unstuffed, rest).map_err(|_| too_small)?;
    *rest.get_mut(stuffed).ok_or(too_small)? = 0;
    Ok(stuffed + 2)
}

/// Writes the un-stuffed frame (header · body · crc) into `raw`; returns its length.
fn write_raw(
    frame: &Frame,
    version: WireVersion,
    raw: &mut [u8; MAX_ENCODED_RAW_LEN],
) -> Result<usize, EncodeError> {
    let mut header = [0u8; HEADER_LEN];
    Header::emit(
        &mut header,
        version,
        Kind::of(&frame.message),
        frame.cluster,
        frame.sender,
    );
    let (head, tail) = raw.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header);

    // The body slot is exactly MAX_ENCODED_BODY_LEN long, so the CRC always fits after it.
    let body_slot = tail
        .get_mut(..MAX_ENCODED_BODY_LEN)
        .ok_or(EncodeError::Body)?;
    let body_len =
        encode_body(&frame.message, version, body_slot).map_err(|_| EncodeError::Body)?;

    let crc_at = HEADER_LEN + body_len;
    let crc = CRC32C.checksum(raw.get(..crc_at).ok_or(EncodeError::Body)?);
    raw.get_mut(crc_at..crc_at + CRC_LEN)
        .ok_or(EncodeError::Body)?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(crc_at + CRC_LEN)
}
