//! The engine: its state and the internals the rule modules share. The driver API
//! lives in `driver`, start-up in `start`, the getters in `status` and the action
//! queue in `actions`. The rules live in the submodules: `paths` (rules
//! `attempt-window`, `path-down-after-retries`, `confirmation-cascade`), `standby`
//! (rules `partial-loss-only-warns`, `all-paths-down-together`, `fresh-checks`,
//! `fenced-peer-hands-over`, `startup-grace`, `promotion-order`), `primary` (rules
//! `fence-when-standby-can-take-over`, `fence-sequence`, `higher-term-wins`), `hold`
//! (rules `hold-needs-evidence`, `pause-is-a-restart`), `handover` (rule
//! `fence-handshake`), `peer_db` (rule
//! `remote-db-reads-role`), `local_db` (rule `local-db-restart-once`), `rejoin`
//! (rule `rejoin-after-fence`), `maintenance` (rule `maintenance-pause`) and
//! `switchover` (rule `planned-switchover`), `slot` (rule `standby-slot`) and `sync`
//! (rule `sync-epoch`).

mod actions;
mod bridge;
mod driver;
mod frames;
mod handover;
mod hold;
mod local_db;
mod maintenance;
mod paths;
mod peer_db;
mod primary;
mod rejoin;
mod slot;
mod standby;
mod start;
mod status;
mod switchover;
mod sync;
mod timers;

use core::time::Duration;

use heapless::Deque;

use crate::config::Config;
use crate::io::{Action, Decision, Event, Reason};
use crate::time::Instant;
use crate::types::{
    self, AttemptId, BridgeStatus, LocalDbSample, PathHealth, PathId, PathStatus, PeerDbReading,
    PeerView, Role,
};
pub use start::StartError;
pub use sync::SyncStatus;
use timers::{EngineTimer, Timer, TimerTable};

/// Capacity of the action queue. One call never queues more than a few dozen actions;
/// the driver must drain the queue after every call.
pub const ACTION_QUEUE: usize = 64;

/// The multi-step side-effect sequence in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Idle,
    /// Rule `promotion-order`: waiting for `Persisted(Promoting, term)`.
    PersistPromoting,
    /// Rule `promotion-order` (or a guarded primary re-opening its DB, rule
    /// `start-guard`): waiting for `Promoted`.
    AwaitPromoted,
    /// Rule `promotion-order` (or resume from hold): waiting for `VipTaken`.
    TakeVip,
    /// Waiting for `Persisted(Primary, term)`; the node already serves.
    PersistPrimary,
    /// Rule `start-guard`: a guarded re-open failed with nobody to hand over to; holding
    /// without looking for evidence until `EngineTimer::HoldRetry`.
    ReopenPause,
    /// Rule `fence-sequence`: waiting for `DbStopped`.
    StopDb,
    /// Rule `fence-sequence`: waiting for `VipReleased`.
    ReleaseVip,
    /// Rule `fence-sequence`: waiting for `Persisted(Fenced, term)`.
    PersistFenced,
    /// Rule `fence-sequence`: waiting for `FenceActionDone`.
    FenceAction,
    /// Rule `rejoin-after-fence`: waiting for `Persisted(Rejoining, term)`.
    PersistRejoining,
    /// Rule `rejoin-after-fence` (or a switchover's old master following the new
    /// primary, rule `planned-switchover`): waiting for `Rejoined` / `RejoinFailed`.
    Rejoining,
    /// Rule `planned-switchover`: waiting for `Persisted(Demoting, term)`.
    PersistDemoting,
    /// Rule `planned-switchover`: waiting for `VipReleased`.
    DemoteReleaseVip,
    /// Rule `planned-switchover`: waiting for `Demoted` / `DemoteFailed`.
    Demote,
    /// Rule `planned-switchover`: stopped at the final LSN, waiting for the standby to
    /// be primary in a higher term (or `EngineTimer::SwitchoverWait`).
    AwaitSuccessor,
    /// Rule `planned-switchover`: the switchover was withdrawn and PostgreSQL restarts
    /// read-only; the hold waits for `DbRestarted` before it looks for evidence.
    ReopenDb,
    /// Rule `sync-epoch`: a `strict` primary leaving hold waits for its standby named
    /// (`SetSyncStandby`) before it takes the VIP.
    NameStandby,
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    id: AttemptId,
    started: Instant,
    /// End of the attempt's window, as sent in its action.
    deadline: Instant,
    /// A failure was reported; the attempt still owns its window.
    failed: bool,
}

