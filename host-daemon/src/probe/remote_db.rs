//! The remote DB path: is the peer's PostgreSQL answering, and as what? (rule
//! `remote-db-reads-role`)
//!
//! ```text
//! let mut probe = RemoteDbProbe::new(target);   // no I/O yet
//! match probe.attempt(Duration::from_millis(200)).await {
//!     RemoteDbOutcome::Ok { rtt, via } => ..,   // via: Query(reading) or ConnectProbe
//!     RemoteDbOutcome::Failed(failure) => ..,
//! }
//! ```
//!
//! The probe keeps **one** connection and runs [`ROLE_SQL`] on it for each attempt
//! (simple query protocol: one round trip, no prepare). It never opens a
//! connection per probe: measured in `docs/port-check-cost.md`, that would cost
//! the master far more. While that connection is down, each attempt is a
//! `pg_isready`-style connect probe instead, and that connect doubles as the
//! reconnect: it runs in a background task that outlives the attempt's window
//! (up to [`CONNECT_CAP_FACTOR`] × the timeout), so a slow handshake (TCP,
//! startup, authentication: several round trips) still ends in a connection that
//! later attempts use. A connect whose login is refused for reasons other than
//! 57P03 (wrong password, unknown database) counts as "up", as it does for
//! `pg_isready`: the server answered, and a misconfigured password must not make
//! the standby believe the master is dead.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio::time::timeout_at;

use twinbeat_core::PeerDbReading;

use super::pg::{connect, Connect, DbTarget, Readiness, Session};

/// The one query of an attempt: the peer's recovery flag, the term its daemon
/// published before its last `pg_promote` (`twinbeat.term`, NULL if never), and its
/// timeline — the one it receives (or last checkpointed) in recovery, the one it
/// writes otherwise (the first 8 hex digits of the current WAL file's name).
/// Volatile functions are not folded ahead of the CASE, so a replica never runs
/// `pg_current_wal_lsn()`. Then its WAL position in bytes (received in recovery,
/// which `pg_stat_wal_receiver` feeds; current otherwise), what its daemon published
/// for a handover over this path (`twinbeat.handover`, rule `fence-handshake`) and of
/// synchronous replication (`twinbeat.sync_epoch`, `twinbeat.sync_ack`, rule
/// `sync-epoch`).
pub(crate) const ROLE_SQL: &str = "SELECT pg_is_in_recovery(),      current_setting('twinbeat.term', true),      CASE WHEN pg_is_in_recovery()           THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),                         (pg_control_checkpoint()).timeline_id)           ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int      END,      CASE WHEN pg_is_in_recovery()           THEN coalesce(pg_last_wal_receive_lsn(), '0/0')           ELSE pg_current_wal_lsn()      END - '0/0',      current_setting('twinbeat.handover', true),      current_setting('twinbeat.sync_epoch', true),      current_setting('twinbeat.sync_ack', true)";

/// Reads the row of [`ROLE_SQL`].
fn reading_from_row(row: &[Option<String>]) -> Result<PeerDbReading, String> {
    let column = |i: usize| row.get(i).and_then(|value| value.as_deref());
    let in_recovery = match column(0) {
        Some("t") => true,
        Some("f") => false,
        other => return Err(format!("pg_is_in_recovery() returned {other:?}")),
    };
    let term = match column(1).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| format!("twinbeat.term is {v:?}, not a term"))?,
        ),
    };
    let timeline = column(2).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    // `pg_lsn - pg_lsn` is numeric: its text has no fraction for whole bytes.
    let wal_lsn = column(3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let published = column(4).and_then(super::published::parse);
    Ok(PeerDbReading {
        in_recovery,
        term,
        timeline,
        wal_lsn,
        published,
        sync_epoch: column(5).and_then(super::published::parse_epoch),
        sync_ack: column(6).and_then(super::published::parse_epoch),
    })
}

/// A background connect may run this many attempt timeouts before it is given up.
pub(crate) const CONNECT_CAP_FACTOR: u32 = 10;

/// How an attempt that succeeded got its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// [`ROLE_SQL`] on the persistent connection, and what it read.
    Query(PeerDbReading),
    /// A connect probe: the server answered the startup handshake.
    ConnectProbe,
    /// A connect probe: the server answered but would not let this node in (its login
    /// refused, TLS refused, a certificate that does not verify), so nothing was read.
    Refused {
        /// Why, in words (`tls::refusal` for TLS, the server's message for a login).
        reason: String,
    },
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteDbFailure {
    /// No answer within the attempt's timeout.
    Timeout,
    /// The server answered but refuses connections (57P03: starting up,
    /// shutting down, or in recovery without hot standby).
    Rejecting {
        /// The server's message.
        message: String,
    },
    /// Nobody answered (refused, unreachable, reset).
    NoResponse {
        /// Why, for the log.
        reason: String,
    },
    /// The persistent connection broke or the query returned an error.
    QueryFailed {
        /// The error, for the log.
        reason: String,
    },
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteDbOutcome {
    /// The peer's PostgreSQL answered.
    Ok {
        /// Time from the start of the attempt to the answer.
        rtt: Duration,
        /// Whether it was `SELECT 1` or a connect probe.
        via: Via,
    },
    /// It did not.
    Failed(RemoteDbFailure),
}

impl RemoteDbOutcome {
    /// True for [`RemoteDbOutcome::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, RemoteDbOutcome::Ok { .. })
    }
}

