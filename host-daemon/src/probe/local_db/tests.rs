//! The local DB probe: the row it reads, and real PostgreSQL 15 servers (primary, hot
//! standby, stopped, starting up (57P03), and hung (SIGSTOP)).

use std::time::Duration;

use twinbeat_lab::pg::{Launch, PgServer};
use twinbeat_lab::rt::runtime;

use super::*;
use crate::probe::lab_target::target;
use twinbeat_core::StandbyReading;

/// Generous for a loaded 2-core CI machine; only the hung case waits it out.
const TIMEOUT: Duration = Duration::from_secs(2);

#[test]
fn primary_is_accepting_not_in_recovery_with_its_lsn_and_reuses_its_connection() {
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = LocalDbProbe::new(target(&server, "tb-local-primary", false));
    let first = rt.block_on(probe.check(TIMEOUT));
    assert!(first.healthy(), "{first:?}\n{}", server.log());
    assert_eq!(first.readiness, Readiness::Accepting { login_error: None });
    assert_eq!(first.in_recovery, Some(false));
    let lsn = first.wal_lsn.expect("a primary has a current WAL position");
    assert_eq!(first.error, None);

    // The LSN is the server's own, and moves with writes.
    let text = server.query("SELECT pg_current_wal_lsn()").unwrap();
    let (hi, lo) = text.split_once('/').expect("lsn text");
    let server_lsn =
        (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    assert!(server_lsn >= lsn);
    server
        .query("CREATE TABLE t AS SELECT generate_series(1, 1000) AS n")
        .unwrap();
    let later = rt.block_on(probe.check(TIMEOUT));
    assert!(later.wal_lsn.expect("lsn") > lsn);
    assert_eq!(later.slot, None, "no replication slot yet");

    // A slot that reserved WAL shows with what it keeps back.
    server
        .query("SELECT pg_create_physical_replication_slot('b', true)")
        .unwrap();
    server
        .query("CREATE TABLE t2 AS SELECT generate_series(1, 1000) AS n")
        .unwrap();
    let slot = rt.block_on(probe.check(TIMEOUT)).slot.expect("the slot");
    assert_eq!(slot.name, "b");
    assert!(!slot.active);
    assert!(slot.retained_bytes > 0, "{slot:?}");

    for _ in 0..10 {
        assert!(rt.block_on(probe.check(TIMEOUT)).healthy());
    }
    assert_eq!(
        probe.connects(),
        1,
        "the probe keeps one connection between checks"
    );
    let sessions = server
        .query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tb-local-primary'")
        .unwrap();
    assert_eq!(sessions, "1");
}

#[test]
fn unix_socket_directory_works_as_host() {
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = LocalDbProbe::new(target(&server, "tb-local-socket", true));
    let sample = rt.block_on(probe.check(TIMEOUT));
    assert!(sample.healthy(), "{sample:?}");
    assert_eq!(sample.in_recovery, Some(false));
}

#[test]
fn hot_standby_is_in_recovery_with_a_received_lsn() {
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, true).expect("a hot standby");
    let rt = runtime();
    let mut probe = LocalDbProbe::new(target(&standby, "tb-local-standby", false));
    let sample = rt.block_on(probe.check(TIMEOUT));
    assert!(sample.healthy(), "{sample:?}\n{}", standby.log());
    assert_eq!(sample.in_recovery, Some(true));
    assert!(sample.wal_lsn.expect("a standby reports a WAL position") > 0);
}

#[test]
fn a_primary_reads_its_watched_standby_streaming_then_synchronous_once_named() {
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, true).expect("a hot standby");
    let rt = runtime();
    // A `pg_basebackup -R` standby without cluster_name connects as "walreceiver".
    let mut probe =
        LocalDbProbe::new(target(&primary, "tb-local-sync", false)).watching_standby("walreceiver");
    let mut streaming = probe_until(&rt, &mut probe, |s| s.standby.streaming);
    assert!(
        !streaming.standby.named && !streaming.standby.synchronous,
        "{streaming:?}"
    );
    assert_eq!(streaming.sync_names.as_deref(), Some(""));
    let names = crate::actions::sync_standby::names_for("walreceiver");
    primary
        .query(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '{names}'"
        ))
        .unwrap();
    primary.query("SELECT pg_reload_conf()").unwrap();
    streaming = probe_until(&rt, &mut probe, |s| s.standby.synchronous);
    assert!(streaming.standby.named, "{streaming:?}");
    // A standby not watched reads as none; a replica reads no standby.
    let mut other = LocalDbProbe::new(target(&primary, "tb-local-sync2", false));
    assert_eq!(
        rt.block_on(other.check(TIMEOUT)).standby,
        StandbyReading::NONE
    );
    let mut on_standby = LocalDbProbe::new(target(&standby, "tb-local-sync3", false))
        .watching_standby("walreceiver");
    assert_eq!(
        rt.block_on(on_standby.check(TIMEOUT)).standby,
        StandbyReading::NONE
    );
}

