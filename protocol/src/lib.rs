//! twinbeat wire protocol: the frames two twinbeat nodes (and an optional
//! heartbeat bridge between them) exchange over a serial line.
//!
//! A frame is `0x00 · COBS(header · body · CRC-32C LE) · 0x00`; the byte
//! layout, versioning rule and golden vectors are in `WIRE.md` beside this
//! crate and in [`vectors`]. The crate writes version 3 and reads versions 2
//! and 3. The crate is `no_std`, never allocates, has no `unsafe`, and its
//! decoder never panics.
//!
//! ```
//! use twinbeat_protocol::*;
//!
//! let cluster = ClusterId::from_name("recordings");
//! let frame = Frame {
//!     cluster,
//!     sender: NodeId(1),
//!     message: Message::Ack(Ack {
//!         seq: 7,
//!         state: NodeState { role: Role::Primary, term: 3, fenced: false,
//!                            db_healthy: true, gateway_up: true, wal_lsn: 0x0300_0060 },
//!         extensions: Extensions { echoed_seq: Some(12), ..Extensions::NONE },
//!     }),
//! };
//! let mut wire = [0u8; MAX_FRAME_LEN];
//! let n = encode(&frame, &mut wire).unwrap();
//!
//! let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Only(cluster));
//! let mut window = &wire[..n];
//! let mut got = None;
//! while !window.is_empty() {
//!     match deframer.feed(window) {
//!         Feed::Consumed => break,
//!         Feed::Frame { frame, remaining, .. } => { got = Some(frame); window = remaining; }
//!         Feed::Error { remaining, .. } => window = remaining,
//!     }
//! }
//! assert_eq!(got, Some(frame));
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

mod body;
mod decode;
mod deframer;
mod encode;
mod extensions;
mod packed_state;
mod tail;
mod types;
pub mod vectors;
mod wire;

pub use decode::{ClusterFilter, DecodeError, Envelope};
pub use deframer::{Counters, Deframer, Feed};
pub use encode::{encode, encode_as, EncodeError};
pub use extensions::{
    Conditions, Extensions, NameTooLong, NodeName, Pause, SwitchoverStage, SyncEpoch,
    TakeoverAnswer, TakeoverRequest,
};
pub use tail::{Tail, TailError, TailField, TailFields, MAX_TAIL_LEN};
pub use types::{
    Ack, BridgeStatus, ClusterId, Frame, Hello, HelloReply, Message, NodeId, NodeState, Ping, Role,
    Side,
};
pub use wire::{Kind, WireVersion, CRC_LEN, HEADER_LEN};

/// The protocol version [`encode`] writes (the header's first byte).
pub const VERSION: u8 = WireVersion::CURRENT.byte();

/// Longest body of any message a receiver must accept: a `Ping`/`Ack` with
/// every head varint at its widest (seq 5 + role and flags 1 + term 10 +
/// wal_lsn 10 bytes) and a tail of [`MAX_TAIL_LEN`].
pub const MAX_BODY_LEN: usize = body::MAX_HEAD_LEN + MAX_TAIL_LEN;

/// Longest un-stuffed frame: header, body, CRC.
pub const MAX_RAW_LEN: usize = HEADER_LEN + MAX_BODY_LEN + CRC_LEN;

/// Period, in milliseconds, of a heartbeat bridge's unsolicited [`BridgeStatus`] on
/// each side. A fact both ends rely on: the bridge sends at this pace, and a host
/// judges a bridge silent only after several periods without one. 500 ms keeps a
/// host's view of the bridge fresher than its own serial ping interval (1 s by
/// default) at ~60 bytes/s per side.
pub const BRIDGE_STATUS_PERIOD_MS: u32 = 500;

/// Longest encoded frame in bytes, including its leading and trailing 0x00.
/// Also the right `N` for a [`Deframer`] (it buffers only the COBS bytes).
pub const MAX_FRAME_LEN: usize = 2 + cobs::max_encoding_length(MAX_RAW_LEN);
