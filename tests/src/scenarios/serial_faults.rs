//! Serial faults: the cable cut, corrupted, or cross-wired to another cluster.

use super::{cluster, no_promotion, normal, quiet_window, stays, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::relay::Dir;

/// Scenario 4: Only the serial cable cut → no promotion.
pub fn s04_serial_cut(ctx: &Ctx) -> Result<Outcome> {
    no_promotion(
        ctx,
        "4 serial cable cut",
        |lab| lab.relay()?.cut(Dir::Both),
        &["serial"],
    )
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
