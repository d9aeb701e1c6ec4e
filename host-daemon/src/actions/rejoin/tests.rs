//! The rejoin against real PostgreSQL 15 servers: a primary and its standby; the
//! standby is promoted (the failover) while the old primary goes on writing (the
//! writes a failover loses), the old primary stops uncleanly (the fence); then it is
//! rejoined with `pg_rewind`, or rebuilt with `pg_basebackup`, and the report names
//! what it had written past the fork.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant as TokioInstant;
use twinbeat_lab::pg::{Launch, PgServer, PG_BIN};
use twinbeat_lab::rt::runtime;

use super::{rejoin, Method, RejoinError, RejoinPlan, Rejoined};
use crate::actions::service::{PgCtl, ServiceControl};
use crate::probe::lab_target::target;

const WINDOW: Duration = Duration::from_secs(120);

/// An old primary and the standby promoted over it; the old one wrote three
/// transactions past the fork, then crashed (stopped immediate, as a fence does).
struct Diverged {
    old: PgServer,
    new: PgServer,
}

fn diverged() -> Diverged {
    let old = PgServer::primary(Launch::PgCtl).expect("a primary");
    old.query("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        .unwrap();
    old.query("CREATE TABLE customers (id int PRIMARY KEY)")
        .unwrap();
    // The slot the old primary kept for its standby.
    old.query("SELECT pg_create_physical_replication_slot('node_b')")
        .unwrap();
    old.query("INSERT INTO orders VALUES (1, 'before the fork')")
        .unwrap();
    let new = PgServer::standby_of(&old, Launch::PgCtl, true).expect("a standby");
    wait(|| new.query("SELECT count(*) FROM orders").ok().as_deref() == Some("1"));
    new.query("SELECT pg_promote()").unwrap();
    wait(|| new.query("SELECT pg_is_in_recovery()").ok().as_deref() == Some("f"));
    new.query("INSERT INTO orders VALUES (10, 'on the new primary')")
        .unwrap();
    for id in 2..=4 {
        old.query(&format!("INSERT INTO orders VALUES ({id}, 'lost')"))
            .unwrap();
    }
    old.query("INSERT INTO customers VALUES (7)").unwrap();
    old.files().stop_immediate("the fence").unwrap();
    Diverged { old, new }
}

/// The rejoin (no reclone) of `d`'s old primary, within [`WINDOW`]; a failure panics
/// with the old server's log.
fn rewound(d: &Diverged, plan: &RejoinPlan, service: &ServiceControl) -> Rejoined {
    runtime()
        .block_on(rejoin(
            plan,
            service,
            Some(d.old.data()),
            false,
            TokioInstant::now() + WINDOW,
        ))
        .unwrap_or_else(|e| panic!("{e}\nold's log:\n{}", d.old.log()))
}

fn wait(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("condition never held");
}

fn plan(d: &Diverged, state_dir: &Path) -> (RejoinPlan, ServiceControl) {
    let plan = RejoinPlan {
        bin_dir: PG_BIN.into(),
        state_dir: state_dir.to_path_buf(),
        config_file: None,
        source: target(&d.new, "node-a", false),
        local: target(&d.old, "twinbeat-local", true).config(Duration::from_secs(5)),
    };
    let service = ServiceControl::PgCtl(PgCtl {
        pg_ctl: Path::new(PG_BIN).join("pg_ctl"),
        data_dir: d.old.data().to_path_buf(),
        config_file: None,
        log_file: None,
    });
    (plan, service)
}

#[test]
fn a_rewind_makes_the_old_primary_a_streaming_standby_and_reports_what_it_lost() {
    let d = diverged();
    let state = tempfile::tempdir().unwrap();
    let (plan, service) = plan(&d, state.path());
    // The start guard's signal is there, as on a fenced primary.
    std::fs::write(d.old.data().join("standby.signal"), "").unwrap();
    let done = rewound(&d, &plan, &service);
    assert_eq!(done.method, Method::Rewind);
    let report = done.report.expect("the old timeline forked");
    assert_eq!((report.old_timeline, report.new_timeline), (1, 2));
    // The three inserts into orders and the one into customers, each its own
    // transaction (autovacuum or a checkpoint may add their own, never fewer).
    assert!(report.committed_transactions >= 4, "{report:?}");
    let orders = report
        .written
        .iter()
        .find(|w| w.relation.as_deref() == Some("orders"))
        .unwrap_or_else(|| panic!("orders not named: {report:?}"));
    assert_eq!(orders.database, "postgres");
    assert!(orders.records >= 3, "{orders:?}");
    assert!(report
        .written
        .iter()
        .any(|w| w.relation.as_deref() == Some("customers")));
    assert!(report.dir.join("report.json").exists());
    let text = std::fs::read_to_string(report.dir.join("report.txt")).unwrap();
    assert!(text.contains("postgres.orders"), "{text}");
    // The segments that hold the WAL from the last checkpoint to its end, not the
    // recycled ones waiting past it.
    assert!(
        (1..=3).contains(&report.wal_segments.len()),
        "{:?}",
        report.wal_segments
    );
    assert!(report
        .dir
        .join("wal")
        .join(&report.wal_segments[0])
        .exists());
    // A streaming standby of the new primary, on its timeline and with its data: the
    // lost rows are gone, the new primary's row is there.
    assert_eq!(d.old.query("SELECT pg_is_in_recovery()").unwrap(), "t");
    wait(|| {
        d.old
            .query("SELECT count(*) FROM orders WHERE id = 10")
            .ok()
            .as_deref()
            == Some("1")
    });
    assert_eq!(
        d.old
            .query("SELECT count(*) FROM orders WHERE note = 'lost'")
            .unwrap(),
        "0"
    );
    assert_eq!(
        d.new
            .query("SELECT application_name FROM pg_stat_replication")
            .unwrap(),
        "node-a",
        "primary_conninfo names this node"
    );
    wait(|| {
        d.new
            .query("SELECT active FROM pg_replication_slots WHERE slot_name = 'node_a'")
            .ok()
            .as_deref()
            == Some("t")
    });
    assert_eq!(
        d.old
            .query("SELECT count(*) FROM pg_replication_slots")
            .unwrap(),
        "0",
        "the old primary's slot went with its demotion"
    );
    // Its own configuration came back, not the new primary's.
    let conf = std::fs::read_to_string(d.old.data().join("test.conf")).unwrap();
    assert!(conf.contains(&format!("port = {}", d.old.port())), "{conf}");
}

/// Debian's layout: `postgresql.conf` (with the files it names) in a directory of its
/// own, none in the data directory. Without `config_file` the rejoin refuses before it
/// changes anything; with it, the crash recovery, `pg_rewind` and `pg_ctl start` read
/// it.
#[test]
fn a_configuration_outside_the_data_directory_is_read_from_config_file() {
    let d = diverged();
    let files = d.old.files();
    let etc = files.home.join("etc");
    std::fs::create_dir(&etc).unwrap();
    twinbeat_lab::pg::chown_postgres(&etc).unwrap();
    for name in [
        "postgresql.conf",
        "pg_hba.conf",
        "pg_ident.conf",
        "test.conf",
    ] {
        std::fs::rename(files.data.join(name), etc.join(name)).unwrap();
    }
    let main = etc.join("postgresql.conf");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!(
            "data_directory = '{}'\nhba_file = '{etc}/pg_hba.conf'\nident_file = '{etc}/pg_ident.conf'\n{text}",
            files.data.display(),
            etc = etc.display()
        ),
    )
    .unwrap();
    std::fs::write(d.old.data().join("standby.signal"), "").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (mut plan, service) = plan(&d, state.path());
    let rt = runtime();
    let refused = rt.block_on(rejoin(
        &plan,
        &service,
        Some(d.old.data()),
        false,
        TokioInstant::now() + WINDOW,
    ));
    assert!(
        matches!(refused, Err(RejoinError::NoConfigFile(_))),
        "{refused:?}"
    );
    assert!(
        d.old.data().join("standby.signal").exists(),
        "nothing changed"
    );
    plan.config_file = Some(main.clone());
    let service = ServiceControl::PgCtl(PgCtl {
        pg_ctl: Path::new(PG_BIN).join("pg_ctl"),
        data_dir: d.old.data().to_path_buf(),
        config_file: Some(main),
        log_file: None,
    });
    let done = rewound(&d, &plan, &service);
    assert_eq!(done.method, Method::Rewind);
    assert_eq!(d.old.query("SELECT pg_is_in_recovery()").unwrap(), "t");
    assert_eq!(
        d.old.query("SHOW config_file").unwrap(),
        etc.join("postgresql.conf").display().to_string()
    );
    wait(|| {
        d.old
            .query("SELECT count(*) FROM orders WHERE id = 10")
            .ok()
            .as_deref()
            == Some("1")
    });
}

