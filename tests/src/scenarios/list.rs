//! Scenarios 1–11.

use std::time::{Duration, Instant};

use super::{
    b_not_promoted, cluster, kill_master_and_check_takeover, log_lines, normal, quiet_window,
    stays, takeover_deadline, watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::faults::Fault;
use crate::lab::Freeze;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::relay::Dir;
use crate::sampler::{DbObs, VipObs};

pub use super::list2::*;

/// Runs a "no promotion" scenario: healthy pair, `inject`, watch the quiet window, `lift`.
fn no_promotion(
    ctx: &Ctx,
    name: &str,
    inject: impl FnOnce(&crate::Lab) -> Result<()>,
    warn_words: &[&str],
) -> Result<Outcome> {
    let mut out = Outcome::new(
        name,
        "no promotion; a keeps the VIP; the degradation is logged",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault injected");
    inject(&lab)?;
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(
        bad.is_none(),
        format!(
            "pair unchanged for {:?} ({bad:?})",
            quiet_window(ctx.profile)
        ),
    );
    if !warn_words.is_empty() {
        let lines = log_lines(&lab, Node::B, warn_words);
        out.check(
            !lines.is_empty(),
            format!(
                "b logged it ({} lines matching {warn_words:?})",
                lines.len()
            ),
        );
    }
    Ok(out.finish(sampler, false))
}

/// Scenario 1: Master host death (link down, PostgreSQL stopped immediate, serial cut) → b promoted,
/// VIP on b.
pub fn s01_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new("1 master host death", "b promoted, VIP on b");
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a dies (cable out, daemon killed, PostgreSQL stopped, serial cut)");
    kill_master_and_check_takeover(ctx, &lab, &sampler, &mut out)?;
    Ok(out.finish(sampler, false))
}

/// Scenario 2: Only ICMP from b to a dropped → no promotion, a warning.
pub fn s02_icmp_dropped(ctx: &Ctx) -> Result<Outcome> {
    no_promotion(
        ctx,
        "2 ICMP b→a dropped",
        |lab| {
            lab.apply(Fault::DropIcmp {
                from: Node::B,
                to: Node::A,
            })
        },
        &["icmp"],
    )
}

/// Scenario 3: Only b's connections to a's PostgreSQL dropped → no promotion.
pub fn s03_remote_db_dropped(ctx: &Ctx) -> Result<Outcome> {
    no_promotion(
        ctx,
        "3 b→a PostgreSQL port dropped",
        |lab| {
            lab.apply(Fault::DropPostgres {
                from: Node::B,
                to: Node::A,
            })
        },
        &["remote_db", "remote db"],
    )
}

/// Scenario 4: Only the serial cable cut → no promotion.
pub fn s04_serial_cut(ctx: &Ctx) -> Result<Outcome> {
    no_promotion(
        ctx,
        "4 serial cable cut",
        |lab| lab.relay()?.cut(Dir::Both),
        &["serial"],
    )
}

/// Scenario 5: All IP between a and b dropped, both still reach the gateway, serial up → no promotion.
pub fn s05_ip_partition(ctx: &Ctx) -> Result<Outcome> {
    no_promotion(
        ctx,
        "5 IP partition between a and b, serial up",
        |lab| lab.apply(Fault::DropAllIpBetweenNodes),
        &["icmp"],
    )
}

/// Scenario 6: a's network gone (link down) → a fences itself (DB stopped, VIP released, `fenced`
/// over serial) → b promotes through the fast handover.
pub fn s06_master_network_gone(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "6 master's network gone",
        "a fences (DB stopped, VIP released, fenced over serial); b promotes",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a's cable out");
    let t0 = Instant::now();
    lab.set_link(Node::A, false)?;
    let t = watch_takeover(&lab, t0, takeover_deadline(ctx.profile) * 2);
    out.check(t.a_down.is_some(), "a stopped its PostgreSQL (fenced)");
    out.check(t.b_writable.is_some(), "b writable");
    if let (Some(down), Some(w)) = (t.a_down, t.b_writable) {
        out.note(format!(
            "fence handover (a's DB down → b writable): {:.0} ms",
            w.saturating_sub(down).as_secs_f64() * 1000.0
        ));
    }
    out.takeover = Some(t);
    let released = sampler.wait_for(Duration::from_secs(10), |s| s.a.vip == VipObs::Absent);
    out.check(released.is_some(), "a released the VIP");
    out.check(
        !log_lines(&lab, Node::A, &["fence"]).is_empty(),
        "a logged its fence",
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 7: a's PostgreSQL killed once → a restarts it, b does not promote, the VIP stays on a.
pub fn s07_master_db_killed_once(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "7 master's PostgreSQL killed once",
        "a restarts it; no promotion; VIP stays on a",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a's postmaster SIGKILLed");
    out.check(lab.kill_pg(Node::A), "a's postmaster killed");
    let down = sampler.wait_for(Duration::from_secs(5), |s| s.a.db != DbObs::Primary);
    out.check(down.is_some(), "sampler saw a's DB go down");
    let back = sampler.wait_for(Duration::from_secs(60), |s| s.a.db == DbObs::Primary);
    out.check(back.is_some(), "a's daemon restarted it");
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), format!("normal pair afterwards ({bad:?})"));
    out.check(
        sampler
            .snapshot()
            .timeline
            .iter()
            .all(|e| !e.what.contains("b: db Primary")),
        "b never primary",
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 8: a's PostgreSQL cannot start again → a stops it and fences → b promotes.
pub fn s08_master_db_cannot_start(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "8 master's PostgreSQL cannot start",
        "a stops it and fences; b promotes",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.break_pg(Node::A)?;
    sampler.mark("fault: a's postgresql.conf broken, postmaster SIGKILLed");
    let t0 = Instant::now();
    lab.kill_pg(Node::A);
    let t = watch_takeover(&lab, t0, Duration::from_secs(90));
    out.check(t.b_writable.is_some(), "b writable");
    out.check(t.vip_on_b.is_some(), "VIP answering from b");
    out.takeover = Some(t);
    out.check(
        !log_lines(&lab, Node::A, &["fence"]).is_empty(),
        "a logged its fence",
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

/// Scenario 11: a's daemon frozen (SIGSTOP) 10 s → no promotion; it recovers after SIGCONT.
pub fn s11_master_daemon_frozen(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "11 master's daemon frozen 10 s",
        "no promotion; a recovers after SIGCONT",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a's daemon SIGSTOP");
    let n = lab.freeze(Node::A, Freeze::Daemon, true);
    out.check(n >= 1, format!("{n} processes stopped"));
    let bad = stays(&sampler, Duration::from_secs(10), normal);
    lab.freeze(Node::A, Freeze::Daemon, false);
    sampler.mark("a's daemon SIGCONT");
    out.check(
        bad.is_none(),
        format!("pair unchanged while frozen ({bad:?})"),
    );
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), "pair unchanged after thaw");
    out.check(lab.daemon(Node::A).is_some(), "a's daemon still running");
    Ok(out.finish(sampler, false))
}
