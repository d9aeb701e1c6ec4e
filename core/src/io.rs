//! What goes into the engine ([`Input`]) and what comes out ([`Action`], [`Event`]).
//!
//! Every action the daemon carries out over time carries the end of its window
//! (`deadline`), counted from the `now` the engine was given: the probes (rule
//! `attempt-window`) and the side effects with a bound alike. The daemon runs each
//! until that instant and reads no timing from its config.

use core::time::Duration;

use crate::time::Instant;
use crate::types::{
    AttemptId, BridgeStatus, LocalDbSample, MaintenanceWindow, OwnState, PathId, PeerDbReading,
    PeerState, PersistedState, ProbeOutcome, Published, PublishedEpoch, Role, SerialDownCause,
    TakeoverRefusal, TakeoverVerdict,
};

/// Something the daemon observed. Every action that expects an answer gets exactly one
/// of these back (see each [`Action`] variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Answer to [`Action::Probe`] for icmp or gateway.
    ProbeDone {
        /// The probed path.
        path: PathId,
        /// The attempt from the action.
        attempt: AttemptId,
        /// What happened.
        outcome: ProbeOutcome,
    },
    /// Answer to [`Action::Probe`] for local_db: `None` on a connection error/timeout.
    LocalDb {
        /// The attempt from the action.
        attempt: AttemptId,
        /// What the check found.
        sample: Option<LocalDbSample>,
    },
    /// Answer to [`Action::Probe`] for remote_db.
    RemoteDb {
        /// The attempt from the action.
        attempt: AttemptId,
        /// Whether the peer's PostgreSQL answered (a connect probe that got an answer
        /// counts, as for `pg_isready`).
        outcome: ProbeOutcome,
        /// What the query read of it (role, published term, timeline); `None` when
        /// only a connect probe answered.
        reading: Option<PeerDbReading>,
    },
    /// An `Ack` frame answering our ping `seq` (from [`Action::SendPing`]).
    AckReceived {
        /// Sequence number echoed by the peer.
        seq: u32,
        /// The peer's state carried in the frame.
        peer: PeerState,
    },
    /// A `Ping` frame from the peer; the engine answers with [`Action::SendAck`].
    PingReceived {
        /// The peer's sequence number.
        seq: u32,
        /// The sequence number of the last ping the peer received from us, if its
        /// frame carries one (rule `hold-needs-evidence`).
        echoed: Option<u32>,
        /// The peer's state carried in the frame.
        peer: PeerState,
    },
    /// The serial device is missing or failed; the serial attempt in flight fails.
    SerialDeviceMissing,
    /// A `BridgeStatus` frame from the serial bridge.
    BridgeStatus(BridgeStatus),
    /// Answer to [`Action::VipArpProbe`].
    VipArpProbe {
        /// The attempt from the action.
        attempt: AttemptId,
        /// Somebody answered ARP for the VIP.
        answered: bool,
    },
    /// [`Action::Persist`] succeeded (write + fsync) for this state.
    Persisted(PersistedState),
    /// [`Action::Persist`] failed for this state.
    PersistFailed(PersistedState),
    /// [`Action::Promote`] done and the DB confirmed out of recovery.
    Promoted,
    /// [`Action::Promote`] could not confirm the DB out of recovery by its deadline.
    PromoteFailed {
        /// `pg_promote` was sent: the promotion cannot be taken back and may still
        /// complete (rule `promotion-order`).
        requested: bool,
    },
    /// [`Action::TakeVip`] done (address added, gratuitous ARP sent).
    VipTaken,
    /// [`Action::TakeVip`] failed.
    VipFailed,
    /// [`Action::ReleaseVip`] done (or the VIP was not held).
    VipReleased,
    /// [`Action::ReleaseVip`] failed.
    VipReleaseFailed,
    /// [`Action::RestartDb`] done.
    DbRestarted,
    /// [`Action::RestartDb`] failed.
    DbRestartFailed,
    /// [`Action::StopDb`] done and the postmaster confirmed gone.
    DbStopped,
    /// The local postmaster exited (the daemon watches its PID). A fact, not a slow
    /// answer: rule `local-db-restart-once` needs no retries to believe it. With
    /// `restart_after_crash = off` this is how a crashed backend shows.
    PostmasterExited,
    /// [`Action::StopDb`] could not confirm the postmaster gone.
    DbStopFailed,
    /// [`Action::Demote`] done: PostgreSQL is shut down cleanly, its shutdown
    /// checkpoint at `lsn` (rule `planned-switchover`).
    Demoted {
        /// The shutdown checkpoint's location, from `pg_controldata`.
        lsn: u64,
    },
    /// [`Action::Demote`] failed: PostgreSQL may still run, or stopped without a clean
    /// shutdown (no final LSN to hand over at).
    DemoteFailed,
    /// [`Action::EnsureSlot`] for this term: the slot is there and in use.
    SlotEnsured {
        /// The term from the action.
        term: u64,
    },
    /// [`Action::EnsureSlot`] for this term failed (the peer unreachable, no
    /// privilege): the standby asks again after `SLOT_RETRY`.
    SlotNotEnsured {
        /// The term from the action.
        term: u64,
    },
    /// [`Action::SetSyncStandby`] done: `synchronous_standby_names` reads back as
    /// asked (rule `sync-epoch`).
    SyncStandbySet {
        /// The value from the action.
        synchronous: bool,
    },
    /// [`Action::SetSyncStandby`] failed: the names may be either way.
    SyncStandbyNotSet {
        /// The value from the action.
        synchronous: bool,
    },
    /// [`Action::RunFenceAction`] finished (whatever its outcome).
    FenceActionDone,
    /// [`Action::Rejoin`] done: PostgreSQL streams from the peer.
    Rejoined,
    /// [`Action::Rejoin`] failed; PostgreSQL is stopped.
    RejoinFailed,
}

