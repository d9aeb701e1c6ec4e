//! The fault scenarios, one function each, returning what was observed, in one file per
//! fault family: `master_death`, `partitions`, `freezes` and pauses,
//! `database_faults`, `restarts` (and the old master's plain return), `returns` (a
//! restart or return that must hold for evidence), `serial_faults`, `replication`,
//! `rejoin` (the old master back as the new primary's standby), `tls` (the pair with
//! TLS between the nodes), and the heartbeat `bridge` cable.
//!
//! They need daemons that act (promote, move the VIP, fence), so they are library functions
//! run by `cargo lab demo` / `bench` and, once the daemon can fail over, by tests. Each starts
//! its own cluster (fresh names), runs the invariant sampler throughout, injects its fault,
//! and reports whether the expected outcome held — it never assumes it.

mod backend_crash;
mod bridge;
mod database_faults;
mod freezes;
mod human_promoted;
mod maintenance;
mod master_death;
mod outcome;
mod partitions;
mod rejoin;
mod replication;
mod restarts;
mod returns;
mod serial_faults;
mod tls;
mod unfit_standby;
mod watch;

use std::path::PathBuf;
use std::time::Duration;

pub use backend_crash::*;
pub use bridge::*;
pub use database_faults::*;
pub use freezes::*;
pub use human_promoted::*;
pub use maintenance::*;
pub use master_death::*;
pub use outcome::Outcome;
pub use partitions::*;
pub use rejoin::*;
pub use replication::*;
pub use restarts::*;
pub use returns::*;
pub use serial_faults::*;
pub use tls::*;
pub use unfit_standby::*;
pub use watch::{watch_takeover, Takeover};

use crate::daemon::Profile;
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabOptions};
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::sampler::{DbObs, Sample, Sampler, VipObs};

/// What a scenario needs to build its cluster.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `lab` executable (keeper, relay).
    pub lab_exe: PathBuf,
    /// The daemons' timing profile.
    pub profile: Profile,
}

/// How long "no promotion" is watched: several times the profile's detection time.
pub fn quiet_window(p: Profile) -> Duration {
    match p {
        Profile::Default => Duration::from_secs(8),
        Profile::Fast => Duration::from_secs(3),
    }
}

/// The daemons' `startup_grace` in each profile: the daemon's preset of that name
/// (`host-daemon/src/config/defaults.rs`), which the lab's waits need as a number.
pub fn startup_grace(p: Profile) -> Duration {
    match p {
        Profile::Default => Duration::from_secs(60),
        Profile::Fast => Duration::from_secs(10),
    }
}

/// How long a failover may take before the scenario calls it missing (never a timing goal).
pub fn takeover_deadline(p: Profile) -> Duration {
    match p {
        Profile::Default => Duration::from_secs(20),
        Profile::Fast => Duration::from_secs(10),
    }
}

/// Starts a cluster with daemons and waits for a healthy pair: a primary holding the VIP,
/// b a standby, both daemons running.
pub fn cluster(ctx: &Ctx, pg: PgOptions) -> Result<(Lab, Sampler)> {
    cluster_with(
        ctx,
        LabOptions {
            pg,
            ..LabOptions::new(&ctx.lab_exe)
        },
    )
}

/// [`cluster`] from lab options (e.g. the bridge cable); the daemons run with the
/// context's profile.
pub fn cluster_with(ctx: &Ctx, opts: LabOptions) -> Result<(Lab, Sampler)> {
    let lab = Lab::start(LabOptions {
        daemons: Some(ctx.profile),
        ..opts
    })?;
    let sampler = lab.sampler();
    let healthy = sampler.wait_for(Duration::from_secs(60), |s| {
        s.a.db == DbObs::Primary && s.a.vip == VipObs::Held && s.b.db == DbObs::Standby
    });
    if healthy.is_none() {
        let running = Node::BOTH.map(|n| lab.daemon(n).is_some());
        return Err(LabError::Daemon(format!(
            "no healthy pair within 60 s (daemons running a/b: {running:?}; latest sample {:?}); \
             the daemon must take the VIP on the primary at start — see {}",
            sampler.latest(),
            lab.daemon_log(Node::A).display()
        )));
    }
    // b's daemon sets `primary_slot_name` once (rule `standby-slot`), which restarts
    // its WAL receiver: let that happen before a scenario's fault, so no fault lands
    // in the reconnect. Bounded; a pair that never gets there is the scenario's to judge.
    let slotted = crate::cmd::poll(Duration::from_secs(10), || {
        lab.sql(
            Node::A,
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'b' AND active",
        )
        .ok()
        .filter(|r| crate::pgq::scalar(r) == Some("1"))
    });
    sampler.mark(if slotted.is_some() {
        "healthy pair: a primary with the VIP, b standby streaming through its slot"
    } else {
        "healthy pair: a primary with the VIP, b standby (not yet through its slot)"
    });
    Ok((lab, sampler))
}