#[test]
fn a_reclone_rebuilds_the_old_primary_with_a_base_backup() {
    let d = diverged();
    let state = tempfile::tempdir().unwrap();
    let (plan, service) = plan(&d, state.path());
    let rt = runtime();
    let done = rt
        .block_on(rejoin(
            &plan,
            &service,
            Some(d.old.data()),
            true,
            TokioInstant::now() + WINDOW,
        ))
        .unwrap_or_else(|e| panic!("{e}\nold's log:\n{}", d.old.log()));
    assert_eq!(
        done.method,
        Method::Reclone {
            instead_of_rewind: None
        }
    );
    assert!(done.report.is_some_and(|r| r.committed_transactions >= 4));
    assert_eq!(d.old.query("SELECT pg_is_in_recovery()").unwrap(), "t");
    wait(|| d.old.query("SELECT count(*) FROM orders").ok().as_deref() == Some("2"));
}

#[test]
fn a_running_server_is_never_rejoined() {
    let d = diverged();
    let state = tempfile::tempdir().unwrap();
    let (plan, service) = plan(&d, state.path());
    // The new primary's directory stands in for a server that still runs.
    let rt = runtime();
    let err = rt
        .block_on(rejoin(
            &plan,
            &service,
            Some(d.new.data()),
            false,
            TokioInstant::now() + WINDOW,
        ))
        .unwrap_err();
    assert!(matches!(err, RejoinError::Running(_)), "{err}");
}

