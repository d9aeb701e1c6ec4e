//! Scenarios 12–21.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{
    b_not_promoted, b_promoted, cluster, log_lines, normal, quiet_window, startup_grace, stays,
    takeover_deadline, watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::faults::Fault;
use crate::lab::Freeze;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::relay::Dir;
use crate::sampler::{DbObs, VipObs};

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
    let read_state = || -> serde_json::Value {
        std::fs::read_to_string(state_dir.join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    };
    // The term b claimed in "promoting" (rule 10 persists it before pg_promote).
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
    // promote again (rule 4), like a standby booting after a power cut.
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
    // Rule 10: a restart that finds PostgreSQL out of recovery finishes in the claimed
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

/// Scenario 15: 1 % of serial bytes corrupted by the relay → no false promotion, dropped frames counted.
pub fn s15_serial_corruption(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "15 1 % serial corruption",
        "no promotion; dropped frames counted",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.relay()?.corrupt(1.0, 15, Dir::Both)?;
    sampler.mark("fault: 1 % of serial bytes corrupted");
    let bad = stays(&sampler, quiet_window(ctx.profile) * 2, normal);
    out.check(bad.is_none(), "pair unchanged");
    let st = lab.relay()?.stats()?;
    out.check(
        st.ab.bytes_corrupted + st.ba.bytes_corrupted > 0,
        format!("relay corrupted bytes: {st:?}"),
    );
    let status = lab
        .daemon_status(Node::B)
        .map(|v| v.to_string())
        .unwrap_or_default();
    out.check(
        status.contains("corrupt") || status.contains("dropped"),
        "b's status counts dropped frames",
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 16: The serial cable cross-wired to a node of another cluster → its frames are rejected
/// and that path counts as down; no promotion while the other paths are up.
pub fn s16_serial_cross_wired(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "16 serial cross-wired to another cluster",
        "frames rejected; no promotion",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    let foreign = crate::foreign::ForeignNode::start(&lab.relay()?.tty("x"), "another-cluster")?;
    lab.relay()?.cross(true)?;
    sampler.mark("fault: b's cable now goes to another cluster's node");
    let bad = stays(&sampler, quiet_window(ctx.profile) * 2, normal);
    out.check(bad.is_none(), "pair unchanged");
    out.note(format!("foreign frames sent: {}", foreign.stop()));
    let serial = lab
        .daemon_status(Node::B)
        .map(|v| v["serial"].clone())
        .unwrap_or_default();
    let foreign = serial["foreign"].as_u64().unwrap_or(0);
    out.check(
        foreign > 0,
        format!("b's status counts foreign frames: {serial}"),
    );
    Ok(out.finish(sampler, false))
}

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

/// Scenario 18: The serial cable cut for a minute, then all IP between a and b dropped while both
/// reach the gateway (master alive) → no automatic promotion, a critical alarm on b.
pub fn s18_degraded_pair_no_promotion(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "18 degraded pair (serial cut 1 min, then IP partition)",
        "no promotion; critical alarm on b",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.relay()?.cut(Dir::Both)?;
    sampler.mark("fault: serial cut");
    let bad = stays(&sampler, Duration::from_secs(60), normal);
    out.check(bad.is_none(), "pair unchanged during the minute");
    lab.apply(Fault::DropAllIpBetweenNodes)?;
    sampler.mark("fault: IP partition between a and b");
    let bad = stays(&sampler, quiet_window(ctx.profile), b_not_promoted);
    out.check(bad.is_none(), "b did not promote");
    out.check(
        !log_lines(&lab, Node::B, &["critical", "disarm", "degraded"]).is_empty(),
        "b raised a critical alarm",
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

/// Scenario 20: The gateway itself down for 10 s (both nodes lose it) → no fence, no promotion, alarms
/// on both; the gateway back → normal.
pub fn s20_gateway_down(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "20 gateway down 10 s",
        "no fence, no promotion, alarms on both; then normal",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.topo.set_link(crate::netns::Host::Gateway, false)?;
    sampler.mark("fault: gateway unplugged");
    let bad = stays(&sampler, Duration::from_secs(10), normal);
    lab.topo.set_link(crate::netns::Host::Gateway, true)?;
    sampler.mark("gateway back");
    out.check(bad.is_none(), "pair unchanged (no fence, no promotion)");
    for n in Node::BOTH {
        out.check(
            !log_lines(&lab, n, &["gateway"]).is_empty(),
            format!("{n} alarmed about its gateway"),
        );
    }
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), "normal afterwards");
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