/// Kills node a (scenario 1's master death) and checks the takeover: b writable, the
/// client reaching b through the VIP, the sampler agreeing.
pub fn kill_master_and_check_takeover(
    ctx: &Ctx,
    lab: &Lab,
    sampler: &Sampler,
    out: &mut Outcome,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    lab.kill_node(Node::A)?;
    let t = watch_takeover(lab, t0, takeover_deadline(ctx.profile));
    out.check(t.b_writable.is_some(), "b writable");
    out.check(t.vip_on_b.is_some(), "the client reaches b through the VIP");
    out.takeover = Some(t);
    out.check(
        b_promoted(sampler, Duration::from_secs(2)).is_some(),
        "sampler: b primary with the VIP",
    );
    Ok(())
}

/// Runs a "no promotion" scenario: healthy pair, `inject`, watch the quiet window, `lift`.
fn no_promotion(
    ctx: &Ctx,
    name: &str,
    inject: impl FnOnce(&Lab) -> Result<()>,
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

/// Runs `scenario` with the default profile, one lab at a time, prints what it observed
/// and panics unless it held: the body of every scenario test.
pub fn run_and_assert(lab_exe: PathBuf, scenario: Scenario) {
    let _only_one_lab_at_a_time = crate::exclusive();
    let ctx = Ctx {
        lab_exe,
        profile: Profile::Default,
    };
    let outcome = match scenario(&ctx) {
        Ok(outcome) => outcome,
        Err(e) => panic!("the scenario could not run: {e}"),
    };
    println!("{} — expected: {}", outcome.scenario, outcome.expected);
    for line in &outcome.observed {
        println!("  {line}");
    }
    assert!(
        outcome.held,
        "{}: {:#?}",
        outcome.scenario, outcome.observed
    );
}

/// Waits until b is writable and holds the VIP.
pub fn b_promoted(sampler: &Sampler, deadline: Duration) -> Option<Sample> {
    sampler.wait_for(deadline, |s| {
        s.b.db == DbObs::Primary && s.b.vip == VipObs::Held
    })
}

/// Watches for `window`: the first sample where `ok` fails, if any.
pub fn stays(sampler: &Sampler, window: Duration, ok: impl Fn(&Sample) -> bool) -> Option<Sample> {
    sampler.wait_for(window, |s| !ok(s))
}

/// The normal pair: a primary with the VIP, b standby without it.
pub fn normal(s: &Sample) -> bool {
    s.a.db == DbObs::Primary
        && s.a.vip == VipObs::Held
        && s.b.db == DbObs::Standby
        && s.b.vip == VipObs::Absent
}

/// Nobody promoted b (a may be in any state).
pub fn b_not_promoted(s: &Sample) -> bool {
    s.b.db != DbObs::Primary && s.b.vip != VipObs::Held
}

/// Lines of node `n`'s daemon log that contain any of `needles` (case-insensitive).
pub fn log_lines(lab: &Lab, n: Node, needles: &[&str]) -> Vec<String> {
    log_lines_from(lab, n, 0, needles)
}

/// The line node `n`'s daemon logged for a hook's run whose output holds every one of
/// `words` (the lab's hooks echo their event: `daemon::Hooks::echo_event`), waiting up
/// to `within` for it (a hook runs beside the decision, not before it).
pub fn hook_line(lab: &Lab, n: Node, words: &[&str], within: Duration) -> Option<String> {
    crate::cmd::poll(within, || {
        log_lines(lab, n, &["hook "])
            .into_iter()
            .find(|l| words.iter().all(|w| l.contains(w)))
    })
}

/// How long node `n`'s daemon log is now: a restarted daemon appends to it, so what a
/// scenario reads from this offset on is the new run's.
pub fn log_len(lab: &Lab, n: Node) -> u64 {
    std::fs::metadata(lab.daemon_log(n)).map_or(0, |m| m.len())
}

/// [`log_lines`] written from byte `from` on (see [`log_len`]).
pub fn log_lines_from(lab: &Lab, n: Node, from: u64, needles: &[&str]) -> Vec<String> {
    let bytes = std::fs::read(lab.daemon_log(n)).unwrap_or_default();
    let start = usize::try_from(from).map_or(bytes.len(), |f| f.min(bytes.len()));
    let text = String::from_utf8_lossy(&bytes[start..]);
    text.lines()
        .filter(|l| {
            let low = l.to_lowercase();
            needles.iter().any(|n| low.contains(&n.to_lowercase()))
        })
        .map(str::to_owned)
        .collect()
}

/// A scenario function.
pub type Scenario = fn(&Ctx) -> Result<Outcome>;

/// Every scenario, by number, for `cargo lab` and the tests to come.
pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("1", s01_master_death),
        ("2", s02_icmp_dropped),
        ("3", s03_remote_db_dropped),
        ("4", s04_serial_cut),
        ("5", s05_ip_partition),
        ("6", s06_master_network_gone),
        ("7", s07_master_db_killed_once),
        ("8", s08_master_db_cannot_start),
        ("9", s09_standby_db_broken_then_master_death),
        ("10", s10_standby_gateway_lost_then_master_death),
        ("11", s11_master_daemon_frozen),
        ("12", s12_master_frozen_whole),
        ("12b", s12b_paused_vm),
        ("13", s13_old_master_returns),
        ("14", s14_standby_daemon_killed_while_promoting),
        ("15", s15_serial_corruption),
        ("16", s16_serial_cross_wired),
        ("17", s17_sync_no_lost_commit),
        ("18", s18_degraded_pair_no_promotion),
        ("19", s19_cold_start),
        ("20", s20_gateway_down),
        ("21", s21_fence_with_dropped_frames),
        ("22", s22_master_daemon_stopped),
        ("23", s23_master_db_hung),
        ("23b", s23b_master_db_hung_long),
        ("24", s24_old_master_returns_isolated),
        ("25", s25_master_daemon_restart_serial_broken),
        ("26", s26_master_backend_killed),
        ("27", s27_master_gateway_lost_standby_not_streaming),
        ("28", s28_standby_promoted_by_hand),
        ("29", s29_master_gateway_lost_serial_cut),
        ("30", s30_rejoin_after_failover),
        ("31", s31_auto_rejoin),
        ("32", s32_pause_through_a_master_db_restart),
        ("33", s33_switchover_and_back),
        ("34", s34_strict_master_death),
        ("35", s35_async_master_death_contrast),
        ("36", s36_sync_standby_death),
        ("37", s37_strict_standby_death),
        ("38", s38_sync_master_fence),
        ("39", s39_sync_ip_partition),
        ("40", s40_sync_serial_down_wal_receiver_broken),
        ("41", s41_sync_degrade_then_master_death),
        ("42", s42_strict_master_fence),
        ("43", s43_strict_ip_partition),
        ("44", s44_strict_serial_down_wal_receiver_broken),
        ("45", s45_strict_wal_receiver_broken_then_master_death),
        ("46", s46_sync_failover_then_rejoin),
        ("47", s47_strict_failover_then_rejoin),
        ("48", s48_tls_failover_and_rejoin),
        ("b1", b1_master_death_through_bridge),
        ("b2", b2_bridge_stopped),
        ("b3", b3_bridge_status_in_healthy_pair),
        ("brtt", brtt_serial_round_trip),
    ]
}
