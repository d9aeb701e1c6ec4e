//! Promotion of the local standby (rule `promotion-order`, the `pg_promote` step).
//!
//! First the term is published where the peer's remote DB path reads it (rule
//! `remote-db-reads-role`, [`publish`](super::publish)): `twinbeat.term`.
//!
//! Then, in `sync` and `strict` mode, `synchronous_standby_names` is set for the new
//! situation before the engine takes the VIP (rule `sync-epoch`,
//! [`sync_standby`](super::sync_standby)): `pg_basebackup` and `pg_rewind` copy
//! `postgresql.auto.conf`, so a standby inherits names that may name itself.
//!
//! `pg_promote(wait => true)` re-checks only every 100 ms, so it costs ~126 ms here.
//! Instead: `pg_promote(wait => false)` and then poll `pg_is_in_recovery()` on the
//! same open connection every few milliseconds until it says false, within a bound.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use super::publish::{publish, PublishError};
use super::sync_standby::{set_names, SyncNamesError};

/// Bounds of a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PromoteOptions {
    /// The term to publish before `pg_promote` (rule `remote-db-reads-role`).
    pub term: u64,
    /// The whole promotion (connect + request + end of recovery) must finish within this.
    pub timeout: Duration,
    /// Pause between two `pg_is_in_recovery()` polls.
    pub poll_interval: Duration,
    /// While still in recovery, `pg_promote` is sent again this often: PostgreSQL 15
    /// sometimes loses the startup process's wake-up when the request lands just as
    /// it starts its `wal_retrieve_retry_interval` sleep (seen here: promotion only
    /// after 5 s). A repeated request is harmless; the promotion happens once.
    pub resignal_interval: Duration,
}

impl Default for PromoteOptions {
    fn default() -> Self {
        Self {
            term: 0,
            timeout: twinbeat_core::PROMOTE_WINDOW,
            poll_interval: Duration::from_millis(2),
            resignal_interval: Duration::from_millis(100),
        }
    }
}

/// What a successful promotion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PromoteReport {
    /// PostgreSQL was already out of recovery before the request (nothing to do):
    /// the "finish" branch of rule `promotion-order` after a restart.
    pub already_primary: bool,
    /// How long publishing the term took (`ALTER SYSTEM`, reload, read back).
    pub publish: Duration,
    /// From sending `pg_promote` to the first poll that saw the end of recovery.
    pub request_to_writable: Duration,
    /// How many `pg_is_in_recovery()` polls it took.
    pub polls: u32,
    /// How many times `pg_promote` was sent (1 unless it had to be repeated).
    pub requests: u32,
}

