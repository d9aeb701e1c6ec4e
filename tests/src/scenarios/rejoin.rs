//! The pair made whole again after a failover (rule `rejoin-after-fence`): the old
//! master, fenced, rejoins the new primary as its streaming standby — on the
//! operator's `twinbeat rejoin`, with a report of the writes it had accepted past the
//! fork, or by itself with `failover.auto_rejoin`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{
    b_promoted, cluster, cluster_with, log_lines, quiet_window, stays, takeover_deadline,
    watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::lab::{Lab, LabOptions};
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::sampler::{DbObs, Sample, Sampler, VipObs};

/// Bound of one rejoin in the lab (a rewind of a small cluster takes seconds).
const REJOIN_BOUND: Duration = Duration::from_secs(120);

/// The pair whole again, roles swapped: b primary with the VIP, a its standby.
fn swapped(s: &Sample) -> bool {
    s.a.db == DbObs::Standby
        && s.a.vip == VipObs::Absent
        && s.b.db == DbObs::Primary
        && s.b.vip == VipObs::Held
}

/// Checks a after its rejoin: its daemon a standby in b's term, b streaming to it
/// under a's name, the pair swapped in the sampler.
fn check_rejoined(lab: &Lab, sampler: &Sampler, out: &mut Outcome) {
    let whole = sampler.wait_for(Duration::from_secs(30), swapped);
    out.check(whole.is_some(), "a standby, b primary with the VIP");
    let status = crate::cmd::poll(Duration::from_secs(10), || {
        lab.daemon_status(Node::A)
            .ok()
            .filter(|s| s["role"] == "standby" && s["fenced"] == false)
    });
    let b_term = lab
        .daemon_status(Node::B)
        .ok()
        .and_then(|s| s["term"].as_u64());
    out.check(
        status
            .as_ref()
            .is_some_and(|s| s["term"].as_u64() == b_term && b_term.is_some()),
        format!("a's daemon: a standby in b's term {b_term:?}"),
    );
    let streaming = crate::cmd::poll(Duration::from_secs(10), || {
        lab.sql(
            Node::B,
            "SELECT state FROM pg_stat_replication WHERE application_name = 'a'",
        )
        .ok()
        .filter(|r| pgq::scalar(r) == Some("streaming"))
    });
    out.check(streaming.is_some(), "b streams to a (application_name a)");
    let bad = stays(sampler, quiet_window_after_rejoin(), swapped);
    out.check(bad.is_none(), format!("stays so ({bad:?})"));
}

fn quiet_window_after_rejoin() -> Duration {
    Duration::from_secs(3)
}

