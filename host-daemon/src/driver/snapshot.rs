//! The status snapshot built from the engine's getters.

use std::collections::VecDeque;
use std::time::Duration;

use twinbeat_core::{self as engine, Engine, PathHealth, PathId};

use super::effects::vip_present;
use crate::actions::rejoin::format_lsn;
use crate::actions::state_file::PersistedState;
use crate::config::Config;
use crate::serial_link::LinkCounters;
use crate::status::{
    AlarmStatus, BridgeStatus, DecisionStatus, HandoverStatus, MaintenanceStatus, PathStatus,
    PeerDbStatus, PeerStatus, PersistedStatus, RejoinStatus, ReplicationStatus, SerialCounters,
    StatusSnapshot, SwitchoverStatus, VipStatus,
};

/// How the status page and the log name why the serial path is down.
pub(crate) fn cause_name(c: engine::SerialDownCause) -> &'static str {
    match c {
        engine::SerialDownCause::NoAck => "no ack",
        engine::SerialDownCause::PeerSilentAtBridge => "peer silent at bridge",
        engine::SerialDownCause::BridgeSilent => "bridge silent",
    }
}

/// The snapshot before the engine has run: identity only, every path unknown.
pub(crate) fn initial(cfg: &Config) -> StatusSnapshot {
    StatusSnapshot {
        node: cfg.node_id.clone(),
        cluster: cfg.cluster_id.clone(),
        role: "starting".into(),
        local_db: "unknown".into(),
        start_guard: "unknown".into(),
        vip: VipStatus {
            address: cfg.vip.address.to_string(),
            holder: "unknown".into(),
        },
        paths: PathId::ALL
            .iter()
            .map(|p| PathStatus {
                name: p.name().into(),
                state: "unknown".into(),
                ..PathStatus::default()
            })
            .collect(),
        ..StatusSnapshot::default()
    }
}

/// Replication as this node sees it: the lag between the primary's current WAL position
/// and the standby's received one, whichever side this node is.
/// Rule `sync-epoch` as the status page shows it.
fn sync_status(e: &Engine, now: engine::Instant) -> crate::status::SyncStatus {
    let s = e.sync_status();
    let primary = e.role() == engine::Role::Primary;
    let synchronous = if primary {
        s.epoch.is_some_and(|ep| ep.synchronous)
    } else {
        s.claim
    };
    let note = match (s.mode, primary, s.named, synchronous) {
        (engine::ReplicationMode::Strict, true, Some(true), _) if s.standby_away || !synchronous => Some(
            "strict: commits wait until the standby streams again (after a failover: until the old master rejoins)".to_owned(),
        ),
        (engine::ReplicationMode::Sync, true, Some(false), false) => {
            Some("degraded: commits do not wait for the standby until it streams again".to_owned())
        }
        _ => None,
    };
    crate::status::SyncStatus {
        mode: s.mode.as_str().into(),
        synchronous,
        since_lsn: s.epoch.map(|ep| format_lsn(ep.since_lsn)),
        standby_named: s.named,
        last_degraded_secs_ago: s
            .last_degraded
            .map(|at| now.saturating_duration_since(at).as_secs()),
        note,
    }
}

