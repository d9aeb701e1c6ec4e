//! What the daemon shows an operator: the `/status` snapshot, the `/metrics` registry,
//! the HTTP server that serves them and the client behind `twinbeat status`.

mod client;
mod server;

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

pub(crate) use client::{fetch, render_table, FetchError, Target};
pub(crate) use server::{serve, ServeError};

/// The `/status` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StatusSnapshot {
    /// This node's id.
    pub node: String,
    /// Cluster name.
    pub cluster: String,
    /// Current role as the engine sees it (`master`, `standby`, `hold`, `fenced`, …).
    pub role: String,
    /// Current term.
    pub term: u64,
    /// Whether this node is fenced.
    pub fenced: bool,
    /// The node holds and only the operator can end it now (rule
    /// `hold-needs-evidence`): `startup_grace` passed with nothing heard from the
    /// peer. `twinbeat resume --force-primary` releases it.
    #[serde(default)]
    pub hold_releasable: bool,
    /// A rejoin under way (rule `rejoin-after-fence`): `twinbeat rejoin`,
    /// `auto_rejoin`, or one a restart interrupted.
    #[serde(default)]
    pub rejoin: Option<RejoinStatus>,
    /// A planned switchover under way (rule `planned-switchover`).
    #[serde(default)]
    pub switchover: Option<SwitchoverStatus>,
    /// This node's last promotion (a failover, or a fenced peer's handover): its term,
    /// reason and when, from this run or the persisted record.
    #[serde(default)]
    pub last_failover: Option<LastFailover>,
    /// The maintenance pause (rule `maintenance-pause`), while one is in effect.
    #[serde(default)]
    pub maintenance: Option<MaintenanceStatus>,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Each checked path.
    pub paths: Vec<PathStatus>,
    /// Local database state (`healthy`, `down`, `restarting`, `stopped`, `unknown`).
    pub local_db: String,
    /// The start guard (`standby.signal` kept on a primary, rule `start-guard`): `armed`,
    /// `disarmed` or `unknown` (data directory not known). On a standby the file is
    /// its own replica signal and shows as `armed` too.
    #[serde(default)]
    pub start_guard: String,
    /// Who holds the VIP.
    pub vip: VipStatus,
    /// The peer as last heard over serial.
    pub peer: Option<PeerStatus>,
    /// Replication as both nodes see it, and the peer's PostgreSQL as the remote DB
    /// path last read it (rules `remote-db-reads-role`, `human-promoted-standby`).
    #[serde(default)]
    pub replication: ReplicationStatus,
    /// Serial frame counters.
    pub serial: SerialCounters,
    /// The heartbeat bridge: `not configured` (`checks.serial.bridge = false`),
    /// `alive` (a report within the silence bound) or `silent`.
    #[serde(default)]
    pub bridge_state: String,
    /// The bridge's last report, if one ever came (kept while silent: its age says how
    /// long ago).
    pub bridge: Option<BridgeStatus>,
    /// Why the serial path is down, while it is: `no ack` (the ping/ack attempts),
    /// `peer silent at bridge` or `bridge silent`.
    #[serde(default)]
    pub serial_down_cause: Option<String>,
    /// Rule `pair-agrees`: whether the peer's frames carry this node's settings'
    /// fingerprint (`None` until a frame carried one).
    #[serde(default)]
    pub pair: Option<PairStatus>,
    /// Active alarms, newest last.
    pub alarms: Vec<AlarmStatus>,
    /// The engine's last decision.
    #[serde(default)]
    pub decision: Option<DecisionStatus>,
    /// This node's WAL position (`X/Y`): its last local reading.
    #[serde(default)]
    pub wal_lsn: String,
    /// The state persisted in `state_dir` (what a restart starts from); when fenced,
    /// its `reason` says why.
    #[serde(default)]
    pub persisted: Option<PersistedStatus>,
}

/// Rule `pair-agrees`: the two nodes' fingerprints of the settings they must share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PairStatus {
    /// This node's, in hex (`twinbeat diagnose` prints the settings behind it).
    pub fingerprint: String,
    /// The one the peer's last frame carried.
    pub peer_fingerprint: String,
    /// They are equal.
    pub agrees: bool,
}

/// A promotion of this node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastFailover {
    /// The term it promoted into.
    pub term: u64,
    /// Why (the engine's decision).
    pub reason: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

