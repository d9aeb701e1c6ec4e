//! A simulated node: its host, database, VIP and gateway as the world sees them, and
//! the effects the world can crash its daemon on.

use std::time::Duration;

use twinbeat_core::{Action, Config, Engine, Input, Instant, PersistedRole, PersistedState, Role};

/// Index of a node in `World::nodes`.
pub(crate) type N = usize;
/// Node A: the master at the start.
pub(crate) const A: N = 0;
/// Node B: the standby at the start.
pub(crate) const B: N = 1;

/// Effects the world can crash a daemon on ("crash at every step").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    PersistPromoting,
    Promote,
    TakeVip,
    PersistPrimary,
    StopDb,
    ReleaseVip,
    PersistFenced,
    PersistRejoining,
    Rejoin,
    PersistDemoting,
    Demote,
}

impl Step {
    pub(super) fn matches(self, a: &Action) -> bool {
        match (self, a) {
            (Step::PersistPromoting, Action::Persist(s)) => s.role == PersistedRole::Promoting,
            (Step::PersistPrimary, Action::Persist(s)) => s.role == PersistedRole::Primary,
            (Step::PersistFenced, Action::Persist(s)) => s.role == PersistedRole::Fenced,
            (Step::PersistRejoining, Action::Persist(s)) => s.role == PersistedRole::Rejoining,
            (Step::Rejoin, Action::Rejoin { .. }) => true,
            (Step::PersistDemoting, Action::Persist(s)) => {
                matches!(
                    s.role,
                    PersistedRole::Demoting {
                        final_lsn: None,
                        ..
                    }
                )
            }
            (Step::Demote, Action::Demote { .. }) => true,
            (Step::Promote, Action::Promote { .. }) => true,
            (Step::TakeVip, Action::TakeVip) => true,
            (Step::StopDb, Action::StopDb { .. }) => true,
            (Step::ReleaseVip, Action::ReleaseVip) => true,
            _ => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) cfg: Config,
    pub(crate) engine: Option<Engine>,
    pub(crate) inc: u32,
    pub(crate) started_at: Instant,
    pub(crate) heard_peer: bool,
    pub(crate) alive: bool,
    pub(crate) node_frozen: bool,
    pub(crate) proc_frozen: bool,
    pub(crate) frozen_until: Instant,
    pub(crate) deferred: Vec<Input>,
    pub(crate) db_running: bool,
    pub(crate) db_broken: bool,
    pub(crate) in_recovery: bool,
    /// `standby.signal` in the data directory: a replica's own (`pg_basebackup -R`) or
    /// the daemon's start guard on a primary. A start the daemon did not order comes up
    /// in recovery when it is there.
    pub(crate) signal: bool,
    pub(crate) db_changed_at: Instant,
    pub(crate) wal: u64,
    /// The timeline the database is on: a promotion starts the next one, a replica
    /// follows its primary's while it streams.
    pub(crate) timeline: u32,
    /// `twinbeat.term` in `postgresql.auto.conf`: published before every `pg_promote`
    /// (rule `remote-db-reads-role`), kept across restarts.
    pub(crate) published_term: Option<u64>,
    /// `twinbeat.handover` in `postgresql.auto.conf`: a handover's stage over the
    /// remote DB path (rule `fence-handshake`), kept across restarts.
    pub(crate) published: Option<twinbeat_core::Published>,
    /// `twinbeat.sync_epoch` and `twinbeat.sync_ack` in `postgresql.auto.conf` (rule
    /// `sync-epoch`): like the others, they outlive the daemon and travel with a rejoin.
    pub(crate) published_sync: [Option<twinbeat_core::PublishedEpoch>; 2],
    pub(crate) vip: bool,
    /// Failed VIP adds in a row.
    pub(crate) vip_failures: u32,
    pub(crate) gateway_ok: bool,
    pub(crate) gateway_changed_at: Instant,
    pub(crate) persisted: Option<PersistedState>,
    /// The operator's pause the daemon persisted (rule `maintenance-pause`): when, and
    /// for how long (`None`: until resumed).
    pub(crate) maintenance: Option<(Instant, Option<Duration>)>,
    pub(crate) crash_on: Option<(Step, bool, Duration)>,
    /// PostgreSQL was shut down cleanly with its shutdown checkpoint at this LSN and
    /// has not run since: what `pg_controldata` reads (rule `planned-switchover`).
    pub(crate) clean_stop: Option<u64>,
    /// `synchronous_standby_names` in `postgresql.auto.conf` names the peer (rule
    /// `sync-epoch`): a primary's commits then wait for it.
    pub(crate) sync_names: bool,
    /// Failed `SetSyncStandby`s in a row.
    pub(crate) sync_failures: u32,
}

impl Node {
    /// Running daemon that is not frozen: the engine acts.
    pub(crate) fn active(&self) -> bool {
        self.alive && self.engine.is_some() && !self.node_frozen && !self.proc_frozen
    }

    pub(crate) fn role(&self) -> Option<Role> {
        self.engine.as_ref().map(|e| e.role())
    }
}