/// Something the engine wants the daemon to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run one probe on `path`, bounded by `deadline`; answer with
    /// [`Input::ProbeDone`] (or [`Input::LocalDb`] for local_db). Never asked for the
    /// serial path: its attempts are [`Action::SendPing`]. `fresh`: a pre-promotion
    /// check, which must not use cached samples.
    Probe {
        /// Which path.
        path: PathId,
        /// Echo this in the answer.
        attempt: AttemptId,
        /// End of the attempt's window (rule `attempt-window`): the `now` the engine
        /// was given plus the path's timeout. An answer after it is ignored, so the
        /// probe may give up then.
        deadline: Instant,
        /// Pre-promotion fresh check (rule `fresh-checks`).
        fresh: bool,
    },
    /// Send a `Ping` frame; the peer's `Ack` comes back as [`Input::AckReceived`].
    SendPing {
        /// Sequence number to put in the frame.
        seq: u32,
        /// The last ping sequence number heard from the peer, to echo in the frame.
        echo: Option<u32>,
        /// Our state, to put in the frame.
        state: OwnState,
    },
    /// Send an `Ack` frame answering the peer's ping `seq`. No answer expected.
    SendAck {
        /// The peer's sequence number.
        seq: u32,
        /// Our state, to put in the frame.
        state: OwnState,
    },
    /// Probe ARP for the VIP (a few probes tens of ms apart, listening until
    /// `deadline`); answer with [`Input::VipArpProbe`]. A pre-promotion fresh check
    /// (rule `fresh-checks`).
    VipArpProbe {
        /// Echo this in the answer.
        attempt: AttemptId,
        /// End of the probe's window: the `now` the engine was given plus
        /// `arp_probe_timeout`. The probes and the listening after them fit inside it.
        deadline: Instant,
    },
    /// Restart the local DB, bounded by `deadline`; answer [`Input::DbRestarted`] /
    /// [`Input::DbRestartFailed`].
    RestartDb {
        /// Lift the start guard for this one start and arm it again after, whatever
        /// the result (rule `start-guard`): set when a primary orders the restart, so
        /// its DB comes back writable; otherwise the guard (or a standby's own
        /// `standby.signal`) stays and the DB comes back read-only.
        lift_guard: bool,
        /// End of the restart's window (it waits for the server to accept
        /// connections): the `now` the engine was given plus
        /// [`Config::restart_window`](crate::Config::restart_window).
        deadline: Instant,
    },
    /// Stop the local DB and confirm the postmaster exited; answer
    /// [`Input::DbStopped`] / [`Input::DbStopFailed`].
    StopDb {
        /// End of the stop request's grace: the `now` the engine was given plus
        /// [`STOP_GRACE`](crate::STOP_GRACE). A postmaster still alive then is
        /// SIGKILLed.
        kill_at: Instant,
        /// End of the stop's window: `kill_at` plus [`KILL_GRACE`](crate::KILL_GRACE).
        /// A postmaster still alive then is a failed stop.
        deadline: Instant,
    },
    /// Publish `term` where the peer's remote DB path reads it (`twinbeat.term`,
    /// read back), then `pg_promote` and confirm out of recovery, bounded by
    /// `deadline`; answer [`Input::Promoted`] / [`Input::PromoteFailed`]. A server
    /// already out of recovery is promoted: publish the term and answer `Promoted`.
    Promote {
        /// The term to publish before `pg_promote`.
        term: u64,
        /// Rule `sync-epoch`: after `pg_promote`, name the peer in
        /// `synchronous_standby_names` (`Some(true)`) or clear it (`Some(false)`),
        /// reload and read back, before answering; `None`: leave it alone.
        synchronous: Option<bool>,
        /// End of the connection's window: the `now` the engine was given plus
        /// [`Config::promote_connect_window`](crate::Config::promote_connect_window)
        /// (a local DB check's window).
        connect_by: Instant,
        /// End of the promotion's window (connect, request, end of recovery): the
        /// `now` the engine was given plus [`PROMOTE_WINDOW`](crate::PROMOTE_WINDOW).
        deadline: Instant,
    },
    /// Add the VIP and send gratuitous ARP; answer [`Input::VipTaken`] / [`Input::VipFailed`].
    TakeVip,
    /// Arm the start guard (rule `start-guard`): make an unordered start of the local
    /// PostgreSQL come up read-only (`standby.signal` in its data directory, fsynced).
    /// Asked whenever the node becomes primary. No answer expected: a failure is the
    /// daemon's warning (only an unordered start would then come up writable).
    ArmStartGuard,
    /// Remove the VIP (fine if not held); answer [`Input::VipReleased`] /
    /// [`Input::VipReleaseFailed`].
    ReleaseVip,
    /// Persist this state atomically (write, fsync, rename); answer
    /// [`Input::Persisted`] / [`Input::PersistFailed`] with the same state.
    Persist(PersistedState),
    /// Run the configured `fence.action`, bounded by `deadline`; answer
    /// [`Input::FenceActionDone`].
    RunFenceAction {
        /// End of the action's window: the `now` the engine was given plus
        /// [`FENCE_ACTION_WINDOW`](crate::FENCE_ACTION_WINDOW).
        deadline: Instant,
    },
    /// Drop whatever serial input is queued (rule `pause-is-a-restart`: frames that
    /// waited out a pause are no evidence). No answer expected.
    FlushSerialInput,
    /// Publish this handover stage in the local PostgreSQL (`twinbeat.handover`), or
    /// clear it (`None`), where the peer's remote DB path reads it (rule
    /// `fence-handshake`, over the DB path while serial is down); read back. No answer
    /// expected: the peer's readings show whether it arrived, and a failure is the
    /// daemon's warning. Asked once at start with `None`, so nothing an earlier run
    /// left there is read as current.
    PublishHandover(Option<Published>),
    /// Rule `sync-epoch`, on a primary: publish its epoch in the local PostgreSQL
    /// (`twinbeat.sync_epoch`), where the standby's remote DB path reads it; read back.
    /// No answer expected: only the standby's acknowledgement counts, and without one
    /// the primary waits for every claim to expire.
    PublishSyncEpoch(PublishedEpoch),
    /// Rule `sync-epoch`, on a standby: publish in the local PostgreSQL
    /// (`twinbeat.sync_ack`) that it read this asynchronous epoch and holds no claim
    /// against anything before it, where the primary's remote DB path reads it; read
    /// back. No answer expected.
    PublishSyncAck(PublishedEpoch),
    /// Persist this node's operator pause (rule `maintenance-pause`) with its end on
    /// the wall clock, or remove it (`None`), so a restart keeps it. No answer expected:
    /// a failure is the daemon's warning.
    PersistMaintenance(Option<MaintenanceWindow>),
    /// Make the fenced local PostgreSQL a streaming standby of the peer, which is
    /// primary in `term` (rule `rejoin-after-fence`): save what the old timeline held
    /// past the fork, `pg_rewind` (or, with `reclone` or when the rewind fails,
    /// `pg_basebackup`) from the peer's own address, start PostgreSQL and wait until it
    /// streams, all by `deadline`; answer [`Input::Rejoined`] / [`Input::RejoinFailed`].
    /// A failure leaves PostgreSQL stopped.
    Rejoin {
        /// The peer's term: the node is its standby in it once rejoined.
        term: u64,
        /// Rebuild with `pg_basebackup` instead of rewinding.
        reclone: bool,
        /// End of the rejoin's window: the `now` the engine was given plus
        /// `Config::rejoin_timeout`.
        deadline: Instant,
    },
    /// Rule `planned-switchover`: the master's handover of its PostgreSQL. Run a
    /// `CHECKPOINT` (so the shutdown's own is short), stop PostgreSQL in fast mode
    /// through the service manager (the start guard stays armed: a start nobody
    /// ordered comes up read-only), and read the control file: the cluster must say
    /// "shut down", and its latest checkpoint location is the final LSN. A server
    /// already stopped cleanly is only read (a restart in `demoting`). A server in
    /// recovery is stopped too, and answers `DemoteFailed` (no final LSN: it is not a
    /// primary's shutdown). All by `deadline`; answer [`Input::Demoted`] /
    /// [`Input::DemoteFailed`].
    Demote {
        /// End of the action's window: the `now` the engine was given plus
        /// `Config::switchover_timeout`.
        deadline: Instant,
    },
    /// Rule `standby-slot`: make sure this standby streams through a physical slot
    /// named after it on the primary of `term`: create it there unless it exists
    /// (reserving WAL at once), set `primary_slot_name` here (`ALTER SYSTEM`, reload)
    /// unless already so. By `deadline`; answer [`Input::SlotEnsured`] /
    /// [`Input::SlotNotEnsured`].
    EnsureSlot {
        /// The term of the primary the slot is on.
        term: u64,
        /// End of the action's window.
        deadline: Instant,
    },
    /// Rule `sync-epoch`: name the peer in `synchronous_standby_names` (`true`: every
    /// commit waits for it) or clear it, reload, and read it back, on a connection
    /// held open for it (clients waiting on the standby can use up `max_connections`).
    /// By `deadline`; answer [`Input::SyncStandbySet`] / [`Input::SyncStandbyNotSet`].
    SetSyncStandby {
        /// Name the peer, or clear the names.
        synchronous: bool,
        /// End of the action's window.
        deadline: Instant,
    },
    /// Log this event (and count it in metrics). No answer expected.
    Log(Event),
}

