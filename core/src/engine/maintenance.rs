//! Rule `maintenance-pause`: an operator's pause of the pair. It takes effect on the
//! node that ran it at once and travels in every frame; the peer, on hearing it, pauses
//! too and carries it back, which is its acknowledgement. Either node's `resume` ends it
//! for the pair (its frames stop carrying it; a node that had heard the other carry it
//! and then hears it no more ends its own), as does the end of `--for`. An operator's
//! pause is persisted, so a restart keeps it; one heard from the peer is not (the peer's
//! frames bring it back).
//!
//! While paused: no promotion for lost paths, no fence for a lost gateway or DB, no
//! restart or stop of PostgreSQL, the VIP stays. The safety rules run on: the terms
//! (`higher-term-wins`), holds and their evidence (`hold-needs-evidence`: a primary
//! whose DB an operator restarted comes back read-only under the start guard, holds
//! with its VIP and re-opens on the peer's evidence), pause detection
//! (`pause-is-a-restart`), a fenced peer's handover, the rejoin.

use core::time::Duration;

use super::{Engine, EngineTimer};
use crate::io::{Action, DecisionKind, Event, Reason, UnpauseRefused};
use crate::time::Instant;
use crate::types::{Maintenance, MaintenanceWindow, PauseOrigin, Role};

/// The pause in effect on this node.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pause {
    until: Option<Instant>,
    origin: PauseOrigin,
    peer_acked: bool,
}

impl Engine {
    /// The operator's `twinbeat pause [--for DURATION]`: in effect at once, here; on
    /// the peer once it has heard it (`Engine::maintenance`). Pausing again replaces
    /// the end. Drain [`Engine::poll_action`] after it.
    pub fn pause(&mut self, now: Instant, duration: Option<Duration>) {
        self.handle_timeout(now);
        let peer_acked = self.maintenance.is_some_and(|m| m.peer_acked);
        self.begin_pause(now, duration, PauseOrigin::Operator, peer_acked);
        self.push(Action::PersistMaintenance(Some(MaintenanceWindow {
            left: duration,
        })));
        self.announce();
    }

    /// The operator's `twinbeat resume`: ends the pause for the pair.
    pub fn unpause(&mut self, now: Instant) -> Result<(), UnpauseRefused> {
        self.handle_timeout(now);
        if self.maintenance.is_none() {
            return Err(UnpauseRefused::NotPaused);
        }
        self.end_pause(now, Reason::OperatorUnpause);
        Ok(())
    }

    /// The pause in effect, for the status page.
    pub fn maintenance(&self) -> Option<Maintenance> {
        self.maintenance.map(|m| Maintenance {
            until: m.until,
            origin: m.origin,
            peer_acknowledged: m.peer_acked,
        })
    }

    /// Whether the pair's automatic actions are held back.
    pub(super) fn paused(&self) -> bool {
        self.maintenance.is_some()
    }

    /// What this node's frames carry.
    pub(super) fn pause_to_send(&self) -> Option<MaintenanceWindow> {
        self.maintenance.map(|m| MaintenanceWindow {
            left: m.until.map(|u| u.saturating_duration_since(self.last_now)),
        })
    }

    /// A pause the daemon persisted, resumed at start.
    pub(super) fn restore_pause(&mut self, now: Instant, window: MaintenanceWindow) {
        self.begin_pause(now, window.left, PauseOrigin::Operator, false);
    }

    fn begin_pause(
        &mut self,
        now: Instant,
        duration: Option<Duration>,
        origin: PauseOrigin,
        peer_acked: bool,
    ) {
        let until = duration.map(|d| now + d);
        self.maintenance = Some(Pause {
            until,
            origin,
            peer_acked,
        });
        self.unpause_latch = false;
        match until {
            Some(t) => self.set_timer(EngineTimer::MaintenanceEnd, t),
            None => self.clear_timer(EngineTimer::MaintenanceEnd),
        }
        let reason = match origin {
            PauseOrigin::Operator => Reason::OperatorPause,
            PauseOrigin::Peer => Reason::PeerPause,
        };
        self.log(Event::Maintenance {
            paused: true,
            reason,
        });
        // Whatever was about to happen waits: a promotion's fresh checks, a question
        // to the standby (rule `fence-handshake`).
        self.fresh = None;
        self.clear_timer(EngineTimer::Fresh);
        self.end_handover();
    }

    fn end_pause(&mut self, now: Instant, reason: Reason) {
        self.maintenance = None;
        // Until the peer is heard without its pause, its frames are the old pause's
        // echo, not a new one.
        self.unpause_latch = true;
        self.clear_timer(EngineTimer::MaintenanceEnd);
        self.push(Action::PersistMaintenance(None));
        self.log(Event::Maintenance {
            paused: false,
            reason,
        });
        self.announce();
        // What waited is judged now: a DB still down, a gateway still lost, paths
        // still down.
        self.local_db_changed(now);
        self.evaluate_primary(now);
        self.evaluate_standby(now);
    }

    /// `EngineTimer::MaintenanceEnd`: `--for` has run out.
    pub(super) fn on_maintenance_end(&mut self, now: Instant) {
        if self.maintenance.is_some() {
            self.end_pause(now, Reason::MaintenanceEnded);
        }
    }

    /// What a frame from the peer says about a pause.
    pub(super) fn pause_heard(&mut self, now: Instant, peer: Option<MaintenanceWindow>) {
        match (peer, self.maintenance) {
            (Some(_), _) if self.unpause_latch => {}
            (Some(w), None) => self.begin_pause(now, w.left, PauseOrigin::Peer, true),
            (Some(w), Some(m)) => {
                let until = match m.origin {
                    // The peer's pause: its end is the peer's.
                    PauseOrigin::Peer => w.left.map(|d| now + d),
                    PauseOrigin::Operator => m.until,
                };
                self.maintenance = Some(Pause {
                    until,
                    peer_acked: true,
                    ..m
                });
                if m.origin == PauseOrigin::Peer {
                    match until {
                        Some(t) => self.set_timer(EngineTimer::MaintenanceEnd, t),
                        None => self.clear_timer(EngineTimer::MaintenanceEnd),
                    }
                }
            }
            // The peer carried the pause and carries it no more: it resumed.
            (None, Some(m)) if m.peer_acked || m.origin == PauseOrigin::Peer => {
                self.end_pause(now, Reason::PeerUnpause);
            }
            (None, _) => self.unpause_latch = false,
        }
    }

    /// Rule `maintenance-pause`: a primary's PostgreSQL back read-only (an operator
    /// restarted it; the start guard brought it up in recovery) holds with its VIP and
    /// re-opens on the peer's evidence (rule `hold-needs-evidence`), instead of the
    /// restart rule `local-db-restart-once` would order.
    pub(super) fn paused_primary_read_only(&mut self, now: Instant) -> bool {
        if !self.paused() || self.role != Role::Primary {
            return false;
        }
        self.guarded_primary = true;
        self.enter_hold_keeping_vip(now, Reason::ReadOnlyInMaintenance);
        true
    }

    /// Rule `maintenance-pause`: `what` would have been done; the pause holds it back.
    pub(super) fn held_back(&mut self, now: Instant, what: Reason) -> bool {
        if !self.paused() {
            return false;
        }
        self.decide_once(now, DecisionKind::Maintenance, what);
        true
    }
}