/// Checks until `done` holds (bounded: 10 s).
fn probe_until(
    rt: &tokio::runtime::Runtime,
    probe: &mut LocalDbProbe,
    done: impl Fn(&LocalDbSample) -> bool,
) -> LocalDbSample {
    for _ in 0..200 {
        let s = rt.block_on(probe.check(TIMEOUT));
        if done(&s) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the probe never saw it: {:?}",
        rt.block_on(probe.check(TIMEOUT))
    );
}

#[test]
fn stopped_server_gives_no_response_and_a_restart_is_seen() {
    let mut server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = LocalDbProbe::new(target(&server, "tb-local-stop", false));
    assert!(rt.block_on(probe.check(TIMEOUT)).healthy());

    server.stop().expect("stop");
    let sample = rt.block_on(probe.check(TIMEOUT));
    assert!(
        matches!(sample.readiness, Readiness::NoResponse { .. }),
        "{sample:?}"
    );
    assert!(!sample.select_ok);
    assert!(!sample.healthy());

    server.start().expect("start");
    server.wait_status(&["ready"]).expect("ready");
    let sample = rt.block_on(probe.check(TIMEOUT));
    assert!(sample.healthy(), "reconnects after a restart: {sample:?}");
}

#[test]
fn standby_without_hot_standby_rejects_with_57p03() {
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, false).expect("a standby");
    let rt = runtime();
    let mut probe = LocalDbProbe::new(target(&standby, "tb-local-starting", false));
    let sample = rt.block_on(probe.check(TIMEOUT));
    match &sample.readiness {
        Readiness::Rejecting { message } => {
            assert!(
                message.contains("not accepting connections") || message.contains("starting up"),
                "{message}"
            )
        }
        other => panic!("expected Rejecting, got {other:?}\n{}", standby.log()),
    }
    assert!(!sample.healthy());
    assert_eq!(sample.in_recovery, None);
}

#[test]
fn hung_server_times_out_with_and_without_an_open_connection() {
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut kept = LocalDbProbe::new(target(&server, "tb-local-hung", false));
    assert!(rt.block_on(kept.check(TIMEOUT)).healthy());

    server.freeze();
    let short = Duration::from_millis(300);
    // An open connection: the query never answers.
    let sample = rt.block_on(kept.check(short));
    assert!(
        matches!(sample.readiness, Readiness::NoResponse { .. }),
        "{sample:?}"
    );
    // A new connection: TCP completes (the kernel accepts), the startup never answers.
    let mut fresh = LocalDbProbe::new(target(&server, "tb-local-hung2", false));
    let sample = rt.block_on(fresh.check(short));
    assert!(
        matches!(sample.readiness, Readiness::NoResponse { .. }),
        "{sample:?}"
    );
    assert!(!sample.healthy());

    server.thaw();
    let sample = rt.block_on(kept.check(TIMEOUT));
    assert!(
        sample.healthy(),
        "recovers once the server runs again: {sample:?}"
    );
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

#[test]
fn primary_row_is_healthy_with_its_lsn() {
    let sample = sample_from_row(&row(&[Some("1"), Some("f"), Some("0/3000148")]), None);
    assert!(sample.healthy());
    assert_eq!(sample.in_recovery, Some(false));
    assert_eq!(sample.wal_lsn, Some(0x0300_0148));
    assert_eq!(sample.error, None);
}

#[test]
fn standby_without_any_lsn_is_healthy_but_says_why_lsn_is_missing() {
    let sample = sample_from_row(&row(&[Some("1"), Some("t"), None]), None);
    assert!(sample.healthy());
    assert_eq!(sample.in_recovery, Some(true));
    assert_eq!(sample.wal_lsn, None);
    assert!(sample.error.is_some());
}

#[test]
fn empty_row_is_not_select_ok() {
    let sample = sample_from_row(&[], None);
    assert!(!sample.select_ok);
    assert!(!sample.healthy());
}

#[test]
fn a_slot_column_is_read_or_refused_whole() {
    let slot = SlotReading::parse("node_b true 4096").expect("valid");
    assert_eq!(
        slot,
        SlotReading {
            name: "node_b".into(),
            active: true,
            retained_bytes: 4096
        }
    );
    assert!(SlotReading::parse("node_b maybe 1").is_none());
    assert!(SlotReading::parse("node_b true").is_none());
    assert!(SlotReading::parse("").is_none());
}
