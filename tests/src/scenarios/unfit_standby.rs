//! The third event: the standby silently stopped streaming (an empty
//! `primary_conninfo`; every probe still green), then the master lost its gateway. A
//! fence then would leave no primary at all: the standby, far behind, rightly refuses to
//! promote. Rule `fence-when-standby-can-take-over` now asks the standby's received WAL
//! to be within `max_lag_on_failover`, the bound its own fresh checks apply.

use super::{cluster, log_lines, quiet_window, stays, Ctx, Outcome};
use crate::error::Result;
use crate::faults::Fault;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::sampler::{DbObs, VipObs};

/// Bytes of WAL the master writes while the standby does not stream: well over the
/// default `max_lag_on_failover` (1 MiB), as in the issue (8 MB).
const BEHIND: u64 = 8 << 20;

/// Scenario 27: b stops streaming; a writes 8 MB; a loses its gateway → a does not fence
/// (b cannot take over), keeps serving with the VIP, alarms; b warns it is behind.
pub fn s27_master_gateway_lost_standby_not_streaming(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "27 standby not streaming, then the master loses its gateway",
        "a does not fence onto a standby that cannot take over; a keeps serving",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: b stops streaming (primary_conninfo emptied)");
    lab.sql(Node::B, "ALTER SYSTEM SET primary_conninfo = ''")?;
    lab.sql(Node::B, "SELECT pg_reload_conf()")?;
    let stopped = crate::cmd::wait_for(
        "b's WAL receiver gone",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(20),
        || {
            lab.sql(Node::B, "SELECT count(*) FROM pg_stat_wal_receiver")
                .ok()
                .filter(|r| crate::pgq::scalar(r) == Some("0"))
        },
    );
    out.check(stopped.is_ok(), "b no longer streams");
    let rows = BEHIND / 1000;
    lab.sql(
        Node::A,
        &format!(
            "CREATE TABLE lab_behind AS SELECT g, repeat('x', 900) AS pad \
             FROM generate_series(1, {rows}) g"
        ),
    )?;
    sampler.mark("a wrote ~8 MB that b does not have");
    lab.apply(Fault::DropGateway(Node::A))?;
    sampler.mark("fault: a loses its gateway");
    // Longer than a's gateway detection plus the settle time of rule
    // `fence-when-standby-can-take-over` (about 8 s with the default profile), with room
    // for a loaded machine: a's decision falls inside it.
    let window = quiet_window(ctx.profile) * 2;
    let bad = stays(&sampler, window, |s| {
        s.a.db == DbObs::Primary
            && s.a.vip == VipObs::Held
            && s.b.db == DbObs::Standby
            && s.b.vip == VipObs::Absent
    });
    out.check(
        bad.is_none(),
        format!("for {window:?}: a primary with the VIP, b standby ({bad:?})"),
    );
    let a = lab.daemon_status(Node::A).unwrap_or_default();
    out.check(
        a["role"] == "primary",
        format!("a's daemon still primary (role {})", a["role"]),
    );
    let lag = a["replication"]["lag_bytes"].as_u64();
    out.check(
        a["replication"]["standby_too_far_behind"] == true && lag.is_some_and(|l| l > 1 << 20),
        format!("a's status shows the standby too far behind (lag {lag:?} bytes)"),
    );
    let metrics = crate::daemon::http_get(&lab.topo, Node::A, "/metrics").unwrap_or_default();
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("twinbeat_replication_lag_bytes "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok());
    out.check(
        gauge.is_some_and(|g| g > 1 << 20),
        format!("a's /metrics: twinbeat_replication_lag_bytes {gauge:?}"),
    );
    out.check(
        !log_lines(&lab, Node::A, &["LagTooHigh"]).is_empty(),
        "a said why it does not fence (the standby's lag)",
    );
    out.check(
        !log_lines(&lab, Node::B, &["NotStreaming"]).is_empty(),
        "b warned that it fell behind",
    );
    Ok(out.finish(sampler, false))
}
