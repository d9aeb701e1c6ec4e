//! Starting the engine: the start-up checks (config, role pin) and the start role
//! (rule `hold-needs-evidence`).

use heapless::Deque;

use super::hold::start_role;
use super::{Engine, EngineTimer, Step, TimerTable, IDLE_SLOT};
use crate::config::{Config, ConfigError, RolePin};
use crate::io::{Action, Reason};
use crate::time::Instant;
use crate::types::{PathId, PersistedRole, PersistedState, Role, StartFacts};

/// Why the engine refused to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// `role` pins a role that PostgreSQL and the persisted state contradict (rule
    /// `hold-needs-evidence`).
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
            degraded_pause_threshold: config.degraded_pause_threshold(),
            cfg: config,
            role: Role::Standby,
            term,
            fenced: false,
            step: Step::Idle,
            paths: [IDLE_SLOT; PathId::ALL.len()],
            timers: TimerTable::IDLE,
            actions: Deque::new(),
            dropped_actions: 0,
            own_frames_dropped: 0,
            own_frame_at: None,
            next_id: 0,
            last_now: now,
            started_at: now,
            heard_peer: false,
            peer: None,
            peer_db: None,
            last_peer_ping: None,
            peer_max_term: term,
            bridge: None,
            bridge_verdict: None,
            local: None,
            local_healthy: false,
            db_stopped: false,
            incident: None,
            fresh: None,
            hold_since: now,
            hold_first_seq: 0,
            hold_heard_peer: false,
            hold_waiting: false,
            hold_keeps_vip: false,
            hold_needs_evidence: start.persisted.is_some(),
            guarded_primary,
            reopening: false,
            promote_sent: false,
            lag_warned: false,
            asking: None,
            answer: None,
            poweroff_asked: false,
            start_in_recovery: start.db_in_recovery,
            run_fence_action: true,
            gateway_settled: false,
            pending_retry: None,
            last_decision: None,
            disarm_alarmed: false,
            degraded_logged: 0,
            alarm_latch: None,
            vip_failures: 0,
            fence_reason: None,
            rejoin: None,
            rejoin_interrupted: start
                .persisted
                .is_some_and(|p| p.role == PersistedRole::Rejoining),
            auto_rejoins: 0,
            maintenance: None,
            unpause_latch: false,
            switchover: None,
            switchover_request: None,
            slot_term: None,
            slot_in_flight: false,
            sync: super::sync::SyncPrimary::new(now),
            sync_heard: None,
            sync_ack_published: None,
            run_id: start.run_id,
            peer_fingerprint: None,
            acked_ping: None,
            sync_ready_term: None,
        };
        if let Some(window) = start.maintenance {
            e.restore_pause(now, window);
        }
        e.arm_watchdog(now);
        e.start_bridge_watch(now);
        match (role, start.persisted) {
            (Role::Fencing, _) => {
                // Fenced is sticky: confirm the DB is stopped and the VIP gone again
                // before advertising it, but do not re-run the fence action. A rejoin
                // the restart interrupted starts over once fenced (rule
                // `rejoin-after-fence`): the data directory may be half rewound.
                e.run_fence_action = false;
                e.begin_fence(now, Reason::Restarted);
            }
            (Role::Demoting, persisted) => {
                // Rule `planned-switchover`: nothing an earlier run published is
                // current (rule `fence-handshake`); the demotion carries on.
                e.push(Action::PublishHandover(None));
                let to = match persisted.map(|p| p.role) {
                    Some(PersistedRole::Demoting { to, .. }) => to,
                    _ => crate::types::NodeId(0),
                };
                e.resume_demotion(now, to);
            }
            (Role::Hold, persisted) => {
                if let Some(PersistedState {
                    role: PersistedRole::Promoting,
                    term,
                }) = persisted
                {
                    // Rule `promotion-order`: PostgreSQL is out of recovery, so finish the promotion's
                    // bookkeeping; the VIP waits for the hold like any restarted primary.
                    e.push(Action::Persist(PersistedState {
                        role: PersistedRole::Primary,
                        term,
                    }));
                }
                // Its PostgreSQL kept serving through the daemon's restart, with the
                // VIP: the peer cannot have taken over while this DB answered it, so
                // clients keep the address while the evidence comes (rule
                // `hold-needs-evidence`).
                // Nothing an earlier run published is current (rule `fence-handshake`).
                e.push(Action::PublishHandover(None));
                let serving = !start.db_in_recovery
                    && start.vip_held
                    && persisted.is_some_and(|p| p.role == PersistedRole::Primary);
                if serving {
                    e.enter_hold_keeping_vip(now, Reason::Restarted);
                } else {
                    e.enter_hold(now, Reason::Restarted);
                }
            }
            _ => {
                e.push(Action::PublishHandover(None));
                if start.vip_held {
                    // A standby never holds the VIP (a stale address from an earlier
                    // run would answer for the primary's).
                    e.push(Action::ReleaseVip);
                }
                e.set_role(now, Role::Standby);
                e.set_timer(EngineTimer::StartupGrace, now + e.cfg.startup_grace);
            }
        }
        Ok(e)
    }
}