/// Errors of a promotion; each one means "not promoted (yet)" to the engine.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PromoteError {
    /// Could not connect to the local PostgreSQL.
    #[error("promote: cannot connect to the local PostgreSQL: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// No connection within the bound.
    #[error("promote: no connection to the local PostgreSQL within {0:?}")]
    ConnectTimeout(Duration),
    /// A query failed (including a lost connection).
    #[error("promote: {query} failed: {source}")]
    Query {
        /// The statement.
        query: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `pg_promote` returned false (PostgreSQL could not signal the promotion).
    #[error("promote: pg_promote() returned false")]
    Refused,
    /// Still in recovery when the bound ran out.
    #[error("promote: still in recovery after {0:?}")]
    StillInRecovery(Duration),
    /// The term was not published.
    #[error("promote: publishing the term: {0}")]
    Publish(#[from] PublishError),
    /// `synchronous_standby_names` was not set for the new situation (rule
    /// `sync-epoch`).
    #[error("promote: setting synchronous_standby_names: {0}")]
    SyncNames(#[from] SyncNamesError),
}

/// A promotion that did not finish, and whether `pg_promote` had been sent: then it
/// cannot be taken back and PostgreSQL may still finish it (rule `promotion-order`).
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", if *.requested { " (pg_promote was sent)" } else { "" })]
pub(crate) struct PromoteFailure {
    /// What went wrong.
    #[source]
    pub error: PromoteError,
    /// `pg_promote` had been sent.
    pub requested: bool,
}

impl From<PromoteError> for PromoteFailure {
    fn from(error: PromoteError) -> Self {
        Self {
            error,
            requested: false,
        }
    }
}

/// Connects with `config` and promotes; see [`promote`].
pub(crate) async fn promote_with_config(
    config: &tokio_postgres::Config,
    opts: PromoteOptions,
    sync_names: Option<&str>,
) -> Result<PromoteReport, PromoteFailure> {
    let start = Instant::now();
    let connect = tokio::time::timeout(opts.timeout, config.connect(NoTls));
    let (client, connection) = match connect.await {
        Ok(r) => r.map_err(PromoteError::Connect)?,
        Err(_) => return Err(PromoteError::ConnectTimeout(start.elapsed()).into()),
    };
    let conn_task = tokio::spawn(async move {
        // The connection ends when `client` is dropped; its error, if any, also
        // surfaces on the client's next query, so it is not reported twice here.
        let _ = connection.await;
    });
    let remaining = PromoteOptions {
        timeout: opts.timeout.saturating_sub(start.elapsed()),
        ..opts
    };
    let result = promote(&client, remaining, sync_names).await;
    drop(client);
    let _ = conn_task.await;
    result
}

/// Publishes the term, promotes the server behind `client`, waits until it is
/// writable, then sets `synchronous_standby_names` to `sync_names` unless `None`.
///
/// Needs a role allowed to run `pg_promote` and `ALTER SYSTEM` (a superuser).
pub(crate) async fn promote(
    client: &Client,
    opts: PromoteOptions,
    sync_names: Option<&str>,
) -> Result<PromoteReport, PromoteFailure> {
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let start = Instant::now();
    let sent = std::sync::atomic::AtomicBool::new(false);
    let bounded = async {
        let term = opts.term.to_string();
        publish(client, "twinbeat.term", Some(&term), opts.poll_interval).await?;
        let publish = start.elapsed();
        if !in_recovery(client).await? {
            if let Some(names) = sync_names {
                set_names(client, names).await?;
            }
            return Ok(PromoteReport {
                already_primary: true,
                publish,
                request_to_writable: Duration::ZERO,
                polls: 0,
                requests: 0,
            });
        }
        let requested = Instant::now();
        sent.store(true, std::sync::atomic::Ordering::Relaxed);
        request(client).await?;
        let mut last_request = Instant::now();
        let mut requests = 1u32;
        let mut polls = 0u32;
        loop {
            polls += 1;
            if !in_recovery(client).await? {
                if let Some(names) = sync_names {
                    set_names(client, names).await?;
                }
                return Ok(PromoteReport {
                    already_primary: false,
                    publish,
                    request_to_writable: requested.elapsed(),
                    polls,
                    requests,
                });
            }
            if last_request.elapsed() >= opts.resignal_interval {
                // An error here is "recovery is not in progress" when the promotion
                // just ended: the next poll sees it; otherwise the deadline bounds it.
                let _ = request(client).await;
                last_request = Instant::now();
                requests += 1;
            }
            tokio::time::sleep(opts.poll_interval).await;
        }
    };
    let result = match tokio::time::timeout_at(deadline, bounded).await {
        Ok(r) => r,
        Err(_) => Err(PromoteError::StillInRecovery(start.elapsed())),
    };
    result.map_err(|error| PromoteFailure {
        error,
        requested: sent.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// `SELECT pg_promote(wait => false)`; false from PostgreSQL is [`PromoteError::Refused`].
async fn request(client: &Client) -> Result<(), PromoteError> {
    let map = |source| PromoteError::Query {
        query: "pg_promote",
        source,
    };
    let row = client
        .query_one("SELECT pg_promote(wait => false)", &[])
        .await
        .map_err(map)?;
    if row.try_get::<_, bool>(0).map_err(map)? {
        Ok(())
    } else {
        Err(PromoteError::Refused)
    }
}

/// `SELECT pg_is_in_recovery()`.
pub(crate) async fn in_recovery(client: &Client) -> Result<bool, PromoteError> {
    let q = "SELECT pg_is_in_recovery()";
    let map = |source| PromoteError::Query {
        query: "pg_is_in_recovery",
        source,
    };
    let row = client.query_one(q, &[]).await.map_err(map)?;
    row.try_get(0).map_err(map)
}

#[cfg(test)]
mod tests;
