//! Between the engine's types and the wire's, and the only place that translates
//! them (the engine and the protocol crates know nothing of each other): a frame
//! carries the sender's state (rule `state-in-every-frame`); the engine's state also
//! names the node, which the frame's header does.

use twinbeat_core as engine;
use twinbeat_protocol as wire;

/// The engine's role as the wire says it. The wire has no fencing roles: a fencing or
/// fenced node is not serving and says `Hold`, and `fenced` tells the rest.
pub(crate) fn role_to_wire(r: engine::Role) -> wire::Role {
    match r {
        engine::Role::Standby => wire::Role::Standby,
        engine::Role::Promoting => wire::Role::Promoting,
        engine::Role::Primary => wire::Role::Primary,
        engine::Role::Hold | engine::Role::Fencing | engine::Role::Fenced => wire::Role::Hold,
    }
}

fn role_from_wire(r: wire::Role, fenced: bool) -> engine::Role {
    match r {
        _ if fenced => engine::Role::Fenced,
        wire::Role::Standby => engine::Role::Standby,
        wire::Role::Promoting => engine::Role::Promoting,
        wire::Role::Primary => engine::Role::Primary,
        wire::Role::Hold => engine::Role::Hold,
    }
}

/// Our state as a frame carries it.
pub(crate) fn state_to_wire(s: engine::NodeState) -> wire::NodeState {
    wire::NodeState {
        role: role_to_wire(s.role),
        term: s.term,
        fenced: s.fenced,
        db_healthy: s.db_healthy,
        gateway_up: s.gateway_up,
        wal_lsn: s.wal_lsn,
    }
}

/// The optional fields our frames carry: the echo of the peer's last ping (rule
/// `hold-needs-evidence`) and our conditions (rule `human-promoted-standby`).
pub(crate) fn extensions_to_wire(s: engine::NodeState, echo: Option<u32>) -> wire::Extensions {
    wire::Extensions {
        echoed_seq: echo,
        conditions: s.human_promoted.then_some(wire::Conditions {
            human_promoted: true,
            leaving: false,
        }),
        ..wire::Extensions::NONE
    }
}

/// The peer's state from a frame sent by `sender` with these optional fields.
pub(crate) fn state_from_wire(
    sender: wire::NodeId,
    s: wire::NodeState,
    ext: &wire::Extensions,
) -> engine::NodeState {
    engine::NodeState {
        node_id: engine::NodeId(sender.0),
        role: role_from_wire(s.role, s.fenced),
        term: s.term,
        fenced: s.fenced,
        db_healthy: s.db_healthy,
        gateway_up: s.gateway_up,
        wal_lsn: s.wal_lsn,
        human_promoted: ext.conditions.is_some_and(|c| c.human_promoted),
    }
}

/// A bridge report, seen from our side of the bridge: the copy we receive is the one
/// sent on our side, so "since our side" is that side's age and the peer is the other.
pub(crate) fn bridge_from_wire(b: wire::BridgeStatus) -> engine::BridgeStatus {
    let ms = |v: Option<u32>| v.map(|m| std::time::Duration::from_millis(u64::from(m)));
    let (us, peer) = match b.to_side {
        wire::Side::A => (b.since_a_ms, b.since_b_ms),
        wire::Side::B => (b.since_b_ms, b.since_a_ms),
    };
    engine::BridgeStatus {
        uptime: std::time::Duration::from_millis(u64::from(b.uptime_ms)),
        since_heard_us: ms(us),
        since_heard_peer: ms(peer),
        frames_dropped: b.frames_dropped,
        we_are_side_b: b.to_side == wire::Side::B,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_except_fencing_roles() {
        let s = engine::NodeState {
            node_id: engine::NodeId(7),
            role: engine::Role::Primary,
            term: 3,
            fenced: false,
            db_healthy: true,
            gateway_up: true,
            wal_lsn: 42,
            human_promoted: false,
        };
        let round_trip = |s: engine::NodeState| {
            let ext = extensions_to_wire(s, Some(9));
            assert_eq!(ext.echoed_seq, Some(9));
            state_from_wire(wire::NodeId(7), state_to_wire(s), &ext)
        };
        assert_eq!(round_trip(s), s);
        let fenced = engine::NodeState {
            role: engine::Role::Fenced,
            fenced: true,
            ..s
        };
        assert_eq!(round_trip(fenced), fenced);
        let by_hand = engine::NodeState {
            role: engine::Role::Standby,
            human_promoted: true,
            ..s
        };
        assert_eq!(round_trip(by_hand), by_hand);
    }
}
