//! Side effects the engine asks for: promote, the VIP over netlink, ARP, service
//! control, fencing, persisted state, systemd notifications.
//!
//! # For the driver: which call answers which engine action
//!
//! | engine action / moment | call |
//! |---|---|
//! | daemon start (before anything spawns PostgreSQL) | [`postmaster::become_subreaper`], then [`postmaster::spawn_reaper`] inside the runtime |
//! | start-up role (rule `hold-needs-evidence`) | [`state_file::StateStore::load`] (missing → [`state_file::PersistedState::default_missing`]; corrupt → refuse to start) with [`promote::in_recovery`] |
//! | start-up: is the VIP here? (a fact for the engine, which decides to keep or release it: rule `hold-needs-evidence`) | [`vip::Vip::is_present`] |
//! | fresh check "nobody holds the VIP" (rule `fresh-checks`) | [`arp_probe::probe_vip`] → [`arp_probe::ProbeOutcome`] |
//! | promote (rule `promotion-order`) | `store.save_async(PersistedState::new(Promoting, t+1, ..))` → [`promote::promote_with_config`] (or [`promote::promote`] on an open client) → [`vip::Vip::take`] → `store.save_async(PersistedState::new(Primary, t+1, ..))` |
//! | take VIP (a failure: retry with back-off, node stays primary) | [`vip::Vip::take`] (add + gratuitous ARP; cancel the [`arp::GarpHandle`] on release) |
//! | release VIP | [`vip::Vip::remove`] |
//! | restart / stop the local DB (rule `local-db-restart-once`) | [`service::ServiceControl::restart`] (fast stop, immediate stop, SIGKILL, start, confirmed by PID) / [`service::ServiceControl::stop`] with [`service::StopMode::Immediate`] |
//! | fence (the engine orders the steps, rule `fence-sequence`) | `StopDb` → [`fence::stop_confirmed`]; `ReleaseVip` → [`vip::Vip::remove`]; `Persist(fenced)` → [`state_file::StateStore::save_async`]; `RunFenceAction` → [`fence::run_action`] |
//! | the primary's DB is writable (after `Promoted`, on becoming primary) | [`start_guard::arm`]; around a restart the primary orders: [`start_guard::disarm`], restart, [`start_guard::arm`] |
//! | rejoin the peer as its standby (rule `rejoin-after-fence`) | [`rejoin::rejoin`]: the lost timeline's report, `pg_rewind` or `pg_basebackup`, [`service::ServiceControl::start`], streaming |
//! | systemd | [`notify::ready`] once running, [`notify::watchdog`] every [`notify::watchdog_period`], [`notify::status`] on changes |
//!
//! Config mapping: `local_db.service.manager` → [`service::ServiceControl`]
//! (`pg_ctl` → [`service::PgCtl`], `systemd` → `Systemd { unit, bus: Bus::System }`,
//! `command` → `Command { restart, stop }`); `fence.action` → [`fence::FenceAction`];
//! `vip.address`/`vip.interface` → [`vip::VipSpec`]; `vip.gratuitous_arp` → the count
//! given to [`vip::Vip::take`] (interval 200 ms, as IPaddr2).
//!
//! Every call is async with its own bound, and every module has one error enum.
//! Network calls act in the network namespace the runtime's threads live in.

pub(crate) mod arp;
pub(crate) mod arp_probe;
pub(crate) mod fence;
pub(crate) mod hooks;
pub(crate) mod maintenance_file;
pub(crate) mod ndp;
pub(crate) mod notify;
pub(crate) mod postmaster;
pub(crate) mod promote;
pub(crate) mod publish;
pub(crate) mod rejoin;
pub(crate) mod service;
pub(crate) mod start_guard;
pub(crate) mod state_file;
pub(crate) mod sync_standby;
pub(crate) mod systemd;
pub(crate) mod vip;