#[derive(Clone, Copy, Debug)]
struct PathSlot {
    status: PathStatus,
    attempt: Option<Attempt>,
}

const IDLE_SLOT: PathSlot = PathSlot {
    status: PathStatus {
        health: PathHealth::Unknown,
        consecutive_failures: 0,
        down_since: None,
        last_rtt: None,
    },
    attempt: None,
};

/// The sans-IO decision engine of one node. See the crate docs for the driver loop.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    failure_window: Duration,
    /// Rule `pause-is-a-restart`: the threshold while the serial path is up, and the
    /// one while it is not (`Config::pause_threshold`, `degraded_pause_threshold`).
    pause_threshold: Duration,
    degraded_pause_threshold: Duration,
    role: Role,
    term: u64,
    /// Advertised `fenced` flag: set only once the DB stop and the VIP release are confirmed.
    fenced: bool,
    step: Step,
    paths: [PathSlot; PathId::ALL.len()],
    timers: TimerTable,
    actions: Deque<Action, ACTION_QUEUE>,
    dropped_actions: u32,
    /// Frames dropped for carrying this node's own id (rule `own-frames-dropped`).
    own_frames_dropped: u32,
    /// When the last of those arrived (one warning per run of them).
    own_frame_at: Option<Instant>,
    next_id: u32,
    last_now: Instant,
    started_at: Instant,
    /// Any peer path succeeded or any frame arrived since start (rule `startup-grace`).
    heard_peer: bool,
    peer: Option<PeerView>,
    /// The last reading of the peer's PostgreSQL and when (rule `remote-db-reads-role`).
    peer_db: Option<(PeerDbReading, Instant)>,
    /// The sequence number of the last ping heard from the peer, echoed in ours.
    last_peer_ping: Option<u32>,
    peer_max_term: u64,
    bridge: Option<(BridgeStatus, Instant)>,
    /// The bridge says the serial path is down: why, and since when (see `bridge`).
    bridge_verdict: Option<(types::SerialDownCause, Instant)>,
    local: Option<LocalDbSample>,
    local_healthy: bool,
    db_stopped: bool,
    incident: Option<local_db::Incident>,
    fresh: Option<standby::Fresh>,
    hold_since: Instant,
    /// The last id allocated before the hold began: pings with later ids were sent
    /// during it (`sent_since_hold`).
    hold_first_seq: u32,
    /// A frame or a reading of the peer arrived since the hold began.
    hold_heard_peer: bool,
    /// `startup_grace` passed in hold without evidence: waiting for it or the operator.
    hold_waiting: bool,
    /// A restarted primary holds with the VIP still on its interface, until evidence
    /// or `EngineTimer::HoldVip` (rule `hold-needs-evidence`).
    hold_keeps_vip: bool,
    /// Leaving hold needs positive evidence: the node has a persisted state or has
    /// served (rule `hold-needs-evidence`); only a first start may resume unheard.
    hold_needs_evidence: bool,
    /// This node claims the primary position in `term` (persisted primary, or serving):
    /// a read-only DB when it leaves hold is the start guard's doing (the daemon keeps
    /// `standby.signal` in a running primary's data directory, so an unordered start
    /// comes up in recovery), and leaving hold re-opens it instead of following.
    guarded_primary: bool,
    /// A guarded primary's `Promote` in its own term is in flight (rule `start-guard`).
    reopening: bool,
    /// The fence action (poweroff) was asked for a stop that could not be confirmed.
    poweroff_asked: bool,
    /// The standby warned that it is too far behind to take over (`watch_streaming`).
    lag_warned: bool,
    /// The master's question "take over?" (rule `fence-handshake`).
    asking: Option<handover::Asking>,
    /// The standby's answer to the master's question (rule `fence-handshake`).
    answer: Option<handover::Answer>,
    /// `pg_promote` was sent for the promotion in progress: it is never abandoned
    /// (rule `promotion-order`).
    promote_sent: bool,
    /// `StartFacts::db_in_recovery`: what the DB is taken to be until it is sampled.
    start_in_recovery: bool,
    /// Whether the fence action runs after the fence (not when re-fencing at start).
    run_fence_action: bool,
    gateway_settled: bool,
    pending_retry: Option<Action>,
    last_decision: Option<Decision>,
    disarm_alarmed: bool,
    degraded_logged: u8,
    alarm_latch: Option<Reason>,
    /// Failed VIP adds in a row (the retry backs off; one alarm per incident).
    vip_failures: u32,
    /// Why the node last began to fence: `auto_rejoin` follows only a lost gateway or
    /// a lost term (rule `rejoin-after-fence`).
    fence_reason: Option<Reason>,
    /// The rejoin under way (rule `rejoin-after-fence`).
    rejoin: Option<rejoin::Rejoin>,
    /// The node started with `rejoining` persisted: the rejoin is taken up again once
    /// the evidence is there.
    rejoin_interrupted: bool,
    /// Automatic rejoins tried since the fence.
    auto_rejoins: u32,
    /// The maintenance pause in effect (rule `maintenance-pause`).
    maintenance: Option<maintenance::Pause>,
    /// The pause ended here: the peer's frames that still carry it are its echo, until
    /// one without it arrives.
    unpause_latch: bool,
    /// The master's switchover under way (rule `planned-switchover`).
    switchover: Option<switchover::Demotion>,
    /// The standby's operator asked for a switchover: its frames carry the request
    /// until then (rule `planned-switchover`).
    switchover_request: Option<Instant>,
    /// The term whose primary has this standby's slot, confirmed (rule
    /// `standby-slot`).
    slot_term: Option<u64>,
    /// `Action::EnsureSlot` is out.
    slot_in_flight: bool,
    /// The primary's side of rule `sync-epoch`.
    sync: sync::SyncPrimary,
    /// Rule `sync-epoch`: the last epoch this standby heard from its primary, and when
    /// (for a synchronous one: when the ping its ack answered was sent).
    sync_heard: Option<(types::SyncEpoch, Instant)>,
    /// Rule `sync-epoch`: the asynchronous epoch this standby last published its
    /// acknowledgement of in its PostgreSQL.
    sync_ack_published: Option<types::PublishedEpoch>,
    /// This run's [`StartFacts::run_id`](types::StartFacts::run_id).
    run_id: u64,
    /// Rule `pair-agrees`: the fingerprint the peer's frames last carried.
    peer_fingerprint: Option<u32>,
    /// The ping whose ack is being handled, and when it was sent (see `on_ack`).
    acked_ping: Option<(u32, Instant)>,
    /// Rule `sync-epoch`: this standby answered "ready" to a handover with a claim, in
    /// this term.
    sync_ready_term: Option<u64>,
}

