//! How a [`NodeState`] travels: its role and its three flags share one byte.
//!
//! postcard spent a field apiece on them (the role as a varint enum, each
//! flag as a bool byte). Packed, every Ping and Ack is three bytes shorter on
//! the line and decodes in about a quarter less time (`docs/BENCHMARKS.md`).
//! `NodeState` keeps its fields; only its serde form is this.

use serde::{Deserialize, Serialize};

use crate::types::{NodeState, Role};

/// Bits of [`PackedState::flags`] (`WIRE.md`, "Bodies").
mod bit {
    /// The role, two bits: 0 Standby, 1 Primary, 2 Promoting, 3 Hold.
    pub(super) const ROLE: u8 = 0b0000_0011;
    pub(super) const FENCED: u8 = 1 << 2;
    pub(super) const DB_HEALTHY: u8 = 1 << 3;
    pub(super) const GATEWAY_UP: u8 = 1 << 4;
    /// Every bit this version defines; a frame with any other bit set is
    /// rejected, not guessed at.
    pub(super) const DEFINED: u8 = ROLE | FENCED | DB_HEALTHY | GATEWAY_UP;
}

/// The serde form of a [`NodeState`]: postcard writes `flags` as one raw
/// byte and the two `u64` as varints.
#[derive(Serialize, Deserialize)]
pub(crate) struct PackedState {
    flags: u8,
    term: u64,
    wal_lsn: u64,
}

/// A state byte with a bit set that this version does not define.
#[derive(Debug)]
pub(crate) struct UndefinedFlags(u8);

impl core::fmt::Display for UndefinedFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "state flags {:#04x} set undefined bits", self.0)
    }
}

impl From<NodeState> for PackedState {
    fn from(state: NodeState) -> Self {
        let role = match state.role {
            Role::Standby => 0,
            Role::Primary => 1,
            Role::Promoting => 2,
            Role::Hold => 3,
        };
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        PackedState {
            flags: role
                | flag(state.fenced, bit::FENCED)
                | flag(state.db_healthy, bit::DB_HEALTHY)
                | flag(state.gateway_up, bit::GATEWAY_UP),
            term: state.term,
            wal_lsn: state.wal_lsn,
        }
    }
}

impl TryFrom<PackedState> for NodeState {
    type Error = UndefinedFlags;

    fn try_from(packed: PackedState) -> Result<Self, Self::Error> {
        let flags = packed.flags;
        if flags & !bit::DEFINED != 0 {
            return Err(UndefinedFlags(flags));
        }
        let role = match flags & bit::ROLE {
            0 => Role::Standby,
            1 => Role::Primary,
            2 => Role::Promoting,
            _ => Role::Hold,
        };
        Ok(NodeState {
            role,
            term: packed.term,
            fenced: flags & bit::FENCED != 0,
            db_healthy: flags & bit::DB_HEALTHY != 0,
            gateway_up: flags & bit::GATEWAY_UP != 0,
            wal_lsn: packed.wal_lsn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of the state byte: the defined ones decode to a state that
    /// encodes back to the same byte; any undefined bit is rejected.
    #[test]
    fn every_state_byte_is_decoded_exactly_or_rejected() {
        for flags in 0..=u8::MAX {
            let body = [flags, 7, 9]; // state byte, term 7, WAL 9
            match postcard::from_bytes::<NodeState>(&body) {
                Ok(state) => {
                    assert_eq!(flags & !bit::DEFINED, 0, "{flags:#04x} accepted");
                    assert_eq!((state.term, state.wal_lsn), (7, 9));
                    let mut out = [0u8; 3];
                    let written = postcard::to_slice(&state, &mut out).expect("fits");
                    assert_eq!(written, &body[..], "{flags:#04x} re-encoded");
                }
                Err(_) => assert_ne!(flags & !bit::DEFINED, 0, "{flags:#04x} rejected"),
            }
        }
    }

    #[test]
    fn the_bits_are_where_wire_md_says() {
        let state = NodeState {
            role: Role::Promoting,
            term: 0,
            fenced: true,
            db_healthy: false,
            gateway_up: true,
            wal_lsn: 0,
        };
        assert_eq!(PackedState::from(state).flags, 0b0001_0110);
    }
}
