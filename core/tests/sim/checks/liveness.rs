//! The liveness promise: a master's death in a healthy pair obliges the standby to
//! request promotion within `Checks::bound`. Faults and daemon crashes disturb it (and
//! the fenced-peer promise `Checks::end` checks), since they may change the outcome.

use twinbeat_core::{Instant, PathHealth, PathId, ReplicationMode, Role};

use super::Checks;
use crate::world::{Fault, Node, N};

/// A pending liveness promise: the standby must request promotion by `deadline`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Liveness {
    pub(super) id: u32,
    pub(super) standby: N,
    pub(super) promoted: bool,
    pub(super) disturbed: bool,
}

impl Checks {
    /// A daemon crashed: pending liveness promises no longer apply.
    pub(crate) fn disturb(&mut self) {
        if let Some(l) = self.liveness.as_mut() {
            l.disturbed = true;
        }
        if self.fenced_seen.is_some() {
            self.fenced_disturbed = true;
        }
    }

    /// Faults disturb pending liveness promises; a master's death starts one.
    pub(crate) fn on_fault(
        &mut self,
        now: Instant,
        f: &Fault,
        nodes: &[Node; 2],
    ) -> Option<(Instant, u32)> {
        // Frames lost or late after the deciding moment change nothing the checks
        // promise; anything else may legitimately change the outcome.
        if !matches!(
            f,
            Fault::Write(_) | Fault::SerialLoss(_) | Fault::SerialDelay(_)
        ) {
            if let Some(l) = self.liveness.as_mut() {
                l.disturbed = true;
            }
            if self.fenced_seen.is_some() {
                self.fenced_disturbed = true;
            }
        }
        let m = match *f {
            Fault::HostDeath(m) => m,
            Fault::NodeFreeze(m, d) if d > self.bound * 2 => m,
            _ => return None,
        };
        let s = 1 - m;
        let (master, standby) = (&nodes[m], &nodes[s]);
        let e = standby.engine.as_ref()?;
        let healthy = master.active()
            && master.role() == Some(Role::Primary)
            && standby.active()
            && e.role() == Role::Standby
            && standby.heard_peer
            && standby.db_running
            && standby.in_recovery
            && standby.gateway_ok
            && now.saturating_duration_since(standby.db_changed_at) > self.slack
            && now.saturating_duration_since(standby.gateway_changed_at) > self.slack
            && master.wal.saturating_sub(standby.wal) <= self.cfg.max_lag_on_failover
            && PathId::PEER
                .iter()
                .all(|p| e.path(*p).health == PathHealth::Up)
            && e.peer().is_some_and(|v| !v.state.fenced)
            // Rule `maintenance-pause`: a paused standby does not promote for lost paths.
            && e.maintenance().is_none()
            // Rule `sync-epoch`: a `strict` standby without a claim never promotes by
            // itself: promised only while its claim lasts until the promise's end.
            && (e.config().replication != ReplicationMode::Strict
                || e.holds_sync_claim(now + self.bound));
        if !healthy {
            return None;
        }
        self.next_id += 1;
        self.liveness = Some(Liveness {
            id: self.next_id,
            standby: s,
            promoted: false,
            disturbed: false,
        });
        Some((now + self.bound, self.next_id))
    }

    pub(crate) fn liveness_due(&mut self, id: u32, now: Instant, nodes: &[Node; 2]) {
        let Some(l) = self.liveness.filter(|l| l.id == id) else {
            return;
        };
        self.liveness = None;
        if l.disturbed || !nodes[l.standby].active() {
            return;
        }
        self.liveness_checked += 1;
        if !l.promoted {
            self.fail(
                now,
                format!(
                    "liveness: node {} did not request promotion within {:?} of the master's death",
                    l.standby, self.bound
                ),
            );
        }
    }
}
