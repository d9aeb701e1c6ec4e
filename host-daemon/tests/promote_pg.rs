//! Promotion of a real streaming standby (PostgreSQL 15, `pg_basebackup -R`).

mod actions_support;

use std::time::Duration;

use actions_support::{have_pg, PgBase, PgCluster};
use twinbeat::actions::promote::{promote, promote_with_config, PromoteOptions};

#[tokio::test(flavor = "current_thread")]
async fn promotes_a_streaming_standby_which_then_accepts_writes() {
    assert!(
        have_pg(),
        "PostgreSQL 15 is required (apt-get install postgresql-15)"
    );
    let _ = twinbeat::actions::postmaster::become_subreaper();
    let base = PgBase::new();
    let primary = PgCluster::primary(&base, "primary");
    primary
        .query_text("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let standby = PgCluster::standby(&base, "standby", &primary);
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
        .conn_config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    let report = promote(&client, PromoteOptions::default()).await.unwrap();
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

    // Promoting again is an idempotent success (the "finish" branch of rule 10).
    let again = promote_with_config(&standby.conn_config(), PromoteOptions::default())
        .await
        .unwrap();
    assert!(again.already_primary);

    // Nobody listening: a bounded, clear error.
    let mut dead = standby.conn_config();
    dead.port(actions_support::free_port())
        .connect_timeout(Duration::from_millis(500));
    assert!(promote_with_config(&dead, PromoteOptions::default())
        .await
        .is_err());
}
