//! The local DB check (rules `local-db-restart-once` and `fresh-checks`).
//!
//! ```text
//! let mut probe = LocalDbProbe::new(target);          // no I/O yet
//! let sample = probe.check(Duration::from_secs(1)).await;
//! sample.readiness   // pg_isready: Accepting / Rejecting (57P03) / NoResponse
//! sample.select_ok   // SELECT 1 answered
//! sample.in_recovery // pg_is_in_recovery()
//! sample.wal_lsn     // pg_current_wal_lsn() on a primary; received (else replayed) on a standby
//! ```
//!
//! The probe keeps one connection open between checks and reconnects when it is
//! broken. The whole check (connect + one query) is bounded by the timeout it is
//! given: a SIGSTOPped postmaster still completes TCP connects (the kernel
//! accepts them), so only the bound on the query tells it is hung. A check that
//! times out drops the connection, because a late answer would otherwise be
//! read as the next check's.

use std::time::{Duration, Instant};

use tokio::time::timeout_at;

use super::pg::{connect, parse_lsn, Connect, DbTarget, Readiness, Session};

/// The one query of a check: `SELECT 1`, the recovery flag and the WAL
/// position, in one round trip. `pg_current_wal_lsn()` raises an error in
/// recovery, so the CASE picks the standby's functions there (volatile
/// functions are not folded ahead of the CASE). [`standby_sql`] follows it.
const CHECK_SQL: &str = "SELECT 1, pg_is_in_recovery(), \
     CASE WHEN pg_is_in_recovery() \
          THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) \
          ELSE pg_current_wal_lsn() END, \
     CASE WHEN pg_is_in_recovery() \
          THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), \
                        (pg_control_checkpoint()).timeline_id) \
          ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int \
     END, \
     pg_last_wal_replay_lsn(), \
     CASE WHEN pg_is_in_recovery() THEN NULL \
          ELSE (SELECT slot_name || ' ' || active || ' ' || \
                       (pg_current_wal_lsn() - restart_lsn)::bigint \
                FROM pg_replication_slots WHERE restart_lsn IS NOT NULL \
                ORDER BY restart_lsn LIMIT 1) END, \
     current_setting('synchronous_standby_names')";

/// The last column of the check (rule `sync-epoch`): on a primary, the WAL sender of
/// the standby named `standby` (its `application_name`), as `state sync_state`. A
/// node id holds only `A-Z a-z 0-9 . _ - :` (the config checks it), so it is quoted
/// plainly.
fn standby_sql(standby: Option<&str>) -> String {
    match standby {
        Some(name) => format!(
            ", CASE WHEN pg_is_in_recovery() THEN NULL \
                 ELSE (SELECT state || ' ' || sync_state FROM pg_stat_replication \
                       WHERE application_name = '{name}' \
                       ORDER BY state = 'streaming' DESC LIMIT 1) END"
        ),
        None => ", NULL".to_owned(),
    }
}

/// What one check of the local database found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalDbSample {
    /// `pg_isready`'s answer for the server.
    pub readiness: Readiness,
    /// `SELECT 1` returned 1.
    pub select_ok: bool,
    /// `pg_is_in_recovery()`, when the query answered.
    pub in_recovery: Option<bool>,
    /// WAL position in bytes: current on a primary; last received (or, with
    /// nothing streamed yet, last replayed) on a standby.
    pub wal_lsn: Option<u64>,
    /// The timeline (rule `hold-needs-evidence` compares the peer's with it): the
    /// one written, or received (last checkpointed) in recovery.
    pub timeline: Option<u32>,
    /// `pg_last_wal_replay_lsn()` in bytes: a switchover's standby promotes once it is
    /// past the master's final LSN (rule `planned-switchover`); `None` on a primary.
    pub replay_lsn: Option<u64>,
    /// On a primary, the replication slot that holds the most WAL back (`None`: no
    /// slot, or in recovery).
    pub slot: Option<SlotReading>,
    /// `synchronous_standby_names` as the server has it.
    pub sync_names: Option<String>,
    /// On a primary, the standby as its WAL sender shows it (rule `sync-epoch`).
    pub standby: twinbeat_core::StandbyReading,
    /// Why the check is not fully healthy, for the log (`None` when healthy).
    pub error: Option<String>,
    /// Wall time the check took.
    pub elapsed: Duration,
}

