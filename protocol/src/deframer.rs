//! The streaming deframer: splits a byte stream at 0x00, decodes each frame,
//! and resyncs after anything bad. Const-generic buffer, no allocation, no panics.

use crate::decode::{decode_framed, decode_unterminated, ClusterFilter, DecodeError, Unpack};
use crate::types::Frame;
use crate::wire::WireVersion;

/// How many frames were accepted and how many were rejected, per reason.
/// Counters wrap at `u32::MAX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Frames decoded and returned.
    pub frames_ok: u32,
    /// [`DecodeError::OverFull`] count.
    pub over_full: u32,
    /// [`DecodeError::BadCobs`] count.
    pub bad_cobs: u32,
    /// [`DecodeError::BadCrc`] count.
    pub bad_crc: u32,
    /// [`DecodeError::UnknownVersion`] count.
    pub unknown_version: u32,
    /// [`DecodeError::UnknownKind`] count.
    pub unknown_kind: u32,
    /// [`DecodeError::Malformed`] count.
    pub malformed: u32,
    /// [`DecodeError::TrailingBytes`] count.
    pub trailing_bytes: u32,
    /// [`DecodeError::TooShort`] count.
    pub too_short: u32,
    /// [`DecodeError::WrongCluster`] count.
    pub wrong_cluster: u32,
}

impl Counters {
    /// Every rejected frame, whatever the reason.
    pub fn errors(&self) -> u32 {
        [
            self.over_full,
            self.bad_cobs,
            self.bad_crc,
            self.unknown_version,
            self.unknown_kind,
            self.malformed,
            self.trailing_bytes,
            self.too_short,
            self.wrong_cluster,
        ]
        .iter()
        .fold(0u32, |sum, n| sum.wrapping_add(*n))
    }

    fn count(&mut self, error: DecodeError) {
        let counter = match error {
            DecodeError::OverFull => &mut self.over_full,
            DecodeError::BadCobs => &mut self.bad_cobs,
            DecodeError::BadCrc => &mut self.bad_crc,
            DecodeError::UnknownVersion(_) => &mut self.unknown_version,
            DecodeError::UnknownKind(_) => &mut self.unknown_kind,
            DecodeError::Malformed => &mut self.malformed,
            DecodeError::TrailingBytes => &mut self.trailing_bytes,
            DecodeError::TooShort => &mut self.too_short,
            DecodeError::WrongCluster(_) => &mut self.wrong_cluster,
        };
        *counter = counter.wrapping_add(1);
    }
}

/// What one call to [`Deframer::feed`] found (`F` = [`Frame`]) or to
/// [`Deframer::feed_envelope`] (`F` = [`crate::Envelope`]). `'d` borrows the
/// deframer (for `raw`, which lies in its buffer or, when a frame came whole
/// in one input, in the input), `'a` the input (for `remaining`), so the usual
/// loop `while !window.is_empty() { match d.feed(window) { … } }` compiles.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'d, 'a, F = Frame> {
    /// All input was used and no frame is complete yet.
    Consumed,
    /// A frame was decoded.
    Frame {
        /// The decoded frame.
        frame: F,
        /// The version it was written in.
        version: WireVersion,
        /// The frame's COBS bytes exactly as received, without delimiters: a
        /// bridge forwards them unchanged between two 0x00.
        raw: &'d [u8],
        /// Input after the frame's closing 0x00; feed it next.
        remaining: &'a [u8],
    },
    /// A frame was rejected (and counted).
    Error {
        /// Why.
        error: DecodeError,
        /// Input not yet looked at; feed it next.
        remaining: &'a [u8],
    },
}

/// A streaming frame decoder buffering at most `N` COBS bytes of one frame
/// ([`crate::MAX_FRAME_LEN`] is enough for every message of this version).
///
/// Rules: a 0x00 ends a frame; empty frames (two 0x00 in a row) are skipped
/// silently; a frame longer than `N` is reported once as
/// [`DecodeError::OverFull`] and the rest of it, up to the next 0x00, is
/// discarded.
///
/// Memory: `N` bytes in the deframer plus `N` bytes of stack while a frame is
/// decoded (the un-stuffed copy; the stuffed bytes are kept for `raw`). A frame
/// that arrives whole in one input, with nothing buffered before it, is decoded
/// straight from the input and never copied into the buffer.
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Dropping bytes of an over-full frame until the next 0x00.
    discarding: bool,
    filter: ClusterFilter,
    counters: Counters,
}

impl<const N: usize> Deframer<N> {
    /// An empty deframer accepting frames that pass `filter`.
    pub const fn new(filter: ClusterFilter) -> Self {
        Deframer {
            buf: [0; N],
            len: 0,
            discarding: false,
            filter,
            counters: Counters {
                frames_ok: 0,
                over_full: 0,
                bad_cobs: 0,
                bad_crc: 0,
                unknown_version: 0,
                unknown_kind: 0,
                malformed: 0,
                trailing_bytes: 0,
                too_short: 0,
                wrong_cluster: 0,
            },
        }
    }

