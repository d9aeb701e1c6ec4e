//! The pair made whole again after a failover (rule `rejoin-after-fence`): the old
//! master, fenced, rejoins the new primary as its streaming standby — on the
//! operator's `twinbeat rejoin`, with a report of the writes it had accepted past the
//! fork, or by itself with `failover.auto_rejoin`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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
pub(super) fn check_rejoined(lab: &Lab, sampler: &Sampler, out: &mut Outcome) {
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

/// With `failover.auto_rejoin`: a dies, b promotes, a reboots and rejoins by itself.
pub(super) fn die_then_rejoin_by_itself(
    ctx: &Ctx,
    lab: &Lab,
    sampler: &Sampler,
    out: &mut Outcome,
) -> Result<()> {
    lab.kill_node(Node::A)?;
    sampler.mark("fault: a dies");
    out.check(
        b_promoted(sampler, takeover_deadline(ctx.profile)).is_some(),
        "b promoted",
    );
    sampler.mark("a reboots (PostgreSQL and daemon start)");
    lab.revive_node(Node::A)?;
    // Its PostgreSQL comes up read-only (the start guard), so the sampler sees the
    // roles swapped at once: the daemon's own account says when the rejoin is done.
    let rejoined = crate::cmd::poll(REJOIN_BOUND, || {
        (!log_lines(lab, Node::A, &["Standby: AutoRejoin"]).is_empty()).then_some(())
    });
    out.check(rejoined.is_some(), "a rejoined by itself");
    Ok(())
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
    die_then_rejoin_by_itself(ctx, &lab, &sampler, &mut out)?;
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

/// Rows of `bench_fill`: a row of 1,000 `x` and an int takes 1,036 bytes of an 8 kB
/// page (seven to a page, stored inline: below the TOAST threshold, so nothing
/// compresses), so 90,000 rows make a table of about 100 MiB that neither pg_rewind
/// nor pg_basebackup can skip.
const FILL_ROWS: u32 = 90_000;

/// Bound of the fill on b: the lab's `sql` gives a statement 5 s, too little for
/// 100 MiB of table and its WAL on a loaded machine.
const FILL_BOUND: Duration = Duration::from_secs(300);

/// How often a's WAL receiver is polled while `twinbeat rejoin` runs.
const STREAMING_POLL: Duration = Duration::from_millis(50);

/// What a's daemon logs once `pg_basebackup` rebuilt its data directory, asked for or
/// as the fallback of a rewind (the operator's answer, "rejoin started: …, rebuilt
/// with pg_basebackup", comes before it and is not this line).
const REBUILT: &str = "the data directory was rebuilt with pg_basebackup";

/// One timed rejoin ([`rejoin_timing`]).
#[derive(Debug, Clone)]
pub struct RejoinTiming {
    /// From just before `twinbeat rejoin --wait` to its return: the daemon reports a
    /// standby again, its rejoin done (None when the rejoin never ran). The command
    /// polls the daemon's status every 500 ms, so this is rounded up to that.
    pub elapsed: Option<Duration>,
    /// From the same start to the first poll ([`STREAMING_POLL`]) that found a's WAL
    /// receiver streaming: the moment itself, without the command's polling.
    pub streaming: Option<Duration>,
    /// `pg_total_relation_size` of the table b wrote past the fork.
    pub fill_bytes: Option<u64>,
    /// The WAL b wrote for it (bytes between the LSNs before and after).
    pub fill_wal_bytes: Option<u64>,
    /// Where the daemon's time went, from a's log.
    pub phases: RejoinPhases,
    /// Whether every check held, what was seen, the invariant sampler's report.
    pub outcome: Outcome,
}

/// The steps of one rejoin as a's daemon logs them, each from the end of the one
/// before (the first from the control request); None when a line is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RejoinPhases {
    /// Saving what the old timeline held past the fork (WAL copy, `pg_waldump`, the
    /// report), after reading both timelines.
    pub report: Option<Duration>,
    /// `pg_rewind` or `pg_basebackup`, with the crash recovery that may precede it.
    pub copy: Option<Duration>,
    /// PostgreSQL started until its WAL receiver streams.
    pub start: Option<Duration>,
}

impl RejoinPhases {
    /// Reads the phases of the (only) rejoin in node `n`'s daemon log.
    fn from_log(lab: &Lab, n: Node) -> Self {
        let at = |needles: &[&str]| {
            log_lines(lab, n, needles)
                .first()
                .and_then(|l| seconds_of_day(l))
        };
        let requested = at(&["control: rejoin"]);
        let reported = at(&["rejoin: the old timeline"]);
        let copied = at(&["rejoin: pg_rewind: pg_rewind: done!", REBUILT]);
        let streaming = at(&["rejoin: streaming from the peer"]);
        // Seconds of the day: a span over midnight wraps, hence the modulo.
        let span = |from: Option<f64>, to: Option<f64>| {
            let d = (to? - from?).rem_euclid(86_400.0);
            Some(Duration::from_secs_f64(d))
        };
        Self {
            report: span(requested, reported),
            copy: span(reported, copied),
            start: span(copied, streaming),
        }
    }
}

/// Seconds since midnight UTC of a daemon log line's leading RFC 3339 timestamp.
fn seconds_of_day(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The rejoin benchmark (`cargo lab bench --rejoin`): a fails over to b as in scenario
/// 30 (a's cable out, a fences, b promotes; no writes on a), the cable back, then b
/// writes ~100 MiB as the new primary and `twinbeat rejoin` (`--reclone` when
/// `reclone`) is timed until a streams from b. The checks make sure the time is of a
/// rejoin that worked, and by the method asked for: a pg_rewind that fell back to
/// pg_basebackup would otherwise be timed as a rewind.
pub fn rejoin_timing(ctx: &Ctx, reclone: bool) -> Result<RejoinTiming> {
    let method = if reclone {
        "pg_basebackup (--reclone)"
    } else {
        "pg_rewind"
    };
    let mut out = Outcome::new(
        &format!("rejoin timing, {method}, ~100 MiB written on the new primary"),
        "a fenced, b promoted; after twinbeat rejoin a streams from b with b's data",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    sampler.mark("fault: a's cable out");
    lab.set_link(Node::A, false)?;
    let fenced = crate::cmd::poll(takeover_deadline(ctx.profile) * 2, || {
        lab.daemon_status(Node::A)
            .ok()
            .filter(|s| s["role"] == "fenced")
    });
    out.check(fenced.is_some(), "a fenced");
    let promoted = b_promoted(&sampler, takeover_deadline(ctx.profile)).is_some();
    out.check(promoted, "b primary with the VIP");
    lab.set_link(Node::A, true)?;
    sampler.mark("a's cable back");
    // A run that never gets as far as the rejoin returns untimed.
    let untimed = |out: Outcome, sampler, fill_bytes, fill_wal_bytes| RejoinTiming {
        elapsed: None,
        streaming: None,
        fill_bytes,
        fill_wal_bytes,
        phases: RejoinPhases::default(),
        outcome: out.finish(sampler, false),
    };
    if !out.held {
        return Ok(untimed(out, sampler, None, None));
    }

    sampler.mark("b writes ~100 MiB");
    let b = lab.pg(Node::B).socket_target();
    let lsn = || {
        crate::rt::block_on(pgq::query(
            &b,
            "SELECT (pg_current_wal_lsn() - '0/0')::bigint",
            Duration::from_secs(5),
        ))
        .ok()
        .and_then(|r| pgq::scalar(&r)?.parse::<u64>().ok())
    };
    let before = lsn();
    let fill = format!(
        "CREATE TABLE bench_fill AS \
         SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, {FILL_ROWS}) g"
    );
    let filled = crate::rt::block_on(pgq::query(&b, &fill, FILL_BOUND));
    out.check(
        filled.is_ok(),
        format!("b wrote {FILL_ROWS} rows ({:?})", filled.err()),
    );
    let after = lsn();
    let fill_wal_bytes = before.zip(after).map(|(from, to)| to.saturating_sub(from));
    let fill_bytes: Option<u64> = lab
        .sql(Node::B, "SELECT pg_total_relation_size('bench_fill')")
        .ok()
        .and_then(|r| pgq::scalar(&r)?.parse().ok());
    out.note(format!(
        "bench_fill {:?} bytes, {:?} bytes of WAL",
        fill_bytes, fill_wal_bytes
    ));
    // An operator rejoins once the network is back and the daemon knows b primary,
    // so the clock starts then: the engine refuses the rejoin until it has fresh
    // evidence that b is primary in a higher term (rule `rejoin-after-fence`; the
    // age bound stays well inside the lab's `peer_state_max_age`, 5 s), and the
    // rejoin itself fails if b's PostgreSQL is not reachable yet, which after the
    // cable is back takes a's remote DB path a second or so to see.
    let ready = crate::cmd::poll(Duration::from_secs(30), || {
        lab.daemon_status(Node::A).ok().filter(|s| {
            let peer = &s["peer"];
            let path_up = |name: &str| {
                s["paths"].as_array().is_some_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p["name"] == name && p["state"] == "up")
                })
            };
            peer["role"] == "primary"
                && peer["term"].as_u64() > s["term"].as_u64()
                && peer["age_ms"].as_u64().is_some_and(|age| age < 3_000)
                && path_up("remote_db")
        })
    });
    let seen = if ready.is_some() {
        String::new()
    } else {
        // What the daemon said last, to see which half was missing.
        lab.daemon_status(Node::A).map_or_else(
            |e| format!(" (status: {e})"),
            |s| {
                format!(
                    " (term {}, peer {}, paths {})",
                    s["term"], s["peer"], s["paths"]
                )
            },
        )
    };
    out.check(
        ready.is_some(),
        format!("a's daemon hears b primary in a higher term and reaches b's PostgreSQL{seen}"),
    );
    if !out.held {
        return Ok(untimed(out, sampler, fill_bytes, fill_wal_bytes));
    }

    sampler.mark("operator: twinbeat rejoin on a");
    let a = lab.pg(Node::A).socket_target();
    let done = AtomicBool::new(false);
    let started = Instant::now();
    // The poller watches a's own WAL receiver, not b's pg_stat_replication: during a
    // `--reclone` pg_basebackup streams its WAL under a's application_name, which b
    // would show as "streaming" before a runs at all.
    let (rejoined, streaming) = std::thread::scope(|s| {
        let poller = s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let status = crate::rt::block_on(pgq::query(
                    &a,
                    "SELECT status FROM pg_stat_wal_receiver",
                    Duration::from_millis(200),
                ));
                if status.is_ok_and(|r| pgq::scalar(&r) == Some("streaming")) {
                    return Some(started.elapsed());
                }
                std::thread::sleep(STREAMING_POLL);
            }
            None
        });
        let rejoined = lab.rejoin(Node::A, reclone, REJOIN_BOUND);
        let elapsed = started.elapsed();
        // The command returns once the daemon saw its WAL receiver streaming; give the
        // poller one more round to see it too before stopping it.
        std::thread::sleep(STREAMING_POLL * 2);
        done.store(true, Ordering::SeqCst);
        (rejoined.map(|r| (r, elapsed)), poller.join().ok().flatten())
    });
    let ((code, said), elapsed) = rejoined?;
    out.note(format!(
        "twinbeat rejoin took {:.2} s (a's WAL receiver streaming after {}): {}",
        elapsed.as_secs_f64(),
        streaming.map_or("not seen".to_owned(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        )),
        said.trim().replace('\n', " | ")
    ));
    out.check(
        code == Some(0),
        format!("twinbeat rejoin exited 0 ({code:?})"),
    );

    out.check(
        lab.is_in_recovery(Node::A).unwrap_or(false),
        "a in recovery",
    );
    let b_streams = crate::cmd::poll(Duration::from_secs(10), || {
        lab.sql(
            Node::B,
            "SELECT state FROM pg_stat_replication WHERE application_name = 'a'",
        )
        .ok()
        .filter(|r| pgq::scalar(r) == Some("streaming"))
    });
    out.check(b_streams.is_some(), "b streams to a (application_name a)");
    let rows = lab
        .sql(Node::A, "SELECT count(*) FROM bench_fill")
        .ok()
        .and_then(|r| pgq::scalar(&r).map(str::to_owned));
    out.check(
        rows == Some(FILL_ROWS.to_string()),
        format!("a has b's {FILL_ROWS} rows ({rows:?})"),
    );
    let rebuilt = !log_lines(&lab, Node::A, &[REBUILT]).is_empty();
    out.check(
        rebuilt == reclone,
        format!(
            "a's data directory {} (the method asked for)",
            if rebuilt {
                "rebuilt with pg_basebackup"
            } else {
                "rewound with pg_rewind"
            }
        ),
    );
    let phases = RejoinPhases::from_log(&lab, Node::A);
    Ok(RejoinTiming {
        elapsed: Some(elapsed),
        streaming,
        fill_bytes,
        fill_wal_bytes,
        phases,
        outcome: out.finish(sampler, false),
    })
}

