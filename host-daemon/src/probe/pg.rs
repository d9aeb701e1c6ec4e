//! Shared PostgreSQL plumbing for the local and remote DB probes: where the
//! server is ([`DbTarget`]), `pg_isready` semantics for a connect
//! ([`Readiness`]), and an open connection whose background task dies with it
//! ([`Session`]).

use std::fmt;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::tls::Connector;
pub(crate) use super::tls::PeerConnector;

/// Where and how to reach a PostgreSQL server.
#[derive(Clone)]
pub struct DbTarget {
    /// Host name, IP address, or (starting with `/`) a unix socket directory.
    pub host: String,
    /// TCP port (also names the unix socket file, `.s.PGSQL.<port>`).
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password, if the server asks for one.
    pub password: Option<String>,
    /// Database to connect to.
    pub dbname: String,
    /// `application_name` of the probe's sessions, so they can be told apart
    /// in `pg_stat_activity`.
    pub application_name: String,
    /// Plain TCP, or TLS (`[peer] sslmode`: the local server is always plain).
    pub tls: PeerConnector,
}

impl fmt::Debug for DbTarget {
    // Hand-written so a password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("tls", &self.tls)
            .finish()
    }
}

impl DbTarget {
    pub(crate) fn config(&self, connect_timeout: Duration) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .connect_timeout(connect_timeout);
        if let Some(password) = &self.password {
            config.password(password);
        }
        config
    }
}

/// What a connection attempt says about the server, as `pg_isready` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// The server answered the startup handshake. It may still have refused
    /// *this* login (wrong password, unknown database): like `pg_isready`, that
    /// counts as accepting, because the server is up; see `login_error`.
    Accepting {
        /// The server's error when it refused the login, `None` when it let us in.
        login_error: Option<String>,
    },
    /// The server answered but refuses connections for now (SQLSTATE 57P03:
    /// starting up, shutting down, or in recovery without hot standby).
    Rejecting {
        /// The server's message, e.g. "the database system is starting up".
        message: String,
    },
    /// No usable answer: refused TCP connect, unreachable, timed out, or the
    /// connection broke.
    NoResponse {
        /// Why, for the log.
        reason: String,
    },
}

impl Readiness {
    /// True for [`Readiness::Accepting`].
    pub(crate) fn is_accepting(&self) -> bool {
        matches!(self, Readiness::Accepting { .. })
    }
}

/// Maps a tokio-postgres error from a connect onto `pg_isready`'s three answers.
pub(crate) fn classify_connect_error(error: &tokio_postgres::Error) -> Readiness {
    match error.as_db_error() {
        Some(db) if db.code() == &SqlState::CANNOT_CONNECT_NOW => Readiness::Rejecting {
            message: db.message().to_owned(),
        },
        // The server spoke to us: it is up (libpq's PQping says PQPING_OK too).
        Some(db) => Readiness::Accepting {
            login_error: Some(format!("{} (SQLSTATE {})", db.message(), db.code().code())),
        },
        // The server answered in TLS, or refused TLS: it is up, as for a refused login,
        // and a wrong certificate must not make the standby believe the master is dead
        // (rule `remote-db-reads-role`); the words say what to fix.
        None => match super::tls::refusal(error) {
            Some(words) => Readiness::Accepting {
                login_error: Some(words),
            },
            None => Readiness::NoResponse {
                reason: error.to_string(),
            },
        },
    }
}

/// An open connection; its background I/O task is aborted when this is dropped,
/// so an abandoned (e.g. hung) connection does not linger.
pub(crate) struct Session {
    client: Client,
    task: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Session {
    /// True once the connection is known to be broken.
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed() || self.task.is_finished()
    }

    /// Runs `sql` with the simple query protocol (one round trip, no prepare)
    /// and returns the text columns of the first row.
    pub(crate) async fn first_row(
        &self,
        sql: &str,
    ) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
        let messages = self.client.simple_query(sql).await?;
        let row = messages.iter().find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        });
        Ok(match row {
            Some(row) => (0..row.len())
                .map(|i| row.get(i).map(str::to_owned))
                .collect(),
            None => Vec::new(),
        })
    }
}

/// Result of one connect: a session, or why there is none.
pub(crate) enum Connect {
    /// Logged in.
    Session(Session),
    /// No session; what the attempt says about the server.
    NoSession(Readiness),
}

/// Opens one connection, plain or TLS as the target says. The caller bounds the whole
/// call with its own timeout; `connect_timeout` only bounds the TCP connect inside it.
pub(crate) async fn connect(target: &DbTarget, connect_timeout: Duration) -> Connect {
    match open(target, connect_timeout).await {
        Ok((client, task)) => Connect::Session(Session { client, task }),
        Err(error) => Connect::NoSession(classify_connect_error(&error)),
    }
}

/// A client on `target` and its connection's I/O task (whose error the client sees as
/// `is_closed()`), plain or TLS as the target says: every session on the peer's
/// PostgreSQL opens here.
pub(crate) async fn open(
    target: &DbTarget,
    connect_timeout: Duration,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let mut config = target.config(connect_timeout);
    match &target.tls.0 {
        Connector::Plain => {
            let (client, connection) = config.connect(NoTls).await?;
            Ok((
                client,
                tokio::spawn(async move {
                    let _ = connection.await;
                }),
            ))
        }
        Connector::Tls {
            mode, connector, ..
        } => {
            let (client, connection) = config.ssl_mode(*mode).connect(connector.clone()).await?;
            Ok((
                client,
                tokio::spawn(async move {
                    let _ = connection.await;
                }),
            ))
        }
    }
}

/// Parses PostgreSQL's `pg_lsn` text form (`16/B374D848`) into a byte position.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    if high > u64::from(u32::MAX) || low > u64::from(u32::MAX) {
        return None;
    }
    Some((high << 32) | low)
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn lsn_text_becomes_a_byte_position() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("0/3000148"), Some(0x0300_0148));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
    }

    #[test]
    fn malformed_lsn_text_is_refused() {
        for bad in ["", "0", "/", "x/0", "0/x", "100000000/0", "0/-1"] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }
}
