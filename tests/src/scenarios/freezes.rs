//! Freezes and pauses: SIGSTOPped daemons and machines, and a paused VM.

use std::time::{Duration, Instant};

use super::{
    b_not_promoted, cluster, log_lines, normal, quiet_window, stays, takeover_deadline,
    watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::lab::Freeze;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::sampler::{DbObs, VipObs};

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
    // Thawed, a's timers fire 10 s late: a pause, which it treats as a restart (rule
    // `pause-is-a-restart`): it drops the VIP and holds until it hears b, then takes the
    // VIP back, milliseconds later. The sampler may catch that gap; b must never promote.
    let bad = stays(&sampler, quiet_window(ctx.profile), b_not_promoted);
    out.check(
        bad.is_none(),
        format!("b never promoted after thaw ({bad:?})"),
    );
    let back = sampler.wait_for(Duration::from_secs(10), normal);
    out.check(back.is_some(), "a primary with the VIP again, b standby");
    out.check(
        !log_lines(&lab, Node::A, &["pause detected"]).is_empty(),
        "a noticed its pause",
    );
    out.check(lab.daemon(Node::A).is_some(), "a's daemon still running");
    Ok(out.finish(sampler, false))
}

/// Scenario 12: The whole of a frozen (daemon and PostgreSQL) for 10 s → b does not promote (a's
/// kernel still answers ICMP and ARP); everything recovers after SIGCONT.
pub fn s12_master_frozen_whole(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "12 whole master frozen 10 s",
        "no promotion; recovery after SIGCONT",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: every process of a SIGSTOP");
    let n = lab.freeze(Node::A, Freeze::Everything, true);
    out.note(format!("{n} processes stopped"));
    let bad = stays(&sampler, Duration::from_secs(10), b_not_promoted);
    lab.freeze(Node::A, Freeze::Everything, false);
    sampler.mark("SIGCONT");
    out.check(bad.is_none(), "b did not promote while a was frozen");
    let back = sampler.wait_for(Duration::from_secs(30), normal);
    out.check(back.is_some(), "normal pair again");
    Ok(out.finish(sampler, false))
}

/// Scenario 12b: A "paused VM": a's link down and all of a's processes frozen past the failover time
/// → b promotes; a resumes → it detects its pause, drops the VIP and fences after hearing
/// the higher term. Reports how long the VIP answered from both and whether a accepted a
/// write after b's promotion (goal: none).
pub fn s12b_paused_vm(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "12b paused VM",
        "b promotes; resumed a drops the VIP and fences; no write accepted by a after b's promotion",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a paused (cable out, all processes stopped)");
    let t0 = Instant::now();
    lab.set_link(Node::A, false)?;
    lab.freeze(Node::A, Freeze::Everything, true);
    let t = watch_takeover(&lab, t0, takeover_deadline(ctx.profile));
    out.check(t.b_writable.is_some(), "b writable");
    out.takeover = Some(t);
    std::thread::sleep(Duration::from_secs(1));
    sampler.mark("a resumes (cable in, SIGCONT)");
    lab.set_link(Node::A, true)?;
    lab.freeze(Node::A, Freeze::Everything, false);
    // Try to write on a until it stops accepting (fenced / stopped / read-only).
    let target = lab.pg(Node::A).socket_target();
    let end = Instant::now() + Duration::from_secs(30);
    let mut accepted = 0u32;
    let _ = lab.sql(
        Node::A,
        "CREATE TABLE IF NOT EXISTS lab_pause (at timestamptz)",
    );
    while Instant::now() < end {
        let r = crate::rt::block_on(pgq::query(
            &target,
            "INSERT INTO lab_pause VALUES (now())",
            Duration::from_millis(200),
        ));
        match r {
            Ok(_) => accepted += 1,
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    out.check(
        accepted == 0,
        format!("writes accepted by a after resuming: {accepted}"),
    );
    let dropped = sampler.wait_for(Duration::from_secs(30), |s| {
        s.a.vip == VipObs::Absent && s.a.db != DbObs::Primary
    });
    out.check(dropped.is_some(), "a dropped the VIP and is not primary");
    let snap = sampler.snapshot();
    out.note(format!(
        "VIP held on both for {} samples (~{} ms); two primaries for {} samples",
        snap.vip_both_samples,
        snap.vip_both_samples * 50,
        snap.two_primary_samples
    ));
    Ok(out.finish(sampler, true))
}
