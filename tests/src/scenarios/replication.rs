//! Replication (rule `sync-epoch`): with twinbeat owning `synchronous_standby_names`, a
//! client committing through the VIP loses no acknowledged commit in `sync` and
//! `strict` mode, and in `sync` no commit waits for good on a dead peer. Every scenario
//! runs the acknowledged-writes checker (`crate::checker`) through its fault and
//! checks each acknowledged key on the node that is primary after it; `async` runs once
//! for contrast (its loss is reported, not asserted).

use std::time::{Duration, Instant};

use super::{
    b_not_promoted, b_promoted, cluster_with, log_lines, stays, takeover_deadline, watch_takeover,
    Ctx, Outcome,
};
use crate::checker::History;
use crate::error::Result;
use crate::faults::Fault;
use crate::lab::{Lab, LabOptions};
use crate::netns::Node;
use crate::pg::{PgOptions, Replication};
use crate::relay::Dir;
use crate::sampler::{DbObs, Sampler, VipObs};

/// The checker's pace: one commit every 10 ms through the VIP.
const EVERY: Duration = Duration::from_millis(10);
/// Commits before the fault, so the pair is loaded when it strikes.
const BEFORE: Duration = Duration::from_secs(2);
/// A healthy pair replicating in `mode`, the checker's table made, and (unless `async`)
/// a's status saying its standby is synchronous.
fn sync_cluster(ctx: &Ctx, mode: Replication, out: &mut Outcome) -> Result<(Lab, Sampler)> {
    sync_cluster_with(ctx, mode, false, out)
}

/// [`sync_cluster`], with `failover.auto_rejoin` as given.
fn sync_cluster_with(
    ctx: &Ctx,
    mode: Replication,
    auto_rejoin: bool,
    out: &mut Outcome,
) -> Result<(Lab, Sampler)> {
    let (lab, sampler) = cluster_with(
        ctx,
        LabOptions {
            pg: PgOptions {
                replication: mode,
                ..PgOptions::default()
            },
            auto_rejoin,
            ..LabOptions::new(&ctx.lab_exe)
        },
    )?;
    lab.sql(Node::A, "CREATE TABLE lab_commits (k bigint PRIMARY KEY)")?;
    if mode != Replication::Async {
        let synchronous = crate::cmd::poll(Duration::from_secs(20), || {
            sync_status(&lab, Node::A)
                .filter(|s| s["synchronous"] == true)
                .map(drop)
        });
        out.check(
            synchronous.is_some(),
            format!(
                "a names b as its synchronous standby ({} mode)",
                mode.mode()
            ),
        );
        sampler.mark("a's standby is synchronous");
    }
    Ok((lab, sampler))
}

/// `replication.sync` of node `n`'s `/status`.
fn sync_status(lab: &Lab, n: Node) -> Option<serde_json::Value> {
    let status = lab.daemon_status(n).ok()?;
    Some(status["replication"]["sync"].clone())
}

/// `synchronous_standby_names` on node `n`.
fn names_on(lab: &Lab, n: Node) -> Option<String> {
    let rows = lab.sql(n, "SHOW synchronous_standby_names").ok()?;
    crate::pgq::scalar(&rows).map(str::to_owned)
}

/// Checks `history` against the keys on `primary`: nothing acknowledged is lost (when
/// `assert_lost`; `async` only reports it), nothing that failed is there.
fn check_keys(out: &mut Outcome, lab: &Lab, history: &History, primary: Node, assert_lost: bool) {
    let present = match lab.committed_keys(primary, "lab_commits") {
        Ok(p) => p,
        Err(e) => {
            out.check(false, format!("read the keys on {primary}: {e}"));
            return;
        }
    };
    let verdict = history.check(&present);
    let latency = |q| {
        history.latency(q, ..).map_or("-".to_owned(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        })
    };
    out.note(format!(
        "checker on {primary}: {verdict}; longest gap between acknowledged commits {} ms; \
         commit latency p50 {}, p99 {}",
        history.longest_ack_gap().as_millis(),
        latency(0.5),
        latency(0.99)
    ));
    if assert_lost {
        out.check(
            verdict.acknowledged > 0 && verdict.lost.is_empty(),
            format!(
                "{} of {} acknowledged commits missing on {primary}",
                verdict.lost.len(),
                verdict.acknowledged
            ),
        );
    } else {
        out.note(format!(
            "async: {} of {} acknowledged commits missing on {primary} (reported, not asserted)",
            verdict.lost.len(),
            verdict.acknowledged
        ));
    }
    out.check(
        verdict.failed_present.is_empty(),
        format!(
            "no commit the checker saw fail is on {primary} ({:?})",
            verdict.failed_present
        ),
    );
}

