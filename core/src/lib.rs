//! # twinbeat-core: the failover decision engine
//!
//! A sans-IO, `no_std`, allocation-free state machine that decides when a standby
//! promotes, when a master fences, and when a node holds back (the rules of
//! `docs/DESIGN.md`). It never reads a clock, opens a socket or spawns a process: the
//! daemon passes `now` in, feeds observations as [`Input`]s and carries out the
//! [`Action`]s the engine queues. The same engine runs unchanged in the deterministic
//! simulation (`tests/simulation.rs`).
//!
//! ## Driving it
//!
//! 1. Build it with [`Engine::new`] from the [`Config`], the [`StartFacts`] (the
//!    persisted state and whether PostgreSQL is in recovery) and `now`.
//! 2. Loop: drain [`Engine::poll_action`] and carry each action out; sleep until
//!    [`Engine::poll_timeout`] or until an input arrives; then call
//!    [`Engine::handle_timeout`] or [`Engine::handle_input`] with the current time.
//! 3. Every action that expects an answer gets exactly one [`Input`] back:
//!
//! | action | answer |
//! |---|---|
//! | `Probe { path: Icmp / Gateway, attempt, deadline, fresh }` | `ProbeDone { path, attempt, outcome }` |
//! | `Probe { path: RemoteDb, attempt, deadline, fresh }` | `RemoteDb { attempt, outcome, reading }` |
//! | `Probe { path: LocalDb, attempt, deadline, fresh }` | `LocalDb { attempt, sample }` |
//! | `SendPing { seq, echo, state }` | the peer's `Ack` frame → `AckReceived { seq, peer }` (none if lost) |
//! | `SendAck { seq, state }` | — (answers a `PingReceived`) |
//! | `VipArpProbe { attempt, deadline }` | `VipArpProbe { attempt, answered }` |
//! | `Persist(state)` | `Persisted(state)` / `PersistFailed(state)` |
//! | `Promote { term, connect_by, deadline }` | `Promoted` / `PromoteFailed { requested }` |
//! | `TakeVip` | `VipTaken` / `VipFailed` |
//! | `ArmStartGuard` | — |
//! | `ReleaseVip` | `VipReleased` / `VipReleaseFailed` |
//! | `RestartDb { lift_guard, deadline }` | `DbRestarted` / `DbRestartFailed` |
//! | `StopDb { kill_at, deadline }` | `DbStopped` / `DbStopFailed` |
//! | `RunFenceAction { deadline }` | `FenceActionDone` |
//! | `FlushSerialInput` | — |
//! | `Log(event)` | — |
//!
//! A probe runs until the `deadline` its action carries (the `now` the engine was given
//! plus the path's timeout, or `arp_probe_timeout` for the ARP probe); an answer after
//! the deadline is harmless (the engine ignores it). A side effect with a bound runs
//! until the `deadline` its action carries too (the `now` the engine was given plus
//! [`PROMOTE_WINDOW`], [`Config::restart_window`], [`STOP_GRACE`] and [`KILL_GRACE`],
//! or [`FENCE_ACTION_WINDOW`]). So the daemon reads no timing from its config: the
//! engine owns every bound. The attempt id is the same
//! [`AttemptId`] end to end: in the action, in the probe task, in the answer. Frames
//! from the peer that are not acks of our pings arrive as `PingReceived` (with the
//! sequence number the peer echoes, if any); the daemon decodes frames, the engine
//! never sees bytes. An operator's release of a hold goes to [`Engine::release_hold`],
//! which accepts or refuses it at once. The status page reads [`Engine::role`],
//! [`Engine::term`], [`Engine::path`], [`Engine::last_decision`], [`Engine::peer`] and
//! [`Engine::own_state`].
//!
//! ```
//! use twinbeat_core::*;
//!
//! // A fake daemon: the peer answers every probe and every ping at once.
//! let facts = StartFacts {
//!     persisted: None, db_in_recovery: true, vip_held: false, maintenance: None, run_id: 1,
//! };
//! let mut now = Instant::from_millis(0);
//! let mut engine = Engine::new(Config::default(), facts, now).expect("valid config");
//! let master = NodeState {
//!     node_id: NodeId(2), role: Role::Primary, term: 1, fenced: false,
//!     db_healthy: true, gateway_up: true, wal_lsn: 0, human_promoted: false, handover: None,
//!     pause: None, switchover: None, sync_epoch: None, config_fingerprint: None,
//! };
//! let mut inbox: Vec<Input> = Vec::new();
//! while now < Instant::from_millis(3_000) {
//!     // 1. carry out every queued action (a real daemon spawns tasks here)
//!     while let Some(action) = engine.poll_action() {
//!         match action {
//!             // a real daemon bounds the probe by `deadline - now`
//!             Action::Probe { path: PathId::LocalDb, attempt, deadline, .. } => {
//!                 assert!(deadline > now);
//!                 let sample = LocalDbSample {
//!                     accepting: true, select_ok: true, in_recovery: true, wal_lsn: 0,
//!                     replay_lsn: 0, timeline: 1, standby: StandbyReading::NONE,
//!                 };
//!                 inbox.push(Input::LocalDb { attempt, sample: Some(sample) });
//!             }
//!             Action::Probe { path: PathId::RemoteDb, attempt, .. } => {
//!                 let outcome = ProbeOutcome::Ok { rtt: Duration::from_micros(300) };
//!                 let reading = PeerDbReading { in_recovery: false, term: Some(1), timeline: 1,
//!                     wal_lsn: 0, published: None, sync_epoch: None, sync_ack: None };
//!                 inbox.push(Input::RemoteDb { attempt, outcome, reading: Some(reading) });
//!             }
//!             Action::Probe { path, attempt, deadline, .. } => {
//!                 let rtt = Duration::from_micros(200);
//!                 assert!(now + rtt < deadline, "answered inside the window");
//!                 let outcome = ProbeOutcome::Ok { rtt };
//!                 inbox.push(Input::ProbeDone { path, attempt, outcome });
//!             }
//!             Action::SendPing { seq, .. } => {
//!                 inbox.push(Input::AckReceived { seq, peer: master })
//!             }
//!             // a side effect runs until the end of its window, as a probe does
//!             // (a real daemon hands it to a worker and feeds its answer back)
//!             Action::Promote { deadline, .. }
//!             | Action::RestartDb { deadline, .. }
//!             | Action::StopDb { deadline, .. }
//!             | Action::RunFenceAction { deadline } => assert!(deadline > now),
//!             Action::Log(event) => { let _ = event; } // to the journal and metrics
//!             _ => {}
//!         }
//!     }
//!     // 2. feed what came back, or wait for the next timer
//!     if let Some(input) = inbox.pop() {
//!         engine.handle_input(now, input);
//!     } else {
//!         now = engine.poll_timeout().expect("the engine always has a timer");
//!         engine.handle_timeout(now);
//!     }
//! }
//! assert_eq!(engine.role(), Role::Standby);
//! assert_eq!(engine.path(PathId::Serial).health, PathHealth::Up);
//! assert_eq!(engine.peer().map(|p| p.state.role), Some(Role::Primary));
//! ```
//!
//! ## Starting and persisting
//!
//! The daemon keeps one small state file (atomic write + fsync + rename) holding the
//! last [`PersistedState`] the engine asked for — `Standby` with a newly learned term,
//! `Promoting`, `Primary` or `Fenced` — and hands it back in [`StartFacts`] with
//! `pg_is_in_recovery()`. From those the engine picks its start role (rule
//! `hold-needs-evidence`): a replica starts as a standby; a writable database starts in
//! hold (no VIP) until the peer is heard; a fenced node re-confirms its fence and stays
//! fenced.
//!
//! The start guard: the daemon keeps `standby.signal` in the data directory of a
//! running primary (PostgreSQL reads it only at start-up and removes it on promotion),
//! so a start it did not order (reboot, crash) comes up read-only in recovery instead
//! of writable next to a peer that may have taken over. A persisted primary whose DB is
//! in recovery therefore starts in hold too. The peer primary in a higher term: it
//! fences. On positive evidence that the peer has not taken over (a frame built after
//! the hold began, or the peer's PostgreSQL read in recovery in no higher term on this
//! node's timeline) or an operator's release, it re-opens the DB in its own term:
//! `Promote` (nothing persisted first: the term is still its own), then `TakeVip` and
//! `Persist(Primary)`; a failed `Promote` leaves it a standby with a critical alarm.
//! Nothing heard is never evidence: it holds, with a critical alarm. A primary whose DB reports `in_recovery` counts it unhealthy (rule
//! `local-db-restart-once` restarts it): the daemon must lift the guard before a
//! `RestartDb` it carries out while [`Engine::role`] is `Primary`, and keep it for a
//! restart in any other role.
//!
//! ## Guarantees the daemon relies on
//!
//! - The engine never advertises `fenced` before `DbStopped` and `VipReleased` were
//!   reported for the current fence.
//! - A node that may hold the VIP after a restart or a pause queues `ReleaseVip` first.
//! - Side effects on the same resource must be carried out in the order queued (one
//!   VIP operation at a time, one DB operation at a time): a `ReleaseVip` queued after a
//!   `TakeVip` must not overtake it. Probes and frames may run concurrently.
//! - The queue holds [`ACTION_QUEUE`] actions; drain it after every call
//!   ([`Engine::dropped_actions`] counts overflow, which a correct driver never sees).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

