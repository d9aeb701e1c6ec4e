//! Plain data shared by the engine's inputs, actions and getters.

use core::time::Duration;

use crate::time::Instant;

/// A node's id. On an equal term the smaller id wins (rule `higher-term-wins`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// The role of a node as its engine sees it. Every frame carries the sender's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Replica; watches the master and may promote (rules `partial-loss-only-warns`
    /// to `startup-grace`).
    Standby,
    /// Promotion in progress (rule `promotion-order`): persisted "promoting", then
    /// `pg_promote`, then VIP. Also a returning primary re-opening its guarded DB (rule
    /// `start-guard`): `pg_promote` and the VIP in its own term, nothing persisted first.
    Promoting,
    /// Serving: database out of recovery and the VIP held (or being taken).
    Primary,
    /// Not acting and no VIP until the peer is heard (rules `hold-needs-evidence`,
    /// `pause-is-a-restart`). A persisted primary whose DB came up read-only (the
    /// daemon's start guard) holds too: it fences if the peer won, and otherwise
    /// re-opens the DB (see [`Role::Promoting`]).
    Hold,
    /// Fence in progress (rule `fence-sequence`): stopping the DB and releasing the
    /// VIP. Not serving.
    Fencing,
    /// Fenced: DB stopped, VIP released, `fenced` in every frame. Sticky.
    Fenced,
    /// A master handing the primary position over in a planned switchover (rule
    /// `planned-switchover`): VIP released, PostgreSQL checkpointed and stopped
    /// cleanly, waiting for the standby to promote past its final LSN, then following
    /// it. Still the primary of its term: on the wire it says `Primary` with the
    /// switchover's stage.
    Demoting,
}

impl Role {
    /// Whether this role claims the primary position (rule `higher-term-wins` compares
    /// such peers).
    pub fn claims_primary(self) -> bool {
        matches!(
            self,
            Role::Primary | Role::Promoting | Role::Hold | Role::Demoting
        )
    }

    /// The name the status page and the logs use.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Standby => "standby",
            Role::Promoting => "promoting",
            Role::Primary => "primary",
            Role::Hold => "hold",
            Role::Fencing => "fencing",
            Role::Fenced => "fenced",
            Role::Demoting => "demoting",
        }
    }
}

/// The ways of checking something; the first three see the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathId {
    /// ICMP echo to the peer host.
    Icmp,
    /// The peer's PostgreSQL: its role, published term and timeline (rule
    /// `remote-db-reads-role`).
    RemoteDb,
    /// Serial ping/ack with the peer's daemon.
    Serial,
    /// The node's own gateway.
    Gateway,
    /// The node's own database.
    LocalDb,
}

impl PathId {
    /// Every path, in table order.
    pub const ALL: [PathId; 5] = [
        PathId::Icmp,
        PathId::RemoteDb,
        PathId::Serial,
        PathId::Gateway,
        PathId::LocalDb,
    ];
    /// The paths that see the peer, in the order of rule `confirmation-cascade`.
    pub const PEER: [PathId; 3] = [PathId::Icmp, PathId::RemoteDb, PathId::Serial];

    /// Position in [`PathId::ALL`] (declaration order): `self as usize`, the index of
    /// every table kept per path.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name used in the config file and logs.
    pub const fn name(self) -> &'static str {
        match self {
            PathId::Icmp => "icmp",
            PathId::RemoteDb => "remote_db",
            PathId::Serial => "serial",
            PathId::Gateway => "gateway",
            PathId::LocalDb => "local_db",
        }
    }
}

/// Identifies one attempt (one probe run, one serial ping, one ARP probe). Unique per
/// engine; a result carrying an id the engine no longer waits for is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptId(pub u32);