    /// Reads `bytes` up to the end of the first frame or error; returns what
    /// it found and the input it did not look at yet.
    pub fn feed<'d, 'a: 'd>(&'d mut self, bytes: &'a [u8]) -> Feed<'d, 'a> {
        self.feed_as(bytes)
    }

    /// Like [`Deframer::feed`], but checks each frame only as far as its
    /// [`crate::Envelope`] (COBS, CRC, version, cluster) and never reads its
    /// body: what a bridge forwards. Any kind passes, known or not.
    pub fn feed_envelope<'d, 'a: 'd>(
        &'d mut self,
        bytes: &'a [u8],
    ) -> Feed<'d, 'a, crate::Envelope> {
        self.feed_as(bytes)
    }

    fn feed_as<'d, 'a: 'd, F: Unpack>(&'d mut self, bytes: &'a [u8]) -> Feed<'d, 'a, F> {
        let mut rest = bytes;
        loop {
            // memchr scans a word (or SIMD register) at a time, not byte by byte.
            let Some(end) = memchr::memchr(0, rest) else {
                return match self.absorb(rest) {
                    Ok(()) => Feed::Consumed,
                    Err(error) => self.reject(error, &[]),
                };
            };
            let (chunk, from_delimiter) = rest.split_at(end);
            if self.len == 0 && !self.discarding && !chunk.is_empty() && chunk.len() < N {
                // A whole frame in the input and nothing buffered (the usual
                // case: a read returns whole frames): decode it where it lies,
                // without copying it into the buffer first. (`< N`: scratch
                // must hold the frame and its 0x00; a frame of exactly N bytes
                // takes the buffered path.)
                let framed = rest.get(..=end).unwrap_or(&[]);
                let remaining = from_delimiter.get(1..).unwrap_or(&[]);
                return self.finish_in_input(framed, chunk, remaining);
            }
            if let Err(error) = self.absorb(chunk) {
                // Leave the delimiter in the input: the next call ends the discard there.
                return self.reject(error, from_delimiter);
            }
            rest = from_delimiter.get(1..).unwrap_or(&[]);

            let len = core::mem::take(&mut self.len);
            if core::mem::take(&mut self.discarding) || len == 0 {
                continue;
            }
            return self.finish_buffered(len, rest);
        }
    }

    /// The counters since creation.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The cluster filter in force.
    pub fn filter(&self) -> ClusterFilter {
        self.filter
    }

    /// Changes the filter, e.g. a bridge that adopted a cluster id.
    pub fn set_filter(&mut self, filter: ClusterFilter) {
        self.filter = filter;
    }

    /// Drops any partly received frame (counters are kept), e.g. after the
    /// serial port was reopened.
    pub fn reset(&mut self) {
        self.len = 0;
        self.discarding = false;
    }

    /// Appends bytes of the current frame, or reports the buffer over-full.
    fn absorb(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        if self.discarding || chunk.is_empty() {
            return Ok(());
        }
        let end = self.len.saturating_add(chunk.len());
        match self.buf.get_mut(self.len..end) {
            Some(slot) => {
                slot.copy_from_slice(chunk);
                self.len = end;
                Ok(())
            }
            None => {
                self.len = 0;
                self.discarding = true;
                Err(DecodeError::OverFull)
            }
        }
    }

    fn reject<'d, 'a, F>(&'d mut self, error: DecodeError, remaining: &'a [u8]) -> Feed<'d, 'a, F> {
        self.counters.count(error);
        Feed::Error { error, remaining }
    }

    /// Decodes the `len` buffered bytes of a frame that just ended.
    fn finish_buffered<'d, 'a: 'd, F: Unpack>(
        &'d mut self,
        len: usize,
        remaining: &'a [u8],
    ) -> Feed<'d, 'a, F> {
        // Un-stuffing never grows the data, so N bytes of scratch always suffice.
        let mut scratch = [0u8; N];
        let decoded = match self.buf.get_mut(len) {
            // Put the closing 0x00 back after the frame for `decode_framed`.
            Some(delimiter) => {
                *delimiter = 0;
                decode_framed(
                    self.buf.get(..=len).unwrap_or(&[]),
                    self.filter,
                    &mut scratch,
                )
            }
            // The frame fills the whole buffer: no room for the 0x00.
            None => decode_unterminated(&self.buf, self.filter, &mut scratch),
        };
        self.conclude(decoded, RawAt::Buffer(len), remaining)
    }

    /// Decodes a frame found whole in the input: `framed` is its COBS bytes
    /// and closing 0x00, `raw` the same without the 0x00.
    fn finish_in_input<'d, 'a: 'd, F: Unpack>(
        &'d mut self,
        framed: &'a [u8],
        raw: &'a [u8],
        remaining: &'a [u8],
    ) -> Feed<'d, 'a, F> {
        let mut scratch = [0u8; N];
        let decoded = decode_framed(framed, self.filter, &mut scratch);
        self.conclude(decoded, RawAt::Input(raw), remaining)
    }

    /// Counts the outcome of a decode and reports it.
    fn conclude<'d, 'a: 'd, F>(
        &'d mut self,
        decoded: Result<(F, WireVersion), DecodeError>,
        raw: RawAt<'a>,
        remaining: &'a [u8],
    ) -> Feed<'d, 'a, F> {
        match decoded {
            Ok((frame, version)) => {
                self.counters.frames_ok = self.counters.frames_ok.wrapping_add(1);
                let raw = match raw {
                    RawAt::Input(raw) => raw,
                    RawAt::Buffer(len) => self.buf.get(..len).unwrap_or(&[]),
                };
                Feed::Frame {
                    frame,
                    version,
                    raw,
                    remaining,
                }
            }
            Err(error) => self.reject(error, remaining),
        }
    }
}

/// Where a decoded frame's COBS bytes are.
enum RawAt<'a> {
    /// In the caller's input.
    Input(&'a [u8]),
    /// The first `len` bytes of the deframer's buffer.
    Buffer(usize),
}
