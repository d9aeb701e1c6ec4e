//! Restarts and returns: the old master back, the standby's daemon killed mid-promotion, a cold
//! start, the master's daemon stopped and started again.

use std::cell::Cell;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{
    b_not_promoted, b_promoted, cluster, log_lines, normal, quiet_window, startup_grace, stays,
    takeover_deadline, Ctx, Outcome,
};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::pgq;
use crate::relay::Dir;
use crate::sampler::{DbObs, Sample, VipObs, PERIOD};

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
    // Restarted, b has not heard a since. PostgreSQL still in recovery: b re-evaluates
    // as a standby and, after `startup_grace`, promotes in the next term. Already out of
    // recovery: b was primary in the claimed term, and nothing heard is no evidence that
    // a has not taken over (rule `hold-needs-evidence`): b holds without the VIP until
    // the operator releases it.
    let wait = startup_grace(ctx.profile) + takeover_deadline(ctx.profile);
    let settled = crate::cmd::wait_for(
        "b primary, or holding for the operator",
        wait,
        PERIOD,
        || {
            let st = lab.daemon_status(Node::B).ok()?;
            (st["role"] == "primary" || st["hold_releasable"] == true).then_some(st)
        },
    );
    if settled
        .as_ref()
        .is_ok_and(|st| st["hold_releasable"] == true)
    {
        let holding = sampler.snapshot();
        let vip_free = holding
            .timeline
            .last()
            .is_some_and(|e| e.what.ends_with("vip Absent"));
        out.check(
            vip_free,
            "b holds without the VIP, waiting for the operator",
        );
        sampler.mark("operator: twinbeat resume --force-primary on b");
        let (code, said) = lab.release_hold(Node::B)?;
        out.check(
            code == Some(0),
            format!("the release accepted ({code:?}: {said})"),
        );
    }
    out.check(
        b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some(),
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

/// Scenario 22: a's daemon stopped cleanly (SIGTERM, as a package upgrade's `systemctl stop`)
/// while a's host and PostgreSQL stay up → b never promotes: a's host and database still
/// answer, so only b's serial path goes down (rule `partial-loss-only-warns`). Started
/// again, a's daemon keeps the VIP while it gets evidence about b (rule
/// `hold-needs-evidence`) and the pair is normal again: the restart is invisible (the
/// VIP never leaves a, no netlink delete of it, the same postmaster).
pub fn s22_master_daemon_stopped(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "22 master's daemon stopped, host and PostgreSQL up",
        "no promotion while it is stopped; a normal pair once it runs again",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    let postmaster = lab.pg(Node::A).postmaster_pid();
    sampler.mark("fault: a's daemon SIGTERM (host and PostgreSQL stay up)");
    stop_daemon_cleanly(&lab, Node::A, &mut out);
    sampler.mark("a's daemon gone");
    // Several times b's detection time: b has seen its serial path go down and decided
    // on it, more than once.
    let window = quiet_window(ctx.profile);
    let vip = VipTally::default();
    let bad = stays(&sampler, window, |s| {
        vip.count(s);
        s.a.db == DbObs::Primary && s.b.db == DbObs::Standby && s.b.vip == VipObs::Absent
    });
    out.check(
        bad.is_none(),
        format!("for {window:?}: a writable, b in recovery without the VIP ({bad:?})"),
    );
    out.note(format!("VIP while a's daemon was stopped: {}", vip.text()));
    out.check(
        vip.on_b.get() == 0 && vip.nowhere.get() == 0,
        "the VIP stayed on a while its daemon was stopped",
    );
    out.check(
        lab.is_in_recovery(Node::B).is_ok_and(|r| r),
        "b's PostgreSQL in recovery",
    );
    let b = lab.daemon_status(Node::B).unwrap_or_default();
    let serial = b["paths"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "serial"))
        .map(|p| p["state"].clone())
        .unwrap_or_default();
    out.check(
        b["role"] == "standby" && serial == "down",
        format!(
            "b's daemon saw the stop and stayed standby (role {}, serial path {serial})",
            b["role"]
        ),
    );

    sampler.mark("a's daemon started again");
    let starting = Instant::now();
    lab.start_daemon(Node::A)?;
    // A restarted master holds until a fresh round trip with b; that is far within the
    // bound a failover gets.
    let vip = VipTally::default();
    let back = sampler.wait_for(takeover_deadline(ctx.profile), |s| {
        vip.count(s);
        normal(s)
            && lab
                .daemon_status(Node::A)
                .is_ok_and(|v| v["role"] == "primary")
    });
    out.check(
        back.is_some(),
        format!(
            "normal pair again, a's daemon primary ({:?} after its start)",
            starting.elapsed()
        ),
    );
    out.note(format!("VIP while a's daemon restarted: {}", vip.text()));
    // Rule `hold-needs-evidence`: the restart is invisible — the VIP never left a
    // (no netlink delete of it: the daemon logs every removal) and PostgreSQL was
    // not restarted (the same postmaster).
    out.check(
        vip.on_b.get() == 0 && vip.nowhere.get() == 0,
        "the VIP stayed on a through the restart",
    );
    let removals = log_lines(&lab, Node::A, &["released: Removed"]);
    out.check(
        removals.is_empty(),
        format!("no netlink delete of the VIP by a's daemon ({removals:?})"),
    );
    let after = lab.pg(Node::A).postmaster_pid();
    out.check(
        after.is_some() && after == postmaster,
        format!("a's PostgreSQL not restarted (postmaster {postmaster:?} -> {after:?})"),
    );
    out.check(
        lab.is_in_recovery(Node::B).is_ok_and(|r| r)
            && lab.is_in_recovery(Node::A).is_ok_and(|r| !r),
        "PostgreSQL: a writable, b in recovery",
    );
    Ok(out.finish(sampler, false))
}

