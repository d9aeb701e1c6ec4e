//! Database faults: the master's PostgreSQL killed once, or unable to start again.

use std::time::{Duration, Instant};

use super::{cluster, log_lines, normal, quiet_window, stays, watch_takeover, Ctx, Outcome};
use crate::error::Result;
use crate::netns::Node;
use crate::pg::PgOptions;
use crate::relay::Dir;
use crate::sampler::DbObs;

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
