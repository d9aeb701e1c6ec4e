//! `twinbeat status`: fetches `/status` from a running daemon and prints it.

use std::fmt::Write as _;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

use super::StatusSnapshot;

/// Where the daemon's status server is.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port` to connect to.
    pub authority: String,
}

impl Target {
    /// From a URL such as `http://127.0.0.1:8432` (a path, if any, is ignored).
    pub(crate) fn from_url(url: &str) -> Result<Self, FetchError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        if uri.scheme_str().is_some_and(|s| s != "http") {
            return Err(FetchError::BadUrl(url.to_owned()));
        }
        let host = uri
            .host()
            .ok_or_else(|| FetchError::BadUrl(url.to_owned()))?;
        let port = uri.port_u16().unwrap_or(80);
        Ok(Target {
            authority: format!("{host}:{port}"),
        })
    }

    /// From the listen address in a config: a wildcard listener is reached on loopback.
    pub(crate) fn from_listen(listen: std::net::SocketAddr) -> Self {
        let ip = match listen.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Target {
            authority: format!("{ip}:{}", listen.port()),
        }
    }
}

/// Why `twinbeat status` got no status (exit code 3, or 2 for a bad URL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The URL does not parse as `http://host:port`.
    #[error("invalid URL {0:?}: expected http://HOST:PORT")]
    BadUrl(String),
    /// Nothing answered in time.
    #[error("daemon not reachable at {0}: {1}")]
    Unreachable(String, String),
    /// It answered, but not with a status document.
    #[error("bad answer from {0}: {1}")]
    BadAnswer(String, String),
}

/// Fetches and decodes `/status`, within `timeout`.
pub(crate) async fn fetch(
    target: &Target,
    timeout: Duration,
) -> Result<StatusSnapshot, FetchError> {
    let unreachable = |e: String| FetchError::Unreachable(target.authority.clone(), e);
    let bad = |e: String| FetchError::BadAnswer(target.authority.clone(), e);
    let body = tokio::time::timeout(timeout, async {
        let stream = tokio::net::TcpStream::connect(&target.authority)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let req = Request::get("/status")
            .header(hyper::header::HOST, &target.authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| bad(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(bad(format!("HTTP {}", resp.status())));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| bad(e.to_string()))?
            .to_bytes();
        conn.abort();
        Ok(body)
    })
    .await
    .map_err(|_| unreachable(format!("no answer within {timeout:?}")))??;
    serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))
}

