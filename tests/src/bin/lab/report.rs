//! What `cargo lab` prints: a lab's status, the failover timeline, the benchmark table.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use twinbeat_lab::netns::{Host, Topology};
use twinbeat_lab::pg::PgNode;
use twinbeat_lab::pgq;
use twinbeat_lab::sampler::SamplerReport;
use twinbeat_lab::scenarios::{RejoinTiming, Takeover};
use twinbeat_lab::state::LabState;
use twinbeat_lab::{Lab, Node};

fn role(pg: &PgNode) -> String {
    match twinbeat_lab::rt::block_on(pgq::query(
        &pg.socket_target(),
        "SELECT pg_is_in_recovery()",
        Duration::from_secs(2),
    )) {
        Ok(r) if pgq::scalar(&r) == Some("f") => "primary (writable)".into(),
        Ok(_) => "standby (in recovery)".into(),
        Err(e) => format!("not answering ({e})"),
    }
}

/// Prints a running lab: addresses, PostgreSQL roles, VIP, relay, daemons, how to use it.
pub(crate) fn describe(lab: &Lab) {
    let t = &lab.topo;
    println!("lab {} in {}", t.id, lab.dir.display());
    println!(
        "  network {}: gateway {}, a {}, b {}, client {}, VIP {}",
        t.subnet(),
        t.addr(Host::Gateway),
        t.addr(Host::A),
        t.addr(Host::B),
        t.addr(Host::Client),
        t.vip()
    );
    for n in Node::BOTH {
        let pg = lab.pg(n);
        println!(
            "  node {n} (namespace {}): PostgreSQL {}",
            t.ns(n.host()),
            role(pg)
        );
        match lab.daemon(n) {
            Some(p) => match lab.daemon_status(n) {
                Ok(v) => println!("    daemon pid {}: {}", p.pid, v),
                Err(e) => println!("    daemon pid {}: status not available ({e})", p.pid),
            },
            None => println!("    daemon: not running"),
        }
    }
    match lab.vip_holders() {
        Ok(h) => println!("  VIP held by: {h:?}"),
        Err(e) => println!("  VIP: {e}"),
    }
    match lab.relay().and_then(|r| r.stats()) {
        Ok(s) => println!(
            "  serial relay: a→b {} bytes, b→a {} bytes",
            s.ab.bytes_out, s.ba.bytes_out
        ),
        Err(e) => println!("  serial relay: {e}"),
    }
    println!(
        "  try: ip netns exec {} psql -h {} -U postgres   (password {})",
        t.ns(Host::Client),
        t.vip(),
        twinbeat_lab::pg::PASSWORD
    );
    println!(
        "       echo cut | socat - UNIX-CONNECT:{}/relay.sock",
        lab.dir.display()
    );
}

/// Prints a lab found on disk (`cargo lab status`).
pub(crate) fn status_of(t: &Topology, dir: &Path, st: &LabState) {
    let owner = match (&st.owner, st.detached) {
        (_, true) => "left up by `cargo lab up`".to_owned(),
        (Some(o), false) if o.alive() => format!("owned by pid {}", o.pid),
        _ => "stale (owner gone): `cargo lab down` removes it".to_owned(),
    };
    println!("lab {} in {}: {owner}", st.id, dir.display());
    for n in Node::BOTH {
        let pg = PgNode::new(t, dir, n);
        let iface = t
            .iface(n.host())
            .map(|i| format!("{} {:?}", i.operstate, i.addrs));
        println!(
            "  node {n}: PostgreSQL {}; interface {:?}",
            role(&pg),
            iface.unwrap_or_else(|e| e.to_string())
        );
        let running = st
            .procs
            .iter()
            .filter(|p| p.alive() && p.label == format!("daemon {n}"))
            .count();
        println!(
            "    daemon: {}",
            if running > 0 {
                "running"
            } else {
                "not running"
            }
        );
    }
    let live = st.procs.iter().filter(|p| p.alive()).count();
    println!("  {live} of {} recorded processes alive", st.procs.len());
}

fn ms(d: Duration) -> String {
    format!("{:>8.1} ms", d.as_secs_f64() * 1000.0)
}

