//! `synchronous_standby_names` on real PostgreSQL 15 servers (rule `sync-epoch`): set,
//! read back and cleared on the held connection; a commit waiting on a standby that is
//! gone is released by clearing them; a promotion replaces names a standby inherited.

use std::time::Duration;

use tokio::time::Instant;
use twinbeat_lab::pg::{self, Launch, PgServer};

use super::{names_for, value_for, SyncConnection};
use crate::actions::postmaster;
use crate::actions::promote::{promote_with_config, PromoteOptions};

fn servers_needed() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is required (apt-get install postgresql-15)"
    );
    let _ = postmaster::become_subreaper();
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[test]
fn the_names_quote_the_standby_as_one_synchronous_standby() {
    assert_eq!(names_for("b"), "FIRST 1 (\"b\")");
    assert_eq!(
        value_for("db-2.example", true),
        "FIRST 1 (\"db-2.example\")"
    );
    assert_eq!(value_for("b", false), "");
}

#[tokio::test(flavor = "current_thread")]
async fn the_names_are_set_read_back_and_cleared_on_the_held_connection() {
    servers_needed();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let mut conn = SyncConnection::new(primary.tcp_config());
    conn.ensure_open(soon())
        .await
        .expect("connects ahead of need");
    conn.set(&names_for("b"), soon()).await.expect("names b");
    assert_eq!(
        primary
            .query_text("SHOW synchronous_standby_names")
            .await
            .unwrap(),
        "FIRST 1 (\"b\")",
        "a new session sees it: the reload reached the server"
    );
    conn.set("", soon()).await.expect("clears");
    assert_eq!(
        primary
            .query_text("SHOW synchronous_standby_names")
            .await
            .unwrap(),
        ""
    );
    // Written to postgresql.auto.conf: a restart keeps it.
    let auto = std::fs::read_to_string(primary.data().join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("synchronous_standby_names = ''"), "{auto}");
}

#[tokio::test(flavor = "current_thread")]
async fn clearing_the_names_releases_a_commit_waiting_on_a_standby_that_is_gone() {
    servers_needed();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    primary.query_text("CREATE TABLE t (x int)").await.unwrap();
    let mut conn = SyncConnection::new(primary.tcp_config());
    conn.set(&names_for("gone"), soon())
        .await
        .expect("names a standby that never connects");
    let (client, task) = {
        let (c, k) = primary
            .tcp_config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        (c, tokio::spawn(k))
    };
    let insert = tokio::spawn(async move {
        let r = client.execute("INSERT INTO t VALUES (1)", &[]).await;
        (r, client)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !insert.is_finished(),
        "the commit waits for the named standby"
    );
    let started = std::time::Instant::now();
    conn.set("", soon()).await.expect("clears");
    let (done, _client) = tokio::time::timeout(Duration::from_secs(5), insert)
        .await
        .expect("released once the names are cleared")
        .unwrap();
    done.expect("the commit succeeds");
    println!(
        "waiting commit released {:?} after the change began",
        started.elapsed()
    );
    assert_eq!(
        primary.query_text("SELECT count(*) FROM t").await.unwrap(),
        "1"
    );
    task.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn a_promotion_replaces_names_the_standby_inherited() {
    servers_needed();
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    primary.query_text("CREATE TABLE t (x int)").await.unwrap();
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    // As `pg_rewind` or `pg_basebackup` copy postgresql.auto.conf: the standby's own
    // file names a synchronous standby, here one that will never connect to it.
    let mut on_standby = SyncConnection::new(standby.tcp_config());
    on_standby
        .set(&names_for("itself"), soon())
        .await
        .expect("ALTER SYSTEM works in recovery");
    drop(primary);
    let report = promote_with_config(&standby.tcp_config(), PromoteOptions::default(), Some(""))
        .await
        .expect("promoted, names cleared");
    assert!(!report.already_primary);
    let commit = tokio::time::timeout(
        Duration::from_secs(5),
        standby.query_text("INSERT INTO t VALUES (1)"),
    )
    .await
    .expect("a commit on the new primary does not wait for a standby");
    commit.unwrap();
}
