//! The operator's commands from the control socket, carried out on the engine. The
//! engine decides whether each is accepted; its reason goes back to the operator.

use super::Driver;
use crate::control::{Command, Operation};

impl Driver {
    /// Carries out `op` and answers it once the engine's resulting actions are
    /// drained, so the answer tells the role they lead to.
    pub(super) fn on_operation(&mut self, op: Operation) {
        let answer = match op.command {
            Command::ReleaseHold => {
                let now = self.now();
                match self.engine.release_hold(now) {
                    Ok(()) => {
                        self.drain();
                        let done = format!(
                            "hold released: now {} in term {}",
                            self.engine.role().name(),
                            self.engine.term()
                        );
                        tracing::warn!("operator ({}): {done}", op.caller);
                        Ok(done)
                    }
                    Err(why) => {
                        tracing::warn!(
                            "operator ({}): release of the hold refused: {why}",
                            op.caller
                        );
                        Err(why.to_string())
                    }
                }
            }
            Command::Pause(duration) => {
                let now = self.now();
                self.pause_by = op.caller.clone();
                self.engine.pause(now, duration);
                self.drain();
                let acked = self
                    .engine
                    .maintenance()
                    .is_some_and(|m| m.peer_acknowledged);
                let done = format!(
                    "paused {}: no promotion, no fence, no PostgreSQL restart for health on this node; {}",
                    duration.map_or_else(
                        || "until `twinbeat resume`".to_owned(),
                        |d| format!("for {}s (or until `twinbeat resume`)", d.as_secs())
                    ),
                    if acked {
                        "the peer is paused too"
                    } else {
                        "the peer pauses once it hears it over serial (`twinbeat status` shows whether it has)"
                    }
                );
                tracing::warn!("operator ({}): {done}", op.caller);
                Ok(done)
            }
            Command::Unpause => {
                let now = self.now();
                match self.engine.unpause(now) {
                    Ok(()) => {
                        self.drain();
                        let done = "resumed: the rules act again on this node, and on the peer once it hears it".to_owned();
                        tracing::warn!("operator ({}): {done}", op.caller);
                        Ok(done)
                    }
                    Err(why) => Err(why.to_string()),
                }
            }
            Command::Rejoin { reclone } => {
                let now = self.now();
                match self.engine.request_rejoin(now, reclone) {
                    Ok(term) => {
                        self.drain();
                        let done = format!(
                            "rejoin started: this node becomes the standby of the peer, primary in term {term}{}; what the old timeline held past the fork is saved under {} first",
                            if reclone { ", rebuilt with pg_basebackup" } else { "" },
                            self.cfg.state_dir.join("rejoin").display()
                        );
                        tracing::warn!("operator ({}): {done}", op.caller);
                        Ok(done)
                    }
                    Err(why) => {
                        tracing::warn!("operator ({}): rejoin refused: {why}", op.caller);
                        Err(why.to_string())
                    }
                }
            }
            Command::Switchover => {
                let now = self.now();
                let primary = self.engine.role() == twinbeat_core::Role::Primary;
                match self.engine.request_switchover(now) {
                    Ok(term) => {
                        self.drain();
                        let done = if primary {
                            format!("switchover started: this primary hands term {term} over; it stops its PostgreSQL cleanly, the standby promotes once it has replayed the final LSN, and this node follows it")
                        } else {
                            format!("switchover requested: the master of term {term} hears it over serial and hands over to this node (or refuses: its log and `twinbeat status` say why)")
                        };
                        tracing::warn!("operator ({}): {done}", op.caller);
                        Ok(done)
                    }
                    Err(why) => {
                        tracing::warn!("operator ({}): switchover refused: {why}", op.caller);
                        Err(why.to_string())
                    }
                }
            }
        };
        // The caller may have given up waiting; the log has the outcome.
        let _ = op.reply.send(answer);
    }
}