fn replication(e: &Engine, now: engine::Instant) -> ReplicationStatus {
    let own = e.local_db();
    let peer = e.peer().map(|v| v.state);
    let lag_bytes = match (own, peer) {
        (Some(o), Some(p)) if !o.in_recovery && p.role == engine::Role::Standby => {
            Some(o.wal_lsn.saturating_sub(p.wal_lsn))
        }
        (Some(o), Some(p)) if o.in_recovery && p.role == engine::Role::Primary => {
            Some(p.wal_lsn.saturating_sub(o.wal_lsn))
        }
        _ => None,
    };
    let sync = sync_status(e, now);
    ReplicationStatus {
        sync,
        lag_bytes,
        standby_too_far_behind: lag_bytes.is_some_and(|l| l > e.config().max_lag_on_failover),
        promoted_by_hand: e.own_state().human_promoted,
        peer_promoted_by_hand: peer.is_some_and(|p| p.human_promoted),
        peer_db: e.peer_db().map(|(r, at)| PeerDbStatus {
            in_recovery: r.in_recovery,
            term: r.term,
            timeline: r.timeline,
            age_ms: u64::try_from(now.saturating_duration_since(at).as_millis())
                .unwrap_or(u64::MAX),
        }),
        handover: e.own_state().handover.map(|h| match h {
            engine::Handover::Asked { lsn } => HandoverStatus {
                state: "asking".into(),
                lsn,
                verdict: None,
            },
            engine::Handover::Answered { lsn, verdict } => HandoverStatus {
                state: "answered".into(),
                lsn,
                verdict: Some(
                    match verdict {
                        engine::TakeoverVerdict::Ready => "ready",
                        engine::TakeoverVerdict::Refused(why) => why.name(),
                    }
                    .into(),
                ),
            },
        }),
        // Filled in by the driver from the local check's reading.
        slot: None,
    }
}