/// Commit latency through the VIP while the pair was whole (before the fault at `t0`):
/// what the mode costs each commit (`docs/BENCHMARKS.md` quotes it).
fn note_latency_before(out: &mut Outcome, history: &History, t0: Instant, mode: Replication) {
    let at = |q| {
        history.latency(q, ..t0).map_or("-".to_owned(), |d| {
            format!("{:.2} ms", d.as_secs_f64() * 1e3)
        })
    };
    out.note(format!(
        "{} commit latency through the VIP before the fault: p50 {}, p99 {}",
        mode.mode(),
        at(0.5),
        at(0.99)
    ));
}

/// When commits resumed after the fault at `t0`: the end of the longest pause between
/// two acknowledged commits that ends after `t0` (a commit in flight when the fault
/// struck may still be acknowledged at once), as a note and a liveness check: commits
/// must resume (never a timing goal; `docs/BENCHMARKS.md` quotes the figure).
fn commits_resume(
    out: &mut Outcome,
    history: &History,
    t0: Instant,
    what: &str,
) -> Option<Duration> {
    let mut acks: Vec<Instant> = history.acknowledged().map(|a| a.ended).collect();
    acks.sort();
    let resumed = acks
        .windows(2)
        .filter(|w| w[1] > t0)
        .max_by_key(|w| w[1] - w[0])
        .map(|w| (w[1].saturating_duration_since(t0), w[1] - w[0]));
    out.check(
        resumed.is_some(),
        format!(
            "{what}: commits resume ({})",
            resumed.map_or("never".to_owned(), |(at, stall)| format!(
                "acknowledged again {} ms after the fault, after a {} ms stall",
                at.as_millis(),
                stall.as_millis()
            ))
        ),
    );
    resumed.map(|(at, _)| at)
}

/// Kills a under load; b must take over with every acknowledged commit.
fn master_death(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let mut out = Outcome::new(
        name,
        "b promotes; every commit a acknowledged is on b; commits go on through the VIP",
    );
    let (lab, sampler) = sync_cluster(ctx, mode, &mut out)?;
    let mut t0 = Instant::now();
    let (history, takeover) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(3), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let _ = lab.kill_node(Node::A);
            sampler.mark("a died under load");
            watch_takeover(&lab, t0, takeover_deadline(ctx.profile))
        })?;
    out.check(takeover.b_writable.is_some(), "b writable");
    out.check(
        b_promoted(&sampler, Duration::from_secs(2)).is_some(),
        "sampler: b primary with the VIP",
    );
    check_keys(
        &mut out,
        &lab,
        &history,
        Node::B,
        mode != Replication::Async,
    );
    note_latency_before(&mut out, &history, t0, mode);
    if mode == Replication::Strict {
        // Rule `sync-epoch`: b names the old master; commits wait until it rejoins.
        out.check(
            names_on(&lab, Node::B).is_some_and(|n| n.contains("\"a\"")),
            format!(
                "strict: b names a as its synchronous standby ({:?})",
                names_on(&lab, Node::B)
            ),
        );
        let writable = takeover.b_writable.map(|d| t0 + d);
        let acked_after = writable.map_or(0, |w| {
            history.acknowledged().filter(|a| a.started > w).count()
        });
        out.check(
            acked_after == 0,
            format!("strict: no commit acknowledged on b while a is away ({acked_after})"),
        );
        let note = sync_status(&lab, Node::B).map(|s| s["note"].clone());
        out.note(format!("b's status: {note:?}"));
    } else {
        out.check(
            names_on(&lab, Node::B).as_deref() == Some(""),
            "b's synchronous_standby_names is empty: its peer is gone",
        );
        if let (Some(first), Some(w)) = (
            commits_resume(&mut out, &history, t0, "on b"),
            takeover.b_writable,
        ) {
            out.note(format!(
                "b writable {} ms after the fault; first acknowledged commit through the VIP {} ms after that",
                w.as_millis(),
                first.saturating_sub(w).as_millis()
            ));
        }
    }
    out.takeover = Some(takeover);
    Ok(out.finish(sampler, false))
}

