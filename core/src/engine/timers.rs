//! The timer table (one slot per [`Timer`]) and pause detection (rule 13).

use core::time::Duration;

use super::Engine;
use crate::time::Instant;
use crate::types::PathId;

/// The engine's timers: one slot each in a fixed table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// Next attempt start, or the in-flight attempt's window end.
    Path(PathId),
    /// Deadline of the pre-promotion fresh checks.
    Fresh,
    /// Earliest next fresh check after a refused promotion.
    FreshRetry,
    /// End of the standby's startup grace (rule 7).
    StartupGrace,
    /// End of the hold wait (rule 12).
    HoldGrace,
    /// End of the local DB restart grace (rule 2).
    RestartGrace,
    /// End of the wait for the peer to report its own gateway (rule 8).
    GatewaySettle,
    /// Retry of a failed side effect (`pending_retry`).
    Retry,
    /// Keeps the driver calling often enough to detect pauses (rule 13).
    Watchdog,
    /// No `BridgeStatus` since `Config::bridge_silence_bound`: the bridge is silent.
    BridgeSilence,
}

pub(super) const TIMERS: usize = 14;

impl Timer {
    pub(super) const fn index(self) -> usize {
        match self {
            Timer::Path(p) => p.index(),
            Timer::Fresh => 5,
            Timer::FreshRetry => 6,
            Timer::StartupGrace => 7,
            Timer::HoldGrace => 8,
            Timer::RestartGrace => 9,
            Timer::GatewaySettle => 10,
            Timer::Retry => 11,
            Timer::Watchdog => 12,
            Timer::BridgeSilence => 13,
        }
    }

    pub(super) const ALL: [Timer; TIMERS] = [
        Timer::Path(PathId::Icmp),
        Timer::Path(PathId::RemoteDb),
        Timer::Path(PathId::Serial),
        Timer::Path(PathId::Gateway),
        Timer::Path(PathId::LocalDb),
        Timer::Fresh,
        Timer::FreshRetry,
        Timer::StartupGrace,
        Timer::HoldGrace,
        Timer::RestartGrace,
        Timer::GatewaySettle,
        Timer::Retry,
        Timer::Watchdog,
        Timer::BridgeSilence,
    ];
}

impl Engine {
    pub(super) fn set_timer(&mut self, timer: Timer, at: Instant) {
        self.timers[timer.index()] = Some(at);
    }

    pub(super) fn clear_timer(&mut self, timer: Timer) {
        self.timers[timer.index()] = None;
    }

    pub(super) fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer.index()]
    }

    pub(super) fn earliest_timer(&self) -> Option<(Timer, Instant)> {
        let mut best: Option<(Timer, Instant)> = None;
        for t in Timer::ALL {
            if let Some(at) = self.timers[t.index()] {
                if best.is_none_or(|(_, b)| at < b) {
                    best = Some((t, at));
                }
            }
        }
        best
    }

    pub(super) fn arm_watchdog(&mut self, now: Instant) {
        let period = (self.pause_threshold / 2).max(Duration::from_millis(1));
        self.set_timer(Timer::Watchdog, now + period);
    }

    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Path(p) => self.on_path_timer(now, p),
            Timer::Fresh => self.conclude_fresh(now),
            Timer::FreshRetry | Timer::StartupGrace => self.evaluate_standby(now),
            Timer::HoldGrace => self.on_hold_grace(now),
            Timer::RestartGrace => self.on_restart_grace(now),
            Timer::GatewaySettle => {
                self.gateway_settled = true;
                self.evaluate_primary(now);
            }
            Timer::Retry => {
                if let Some(action) = self.pending_retry.take() {
                    self.push(action);
                }
            }
            Timer::Watchdog => self.arm_watchdog(now),
            Timer::BridgeSilence => self.judge_bridge(now),
        }
    }

    /// Rule 13: a call far later than the previous one means this process or its
    /// machine was frozen; the peer may have taken over meanwhile.
    pub(super) fn check_pause(&mut self, now: Instant) {
        let gap = now.saturating_duration_since(self.last_now);
        if now > self.last_now {
            self.last_now = now;
        }
        if gap > self.pause_threshold {
            self.on_pause(now, gap);
        }
    }
}
