//! Restarts and returns: the old master back, the standby's daemon killed mid-promotion, a cold start.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::{
    b_not_promoted, b_promoted, cluster, normal, quiet_window, startup_grace, stays,
    takeover_deadline, Ctx, Outcome,
};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::relay::Dir;
use crate::sampler::{DbObs, VipObs};

/// Scenario 13: The old master comes back after a death → it does not become primary; the VIP stays
/// on b.
pub fn s13_old_master_returns(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "13 old master returns",
        "a does not become primary; VIP stays on b",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.kill_node(Node::A)?;
    sampler.mark("fault: a dies");
    out.check(
        b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some(),
        "b promoted",
    );
    sampler.mark("a reboots (PostgreSQL and daemon start)");
    lab.revive_node(Node::A)?;
    let settled = sampler.wait_for(Duration::from_secs(30), |s| {
        s.a.db != DbObs::Primary && s.b.db == DbObs::Primary && s.b.vip == VipObs::Held
    });
    out.check(settled.is_some(), "a not primary, b primary with the VIP");
    let bad = stays(&sampler, quiet_window(ctx.profile), |s| {
        s.a.db != DbObs::Primary && s.b.vip == VipObs::Held
    });
    out.check(bad.is_none(), "stays so");
    Ok(out.finish(sampler, false))
}

/// Scenario 14: b's daemon killed with SIGKILL during promotion and restarted → one promotion, term
/// persisted, consistent state.
pub fn s14_standby_daemon_killed_while_promoting(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "14 standby's daemon killed while promoting",
        "one promotion; term persisted; consistent state after restart",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.kill_node(Node::A)?;
    sampler.mark("fault: a dies");
    let state_dir = lab.dir.join("b").join("state");
    let read_state = || crate::daemon::persisted_state(&state_dir).unwrap_or_default();
    // The term b claimed in "promoting" (rule `promotion-order` persists it before pg_promote).
    let saw = crate::cmd::wait_for(
        "b promoting",
        takeover_deadline(ctx.profile),
        Duration::from_millis(1),
        || {
            let st = read_state();
            let promoting = st["state"].as_str() == Some("promoting");
            let writable = lab.is_in_recovery(Node::B).is_ok_and(|r| !r);
            (promoting || writable).then(|| st["term"].as_u64().filter(|_| promoting))
        },
    );
    out.check(
        matches!(saw, Ok(Some(_))),
        format!("caught b promoting (the term it claimed: {saw:?})"),
    );
    let claimed = saw.ok().flatten().unwrap_or(1);
    lab.signal_daemon(Node::B, Signal::SIGKILL);
    sampler.mark("b's daemon SIGKILLed; restarting it");
    std::thread::sleep(Duration::from_millis(200));
    lab.start_daemon(Node::B)?;
    // Restarted, b has not heard a since: it waits out `startup_grace` before it may
    // promote again (rule `startup-grace`), like a standby booting after a power cut.
    out.check(
        b_promoted(
            &sampler,
            startup_grace(ctx.profile) + takeover_deadline(ctx.profile),
        )
        .is_some(),
        "b primary with the VIP",
    );
    // One pg_promote: timeline 1 → 2 (the WAL file name starts with the timeline).
    let wal = lab.sql(Node::B, "SELECT pg_walfile_name(pg_current_wal_lsn())");
    let timeline = wal
        .ok()
        .and_then(|r| pgq::scalar(&r).and_then(|w| u32::from_str_radix(w.get(..8)?, 16).ok()));
    out.check(
        timeline == Some(2),
        format!("one promotion: b on timeline {timeline:?}"),
    );
    // Rule `promotion-order`: a restart that finds PostgreSQL out of recovery finishes in the claimed
    // term; one that finds it still in recovery re-evaluates as a standby and, promoting
    // again, claims the next term (a claimed term is never reused).
    let st = read_state();
    let term = st["term"].as_u64();
    out.check(
        st["state"].as_str() == Some("primary")
            && (term == Some(claimed) || term == Some(claimed + 1)),
        format!("persisted: primary in term {term:?} (claimed {claimed} while promoting)"),
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 19: Cold start: b's PostgreSQL and daemon start first while a stays down → no promotion
/// during `startup_grace`; a starts → normal pair. (With a never returning, b promoting after
/// the grace is the second half; see `s19_cold_start` output.)
pub fn s19_cold_start(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "19 cold start, b first",
        "no promotion during startup_grace; then a normal pair",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    // Power cut: everything down, VIP gone from a (addresses do not survive it).
    for n in Node::BOTH {
        lab.stop_daemon(n, Duration::from_secs(5));
    }
    lab.kill_node(Node::A)?;
    lab.stop_pg(Node::B)?;
    lab.topo
        .set_addr(Node::A.host(), lab.topo.vip(), false)
        .ok();
    sampler.mark("power back on b only");
    lab.relay()?.restore(Dir::Both)?;
    lab.start_pg(Node::B)?;
    lab.start_daemon(Node::B)?;
    let grace = match ctx.profile {
        crate::daemon::Profile::Default => Duration::from_secs(50),
        crate::daemon::Profile::Fast => Duration::from_secs(8),
    };
    let bad = stays(&sampler, grace, b_not_promoted);
    out.check(
        bad.is_none(),
        format!("b did not promote within {grace:?} of its start"),
    );
    sampler.mark("a powers on");
    lab.revive_node(Node::A)?;
    let ok = sampler.wait_for(Duration::from_secs(60), normal);
    out.check(ok.is_some(), "normal pair");
    Ok(out.finish(sampler, false))
}
