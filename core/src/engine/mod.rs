//! The engine: state, the driver API and the getters. The rules live in the submodules:
//! `paths` (attempts and the cascade), `standby` (rules 3–7, 10), `primary` (rules 8, 9,
//! 11), `hold` (rules 12, 13) and `local_db` (rule 2).

mod bridge;
mod frames;
mod hold;
mod local_db;
mod paths;
mod primary;
mod standby;
mod timers;

use core::time::Duration;

use heapless::Deque;

use crate::config::{Config, ConfigError, RolePin};
use crate::io::{Action, Decision, DecisionKind, Event, Input, Reason, Severity};
use crate::time::Instant;
use crate::types::{
    self, AttemptId, BridgeStatus, LocalDbSample, NodeState, OwnState, PathHealth, PathId,
    PathStatus, PeerView, PersistedRole, PersistedState, Role, StartFacts,
};
use hold::start_role;
use timers::{Timer, TIMERS};

/// Capacity of the action queue. One call never queues more than a few dozen actions;
/// the driver must drain the queue after every call.
pub const ACTION_QUEUE: usize = 64;

/// Why the engine refused to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// `role` pins a role that PostgreSQL and the persisted state contradict (rule 12).
    RolePinMismatch {
        /// The pinned role.
        pinned: RolePin,
        /// The role the start facts give.
        found: Role,
    },
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid config: {e}"),
            StartError::RolePinMismatch { pinned, found } => write!(
                f,
                "role is pinned to {pinned:?} but PostgreSQL and the persisted state say {found:?}"
            ),
        }
    }
}

#[cfg(feature = "std")]
extern crate std;
#[cfg(feature = "std")]
impl std::error::Error for StartError {}

/// The multi-step side-effect sequence in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Idle,
    /// Rule 10: waiting for `Persisted(Promoting, term)`.
    PersistPromoting,
    /// Rule 10 (or a guarded primary re-opening its DB, rule 12): waiting for `Promoted`.
    AwaitPromoted,
    /// Rule 10 (or resume from hold): waiting for `VipTaken`.
    TakeVip,
    /// Waiting for `Persisted(Primary, term)`; the node already serves.
    PersistPrimary,
    /// Rule 9: waiting for `DbStopped`.
    StopDb,
    /// Rule 9: waiting for `VipReleased`.
    ReleaseVip,
    /// Rule 9: waiting for `Persisted(Fenced, term)`.
    PersistFenced,
    /// Rule 9: waiting for `FenceActionDone`.
    FenceAction,
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    id: AttemptId,
    started: Instant,
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
    pause_threshold: Duration,
    role: Role,
    term: u64,
    /// Advertised `fenced` flag: set only once the DB stop and the VIP release are confirmed.
    fenced: bool,
    step: Step,
    paths: [PathSlot; 5],
    timers: [Option<Instant>; TIMERS],
    actions: Deque<Action, ACTION_QUEUE>,
    dropped_actions: u32,
    next_id: u32,
    last_now: Instant,
    started_at: Instant,
    /// Any peer path succeeded or any frame arrived since start (rule 7).
    heard_peer: bool,
    peer: Option<PeerView>,
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
    /// This node claims the primary position in `term` (persisted primary, or serving):
    /// a read-only DB when it leaves hold is the start guard's doing (the daemon keeps
    /// `standby.signal` in a running primary's data directory, so an unordered start
    /// comes up in recovery), and leaving hold re-opens it instead of following.
    guarded_primary: bool,
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
}