#[test]
fn slot_names_keep_what_a_slot_name_allows() {
    assert_eq!(super::slot_name("db-1.Example"), "db_1_example");
    assert_eq!(super::slot_name("a"), "a");
}

#[test]
fn a_source_in_recovery_is_refused() {
    let old = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&old, Launch::PgCtl, true).expect("a standby");
    let mut old = old;
    old.stop().unwrap();
    let state = tempfile::tempdir().unwrap();
    let plan = RejoinPlan {
        bin_dir: PG_BIN.into(),
        state_dir: state.path().to_path_buf(),
        config_file: None,
        source: target(&standby, "node-a", false),
        local: target(&old, "twinbeat-local", true).config(Duration::from_secs(5)),
    };
    let service = ServiceControl::PgCtl(PgCtl {
        pg_ctl: Path::new(PG_BIN).join("pg_ctl"),
        data_dir: old.data().to_path_buf(),
        config_file: None,
        log_file: None,
    });
    let err = runtime()
        .block_on(rejoin(
            &plan,
            &service,
            Some(old.data()),
            false,
            TokioInstant::now() + WINDOW,
        ))
        .unwrap_err();
    assert!(
        matches!(&err, RejoinError::Source { why, .. } if why.contains("in recovery")),
        "{err}"
    );
}