/// Scenario 17: `sync`, master death under load → b takes over with every acknowledged
/// commit, its names cleared, commits go on through the VIP.
pub fn s17_sync_no_lost_commit(ctx: &Ctx) -> Result<Outcome> {
    master_death(ctx, Replication::Sync, "17 sync replication, master death")
}

/// Scenario 34: `strict`, master death under load → b takes over with every
/// acknowledged commit and names a: commits wait until the old master rejoins.
pub fn s34_strict_master_death(ctx: &Ctx) -> Result<Outcome> {
    master_death(
        ctx,
        Replication::Strict,
        "34 strict replication, master death",
    )
}

/// Scenario 35: `async` for contrast, master death under load: b takes over; the
/// commits it lacks are reported, not asserted.
pub fn s35_async_master_death_contrast(ctx: &Ctx) -> Result<Outcome> {
    master_death(
        ctx,
        Replication::Async,
        "35 async replication, master death (contrast)",
    )
}

/// The standby dies under load: in `sync` a degrades and commits resume; in `strict`
/// they wait.
fn standby_death(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let sync = mode == Replication::Sync;
    let mut out = Outcome::new(
        name,
        if sync {
            "a stays primary, stops waiting for b and commits resume; nothing acknowledged lost"
        } else {
            "a stays primary and commits wait for b; nothing acknowledged lost"
        },
    );
    let (lab, sampler) = sync_cluster(ctx, mode, &mut out)?;
    let mut t0 = Instant::now();
    let (history, ()) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(1), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let _ = lab.kill_node(Node::B);
            sampler.mark("b died under load");
            std::thread::sleep(Duration::from_secs(if sync { 6 } else { 5 }));
        })?;
    let kept = sampler
        .latest()
        .is_some_and(|s| s.a.db == DbObs::Primary && s.a.vip == VipObs::Held);
    out.check(kept, "a is still primary with the VIP");
    check_keys(&mut out, &lab, &history, Node::A, true);
    note_latency_before(&mut out, &history, t0, mode);
    let status = sync_status(&lab, Node::A);
    out.note(format!("a's sync status: {status:?}"));
    if sync {
        commits_resume(&mut out, &history, t0, "on a");
        out.check(
            names_on(&lab, Node::A).as_deref() == Some(""),
            "a cleared synchronous_standby_names (degraded)",
        );
        out.check(
            !log_lines(&lab, Node::A, &["SyncDegraded"]).is_empty(),
            "a alarmed: degraded",
        );
    } else {
        let settle = t0 + Duration::from_secs(1);
        let acked_after = history
            .acknowledged()
            .filter(|a| a.started > settle)
            .count();
        out.check(
            acked_after == 0,
            format!("strict: no commit acknowledged while b is away ({acked_after})"),
        );
        out.check(
            names_on(&lab, Node::A).is_some_and(|n| n.contains("\"b\"")),
            "strict: a still names b",
        );
        out.check(
            !log_lines(&lab, Node::A, &["SyncStandbyAway"]).is_empty(),
            "a alarmed: standby away",
        );
    }
    Ok(out.finish(sampler, false))
}

/// Scenario 36: `sync`, the standby's host dies under load → a degrades once every
/// claim b could hold expired (`peer_state_max_age`, 1.8 s by default in `sync`, after
/// a's last ack that said synchronous), and commits resume.
pub fn s36_sync_standby_death(ctx: &Ctx) -> Result<Outcome> {
    standby_death(ctx, Replication::Sync, "36 sync replication, standby death")
}