/// How bad an alarm is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Degraded but safe.
    Warning,
    /// Needs an operator, or failover is impossible.
    Critical,
}

/// Why something was decided or alarmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// All three peer paths went down within `failure_window` (rule
    /// `all-paths-down-together`).
    AllPathsDownTogether,
    /// All three peer paths down, one long before the others, and
    /// `promote_when_degraded` is set (rule `all-paths-down-together`).
    AllPathsDownDegraded,
    /// A peer path had been down long before the others: promotion disarmed (rule
    /// `all-paths-down-together`).
    DegradedPair,
    /// The peer's state says fenced (rule `fenced-peer-hands-over`).
    PeerFenced,
    /// `startup_grace` pending and the master never heard (rule `startup-grace`).
    StartupGrace,
    /// Local DB unhealthy (a fresh check, or rule `local-db-restart-once`).
    LocalDbUnhealthy,
    /// Local DB not in recovery where a replica was expected.
    LocalDbNotInRecovery,
    /// Local DB stopped by rule `local-db-restart-once`.
    LocalDbStopped,
    /// Own gateway down.
    GatewayDown,
    /// This standby's received WAL is further behind the primary's than
    /// `max_lag_on_failover`: it could not take over (replication stopped?).
    NotStreaming,
    /// Replication lag over `max_lag_on_failover`.
    LagTooHigh {
        /// Lag in bytes.
        lag: u64,
    },
    /// Somebody answered ARP for the VIP.
    VipAnswered,
    /// A fresh check got no answer in time.
    FreshCheckTimeout,
    /// Own DB unrecoverable after a restart (rule `fence-when-standby-can-take-over`).
    OwnDbUnrecoverable,
    /// Own gateway down (rule `fence-when-standby-can-take-over`).
    OwnGatewayDown,
    /// The peer's gateway is down too: a shared outage (rule
    /// `fence-when-standby-can-take-over`).
    SharedGatewayOutage,
    /// The peer's DB is unhealthy, so it cannot take over (rule
    /// `fence-when-standby-can-take-over`).
    PeerDbUnhealthy,
    /// The peer is not a standby that could take over (rule
    /// `fence-when-standby-can-take-over`).
    PeerNotStandby,
    /// The peer's state is older than `peer_state_max_age` (rule
    /// `fence-when-standby-can-take-over`).
    PeerStateStale,
    /// The peer is primary in a higher term, or wins the tie on node id (rules
    /// `higher-term-wins`, `hold-needs-evidence`).
    PeerWins,
    /// The peer was heard and does not win (rule `hold-needs-evidence`).
    PeerHeard,
    /// The peer's PostgreSQL answered on the remote DB path before `pg_promote`: the
    /// promotion is aborted (rule `promotion-order`).
    PeerDbAnswered,
    /// Nothing heard from the peer within `startup_grace`: the node holds until
    /// evidence arrives or an operator releases it (rule `hold-needs-evidence`); or a
    /// master finds no standby to hand over to (rule
    /// `fence-when-standby-can-take-over`).
    PeerNotHeard,
    /// The peer's PostgreSQL, read over the remote DB path, is a replica that has not
    /// taken over (rule `hold-needs-evidence`).
    PeerDbInRecovery,
    /// The peer's PostgreSQL is in recovery but published a higher term, or is on a
    /// later or unknown timeline: no evidence either way yet (rule
    /// `hold-needs-evidence`).
    PeerDbAhead,
    /// The peer's PostgreSQL is writable in no higher term (or none published): two
    /// writable databases, and no rule may settle it alone (rules `higher-term-wins`,
    /// `human-promoted-standby`).
    SecondWritablePeer,
    /// The peer is a standby whose PostgreSQL was promoted by hand (rule
    /// `human-promoted-standby`).
    PeerHumanPromoted,
    /// This node is a standby whose PostgreSQL left recovery without the daemon (rule
    /// `human-promoted-standby`).
    LocalDbPromotedByHand,
    /// An operator released the hold (`twinbeat resume --force-primary`).
    OperatorRelease,
    /// `pg_promote` was sent and PostgreSQL has not left recovery yet: the node stays
    /// promoting and keeps confirming (rule `promotion-order`).
    PromotionPending,
    /// Peer paths are up but no frame carries its state: holding (rule
    /// `hold-needs-evidence`).
    PeerAliveButSilent,
    /// Started from the persisted state (rule `hold-needs-evidence`).
    Restarted,
    /// This node's timers fired far too late (rule `pause-is-a-restart`).
    Paused,
    /// A persist failed.
    PersistFailed,
    /// `pg_promote` failed.
    PromoteFailed,
    /// Taking the VIP failed.
    VipFailed,
    /// Releasing the VIP failed.
    VipReleaseFailed,
    /// Stopping the DB could not be confirmed.
    DbStopFailed,
    /// Restarting the DB failed.
    DbRestartFailed,
    /// The serial device is missing.
    SerialDeviceMissing,
    /// The standby answered "take over?" with no (rule `fence-handshake`).
    TakeoverRefused(TakeoverRefusal),
    /// The standby did not answer "take over?" in time (rule `fence-handshake`).
    TakeoverNotAnswered,
    /// The master published that it is fencing, this standby armed, and the master's
    /// PostgreSQL is gone (rule `fence-handshake` over the remote DB path).
    PeerFencing,
    /// A frame carried this node's own id: the serial line echoes our frames (a
    /// loopback plug, a half-duplex line) or both nodes have the same `node_id` (rule
    /// `own-frames-dropped`).
    OwnNodeIdHeard,
    /// The operator asked this fenced node to rejoin (rule `rejoin-after-fence`).
    OperatorRejoin,
    /// `auto_rejoin`: the fence was for a lost gateway or a lost term, and the peer is
    /// primary in a higher term (rule `rejoin-after-fence`).
    AutoRejoin,
    /// A rejoin was under way when the daemon stopped: it is taken up again (rule
    /// `rejoin-after-fence`).
    RejoinInterrupted,
    /// The rejoin failed; the node stays fenced with PostgreSQL stopped.
    RejoinFailed,
    /// An operator paused the pair on this node (rule `maintenance-pause`).
    OperatorPause,
    /// The peer's frames carry a pause (rule `maintenance-pause`).
    PeerPause,
    /// An operator ended the pause on this node.
    OperatorUnpause,
    /// The peer carried the pause and no longer does: it ended there.
    PeerUnpause,
    /// The pause's `--for` ran out.
    MaintenanceEnded,
    /// A primary's PostgreSQL came back read-only (the start guard) during a pause: an
    /// operator restarted it (rule `maintenance-pause`).
    ReadOnlyInMaintenance,
    /// An operator asked this node for a planned switchover (rule
    /// `planned-switchover`).
    OperatorSwitchover,
    /// The standby's frames carry its operator's request for a switchover (rule
    /// `planned-switchover`).
    PeerRequestedSwitchover,
    /// The master stopped for a switchover and this standby has replayed past its
    /// final LSN (rule `planned-switchover`).
    Switchover,
    /// The standby did not take over within `switchover_timeout`: the master withdrew
    /// the switchover and re-opens its PostgreSQL on the standby's fresh word (rule
    /// `planned-switchover`).
    SwitchoverTimedOut,
    /// The master's PostgreSQL could not be stopped cleanly with a final LSN (rule
    /// `planned-switchover`): the switchover is withdrawn.
    DemoteFailed,
    /// The master withdrew the switchover it offered (its frames no longer carry the
    /// final LSN) before this standby's `pg_promote` (rule `planned-switchover`).
    SwitchoverWithdrawn,
    /// The standby has not replayed the master's final LSN yet (rule
    /// `planned-switchover`).
    ReplayBehind {
        /// Bytes still to replay up to the final LSN.
        behind: u64,
    },
    /// A switchover the standby's frames asked for was refused by the master's checks
    /// (rule `planned-switchover`).
    SwitchoverRefused(SwitchoverRefused),
    /// The standby's replication slot could not be made sure of (rule
    /// `standby-slot`).
    SlotNotEnsured,
    /// The standby is gone (every peer path down, or not streaming for
    /// `Config::sync_away_bound`): in `sync` the primary degrades to asynchronous, in
    /// `strict` commits wait for it (rule `sync-epoch`).
    SyncStandbyAway,
    /// The primary stopped waiting for its standby: commits are asynchronous until it
    /// streams again (rule `sync-epoch`).
    SyncDegraded,
    /// `synchronous_standby_names` could not be set and read back (rule `sync-epoch`).
    SyncStandbyNotSet,
    /// The peer's settings that must match this node's differ (rule `pair-agrees`):
    /// its paths' timings, failure window, replication mode, VIP or cluster.
    PeerConfigDiffers,
    /// `strict`: this standby holds no unexpired synchronous claim, so its primary may
    /// have acknowledged commits it lacks; it does not promote by itself (rule
    /// `sync-epoch`).
    NoSyncClaim,
}

