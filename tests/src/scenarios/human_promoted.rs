//! A standby promoted by hand (rule `human-promoted-standby`): somebody ran
//! `pg_promote()` on b. b says so in its frames and stays a standby to its daemon (no
//! term winner); a keeps the VIP, never fences onto it, and both raise critical alarms.
//! Two writable databases is the event itself, so the sampler's invariant is reported,
//! not asserted, and the VIP is asserted on a only.

use super::{cluster, log_lines, quiet_window, stays, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::sampler::{DbObs, VipObs};

/// Scenario 28: `pg_promote()` run by hand on b → a keeps the VIP and serves; nobody
/// fences; both alarm.
pub fn s28_standby_promoted_by_hand(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "28 standby promoted by hand",
        "a keeps the VIP and serves; b stays standby to its daemon; both alarm",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: SELECT pg_promote() on b by hand");
    lab.sql(Node::B, "SELECT pg_promote()")?;
    let window = quiet_window(ctx.profile);
    let bad = stays(&sampler, window, |s| {
        s.a.db == DbObs::Primary && s.a.vip == VipObs::Held && s.b.vip == VipObs::Absent
    });
    out.check(
        bad.is_none(),
        format!("for {window:?}: a primary with the VIP, never on b ({bad:?})"),
    );
    let (a, b) = (
        lab.daemon_status(Node::A).unwrap_or_default(),
        lab.daemon_status(Node::B).unwrap_or_default(),
    );
    out.check(
        a["role"] == "primary" && b["role"] == "standby",
        format!("daemons: a {}, b {}", a["role"], b["role"]),
    );
    out.check(
        b["replication"]["promoted_by_hand"] == true
            && a["replication"]["peer_promoted_by_hand"] == true,
        "both statuses say b was promoted by hand",
    );
    out.check(
        a["replication"]["peer_db"]["in_recovery"] == false,
        format!(
            "a reads b writable over the remote DB path ({})",
            a["replication"]["peer_db"]
        ),
    );
    out.check(
        !log_lines(&lab, Node::B, &["LocalDbPromotedByHand"]).is_empty(),
        "b alarmed: promoted by hand",
    );
    out.check(
        !log_lines(&lab, Node::A, &["PeerHumanPromoted"]).is_empty(),
        "a alarmed: its standby was promoted by hand",
    );
    out.check(
        log_lines(&lab, Node::A, &["decision Fence"]).is_empty(),
        "a never fenced",
    );
    Ok(out.finish(sampler, true))
}