/// The pair as it started: a primary with the VIP, b its standby.
fn original(s: &Sample) -> bool {
    s.a.db == DbObs::Primary
        && s.a.vip == VipObs::Held
        && s.b.db == DbObs::Standby
        && s.b.vip == VipObs::Absent
}

/// Whether node `n` has the replication slot `slot` in use, within 30 s.
fn slot_active(lab: &Lab, n: Node, slot: &str) -> bool {
    crate::cmd::poll(Duration::from_secs(30), || {
        lab.sql(
            n,
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        )
        .ok()
        .filter(|r| pgq::scalar(r) == Some("t"))
    })
    .is_some()
}

/// Scenario 33: `twinbeat switchover` on a (the master) while a client commits through
/// the VIP every 10 ms: b becomes primary with every acknowledged commit and a its
/// streaming standby; then `twinbeat switchover` on a again (now the standby: its
/// request travels over serial) switches back (rule `planned-switchover`). The longest
/// gap between two acknowledged commits is the switchover's cost to clients.
pub fn s33_switchover_and_back(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "33 planned switchover and back, a client committing through the VIP",
        "b primary and a its standby with every acknowledged commit; then back again",
    );
    let (lab, sampler) = cluster(ctx, PgOptions::default())?;
    for round in 0..2 {
        lab.sql(
            Node::A,
            &format!("CREATE TABLE lab_commits_{round} (k bigint PRIMARY KEY)"),
        )?;
    }
    lab.check_replication(Node::A, Node::B, Duration::from_secs(10))?;
    // b was built by hand (`pg_basebackup -R`, no slot): its daemon puts a slot named
    // after it on a (rule `standby-slot`).
    out.check(
        slot_active(&lab, Node::A, "b"),
        "b streams through its slot b on a",
    );
    // Refused, with the reason, while the pair is paused.
    let bound = Duration::from_secs(20);
    lab.operator(Node::A, &["pause"], bound)?;
    let (code, said) = lab.operator(Node::A, &["switchover", "--wait", "0"], bound)?;
    out.check(
        code == Some(1) && said.contains("paused"),
        format!(
            "refused while paused, exit 1 ({code:?}: {})",
            said.trim().replace('\n', " | ")
        ),
    );
    lab.operator(Node::A, &["resume"], bound)?;
    // The pair is unpaused once b has heard it and a has heard b's frames without it.
    let unpaused = crate::cmd::poll(Duration::from_secs(10), || {
        Node::BOTH
            .iter()
            .all(|n| {
                lab.daemon_status(*n)
                    .is_ok_and(|s| s["maintenance"].is_null())
            })
            .then_some(())
    });
    out.check(unpaused.is_some(), "the pause ended on both nodes");
    std::thread::sleep(Duration::from_millis(1500));
    for round in 0..2 {
        let table = format!("lab_commits_{round}");
        sampler.mark(&format!(
            "operator: twinbeat switchover on a (round {round})"
        ));
        let (history, ran) = lab.commit_via_vip_while(
            &table,
            Duration::from_millis(10),
            Duration::from_secs(2),
            || {
                std::thread::sleep(Duration::from_secs(1));
                let started = Instant::now();
                let said = lab.operator(
                    Node::A,
                    &["switchover", "--wait", "90s"],
                    Duration::from_secs(100),
                );
                (said, started.elapsed())
            },
        )?;
        let ((code, said), took) = (ran.0?, ran.1);
        out.note(format!(
            "round {round}: twinbeat switchover took {:.2} s: {}",
            took.as_secs_f64(),
            said.trim().replace('\n', " | ")
        ));
        out.check(
            code == Some(0),
            format!("round {round}: twinbeat switchover exited 0 ({code:?})"),
        );
        let want: fn(&Sample) -> bool = if round == 0 { swapped } else { original };
        let whole = sampler.wait_for(Duration::from_secs(60), want);
        out.check(
            whole.is_some(),
            format!("round {round}: roles changed, the VIP with the new primary"),
        );
        let (primary, standby) = if round == 0 {
            (Node::B, Node::A)
        } else {
            (Node::A, Node::B)
        };
        let present = lab.committed_keys(primary, &table).unwrap_or_else(|e| {
            out.note(format!(
                "round {round}: cannot read {table} on {primary}: {e}"
            ));
            Default::default()
        });
        let verdict = history.check(&present);
        let latency = |quantile| {
            history.latency(quantile, ..).map_or("-".to_owned(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1e3)
            })
        };
        out.note(format!(
            "round {round}: through the VIP: {verdict}; longest gap between two acknowledged \
             commits: {} ms; commit latency p50 {}, p99 {}",
            history.longest_ack_gap().as_millis(),
            latency(0.5),
            latency(0.99)
        ));
        out.check(
            verdict.acknowledged > 0 && verdict.lost.is_empty(),
            format!(
                "round {round}: the new primary has every acknowledged commit ({} of {} missing)",
                verdict.lost.len(),
                verdict.acknowledged
            ),
        );
        out.check(
            verdict.failed_present.is_empty(),
            format!(
                "round {round}: no commit the checker saw fail is there ({} are: a checker \
                 or server anomaly)",
                verdict.failed_present.len()
            ),
        );
        let name = if standby == Node::A { "a" } else { "b" };
        let streaming = crate::cmd::poll(Duration::from_secs(30), || {
            lab.sql(
                primary,
                &format!("SELECT state FROM pg_stat_replication WHERE application_name = '{name}'"),
            )
            .ok()
            .filter(|r| pgq::scalar(r) == Some("streaming"))
        });
        out.check(
            streaming.is_some(),
            format!("round {round}: the old master streams from the new primary"),
        );
        out.check(
            slot_active(&lab, primary, name),
            format!("round {round}: through its slot {name} on the new primary"),
        );
        let stale = lab
            .sql(standby, "SELECT count(*) FROM pg_replication_slots")
            .ok()
            .and_then(|r| pgq::scalar(&r).map(str::to_owned));
        out.check(
            stale.as_deref() == Some("0"),
            format!("round {round}: the old master kept no slot of its own ({stale:?})"),
        );
        let bad = stays(&sampler, Duration::from_secs(3), want);
        out.check(bad.is_none(), format!("round {round}: stays so ({bad:?})"));
    }
    Ok(out.finish(sampler, false))
}