/// A primary's replication slot and the WAL it keeps (`max_slot_wal_keep_size` bounds
/// it; status shows it so a stale slot is seen before it fills a disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotReading {
    /// The slot's name (the standby's node name when twinbeat created it).
    pub name: String,
    /// A walsender uses it now.
    pub active: bool,
    /// Bytes of WAL between the current position and the slot's `restart_lsn`.
    pub retained_bytes: u64,
}

impl SlotReading {
    /// Reads the query's `name active bytes` column (a slot name has no spaces).
    fn parse(text: &str) -> Option<SlotReading> {
        let mut parts = text.rsplitn(3, ' ');
        let retained = parts.next()?.parse::<i64>().ok()?;
        let active = match parts.next()? {
            "true" | "t" => true,
            "false" | "f" => false,
            _ => return None,
        };
        Some(SlotReading {
            name: parts.next()?.to_owned(),
            active,
            retained_bytes: u64::try_from(retained).unwrap_or(0),
        })
    }
}

impl LocalDbSample {
    /// Accepting connections and `SELECT 1` answered: what rule `local-db-restart-once` calls healthy.
    pub(crate) fn healthy(&self) -> bool {
        self.readiness.is_accepting() && self.select_ok
    }

    /// The sample's `accepting` flag as the core engine wants it.
    pub(crate) fn accepting(&self) -> bool {
        self.readiness.is_accepting()
    }
}

/// Checks the local PostgreSQL; keeps one connection between checks.
#[derive(Debug)]
pub(crate) struct LocalDbProbe {
    target: DbTarget,
    /// [`CHECK_SQL`] and the standby's column.
    sql: String,
    /// What `synchronous_standby_names` is when it names the standby.
    standby_names: Option<String>,
    session: Option<SessionSlot>,
    connects: u64,
}

/// Wrapper so the probe can derive `Debug` without exposing the session.
struct SessionSlot(Session);

impl std::fmt::Debug for SessionSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl LocalDbProbe {
    /// A probe for `target`; it connects on the first check.
    pub(crate) fn new(target: DbTarget) -> Self {
        Self {
            target,
            sql: format!("{CHECK_SQL}{}", standby_sql(None)),
            standby_names: None,
            session: None,
            connects: 0,
        }
    }

    /// Also reads, on a primary, the WAL sender of the standby whose
    /// `application_name` is `standby`, and whether `synchronous_standby_names` names
    /// it (rule `sync-epoch`).
    pub(crate) fn watching_standby(mut self, standby: &str) -> Self {
        self.sql = format!("{CHECK_SQL}{}", standby_sql(Some(standby)));
        self.standby_names = Some(crate::actions::sync_standby::names_for(standby));
        self
    }

    /// How many connections the probe has opened so far (successful logins): the
    /// tests check the connection is kept.
    #[cfg(test)]
    pub(crate) fn connects(&self) -> u64 {
        self.connects
    }