/// Scenario 37: `strict`, the standby's host dies under load → commits wait; nothing
/// acknowledged without it.
pub fn s37_strict_standby_death(ctx: &Ctx) -> Result<Outcome> {
    standby_death(
        ctx,
        Replication::Strict,
        "37 strict replication, standby death",
    )
}

/// `strict` while its standby is away: nothing acknowledged on `primary` from `from` on
/// (commits wait), and it still names `standby`.
fn commits_wait(out: &mut Outcome, lab: &Lab, history: &History, from: Instant, primary: Node) {
    let acked_after = history.acknowledged().filter(|a| a.started > from).count();
    out.check(
        acked_after == 0,
        format!(
            "strict: no commit acknowledged on {primary} while its standby is away ({acked_after})"
        ),
    );
    let standby = if primary == Node::A { "\"b\"" } else { "\"a\"" };
    out.check(
        names_on(lab, primary).is_some_and(|n| n.contains(standby)),
        format!(
            "strict: {primary} still names its standby ({:?})",
            names_on(lab, primary)
        ),
    );
}

/// a loses its gateway under load: it asks b, fences; b takes over with every
/// acknowledged commit (in `strict` b answers "ready" only with a claim, and then names
/// a: commits wait until it rejoins).
fn master_fence(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let mut out = Outcome::new(
        name,
        "a fences, b takes over with every commit a acknowledged",
    );
    let (lab, sampler) = sync_cluster(ctx, mode, &mut out)?;
    let mut t0 = Instant::now();
    let (history, takeover) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(3), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let _ = lab.apply(Fault::DropGateway(Node::A));
            sampler.mark("a's gateway lost under load");
            watch_takeover(&lab, t0, takeover_deadline(ctx.profile) * 2)
        })?;
    out.check(
        takeover.a_down.is_some(),
        "a stopped its PostgreSQL (fenced)",
    );
    out.check(takeover.b_writable.is_some(), "b writable");
    check_keys(&mut out, &lab, &history, Node::B, true);
    match (mode, takeover.b_writable) {
        (Replication::Strict, Some(w)) => commits_wait(&mut out, &lab, &history, t0 + w, Node::B),
        _ => {
            commits_resume(&mut out, &history, t0, "on b");
        }
    }
    out.takeover = Some(takeover);
    Ok(out.finish(sampler, false))
}

/// Scenario 38: `sync`, a loses its gateway under load → a asks b, fences; b takes
/// over with every acknowledged commit.
pub fn s38_sync_master_fence(ctx: &Ctx) -> Result<Outcome> {
    master_fence(
        ctx,
        Replication::Sync,
        "38 sync replication, master fenced (gateway lost)",
    )
}

/// Scenario 42: `strict`, a loses its gateway under load → b, holding a claim, answers
/// "ready" and takes over with every acknowledged commit; commits wait for a.
pub fn s42_strict_master_fence(ctx: &Ctx) -> Result<Outcome> {
    master_fence(
        ctx,
        Replication::Strict,
        "42 strict replication, master fenced (gateway lost)",
    )
}

/// IP between the nodes cut under load, serial up: no promotion; `sync` degrades on b's
/// acknowledgement over serial and commits resume, `strict` waits.
fn ip_partition(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let sync = mode == Replication::Sync;
    let mut out = Outcome::new(
        name,
        if sync {
            "no promotion; a degrades on b's acknowledgement; commits resume; nothing lost"
        } else {
            "no promotion; commits wait for b; nothing lost"
        },
    );
    let (lab, sampler) = sync_cluster(ctx, mode, &mut out)?;
    let mut t0 = Instant::now();
    let (history, quiet) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(1), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let _ = lab.apply(Fault::DropAllIpBetweenNodes);
            sampler.mark("IP between a and b cut under load");
            stays(&sampler, Duration::from_secs(8), b_not_promoted)
        })?;
    out.check(quiet.is_none(), format!("b did not promote ({quiet:?})"));
    check_keys(&mut out, &lab, &history, Node::A, true);
    if sync {
        commits_resume(&mut out, &history, t0, "on a");
        out.check(
            names_on(&lab, Node::A).as_deref() == Some(""),
            "a cleared synchronous_standby_names (degraded)",
        );
    } else {
        commits_wait(
            &mut out,
            &lab,
            &history,
            t0 + Duration::from_secs(1),
            Node::A,
        );
    }
    Ok(out.finish(sampler, false))
}

