//! Check 4, PostgreSQL, local and peer: reachable with the configured credentials
//! within the daemon's own bounds; role, timeline, streaming and lag; the settings
//! failover and rejoin rely on; and what the remote DB probe costs at its rate (the
//! notes' "is the port check heavy": see `host-daemon/docs/port-check-cost.md` for
//! the peer's side).

use std::time::{Duration, Instant};

use twinbeat_core::ReplicationMode;

use super::Finding;
use crate::config::Config;
use crate::driver::db_target;
use crate::probe::pg::{connect, Connect, Readiness, Session};
use crate::probe::remote_db::{CONNECT_CAP_FACTOR, ROLE_SQL};

/// Role, timeline, WAL position, and the settings this check judges, in one row.
const FACTS_SQL: &str = "SELECT pg_is_in_recovery(), \
     CASE WHEN pg_is_in_recovery() \
          THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (pg_control_checkpoint()).timeline_id) \
          ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, \
     current_setting('hot_standby'), current_setting('max_wal_senders'), \
     current_setting('wal_log_hints'), current_setting('data_checksums'), \
     current_setting('wal_level'), current_setting('synchronous_standby_names'), \
     current_setting('max_slot_wal_keep_size'), \
     (SELECT status FROM pg_stat_wal_receiver), \
     (SELECT string_agg(application_name || ':' || state || ':' || sync_state || ':' || \
             coalesce((pg_current_wal_lsn() - replay_lsn)::text, '?'), ',') \
        FROM pg_stat_replication WHERE NOT pg_is_in_recovery()), \
     (SELECT CASE WHEN ssl THEN version ELSE 'unencrypted' END \
        FROM pg_stat_ssl WHERE pid = pg_backend_pid())";

/// ROLE_SQL queries timed for the probe's cost.
const COST_QUERIES: u32 = 50;

/// Which server.
#[derive(Clone, Copy)]
enum Side {
    Local,
    Peer,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Local => "local",
            Side::Peer => "peer",
        }
    }
}

pub(super) async fn check(cfg: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let local_bound = cfg.local_db.timeout;
    // The remote probe's connect runs in the background up to this many timeouts.
    let peer_bound = cfg.checks.remote_db.timeout * CONNECT_CAP_FACTOR;
    let plain = crate::config::PeerTls::default();
    for (side, conn, bound, tls) in [
        (Side::Local, &cfg.local_db.conn, local_bound, &plain),
        (Side::Peer, &cfg.peer.db, peer_bound, &cfg.peer.tls),
    ] {
        let check = format!("db.{}", side.name());
        let target = match db_target(conn, "twinbeat-diagnose", tls) {
            Ok(t) => t,
            Err(e) => {
                out.push(Finding::fail(
                    check,
                    e.to_string(),
                    "make the password file (or the peer's TLS files) readable by this user",
                ));
                continue;
            }
        };
        let started = Instant::now();
        let session = match tokio::time::timeout(bound, connect(&target, bound)).await {
            Err(_) => {
                out.push(Finding::fail(
                    check,
                    format!("{}:{} did not answer within {bound:?}", conn.host, conn.port),
                    "check that PostgreSQL runs and listens there (listen_addresses, pg_hba.conf, firewall)",
                ));
                continue;
            }
            Ok(Connect::NoSession(r)) => {
                out.push(refused(&check, conn, &r));
                continue;
            }
            Ok(Connect::Session(s)) => s,
        };
        let connected = started.elapsed();
        match tokio::time::timeout(bound, session.first_row(FACTS_SQL)).await {
            Ok(Ok(row)) => out.extend(judge(cfg, side, &row, connected)),
            Ok(Err(e)) => out.push(Finding::fail(check, format!("query failed: {e}"), "the daemon's user must be allowed to read pg_stat_replication and the settings (a superuser, or pg_monitor)")),
            Err(_) => out.push(Finding::fail(check, format!("no answer to a query within {bound:?}"), "the server is overloaded or hung")),
        }
        if matches!(side, Side::Peer) {
            out.push(probe_cost(cfg, &session).await);
        }
    }
    out.extend(config_file(cfg));
    out
}

