//! One named test (or more) per decision rule of `docs/DESIGN.md` §2, by its stable name. The rule → test map is in
//! `core/RULES.md`; keep both in step.
//!
//! These tests run the engine on a virtual clock (no sleeping, no wall-clock timing):
//! every assertion about time is about the virtual instants the engine chose.

#[path = "rules/attempts.rs"]
mod attempts;
#[path = "rules/bridge.rs"]
mod bridge;
#[path = "rules/evidence.rs"]
mod evidence;
#[path = "rules/guard.rs"]
mod guard;
#[path = "rules/handover.rs"]
mod handover;
#[path = "rules/harness.rs"]
mod harness;
#[path = "rules/human_promoted.rs"]
mod human_promoted;
#[path = "rules/maintenance.rs"]
mod maintenance;
#[path = "rules/master.rs"]
mod master;
#[path = "rules/own_frames.rs"]
mod own_frames;
#[path = "rules/pair.rs"]
mod pair;
#[path = "rules/peer_db.rs"]
mod peer_db;
#[path = "rules/postmaster_exit.rs"]
mod postmaster_exit;
#[path = "rules/promotion_aborts.rs"]
mod promotion_aborts;
#[path = "rules/rejoin.rs"]
mod rejoin;
#[path = "rules/slot.rs"]
mod slot;
#[path = "rules/standby.rs"]
mod standby;
#[path = "rules/switchover.rs"]
mod switchover;
#[path = "rules/sync.rs"]
mod sync;
#[path = "rules/terms.rs"]
mod terms;
#[path = "rules/windows.rs"]
mod windows;