/// Stops node `n`'s daemon with SIGTERM (as `systemctl stop` does) and checks it exits
/// within [`DAEMON_EXIT`]; should it hang, it is killed: the scenario needs it gone.
pub(super) fn stop_daemon_cleanly(lab: &crate::lab::Lab, n: Node, out: &mut Outcome) {
    let stopping = Instant::now();
    lab.signal_daemon(n, Signal::SIGTERM);
    let exited = crate::cmd::wait_for(
        &format!("{n}'s daemon exits on SIGTERM"),
        DAEMON_EXIT,
        Duration::from_millis(10),
        || lab.daemon(n).is_none().then_some(()),
    );
    out.check(
        exited.is_ok(),
        format!("{n}'s daemon exited on SIGTERM ({:?})", stopping.elapsed()),
    );
    lab.stop_daemon(n, Duration::ZERO);
}

/// How long a daemon may take to exit on SIGTERM before the scenario calls it hung.
pub(super) const DAEMON_EXIT: Duration = Duration::from_secs(5);

/// Where the VIP was over a run of samples.
#[derive(Default)]
pub(super) struct VipTally {
    on_a: Cell<u32>,
    on_b: Cell<u32>,
    nowhere: Cell<u32>,
}

impl VipTally {
    pub(super) fn count(&self, s: &Sample) {
        let held = |o: VipObs| o == VipObs::Held;
        let slot = match (held(s.a.vip), held(s.b.vip)) {
            (true, _) => &self.on_a,
            (false, true) => &self.on_b,
            (false, false) => &self.nowhere,
        };
        slot.set(slot.get() + 1);
    }

    pub(super) fn text(&self) -> String {
        let ms = |n: u32| PERIOD.saturating_mul(n).as_millis();
        format!(
            "on a in {} samples, on b in {}, on neither in {} (~{} ms)",
            self.on_a.get(),
            self.on_b.get(),
            self.nowhere.get(),
            ms(self.nowhere.get())
        )
    }
}
