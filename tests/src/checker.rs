//! An acknowledged-writes checker, in the spirit of Jepsen: a client in the client
//! namespace commits through the VIP continuously, classifies every attempt, and afterwards
//! compares that record with the keys the new primary holds.
//!
//! A failover daemon promises that no acknowledged commit is lost. Counting only the
//! successes misses two things. PostgreSQL can report success for a commit it never
//! replicated: when a synchronous-replication wait is cancelled it still completes the
//! commit, with only a WARNING to say so; that is no acknowledgement. And a commit whose
//! reply never came (a timeout, a broken connection) may or may not have happened: its row
//! may be there afterwards or not, and neither is a fault. So each attempt is
//! [acknowledged](Class::Acknowledged), [in doubt](Class::InDoubt) or
//! [failed](Class::Failed), and only the first and the last make claims a check can hold
//! the cluster to ([`History::check`]).

mod history;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tokio_postgres::error::DbError;
use tokio_postgres::Client;

pub use history::{Attempt, History, Verdict};

use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::netns::{Host, Node};
use crate::pgq::Target;

/// How long one commit may wait for its reply before it is given up as in doubt. A commit
/// through a healthy pair takes milliseconds; one that waits seconds waits for a standby
/// that is gone or a primary that is frozen, and the writer had better move on.
pub const DEFAULT_COMMIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long opening a connection to the VIP may take. While no host holds the VIP a
/// connect waits for an ARP answer that never comes; this bounds how late the writer
/// notices that the VIP is back.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The writer never runs longer than this, whatever its stop flag says: a scenario that
/// never stops it must not hang the suite.
const LONGEST_RUN: Duration = Duration::from_secs(600);

/// What one attempt got back, as far as the client could tell: the input of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// No connection could be opened, so the INSERT was never sent.
    NotSent,
    /// The server reported success.
    Success,
    /// The server answered with an error with this SQLSTATE (e.g. `25006`).
    Error {
        /// The five-character SQLSTATE.
        sqlstate: String,
    },
    /// No answer: the commit timed out, or the connection broke or closed before its reply.
    NoAnswer,
}

/// What an attempt proves about its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The server reported success with no warning: the row must survive a failover.
    Acknowledged,
    /// The outcome is unknown: the row may or may not exist, and either is correct.
    InDoubt,
    /// Certainly not committed: the row must not exist.
    Failed,
}

/// Classifies one attempt from its reply and the messages of the notices the server sent
/// with it.
pub fn classify(reply: &Reply, notices: &[String]) -> Class {
    match reply {
        Reply::NotSent => Class::Failed,
        // Committed locally, maybe never replicated: whatever else the reply says.
        _ if notices.iter().any(|n| cancelled_sync_wait(n)) => Class::InDoubt,
        Reply::Success => Class::Acknowledged,
        Reply::Error { sqlstate } if proves_not_committed(sqlstate) => Class::Failed,
        Reply::Error { .. } | Reply::NoAnswer => Class::InDoubt,
    }
}

/// Whether a notice says a commit stopped waiting for its synchronous standby: "canceling
/// wait for synchronous replication due to user request" (a cancel, sent with the success)
/// or "canceling the wait for synchronous replication and terminating connection..." (a
/// termination; PostgreSQL does not send that one, but it would mean the same).
fn cancelled_sync_wait(notice: &str) -> bool {
    notice.contains("wait for synchronous replication")
}

/// Whether an error with this SQLSTATE proves that an autocommit INSERT did not commit:
/// PostgreSQL raises these only while it executes the statement, before the commit record is
/// written, and they abort the transaction. Anything else proves nothing: 57P01
/// (admin_shutdown), 57P02, 08xxx, 53xxx, 58xxx, XX000 or 40003
/// (statement_completion_unknown) can come after the commit was recorded locally, e.g. to a
/// backend terminated while it waited for its standby.
fn proves_not_committed(sqlstate: &str) -> bool {
    // read_only_sql_transaction: a standby (or a read-only primary) refused the write.
    sqlstate == "25006"
        // integrity_constraint_violation (23505 unique_violation: the key exists already).
        || sqlstate.starts_with("23")
        // syntax_error_or_access_rule_violation (42P01 no such table): never executed.
        || sqlstate.starts_with("42")
        // serialization_failure, deadlock_detected: rolled back.
        || matches!(sqlstate, "40001" | "40P01")
}