mod config;
mod engine;
mod io;
mod time;
mod types;
mod words;

pub use config::{
    Config, ConfigError, ConfigField, DurationRange, PathConfig, ReplicationMode, RolePin,
    AUTO_REJOIN_RETRY, FENCE_ACTION_WINDOW, KILL_GRACE, MAX_DURATION, MAX_INTERVAL, MAX_RETRIES,
    MAX_TIMEOUT, MIN_DURATION, MIN_RESTART_WINDOW, PROMOTE_WINDOW, PUBLISH_WINDOW, SLOT_RETRY,
    STOP_GRACE, SWITCHOVER_REPLAY_POLL, SWITCHOVER_REQUEST_WINDOW, SYNC_RETRY, SYNC_WINDOW,
};
pub use core::time::Duration;
pub use engine::{Engine, StartError, SyncStatus, ACTION_QUEUE};
pub use io::{
    Action, Decision, DecisionKind, Event, Input, Reason, RejoinRefused, ReleaseRefused, Severity,
    SwitchoverRefused, UnpauseRefused,
};
pub use time::Instant;
pub use types::{
    AttemptId, BridgeState, BridgeStatus, Handover, LocalDbSample, Maintenance, MaintenanceWindow,
    NodeId, NodeState, OwnState, PathHealth, PathId, PathStatus, PauseOrigin, PeerDbReading,
    PeerState, PeerView, PersistedRole, PersistedState, ProbeOutcome, Published, PublishedEpoch,
    RejoinProgress, Role, SerialDownCause, Stage, StandbyReading, StartFacts, SwitchoverProgress,
    SwitchoverSide, SwitchoverStage, SyncEpoch, TakeoverRefusal, TakeoverVerdict,
};
