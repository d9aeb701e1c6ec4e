//! What the remote DB check costs the master's PostgreSQL (the user's notes
//! ask whether the port check is heavy). Runs the check at a fixed rate for a
//! while in one of three modes and prints the CPU the server used meanwhile,
//! read from `/proc` (the postmaster's own time, the time of the backends it
//! has reaped — `cutime`/`cstime` — and of its live children), plus our own:
//!
//! ```text
//! port_check_cost persistent|reconnect|idle PORT POSTMASTER_PID [RATE_HZ=100] [SECONDS=20]
//! ```
//!
//! * `persistent`: the daemon's way, [`RemoteDbProbe`] (one connection, `SELECT 1`);
//! * `reconnect`: a new connection per probe (connect, `SELECT 1`, close);
//! * `idle`: no probing, the server's background cost over the same time.
//!
//! `host-daemon/benches/probe-cost.sh` starts a server and runs all three.

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;
use twinbeat::measure::{DbTarget, PeerConnector, RemoteDbProbe};

/// Linux USER_HZ: `/proc/*/stat` times are in 1/100 s.
const TICKS_PER_SECOND: f64 = 100.0;

fn stat_fields(pid: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    // After ')': state, ppid, ...; numbers for the fields we read, 0 otherwise.
    after
        .split_whitespace()
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

/// CPU ticks of the server: postmaster (own + reaped children) + live children.
fn server_ticks(postmaster: &str) -> u64 {
    let own = stat_fields(postmaster);
    let field = |fields: &[u64], i: usize| fields.get(i).copied().unwrap_or(0);
    let mut ticks = field(&own, 11) + field(&own, 12) + field(&own, 13) + field(&own, 14);
    let parent: u64 = postmaster.parse().unwrap_or(0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let fields = stat_fields(&name);
        if field(&fields, 1) == parent {
            ticks += field(&fields, 11) + field(&fields, 12);
        }
    }
    ticks
}

fn own_ticks() -> u64 {
    let fields = stat_fields("self");
    fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)
}

async fn reconnect_once(target: &DbTarget) -> bool {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname(&target.dbname);
    let Ok((client, connection)) = config.connect(NoTls).await else {
        return false;
    };
    let task = tokio::spawn(connection);
    let ok = client.simple_query("SELECT 1").await.is_ok();
    drop(client);
    let _ = task.await;
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: port_check_cost persistent|reconnect|idle PORT POSTMASTER_PID [RATE_HZ=100] [SECONDS=20]");
        std::process::exit(2);
    }
    let mode = args[1].clone();
    let port: u16 = args[2].parse().expect("port");
    let postmaster = args[3].clone();
    let rate: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20);
    let target = DbTarget {
        host: "127.0.0.1".into(),
        port,
        user: "postgres".into(),
        password: None,
        dbname: "postgres".into(),
        application_name: "twinbeat-port-check-cost".into(),
        tls: PeerConnector::plain(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (server_before, own_before) = (server_ticks(&postmaster), own_ticks());
    let started = Instant::now();
    let (ok, failed) = runtime.block_on(async {
        let mut probe = RemoteDbProbe::new(target.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut ok, mut failed) = (0u64, 0u64);
        let end = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < end {
            tick.tick().await;
            let success = match mode.as_str() {
                "persistent" => probe.attempt(Duration::from_millis(200)).await.is_ok(),
                "reconnect" => reconnect_once(&target).await,
                _ => continue,
            };
            if success {
                ok += 1;
            } else {
                failed += 1;
            }
        }
        (ok, failed)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let server = (server_ticks(&postmaster) - server_before) as f64 / TICKS_PER_SECOND;
    let own = (own_ticks() - own_before) as f64 / TICKS_PER_SECOND;
    println!(
        "port_check_cost {}: {ok} ok, {failed} failed in {elapsed:.1} s; server CPU {server:.2} s \
         = {:.2} % of one core; prober CPU {own:.2} s = {:.2} %",
        args[1],
        100.0 * server / elapsed,
        100.0 * own / elapsed
    );
}