/// Both nodes side by side, this one first: its own view, and the peer's as its last
/// frame gave it (like `patronictl list`).
fn pair_rows(o: &mut String, s: &StatusSnapshot) {
    let row = |o: &mut String, [node, role, term, fenced, db, gw, wal]: [&str; 7]| {
        let line = format!("{node:<24} {role:<10} {term:>5} {fenced:<7} {db:<22} {gw:<8} {wal}");
        let _ = writeln!(o, "{}", line.trim_end());
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    row(
        o,
        ["NODE", "ROLE", "TERM", "FENCED", "DB", "GATEWAY", "WAL"],
    );
    let gateway = s
        .paths
        .iter()
        .find(|p| p.name == "gateway")
        .map_or("unknown", |p| p.state.as_str());
    let term = s.term.to_string();
    let own = format!("{} (this node)", s.node);
    row(
        o,
        [
            &own,
            &s.role,
            &term,
            yes_no(s.fenced),
            &s.local_db,
            gateway,
            &s.wal_lsn,
        ],
    );
    match &s.peer {
        Some(p) => {
            let term = p.term.to_string();
            let db = if p.db_healthy { "healthy" } else { "unhealthy" };
            let gw = if p.gateway_up { "up" } else { "down" };
            let name = format!("{} ({} ms ago)", p.node, p.age_ms);
            row(
                o,
                [&name, &p.role, &term, yes_no(p.fenced), db, gw, &p.wal_lsn],
            );
        }
        None => {
            let _ = writeln!(o, "{:<20} never heard", "peer");
        }
    }
}

/// The snapshot as an operator's table.
pub(crate) fn render_table(s: &StatusSnapshot) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "cluster   {}", s.cluster);
    pair_rows(&mut o, s);
    if let Some(d) = &s.decision {
        let _ = writeln!(
            o,
            "decision  {} ({} s ago): {}",
            d.kind,
            d.age_ms / 1000,
            d.reason_text
        );
    }
    if s.hold_releasable {
        let _ = writeln!(
            o,
            "hold      waits for the operator: nothing heard from the peer (twinbeat resume --force-primary)"
        );
    }
    if let Some(f) = &s.last_failover {
        let _ = writeln!(o, "promoted  into term {}: {}", f.term, f.reason);
    }
    if let Some(m) = &s.maintenance {
        let _ = writeln!(
            o,
            "pause     by {}, {}; {}",
            m.by,
            m.seconds_left
                .map_or_else(|| "until resumed".to_owned(), |s| format!("{s}s left")),
            if m.peer_acknowledged {
                "the peer is paused too"
            } else {
                "ONE-SIDED: the peer has not acknowledged it"
            }
        );
    }
    if let Some(w) = &s.switchover {
        let _ = writeln!(
            o,
            "switch    {} term {}: {} ({})",
            w.side, w.term, w.stage, w.reason_text
        );
    }
    if let Some(r) = &s.rejoin {
        let _ = writeln!(
            o,
            "rejoin    {} ({}) onto the peer's term {}: {}",
            r.stage, r.method, r.term, r.reason_text
        );
    }
    let _ = writeln!(o, "uptime    {}s", s.uptime_secs);
    if !s.start_guard.is_empty() {
        let _ = writeln!(o, "guard     standby.signal {}", s.start_guard);
    }
    let _ = writeln!(o, "vip       {}  held by {}", s.vip.address, s.vip.holder);
    if let Some(p) = &s.persisted {
        let _ = writeln!(o, "persisted {}  term {}  ({})", p.state, p.term, p.reason);
    }
    let r = &s.replication;
    if let Some(db) = &r.peer_db {
        let _ = writeln!(
            o,
            "peer db   {}  term {}  timeline {}  read {} ms ago",
            if db.in_recovery {
                "in recovery"
            } else {
                "WRITABLE"
            },
            db.term.map_or("none".into(), |t| t.to_string()),
            db.timeline,
            db.age_ms
        );
    }
    if let Some(lag) = r.lag_bytes {
        let _ = writeln!(
            o,
            "lag       {lag} bytes{}",
            if r.standby_too_far_behind {
                "  STANDBY TOO FAR BEHIND TO TAKE OVER"
            } else {
                ""
            }
        );
    }
    if !r.sync.mode.is_empty() && r.sync.mode != "async" {
        let s = &r.sync;
        let _ = writeln!(
            o,
            "sync      {}: {}{}{}",
            s.mode,
            if s.synchronous {
                "synchronous"
            } else {
                "NOT synchronous"
            },
            s.since_lsn
                .as_deref()
                .map_or(String::new(), |l| format!(" since {l}")),
            s.last_degraded_secs_ago
                .map_or(String::new(), |a| format!(", last degraded {a} s ago")),
        );
        if let Some(note) = &s.note {
            let _ = writeln!(o, "          {note}");
        }
    }
    if let Some(slot) = &r.slot {
        let _ = writeln!(
            o,
            "slot      {} ({}) keeps {} bytes of WAL",
            slot.name,
            if slot.active { "active" } else { "INACTIVE" },
            slot.retained_bytes
        );
    }
    if let Some(h) = &r.handover {
        let _ = match &h.verdict {
            None => writeln!(
                o,
                "handover  asking the standby to take over at WAL {} (fence-handshake)",
                h.lsn
            ),
            Some(v) => writeln!(o, "handover  answered the master at WAL {}: {v}", h.lsn),
        };
    }
    if r.promoted_by_hand || r.peer_promoted_by_hand {
        let _ =
            writeln!(
            o,
            "WARNING   {} PostgreSQL was promoted by hand (docs/DESIGN.md, human-promoted-standby)",
            if r.promoted_by_hand { "this node's" } else { "the peer's" }
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<10} {:<8} {:>9} {:>12}",
        "PATH", "STATE", "FAILURES", "LAST RTT"
    );
    for p in &s.paths {
        let rtt = p
            .last_rtt_ms
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.3} ms"));
        let _ = writeln!(
            o,
            "{:<10} {:<8} {:>9} {:>12}",
            p.name, p.state, p.consecutive_failures, rtt
        );
    }
    let c = &s.serial;
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "serial    sent {}  received {}  dropped: corrupt {}  malformed {}  overflow {}  foreign {}  own echo {}",
        c.sent, c.received, c.corrupt, c.malformed, c.overflow, c.foreign, c.own_echo
    );
    if let Some(cause) = &s.serial_down_cause {
        let _ = writeln!(o, "serial    down: {cause}");
    }
    let state = if s.bridge_state.is_empty() {
        "unknown"
    } else {
        &s.bridge_state
    };
    match &s.bridge {
        Some(b) => {
            let ms =
                |v: Option<u64>| v.map_or_else(|| "never".to_owned(), |v| format!("{v} ms ago"));
            let _ = writeln!(
                o,
                "bridge    {state}  up {}s  heard A {}  heard B {}  dropped {}  (report {} ms old)",
                b.uptime_secs,
                ms(b.heard_a_ms_ago),
                ms(b.heard_b_ms_ago),
                b.dropped,
                b.report_age_ms
            );
        }
        None => {
            let _ = writeln!(o, "bridge    {state}");
        }
    }
    if let Some(p) = &s.pair {
        let _ = if p.agrees {
            writeln!(
                o,
                "pair      settings agree (fingerprint {})",
                p.fingerprint
            )
        } else {
            writeln!(
                o,
                "pair      SETTINGS DIFFER: ours {}, the peer's {} (twinbeat diagnose on both nodes prints them)",
                p.fingerprint, p.peer_fingerprint
            )
        };
    }
    for a in &s.alarms {
        let _ = writeln!(o, "ALARM     {a}");
    }
    o
}