/// A log line without ANSI colour sequences (ESC [ ... letter).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Seconds since midnight UTC of a log line's leading RFC 3339 timestamp.
fn log_time(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let time = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Prints the failover timeline: the fault, b's log lines about paths and the decision, the
/// milestones measured from outside, and the sampler's observations.
pub(crate) fn timeline(lab: &Lab, wall: SystemTime, take: &Takeover, rep: &SamplerReport) {
    let fault_sod = wall
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs_f64()) % 86_400.0)
        .unwrap_or(0.0);
    let mut events: Vec<(f64, String)> = vec![(0.0, "fault: a killed".into())];
    let log = std::fs::read_to_string(lab.daemon_log(Node::B)).unwrap_or_default();
    for line in log.lines().map(strip_ansi) {
        let line = line.as_str();
        let low = line.to_lowercase();
        if !["down", "promot", "vip", "fence", "decision"]
            .iter()
            .any(|w| low.contains(w))
        {
            continue;
        }
        if let Some(t) = log_time(line) {
            let rel = t - fault_sod;
            if (-0.5..60.0).contains(&rel) {
                events.push((
                    rel * 1000.0,
                    format!(
                        "b: {}",
                        line.split_once(' ').map(|x| x.1).unwrap_or(line).trim()
                    ),
                ));
            }
        }
    }
    if let Some(d) = take.b_writable {
        events.push((
            d.as_secs_f64() * 1000.0,
            "b writable (pg_is_in_recovery() = false)".into(),
        ));
    }
    if let Some(d) = take.vip_on_b {
        events.push((
            d.as_secs_f64() * 1000.0,
            "VIP answering from b (client query)".into(),
        ));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("\n== timeline (ms after the fault)");
    for (t, what) in events {
        println!("{t:>10.1} ms  {what}");
    }
    println!(
        "\n== invariant sampler ({} samples, longest gap {}): {}",
        rep.ticks,
        ms(rep.max_gap),
        if rep.clean() {
            "never two primaries, never the VIP on both"
        } else {
            "VIOLATION"
        }
    );
}

/// "min / median / max" of `v`, rounded to whole units; "–" when empty.
fn stat(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort_by(f64::total_cmp);
    format!(
        "{:.0} / {:.0} / {:.0}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

/// The benchmark table in Markdown.
pub(crate) fn bench_table(runs: usize, rows: &[(String, Vec<Takeover>, Vec<String>)]) -> String {
    let mut md = format!(
        "## Failover (`cargo lab bench --runs {runs}`)\n\n\
         min / median / max in ms, from the fault.\n\n\
         | case | runs | fault → b writable | fault → VIP answering on b | fence handover (a's DB down → b writable) |\n\
         |---|---|---|---|---|\n"
    );
    for (name, t, errors) in rows {
        let w: Vec<f64> = t
            .iter()
            .filter_map(|t| t.b_writable)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        let v: Vec<f64> = t
            .iter()
            .filter_map(|t| t.vip_on_b)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        let h: Vec<f64> = t
            .iter()
            .filter_map(|t| Some(t.b_writable?.saturating_sub(t.a_down?).as_secs_f64() * 1000.0))
            .collect();
        let handover = if name.contains("scenario 6") {
            stat(h)
        } else {
            "–".into()
        };
        md.push_str(&format!(
            "| {name} | {} | {} | {} | {handover} |\n",
            t.len(),
            stat(w),
            stat(v)
        ));
        if let Some(e) = errors.first() {
            md.push_str(&format!("| ↳ not measured | | {e} | | |\n"));
        }
    }
    md
}

/// The rejoin benchmark's table in Markdown: per method (its name, the timed runs and
/// why runs were not measured), min / median / max in ms from just before
/// `twinbeat rejoin`.
pub(crate) fn rejoin_table(
    runs: usize,
    rows: &[(String, Vec<RejoinTiming>, Vec<String>)],
) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let median = |mut v: Vec<f64>| -> String {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2)
            .map_or("–".to_owned(), |m| format!("{m:.0}"))
    };
    let mut md = format!(
        "## Rejoin (`cargo lab bench --rejoin --runs {runs}`)\n\n\
         min / median / max in ms, from just before `twinbeat rejoin --wait` on the old \
         master, after a failover and ~100 MiB written on the new primary; then where \
         the time went, from a's daemon log.\n\n\
         | method | runs | `twinbeat rejoin` → returned (a streaming standby) | → a's WAL receiver streaming (polled every 50 ms) | a's log: saving the lost timeline's report | pg_rewind / pg_basebackup | start → streaming | written on b past the fork (median MiB): table / WAL |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    for (name, t, errors) in rows {
        let all = |f: fn(&RejoinTiming) -> Option<Duration>| -> String {
            stat(t.iter().filter_map(f).map(ms).collect())
        };
        let table = median(t.iter().filter_map(|t| t.fill_bytes).map(mib).collect());
        let wal = median(t.iter().filter_map(|t| t.fill_wal_bytes).map(mib).collect());
        md.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {table} / {wal} |\n",
            t.len(),
            all(|t| t.elapsed),
            all(|t| t.streaming),
            all(|t| t.phases.report),
            all(|t| t.phases.copy),
            all(|t| t.phases.start),
        ));
        for e in errors {
            md.push_str(&format!("| ↳ not measured | | {e} | | | | | |\n"));
        }
    }
    md
}
