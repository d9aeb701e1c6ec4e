//! The heartbeat bridge's verdict on the serial path (`Config::serial_bridge`).
//!
//! With a plain cable, "no ack" cannot tell a dead peer from a broken cable. A bridge
//! on the line reports how long it has not heard each side, so:
//! - bridge alive and the peer's side silent for longer than
//!   `Config::bridge_peer_silence`: the serial path is down (`PeerSilentAtBridge`);
//! - no status within `Config::bridge_silence_bound`: down too (`BridgeSilent`: the line
//!   or the bridge is broken);
//! - otherwise the ping/ack attempts decide as without a bridge.
//!
//! The verdict can only add "down" on top of the attempts: a bridge status never makes
//! the serial path up and never counts as hearing the peer (only the peer's own frames
//! do), so every other rule sees the peer exactly as without a bridge.

use super::{Engine, EngineTimer};
use crate::io::Event;
use crate::time::Instant;
use crate::types::{BridgeState, BridgeStatus, PathHealth, PathId, PathStatus, SerialDownCause};

impl Engine {
    /// A `BridgeStatus` arrived.
    pub(super) fn on_bridge_status(&mut self, now: Instant, status: BridgeStatus) {
        self.bridge = Some((status, now));
        if self.cfg.serial_bridge.is_some() {
            self.set_timer(
                EngineTimer::BridgeSilence,
                now + self.cfg.bridge_silence_bound(),
            );
            self.judge_bridge(now);
        }
    }

    /// Arms the silence timer at start: a bridge that never reports is silent too.
    pub(super) fn start_bridge_watch(&mut self, now: Instant) {
        if self.cfg.serial_bridge.is_some() {
            self.set_timer(
                EngineTimer::BridgeSilence,
                now + self.cfg.bridge_silence_bound(),
            );
        }
    }

    /// What the bridge says of the serial path now (`None`: nothing against it).
    fn bridge_cause(&self, now: Instant) -> Option<SerialDownCause> {
        // No bridge: nothing against the serial path.
        self.cfg.serial_bridge?;
        let Some((status, at)) = self.bridge_alive_status(now) else {
            return Some(SerialDownCause::BridgeSilent);
        };
        // Never heard the peer: silent for as long as the bridge has been up, plus the
        // age of the report itself.
        let silent = status
            .since_heard_peer
            .unwrap_or(status.uptime)
            .saturating_add(now.saturating_duration_since(at));
        (silent > self.cfg.bridge_peer_silence()).then_some(SerialDownCause::PeerSilentAtBridge)
    }

    /// The last status if it is recent enough to call the bridge alive.
    fn bridge_alive_status(&self, now: Instant) -> Option<(BridgeStatus, Instant)> {
        self.bridge
            .filter(|(_, at)| now < *at + self.cfg.bridge_silence_bound())
    }

    /// Re-judges the bridge verdict; a change is logged and re-runs the peer path rules
    /// (`partial-loss-only-warns` to `startup-grace`), as a change of any path's health does.
    pub(super) fn judge_bridge(&mut self, now: Instant) {
        let cause = self.bridge_cause(now);
        if cause == self.bridge_verdict.map(|(c, _)| c) {
            return;
        }
        // Down continuously (say the peer went silent, then the bridge died): keep the
        // first time, as rule `all-paths-down-together` compares when paths went down.
        let since = self.bridge_verdict.map_or(now, |(_, s)| s);
        self.bridge_verdict = cause.map(|c| (c, since));
        self.log(Event::BridgeVerdict(cause));
        self.peer_paths_changed(now);
    }

    /// A path's status as the rules see it: the serial path is down while the bridge's
    /// verdict says so, since when the earlier of the two verdicts began.
    pub(super) fn effective_path(&self, path: PathId) -> PathStatus {
        let mut st = self.paths[path.index()].status;
        if path == PathId::Serial {
            if let Some((_, since)) = self.bridge_verdict {
                st.down_since = Some(match (st.health, st.down_since) {
                    (PathHealth::Down, Some(d)) => d.min(since),
                    _ => since,
                });
                st.health = PathHealth::Down;
            }
        }
        st
    }

    /// Why the serial path is down, if it is.
    pub fn serial_down_cause(&self) -> Option<SerialDownCause> {
        match self.bridge_verdict {
            Some((cause, _)) => Some(cause),
            None => (self.paths[PathId::Serial.index()].status.health == PathHealth::Down)
                .then_some(SerialDownCause::NoAck),
        }
    }

    /// The bridge as this node sees it at `now`.
    pub fn bridge_state(&self, now: Instant) -> BridgeState {
        if self.cfg.serial_bridge.is_none() {
            return BridgeState::NotConfigured;
        }
        match self.bridge_alive_status(now) {
            Some((status, at)) => BridgeState::Alive(status, at),
            None => BridgeState::Silent(self.bridge),
        }
    }
}
