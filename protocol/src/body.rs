//! Message bodies: postcard for the fixed fields, then (Ping and Ack of
//! version 3) the tail of optional fields.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::decode::DecodeError;
use crate::extensions::Extensions;
use crate::tail::{Full, Writer};
use crate::types::{Ack, Message, NodeState, Ping};
use crate::wire::{Kind, WireVersion};

/// The fields a Ping and an Ack share, in every version: their whole
/// version-2 body, and the head of a version-3 one.
#[derive(Serialize, Deserialize)]
struct Head {
    seq: u32,
    state: NodeState,
}

/// Longest [`Head`]: seq 5 + state byte 1 + term 10 + wal_lsn 10 bytes.
pub(crate) const MAX_HEAD_LEN: usize = 5 + 1 + 10 + 10;

/// Decodes the body of a message of `kind` in `version`.
#[inline(always)]
pub(crate) fn decode_body(
    kind: Kind,
    version: WireVersion,
    body: &[u8],
) -> Result<Message, DecodeError> {
    Ok(match kind {
        Kind::Ping => {
            let (seq, state, extensions) = heartbeat(version, body)?;
            Message::Ping(Ping {
                seq,
                state,
                extensions,
            })
        }
        Kind::Ack => {
            let (seq, state, extensions) = heartbeat(version, body)?;
            Message::Ack(Ack {
                seq,
                state,
                extensions,
            })
        }
        Kind::BridgeStatus => Message::BridgeStatus(whole_body(body)?),
        Kind::BridgeStatusRequest => {
            if !body.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            Message::BridgeStatusRequest
        }
        Kind::Hello => Message::Hello(whole_body(body)?),
        Kind::HelloReply => Message::HelloReply(whole_body(body)?),
    })
}

/// A Ping's or Ack's fields. Version 2 ends after the head; in version 3 the
/// rest is the tail, so bytes after the head are never "trailing" there.
#[inline(always)]
fn heartbeat(
    version: WireVersion,
    body: &[u8],
) -> Result<(u32, NodeState, Extensions), DecodeError> {
    let (head, tail) =
        postcard::take_from_bytes::<Head>(body).map_err(|_| DecodeError::Malformed)?;
    let extensions = match version {
        WireVersion::V2 if tail.is_empty() => Extensions::NONE,
        WireVersion::V2 => return Err(DecodeError::TrailingBytes),
        // The usual heartbeat has no tail: no call, no copy of a decoded one.
        WireVersion::V3 if tail.is_empty() => Extensions::NONE,
        WireVersion::V3 => Extensions::decode(tail).map_err(|_| DecodeError::Malformed)?,
    };
    Ok((head.seq, head.state, extensions))
}

/// Deserialises a whole body: every byte must belong to the message.
/// Inlined so the message stays in registers: returned through memory, its
/// fields were stored piecewise and re-read whole, and the failed store
/// forwarding cost about a tenth of a frame's decode time (`perf annotate`
/// of the codec bench: 123 → 111 ns per Ping).
#[inline(always)]
fn whole_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Ok(value),
        Ok(_) => Err(DecodeError::TrailingBytes),
        Err(_) => Err(DecodeError::Malformed),
    }
}

/// Serialises a whole body into `out`; returns its length.
fn whole_to<T: Serialize>(value: &T, out: &mut [u8]) -> Result<usize, Full> {
    postcard::to_slice(value, out)
        .map(|b| b.len())
        .map_err(|_| Full)
}

/// Writes the body of `message` in `version` into `out`; returns its length.
/// Version 2 has no tail: a Ping's or Ack's extensions are left out.
pub(crate) fn encode_body(
    message: &Message,
    version: WireVersion,
    out: &mut [u8],
) -> Result<usize, Full> {
    let (seq, state, extensions) = match message {
        Message::Ping(p) => (p.seq, p.state, &p.extensions),
        Message::Ack(a) => (a.seq, a.state, &a.extensions),
        Message::BridgeStatus(status) => return whole_to(status, out),
        Message::BridgeStatusRequest => return Ok(0),
        Message::Hello(hello) => return whole_to(hello, out),
        Message::HelloReply(reply) => return whole_to(reply, out),
    };
    let head_len = postcard::to_slice(&Head { seq, state }, out)
        .map_err(|_| Full)?
        .len();
    let mut tail = Writer::new(out.get_mut(head_len..).ok_or(Full)?);
    if version == WireVersion::V3 {
        extensions.emit(&mut tail)?;
    }
    Ok(head_len + tail.len())
}