/// A node's state as carried in every frame (rule `state-in-every-frame`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeState {
    /// The sender's id.
    pub node_id: NodeId,
    /// The sender's role.
    pub role: Role,
    /// The sender's term.
    pub term: u64,
    /// The sender is fenced (DB stopped and VIP released, confirmed).
    pub fenced: bool,
    /// The sender's local DB is healthy (and not stopped).
    pub db_healthy: bool,
    /// The sender's own gateway is not down.
    pub gateway_up: bool,
    /// WAL position: current on a primary, received on a standby.
    pub wal_lsn: u64,
    /// The sender is a standby whose PostgreSQL left recovery without it (somebody ran
    /// `pg_promote` by hand): its own condition, not a claim to the primary position
    /// (rule `human-promoted-standby`).
    pub human_promoted: bool,
    /// A handover under way (rule `fence-handshake`): the master's question or the
    /// standby's answer.
    pub handover: Option<Handover>,
    /// The sender is in maintenance (rule `maintenance-pause`).
    pub pause: Option<MaintenanceWindow>,
    /// A planned switchover's stage (rule `planned-switchover`): a standby's request,
    /// or a demoting master's progress.
    pub switchover: Option<SwitchoverStage>,
    /// Rule `sync-epoch`: from a primary in `sync` or `strict` mode, the epoch it
    /// announces; from a standby, the last epoch it heard from its primary (its
    /// acknowledgement). `None` in `async` mode.
    pub sync_epoch: Option<SyncEpoch>,
    /// Rule `pair-agrees`: the hash of the sender's settings that must match its
    /// peer's ([`Config::fingerprint`](crate::Config::fingerprint)).
    pub config_fingerprint: Option<u32>,
}

/// A primary's synchronous-replication epoch (rule `sync-epoch`): whether its
/// PostgreSQL waits for this standby on every commit, and from which WAL position that
/// holds. Every epoch a primary announces has a larger `since_lsn` than the one before,
/// so an acknowledgement names exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncEpoch {
    /// Every commit acknowledged from `since_lsn` on waited for the standby's flush.
    pub synchronous: bool,
    /// Where the epoch begins.
    pub since_lsn: u64,
}

/// An epoch of rule `sync-epoch` as written in PostgreSQL for the peer's remote DB
/// path: the primary's announcement (`twinbeat.sync_epoch`, in its own server) or the
/// standby's acknowledgement of one it read there (`twinbeat.sync_ack`, in its own).
/// The values outlive the daemon that wrote them (and `pg_basebackup` copies them), so
/// each names the primary's term and run: a value an earlier run left never matches
/// one of this run, even where `since_lsn` repeats (it restarts with the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublishedEpoch {
    /// The primary's term.
    pub term: u64,
    /// The primary daemon's [`StartFacts::run_id`].
    pub run: u64,
    /// The epoch.
    pub epoch: SyncEpoch,
}

/// What a frame says about a planned switchover (rule `planned-switchover`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwitchoverStage {
    /// From a standby: its operator asked for a switchover; the master decides.
    Requested,
    /// From the master: the VIP is released and PostgreSQL is being checkpointed and
    /// stopped.
    Stopping,
    /// From the master: PostgreSQL is shut down cleanly, its shutdown checkpoint at
    /// `lsn`; the standby promotes once it has replayed past it.
    Stopped {
        /// The shutdown checkpoint's location (`pg_controldata`'s "Latest checkpoint
        /// location").
        lsn: u64,
    },
}

/// A maintenance pause's extent (rule `maintenance-pause`): as frames carry it, as the
/// daemon persists an operator's pause and hands it back at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaintenanceWindow {
    /// How long it still lasts; `None`: until an operator resumes.
    pub left: Option<Duration>,
}

/// Who put a node in maintenance (rule `maintenance-pause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PauseOrigin {
    /// An operator on this node (`twinbeat pause`).
    Operator,
    /// The peer: its frames carry a pause.
    Peer,
}

/// A maintenance pause as the status page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Maintenance {
    /// When it ends by itself; `None`: when an operator resumes.
    pub until: Option<Instant>,
    /// Who started it.
    pub origin: PauseOrigin,
    /// The peer's frames carry the pause too: it is in effect on both nodes. False
    /// while the peer has not heard of it (serial down, the peer down): one-sided.
    pub peer_acknowledged: bool,
}

/// What a frame says about a handover (rule `fence-handshake`). A master that wants to
/// fence asks first; it fences only on a "ready" answered after the question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Handover {
    /// From the master: "take over at WAL position `lsn`?"
    Asked {
        /// The master's WAL position when it asked.
        lsn: u64,
    },
    /// From the standby: its answer to the question about `lsn`, after its own fresh
    /// checks (rule `fresh-checks`).
    Answered {
        /// The position the question named.
        lsn: u64,
        /// Ready, or why not.
        verdict: TakeoverVerdict,
    },
}

