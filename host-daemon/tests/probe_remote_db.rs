//! The remote DB probe against a real PostgreSQL 15: one persistent connection
//! for many probes, down when the server stops or hangs, up again after.

mod support;

use std::time::Duration;

use support::pg::PgServer;
use twinbeat::probe::remote_db::{RemoteDbFailure, RemoteDbOutcome, RemoteDbProbe, Via};

const TIMEOUT: Duration = Duration::from_secs(2);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn sessions(server: &PgServer, app: &str) -> String {
    server.psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
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
    let server = PgServer::primary();
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(server.target("tb-remote-one"));
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
        assert!(
            matches!(
                outcome,
                RemoteDbOutcome::Ok {
                    via: Via::Query,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
    let counters = probe.counters();
    assert_eq!(counters.connects, 1, "{counters:?}");
    assert_eq!(counters.connect_probes, 1, "{counters:?}");
    assert_eq!(counters.queries, 300, "{counters:?}");
    assert_eq!(sessions(&server, "tb-remote-one"), "1");
}

#[test]
fn stopped_server_is_down_and_a_restart_brings_it_back() {
    let mut server = PgServer::primary();
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(server.target("tb-remote-stop"));
    assert!(rt.block_on(probe.attempt(TIMEOUT)).is_ok());
    assert!(probe.is_connected());

    server.stop();
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

    server.start();
    server.wait_status(&["ready"]);
    until_ok(&rt, &mut probe);
    assert!(probe.is_connected());
    let outcome = rt.block_on(probe.attempt(TIMEOUT));
    assert!(
        matches!(
            outcome,
            RemoteDbOutcome::Ok {
                via: Via::Query,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(sessions(&server, "tb-remote-stop"), "1");
}

#[test]
fn hung_server_times_out_and_recovers() {
    let mut server = PgServer::primary();
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(server.target("tb-remote-hung"));
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
    let primary = PgServer::primary();
    let standby = PgServer::standby_of(&primary, false);
    let rt = runtime();
    let mut probe = RemoteDbProbe::new(standby.target("tb-remote-reject"));
    let outcome = rt.block_on(probe.attempt(TIMEOUT));
    assert!(
        matches!(
            outcome,
            RemoteDbOutcome::Failed(RemoteDbFailure::Rejecting { .. })
        ),
        "{outcome:?}"
    );
}