/// Scenario 39: `sync`, IP between the nodes cut, serial up → no promotion; a stops
/// waiting for b on b's acknowledgement over serial, and commits resume.
pub fn s39_sync_ip_partition(ctx: &Ctx) -> Result<Outcome> {
    ip_partition(
        ctx,
        Replication::Sync,
        "39 sync replication, IP partition, serial up",
    )
}

/// Scenario 43: `strict`, IP between the nodes cut, serial up → no promotion; commits
/// wait for b; nothing lost.
pub fn s43_strict_ip_partition(ctx: &Ctx) -> Result<Outcome> {
    ip_partition(
        ctx,
        Replication::Strict,
        "43 strict replication, IP partition, serial up",
    )
}

/// Stops b's WAL receiver: `primary_conninfo` emptied and reloaded (its daemon and
/// PostgreSQL stay up, every path answers).
fn break_wal_receiver(lab: &Lab) -> Result<()> {
    lab.sql(Node::B, "ALTER SYSTEM SET primary_conninfo = ''")?;
    lab.sql(Node::B, "SELECT pg_reload_conf()")?;
    Ok(())
}

/// Serial cut and b's WAL receiver broken under load: no promotion; `sync` degrades
/// on b's acknowledgement over the remote DB paths (b reads a's asynchronous epoch in
/// a's PostgreSQL, publishes its acknowledgement in its own, a reads it there) and
/// commits resume, `strict` waits.
fn serial_down_wal_receiver_broken(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let sync = mode == Replication::Sync;
    let mut out = Outcome::new(
        name,
        if sync {
            "commits neither hang for good nor get lost; no promotion"
        } else {
            "commits wait for b, nothing lost; no promotion"
        },
    );
    let (lab, sampler) = sync_cluster(ctx, mode, &mut out)?;
    let mut t0 = Instant::now();
    let (history, quiet) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(1), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let cut = lab.relay().and_then(|r| r.cut(Dir::Both));
            let broken = break_wal_receiver(&lab);
            sampler.mark(&format!(
                "serial cut ({cut:?}), b's WAL receiver stopped ({broken:?})"
            ));
            stays(
                &sampler,
                Duration::from_secs(if sync { 14 } else { 6 }),
                b_not_promoted,
            )
        })?;
    out.check(quiet.is_none(), format!("b did not promote ({quiet:?})"));
    check_keys(&mut out, &lab, &history, Node::A, true);
    if sync {
        commits_resume(&mut out, &history, t0, "on a");
        out.check(
            !log_lines(&lab, Node::B, &["published twinbeat.sync_ack"]).is_empty(),
            "b acknowledged a's asynchronous epoch over the remote DB path",
        );
        out.check(
            names_on(&lab, Node::A).as_deref() == Some(""),
            "a cleared synchronous_standby_names (degraded)",
        );
    } else {
        commits_wait(
            &mut out,
            &lab,
            &history,
            t0 + Duration::from_secs(1),
            Node::A,
        );
    }
    Ok(out.finish(sampler, false))
}

/// Scenario 40: `sync`, b's WAL receiver broken and serial cut → a degrades on b's
/// acknowledgement over the remote DB paths and commits resume; no promotion.
pub fn s40_sync_serial_down_wal_receiver_broken(ctx: &Ctx) -> Result<Outcome> {
    serial_down_wal_receiver_broken(
        ctx,
        Replication::Sync,
        "40 sync replication, serial cut and b's WAL receiver broken",
    )
}

/// Scenario 44: `strict`, b's WAL receiver broken and serial cut → commits wait;
/// nothing lost; no promotion.
pub fn s44_strict_serial_down_wal_receiver_broken(ctx: &Ctx) -> Result<Outcome> {
    serial_down_wal_receiver_broken(
        ctx,
        Replication::Strict,
        "44 strict replication, serial cut and b's WAL receiver broken",
    )
}

