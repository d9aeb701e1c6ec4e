//! Rule `sync-epoch`'s promises, in `sync` and `strict` mode: a commit acknowledged
//! while the primary's names waited for its standby is never lost by a promotion;
//! the primary stops waiting for its standby only once that standby holds no claim;
//! and in `strict`, once the standby was first named, no commit is acknowledged
//! without it.

use twinbeat_core::{Instant, ReplicationMode, Role};

use super::Checks;
use crate::world::{Node, N};

impl Checks {
    /// A commit on `n` was acknowledged: `named` if its names waited for the standby
    /// (which has it).
    pub(crate) fn on_commit(&mut self, now: Instant, n: N, named: bool, nodes: &[Node; 2]) {
        let me = &nodes[n];
        if named {
            self.named_once = true;
            self.sync_commits += 1;
            match self.sync_acked.iter_mut().find(|(t, _)| *t == me.timeline) {
                Some((_, lsn)) => *lsn = (*lsn).max(me.wal),
                None => self.sync_acked.push((me.timeline, me.wal)),
            }
        } else if self.cfg.replication == ReplicationMode::Strict && self.named_once {
            self.fail(
                now,
                format!(
                    "strict: node {n} acknowledged a commit at {} without its standby",
                    me.wal
                ),
            );
        }
    }

    /// Node `n` left recovery: every commit acknowledged synchronously on the line it
    /// followed must be in its WAL.
    pub(crate) fn on_promoted(&mut self, now: Instant, n: N, nodes: &[Node; 2]) {
        let me = &nodes[n];
        let followed = me.timeline - 1;
        let lost: Vec<(u32, u64)> = self
            .sync_acked
            .iter()
            .copied()
            .filter(|(t, lsn)| *t > followed || (*t == followed && *lsn > me.wal))
            .collect();
        if !lost.is_empty() {
            self.fail(
                now,
                format!(
                    "sync: node {n} promoted at {} on timeline {followed}, without commits acknowledged synchronously at {lost:?} (timeline, end)",
                    me.wal
                ),
            );
        }
    }

    /// Primary `n` stopped waiting for its standby: that standby must hold no claim.
    pub(crate) fn on_names_cleared(&mut self, now: Instant, n: N, nodes: &[Node; 2]) {
        let (me, other) = (&nodes[n], &nodes[1 - n]);
        let (Some(e), Some(o)) = (me.engine.as_ref(), other.engine.as_ref()) else {
            return;
        };
        if e.role() == Role::Primary && o.term() == e.term() && o.holds_sync_claim(now) {
            self.fail(
                now,
                format!(
                    "sync: node {n} cleared its names while its standby holds a synchronous claim"
                ),
            );
        }
    }
}
