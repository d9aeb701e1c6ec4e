//! Publishing a custom setting (`twinbeat.*`) in the local PostgreSQL, where the
//! peer's remote DB path reads it with `current_setting(setting, true)`: the term
//! before `pg_promote` (rule `remote-db-reads-role`) and a handover's stage (rule
//! `fence-handshake`).
//!
//! `ALTER SYSTEM` and a reload, read back. PostgreSQL 15 refuses `ALTER SYSTEM` for a
//! custom setting it has never seen, so the session first defines the placeholder
//! with `SET` (and `RESET`s it, so its own read-back sees the file's value);
//! `ALTER SYSTEM` writes no WAL and is allowed during recovery.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

/// Errors of a publication.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    /// Could not connect to the local PostgreSQL.
    #[error("cannot connect to the local PostgreSQL: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// A query failed (including a lost connection).
    #[error("{query} failed: {source}")]
    Query {
        /// The statement.
        query: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The setting did not read back within the bound.
    #[error("{setting} reads {read:?}, not {value:?}, after the reload")]
    NotPublished {
        /// The setting.
        setting: &'static str,
        /// The value written (empty: reset).
        value: String,
        /// What `current_setting(setting, true)` last said.
        read: Option<String>,
    },
}

/// Publishes `value` as `setting`, or clears it (`None`), then polls every `poll`
/// until this session reads the new value back (the reload reaches each backend at
/// its next command). A value already in place is left alone (no write).
///
/// Needs a role allowed to run `ALTER SYSTEM` (a superuser).
pub(crate) async fn publish(
    client: &Client,
    setting: &'static str,
    value: Option<&str>,
    poll: Duration,
) -> Result<(), PublishError> {
    let map = |query| move |source| PublishError::Query { query, source };
    let want = value.unwrap_or("");
    if read_setting(client, setting).await?.unwrap_or_default() == want {
        return Ok(());
    }
    let quoted = want.replace('\'', "''");
    let alter = match value {
        Some(_) => format!("ALTER SYSTEM SET {setting} = '{quoted}'"),
        None => format!("ALTER SYSTEM RESET {setting}"),
    };
    client
        .batch_execute(&format!("SET {setting} = ''"))
        .await
        .map_err(map("SET placeholder"))?;
    client
        .batch_execute(&alter)
        .await
        .map_err(map("ALTER SYSTEM"))?;
    client
        .batch_execute(&format!("RESET {setting}; SELECT pg_reload_conf()"))
        .await
        .map_err(map("pg_reload_conf"))?;
    let mut last = None;
    for _ in 0..1000 {
        last = read_setting(client, setting).await?;
        if last.as_deref().unwrap_or("") == want {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
    Err(PublishError::NotPublished {
        setting,
        value: want.to_owned(),
        read: last,
    })
}

/// [`publish`] on a connection of its own, made with `config` and closed after.
pub(crate) async fn publish_with_config(
    config: &tokio_postgres::Config,
    setting: &'static str,
    value: Option<&str>,
    poll: Duration,
) -> Result<(), PublishError> {
    let (client, connection) = config.connect(NoTls).await.map_err(PublishError::Connect)?;
    // The connection ends when `client` is dropped; its error, if any, also surfaces
    // on the client's next query.
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    let done = publish(&client, setting, value, poll).await;
    drop(client);
    let _ = task.await;
    done
}

/// `current_setting(setting, true)`: `None` when the setting is not defined.
async fn read_setting(client: &Client, setting: &str) -> Result<Option<String>, PublishError> {
    let map = |source| PublishError::Query {
        query: "current_setting",
        source,
    };
    let q = format!("SELECT current_setting('{setting}', true)");
    let row = client.query_one(&q, &[]).await.map_err(map)?;
    row.try_get(0).map_err(map)
}
