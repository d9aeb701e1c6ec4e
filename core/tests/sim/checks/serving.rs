//! The liveness invariant of rule `hold-needs-evidence` ("every hold has an exit"):
//! whenever one node is healthy and not fenced and the two nodes can reach each other
//! on a path that carries state, a writable primary holding the VIP exists within
//! [`serving_bound`] — checked after every step of every schedule.
//!
//! "Reach each other" means the remote DB path or the serial path works both ways:
//! ICMP alone carries no state, so a node in hold that only pings its peer has no
//! evidence and waits for the operator (excluded, as the design says). Both daemons
//! must be running: a node without its daemon is outside every rule. Also excluded:
//! the degraded-pair disarm of rule `all-paths-down-together` (it needs every peer
//! path down, so it never meets the reachability condition), and a hold the engine
//! itself reports as waiting for the operator (`Engine::hold_releasable`).

use std::time::Duration;

use twinbeat_core::{Config, Instant, ReplicationMode};

use super::Checks;
use crate::world::Node;

/// The longest one side effect takes in the simulated world (a restart: 50 ms; the
/// others less). In a real pair each effect's own window stands in its place
/// (`restart_window`, `STOP_GRACE + KILL_GRACE`, `PROMOTE_WINDOW`).
pub(crate) const EFFECT: Duration = Duration::from_millis(50);

/// The longest a healthy, reachable pair may go without a serving primary, as a
/// formula of the configured timings (`effect`: the longest one side effect takes).
/// The slowest thing that can stand between the two is a master whose database fails
/// for good, or whose gateway is lost, while the standby is fit:
///
/// - its local DB path goes down, `local_db.interval + local_db.retries × timeout`,
///   and its one restart does not help by the end of `restart_grace`; or its gateway
///   goes down and the settle time of rule `fence-when-standby-can-take-over` runs out,
///   `gateway.interval + gateway.retries × timeout + serial.interval +
///   serial.timeout` — whichever is longer;
/// - it fences (stop, release, persist: three effects) and "fenced" reaches the
///   standby in the next frame, `serial.timeout`;
/// - the standby's fresh checks answer, `max(local_db, gateway, ARP) timeouts`, and it
///   promotes (persist, promote: two effects);
/// - the VIP: at most three failed adds in the simulated world, retried after
///   `gateway.interval × (1 + 2 + 4)`, then one more effect;
/// - and at most one failed side effect retried, `gateway.interval + effect`.
pub(crate) fn serving_bound(cfg: &Config, effect: Duration) -> Duration {
    let local = cfg.local_db.interval + cfg.local_db.detection_time() + cfg.restart_grace;
    let gateway = cfg.gateway.interval
        + cfg.gateway.detection_time()
        + cfg.serial.interval
        + cfg.serial.timeout;
    let fence = effect * 3 + cfg.serial.timeout;
    let fresh = cfg
        .local_db
        .timeout
        .max(cfg.gateway.timeout)
        .max(cfg.arp_probe_timeout);
    let promote = fresh + effect * 2;
    let vip = cfg.gateway.interval * 7 + effect;
    let one_retry = cfg.gateway.interval + effect;
    local.max(gateway) + fence + promote + vip + one_retry
}

/// Whether some node serves: its database writable and the VIP on it.
fn serving(nodes: &[Node; 2]) -> bool {
    nodes
        .iter()
        .any(|n| n.alive && !n.node_frozen && n.db_running && !n.in_recovery && n.vip)
}

impl Checks {
    /// Whether the invariant's condition holds: both hosts up, a state-carrying path
    /// working both ways, and a healthy node (daemon running, database up, gateway
    /// up, never fenced; a replica also within `max_lag_on_failover`).
    fn serving_owed(&self, now: Instant, nodes: &[Node; 2]) -> bool {
        // Both daemons run: a node whose daemon is down (or not yet started) is outside
        // every rule, and its writable DB keeps the peer from promoting.
        if !nodes
            .iter()
            .all(|n| n.alive && !n.node_frozen && n.engine.is_some())
            || !self.reach
        {
            return false;
        }
        // A maintenance pause holds back the rules that would make a node serve (rule
        // `maintenance-pause`): nothing is owed while either node is paused.
        if nodes
            .iter()
            .any(|n| n.engine.as_ref().is_some_and(|e| e.maintenance().is_some()))
        {
            return false;
        }
        if nodes
            .iter()
            .any(|n| n.engine.as_ref().is_some_and(|e| e.hold_releasable()))
        {
            return false; // waits for the operator, by design
        }
        (0..2).any(|i| {
            let n = &nodes[i];
            let lag = nodes[1 - i].wal.saturating_sub(n.wal);
            n.active()
                && n.db_running
                && !n.db_broken
                && n.gateway_ok
                && !self.ever_fenced[i]
                && (!n.in_recovery || lag <= self.cfg.max_lag_on_failover)
                // Rule `sync-epoch`: a `strict` standby without a claim never promotes
                // by itself.
                && (!n.in_recovery
                    || self.cfg.replication != ReplicationMode::Strict
                    || n.engine.as_ref().is_some_and(|e| e.holds_sync_claim(now)))
        })
    }

    /// After every step: the condition has held for longer than the bound since the
    /// last moment something served (or since it began to hold).
    pub(super) fn check_serving(&mut self, now: Instant, nodes: &[Node; 2]) {
        if serving(nodes) {
            self.serving_at = Some(now);
        }
        if !self.serving_owed(now, nodes) {
            self.owed_since = None;
            self.window_counted = false;
            return;
        }
        let since = *self.owed_since.get_or_insert(now);
        if now.saturating_duration_since(since) > self.serving_bound && !self.window_counted {
            // The condition outlasted the bound: this episode really tested the promise.
            self.window_counted = true;
            self.serving_windows += 1;
        }
        let from = self.serving_at.map_or(since, |s| s.max(since));
        if now.saturating_duration_since(from) > self.serving_bound {
            self.fail(
                now,
                format!(
                    "liveness: a healthy, reachable pair without a serving primary for over {:?} (roles {:?} / {:?})",
                    self.serving_bound,
                    nodes[0].role(),
                    nodes[1].role()
                ),
            );
        }
    }
}