/// A standby's answer to "take over?" (rule `fence-handshake`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TakeoverVerdict {
    /// Its fresh checks passed: it would promote once the master is fenced.
    Ready,
    /// It would refuse to promote, for this reason.
    Refused(TakeoverRefusal),
}

/// Why a standby could not take over (rule `fence-handshake`): the fresh check that
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TakeoverRefusal {
    /// Its own PostgreSQL is not healthy.
    LocalDbUnhealthy,
    /// Its own PostgreSQL is not in recovery.
    NotInRecovery,
    /// Its own gateway is down.
    GatewayDown,
    /// The WAL it received is further behind the position asked than
    /// `max_lag_on_failover` (it stopped streaming, or lags).
    LagTooHigh,
    /// A check did not answer in time.
    CheckTimedOut,
    /// `strict`: it holds no synchronous claim, so the master may have acknowledged
    /// commits it lacks (rule `sync-epoch`).
    NoSyncClaim,
}

impl TakeoverRefusal {
    /// Every refusal.
    pub const ALL: [TakeoverRefusal; 6] = [
        TakeoverRefusal::LocalDbUnhealthy,
        TakeoverRefusal::NotInRecovery,
        TakeoverRefusal::GatewayDown,
        TakeoverRefusal::LagTooHigh,
        TakeoverRefusal::CheckTimedOut,
        TakeoverRefusal::NoSyncClaim,
    ];

    /// The name the logs and the status page use.
    pub const fn name(self) -> &'static str {
        match self {
            TakeoverRefusal::LocalDbUnhealthy => "local_db_unhealthy",
            TakeoverRefusal::NotInRecovery => "not_in_recovery",
            TakeoverRefusal::GatewayDown => "gateway_down",
            TakeoverRefusal::LagTooHigh => "lag_too_high",
            TakeoverRefusal::CheckTimedOut => "check_timed_out",
            TakeoverRefusal::NoSyncClaim => "no_sync_claim",
        }
    }
}

/// The peer's state as received in a frame.
pub type PeerState = NodeState;
/// This node's state, to put in every frame sent.
pub type OwnState = NodeState;

/// The last peer state heard and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerView {
    /// The state.
    pub state: PeerState,
    /// When the frame carrying it was received.
    pub heard_at: Instant,
}

/// What the daemon persists (atomic write + fsync) and hands back at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PersistedState {
    /// Persisted role.
    pub role: PersistedRole,
    /// Persisted term.
    pub term: u64,
}

/// The roles worth persisting: the [`Role`]s a node commits to across a restart
/// (hold and fencing are passing states, re-derived at start from these and
/// PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersistedRole {
    /// Replica.
    Standby,
    /// "promoting to `term`" (rule `promotion-order`).
    Promoting,
    /// Primary in `term`.
    Primary,
    /// Fenced; sticky until an operator rejoins the node.
    Fenced,
    /// Fenced, and rejoining the peer that is primary in a higher term as its standby
    /// (rule `rejoin-after-fence`): PostgreSQL's data directory may be half rewound.
    /// A restart fences again and takes the rejoin up once it has the evidence.
    Rejoining,
    /// Handing the primary position of `term` over to the standby in a planned
    /// switchover (rule `planned-switchover`). A restart stops PostgreSQL cleanly
    /// again (or finds it stopped), reads the final LSN again from the control file
    /// and carries on: it follows a peer that is primary in a higher term, and
    /// otherwise withdraws after `switchover_timeout` like a running switchover.
    Demoting {
        /// The node handed over to.
        to: NodeId,
        /// The final LSN, once PostgreSQL is shut down (the control file stays the
        /// authority: a restart reads it again).
        final_lsn: Option<u64>,
    },
}

impl From<PersistedRole> for Role {
    fn from(r: PersistedRole) -> Role {
        match r {
            PersistedRole::Standby => Role::Standby,
            PersistedRole::Promoting => Role::Promoting,
            PersistedRole::Primary => Role::Primary,
            PersistedRole::Fenced | PersistedRole::Rejoining => Role::Fenced,
            PersistedRole::Demoting { .. } => Role::Demoting,
        }
    }
}

