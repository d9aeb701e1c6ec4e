//! Promotion of a real streaming standby (PostgreSQL 15, `pg_basebackup -R`).

use std::time::Duration;

use twinbeat_lab::netns::free_local_port;
use twinbeat_lab::pg::{self, Launch, PgServer};

use super::{promote, promote_with_config, PromoteOptions};
use crate::actions::postmaster;

#[tokio::test(flavor = "current_thread")]
async fn promotes_a_streaming_standby_which_then_accepts_writes() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is required (apt-get install postgresql-15)"
    );
    let _ = postmaster::become_subreaper();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    primary
        .query_text("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    // The standby is in recovery and refuses writes.
    assert_eq!(
        standby
            .query_text("SELECT pg_is_in_recovery()")
            .await
            .unwrap(),
        "t"
    );
    assert!(standby
        .query_text("INSERT INTO t VALUES (2)")
        .await
        .is_err());

    // The primary is gone (as in a failover), then the standby is promoted.
    drop(primary);
    let (client, conn) = standby
        .tcp_config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    let report = promote(&client, PromoteOptions::default(), None)
        .await
        .unwrap();
    assert!(!report.already_primary);
    println!(
        "promote: pg_promote(wait => false) -> writable in {:?} ({} polls, {} requests)",
        report.request_to_writable, report.polls, report.requests
    );
    client
        .execute("INSERT INTO t VALUES (2)", &[])
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    drop(client);
    let _ = task.await;

    // Promoting again is an idempotent success (the "finish" branch of rule `promotion-order`).
    let again = promote_with_config(&standby.tcp_config(), PromoteOptions::default(), None)
        .await
        .unwrap();
    assert!(again.already_primary);

    // Nobody listening: a bounded, clear error.
    let mut dead = standby.tcp_config();
    dead.port(free_local_port())
        .connect_timeout(Duration::from_millis(500));
    assert!(promote_with_config(&dead, PromoteOptions::default(), None)
        .await
        .is_err());
}

/// Rule `remote-db-reads-role`: the term is published before `pg_promote` (ALTER
/// SYSTEM in recovery, a reload), and the peer's remote DB probe, on the connection it
/// held from before, reads the role, the term and the new timeline.
#[tokio::test(flavor = "current_thread")]
async fn the_promoted_standby_publishes_its_term_and_timeline_to_the_peer() {
    use crate::probe::lab_target::target;
    use crate::probe::remote_db::{RemoteDbOutcome, RemoteDbProbe, Via};

    let _ = postmaster::become_subreaper();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    let mut probe = RemoteDbProbe::new(target(&standby, "tb-peer-reading", false));
    let read = |outcome: RemoteDbOutcome| match outcome {
        RemoteDbOutcome::Ok {
            via: Via::Query(reading),
            ..
        } => Some(reading),
        _ => None,
    };
    let mut before = None;
    for _ in 0..100 {
        before = read(probe.attempt(Duration::from_secs(2)).await);
        if before.is_some() {
            break;
        }
    }
    let before = before.expect("a reading of the standby");
    assert!(before.in_recovery);
    assert_eq!(
        before.term, None,
        "a standby that never promoted published none"
    );
    assert_eq!(before.timeline, 1);

    drop(primary);
    let opts = PromoteOptions {
        term: 5,
        ..PromoteOptions::default()
    };
    promote_with_config(&standby.tcp_config(), opts, None)
        .await
        .expect("promoted");
    let after = read(probe.attempt(Duration::from_secs(2)).await).expect("a reading");
    assert!(!after.in_recovery);
    assert_eq!(
        after.term,
        Some(5),
        "published before pg_promote, read back"
    );
    assert_eq!(after.timeline, 2, "a promotion starts the next timeline");
    assert!(
        probe.counters().connects == 1,
        "the same connection throughout"
    );
}

/// A failure after `pg_promote` was sent says so: the engine must not abandon it.
#[tokio::test(flavor = "current_thread")]
async fn a_failure_before_the_request_says_pg_promote_was_not_sent() {
    let mut dead = tokio_postgres::Config::new();
    dead.host("127.0.0.1")
        .port(free_local_port())
        .user("postgres")
        .connect_timeout(Duration::from_millis(300));
    let failure = promote_with_config(&dead, PromoteOptions::default(), None)
        .await
        .expect_err("nobody listens");
    assert!(!failure.requested, "{failure}");
}