/// Where the local server's `postgresql.conf` is, which `pg_ctl` and a rejoin's crash
/// recovery need: `local_db.service.config_file`, or in the data directory. Nothing to
/// say while the data directory is unknown.
fn config_file(cfg: &Config) -> Option<Finding> {
    const CHECK: &str = "db.local.config_file";
    let data_dir = cfg.local_db.service.manager.data_dir()?;
    let (path, configured) = match &cfg.local_db.service.config_file {
        Some(p) => (p.clone(), true),
        None => (data_dir.join("postgresql.conf"), false),
    };
    Some(match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Finding::ok(CHECK, format!("{}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !configured => Finding::fail(
            CHECK,
            format!("{} holds no postgresql.conf", data_dir.display()),
            "set local_db.service.config_file to the server's postgresql.conf (Debian: /etc/postgresql/15/main/postgresql.conf): pg_ctl cannot start the server without it, and a rejoin refuses to run",
        ),
        Ok(_) => Finding::fail(CHECK, format!("{} is not a file", path.display()), "name the server's postgresql.conf"),
        Err(e) => Finding::fail(
            CHECK,
            format!("{}: {e}", path.display()),
            "name the server's postgresql.conf, readable by the daemon",
        ),
    })
}

fn refused(check: &str, conn: &crate::config::DbConn, r: &Readiness) -> Finding {
    match r {
        Readiness::Accepting { login_error } => Finding::fail(
            check,
            format!(
                "{}:{} answers, but will not let this node in: {}",
                conn.host,
                conn.port,
                login_error.as_deref().unwrap_or("login refused")
            ),
            "fix what it names: the user, password and pg_hba.conf entry the daemon uses, or the TLS settings (peer.sslmode, peer.sslrootcert, the server's certificate and ssl = on); the probe still counts the server as up, but cannot read its role, and rejoin cannot work",
        ),
        Readiness::Rejecting { message } => Finding::fail(
            check,
            format!("{}:{} refuses connections for now: {message}", conn.host, conn.port),
            "wait until it has started (or let it finish shutting down); with hot_standby = off a standby always refuses",
        ),
        Readiness::NoResponse { reason } => Finding::fail(
            check,
            format!("{}:{} does not answer: {reason}", conn.host, conn.port),
            "check that PostgreSQL runs and listens there (listen_addresses, pg_hba.conf, firewall)",
        ),
    }
}

/// The findings of one server's facts row.
fn judge(cfg: &Config, side: Side, row: &[Option<String>], connected: Duration) -> Vec<Finding> {
    let col = |i: usize| row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
    let name = side.name();
    let in_recovery = col(0) == "t";
    let role = if in_recovery {
        "in recovery (standby)"
    } else {
        "primary"
    };
    let streaming = if in_recovery {
        format!(
            "WAL receiver {}",
            if col(9).is_empty() {
                "not running"
            } else {
                col(9)
            }
        )
    } else if col(10).is_empty() {
        "no standby connected".to_owned()
    } else {
        format!("standbys (name:state:sync:replay lag bytes) {}", col(10))
    };
    // The peer's session says whether it is encrypted (the local one uses the socket).
    let transport = match side {
        Side::Local => String::new(),
        Side::Peer if col(11) == "unencrypted" || col(11).is_empty() => format!(
            ", unencrypted (peer.sslmode = {})",
            cfg.peer.tls.mode.as_str()
        ),
        Side::Peer => format!(
            " over {} (peer.sslmode = {})",
            col(11),
            cfg.peer.tls.mode.as_str()
        ),
    };
    let mut out = vec![Finding::ok(
        format!("db.{name}"),
        format!(
            "{role}, timeline {}, {streaming}; connected in {:.1} ms{transport}",
            col(1),
            connected.as_secs_f64() * 1e3
        ),
    )];
    if in_recovery && col(9) != "streaming" {
        out[0] = Finding::warn(
            format!("db.{name}"),
            out[0].found.clone(),
            "a standby that does not stream cannot take over (max_lag_on_failover): check primary_conninfo and the primary's pg_hba.conf",
        );
    }
    let setting = |key: &str| format!("db.{name}.{key}");
    if col(2) != "on" {
        out.push(Finding::fail(
            setting("hot_standby"),
            format!("hot_standby = {}", col(2)),
            "set hot_standby = on: the peer's remote DB probe must read a standby",
        ));
    }
    match col(3).parse::<u32>() {
        Ok(n) if n >= 2 => {}
        _ => out.push(Finding::fail(setting("max_wal_senders"), format!("max_wal_senders = {}", col(3)), "set max_wal_senders to at least 2: the standby's stream and a rejoin's pg_rewind or pg_basebackup")),
    }
    if col(6) == "minimal" {
        out.push(Finding::fail(
            setting("wal_level"),
            "wal_level = minimal".to_owned(),
            "set wal_level = replica",
        ));
    }
    if col(4) != "on" && col(5) != "on" {
        out.push(Finding::fail(
            setting("wal_log_hints"),
            "wal_log_hints = off and data checksums off: pg_rewind refuses this cluster".to_owned(),
            "set wal_log_hints = on (and restart), or enable checksums (pg_checksums --enable, server stopped); without either every rejoin is a full pg_basebackup",
        ));
    } else {
        out.push(Finding::ok(
            setting("wal_log_hints"),
            format!(
                "wal_log_hints = {}, data_checksums = {}: pg_rewind can run",
                col(4),
                col(5)
            ),
        ));
    }
    out.push(sync_names(cfg, side, in_recovery, col(7)));
    out.push(if col(8) == "-1" {
        Finding::warn(
            setting("max_slot_wal_keep_size"),
            "max_slot_wal_keep_size = -1: the standby's slot keeps WAL without limit".to_owned(),
            "bound it (e.g. a few GB): a standby gone for days must not fill the primary's disk",
        )
    } else {
        Finding::ok(
            setting("max_slot_wal_keep_size"),
            format!("max_slot_wal_keep_size = {}", col(8)),
        )
    });
    out
}

