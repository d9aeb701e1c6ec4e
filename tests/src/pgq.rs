//! Short-timeout PostgreSQL queries (tokio-postgres). A frozen server still completes
//! connects, so every step — connect and query — is bounded by a timeout.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tokio_postgres::error::DbError;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, SimpleQueryMessage, Socket};

use crate::error::{LabError, Result};

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// A label for errors ("a", "b", "vip").
    pub label: String,
    config: Config,
}

impl Target {
    /// The server whose unix socket is in `dir` (trust auth, no namespace needed).
    pub fn socket(dir: &Path, port: u16, label: &str) -> Self {
        let mut config = Config::new();
        config
            .host_path(PathBuf::from(dir))
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .application_name("tblab");
        Self {
            label: label.to_owned(),
            config,
        }
    }

    /// A server at `addr` over TCP with the lab password (call it from inside a namespace).
    pub fn tcp(addr: Ipv4Addr, label: &str) -> Self {
        let mut config = Config::new();
        config
            .host(addr.to_string())
            .port(crate::pg::PORT)
            .user("postgres")
            .password(crate::pg::PASSWORD)
            .dbname("postgres")
            .application_name("tblab");
        Self {
            label: label.to_owned(),
            config,
        }
    }

    fn err(&self, message: impl ToString) -> LabError {
        LabError::Postgres {
            node: self.label.clone(),
            message: message.to_string(),
        }
    }

    /// Connects within `timeout`; the connection task runs on the current runtime.
    pub async fn connect(&self, timeout: Duration) -> Result<Client> {
        let (client, conn) = self.open(timeout).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Connects within `timeout` like [`connect`](Self::connect), and hands the server's
    /// notices to the returned receiver instead of dropping them: PostgreSQL can qualify a
    /// success with a WARNING (a cancelled synchronous-replication wait: committed locally,
    /// maybe never replicated), and a client that judges its commits must see it. The
    /// connection task forwards each notice before it reads on, so a notice the server sent
    /// ahead of a reply is in the receiver by the time that reply's query returns.
    pub async fn connect_with_notices(
        &self,
        timeout: Duration,
    ) -> Result<(Client, mpsc::Receiver<DbError>)> {
        let (client, mut conn) = self.open(timeout).await?;
        let (forward, notices) = mpsc::channel();
        tokio::spawn(async move {
            // `None` or an error ends the connection: nothing more will come.
            while let Some(Ok(message)) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                if let AsyncMessage::Notice(notice) = message {
                    // Fails only once the client's owner dropped the receiver: nobody to tell.
                    let _ = forward.send(notice);
                }
            }
        });
        Ok((client, notices))
    }

    /// Opens a connection within `timeout`; the caller drives its connection half.
    async fn open(&self, timeout: Duration) -> Result<(Client, Connection<Socket, NoTlsStream>)> {
        tokio::time::timeout(timeout, self.config.connect(NoTls))
            .await
            .map_err(|_| self.err(format!("connect timed out after {timeout:?}")))?
            .map_err(|e| self.err(e))
    }
}

/// Rows as text (NULL as `None`).
pub type Rows = Vec<Vec<Option<String>>>;

/// Runs `sql` (simple protocol) on an open client within `timeout`.
pub async fn on_client(client: &Client, label: &str, sql: &str, timeout: Duration) -> Result<Rows> {
    let err = |m: String| LabError::Postgres {
        node: label.to_owned(),
        message: m,
    };
    let msgs = tokio::time::timeout(timeout, client.simple_query(sql))
        .await
        .map_err(|_| err(format!("query timed out after {timeout:?}: {sql}")))?
        .map_err(|e| err(format!("{e}: {sql}")))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Connects, runs `sql` and disconnects; each step within `timeout`.
pub async fn query(target: &Target, sql: &str, timeout: Duration) -> Result<Rows> {
    let client = target.connect(timeout).await?;
    on_client(&client, &target.label, sql, timeout).await
}

/// The first column of the first row.
pub fn scalar(rows: &Rows) -> Option<&str> {
    rows.first()?.first()?.as_deref()
}

/// The first column of the first row of `sql` (empty if no row) on a fresh connection from
/// `config`, with the driver's own error, for callers that look at its SQLSTATE.
pub async fn first_text(config: &Config, sql: &str) -> Result<String, tokio_postgres::Error> {
    let (client, conn) = config.connect(NoTls).await?;
    let task = tokio::spawn(conn);
    let rows = client.simple_query(sql).await;
    drop(client);
    let _ = task.await;
    for message in rows? {
        if let SimpleQueryMessage::Row(row) = message {
            return Ok(row.get(0).unwrap_or("").to_owned());
        }
    }
    Ok(String::new())
}
