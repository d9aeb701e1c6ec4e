//! The checks on a promotion request: rules `all-paths-down-together` to `startup-grace` at the moment the standby decides.

use twinbeat_core::{DecisionKind, Instant, PathHealth, PathId, Reason};

use super::Checks;
use crate::world::{Node, N};

impl Checks {
    /// Rules `all-paths-down-together`, `fresh-checks`, `fenced-peer-hands-over` and `startup-grace` at the moment a promotion is requested.
    pub(super) fn check_promotion(&mut self, now: Instant, n: N, nodes: &[Node; 2]) {
        let me = &nodes[n];
        let Some(e) = me.engine.as_ref() else { return };
        let Some(d) = e
            .last_decision()
            .filter(|d| d.kind == DecisionKind::Promote)
        else {
            self.fail(now, "promotion without a Promote decision".into());
            return;
        };
        let o = 1 - n;
        match d.reason {
            Reason::PeerFenced => {
                if !self.fenced_sent[o] {
                    self.fail(
                        now,
                        format!("node {n} promotes on a fenced flag never sent"),
                    );
                }
            }
            Reason::PeerFencing => {
                if !self.fencing_published[o] {
                    self.fail(
                        now,
                        format!("node {n} promotes on a fencing never published"),
                    );
                }
            }
            Reason::AllPathsDownTogether | Reason::AllPathsDownDegraded => {
                let mut first = None::<Instant>;
                let mut last = None::<Instant>;
                for (i, p) in PathId::PEER.iter().enumerate() {
                    let st = e.path(*p);
                    if st.health != PathHealth::Down {
                        self.fail(
                            now,
                            format!("node {n} promotes while {} is {:?}", p.name(), st.health),
                        );
                    }
                    if let Some(s) = st.down_since {
                        first = Some(first.map_or(s, |f| f.min(s)));
                        last = Some(last.map_or(s, |l| l.max(s)));
                    }
                    if let Some(s) = self.up_since[n][i] {
                        if now.saturating_duration_since(s) > self.slack {
                            self.fail(
                                now,
                                format!(
                                    "node {n} promotes while {} has truly been up since {}",
                                    p.name(),
                                    s.as_micros()
                                ),
                            );
                        }
                    }
                }
                if let (Some(f), Some(l)) = (first, last) {
                    let spread = l.saturating_duration_since(f);
                    if spread > self.cfg.effective_failure_window()
                        && !self.cfg.promote_when_degraded
                    {
                        self.fail(
                            now,
                            format!("node {n} promotes on a degraded pair (spread {spread:?})"),
                        );
                    }
                }
            }
            Reason::Switchover => {
                // Rule `planned-switchover`: only on a final LSN the master offered,
                // replayed past it, nothing the master wrote missing, and the master's
                // PostgreSQL not writable.
                self.switchovers += 1;
                let other = &nodes[o];
                match self.final_lsn_sent[o] {
                    None => self.fail(
                        now,
                        format!("node {n} promotes for a switchover never offered"),
                    ),
                    Some(lsn) if me.wal <= lsn => self.fail(
                        now,
                        format!(
                            "node {n} promotes at {} before replaying past {lsn}",
                            me.wal
                        ),
                    ),
                    Some(_) => {}
                }
                if other.wal > me.wal && other.timeline <= me.timeline {
                    self.fail(
                        now,
                        format!(
                            "node {n}'s switchover loses {} bytes the master wrote",
                            other.wal - me.wal
                        ),
                    );
                }
                if other.alive && other.db_running && !other.in_recovery {
                    self.fail(
                        now,
                        format!(
                            "node {n} promotes for a switchover while the master's DB is writable"
                        ),
                    );
                }
            }
            r => self.fail(now, format!("promotion with reason {r:?}")),
        }
        let tolerance = self.slack;
        let db_settled = now.saturating_duration_since(me.db_changed_at) > tolerance;
        if db_settled && !(me.db_running && me.in_recovery) {
            self.fail(
                now,
                format!(
                    "node {n} promotes with DB running={} in_recovery={}",
                    me.db_running, me.in_recovery
                ),
            );
        }
        let gw_settled = now.saturating_duration_since(me.gateway_changed_at) > tolerance;
        if gw_settled && !me.gateway_ok {
            self.fail(now, format!("node {n} promotes with its gateway down"));
        }
        // Rule `sync-epoch`: a standby holding a synchronous claim has every commit
        // the master acknowledged, whatever the lag (`checks/sync.rs` checks that).
        if let Some(v) = e.peer().filter(|_| !e.holds_sync_claim(now)) {
            let lag = v.state.wal_lsn.saturating_sub(me.wal);
            if lag > self.cfg.max_lag_on_failover {
                self.fail(now, format!("node {n} promotes with lag {lag}"));
            }
        }
        if !me.heard_peer && now < me.started_at + self.cfg.startup_grace {
            self.fail(
                now,
                format!("node {n} promotes within startup grace without hearing the master"),
            );
        }
    }
}