impl Engine {
    /// Builds the engine from the config, the start facts (persisted state, what
    /// PostgreSQL says) and the current time. The first actions (probes, pings) are
    /// queued at once: drain [`Engine::poll_action`] after this call.
    pub fn new(config: Config, start: StartFacts, now: Instant) -> Result<Engine, StartError> {
        config.validate().map_err(StartError::Config)?;
        let (role, term, guarded_primary) = start_role(start);
        let pin_conflict = match config.role {
            RolePin::Auto => false,
            RolePin::Master => role == Role::Standby,
            RolePin::Standby => role == Role::Hold,
        };
        if pin_conflict {
            return Err(StartError::RolePinMismatch {
                pinned: config.role,
                found: role,
            });
        }
        let mut e = Engine {
            failure_window: config.effective_failure_window(),
            pause_threshold: config.pause_threshold(),
            cfg: config,
            role: Role::Standby,
            term,
            fenced: false,
            step: Step::Idle,
            paths: [IDLE_SLOT; 5],
            timers: [None; TIMERS],
            actions: Deque::new(),
            dropped_actions: 0,
            next_id: 0,
            last_now: now,
            started_at: now,
            heard_peer: false,
            peer: None,
            peer_max_term: term,
            bridge: None,
            bridge_verdict: None,
            local: None,
            local_healthy: false,
            db_stopped: false,
            incident: None,
            fresh: None,
            hold_since: now,
            guarded_primary,
            start_in_recovery: start.db_in_recovery,
            run_fence_action: true,
            gateway_settled: false,
            pending_retry: None,
            last_decision: None,
            disarm_alarmed: false,
            degraded_logged: 0,
            alarm_latch: None,
            vip_failures: 0,
        };
        e.arm_watchdog(now);
        e.start_bridge_watch(now);
        match (role, start.persisted) {
            (Role::Fencing, _) => {
                // Fenced is sticky: confirm the DB is stopped and the VIP gone again
                // before advertising it, but do not re-run the fence action.
                e.run_fence_action = false;
                e.begin_fence(now, Reason::Restarted);
            }
            (Role::Hold, persisted) => {
                if let Some(PersistedState {
                    role: PersistedRole::Promoting,
                    term,
                }) = persisted
                {
                    // Rule 10: PostgreSQL is out of recovery, so finish the promotion's
                    // bookkeeping; the VIP waits for the hold like any restarted primary.
                    e.push(Action::Persist(PersistedState {
                        role: PersistedRole::Primary,
                        term,
                    }));
                }
                e.enter_hold(now, Reason::Restarted);
            }
            _ => {
                e.set_role(now, Role::Standby);
                e.set_timer(Timer::StartupGrace, now + e.cfg.startup_grace);
            }
        }
        Ok(e)
    }

