//! The remote DB probe against a real PostgreSQL 15: one persistent connection
//! for many probes, down when the server stops or hangs, up again after.

use std::time::Duration;

use twinbeat_lab::pg::{Launch, PgServer};
use twinbeat_lab::rt::runtime;

use super::{RemoteDbFailure, RemoteDbOutcome, RemoteDbProbe, Via};
use crate::actions::publish::publish_with_config;
use crate::probe::lab_target::target;

const TIMEOUT: Duration = Duration::from_secs(2);

fn sessions(server: &PgServer, app: &str) -> String {
    server
        .query(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .unwrap()
}

/// An attempt that succeeded on the persistent connection.
fn assert_ok_by_query(outcome: &RemoteDbOutcome) {
    assert!(
        matches!(
            outcome,
            RemoteDbOutcome::Ok {
                via: Via::Query(_),
                ..
            }
        ),
        "{outcome:?}"
    );
}

/// Runs attempts until one succeeds; the bound only guards against a hang.
fn until_ok(rt: &tokio::runtime::Runtime, probe: &mut RemoteDbProbe) -> RemoteDbOutcome {
    for _ in 0..200 {
        let outcome = rt.block_on(probe.attempt(TIMEOUT));
        if outcome.is_ok() {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the probe never came back up");
}

#[test]
fn many_probes_share_one_connection() {
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(target(&server, "tb-remote-one", false));
    let first = rt.block_on(probe.attempt(TIMEOUT));
    assert!(
        matches!(
            first,
            RemoteDbOutcome::Ok {
                via: Via::ConnectProbe,
                ..
            }
        ),
        "{first:?}"
    );
    for _ in 0..300 {
        let outcome = rt.block_on(probe.attempt(TIMEOUT));
        assert_ok_by_query(&outcome);
    }
    let counters = probe.counters();
    assert_eq!(counters.connects, 1, "{counters:?}");
    assert_eq!(counters.connect_probes, 1, "{counters:?}");
    assert_eq!(counters.queries, 300, "{counters:?}");
    assert_eq!(sessions(&server, "tb-remote-one"), "1");
}

#[test]
fn stopped_server_is_down_and_a_restart_brings_it_back() {
    let mut server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(target(&server, "tb-remote-stop", false));
    assert!(rt.block_on(probe.attempt(TIMEOUT)).is_ok());
    assert!(probe.is_connected());

    server.stop().expect("stop");
    // The first attempt finds the persistent connection broken, the next ones
    // are connect probes that find nobody listening.
    for _ in 0..5 {
        let outcome = rt.block_on(probe.attempt(TIMEOUT));
        assert!(
            matches!(
                outcome,
                RemoteDbOutcome::Failed(
                    RemoteDbFailure::QueryFailed { .. } | RemoteDbFailure::NoResponse { .. }
                )
            ),
            "{outcome:?}"
        );
    }
    assert!(!probe.is_connected());

    server.start().expect("start");
    server.wait_status(&["ready"]).expect("ready");
    until_ok(&rt, &mut probe);
    assert!(probe.is_connected());
    let outcome = rt.block_on(probe.attempt(TIMEOUT));
    assert_ok_by_query(&outcome);
    assert_eq!(sessions(&server, "tb-remote-stop"), "1");
}

#[test]
fn hung_server_times_out_and_recovers() {
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(target(&server, "tb-remote-hung", false));
    assert!(rt.block_on(probe.attempt(TIMEOUT)).is_ok());

    server.freeze();
    let short = Duration::from_millis(200);
    for _ in 0..3 {
        let outcome = rt.block_on(probe.attempt(short));
        assert_eq!(outcome, RemoteDbOutcome::Failed(RemoteDbFailure::Timeout));
    }
    server.thaw();
    until_ok(&rt, &mut probe);
}

#[test]
fn rejecting_standby_fails_with_its_message() {
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, false).expect("a standby");
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(target(&standby, "tb-remote-reject", false));
    let outcome = rt.block_on(probe.attempt(TIMEOUT));
    assert!(
        matches!(
            outcome,
            RemoteDbOutcome::Failed(RemoteDbFailure::Rejecting { .. })
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_standby_publishes_its_handover_stage_and_the_probe_reads_it() {
    // Rule `fence-handshake` over the remote DB path: the standby, in recovery, answers
    // by publishing; the master's probe reads it on the same query as the role.
    use twinbeat_core::{Published, Stage, TakeoverVerdict};
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, true).expect("a standby");
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(target(&standby, "tb-remote-published", false));
    let read = |rt: &tokio::runtime::Runtime, probe: &mut RemoteDbProbe| loop {
        if let RemoteDbOutcome::Ok {
            via: Via::Query(r), ..
        } = until_ok(rt, probe)
        {
            return r;
        }
    };
    let before = read(&rt, &mut probe);
    assert!(
        before.in_recovery && before.published.is_none(),
        "{before:?}"
    );

    let answer = Published {
        stage: Stage::Answer(TakeoverVerdict::Ready),
        term: 2,
        lsn: 0x0300_0148,
    };
    let text = crate::probe::published::format(&answer);
    let publish = |value: Option<&str>| {
        let poll = Duration::from_millis(2);
        let config = standby.tcp_config();
        rt.block_on(publish_with_config(
            &config,
            "twinbeat.handover",
            value,
            poll,
        ))
        .unwrap();
    };
    publish(Some(&text));
    let after = read(&rt, &mut probe);
    assert!(
        after.in_recovery,
        "publishing keeps it in recovery: {after:?}"
    );
    assert_eq!(after.published, Some(answer));
    assert!(
        after.wal_lsn > 0,
        "a streaming standby's received WAL: {after:?}"
    );

    publish(None);
    let withdrawn = read(&rt, &mut probe);
    assert_eq!(withdrawn.published, None);
}

#[test]
fn each_side_publishes_its_sync_epoch_setting_and_the_other_reads_it() {
    // Rule `sync-epoch` over the remote DB paths: the primary publishes its epoch in
    // its own PostgreSQL, the standby (in recovery) its acknowledgement in its own;
    // each probe reads both settings on the same query as the role.
    use crate::probe::published::{format_epoch, SYNC_ACK, SYNC_EPOCH};
    use twinbeat_core::{PublishedEpoch, SyncEpoch};
    let primary = PgServer::primary(Launch::Child).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::Child, true).expect("a standby");
    let rt = runtime();
    let read = |rt: &tokio::runtime::Runtime, probe: &mut RemoteDbProbe| loop {
        if let RemoteDbOutcome::Ok {
            via: Via::Query(r), ..
        } = until_ok(rt, probe)
        {
            return r;
        }
    };
    let epoch = PublishedEpoch {
        term: 4,
        run: 0xdead_beef_0123_4567,
        epoch: SyncEpoch {
            synchronous: false,
            since_lsn: 0x0300_0148,
        },
    };
    let publish = |server: &PgServer, setting: &'static str| {
        let config = server.tcp_config();
        let text = format_epoch(&epoch);
        rt.block_on(publish_with_config(
            &config,
            setting,
            Some(&text),
            Duration::from_millis(2),
        ))
        .unwrap();
    };
    let mut of_primary = RemoteDbProbe::new(target(&primary, "tb-remote-sync-epoch", false));
    let before = read(&rt, &mut of_primary);
    assert_eq!((before.sync_epoch, before.sync_ack), (None, None));
    publish(&primary, SYNC_EPOCH);
    let after = read(&rt, &mut of_primary);
    assert!(!after.in_recovery);
    assert_eq!((after.sync_epoch, after.sync_ack), (Some(epoch), None));

    let mut of_standby = RemoteDbProbe::new(target(&standby, "tb-remote-sync-ack", false));
    publish(&standby, SYNC_ACK);
    let acked = read(&rt, &mut of_standby);
    assert!(acked.in_recovery, "publishing keeps it in recovery");
    assert_eq!(acked.sync_ack, Some(epoch));
}