/// The snapshot of a running engine.
pub(crate) fn build(
    e: &Engine,
    now: engine::Instant,
    cfg: &Config,
    uptime: Duration,
    serial: &LinkCounters,
    alarms: &VecDeque<AlarmStatus>,
    persisted: &PersistedState,
) -> StatusSnapshot {
    let paths = PathId::ALL
        .iter()
        .map(|&p| {
            let st = e.path(p);
            PathStatus {
                name: p.name().into(),
                state: match st.health {
                    PathHealth::Up => "up",
                    PathHealth::Down => "down",
                    PathHealth::Unknown => "unknown",
                }
                .into(),
                consecutive_failures: st.consecutive_failures,
                last_rtt_ms: st.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
            }
        })
        .collect();
    let local_db = match (e.local_db(), e.path(PathId::LocalDb).health) {
        (_, PathHealth::Down) => "down".to_owned(),
        (Some(s), _) if s.healthy() && s.in_recovery => "healthy (in recovery)".to_owned(),
        (Some(s), _) if s.healthy() => "healthy (primary)".to_owned(),
        (Some(_), _) => "unhealthy".to_owned(),
        (None, _) => "unknown".to_owned(),
    };
    let peer = e.peer().map(|v| PeerStatus {
        node: cfg
            .node_name(v.state.node_id.0)
            .map_or_else(|| v.state.node_id.0.to_string(), str::to_owned),
        node_number: v.state.node_id.0,
        role: v.state.role.name().into(),
        term: v.state.term,
        fenced: v.state.fenced,
        db_healthy: v.state.db_healthy,
        gateway_up: v.state.gateway_up,
        wal_lsn: format_lsn(v.state.wal_lsn),
        age_ms: u64::try_from(now.saturating_duration_since(v.heard_at).as_millis())
            .unwrap_or(u64::MAX),
    });
    let replication = replication(e, now);
    let holder = if vip_present(cfg.vip.address.addr()) {
        "this node"
    } else if peer
        .as_ref()
        .is_some_and(|p| p.role == "primary" && !p.fenced)
    {
        "peer"
    } else {
        "none"
    };
    let d = &serial.decode;
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let bridge = e.bridge().map(|(b, at)| {
        // The report says "us" and "the peer"; the status page names the bridge's sides.
        let (a, b_side) = if b.we_are_side_b {
            (b.since_heard_peer, b.since_heard_us)
        } else {
            (b.since_heard_us, b.since_heard_peer)
        };
        BridgeStatus {
            report_age_ms: ms(now.saturating_duration_since(at)),
            uptime_secs: b.uptime.as_secs(),
            heard_a_ms_ago: a.map(ms),
            heard_b_ms_ago: b_side.map(ms),
            dropped: u64::from(b.frames_dropped),
        }
    });
    let bridge_state = match e.bridge_state(now) {
        engine::BridgeState::NotConfigured => "not configured",
        engine::BridgeState::Alive(..) => "alive",
        engine::BridgeState::Silent(_) => "silent",
    };
    StatusSnapshot {
        node: cfg.node_id.clone(),
        cluster: cfg.cluster_id.clone(),
        role: e.role().name().into(),
        term: e.term(),
        fenced: e.is_fenced(),
        hold_releasable: e.hold_releasable(),
        // Filled in by the driver, which keeps it.
        last_failover: None,
        maintenance: e.maintenance().map(|m| MaintenanceStatus {
            by: match m.origin {
                // The driver names the caller (`Driver::pause_by`).
                engine::PauseOrigin::Operator => "an operator on this node".to_owned(),
                engine::PauseOrigin::Peer => "the peer".to_owned(),
            },
            seconds_left: m.until.map(|u| u.saturating_duration_since(now).as_secs()),
            peer_acknowledged: m.peer_acknowledged,
        }),
        switchover: e.switchover().map(|s| SwitchoverStatus {
            side: match s.side {
                engine::SwitchoverSide::HandingOver => "handing-over",
                engine::SwitchoverSide::TakingOver => "taking-over",
            }
            .into(),
            term: s.term,
            stage: match s.stage {
                engine::SwitchoverStage::Requested => "requested".into(),
                engine::SwitchoverStage::Stopping => "stopping".into(),
                engine::SwitchoverStage::Stopped { lsn } => {
                    format!("stopped at {}", format_lsn(lsn))
                }
            },
            reason: s.reason.code().into(),
            reason_text: s.reason.text().into(),
        }),
        rejoin: e.rejoin_progress().map(|r| RejoinStatus {
            term: r.term,
            method: if r.reclone { "reclone" } else { "rewind" }.into(),
            reason: r.reason.code().into(),
            reason_text: r.reason.text().into(),
            stage: if r.running { "running" } else { "persisting" }.into(),
        }),
        uptime_secs: uptime.as_secs(),
        pair: e
            .pair_fingerprints()
            .map(|(ours, theirs)| crate::status::PairStatus {
                fingerprint: format!("{ours:08x}"),
                peer_fingerprint: format!("{theirs:08x}"),
                agrees: ours == theirs,
            }),
        paths,
        local_db,
        // Filled in by the driver, which knows the data directory.
        start_guard: "unknown".into(),
        vip: VipStatus {
            address: cfg.vip.address.to_string(),
            holder: holder.into(),
        },
        peer,
        replication,
        serial: SerialCounters {
            sent: serial.frames_sent,
            received: u64::from(d.frames_ok),
            corrupt: u64::from(d.bad_crc),
            malformed: u64::from(
                d.bad_cobs
                    + d.unknown_version
                    + d.unknown_kind
                    + d.malformed
                    + d.trailing_bytes
                    + d.too_short,
            ),
            overflow: u64::from(d.over_full),
            foreign: u64::from(d.wrong_cluster),
            own_echo: u64::from(e.own_frames_dropped()),
        },
        bridge_state: bridge_state.into(),
        bridge,
        serial_down_cause: e.serial_down_cause().map(|c| cause_name(c).into()),
        alarms: alarms.iter().cloned().collect(),
        decision: e.last_decision().map(|d| DecisionStatus {
            kind: d.kind.code().into(),
            reason: d.reason.code().into(),
            reason_text: d.reason.text().into(),
            age_ms: ms(now.saturating_duration_since(d.at)),
        }),
        wal_lsn: format_lsn(e.own_state().wal_lsn),
        persisted: Some(PersistedStatus {
            state: engine::Role::from(persisted.state).name().into(),
            term: persisted.term,
            reason: persisted.reason.clone(),
            since_unix_ms: persisted.since_unix_ms,
        }),
    }
}