    /// Feeds one observation. Due timers run first, so the state is current at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.handle_timeout(now);
        match input {
            Input::ProbeDone {
                path,
                attempt,
                outcome,
            } => self.on_probe(now, path, attempt, outcome),
            Input::LocalDb { attempt, sample } => self.on_local_db(now, attempt, sample),
            Input::AckReceived { seq, peer } => self.on_ack(now, seq, peer),
            Input::PingReceived { seq, peer } => {
                let state = self.own_state();
                self.push(Action::SendAck { seq, state });
                self.on_frame(now, peer, false);
            }
            Input::SerialDeviceMissing => self.on_serial_missing(now),
            Input::BridgeStatus(status) => self.on_bridge_status(now, status),
            Input::VipArpProbe { attempt, answered } => self.on_arp(now, attempt, answered),
            Input::Persisted(state) => self.on_persisted(now, state, true),
            Input::PersistFailed(state) => self.on_persisted(now, state, false),
            Input::Promoted => self.on_promoted(now, true),
            Input::PromoteFailed => self.on_promoted(now, false),
            Input::VipTaken => self.on_vip_taken(now, true),
            Input::VipFailed => self.on_vip_taken(now, false),
            Input::VipReleased => self.on_vip_released(now, true),
            Input::VipReleaseFailed => self.on_vip_released(now, false),
            Input::DbRestarted => {}
            Input::DbRestartFailed => self.alarm(Severity::Warning, Reason::DbRestartFailed),
            Input::DbStopped => self.on_db_stopped(now, true),
            Input::DbStopFailed => self.on_db_stopped(now, false),
            Input::FenceActionDone => {
                if self.step == Step::FenceAction {
                    self.step = Step::Idle;
                }
            }
        }
    }

    /// Runs every timer due at or before `now`. Call it when [`Engine::poll_timeout`]
    /// is reached (calling it early or often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_pause(now);
        // Bounded so a pathological config can never spin forever.
        for _ in 0..256 {
            let Some((timer, due)) = self.earliest_timer() else {
                break;
            };
            if due > now {
                break;
            }
            self.timers[timer.index()] = None;
            self.on_timer(now, timer);
        }
    }

    /// Next action for the daemon, in order. Drain after every call.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.earliest_timer().map(|(_, due)| due)
    }

    /// The engine's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The engine's term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether this node advertises itself fenced.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Status of one path, as the rules see it (the serial path includes the bridge's
    /// verdict when a bridge is configured).
    pub fn path(&self, path: PathId) -> PathStatus {
        self.effective_path(path)
    }

    /// The last decision and its reason.
    pub fn last_decision(&self) -> Option<Decision> {
        self.last_decision
    }

    /// The last peer state heard and when.
    pub fn peer(&self) -> Option<PeerView> {
        self.peer
    }

    /// The last bridge status heard and when.
    pub fn bridge(&self) -> Option<(BridgeStatus, Instant)> {
        self.bridge
    }

    /// The last local DB sample.
    pub fn local_db(&self) -> Option<LocalDbSample> {
        self.local
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Actions dropped because the queue was full (the driver did not drain it).
    pub fn dropped_actions(&self) -> u32 {
        self.dropped_actions
    }

    /// This node's state, as put in every frame.
    pub fn own_state(&self) -> OwnState {
        NodeState {
            node_id: self.cfg.node_id,
            role: self.role,
            term: self.term,
            fenced: self.fenced,
            db_healthy: self.local_healthy && !self.db_stopped,
            gateway_up: self.paths[PathId::Gateway.index()].status.health != PathHealth::Down,
            wal_lsn: self.local.map_or(0, |s| s.wal_lsn),
        }
    }

    // ---- internals shared by the rule modules ----

    fn push(&mut self, action: Action) {
        if self.actions.push_back(action).is_err() {
            self.dropped_actions = self.dropped_actions.saturating_add(1);
        }
    }

    fn log(&mut self, event: Event) {
        self.push(Action::Log(event));
    }

    fn alarm(&mut self, severity: Severity, reason: Reason) {
        self.log(Event::Alarm { severity, reason });
    }

    /// A critical alarm, logged once until a different one is raised.
    fn alarm_once(&mut self, reason: Reason) {
        if self.alarm_latch != Some(reason) {
            self.alarm_latch = Some(reason);
            self.alarm(Severity::Critical, reason);
        }
    }

    fn decide(&mut self, now: Instant, kind: DecisionKind, reason: Reason) {
        let d = Decision {
            kind,
            reason,
            at: now,
        };
        self.last_decision = Some(d);
        self.log(Event::Decision(d));
    }

    /// Like [`Engine::decide`] but silent when it repeats the last decision.
    fn decide_once(&mut self, now: Instant, kind: DecisionKind, reason: Reason) {
        if self
            .last_decision
            .is_some_and(|d| d.kind == kind && d.reason == reason)
        {
            return;
        }
        self.decide(now, kind, reason);
    }

    fn new_id(&mut self) -> AttemptId {
        self.next_id = self.next_id.wrapping_add(1);
        AttemptId(self.next_id)
    }

    fn set_role(&mut self, now: Instant, role: Role) {
        if self.role != role {
            self.log(Event::RoleChanged {
                from: self.role,
                to: role,
            });
            self.role = role;
        }
        self.sync_paths(now);
    }

    /// Changes the side-effect step; a pending retry belongs to the old step.
    fn set_step(&mut self, step: Step) {
        self.step = step;
        self.pending_retry = None;
        self.clear_timer(Timer::Retry);
    }

    /// Retries `action` after `delay` (one pending retry at a time).
    fn retry_later(&mut self, now: Instant, action: Action, delay: Duration) {
        self.pending_retry = Some(action);
        self.set_timer(Timer::Retry, now + delay);
    }
}