/// The kind of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    /// Promotion started.
    Promote,
    /// Promotion wanted but refused (the reason says why).
    NoPromotion,
    /// Fence started.
    Fence,
    /// Fence wanted but refused (the reason says why).
    NoFence,
    /// Entered hold.
    Hold,
    /// Left hold to serve again.
    Resume,
    /// Became (or stayed) standby.
    Standby,
    /// Restarted the local DB.
    RestartDb,
    /// Stopped the local DB.
    StopDb,
    /// Began rejoining the peer as its standby (rule `rejoin-after-fence`).
    Rejoin,
    /// Held back by a maintenance pause (rule `maintenance-pause`): the reason is what
    /// would have been done.
    Maintenance,
    /// Began a planned switchover: the master demotes (rule `planned-switchover`).
    Switchover,
    /// A switchover was asked for and refused, or withdrawn (the reason says why).
    NoSwitchover,
}

/// A decision and its reason, as shown on the status page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// What was decided.
    pub kind: DecisionKind,
    /// Why.
    pub reason: Reason,
    /// When.
    pub at: Instant,
}

/// An event to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A path went down.
    PathDown(PathId),
    /// A path came up.
    PathUp(PathId),
    /// Some peer paths are down but not all: no promotion (rule `partial-loss-only-warns`).
    Degraded {
        /// Number of peer paths down.
        paths_down: u8,
    },
    /// Automatic promotion disarmed (rule `all-paths-down-together`).
    Disarmed(Reason),
    /// Automatic promotion armed again (every peer path up).
    Rearmed,
    /// A decision (also kept in `last_decision()`).
    Decision(Decision),
    /// An alarm.
    Alarm {
        /// Severity.
        severity: Severity,
        /// Cause.
        reason: Reason,
    },
    /// The role changed.
    RoleChanged {
        /// Previous role.
        from: Role,
        /// New role.
        to: Role,
    },
    /// The bridge's verdict on the serial path changed (`None`: it no longer says down).
    BridgeVerdict(Option<SerialDownCause>),
    /// The engine was called far later than due (rule `pause-is-a-restart`).
    PauseDetected {
        /// Gap since the previous call.
        gap: Duration,
    },
    /// The master asks the standby to take over at `lsn` (rule `fence-handshake`).
    TakeoverAsked {
        /// The master's WAL position.
        lsn: u64,
    },
    /// An answer to "take over at `lsn`?": given by this standby, or received by this
    /// master (rule `fence-handshake`).
    TakeoverAnswered {
        /// The position the question named.
        lsn: u64,
        /// The answer.
        verdict: TakeoverVerdict,
    },
    /// A maintenance pause began or ended on this node (rule `maintenance-pause`).
    Maintenance {
        /// It began (`true`) or ended.
        paused: bool,
        /// Who or what began or ended it.
        reason: Reason,
    },
}

