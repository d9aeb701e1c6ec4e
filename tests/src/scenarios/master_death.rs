//! Master death: a dies while b is fit (b takes over) or unfit (b must not).

use std::time::Duration;

use super::{
    b_not_promoted, cluster, hook_line, kill_master_and_check_takeover, log_lines, quiet_window,
    stays, Ctx, Outcome,
};
use crate::error::Result;
use crate::faults::Fault;
use crate::netns::Node;
use crate::pg::PgOptions;

/// Scenario 1: Master host death (link down, PostgreSQL stopped immediate, serial cut) → b promoted,
/// VIP on b.
pub fn s01_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new("1 master host death", "b promoted, VIP on b");
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a dies (cable out, daemon killed, PostgreSQL stopped, serial cut)");
    kill_master_and_check_takeover(ctx, &lab, &sampler, &mut out)?;
    // `[hooks] on_role_change`, a real `sh -c` run with the event in its environment.
    let hook = hook_line(
        &lab,
        Node::B,
        &[
            "event=role_change",
            "role=primary",
            "reason=all_paths_down_together",
            "peer=a",
        ],
        Duration::from_secs(10),
    );
    out.check(
        hook.is_some(),
        format!("b's on_role_change hook ran: {hook:?}"),
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 9: b's own PostgreSQL broken so that its restart fails, then master death → no promotion,
/// a critical log.
pub fn s09_standby_db_broken_then_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "9 standby's DB broken, then master death",
        "no promotion; a critical log on b",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.break_pg(Node::B)?;
    lab.kill_pg(Node::B);
    sampler.mark("fault: b's PostgreSQL broken and killed");
    // Give b's daemon time to try its one restart and give up (restart_grace).
    std::thread::sleep(quiet_window(ctx.profile));
    sampler.mark("fault: a dies");
    lab.kill_node(Node::A)?;
    let bad = stays(&sampler, quiet_window(ctx.profile), b_not_promoted);
    out.check(bad.is_none(), "b did not promote");
    let crit = log_lines(&lab, Node::B, &["critical", "error"]);
    out.check(
        !crit.is_empty(),
        format!("b logged critically ({} lines)", crit.len()),
    );
    let hook = hook_line(
        &lab,
        Node::B,
        &["event=alarm", "severity=critical"],
        Duration::from_secs(10),
    );
    out.check(hook.is_some(), format!("b's on_alarm hook ran: {hook:?}"));
    Ok(out.finish(sampler, false))
}

/// Scenario 10: b's own gateway unreachable, then master death → no promotion.
pub fn s10_standby_gateway_lost_then_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "10 standby's gateway lost, then master death",
        "no promotion",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.apply(Fault::DropGateway(Node::B))?;
    sampler.mark("fault: b loses its gateway");
    std::thread::sleep(quiet_window(ctx.profile) / 2);
    sampler.mark("fault: a dies");
    lab.kill_node(Node::A)?;
    let bad = stays(&sampler, quiet_window(ctx.profile), b_not_promoted);
    out.check(bad.is_none(), "b did not promote");
    Ok(out.finish(sampler, false))
}