/// Scenario 41: `sync`, b's WAL receiver broken → a degrades on b's acknowledgement;
/// a acknowledges more than `max_lag_on_failover` b lacks, then dies → b, holding no
/// synchronous claim, is held to the lag check and does not promote: nothing a
/// acknowledged is lost.
pub fn s41_sync_degrade_then_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "41 sync replication, degrade then master death",
        "b has no claim after the degrade and does not promote past the commits it lacks",
    );
    let (lab, sampler) = sync_cluster(ctx, Replication::Sync, &mut out)?;
    break_wal_receiver(&lab)?;
    sampler.mark("b's WAL receiver stopped");
    let degraded = crate::cmd::poll(Duration::from_secs(20), || {
        names_on(&lab, Node::A).filter(String::is_empty)
    });
    out.check(degraded.is_some(), "a degraded (names cleared)");
    let claim = crate::cmd::poll(Duration::from_secs(10), || {
        sync_status(&lab, Node::B).filter(|s| s["synchronous"] == false)
    });
    out.check(claim.is_some(), "b holds no synchronous claim");
    // Past the profile's max_lag_on_failover (1 MiB): what b lacks is acknowledged.
    lab.sql(
        Node::A,
        "CREATE TABLE lab_pad AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 4000)",
    )?;
    // b reads a's position over the remote DB path every 10 ms: let it see this one.
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    lab.kill_node(Node::A)?;
    sampler.mark("a died, b 4 MB behind");
    let quiet = stays(&sampler, Duration::from_secs(10), b_not_promoted);
    out.check(quiet.is_none(), format!("b did not promote ({quiet:?})"));
    out.check(
        !log_lines(&lab, Node::B, &["LagTooHigh"]).is_empty(),
        "b refused: lag too high",
    );
    out.note(format!(
        "watched {} s after a's death",
        t0.elapsed().as_secs()
    ));
    Ok(out.finish(sampler, false))
}

/// Scenario 45: `strict`, b's WAL receiver broken under load → a never degrades: its
/// commits wait, and b keeps its claim (acks over serial) → a dies → b promotes on its
/// claim, whatever its lag, with every commit a acknowledged; commits then wait for a.
pub fn s45_strict_wal_receiver_broken_then_master_death(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "45 strict replication, b's WAL receiver broken, then master death",
        "a's commits wait; b promotes on its claim with every commit a acknowledged",
    );
    let (lab, sampler) = sync_cluster(ctx, Replication::Strict, &mut out)?;
    let mut t0 = Instant::now();
    let mut broken_at = Instant::now();
    let (history, takeover) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(3), || {
            std::thread::sleep(BEFORE);
            broken_at = Instant::now();
            let broken = break_wal_receiver(&lab);
            sampler.mark(&format!("b's WAL receiver stopped ({broken:?})"));
            std::thread::sleep(Duration::from_secs(3));
            t0 = Instant::now();
            let _ = lab.kill_node(Node::A);
            sampler.mark("a died while its commits waited for b");
            watch_takeover(&lab, t0, takeover_deadline(ctx.profile))
        })?;
    out.check(takeover.b_writable.is_some(), "b writable (on its claim)");
    check_keys(&mut out, &lab, &history, Node::B, true);
    commits_wait(
        &mut out,
        &lab,
        &history,
        broken_at + Duration::from_secs(1),
        Node::B,
    );
    out.takeover = Some(takeover);
    Ok(out.finish(sampler, false))
}

/// What [`failover_then_rejoin`] saw happen, from the fault.
struct RejoinSeen {
    takeover: super::watch::Takeover,
    /// a was revived (its PostgreSQL and daemon started).
    revived: Option<Duration>,
    /// a's daemon said it rejoined by itself.
    rejoined: Option<Duration>,
    /// b's status said its standby is synchronous again.
    synchronous: Option<Duration>,
}

