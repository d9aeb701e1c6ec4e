//! The maintenance pause (rule `maintenance-pause`): `twinbeat pause` on one node
//! pauses the pair, the other acknowledges it by carrying it back; an operator's
//! restart of the master's PostgreSQL then brings no fence and no promotion, the VIP
//! stays, and the master, back read-only under the start guard, re-opens on its
//! peer's evidence; `twinbeat resume` on the other node ends it for both.

use std::time::Duration;

use super::{cluster, log_lines, normal, quiet_window, stays, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::sampler::{DbObs, VipObs};

/// Bound of one operator command.
const COMMAND_BOUND: Duration = Duration::from_secs(20);

/// Scenario 32: pause on a, a's PostgreSQL stopped for longer than its detection and
/// restart grace, then started again by the operator; resume on b.
pub fn s32_pause_through_a_master_db_restart(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "32 maintenance pause through the master's PostgreSQL restart",
        "no fence, no promotion, the VIP stays on a; a re-opens its DB; resume on b ends it on both",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    let (code, said) = lab.operator(Node::A, &["pause"], COMMAND_BOUND)?;
    out.check(
        code == Some(0),
        format!("twinbeat pause on a: {}", said.trim()),
    );
    let acked = crate::cmd::poll(Duration::from_secs(10), || {
        let a = lab.daemon_status(Node::A).ok()?;
        let b = lab.daemon_status(Node::B).ok()?;
        (a["maintenance"]["peer_acknowledged"] == true && b["maintenance"]["by"] == "the peer")
            .then_some(())
    });
    out.check(acked.is_some(), "b paused too, and a sees it acknowledged");
    sampler.mark("operator: a's PostgreSQL stopped");
    lab.stop_pg(Node::A)?;
    // Longer than a's local DB detection plus its restart grace, and than b's
    // detection on every path it can lose.
    let window = quiet_window(ctx.profile) + Duration::from_secs(12);
    let bad = stays(&sampler, window, |s| {
        s.a.vip == VipObs::Held && s.b.db == DbObs::Standby && s.b.vip == VipObs::Absent
    });
    out.check(
        bad.is_none(),
        format!("no promotion, the VIP stays on a for {window:?} ({bad:?})"),
    );
    let a = lab.daemon_status(Node::A).ok();
    out.check(
        a.as_ref()
            .is_some_and(|s| s["role"] == "primary" && s["fenced"] == false),
        "a neither fenced nor held",
    );
    out.check(
        log_lines(&lab, Node::A, &["decision RestartDb", "decision Fence"]).is_empty(),
        "a ordered no restart and no fence",
    );
    out.check(
        !log_lines(&lab, Node::A, &["decision Maintenance: LocalDbUnhealthy"]).is_empty(),
        "a logged the restart the pause held back",
    );
    sampler.mark("operator: a's PostgreSQL started (read-only under the start guard)");
    lab.start_pg(Node::A)?;
    let back = sampler.wait_for(Duration::from_secs(30), normal);
    out.check(
        back.is_some(),
        "a re-opened its DB and serves again with the VIP",
    );
    out.check(
        !log_lines(&lab, Node::A, &["decision Hold: ReadOnlyInMaintenance"]).is_empty(),
        "a held on its read-only DB, then re-opened it",
    );
    let (code, said) = lab.operator(Node::B, &["resume"], COMMAND_BOUND)?;
    out.check(
        code == Some(0),
        format!("twinbeat resume on b: {}", said.trim()),
    );
    let over = crate::cmd::poll(Duration::from_secs(10), || {
        let a = lab.daemon_status(Node::A).ok()?;
        let b = lab.daemon_status(Node::B).ok()?;
        (a["maintenance"].is_null() && b["maintenance"].is_null()).then_some(())
    });
    out.check(over.is_some(), "the pause ended on both nodes");
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), format!("the pair stays normal ({bad:?})"));
    Ok(out.finish(sampler, false))
}