/// Why [`Engine::release_hold`](crate::Engine::release_hold) refused an operator's
/// release (rule `hold-needs-evidence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseRefused {
    /// The node is not holding: it is in this role.
    NotHolding(Role),
    /// The node is leaving hold already (re-opening its DB or taking the VIP).
    Busy,
    /// The peer was heard since the hold began: the rules judge it, not the operator.
    PeerHeard,
    /// `startup_grace` has not passed yet: evidence may still come.
    GraceRunning,
}

/// Why [`Engine::unpause`](crate::Engine::unpause) refused (rule `maintenance-pause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpauseRefused {
    /// The node is not paused.
    NotPaused,
}

impl core::fmt::Display for UnpauseRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UnpauseRefused::NotPaused => f.write_str("the pair is not paused on this node"),
        }
    }
}

/// Why [`Engine::request_switchover`](crate::Engine::request_switchover) refused
/// (rule `planned-switchover`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchoverRefused {
    /// Only the primary or its standby switches over: the node is in this role.
    WrongRole(Role),
    /// A promotion, fence, handover question, rejoin or switchover is under way.
    Busy,
    /// The pair is paused for maintenance (rule `maintenance-pause`).
    Paused,
    /// Serial is down, or no frame from the peer within `peer_state_max_age`: the
    /// final LSN travels over serial.
    SerialDown,
    /// Another peer path is down: the pair is degraded.
    Degraded(PathId),
    /// The peer is not the standby of this node's term (or this node is not its
    /// master's standby): it is in this role, in this term.
    PeerNotPartner {
        /// The peer's role.
        role: Role,
        /// The peer's term.
        term: u64,
    },
    /// The standby's PostgreSQL is not healthy, or not a replica.
    StandbyNotReady,
    /// The standby's received WAL is further behind than `max_lag_on_failover`: not
    /// streaming, or lagging.
    Lagging {
        /// Lag in bytes.
        lag: u64,
    },
    /// This node's own PostgreSQL or gateway is not healthy.
    Unhealthy,
}