    /// Runs one check, bounded by `timeout` as a whole.
    pub(crate) async fn check(&mut self, timeout: Duration) -> LocalDbSample {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + timeout);
        let mut sample = match timeout_at(deadline, self.check_unbounded(timeout)).await {
            Ok(sample) => sample,
            Err(_) => {
                // Hung server (or network): the connection's state is unknown now.
                self.session = None;
                LocalDbSample {
                    readiness: Readiness::NoResponse {
                        reason: format!("no answer within {timeout:?}"),
                    },
                    select_ok: false,
                    in_recovery: None,
                    wal_lsn: None,
                    replay_lsn: None,
                    slot: None,
                    sync_names: None,
                    standby: twinbeat_core::StandbyReading::NONE,
                    timeline: None,
                    error: Some(format!("check timed out after {timeout:?}")),
                    elapsed: Duration::ZERO,
                }
            }
        };
        sample.elapsed = started.elapsed();
        sample
    }

    async fn check_unbounded(&mut self, timeout: Duration) -> LocalDbSample {
        if let Some(SessionSlot(session)) = &self.session {
            if !session.is_closed() {
                if let Ok(row) = session.first_row(&self.sql).await {
                    return sample_from_row(&row, self.standby_names.as_deref());
                }
                // Broken (e.g. the server restarted and terminated us): one
                // fresh connect below tells the server's state now.
            }
            self.session = None;
        }
        match connect(&self.target, timeout).await {
            Connect::Session(session) => {
                self.connects += 1;
                let result = session.first_row(&self.sql).await;
                match result {
                    Ok(row) => {
                        self.session = Some(SessionSlot(session));
                        sample_from_row(&row, self.standby_names.as_deref())
                    }
                    Err(error) => LocalDbSample {
                        readiness: Readiness::Accepting { login_error: None },
                        select_ok: false,
                        in_recovery: None,
                        wal_lsn: None,
                        replay_lsn: None,
                        slot: None,
                        sync_names: None,
                        standby: twinbeat_core::StandbyReading::NONE,
                        timeline: None,
                        error: Some(format!("check query failed: {error}")),
                        elapsed: Duration::ZERO,
                    },
                }
            }
            Connect::NoSession(readiness) => {
                let error = Some(match &readiness {
                    Readiness::Accepting { login_error } => format!(
                        "server is up but refused the login: {}",
                        login_error.as_deref().unwrap_or("unknown reason")
                    ),
                    Readiness::Rejecting { message } => {
                        format!("server rejects connections: {message}")
                    }
                    Readiness::NoResponse { reason } => format!("no response: {reason}"),
                });
                LocalDbSample {
                    readiness,
                    select_ok: false,
                    in_recovery: None,
                    wal_lsn: None,
                    replay_lsn: None,
                    slot: None,
                    sync_names: None,
                    standby: twinbeat_core::StandbyReading::NONE,
                    timeline: None,
                    error,
                    elapsed: Duration::ZERO,
                }
            }
        }
    }
}

/// Reads the row of [`CHECK_SQL`] and [`standby_sql`]; `standby_names` is the value
/// naming the watched standby.
fn sample_from_row(row: &[Option<String>], standby_names: Option<&str>) -> LocalDbSample {
    let column = |i: usize| row.get(i).and_then(|value| value.as_deref());
    let select_ok = column(0) == Some("1");
    let in_recovery = match column(1) {
        Some("t") => Some(true),
        Some("f") => Some(false),
        _ => None,
    };
    let wal_lsn = column(2).and_then(parse_lsn);
    let timeline = column(3).and_then(|v| v.parse().ok());
    let replay_lsn = column(4).and_then(parse_lsn);
    let slot = column(5).and_then(SlotReading::parse);
    let sync_names = column(6).map(str::to_owned);
    let (state, sync_state) = column(7)
        .and_then(|v| v.split_once(' '))
        .unwrap_or(("", ""));
    let named = standby_names.is_some_and(|n| sync_names.as_deref() == Some(n));
    let standby = twinbeat_core::StandbyReading {
        named,
        streaming: state == "streaming",
        synchronous: named && sync_state == "sync",
    };
    let error = if !select_ok {
        Some(format!("SELECT 1 returned {:?}", column(0)))
    } else if in_recovery.is_none() || wal_lsn.is_none() {
        Some(format!(
            "unexpected recovery/LSN columns: {:?} {:?}",
            column(1),
            column(2)
        ))
    } else {
        None
    };
    LocalDbSample {
        readiness: Readiness::Accepting { login_error: None },
        select_ok,
        in_recovery,
        wal_lsn,
        replay_lsn,
        slot,
        sync_names,
        standby,
        timeline,
        error,
        elapsed: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests;
