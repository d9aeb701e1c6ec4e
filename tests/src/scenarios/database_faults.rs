//! Database faults: the master's PostgreSQL killed once, unable to start again, or hung.

use std::cell::Cell;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{
    b_not_promoted, cluster, log_lines, normal, quiet_window, stays, watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::procs;
use crate::relay::Dir;
use crate::sampler::{DbObs, Sample, VipObs};

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

/// Scenario 21: a fences (as in 8) while the relay drops its first frames → b still promotes, because
/// every frame a sends says `fenced`.
pub fn s21_fence_with_dropped_frames(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "21 fence while the first frames are dropped",
        "b still promotes",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.break_pg(Node::A)?;
    lab.relay()?.drop_first(3, Dir::AtoB)?;
    sampler.mark("fault: a's DB broken and killed; a's next 3 frames dropped");
    let t0 = Instant::now();
    lab.kill_pg(Node::A);
    let t = watch_takeover(&lab, t0, Duration::from_secs(90));
    out.check(t.b_writable.is_some(), "b writable");
    out.takeover = Some(t);
    let st = lab.relay()?.stats()?;
    out.check(
        st.ab.frames_dropped == 3,
        format!("relay dropped {} frames of a", st.ab.frames_dropped),
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 23: a's PostgreSQL hung, every process of it (postmaster and children) SIGSTOPped
/// for 15 s → a's daemon restarts it (rule `local-db-restart-once`: the restart escalates
/// from a fast stop to SIGKILL, which a stopped process cannot ignore), b never promotes:
/// still in recovery, a primary in the same term, and a writable again through the VIP
/// with a new postmaster. How long a took to come back is reported, not asserted.
pub fn s23_master_db_hung(ctx: &Ctx) -> Result<Outcome> {
    master_db_hung(
        ctx,
        "23 master's PostgreSQL hung 15 s",
        Duration::from_secs(15),
    )
}

/// Scenario 23b: as 23, but hung for 30 s, longer than the restart's window and its grace
/// (10 s each in the default profile): a restart that only asks the server to stop fails
/// here, and a fences and b promotes; one that escalates restarts it as in 23.
pub fn s23b_master_db_hung_long(ctx: &Ctx) -> Result<Outcome> {
    master_db_hung(
        ctx,
        "23b master's PostgreSQL hung 30 s",
        Duration::from_secs(30),
    )
}

/// Scenarios 23 and 23b: every process of a's PostgreSQL SIGSTOPped for `hang`, then
/// SIGCONT of whatever is left.
fn master_db_hung(ctx: &Ctx, name: &str, hang: Duration) -> Result<Outcome> {
    let mut out = Outcome::new(
        name,
        "a restarts it; no failover (b in recovery, a primary in the same term); \
         a writable again through the VIP with a new postmaster",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    let term = lab.daemon_status(Node::A)?["term"].as_u64();
    let Some(old) = lab.pg(Node::A).postmaster_pid() else {
        out.check(false, "a's postmaster running before the fault");
        return Ok(out.finish(sampler, false));
    };
    sampler.mark("fault: every process of a's PostgreSQL SIGSTOPped");
    let t0 = Instant::now();
    let stopped = stop_tree(old);
    out.note(format!(
        "{} processes stopped (postmaster {old}) at {} (UTC, as in the daemons' logs)",
        stopped.len(),
        utc_now()
    ));
    // Throughout the hang b stays a standby without the VIP. When the sampler sees a's
    // DB hung, and then writable with the VIP again, is noted on the way.
    let (hung, back) = (Cell::new(None), Cell::new(None));
    let watch = |s: &Sample| {
        if hung.get().is_none() && s.a.db != DbObs::Primary {
            hung.set(Some(t0.elapsed()));
        }
        if hung.get().is_some()
            && back.get().is_none()
            && s.a.db == DbObs::Primary
            && s.a.vip == VipObs::Held
        {
            back.set(Some(t0.elapsed()));
        }
        b_not_promoted(s)
    };
    let bad = stays(&sampler, hang, watch);
    let left = thaw(&stopped);
    sampler.mark("SIGCONT of what is left of the stopped processes");
    out.check(
        bad.is_none(),
        format!("b did not promote while a's PostgreSQL was hung ({bad:?})"),
    );
    out.note(format!(
        "{left} of the {} stopped processes still there after {hang:?} (SIGCONT)",
        stopped.len()
    ));
    if back.get().is_none() {
        let bad = sampler.wait_for(Duration::from_secs(30), |s| {
            !watch(s) || back.get().is_some()
        });
        out.check(
            bad.is_none_or(|s| b_not_promoted(&s)),
            format!("b did not promote after the SIGCONT ({bad:?})"),
        );
    }
    out.check(
        back.get().is_some(),
        format!(
            "sampler: a's DB hung {:?} and writable with the VIP again {:?} after the fault",
            hung.get(),
            back.get()
        ),
    );
    let write = crate::cmd::wait_for(
        "a write through the VIP",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let rows = lab
                .sql_via_vip(
                    "CREATE TABLE IF NOT EXISTS s23 (at timestamptz DEFAULT now()); \
                     INSERT INTO s23 DEFAULT VALUES; SHOW cluster_name",
                    Duration::from_secs(1),
                )
                .ok()?;
            crate::pgq::scalar(&rows).map(str::to_owned)
        },
    );
    let by_a = write
        .as_deref()
        .is_ok_and(|n| n == lab.pg(Node::A).cluster_name);
    out.check(
        by_a,
        format!("a write through the VIP, once the hang was over, committed by a ({write:?})"),
    );
    let new = lab.pg(Node::A).postmaster_pid();
    out.check(
        new.is_some_and(|p| p != old),
        format!("a's postmaster is a new one ({old} → {new:?})"),
    );
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), format!("normal pair afterwards ({bad:?})"));
    out.check(
        lab.is_in_recovery(Node::B).is_ok_and(|r| r)
            && lab.is_in_recovery(Node::A).is_ok_and(|r| !r),
        "PostgreSQL: a writable, b in recovery",
    );
    let (a, b) = (
        lab.daemon_status(Node::A).unwrap_or_default(),
        lab.daemon_status(Node::B).unwrap_or_default(),
    );
    out.check(
        a["role"] == "primary" && a["term"].as_u64() == term && b["role"] == "standby",
        format!(
            "daemons: a {} in term {} (was {term:?}), b {}",
            a["role"], a["term"], b["role"]
        ),
    );
    for line in log_lines(&lab, Node::A, &["local DB", "fenc", "unhealthy"]) {
        out.note(format!("a: {line}"));
    }
    Ok(out.finish(sampler, false))
}

/// SIGSTOPs the postmaster `pid`, then every process below it (the postmaster first, so
/// it cannot fork one that escapes). Returns the PIDs stopped.
fn stop_tree(pid: i32) -> Vec<i32> {
    if kill(Pid::from_raw(pid), Signal::SIGSTOP).is_err() {
        return Vec::new();
    }
    let mut stopped = vec![pid];
    stopped.extend(
        procs::tree(pid)
            .into_iter()
            .skip(1)
            .filter(|p| kill(Pid::from_raw(*p), Signal::SIGSTOP).is_ok()),
    );
    stopped
}

/// SIGCONTs those of `pids` still stopped (the restart should have killed them all).
/// Returns how many.
fn thaw(pids: &[i32]) -> usize {
    pids.iter()
        .filter(|p| procs::stat(**p).is_some_and(|s| s.state == 'T'))
        .filter(|p| kill(Pid::from_raw(**p), Signal::SIGCONT).is_ok())
        .count()
}

/// Now in UTC, `HH:MM:SS.mmm`, to find the fault in the daemons' logs.
fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        now.subsec_millis()
    )
}