impl core::fmt::Display for SwitchoverRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SwitchoverRefused::WrongRole(role) => write!(
                f,
                "only the primary or its standby switches over; this node is {}",
                role.name()
            ),
            SwitchoverRefused::Busy => f.write_str(
                "a promotion, fence, handover, rejoin or switchover is already under way",
            ),
            SwitchoverRefused::Paused => f.write_str("the pair is paused for maintenance"),
            SwitchoverRefused::SerialDown => f.write_str(
                "the serial path is down or the peer's last frame is too old; the final LSN travels over serial",
            ),
            SwitchoverRefused::Degraded(path) => {
                write!(f, "the pair is degraded: the {} path is down", path.name())
            }
            SwitchoverRefused::PeerNotPartner { role, term } => write!(
                f,
                "the peer is {} in term {term}, not this pair's other half in this node's term",
                role.name()
            ),
            SwitchoverRefused::StandbyNotReady => {
                f.write_str("the standby's PostgreSQL is not a healthy replica")
            }
            SwitchoverRefused::Lagging { lag } => write!(
                f,
                "the standby is {lag} bytes behind, over max_lag_on_failover (is it streaming?)"
            ),
            SwitchoverRefused::Unhealthy => {
                f.write_str("this node's PostgreSQL or gateway is not healthy")
            }
        }
    }
}