/// A rejoin under way (rule `rejoin-after-fence`), as the status page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejoinProgress {
    /// The peer's term, which the node joins as its standby.
    pub term: u64,
    /// Rebuilding with `pg_basebackup` rather than rewinding.
    pub reclone: bool,
    /// Who asked: `OperatorRejoin`, `AutoRejoin` or `RejoinInterrupted`.
    pub reason: crate::io::Reason,
    /// `Action::Rejoin` is running (otherwise "rejoining" is being persisted).
    pub running: bool,
}

/// A planned switchover under way (rule `planned-switchover`), as the status page
/// shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchoverProgress {
    /// This node's part: handing over (the master) or taking over (the standby).
    pub side: SwitchoverSide,
    /// The term handed over.
    pub term: u64,
    /// Where it is: for the master the stage its frames carry; for the standby the
    /// master's last stage it heard, or `Requested` while its own request is out.
    pub stage: SwitchoverStage,
    /// Who asked.
    pub reason: crate::io::Reason,
}

/// A node's part in a planned switchover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchoverSide {
    /// The master: demoting, then following the new primary.
    HandingOver,
    /// The standby: waiting to replay the master's final LSN, then promoting.
    TakingOver,
}

/// What the daemon knows when it starts the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartFacts {
    /// The persisted state, if any.
    pub persisted: Option<PersistedState>,
    /// Whether PostgreSQL is in recovery. Pass `true` when the DB cannot be asked: a
    /// node that believes it is a replica never acts on its own, and a persisted primary
    /// holds either way (its DB may be down or up read-only under the start guard).
    pub db_in_recovery: bool,
    /// Whether the VIP is on this node's interface now. A primary whose daemon
    /// restarted while its PostgreSQL kept serving keeps it while it checks (rule
    /// `hold-needs-evidence`).
    pub vip_held: bool,
    /// An operator's maintenance pause the daemon persisted and that has not expired
    /// (rule `maintenance-pause`).
    pub maintenance: Option<MaintenanceWindow>,
    /// A number drawn at random for this run of the daemon: it names the run in what the
    /// engine publishes in PostgreSQL (rule `sync-epoch`, [`PublishedEpoch`]).
    pub run_id: u64,
}

/// One local database check's findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalDbSample {
    /// The server accepts connections.
    pub accepting: bool,
    /// `SELECT 1` answered.
    pub select_ok: bool,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// Current (primary) or received (standby) WAL position, in bytes.
    pub wal_lsn: u64,
    /// The end of the last WAL record replayed (`pg_last_wal_replay_lsn()`; 0 on a
    /// primary): a switchover's standby promotes once it is past the master's final
    /// LSN (rule `planned-switchover`).
    pub replay_lsn: u64,
    /// The timeline the server is on (0: unknown).
    pub timeline: u32,
    /// On a primary: the peer as its standby (rule `sync-epoch`). All false on a
    /// replica.
    pub standby: StandbyReading,
}

/// What a primary's PostgreSQL says of the peer as its standby (rule `sync-epoch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StandbyReading {
    /// `synchronous_standby_names` names the peer.
    pub named: bool,
    /// The peer's WAL sender is in state `streaming` (caught up, following).
    pub streaming: bool,
    /// The peer's WAL sender's `sync_state` is `sync`: commits wait for it.
    pub synchronous: bool,
}

impl StandbyReading {
    /// No standby (a replica's sample, or nothing connected).
    pub const NONE: StandbyReading = StandbyReading {
        named: false,
        streaming: false,
        synchronous: false,
    };
}

impl LocalDbSample {
    /// Accepting connections and answering queries.
    pub fn healthy(&self) -> bool {
        self.accepting && self.select_ok
    }
}

/// What one remote DB probe read of the peer's PostgreSQL, on the one persistent
/// connection (rule `remote-db-reads-role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerDbReading {
    /// `pg_is_in_recovery()`. A guarded primary reads `true` too: the term tells.
    pub in_recovery: bool,
    /// The term the peer's daemon published (`twinbeat.term`) before its last
    /// `pg_promote`; `None` when it never published one.
    pub term: Option<u64>,
    /// The timeline the peer is on (0: unknown).
    pub timeline: u32,
    /// WAL position: current on a primary, received on a replica
    /// (`pg_last_wal_receive_lsn()`, which `pg_stat_wal_receiver` feeds); 0: unknown.
    pub wal_lsn: u64,
    /// What the peer's daemon published there for a handover over the remote DB path
    /// (rule `fence-handshake`), if anything.
    pub published: Option<Published>,
    /// The primary's synchronous-replication epoch published there (`twinbeat.sync_epoch`,
    /// rule `sync-epoch`), if any.
    pub sync_epoch: Option<PublishedEpoch>,
    /// The standby's acknowledgement of an epoch published there (`twinbeat.sync_ack`,
    /// rule `sync-epoch`), if any.
    pub sync_ack: Option<PublishedEpoch>,
}