/// A maintenance pause in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MaintenanceStatus {
    /// Who paused: the operator on this node (`uid … gid … pid …`), or `the peer`.
    pub by: String,
    /// Seconds until it ends by itself; `None`: until `twinbeat resume`.
    pub seconds_left: Option<u64>,
    /// The peer is paused too (its frames carry the pause); false: one-sided.
    pub peer_acknowledged: bool,
}

/// A planned switchover under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SwitchoverStatus {
    /// `handing-over` (the master) or `taking-over` (the standby).
    pub side: String,
    /// The term handed over.
    pub term: u64,
    /// `requested`, `stopping`, or `stopped at <final LSN>`.
    pub stage: String,
    /// Who asked.
    pub reason: String,
    /// Why, in words.
    #[serde(default)]
    pub reason_text: String,
}

/// A rejoin under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RejoinStatus {
    /// The peer's term, which this node joins as its standby.
    pub term: u64,
    /// `rewind` (falling back to `reclone` when the rewind cannot be used) or `reclone`.
    pub method: String,
    /// Who asked.
    pub reason: String,
    /// Why, in words.
    #[serde(default)]
    pub reason_text: String,
    /// `persisting` ("rejoining" is being written) or `running` (the rewind or base
    /// backup, the start, the wait for streaming).
    pub stage: String,
}

/// The persisted state record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PersistedStatus {
    /// `standby`, `promoting`, `primary` or `fenced`.
    pub state: String,
    /// Its term.
    pub term: u64,
    /// Why the node entered it.
    pub reason: String,
    /// When it was written, in milliseconds since the Unix epoch (0: never written).
    pub since_unix_ms: u64,
}

/// One path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PathStatus {
    /// `icmp`, `remote_db`, `serial`, `gateway`, `local_db`.
    pub name: String,
    /// `up`, `down` or `unknown` (no attempt finished yet).
    pub state: String,
    /// Consecutive failed attempts.
    pub consecutive_failures: u32,
    /// RTT of the last successful attempt, in milliseconds.
    pub last_rtt_ms: Option<f64>,
}

/// Who holds the VIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct VipStatus {
    /// The VIP with its prefix.
    pub address: String,
    /// `this node`, `peer`, `none` or `unknown`.
    pub holder: String,
}

/// Replication and the peer's PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplicationStatus {
    /// How far the standby's received WAL is behind the primary's current position, in
    /// bytes, from this node's last local sample and the peer's last frame (`None`
    /// until both are known, or when neither node is a primary).
    pub lag_bytes: Option<u64>,
    /// The standby could not take over: more than `max_lag_on_failover` behind.
    pub standby_too_far_behind: bool,
    /// This node is a standby whose PostgreSQL was promoted by hand.
    pub promoted_by_hand: bool,
    /// The peer says its PostgreSQL was promoted by hand.
    pub peer_promoted_by_hand: bool,
    /// The peer's PostgreSQL as the remote DB path last read it.
    pub peer_db: Option<PeerDbStatus>,
    /// A handover under way (rule `fence-handshake`): this master's question, or this
    /// standby's answer.
    pub handover: Option<HandoverStatus>,
    /// On a primary, the replication slot that keeps the most WAL back.
    #[serde(default)]
    pub slot: Option<SlotStatus>,
    /// Synchronous replication (rule `sync-epoch`).
    #[serde(default)]
    pub sync: SyncStatus,
}

/// Synchronous replication as this node sees it (rule `sync-epoch`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncStatus {
    /// `async`, `sync` or `strict` (`[replication] mode`).
    pub mode: String,
    /// On a primary: every commit waits for the standby (the epoch it announces is
    /// synchronous). On a standby: it holds an unexpired synchronous claim, so it would
    /// promote without the lag check.
    pub synchronous: bool,
    /// Where the epoch began (`0/3000060`), when there is one.
    pub since_lsn: Option<String>,
    /// On a primary: `synchronous_standby_names` names the standby.
    pub standby_named: Option<bool>,
    /// Seconds since this primary last stopped waiting for its standby.
    pub last_degraded_secs_ago: Option<u64>,
    /// What an operator must know now, e.g. that commits wait for a standby that is
    /// away (`strict`).
    pub note: Option<String>,
}

/// A primary's replication slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SlotStatus {
    /// The slot's name (the standby's node name when twinbeat created it).
    pub name: String,
    /// A standby streams through it now.
    pub active: bool,
    /// WAL it keeps on this node, in bytes (`max_slot_wal_keep_size` bounds it).
    pub retained_bytes: u64,
}