/// The newest `report.json` under `state_dir/rejoin/`.
fn newest_report(state_dir: &Path) -> Option<serde_json::Value> {
    let mut dirs: Vec<_> = std::fs::read_dir(state_dir.join("rejoin"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let text = std::fs::read_to_string(dirs.last()?.join("report.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Scenario 30: a's cable out; a accepts three writes from a local client in the
/// moments before it fences (b never receives them); b promotes. The cable back, a
/// stays fenced (`auto_rejoin` is off) until the operator runs `twinbeat rejoin`:
/// then a saves a report naming the table those writes went to, rewinds, and streams
/// from b.
pub fn s30_rejoin_after_failover(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "30 failover, then twinbeat rejoin of the old master",
        "a fenced until the operator rejoins it; then a streaming standby of b; the report names a's lost writes",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.sql(
        Node::A,
        "CREATE TABLE lab_orders (id int PRIMARY KEY, note text)",
    )?;
    let replicated = crate::cmd::poll(Duration::from_secs(10), || {
        lab.sql(Node::B, "SELECT to_regclass('lab_orders') IS NOT NULL")
            .ok()
            .filter(|r| pgq::scalar(r) == Some("t"))
    });
    out.check(replicated.is_some(), "lab_orders reached b");
    sampler.mark("fault: a's cable out; a local client writes to a");
    let t0 = Instant::now();
    lab.set_link(Node::A, false)?;
    let mut lost = 0;
    for id in 1..=3 {
        let sql = format!("INSERT INTO lab_orders VALUES ({id}, 'lost')");
        if lab.sql(Node::A, &sql).is_ok() {
            lost += 1;
        }
    }
    out.check(
        lost == 3,
        format!("a accepted {lost} writes after its cable went out"),
    );
    let t = watch_takeover(&lab, t0, takeover_deadline(ctx.profile) * 2);
    out.check(t.b_writable.is_some(), "b writable");
    out.takeover = Some(t);
    let fenced = crate::cmd::poll(takeover_deadline(ctx.profile), || {
        lab.daemon_status(Node::A)
            .ok()
            .filter(|s| s["role"] == "fenced")
    });
    out.check(fenced.is_some(), "a fenced");
    out.check(
        b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some(),
        "b primary with the VIP",
    );
    lab.set_link(Node::A, true)?;
    sampler.mark("a's cable back");
    let bad = stays(&sampler, quiet_window(ctx.profile), |s| {
        !matches!(s.a.db, DbObs::Primary | DbObs::Standby) && s.b.db == DbObs::Primary
    });
    let still = lab
        .daemon_status(Node::A)
        .ok()
        .is_some_and(|s| s["role"] == "fenced" && s["fenced"] == true);
    out.check(
        bad.is_none() && still,
        format!("a stays fenced with its DB stopped (auto_rejoin off) ({bad:?})"),
    );
    sampler.mark("operator: twinbeat rejoin on a");
    let started = Instant::now();
    let (code, said) = lab.rejoin(Node::A, false, REJOIN_BOUND)?;
    out.note(format!(
        "twinbeat rejoin took {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        said.trim().replace('\n', " | ")
    ));
    out.check(
        code == Some(0),
        format!("twinbeat rejoin exited 0 ({code:?})"),
    );
    check_rejoined(&lab, &sampler, &mut out);
    let report = newest_report(&lab.dir.join("a").join("state"));
    let committed = report
        .as_ref()
        .and_then(|r| r["committed_transactions"].as_u64());
    out.check(
        committed.is_some_and(|c| c >= 3),
        format!("the report counts the lost transactions ({committed:?} committed past the fork)"),
    );
    let names_table = report.as_ref().is_some_and(|r| {
        r["written"]
            .as_array()
            .is_some_and(|w| w.iter().any(|t| t["relation"] == "lab_orders"))
    });
    out.check(names_table, "the report names lab_orders");
    let gone = lab
        .sql(
            Node::A,
            "SELECT count(*) FROM lab_orders WHERE note = 'lost'",
        )
        .ok()
        .and_then(|r| pgq::scalar(&r).map(str::to_owned));
    out.check(
        gone.as_deref() == Some("0"),
        format!("a now has b's data: the lost rows are gone ({gone:?})"),
    );
    out.check(
        !log_lines(&lab, Node::A, &["Rejoin: OperatorRejoin"]).is_empty(),
        "a's engine decided the rejoin on the operator's request",
    );
    Ok(out.finish(sampler, false))
}

/// Scenario 31: `failover.auto_rejoin = true`: a dies, b promotes, a reboots; a fences
/// on hearing b primary in a higher term (a lost term) and rejoins by itself.
pub fn s31_auto_rejoin(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "31 auto_rejoin: the old master returns",
        "a fences on b's higher term, then rejoins by itself as b's streaming standby",
    );
    let (lab, sampler) = cluster_with(
        ctx,
        LabOptions {
            auto_rejoin: true,
            ..LabOptions::new(&ctx.lab_exe)
        },
    )?;
    lab.kill_node(Node::A)?;
    sampler.mark("fault: a dies");
    out.check(
        b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some(),
        "b promoted",
    );
    sampler.mark("a reboots (PostgreSQL and daemon start)");
    lab.revive_node(Node::A)?;
    // Its PostgreSQL comes up read-only (the start guard), so the sampler sees the
    // roles swapped at once: the daemon's own account says when the rejoin is done.
    let rejoined = crate::cmd::poll(REJOIN_BOUND, || {
        (!log_lines(&lab, Node::A, &["Standby: AutoRejoin"]).is_empty()).then_some(())
    });
    out.check(rejoined.is_some(), "a rejoined by itself");
    out.check(
        !log_lines(&lab, Node::A, &["Fence: PeerWins"]).is_empty(),
        "a fenced on b's higher term first",
    );
    out.check(
        !log_lines(&lab, Node::A, &["Rejoin: AutoRejoin"]).is_empty(),
        "a's engine decided the rejoin by itself",
    );
    check_rejoined(&lab, &sampler, &mut out);
    Ok(out.finish(sampler, false))
}
