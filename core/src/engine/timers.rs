//! The timer table and pause detection (rule `pause-is-a-restart`).
//!
//! Two sub-tables, each indexed by its kind `as usize`: one slot per path
//! ([`PathId`]) and one per [`EngineTimer`]. Neither is numbered by hand: the path
//! table is as long as [`PathId::ALL`], the engine table as long as
//! [`EngineTimer::ALL`], which the `engine_timers!` declaration derives from the
//! variants themselves.

use core::time::Duration;

use super::Engine;
use crate::time::Instant;
use crate::types::{PathHealth, PathId};

/// Declares [`EngineTimer`] and its [`EngineTimer::ALL`] from one list, so the table
/// can neither miss a variant nor disagree with the declaration order.
macro_rules! engine_timers {
    ($($(#[doc = $doc:literal])+ $kind:ident,)+) => {
        /// The engine's timers outside the paths: one slot each, at `self as usize`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum EngineTimer {
            $($(#[doc = $doc])+ $kind,)+
        }

        impl EngineTimer {
            /// Every engine timer, in declaration order: `ALL[t as usize] == t`.
            pub(super) const ALL: &'static [EngineTimer] = &[$(EngineTimer::$kind,)+];
        }
    };
}

engine_timers! {
    /// Deadline of the pre-promotion fresh checks.
    Fresh,
    /// Earliest next fresh check after a refused promotion.
    FreshRetry,
    /// End of the standby's startup grace (rule `startup-grace`).
    StartupGrace,
    /// End of the hold wait (rule `hold-needs-evidence`).
    HoldGrace,
    /// End of the wait for evidence while a restarted primary keeps its VIP (rule
    /// `hold-needs-evidence`).
    HoldVip,
    /// End of the pause after a failed guarded re-open: the hold starts over (rule
    /// `start-guard`).
    HoldRetry,
    /// End of the local DB restart grace (rule `local-db-restart-once`).
    RestartGrace,
    /// End of the wait for the peer to report its own gateway (rule
    /// `fence-when-standby-can-take-over`).
    GatewaySettle,
    /// End of the wait for the standby's answer, or of the pause between two questions
    /// (rule `fence-handshake`).
    Handover,
    /// Retry of a failed side effect (`pending_retry`).
    Retry,
    /// Keeps the driver calling often enough to detect pauses (rule `pause-is-a-restart`).
    Watchdog,
    /// End of the pause after a failed rejoin (rule `rejoin-after-fence`).
    RejoinRetry,
    /// End of a maintenance pause's `--for` (rule `maintenance-pause`).
    MaintenanceEnd,
    /// End of the pause after a failed `EnsureSlot` (rule `standby-slot`).
    SlotRetry,
    /// End of a demoting master's wait for the standby to take over (rule
    /// `planned-switchover`).
    SwitchoverWait,
    /// No `BridgeStatus` since `Config::bridge_silence_bound`: the bridge is silent.
    BridgeSilence,
    /// Rule `sync-epoch`: no standby's claim outlives the asynchronous epoch announced.
    SyncDegrade,
    /// End of the pause after a failed `SetSyncStandby` (rule `sync-epoch`).
    SyncRetry,
}

/// One of the engine's timers: a path's, or one of the [`EngineTimer`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// Next attempt start, or the in-flight attempt's window end.
    Path(PathId),
    /// A timer outside the paths.
    Engine(EngineTimer),
}

impl From<EngineTimer> for Timer {
    fn from(timer: EngineTimer) -> Self {
        Timer::Engine(timer)
    }
}

/// When each timer is due, if armed.
#[derive(Clone, Copy, Debug)]
pub(super) struct TimerTable {
    path: [Option<Instant>; PathId::ALL.len()],
    engine: [Option<Instant>; EngineTimer::ALL.len()],
}

impl TimerTable {
    /// Every timer unarmed.
    pub(super) const IDLE: TimerTable = TimerTable {
        path: [None; PathId::ALL.len()],
        engine: [None; EngineTimer::ALL.len()],
    };

    fn slot(&mut self, timer: Timer) -> &mut Option<Instant> {
        match timer {
            Timer::Path(p) => &mut self.path[p.index()],
            Timer::Engine(t) => &mut self.engine[t as usize],
        }
    }

    fn get(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::Path(p) => self.path[p.index()],
            Timer::Engine(t) => self.engine[t as usize],
        }
    }

    /// The earliest armed timer; on a tie the paths (in [`PathId::ALL`] order) come
    /// first, then the engine timers in declaration order.
    fn earliest(&self) -> Option<(Timer, Instant)> {
        let paths = PathId::ALL.iter().map(|&p| Timer::Path(p));
        let engine = EngineTimer::ALL.iter().map(|&t| Timer::Engine(t));
        let mut best: Option<(Timer, Instant)> = None;
        for t in paths.chain(engine) {
            if let Some(at) = self.get(t) {
                if best.is_none_or(|(_, b)| at < b) {
                    best = Some((t, at));
                }
            }
        }
        best
    }
}

impl Engine {
    pub(super) fn set_timer(&mut self, timer: impl Into<Timer>, at: Instant) {
        *self.timers.slot(timer.into()) = Some(at);
    }

    pub(super) fn clear_timer(&mut self, timer: impl Into<Timer>) {
        *self.timers.slot(timer.into()) = None;
    }

    pub(super) fn timer(&self, timer: impl Into<Timer>) -> Option<Instant> {
        self.timers.get(timer.into())
    }

    pub(super) fn earliest_timer(&self) -> Option<(Timer, Instant)> {
        self.timers.earliest()
    }

    pub(super) fn arm_watchdog(&mut self, now: Instant) {
        // Half the lower threshold, so that a gap over either is seen.
        let period = (self.degraded_pause_threshold / 2).max(Duration::from_millis(1));
        self.set_timer(EngineTimer::Watchdog, now + period);
    }

    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Path(p) => self.on_path_timer(now, p),
            Timer::Engine(t) => self.on_engine_timer(now, t),
        }
    }

    fn on_engine_timer(&mut self, now: Instant, timer: EngineTimer) {
        match timer {
            EngineTimer::Fresh => self.conclude_fresh(now),
            EngineTimer::FreshRetry | EngineTimer::StartupGrace => self.evaluate_standby(now),
            EngineTimer::HoldGrace => self.on_hold_grace(now),
            EngineTimer::HoldVip => self.on_hold_vip(now),
            EngineTimer::HoldRetry => self.on_hold_retry(now),
            EngineTimer::RestartGrace => self.on_restart_grace(now),
            EngineTimer::GatewaySettle => {
                self.gateway_settled = true;
                self.evaluate_primary(now);
            }
            EngineTimer::Handover => self.on_handover_timer(now),
            EngineTimer::Retry => {
                if let Some(action) = self.pending_retry.take() {
                    let action = self.rewindowed(now, action);
                    self.push(action);
                }
            }
            EngineTimer::Watchdog => self.arm_watchdog(now),
            EngineTimer::RejoinRetry => self.on_rejoin_retry(now),
            EngineTimer::MaintenanceEnd => self.on_maintenance_end(now),
            EngineTimer::SwitchoverWait => self.on_switchover_wait(now),
            EngineTimer::SlotRetry => self.consider_slot(now),
            EngineTimer::BridgeSilence => self.judge_bridge(now),
            EngineTimer::SyncDegrade | EngineTimer::SyncRetry => self.evaluate_sync(now),
        }
    }

    /// Rule `pause-is-a-restart`: a call far later than the previous one means this
    /// process or its machine was frozen; the peer may have taken over meanwhile.
    pub(super) fn check_pause(&mut self, now: Instant) {
        let gap = now.saturating_duration_since(self.last_now);
        if now > self.last_now {
            self.last_now = now;
        }
        if gap > self.pause_threshold_now() {
            self.on_pause(now, gap);
        }
    }

    /// The threshold for the gap that just ended, judged by the serial path as it was
    /// before it. Up, its last attempt a success: the pair is taken as whole, and the
    /// peer must see all three paths fail before it promotes (the slowest). Otherwise
    /// the peer may already see some down and need only the rest to fail (the
    /// fastest).
    fn pause_threshold_now(&self) -> Duration {
        let serial = self.effective_path(PathId::Serial);
        if serial.health == PathHealth::Up && serial.consecutive_failures == 0 {
            self.pause_threshold
        } else {
            self.degraded_pause_threshold
        }
    }
}