/// A writer that commits `INSERT INTO <table> (k) VALUES (<key>)` through the lab's VIP
/// from the client namespace, one commit at a time, every `every`, each key new (a counter
/// from 0). The caller creates the table (`CREATE TABLE <table> (k bigint PRIMARY KEY)`).
pub struct Checker<'lab> {
    lab: &'lab Lab,
    table: String,
    every: Duration,
    commit_timeout: Duration,
    connect_timeout: Duration,
}

/// An open connection and the notices its server sent.
struct Session {
    client: Client,
    notices: Receiver<DbError>,
}

/// Raises the stop flag when dropped, so the writer stops even when the caller's closure
/// panics (the scope that joins the writer can then unwind instead of waiting it out).
struct StopOnDrop<'flag>(&'flag AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<'lab> Checker<'lab> {
    /// A writer into `table` through `lab`'s VIP, an attempt every `every`, with the default
    /// timeouts.
    pub fn via_vip(lab: &'lab Lab, table: &str, every: Duration) -> Self {
        Self {
            lab,
            table: table.to_owned(),
            every,
            commit_timeout: DEFAULT_COMMIT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Gives up a commit as in doubt after `timeout` without a reply.
    pub fn commit_timeout(mut self, timeout: Duration) -> Self {
        self.commit_timeout = timeout;
        self
    }

    /// Gives up opening a connection (a failed attempt) after `timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Writes while `during` runs on this thread and for `settle` after it; returns every
    /// attempt and what `during` returned.
    pub fn run_while<R: Send>(
        &self,
        settle: Duration,
        during: impl FnOnce() -> R + Send,
    ) -> Result<(History, R)> {
        let target = Target::tcp(self.lab.topo.vip(), "vip-writer");
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                self.lab.topo.in_netns(Host::Client, || {
                    crate::rt::runtime().block_on(self.write(&target, &stop))
                })
            });
            let ran = {
                let _stop = StopOnDrop(&stop);
                let ran = during();
                std::thread::sleep(settle);
                ran
            };
            let history = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            Ok((history, ran))
        })
    }

    /// The writer's loop: an attempt every `every` (or at once after a slower one) until
    /// `stop` or [`LONGEST_RUN`].
    async fn write(&self, target: &Target, stop: &AtomicBool) -> History {
        let begun = Instant::now();
        let mut attempts = Vec::new();
        let mut session = None;
        let mut key = 0i64;
        while !stop.load(Ordering::Relaxed) && begun.elapsed() < LONGEST_RUN {
            let next = tokio::time::Instant::now() + self.every;
            attempts.push(self.attempt(target, &mut session, key).await);
            key += 1;
            tokio::time::sleep_until(next).await;
        }
        History::new(attempts)
    }

    /// Commits `key` on the open session if it is still up, else on a new one. Only a
    /// session whose commit was acknowledged is kept: after anything else the next attempt
    /// reconnects, since the VIP may have moved and an open connection stays with the node
    /// it reached.
    async fn attempt(&self, target: &Target, session: &mut Option<Session>, key: i64) -> Attempt {
        let connecting = Instant::now();
        let open = match session.take().filter(|s| !s.client.is_closed()) {
            Some(open) => open,
            None => match target.connect_with_notices(self.connect_timeout).await {
                Ok((client, notices)) => Session { client, notices },
                Err(e) => {
                    return Attempt {
                        key,
                        class: classify(&Reply::NotSent, &[]),
                        started: connecting,
                        ended: Instant::now(),
                        detail: e.to_string(),
                    }
                }
            },
        };
        // Notices from before this INSERT say nothing about it.
        open.notices.try_iter().for_each(drop);
        let sql = format!("INSERT INTO {} (k) VALUES ({key})", self.table);
        let started = Instant::now();
        let result =
            tokio::time::timeout(self.commit_timeout, open.client.simple_query(&sql)).await;
        let ended = Instant::now();
        let notices: Vec<String> = open
            .notices
            .try_iter()
            .map(|n| n.message().to_owned())
            .collect();
        let (reply, mut detail) = match result {
            Err(_) => (
                Reply::NoAnswer,
                format!("no reply within {:?}", self.commit_timeout),
            ),
            Ok(Ok(_)) => (Reply::Success, String::new()),
            Ok(Err(e)) => match e.code() {
                Some(code) => (
                    Reply::Error {
                        sqlstate: code.code().to_owned(),
                    },
                    e.to_string(),
                ),
                None => (Reply::NoAnswer, e.to_string()),
            },
        };
        let class = classify(&reply, &notices);
        if class == Class::Acknowledged {
            *session = Some(open);
        }
        if !notices.is_empty() {
            let joined = notices.join(" | ");
            detail = if detail.is_empty() {
                format!("notices: {joined}")
            } else {
                format!("{detail}; notices: {joined}")
            };
        }
        Attempt {
            key,
            class,
            started,
            ended,
            detail,
        }
    }
}