/// This node's side of a handover (rule `fence-handshake`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HandoverStatus {
    /// `asking` (a master wants to fence and asks the standby to take over) or
    /// `answered` (a standby answered the question).
    pub state: String,
    /// The master's WAL position the question names.
    pub lsn: u64,
    /// The answer: `ready`, or why not (`lag_too_high`, `gateway_down`, …).
    pub verdict: Option<String>,
}

/// One reading of the peer's PostgreSQL over the remote DB path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeerDbStatus {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// The term its daemon published before its last `pg_promote`, if any.
    pub term: Option<u64>,
    /// Its timeline (0: unknown).
    pub timeline: u32,
    /// Age of the reading, in milliseconds.
    pub age_ms: u64,
}

/// The peer's last state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeerStatus {
    /// The peer's name: its `node_id` as `[peer] node_id` gives it when that is the
    /// node heard, else the number its frames carry.
    pub node: String,
    /// The number its frames carry (a hash of its `node_id`).
    #[serde(default)]
    pub node_number: u32,
    /// Peer role.
    pub role: String,
    /// Peer term.
    pub term: u64,
    /// Peer fenced flag.
    pub fenced: bool,
    /// Its PostgreSQL is healthy, as its last frame says.
    #[serde(default)]
    pub db_healthy: bool,
    /// Its gateway answers, as its last frame says.
    #[serde(default)]
    pub gateway_up: bool,
    /// Its WAL position (`X/Y`), as its last frame says.
    #[serde(default)]
    pub wal_lsn: String,
    /// Age of that state, in milliseconds.
    pub age_ms: u64,
}

/// An alarm on the status page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AlarmStatus {
    /// `warning` or `critical`.
    pub severity: String,
    /// The stable code (`twinbeat_core::Reason::code`, or `promotion_disarmed`).
    pub code: String,
    /// What it means.
    pub text: String,
    /// How many times in a row it was raised.
    pub count: u64,
}

impl std::fmt::Display for AlarmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.severity, self.text)?;
        if self.count > 1 {
            write!(f, " (x{})", self.count)?;
        }
        Ok(())
    }
}

/// The engine's last decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DecisionStatus {
    /// What was decided (`promote`, `fence`, `hold`, …).
    pub kind: String,
    /// Why: the reason's stable code.
    pub reason: String,
    /// Why, in words.
    pub reason_text: String,
    /// How long ago, in milliseconds.
    pub age_ms: u64,
}

/// Serial frame counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SerialCounters {
    /// Frames sent.
    pub sent: u64,
    /// Valid frames received.
    pub received: u64,
    /// Frames dropped for a bad CRC.
    pub corrupt: u64,
    /// Frames dropped for bad framing or decoding.
    pub malformed: u64,
    /// Frames dropped for exceeding the buffer.
    pub overflow: u64,
    /// Frames from another cluster.
    pub foreign: u64,
    /// Frames carrying this node's own id, dropped by the engine: an echo of its own
    /// frames (a loopback plug, a half-duplex line) or a peer with the same `node_id`.
    #[serde(default)]
    pub own_echo: u64,
}

/// The bridge's own report (`BridgeStatus` frames).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BridgeStatus {
    /// Milliseconds since this node received the report.
    #[serde(default)]
    pub report_age_ms: u64,
    /// Bridge uptime, in seconds.
    pub uptime_secs: u64,
    /// Milliseconds since the bridge last heard side A.
    pub heard_a_ms_ago: Option<u64>,
    /// Milliseconds since the bridge last heard side B.
    pub heard_b_ms_ago: Option<u64>,
    /// Frames the bridge dropped.
    pub dropped: u64,
}

/// State shared between the driver (writer) and the status server (reader).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    snapshot: RwLock<StatusSnapshot>,
    /// The metrics registry.
    pub metrics: Metrics,
}

impl Shared {
    /// A shared state starting from `snapshot`.
    pub(crate) fn new(snapshot: StatusSnapshot) -> Arc<Self> {
        Arc::new(Shared {
            snapshot: RwLock::new(snapshot),
            metrics: Metrics::new(),
        })
    }

    /// A copy of the current snapshot.
    pub(crate) fn snapshot(&self) -> StatusSnapshot {
        // A writer that panicked left a complete snapshot behind (updates are
        // whole-field assignments), so a poisoned lock is still readable.
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Changes the snapshot in place.
    pub(crate) fn update(&self, f: impl FnOnce(&mut StatusSnapshot)) {
        let mut guard = self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard);
    }
}

#[cfg(test)]
mod tests;