/// Why [`Engine::request_rejoin`](crate::Engine::request_rejoin) refused (rule
/// `rejoin-after-fence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejoinRefused {
    /// Only a fenced node rejoins: the node is in this role.
    NotFenced(Role),
    /// A fence step or a rejoin is still under way.
    Busy,
    /// No fresh evidence that the peer is primary in a term above this node's: a frame
    /// from it within `peer_state_max_age`, or a reading of its PostgreSQL within one
    /// remote DB probe cycle.
    NoPrimaryPeer {
        /// This node's term.
        term: u64,
    },
}

impl core::fmt::Display for RejoinRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RejoinRefused::NotFenced(role) => write!(
                f,
                "only a fenced node rejoins; this node is {}",
                role.name()
            ),
            RejoinRefused::Busy => f.write_str("a fence step or a rejoin is still under way"),
            RejoinRefused::NoPrimaryPeer { term } => write!(
                f,
                "no fresh evidence that the peer is primary in a term above {term} (no recent frame or reading of its PostgreSQL says so)"
            ),
        }
    }
}

impl core::fmt::Display for ReleaseRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReleaseRefused::NotHolding(role) => {
                write!(f, "the node is not holding (it is {})", role.name())
            }
            ReleaseRefused::Busy => f.write_str("the node is already leaving its hold"),
            ReleaseRefused::PeerHeard => f.write_str(
                "the peer was heard since the hold began; the rules decide, not the operator",
            ),
            ReleaseRefused::GraceRunning => {
                f.write_str("startup_grace has not passed yet; evidence may still arrive")
            }
        }
    }
}