/// `synchronous_standby_names` against `[replication] mode` (rule `sync-epoch`).
fn sync_names(cfg: &Config, side: Side, in_recovery: bool, names: &str) -> Finding {
    let check = format!("db.{}.synchronous_standby_names", side.name());
    let found = format!(
        "synchronous_standby_names = {names:?} (replication.mode = {:?})",
        cfg.replication.as_str()
    );
    match cfg.replication {
        ReplicationMode::Async if !names.is_empty() && !in_recovery => Finding::warn(
            check,
            found,
            "with mode = \"async\" commits wait for a standby twinbeat does not manage: clear it, or set replication.mode = \"sync\" and let twinbeat own it",
        ),
        ReplicationMode::Sync | ReplicationMode::Strict
            if !names.is_empty() && !names.contains(&format!("\"{}\"", cfg.peer.node_id.as_deref().unwrap_or_default()))
                && !names.contains(&format!("\"{}\"", cfg.node_id)) =>
        {
            Finding::warn(
                check,
                found,
                "twinbeat owns this setting in sync and strict: it names the other node's node_id; remove what you set (ALTER SYSTEM RESET synchronous_standby_names)",
            )
        }
        _ => Finding::ok(check, found),
    }
}

/// The remote DB probe's cost at its rate: `COST_QUERIES` of its query on the one
/// connection it holds, timed, and this process's CPU for them.
async fn probe_cost(cfg: &Config, session: &Session) -> Finding {
    let interval = cfg.checks.remote_db.interval;
    let rate = 1.0 / interval.as_secs_f64().max(1e-6);
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut done = 0u32;
    for _ in 0..COST_QUERIES {
        match tokio::time::timeout(cfg.checks.remote_db.timeout, session.first_row(ROLE_SQL)).await
        {
            Ok(Ok(_)) => done += 1,
            _ => break,
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    if done == 0 {
        return Finding::warn(
            "db.peer.probe_cost",
            "the probe's query did not answer within checks.remote_db.timeout",
            "see db.peer above",
        );
    }
    let per_query = wall / done;
    let cpu_share = cpu.as_secs_f64() / f64::from(done) * rate * 100.0;
    let found = format!(
        "{rate:.0} queries/s on one held connection; {:.2} ms each ({done} timed), this side's CPU ≈ {cpu_share:.1}% of a core at that rate (the peer's side: host-daemon/docs/port-check-cost.md)",
        per_query.as_secs_f64() * 1e3
    );
    if per_query * 2 > cfg.checks.remote_db.timeout {
        Finding::warn("db.peer.probe_cost", found, "the query takes more than half of checks.remote_db.timeout: raise the timeout or find what slows the peer")
    } else {
        Finding::ok("db.peer.probe_cost", found)
    }
}

/// This process's user + system CPU time so far.
fn cpu_time() -> Duration {
    let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    tv(usage.user_time()) + tv(usage.system_time())
}