/// Rule `planned-switchover` on real servers: the master's `Demote` stops it cleanly
/// at its final LSN (a second run only reads it), the standby replays past it and
/// promotes, and the old master follows with nothing to rewind and nothing lost; its
/// slot on the new primary is then already in place (rule `standby-slot`).
#[test]
fn a_demoted_primary_hands_over_at_its_final_lsn_and_follows_with_nothing_lost() {
    let old = PgServer::primary(Launch::PgCtl).expect("a primary");
    old.query("CREATE TABLE orders (id int PRIMARY KEY)")
        .unwrap();
    let new = PgServer::standby_of(&old, Launch::PgCtl, true).expect("a standby");
    for id in 1..=20 {
        old.query(&format!("INSERT INTO orders VALUES ({id})"))
            .unwrap();
    }
    // The start guard is armed on a primary: it stays through the demotion.
    std::fs::write(old.data().join("standby.signal"), "").unwrap();
    let d = Diverged { old, new };
    let state = tempfile::tempdir().unwrap();
    let (plan, service) = plan(&d, state.path());
    let rt = runtime();
    let deadline = || TokioInstant::now() + WINDOW;
    let lsn = rt
        .block_on(super::demote(
            &plan,
            &service,
            Some(d.old.data()),
            deadline(),
        ))
        .unwrap_or_else(|e| panic!("{e}\nold's log:\n{}", d.old.log()));
    assert!(d.old.data().join("standby.signal").exists());
    let again = rt
        .block_on(super::demote(
            &plan,
            &service,
            Some(d.old.data()),
            deadline(),
        ))
        .expect("a cleanly stopped server is only read");
    assert_eq!(again, lsn);
    // The standby replays past the shutdown checkpoint, then promotes.
    wait(|| {
        d.new
            .query("SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|replayed| replayed > lsn)
    });
    assert_eq!(
        d.new.query("SELECT count(*) FROM orders").unwrap(),
        "20",
        "every committed row reached the standby"
    );
    d.new.query("SELECT pg_promote()").unwrap();
    wait(|| d.new.query("SELECT pg_is_in_recovery()").ok().as_deref() == Some("f"));
    let done = rt
        .block_on(rejoin(
            &plan,
            &service,
            Some(d.old.data()),
            false,
            deadline(),
        ))
        .unwrap_or_else(|e| panic!("{e}\nold's log:\n{}", d.old.log()));
    assert_eq!(done.method, Method::Rewind);
    if let Some(report) = done.report {
        assert_eq!(report.committed_transactions, 0, "{report:?}");
    }
    d.new.query("INSERT INTO orders VALUES (21)").unwrap();
    wait(|| d.old.query("SELECT count(*) FROM orders").ok().as_deref() == Some("21"));
    let (slot, changed) = rt
        .block_on(super::ensure_slot(&plan, deadline()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(slot, "node_a");
    assert!(!changed, "the rejoin had set primary_slot_name already");
    let active = d
        .new
        .query("SELECT active FROM pg_replication_slots WHERE slot_name = 'node_a'")
        .unwrap();
    assert_eq!(active, "t");
}

/// Rule `standby-slot`: a standby built without a slot gets one on the primary, and
/// `primary_slot_name` with a reload; a second run changes nothing.
#[test]
fn a_hand_built_standby_gets_its_slot_on_the_primary() {
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    // The standby is the local server here; the primary is its peer.
    let d = Diverged {
        old: standby,
        new: primary,
    };
    let state = tempfile::tempdir().unwrap();
    let (plan, _) = plan(&d, state.path());
    let rt = runtime();
    let (slot, changed) = rt
        .block_on(super::ensure_slot(&plan, TokioInstant::now() + WINDOW))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(slot, "node_a");
    assert!(changed);
    wait(|| {
        d.new
            .query("SELECT active FROM pg_replication_slots WHERE slot_name = 'node_a'")
            .ok()
            .as_deref()
            == Some("t")
    });
    let (_, again) = rt
        .block_on(super::ensure_slot(&plan, TokioInstant::now() + WINDOW))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!again);
}
