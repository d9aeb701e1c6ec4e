//! Frame encoder: header · postcard body · CRC-32C, COBS-stuffed between two 0x00.

use crate::types::{Frame, Message, CRC32C};
use crate::wire::{Header, Kind, CRC_LEN, HEADER_LEN};
use crate::{MAX_BODY_LEN, MAX_RAW_LEN, VERSION};

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
    /// postcard could not serialise the body. Cannot happen for the message
    /// types of this crate (their bodies fit `MAX_BODY_LEN` by construction);
    /// reported rather than panicking.
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

/// Writes `frame` into `out` as `0x00 · COBS(header · body · crc) · 0x00` and
/// returns the number of bytes written. The leading 0x00 lets a receiver that
/// caught line noise resync before this frame rather than lose it.
pub fn encode(frame: &Frame, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut raw = [0u8; MAX_RAW_LEN];
    let raw_len = write_raw(frame, &mut raw)?;
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
fn write_raw(frame: &Frame, raw: &mut [u8; MAX_RAW_LEN]) -> Result<usize, EncodeError> {
    let mut header = [0u8; HEADER_LEN];
    Header::emit(
        &mut header,
        VERSION,
        Kind::of(&frame.message),
        frame.cluster,
        frame.sender,
    );
    let (head, tail) = raw.split_at_mut(HEADER_LEN);
    head.copy_from_slice(&header);

    // The body slot is exactly MAX_BODY_LEN long, so the CRC always fits after it.
    let body_slot = tail.get_mut(..MAX_BODY_LEN).ok_or(EncodeError::Body)?;
    let body_len = match &frame.message {
        Message::Ping(ping) => postcard::to_slice(ping, body_slot),
        Message::Ack(ack) => postcard::to_slice(ack, body_slot),
        Message::BridgeStatus(status) => postcard::to_slice(status, body_slot),
        Message::BridgeStatusRequest => Ok(&mut body_slot[..0]),
    }
    .map_err(|_| EncodeError::Body)?
    .len();

    let crc_at = HEADER_LEN + body_len;
    let crc = CRC32C.checksum(raw.get(..crc_at).ok_or(EncodeError::Body)?);
    raw.get_mut(crc_at..crc_at + CRC_LEN)
        .ok_or(EncodeError::Body)?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(crc_at + CRC_LEN)
}