impl Lab {
    /// A [`Checker`] into `table` through the VIP, an attempt every `every` with the
    /// default timeouts, while `during` runs on this thread and for `settle` after it.
    /// Returns every attempt and what `during` returned.
    pub fn commit_via_vip_while<R: Send>(
        &self,
        table: &str,
        every: Duration,
        settle: Duration,
        during: impl FnOnce() -> R + Send,
    ) -> Result<(History, R)> {
        Checker::via_vip(self, table, every).run_while(settle, during)
    }

    /// Every key in `table` on node `n` (`SELECT k FROM <table>` over its unix socket):
    /// what [`History::check`] compares the history with.
    pub fn committed_keys(&self, n: Node, table: &str) -> Result<HashSet<i64>> {
        let rows = self.sql(n, &format!("SELECT k FROM {table}"))?;
        rows.iter()
            .map(|row| {
                let text = row.first().and_then(Option::as_deref);
                text.and_then(|t| t.parse().ok())
                    .ok_or_else(|| LabError::Parse {
                        what: format!("a key of {table} on {n}"),
                        detail: format!("{text:?}"),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(sqlstate: &str) -> Reply {
        Reply::Error {
            sqlstate: sqlstate.to_owned(),
        }
    }

    const CANCELLED: &str = "canceling wait for synchronous replication due to user request";

    #[test]
    fn a_plain_success_is_acknowledged() {
        assert_eq!(classify(&Reply::Success, &[]), Class::Acknowledged);
        let unrelated = vec!["there is no transaction in progress".to_owned()];
        assert_eq!(classify(&Reply::Success, &unrelated), Class::Acknowledged);
    }

    #[test]
    fn a_success_with_a_cancelled_sync_wait_is_in_doubt() {
        assert_eq!(
            classify(&Reply::Success, &[CANCELLED.to_owned()]),
            Class::InDoubt
        );
        let terminated = "canceling the wait for synchronous replication and terminating \
                          connection due to administrator command";
        assert_eq!(
            classify(&Reply::Success, &[terminated.to_owned()]),
            Class::InDoubt
        );
    }

    #[test]
    fn an_unsent_insert_failed() {
        assert_eq!(classify(&Reply::NotSent, &[]), Class::Failed);
    }

    #[test]
    fn no_answer_is_in_doubt() {
        assert_eq!(classify(&Reply::NoAnswer, &[]), Class::InDoubt);
    }

    #[test]
    fn only_errors_raised_before_the_commit_prove_it_failed() {
        for sqlstate in ["25006", "23505", "42P01", "42501", "40001", "40P01"] {
            assert_eq!(classify(&error(sqlstate), &[]), Class::Failed, "{sqlstate}");
        }
        for sqlstate in [
            "57P01", "57P02", "57014", "08006", "53100", "58030", "XX000", "40003",
        ] {
            assert_eq!(
                classify(&error(sqlstate), &[]),
                Class::InDoubt,
                "{sqlstate}"
            );
        }
    }

    #[test]
    fn an_error_after_a_cancelled_sync_wait_is_in_doubt() {
        assert_eq!(
            classify(&error("25006"), &[CANCELLED.to_owned()]),
            Class::InDoubt
        );
    }
}
