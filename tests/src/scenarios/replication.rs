//! Replication: synchronous replication loses no acknowledged commit across a failover.

use std::time::Duration;

use super::{b_promoted, cluster, takeover_deadline, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;

/// Scenario 17: Synchronous replication, a client committing continuously and logging each
/// acknowledged commit → after scenario 1, no acknowledged commit is missing on b.
pub fn s17_sync_no_lost_commit(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "17 synchronous replication, master death",
        "no acknowledged commit missing on b",
    );
    let (lab, sampler) = cluster(ctx, PgOptions { synchronous: true })?;
    lab.sql(Node::A, "CREATE TABLE lab_commits (n bigint PRIMARY KEY)")?;
    let acked = crate::writer::commit_until_failure(&lab, Node::A, Duration::from_secs(3), || {
        let _ = lab.kill_node(Node::A);
    });
    sampler.mark("a died under load");
    out.check(
        b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some(),
        "b promoted",
    );
    let rows = lab.sql(Node::B, "SELECT n FROM lab_commits")?;
    let on_b: std::collections::HashSet<i64> = rows
        .iter()
        .filter_map(|r| r[0].as_deref()?.parse().ok())
        .collect();
    let missing: Vec<i64> = acked
        .iter()
        .copied()
        .filter(|n| !on_b.contains(n))
        .collect();
    out.check(
        !acked.is_empty(),
        format!("{} commits acknowledged", acked.len()),
    );
    out.check(
        missing.is_empty(),
        format!("acknowledged commits missing on b: {missing:?}"),
    );
    Ok(out.finish(sampler, false))
}
