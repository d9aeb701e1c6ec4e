//! ICMP path load test: one [`IcmpProber`] target probed at a fixed rate, as
//! the daemon's ICMP path does (default 1 kHz for 20 s), on a current-thread
//! tokio runtime. Prints replies, failures, RTTs, and its own CPU time and peak
//! RSS from `/proc/self`. Run it inside a network namespace with a peer (see
//! `host-daemon/benches/probe-cost.sh`), e.g. under `/usr/bin/time -v`:
//!
//! ```text
//! icmp_load ADDRESS|none [RATE_HZ=1000] [SECONDS=20] [TIMEOUT_MS=100]
//! ```
//!
//! With `none` it only ticks at the rate: the floor any timer loop at that rate
//! costs on the machine, to compare with.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use twinbeat::measure::{IcmpOutcome, IcmpProber};

fn arg<T: std::str::FromStr>(n: usize, default: T) -> T {
    std::env::args()
        .nth(n)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of this process, in seconds (Linux USER_HZ is 100).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0);
    ticks as f64 / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let first = std::env::args().nth(1).unwrap_or_default();
    let address = first.parse::<IpAddr>().ok();
    if address.is_none() && first != "none" {
        eprintln!("usage: icmp_load ADDRESS|none [RATE_HZ=1000] [SECONDS=20] [TIMEOUT_MS=100]");
        std::process::exit(2);
    }
    let rate: u32 = arg(2, 1000);
    let seconds: u64 = arg(3, 20);
    let timeout = Duration::from_millis(arg(4, 100));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The loop runs in a spawned task, as the daemon's probe runner does: a
    // task woken by another task on a current-thread runtime needs no eventfd
    // write, while the `block_on` future would.
    let work = runtime.spawn(async move {
        let prober = IcmpProber::new(64);
        let mut target = match address {
            Some(address) => Some(prober.target(address).await.expect("open the ICMP socket")),
            None => None,
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut ok, mut failed, mut rtts) = (0u64, 0u64, Vec::new());
        let started = Instant::now();
        let end = started + Duration::from_secs(seconds);
        while Instant::now() < end {
            tick.tick().await;
            let Some(target) = target.as_mut() else {
                continue;
            };
            match target.attempt(timeout).await {
                IcmpOutcome::Reply { rtt, .. } => {
                    ok += 1;
                    rtts.push(rtt);
                }
                IcmpOutcome::Failed(_) => failed += 1,
            }
        }
        (ok, failed, rtts, started.elapsed())
    });
    let (ok, failed, rtts, elapsed) = runtime.block_on(work).expect("the load task");
    let mut rtts = rtts;
    rtts.sort();
    let pct = |p: usize| rtts.get(rtts.len().saturating_sub(1) * p / 100).copied();
    let cpu = cpu_seconds();
    println!(
        "icmp_load: {first} at {rate} Hz for {:.1} s: {ok} replies, {failed} failed, \
         {:.0} attempts/s; rtt p50 {:?} p99 {:?}; cpu {cpu:.2} s = {:.2} % of one core; \
         peak RSS {} KiB",
        elapsed.as_secs_f64(),
        (ok + failed) as f64 / elapsed.as_secs_f64(),
        pct(50),
        pct(99),
        100.0 * cpu / elapsed.as_secs_f64(),
        peak_rss_kib()
    );
}
