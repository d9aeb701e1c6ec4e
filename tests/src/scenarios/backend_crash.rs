//! A backend of the master's PostgreSQL killed (as the OOM killer does): with
//! `restart_after_crash = off` the postmaster exits, the daemon sees it (it watches the
//! postmaster's PID) and restarts PostgreSQL at once with the start guard lifted for that
//! one start (rules `local-db-restart-once`, `start-guard`), so the primary comes back
//! writable instead of read-only behind the guard.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{cluster, log_lines, normal, quiet_window, stays, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::sampler::{DbObs, VipObs};

/// How long the scenario waits for a writable primary through the VIP again: the bound
/// of a wait, not a timing assertion (the time taken is reported).
const BACK_BOUND: Duration = Duration::from_secs(30);

/// Scenario 26: one backend of a's PostgreSQL SIGKILLed → a's daemon restarts PostgreSQL
/// writable; the VIP stays on a, b never promotes.
pub fn s26_master_backend_killed(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "26 a backend of the master's PostgreSQL killed",
        "a restarts it writable at once; the VIP stays on a; b does not promote",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    let before = lab.pg(Node::A).postmaster_pid();
    // The walsender streaming to b is a backend like any other. b's WAL receiver
    // reconnects once early on, when its daemon sets `primary_slot_name` (rule
    // `standby-slot`): wait for the walsender of the slot.
    let backend = crate::cmd::poll(Duration::from_secs(30), || {
        lab.sql(
            Node::A,
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'b' AND active",
        )
        .ok()
        .and_then(|rows| pgq::scalar(&rows).and_then(|p| p.parse::<i32>().ok()))
    });
    out.check(
        backend.is_some(),
        format!("a backend of a's PostgreSQL: {backend:?}"),
    );
    let Some(backend) = backend else {
        return Ok(out.finish(sampler, false));
    };
    sampler.mark("fault: one backend of a's PostgreSQL SIGKILLed");
    let killed = Instant::now();
    out.check(
        kill(Pid::from_raw(backend), Signal::SIGKILL).is_ok(),
        format!("backend {backend} killed"),
    );
    // Back: a's PostgreSQL writable with the VIP on a, as the sampler sees it; then a
    // write from the client through the VIP.
    let down = sampler.wait_for(Duration::from_secs(2), |s| s.a.db != DbObs::Primary);
    out.note(format!(
        "the sampler saw a's PostgreSQL down: {}",
        down.map_or("no (back within a tick)".into(), |s| format!(
            "{:?}",
            s.a.db
        ))
    ));
    let back = sampler.wait_for(BACK_BOUND, |s| {
        s.a.db == DbObs::Primary && s.a.vip == VipObs::Held
    });
    out.check(back.is_some(), "a primary with the VIP again");
    out.note(format!(
        "writable with the VIP {:?} after the kill (sampler)",
        killed.elapsed()
    ));
    let write = lab.sql_via_vip(
        "CREATE TABLE IF NOT EXISTS lab_crash (at timestamptz); \
         INSERT INTO lab_crash VALUES (now())",
        Duration::from_secs(2),
    );
    out.check(
        write.is_ok(),
        format!("a write through the VIP succeeds ({:?})", write.err()),
    );
    let after = lab.pg(Node::A).postmaster_pid();
    out.check(
        after.is_some() && after != before,
        format!("a's PostgreSQL restarted (postmaster {before:?} -> {after:?})"),
    );
    out.check(
        !log_lines(&lab, Node::A, &["local postmaster (PID"]).is_empty(),
        "a's daemon saw the postmaster exit",
    );
    out.check(
        lab.is_in_recovery(Node::A).is_ok_and(|r| !r),
        "a's PostgreSQL writable, not held read-only by the guard",
    );
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), format!("normal pair afterwards ({bad:?})"));
    let timeline = sampler.snapshot().timeline;
    out.check(
        timeline.iter().all(|e| !e.what.contains("b: db Primary")),
        "b never primary",
    );
    let b_held_vip = |what: &str| {
        what.split('|')
            .nth(1)
            .is_some_and(|b| b.contains("vip Held"))
    };
    out.check(
        timeline.iter().all(|e| !b_held_vip(&e.what)),
        "the VIP never on b",
    );
    Ok(out.finish(sampler, false))
}