/// The master dies under load; b takes over; a comes back and rejoins by itself
/// (`failover.auto_rejoin`): b names a again and, once it streams, announces
/// synchronous. In `sync` commits go on throughout; in `strict` none succeeds from b's
/// promotion until a is back. The checker runs through all of it.
fn failover_then_rejoin(ctx: &Ctx, mode: Replication, name: &str) -> Result<Outcome> {
    let strict = mode == Replication::Strict;
    let mut out = Outcome::new(
        name,
        if strict {
            "b names a from its promotion on: commits wait until a rejoins, then go on; nothing acknowledged lost"
        } else {
            "b degraded after its promotion; names a again once a rejoined and streams; nothing acknowledged lost"
        },
    );
    let (lab, sampler) = sync_cluster_with(ctx, mode, true, &mut out)?;
    let mut t0 = Instant::now();
    let (history, seen) =
        lab.commit_via_vip_while("lab_commits", EVERY, Duration::from_secs(3), || {
            std::thread::sleep(BEFORE);
            t0 = Instant::now();
            let _ = lab.kill_node(Node::A);
            sampler.mark("a died under load");
            let takeover = watch_takeover(&lab, t0, takeover_deadline(ctx.profile));
            // Commits on b in the meantime: they go on in `sync`, wait in `strict`.
            std::thread::sleep(Duration::from_secs(2));
            let revived = lab.revive_node(Node::A).ok().map(|()| t0.elapsed());
            sampler.mark("a reboots (PostgreSQL and daemon start)");
            let rejoined = crate::cmd::poll(Duration::from_secs(60), || {
                (!log_lines(&lab, Node::A, &["Standby: AutoRejoin"]).is_empty()).then_some(())
            })
            .map(|()| t0.elapsed());
            let synchronous = crate::cmd::poll(Duration::from_secs(30), || {
                sync_status(&lab, Node::B)
                    .filter(|s| s["synchronous"] == true)
                    .map(drop)
            })
            .map(|()| t0.elapsed());
            sampler.mark("b's standby a is synchronous");
            std::thread::sleep(Duration::from_secs(1));
            RejoinSeen {
                takeover,
                revived,
                rejoined,
                synchronous,
            }
        })?;
    out.check(seen.takeover.b_writable.is_some(), "b writable");
    out.check(seen.rejoined.is_some(), "a rejoined by itself");
    out.check(
        seen.synchronous.is_some(),
        format!(
            "b names a and announces synchronous once it streams ({} ms after the fault)",
            seen.synchronous.map_or(0, |d| d.as_millis())
        ),
    );
    out.check(
        names_on(&lab, Node::B).is_some_and(|n| n.contains("\"a\"")),
        format!(
            "b's synchronous_standby_names: {:?}",
            names_on(&lab, Node::B)
        ),
    );
    check_keys(&mut out, &lab, &history, Node::B, true);
    if let (Some(writable), Some(revived)) = (seen.takeover.b_writable, seen.revived) {
        let (from, to) = (t0 + writable, t0 + revived);
        let between = history
            .acknowledged()
            .filter(|a| a.started > from && a.ended < to)
            .count();
        if strict {
            out.check(
                between == 0,
                format!("strict: no commit acknowledged on b before a came back ({between})"),
            );
        } else {
            out.check(
                between > 0,
                format!("sync: commits acknowledged on b while a was away ({between})"),
            );
        }
    }
    if let Some(synchronous) = seen.synchronous {
        let after = history
            .acknowledged()
            .filter(|a| a.started > t0 + synchronous)
            .count();
        out.check(
            after > 0,
            format!("commits acknowledged with a synchronous again ({after})"),
        );
    }
    out.takeover = Some(seen.takeover);
    Ok(out.finish(sampler, false))
}

/// Scenario 46: `sync`, master death under load, then the old master rejoins by
/// itself → b names it again once it streams; nothing acknowledged lost.
pub fn s46_sync_failover_then_rejoin(ctx: &Ctx) -> Result<Outcome> {
    failover_then_rejoin(
        ctx,
        Replication::Sync,
        "46 sync replication, failover then the old master rejoins",
    )
}

/// Scenario 47: `strict`, master death under load, then the old master rejoins by
/// itself → no commit succeeds on b until then; nothing acknowledged lost.
pub fn s47_strict_failover_then_rejoin(ctx: &Ctx) -> Result<Outcome> {
    failover_then_rejoin(
        ctx,
        Replication::Strict,
        "47 strict replication, failover then the old master rejoins",
    )
}
