//! The PostgreSQL pair: replication, recovery state, the VIP as the client sees it, and the
//! controls scenarios use (crash, stop, break, freeze, restart).

mod common;

use std::time::Duration;

use twinbeat_lab::sampler::{DbObs, VipObs};
use twinbeat_lab::{exclusive, Freeze, Host, Node};

#[test]
fn pair_replicates_and_reports_recovery() {
    let _g = exclusive();
    let lab = common::start(common::opts());
    assert!(!lab.is_in_recovery(Node::A).expect("a"), "a is the primary");
    assert!(lab.is_in_recovery(Node::B).expect("b"), "b is a standby");
    lab.check_replication(Node::A, Node::B, Duration::from_secs(20))
        .expect("a row written on a reaches b");
    // The standby streams from a over the lab network.
    let rows = lab
        .sql(
            Node::A,
            "SELECT application_name, client_addr FROM pg_stat_replication",
        )
        .expect("pg_stat_replication");
    assert_eq!(rows.len(), 1, "{rows:?}");
    // Its WAL receiver is named after its node, as a rejoin names it: the name
    // `synchronous_standby_names` gives it (rule `sync-epoch`).
    assert_eq!(rows[0][0].as_deref(), Some(Node::B.name()));
    assert_eq!(
        rows[0][1].as_deref(),
        Some(lab.topo.addr(Host::B).to_string().as_str())
    );
}

#[test]
fn vip_observation_and_client_view() {
    let _g = exclusive();
    let lab = common::start(common::opts());
    let vip = lab.topo.vip();
    assert!(lab.vip_holders().expect("holders").is_empty());
    assert_eq!(lab.vip_answerer(Duration::from_millis(500)), None);
    let sampler = lab.sampler();
    // The lab (not the product) places the VIP on a to check the observers.
    lab.topo.set_addr(Host::A, vip, true).expect("add vip");
    assert_eq!(lab.vip_holders().expect("holders"), vec![Node::A]);
    let answer = twinbeat_lab::cmd::wait_for(
        "VIP answers",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || lab.vip_answerer(Duration::from_secs(1)),
    );
    assert_eq!(answer.ok(), Some(Node::A));
    let s = sampler
        .wait_for(Duration::from_secs(5), |s| s.a.vip == VipObs::Held)
        .expect("sampler sees the VIP on a");
    assert_eq!((s.a.db, s.b.db), (DbObs::Primary, DbObs::Standby));
    assert_eq!(s.b.vip, VipObs::Absent);
    // Cable out: configured but unreachable, not counted as held.
    lab.set_link(Node::A, false).expect("unplug");
    assert!(lab.vip_holders().expect("holders").is_empty());
    sampler
        .wait_for(Duration::from_secs(5), |s| s.a.vip == VipObs::HeldNoCarrier)
        .expect("sampler sees no carrier");
    lab.set_link(Node::A, true).expect("plug");
    // VIP on both: a violation the sampler must flag.
    lab.topo.set_addr(Host::B, vip, true).expect("add vip on b");
    sampler
        .wait_for(Duration::from_secs(5), |s| s.vip_on_both())
        .expect("VIP on both seen");
    let report = sampler.stop();
    assert!(report.vip_both_samples >= 1);
    assert!(!report.clean());
    assert!(
        report.max_gap < Duration::from_secs(2),
        "sampler kept sampling"
    );
}

#[test]
fn sampler_flags_two_primaries() {
    let _g = exclusive();
    let lab = common::start(common::opts());
    let sampler = lab.sampler();
    sampler
        .wait_for(Duration::from_secs(10), |s| {
            s.a.db == DbObs::Primary && s.b.db == DbObs::Standby
        })
        .expect("normal pair seen");
    assert!(sampler.snapshot().clean());
    // Promote b by hand while a is still primary: the split brain the product must prevent.
    lab.sql(Node::B, "SELECT pg_promote(true, 30)")
        .expect("promote b");
    sampler
        .wait_for(Duration::from_secs(10), |s| s.two_primaries())
        .expect("two primaries seen");
    let report = sampler.stop();
    assert!(report.two_primary_samples >= 1);
    assert_eq!(
        report.first_violation.map(|e| e.what),
        Some("two writable primaries".to_owned())
    );
}

#[test]
fn crash_stop_break_freeze_and_restart() {
    let _g = exclusive();
    let lab = common::start(common::opts());
    // Crash: SIGKILL of the postmaster; the keeper reaps it at once, so a restart works
    // (no "lock file already exists").
    assert!(lab.kill_pg(Node::A));
    twinbeat_lab::cmd::wait_for(
        "a down",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || lab.pg(Node::A).postmaster_pid().is_none().then_some(()),
    )
    .expect("postmaster gone");
    lab.start_pg(Node::A).expect("restart after crash");
    assert!(!lab.is_in_recovery(Node::A).expect("a"));
    // Immediate stop, then start.
    lab.stop_pg(Node::B).expect("stop b");
    assert!(lab.sql(Node::B, "SELECT 1").is_err());
    lab.start_pg(Node::B).expect("start b");
    assert!(lab.is_in_recovery(Node::B).expect("b"));
    // Broken configuration: cannot start; repaired: starts.
    lab.stop_pg(Node::B).expect("stop b");
    lab.break_pg(Node::B).expect("break");
    assert!(
        lab.start_pg(Node::B).is_err(),
        "a broken PostgreSQL does not start"
    );
    lab.repair_pg(Node::B).expect("repair");
    lab.start_pg(Node::B).expect("start after repair");
    // Frozen: connects hang, a query times out; thawed: answers.
    let n = lab.freeze(Node::A, Freeze::Postgres, true);
    assert!(n >= 2, "postmaster and children stopped ({n})");
    let t = twinbeat_lab::pg::PgNode::socket_target(lab.pg(Node::A));
    let hung = twinbeat_lab::rt::block_on(twinbeat_lab::pgq::query(
        &t,
        "SELECT 1",
        Duration::from_millis(300),
    ));
    assert!(hung.is_err(), "a frozen server does not answer");
    lab.freeze(Node::A, Freeze::Postgres, false);
    twinbeat_lab::cmd::wait_for(
        "a answers again",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || lab.sql(Node::A, "SELECT 1").ok(),
    )
    .expect("thawed");
    // Stopping the lab with a frozen server still works (teardown thaws first).
    lab.freeze(Node::B, Freeze::Everything, true);
    let id = lab.topo.id;
    drop(lab);
    assert!(common::leftover_namespaces(id).is_empty());
}
