//! One node's PostgreSQL watched continuously for the invariant sampler: a task asks
//! `pg_is_in_recovery()` on a persistent connection, again and again, and each sampler
//! tick reads its latest answer. A question outstanding for longer than [`HUNG_AFTER`]
//! reads as `Hung`. Decoupling the questions from the ticks keeps the ticks at their
//! period while a server is frozen, and keeps one slow answer on a loaded machine (a
//! query that takes 60 ms instead of 2) from reading as a frozen server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::pgq::{self, Target};
use crate::sampler::DbObs;

/// An unanswered question older than this reads as `Hung`.
pub const HUNG_AFTER: Duration = Duration::from_millis(150);
/// A connect or query is abandoned after this (a frozen server never answers).
const QUERY_BOUND: Duration = Duration::from_secs(1);
/// After a timed-out connect, wait this long before the next (a frozen server queues them).
const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);
/// Pause between two questions.
const PACE: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Latest {
    answer: DbObs,
    asking_since: Option<Instant>,
}

/// The watch on one server; dropping the runtime it runs on ends it.
#[derive(Debug)]
pub struct DbWatch {
    latest: Arc<Mutex<Latest>>,
}

impl DbWatch {
    /// Starts asking the server whose socket directory is `sock` (call inside a runtime).
    pub fn spawn(sock: PathBuf, label: &'static str) -> Self {
        let latest = Arc::new(Mutex::new(Latest {
            answer: DbObs::Down,
            asking_since: None,
        }));
        let shared = Arc::clone(&latest);
        tokio::spawn(async move {
            let mut conn = Conn::default();
            loop {
                if let Ok(mut l) = shared.lock() {
                    l.asking_since = Some(Instant::now());
                }
                let answer = db_obs(&mut conn, &sock, label).await;
                if let Ok(mut l) = shared.lock() {
                    *l = Latest {
                        answer,
                        asking_since: None,
                    };
                }
                tokio::time::sleep(PACE).await;
            }
        });
        Self { latest }
    }

    /// The observation at `now`.
    pub fn observe(&self, now: Instant) -> DbObs {
        let Ok(l) = self.latest.lock() else {
            return DbObs::Hung;
        };
        match l.asking_since {
            Some(t) if now.saturating_duration_since(t) > HUNG_AFTER => DbObs::Hung,
            _ => l.answer,
        }
    }
}

#[derive(Default)]
struct Conn {
    client: Option<Client>,
    retry_at: Option<Instant>,
}

async fn db_obs(conn: &mut Conn, sock: &std::path::Path, label: &str) -> DbObs {
    if conn.client.as_ref().is_some_and(Client::is_closed) {
        conn.client = None;
    }
    if conn.client.is_none() {
        if conn.retry_at.is_some_and(|t| Instant::now() < t) {
            return DbObs::Hung;
        }
        match Target::socket(sock, crate::pg::PORT, label)
            .connect(QUERY_BOUND)
            .await
        {
            Ok(c) => {
                conn.client = Some(c);
                conn.retry_at = None;
            }
            Err(e) => {
                let hung = e.to_string().contains("timed out");
                if hung {
                    conn.retry_at = Some(Instant::now() + RECONNECT_BACKOFF);
                    return DbObs::Hung;
                }
                return DbObs::Down;
            }
        }
    }
    let Some(client) = conn.client.as_ref() else {
        return DbObs::Down;
    };
    match pgq::on_client(client, label, "SELECT pg_is_in_recovery()", QUERY_BOUND).await {
        Ok(rows) => match pgq::scalar(&rows) {
            Some("f") => DbObs::Primary,
            Some("t") => DbObs::Standby,
            _ => DbObs::Down,
        },
        Err(e) => {
            // Drop the connection either way; a timed-out one may still be stuck.
            conn.client = None;
            if e.to_string().contains("timed out") {
                conn.retry_at = Some(Instant::now() + RECONNECT_BACKOFF);
                DbObs::Hung
            } else {
                DbObs::Down
            }
        }
    }
}
