//! Rule `sync-epoch`: twinbeat owns `synchronous_standby_names` on the primary in
//! `sync` and `strict` mode. It names the standby by the `application_name` of its WAL
//! receiver (the peer's `node_id`, as a rejoin's `primary_conninfo` sets it), or
//! clears it; `ALTER SYSTEM`, a reload, and a read back until this session sees the
//! new value. Clearing it releases the commits waiting on the standby.
//!
//! The change runs on a connection held open for it ([`SyncConnection`]): clients
//! waiting on a dead standby can use up `max_connections`, and a new connection then
//! would be refused just when the names must change.

use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::{Client, NoTls};

/// Errors of a change of the names.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncNamesError {
    /// Could not connect to the local PostgreSQL.
    #[error("cannot connect to the local PostgreSQL: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// A statement failed (including a lost connection).
    #[error("{query} failed: {source}")]
    Query {
        /// The statement.
        query: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The action's window ran out (connecting, or before the new value read back).
    #[error("not done by the end of the action's window")]
    TimedOut,
}

/// Pause between two read backs after the reload.
const POLL: Duration = Duration::from_millis(2);

/// The value naming `standby` as the one synchronous standby. A node id holds only
/// `A-Z a-z 0-9 . _ - :` (the config checks it), so the quoting is plain.
pub(crate) fn names_for(standby: &str) -> String {
    format!("FIRST 1 (\"{standby}\")")
}

/// The value for `synchronous`: the standby named, or empty.
pub(crate) fn value_for(standby: &str, synchronous: bool) -> String {
    if synchronous {
        names_for(standby)
    } else {
        String::new()
    }
}

/// Sets `synchronous_standby_names` to `want` on `client` and reads it back. A value
/// already in place is left alone.
pub(crate) async fn set_names(client: &Client, want: &str) -> Result<(), SyncNamesError> {
    let map = |query| move |source| SyncNamesError::Query { query, source };
    if read(client).await? == want {
        return Ok(());
    }
    let quoted = want.replace('\'', "''");
    client
        .batch_execute(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '{quoted}'"
        ))
        .await
        .map_err(map("ALTER SYSTEM"))?;
    client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .map_err(map("pg_reload_conf"))?;
    // The reload reaches this backend at its next command; the caller's window bounds
    // the wait.
    loop {
        let read = read(client).await?;
        if read == want {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn read(client: &Client) -> Result<String, SyncNamesError> {
    let map = |source| SyncNamesError::Query {
        query: "SHOW synchronous_standby_names",
        source,
    };
    let row = client
        .query_one("SELECT current_setting('synchronous_standby_names')", &[])
        .await
        .map_err(map)?;
    row.try_get(0).map_err(map)
}

/// The connection the names change on, opened ahead of need and opened again when it
/// breaks.
pub(crate) struct SyncConnection {
    target: tokio_postgres::Config,
    client: Option<Client>,
}

impl std::fmt::Debug for SyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConnection")
            .field("open", &self.is_open())
            .finish()
    }
}

impl SyncConnection {
    /// Not connected yet.
    pub(crate) fn new(target: tokio_postgres::Config) -> Self {
        Self {
            target,
            client: None,
        }
    }

    /// Whether a connection is open.
    pub(crate) fn is_open(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Opens the connection unless open, by `deadline`.
    pub(crate) async fn ensure_open(&mut self, deadline: Instant) -> Result<(), SyncNamesError> {
        if self.is_open() {
            return Ok(());
        }
        self.client = None;
        let connect = tokio::time::timeout_at(deadline, self.target.connect(NoTls));
        let (client, connection) = connect
            .await
            .map_err(|_| SyncNamesError::TimedOut)?
            .map_err(SyncNamesError::Connect)?;
        tokio::spawn(async move {
            // Its error, if any, surfaces on the client's next statement.
            let _ = connection.await;
        });
        self.client = Some(client);
        Ok(())
    }

    /// Sets the names to `want` by `deadline`; a failure drops the connection, so the
    /// next attempt opens a new one.
    pub(crate) async fn set(
        &mut self,
        want: &str,
        deadline: Instant,
    ) -> Result<(), SyncNamesError> {
        self.ensure_open(deadline).await?;
        let Some(client) = &self.client else {
            return Err(SyncNamesError::TimedOut);
        };
        let done = match tokio::time::timeout_at(deadline, set_names(client, want)).await {
            Ok(r) => r,
            Err(_) => Err(SyncNamesError::TimedOut),
        };
        if done.is_err() {
            self.client = None;
        }
        done
    }
}

#[cfg(test)]
mod tests;