/// What a node publishes in its own PostgreSQL (`twinbeat.handover`) for the peer's
/// remote DB path to read, while a handover runs over that path because serial is down
/// (rule `fence-handshake`). Every stage names the master's term and WAL position, so a
/// stale value (left by an earlier run, or copied by `pg_basebackup`) never matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Published {
    /// Where the handover is.
    pub stage: Stage,
    /// The master's term.
    pub term: u64,
    /// The master's WAL position when it asked.
    pub lsn: u64,
}

/// The stages of a handover over the remote DB path (rule `fence-handshake`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Published by the master: "take over at `lsn`?"
    Ask,
    /// Published by the standby: its answer after its fresh checks.
    Answer(TakeoverVerdict),
    /// Published by the master on "ready": it is committed to fencing.
    Fencing,
    /// Published by the standby on seeing `Fencing`: it takes over once the master's
    /// PostgreSQL is gone.
    Armed,
}

impl PeerDbReading {
    /// The peer's PostgreSQL serves writes as primary in a term above `term`: it took
    /// over (rule `higher-term-wins` over the remote DB path).
    pub fn primary_above(&self, term: u64) -> bool {
        !self.in_recovery && self.term.is_some_and(|t| t > term)
    }

    /// Rule `hold-needs-evidence`: the peer is a replica that has not taken over — in
    /// recovery, no higher term published, on `timeline` or an ancestor of it. In a
    /// pair the timelines are one line, so "ancestor" is "not after"; an unknown
    /// timeline proves nothing.
    pub fn proves_not_taken_over(&self, term: u64, timeline: u32) -> bool {
        self.in_recovery
            && self.term.is_none_or(|t| t <= term)
            && self.timeline != 0
            && timeline != 0
            && self.timeline <= timeline
    }
}

/// Result of one probe attempt on icmp, remote_db or gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Answered, with its round-trip time.
    Ok {
        /// Round-trip time measured by the daemon.
        rtt: Duration,
    },
    /// Error or no answer within the timeout.
    Failed,
}

/// Health of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathHealth {
    /// No attempt has concluded yet (or the path is not checked in this role).
    Unknown,
    /// Last attempt succeeded.
    Up,
    /// `retries` consecutive attempts failed.
    Down,
}

/// A path's status for the status page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathStatus {
    /// Up, down or unknown.
    pub health: PathHealth,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// When it went down, while down.
    pub down_since: Option<Instant>,
    /// Round-trip time of the last successful attempt.
    pub last_rtt: Option<Duration>,
}

/// Status reported by the optional serial bridge (`Config::serial_bridge` lets it judge
/// the serial path; it never counts as hearing the peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeStatus {
    /// Bridge uptime.
    pub uptime: Duration,
    /// Time since the bridge last heard this node, if ever.
    pub since_heard_us: Option<Duration>,
    /// Time since the bridge last heard the peer, if ever.
    pub since_heard_peer: Option<Duration>,
    /// Corrupt frames the bridge dropped.
    pub frames_dropped: u32,
    /// This node is on the bridge's side B (UART1); side A otherwise.
    pub we_are_side_b: bool,
}

/// Why the serial path counts as down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SerialDownCause {
    /// `retries` ping/ack attempts failed in a row (no bridge verdict).
    NoAck,
    /// The bridge is alive and has not heard the peer's side for longer than
    /// `Config::bridge_peer_silence`: strong evidence the peer is down.
    PeerSilentAtBridge,
    /// No `BridgeStatus` within `Config::bridge_silence_bound`: the line or the bridge
    /// is broken.
    BridgeSilent,
}

/// What this node knows of the bridge (status page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeState {
    /// `Config::serial_bridge` is off.
    NotConfigured,
    /// A status came within `Config::bridge_silence_bound`: the last one and when.
    Alive(BridgeStatus, Instant),
    /// Nothing within that bound; the last status ever heard, if any.
    Silent(Option<(BridgeStatus, Instant)>),
}