impl Engine {
    // ---- internals shared by the rule modules ----

    fn new_id(&mut self) -> AttemptId {
        self.next_id = self.next_id.wrapping_add(1);
        AttemptId(self.next_id)
    }

    fn set_role(&mut self, now: Instant, role: Role) {
        if matches!(role, Role::Promoting | Role::Primary) {
            self.hold_needs_evidence = true;
        }
        if self.role == Role::Primary && role != Role::Primary {
            self.handover_left_primary(role);
        }
        if self.role == Role::Standby && role != Role::Standby {
            self.handover_left_standby();
        }
        if role == Role::Primary && self.role != Role::Primary {
            // Rule `sync-epoch`: a new primary announces asynchronous until its own
            // PostgreSQL says the standby is synchronous.
            let last_degraded = self.sync.last_degraded;
            self.sync = sync::SyncPrimary::new(now);
            self.sync.last_degraded = last_degraded;
        }
        if !matches!(role, Role::Standby | Role::Promoting) {
            // Kept while promoting: the claim it promoted on stays visible.
            self.sync_heard = None;
        }
        if role == Role::Primary && self.role != Role::Primary {
            // Rule `start-guard`: every way into Primary (a promotion's VIP taken, a
            // resume from hold) arms it, so an unordered start comes up read-only.
            self.push(Action::ArmStartGuard);
        }
        if self.role != role {
            self.log(Event::RoleChanged {
                from: self.role,
                to: role,
            });
            self.role = role;
        }
        self.sync_paths(now);
    }

    /// The peer's state from a frame at most `peer_state_max_age` old: what the rules
    /// that need the peer's current word (a rejoin, a switchover, the standby's slot)
    /// go by.
    fn fresh_peer(&self, now: Instant) -> Option<types::PeerState> {
        self.peer
            .filter(|v| now.saturating_duration_since(v.heard_at) <= self.cfg.peer_state_max_age)
            .map(|v| v.state)
    }

    /// Changes the side-effect step; a pending retry belongs to the old step.
    fn set_step(&mut self, step: Step) {
        self.step = step;
        self.pending_retry = None;
        self.clear_timer(EngineTimer::Retry);
    }

    /// Retries `action` after `delay` (one pending retry at a time); an effect with a
    /// window gets a new one when it is retried.
    fn retry_later(&mut self, now: Instant, action: Action, delay: Duration) {
        self.pending_retry = Some(action);
        self.set_timer(EngineTimer::Retry, now + delay);
    }
}