/// Counters of what the probe did, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteDbCounters {
    /// Connections opened (successful logins).
    pub connects: u64,
    /// Connect probes started.
    pub connect_probes: u64,
    /// [`ROLE_SQL`] queries sent on the persistent connection.
    pub queries: u64,
    /// Connect probes where the server refused our login (not 57P03).
    pub login_refused: u64,
}

/// Probes the peer's PostgreSQL over one persistent connection.
pub struct RemoteDbProbe {
    target: DbTarget,
    session: Option<Session>,
    pending: Option<JoinHandle<Connect>>,
    counters: RemoteDbCounters,
}

impl std::fmt::Debug for RemoteDbProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDbProbe")
            .field("target", &self.target)
            .field("connected", &self.is_connected())
            .field("connecting", &self.pending.is_some())
            .field("counters", &self.counters)
            .finish()
    }
}

impl Drop for RemoteDbProbe {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.abort();
        }
    }
}

impl RemoteDbProbe {
    /// A probe for `target`; it connects on the first attempt.
    pub fn new(target: DbTarget) -> Self {
        Self {
            target,
            session: None,
            pending: None,
            counters: RemoteDbCounters::default(),
        }
    }

    /// True while the persistent connection is open.
    pub fn is_connected(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// What the probe has done so far.
    pub fn counters(&self) -> RemoteDbCounters {
        self.counters
    }

    /// Runs one attempt, bounded by `timeout`.
    pub async fn attempt(&mut self, timeout: Duration) -> RemoteDbOutcome {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + timeout);
        if let Some(session) = self.session.take().filter(|s| !s.is_closed()) {
            self.counters.queries += 1;
            return match timeout_at(deadline, session.first_row(ROLE_SQL)).await {
                Ok(Ok(row)) => match reading_from_row(&row) {
                    Ok(reading) => {
                        self.session = Some(session);
                        RemoteDbOutcome::Ok {
                            rtt: started.elapsed(),
                            via: Via::Query(reading),
                        }
                    }
                    Err(reason) => RemoteDbOutcome::Failed(RemoteDbFailure::QueryFailed { reason }),
                },
                Ok(Err(error)) => RemoteDbOutcome::Failed(RemoteDbFailure::QueryFailed {
                    reason: error.to_string(),
                }),
                // A late answer would be read as the next attempt's: drop it.
                Err(_) => RemoteDbOutcome::Failed(RemoteDbFailure::Timeout),
            };
        }
        self.connect_probe(started, deadline, timeout).await
    }

    async fn connect_probe(
        &mut self,
        started: Instant,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> RemoteDbOutcome {
        // A connect carried over from an earlier attempt that has already
        // failed says nothing about now: start afresh. One that succeeded is
        // used (that is the background reconnect paying off).
        if let Some(finished) = self.pending.take_if(|p| p.is_finished()) {
            if let Ok(Connect::Session(session)) = finished.await {
                self.counters.connects += 1;
                self.session = Some(session);
                return RemoteDbOutcome::Ok {
                    rtt: started.elapsed(),
                    via: Via::ConnectProbe,
                };
            }
        }
        let pending = match &mut self.pending {
            Some(pending) => pending,
            slot @ None => {
                self.counters.connect_probes += 1;
                let target = self.target.clone();
                let cap = timeout.saturating_mul(CONNECT_CAP_FACTOR);
                slot.insert(tokio::spawn(async move {
                    match tokio::time::timeout(cap, connect(&target, cap)).await {
                        Ok(result) => result,
                        Err(_) => Connect::NoSession(Readiness::NoResponse {
                            reason: format!("no answer to the connect within {cap:?}"),
                        }),
                    }
                }))
            }
        };
        let joined = match timeout_at(deadline, pending).await {
            // Still connecting: keep it for the next attempt.
            Err(_) => return RemoteDbOutcome::Failed(RemoteDbFailure::Timeout),
            Ok(joined) => joined,
        };
        self.pending = None;
        let result = match joined {
            Ok(result) => result,
            Err(join_error) => Connect::NoSession(Readiness::NoResponse {
                reason: format!("connect task failed: {join_error}"),
            }),
        };
        match result {
            Connect::Session(session) => {
                self.counters.connects += 1;
                self.session = Some(session);
                RemoteDbOutcome::Ok {
                    rtt: started.elapsed(),
                    via: Via::ConnectProbe,
                }
            }
            Connect::NoSession(Readiness::Accepting { login_error }) => {
                self.counters.login_refused += 1;
                RemoteDbOutcome::Ok {
                    rtt: started.elapsed(),
                    via: Via::Refused {
                        reason: login_error.unwrap_or_else(|| "login refused".into()),
                    },
                }
            }
            Connect::NoSession(Readiness::Rejecting { message }) => {
                RemoteDbOutcome::Failed(RemoteDbFailure::Rejecting { message })
            }
            Connect::NoSession(Readiness::NoResponse { reason }) => {
                RemoteDbOutcome::Failed(RemoteDbFailure::NoResponse { reason })
            }
        }
    }
}

#[cfg(test)]
mod tests;
