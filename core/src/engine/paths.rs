//! Attempts, path health and the confirmation cascade (rules `attempt-window`,
//! `path-down-after-retries`, `confirmation-cascade`).

use core::time::Duration;

use super::{Attempt, Engine, Timer, IDLE_SLOT};
use crate::io::{Action, Event, Reason, Severity};
use crate::time::Instant;
use crate::types::{AttemptId, PathHealth, PathId, PeerState, ProbeOutcome, Role};

impl Engine {
    /// Which paths run in the current role.
    pub(super) fn path_active(&self, path: PathId) -> bool {
        match path {
            // Every role that may serve watches the peer's host and database too, so a
            // second primary is seen on every path, not only on serial (rule
            // `remote-db-reads-role`).
            PathId::Icmp => !matches!(self.role, Role::Fencing | Role::Fenced),
            // A fenced node reads the peer's PostgreSQL too: whether it is primary in a
            // higher term is the evidence a rejoin needs (rule `rejoin-after-fence`).
            // Not while its frames say it is still the standby about to take over: a
            // new connection then would only load the promotion it is waiting for.
            PathId::RemoteDb => match self.role {
                Role::Fencing => false,
                Role::Fenced => {
                    let serial_up = self.effective_path(PathId::Serial).health == PathHealth::Up;
                    !serial_up || self.peer.is_none_or(|v| v.state.role != Role::Standby)
                }
                _ => true,
            },
            // Frames carry the state both ways, fenced included (rule
            // `state-in-every-frame`).
            PathId::Serial => true,
            // A demoting master's PostgreSQL stops on purpose, and it no longer acts on
            // its gateway (rule `planned-switchover`).
            PathId::Gateway | PathId::LocalDb => {
                !matches!(self.role, Role::Fencing | Role::Fenced | Role::Demoting)
            }
        }
    }

    /// Starts the paths the role needs and forgets those it does not.
    pub(super) fn sync_paths(&mut self, now: Instant) {
        for p in PathId::ALL {
            let active = self.path_active(p);
            let slot = &mut self.paths[p.index()];
            if !active {
                *slot = IDLE_SLOT;
                self.clear_timer(Timer::Path(p));
            } else if slot.attempt.is_none() && self.timer(Timer::Path(p)).is_none() {
                self.start_attempt(now, p);
            }
        }
    }

    pub(super) fn start_attempt(&mut self, now: Instant, path: PathId) {
        let id = self.new_id();
        let deadline = now + self.cfg.path(path).timeout;
        self.paths[path.index()].attempt = Some(Attempt {
            id,
            started: now,
            deadline,
            failed: false,
        });
        self.set_timer(Timer::Path(path), deadline);
        let action = match path {
            PathId::Serial => Action::SendPing {
                seq: id.0,
                echo: self.last_peer_ping,
                state: self.own_state(),
            },
            _ => Action::Probe {
                path,
                attempt: id,
                deadline,
                fresh: false,
            },
        };
        self.push(action);
    }

    /// Sends this node's state at once, outside the serial attempts: a ping whose ack
    /// belongs to no attempt (a stale ack still carries the peer's state). Used when the
    /// state the peer acts on changes — a fenced master's handover (rule
    /// `fenced-peer-hands-over`) should not wait for the next serial interval (1 s by
    /// default).
    pub(super) fn announce(&mut self) {
        let id = self.new_id();
        let state = self.own_state();
        self.push(Action::SendPing {
            seq: id.0,
            echo: self.last_peer_ping,
            state,
        });
    }

    /// Timer of a path: either the in-flight attempt's window ended (a failure, unless
    /// a success already cleared it) or the next attempt is due.
    pub(super) fn on_path_timer(&mut self, now: Instant, path: PathId) {
        if !self.path_active(path) {
            return;
        }
        if self.paths[path.index()].attempt.take().is_some() {
            self.record_failure(now, path);
            // After a failure the next attempt starts at once.
            self.start_attempt(now, path);
            self.cascade(now, path);
        } else {
            self.start_attempt(now, path);
        }
    }

    /// Rule `confirmation-cascade`, icmp → remote_db → serial: a failed attempt makes
    /// the later paths that are waiting for their interval try at once.
    fn cascade(&mut self, now: Instant, failed: PathId) {
        let Some(pos) = PathId::PEER.iter().position(|p| *p == failed) else {
            return;
        };
        if self.role != Role::Standby {
            return;
        }
        for later in PathId::PEER.into_iter().skip(pos + 1) {
            if self.path_active(later) && self.paths[later.index()].attempt.is_none() {
                self.start_attempt(now, later);
            }
        }
    }

