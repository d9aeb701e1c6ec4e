//! Partitions: one path or all IP between the nodes dropped, a node's network or the gateway gone.

use std::time::{Duration, Instant};

use super::{
    b_not_promoted, cluster, hook_line, log_lines, no_promotion, normal, quiet_window, stays,
    takeover_deadline, watch_takeover, Ctx, Outcome,
};
use crate::error::Result;
use crate::faults::Fault;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::relay::Dir;
use crate::sampler::VipObs;

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
    // Rule `fence-handshake`: a asked over serial and fenced on b's "ready".
    out.check(
        !log_lines(&lab, Node::A, &["asking the standby to take over"]).is_empty(),
        "a asked b to take over before fencing",
    );
    out.check(
        !log_lines(&lab, Node::B, &["this standby answers the master"]).is_empty(),
        "b answered after its fresh checks",
    );
    out.check(
        log_lines(&lab, Node::A, &["the standby answers"])
            .iter()
            .any(|l| l.contains("? ready")),
        "a heard b's \"ready\"",
    );
    let hook = hook_line(
        &lab,
        Node::A,
        &[
            "event=fence",
            "role=fencing",
            "reason=own_gateway_down",
            "peer=b",
        ],
        Duration::from_secs(10),
    );
    out.check(hook.is_some(), format!("a's on_fence hook ran: {hook:?}"));
    Ok(out.finish(sampler, false))
}

/// Scenario 29: The serial cable cut, then a loses its gateway while a and b still reach
/// each other over IP → a asks b over the remote DB path (rule `fence-handshake`: each
/// publishes its stage in its own PostgreSQL), fences on b's "ready" and `Armed`; b,
/// armed, promotes once a's PostgreSQL is gone although a's host still answers ICMP.
pub fn s29_master_gateway_lost_serial_cut(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "29 serial cut, then the master loses its gateway",
        "a hands over through the remote DB path: asks, fences on b's ready; b promotes",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    lab.relay()?.cut(Dir::Both)?;
    sampler.mark("fault: serial cut");
    // Both see serial down, and a's last frame from b grows older than
    // `peer_state_max_age`: from then on only the DB path can carry a question.
    let serial_down = |n| !log_lines(&lab, n, &["path serial down"]).is_empty();
    let seen = crate::cmd::wait_for(
        "both daemons see serial down",
        takeover_deadline(ctx.profile),
        Duration::from_millis(50),
        || (serial_down(Node::A) && serial_down(Node::B)).then_some(()),
    );
    out.check(seen.is_ok(), "both saw the serial path down");
    let bad = stays(&sampler, quiet_window(ctx.profile), normal);
    out.check(bad.is_none(), "pair unchanged with serial cut");
    lab.apply(Fault::DropGateway(Node::A))?;
    sampler.mark("fault: a loses its gateway");
    let t0 = Instant::now();
    let t = watch_takeover(&lab, t0, takeover_deadline(ctx.profile) * 2);
    out.check(t.a_down.is_some(), "a stopped its PostgreSQL (fenced)");
    out.check(t.b_writable.is_some(), "b writable");
    out.takeover = Some(t);
    let published = |n, stage: &str| {
        log_lines(&lab, n, &["published twinbeat.handover"])
            .iter()
            .any(|l| l.contains(&format!("\"{stage}:")))
    };
    out.check(published(Node::A, "ask"), "a published its question");
    out.check(published(Node::B, "ready"), "b published \"ready\"");
    out.check(published(Node::A, "fencing"), "a published that it fences");
    out.check(published(Node::B, "armed"), "b published that it is armed");
    out.check(
        !log_lines(&lab, Node::B, &["Promote: PeerFencing"]).is_empty(),
        "b promoted on the handover, not on all paths down",
    );
    let released = sampler.wait_for(Duration::from_secs(10), |s| s.a.vip == VipObs::Absent);
    out.check(released.is_some(), "a released the VIP");
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
