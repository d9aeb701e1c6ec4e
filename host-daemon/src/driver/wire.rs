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
        // Still the primary of its term; tail field 17 says it is handing over.
        engine::Role::Primary | engine::Role::Demoting => wire::Role::Primary,
        engine::Role::Hold | engine::Role::Fencing | engine::Role::Fenced => wire::Role::Hold,
    }
}

fn role_from_wire(
    r: wire::Role,
    fenced: bool,
    switchover: Option<wire::SwitchoverStage>,
) -> engine::Role {
    let demoting = matches!(
        switchover,
        Some(wire::SwitchoverStage::Stopping | wire::SwitchoverStage::Stopped { .. })
    );
    match r {
        _ if fenced => engine::Role::Fenced,
        wire::Role::Primary if demoting => engine::Role::Demoting,
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
/// `hold-needs-evidence`), our conditions (rule `human-promoted-standby`), a
/// handover's question or answer (rule `fence-handshake`), a pause, a switchover's
/// stage, the sync epoch (rule `sync-epoch`) and the settings' fingerprint (rule
/// `pair-agrees`).
pub(crate) fn extensions_to_wire(s: engine::NodeState, echo: Option<u32>) -> wire::Extensions {
    let (takeover_request, takeover_answer) = match s.handover {
        Some(engine::Handover::Asked { lsn }) => (Some(wire::TakeoverRequest { lsn }), None),
        Some(engine::Handover::Answered { lsn, verdict }) => (
            None,
            Some(wire::TakeoverAnswer {
                lsn,
                verdict: verdict_to_wire(verdict),
            }),
        ),
        None => (None, None),
    };
    wire::Extensions {
        echoed_seq: echo,
        conditions: s.human_promoted.then_some(wire::Conditions {
            human_promoted: true,
            leaving: false,
        }),
        takeover_request,
        takeover_answer,
        pause: s.pause.map(pause_to_wire),
        switchover: s.switchover.map(switchover_to_wire),
        sync_epoch: s.sync_epoch.map(|e| wire::SyncEpoch {
            synchronous: e.synchronous,
            since_lsn: e.since_lsn,
        }),
        config_fingerprint: s.config_fingerprint,
        ..wire::Extensions::NONE
    }
}

/// A switchover's stage as tail field 17 carries it (rule `planned-switchover`).
fn switchover_to_wire(s: engine::SwitchoverStage) -> wire::SwitchoverStage {
    match s {
        engine::SwitchoverStage::Requested => wire::SwitchoverStage::Requested,
        engine::SwitchoverStage::Stopping => wire::SwitchoverStage::Stopping,
        engine::SwitchoverStage::Stopped { lsn } => wire::SwitchoverStage::Stopped { lsn },
    }
}

fn switchover_from_wire(s: wire::SwitchoverStage) -> engine::SwitchoverStage {
    match s {
        wire::SwitchoverStage::Requested => engine::SwitchoverStage::Requested,
        wire::SwitchoverStage::Stopping => engine::SwitchoverStage::Stopping,
        wire::SwitchoverStage::Stopped { lsn } => engine::SwitchoverStage::Stopped { lsn },
    }
}

/// A maintenance pause as tail field 7 carries it: whole seconds left, rounded up so a
/// pause about to end is never read as one without an end (rule `maintenance-pause`).
fn pause_to_wire(p: engine::MaintenanceWindow) -> wire::Pause {
    wire::Pause {
        seconds_left: p.left.map(|d| {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        }),
    }
}

fn pause_from_wire(p: wire::Pause) -> engine::MaintenanceWindow {
    engine::MaintenanceWindow {
        left: p
            .seconds_left
            .map(|s| std::time::Duration::from_secs(u64::from(s))),
    }
}

/// The verdict codes of tail field 15 (`protocol/WIRE.md`): 0 ready, then one code per
/// refusal.
const VERDICTS: [(u8, engine::TakeoverVerdict); 7] = {
    use engine::TakeoverRefusal as R;
    use engine::TakeoverVerdict::{Ready, Refused};
    [
        (wire::TakeoverAnswer::READY, Ready),
        (1, Refused(R::LocalDbUnhealthy)),
        (2, Refused(R::NotInRecovery)),
        (3, Refused(R::GatewayDown)),
        (4, Refused(R::LagTooHigh)),
        (5, Refused(R::CheckTimedOut)),
        (6, Refused(R::NoSyncClaim)),
    ]
};

fn verdict_to_wire(v: engine::TakeoverVerdict) -> u8 {
    VERDICTS
        .iter()
        .find(|(_, known)| *known == v)
        .map_or(u8::MAX, |(code, _)| *code)
}

/// A code this daemon does not know is still a refusal: only 0 says ready.
fn verdict_from_wire(code: u8) -> engine::TakeoverVerdict {
    VERDICTS.iter().find(|(known, _)| *known == code).map_or(
        engine::TakeoverVerdict::Refused(engine::TakeoverRefusal::CheckTimedOut),
        |(_, v)| *v,
    )
}

/// A handover's question or answer from the optional fields (a frame carries at
/// most one in practice; a question wins, as it is what a master sends).
fn handover_from_wire(ext: &wire::Extensions) -> Option<engine::Handover> {
    match (ext.takeover_request, ext.takeover_answer) {
        (Some(r), _) => Some(engine::Handover::Asked { lsn: r.lsn }),
        (None, Some(a)) => Some(engine::Handover::Answered {
            lsn: a.lsn,
            verdict: verdict_from_wire(a.verdict),
        }),
        (None, None) => None,
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
        role: role_from_wire(s.role, s.fenced, ext.switchover),
        term: s.term,
        fenced: s.fenced,
        db_healthy: s.db_healthy,
        gateway_up: s.gateway_up,
        wal_lsn: s.wal_lsn,
        human_promoted: ext.conditions.is_some_and(|c| c.human_promoted),
        handover: handover_from_wire(ext),
        pause: ext.pause.map(pause_from_wire),
        switchover: ext.switchover.map(switchover_from_wire),
        sync_epoch: ext.sync_epoch.map(|e| engine::SyncEpoch {
            synchronous: e.synchronous,
            since_lsn: e.since_lsn,
        }),
        config_fingerprint: ext.config_fingerprint,
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
            handover: None,
            pause: None,
            switchover: None,
            sync_epoch: None,
            config_fingerprint: None,
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
        for left in [None, Some(std::time::Duration::from_secs(600))] {
            let paused = engine::NodeState {
                pause: Some(engine::MaintenanceWindow { left }),
                ..s
            };
            assert_eq!(round_trip(paused), paused);
        }
        let asking = engine::NodeState {
            handover: Some(engine::Handover::Asked { lsn: 77 }),
            ..s
        };
        assert_eq!(round_trip(asking), asking);
        for (role, stage) in [
            (engine::Role::Standby, engine::SwitchoverStage::Requested),
            (engine::Role::Demoting, engine::SwitchoverStage::Stopping),
            (
                engine::Role::Demoting,
                engine::SwitchoverStage::Stopped { lsn: 1 << 32 },
            ),
        ] {
            let switching = engine::NodeState {
                role,
                switchover: Some(stage),
                ..s
            };
            assert_eq!(round_trip(switching), switching);
        }
        for synchronous in [true, false] {
            let epoch = engine::NodeState {
                sync_epoch: Some(engine::SyncEpoch {
                    synchronous,
                    since_lsn: (1 << 32) + 7,
                }),
                ..s
            };
            assert_eq!(round_trip(epoch), epoch);
        }
        let fingerprinted = engine::NodeState {
            config_fingerprint: Some(0xdead_beef),
            ..s
        };
        assert_eq!(round_trip(fingerprinted), fingerprinted);
        for (_, verdict) in VERDICTS {
            let answering = engine::NodeState {
                role: engine::Role::Standby,
                handover: Some(engine::Handover::Answered { lsn: 77, verdict }),
                ..s
            };
            assert_eq!(round_trip(answering), answering);
        }
    }

    #[test]
    fn an_unknown_verdict_code_is_a_refusal() {
        assert!(matches!(
            verdict_from_wire(200),
            engine::TakeoverVerdict::Refused(_)
        ));
    }
}