    /// Applies an attempt's result. Returns the attempt's start time when the result
    /// was accepted: the id matches the attempt in flight, no result was taken yet and
    /// its window has not ended (a late reply does not rescue its attempt).
    pub(super) fn attempt_result(
        &mut self,
        now: Instant,
        path: PathId,
        id: AttemptId,
        ok: Option<Duration>,
    ) -> Option<Instant> {
        let slot = &mut self.paths[path.index()];
        let attempt = slot.attempt.as_mut()?;
        if attempt.id != id || attempt.failed || now >= attempt.deadline {
            return None;
        }
        let started = attempt.started;
        match ok {
            Some(rtt) => {
                slot.attempt = None;
                self.record_success(now, path, rtt);
                self.set_timer(Timer::Path(path), now + self.cfg.path(path).interval);
            }
            // A fast failure keeps the attempt: it still owns its whole window.
            None => attempt.failed = true,
        }
        Some(started)
    }

    fn record_success(&mut self, now: Instant, path: PathId, rtt: Duration) {
        let st = &mut self.paths[path.index()].status;
        let was = st.health;
        st.health = PathHealth::Up;
        st.consecutive_failures = 0;
        st.down_since = None;
        st.last_rtt = Some(rtt);
        if PathId::PEER.contains(&path) {
            self.heard_peer = true;
        }
        if was != PathHealth::Up {
            self.log(Event::PathUp(path));
            self.on_path_change(now, path);
        }
    }

    fn record_failure(&mut self, now: Instant, path: PathId) {
        let retries = self.cfg.path(path).retries;
        let st = &mut self.paths[path.index()].status;
        st.consecutive_failures = st.consecutive_failures.saturating_add(1);
        if st.consecutive_failures >= retries && st.health != PathHealth::Down {
            st.health = PathHealth::Down;
            st.down_since = Some(now);
            self.log(Event::PathDown(path));
            self.on_path_change(now, path);
        }
    }

    fn on_path_change(&mut self, now: Instant, path: PathId) {
        if path == PathId::Serial && self.role == Role::Fenced {
            // Without frames a fenced node reads the peer's PostgreSQL (`path_active`).
            self.sync_paths(now);
        }
        match path {
            PathId::Icmp | PathId::RemoteDb | PathId::Serial => {
                self.peer_paths_changed(now);
                self.evaluate_sync(now);
            }
            PathId::Gateway => self.gateway_changed(now),
            PathId::LocalDb => self.local_db_changed(now),
        }
    }

    pub(super) fn on_probe(
        &mut self,
        now: Instant,
        path: PathId,
        id: AttemptId,
        outcome: ProbeOutcome,
    ) {
        if path == PathId::Gateway && self.fresh_gateway(now, id, outcome) {
            return;
        }
        if !matches!(path, PathId::Icmp | PathId::Gateway) {
            // The other paths answer through their own inputs.
            return;
        }
        let ok = match outcome {
            ProbeOutcome::Ok { rtt } => Some(rtt),
            ProbeOutcome::Failed => None,
        };
        self.attempt_result(now, path, id, ok);
    }

    pub(super) fn on_ack(&mut self, now: Instant, seq: u32, peer: PeerState) {
        let id = AttemptId(seq);
        let started = self.paths[PathId::Serial.index()]
            .attempt
            .map(|a| a.started)
            .unwrap_or(now);
        let rtt = now.saturating_duration_since(started);
        // When the ping this acks went out, if it is the attempt in flight (rule
        // `sync-epoch` times a standby's claim from it).
        self.acked_ping = self.paths[PathId::Serial.index()]
            .attempt
            .filter(|a| a.id == id && now <= a.deadline)
            .map(|a| (seq, a.started));
        self.attempt_result(now, PathId::Serial, id, Some(rtt));
        // A stale ack still carries the peer's state; only the answer to a ping sent
        // after entering hold (or after a question, rule `fence-handshake`) is evidence
        // of anything since (rule `hold-needs-evidence`).
        self.on_frame(now, peer, Some(seq));
        self.acked_ping = None;
    }

    /// When ping `seq` was sent, while its ack is being handled and it answers the
    /// attempt in flight within its window.
    pub(super) fn ack_sent_at(&self, seq: u32) -> Option<Instant> {
        self.acked_ping.filter(|(s, _)| *s == seq).map(|(_, at)| at)
    }

    pub(super) fn on_serial_missing(&mut self, now: Instant) {
        if let Some(a) = self.paths[PathId::Serial.index()].attempt {
            self.attempt_result(now, PathId::Serial, a.id, None);
        }
        self.alarm(Severity::Warning, Reason::SerialDeviceMissing);
    }

    /// Rule `pause-is-a-restart` housekeeping: attempts in flight spanned the pause, so
    /// their verdicts say nothing about the peer; drop them and start over at once.
    pub(super) fn restart_attempts(&mut self, now: Instant) {
        for p in PathId::ALL {
            self.paths[p.index()].attempt = None;
            if self.path_active(p) {
                self.set_timer(Timer::Path(p), now);
            }
        }
    }
}
