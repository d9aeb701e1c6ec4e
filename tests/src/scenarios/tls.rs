//! The pair with TLS between the nodes, as a careful operator sets it up: each server
//! serves a certificate for its address and refuses a node's connection without TLS;
//! each daemon verifies the peer's certificate (`sslmode = "verify-full"`), presents
//! its own, and keeps its password in its configuration file. A failover and the old
//! master's rejoin then run over TLS, and the password shows nowhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{cluster_with, log_lines, Ctx, Outcome};
use crate::error::Result;
use crate::lab::{Lab, LabOptions};
use crate::netns::Node;
use crate::pg::{tls_client, PgOptions, CA, PASSWORD};

/// How long a stopped daemon gets to exit before SIGKILL.
const DAEMON_GRACE: Duration = Duration::from_secs(10);

/// Bound of one `twinbeat` command (`diagnose` waits for the serial path's answers).
const COMMAND_BOUND: Duration = Duration::from_secs(60);

/// `pg_stat_ssl`'s `ssl` and `client_dn` of the sessions on node `on` that `filter`
/// (a condition on `a`, `pg_stat_activity`) picks, one `ssl:client_dn` text each.
fn tls_sessions(lab: &Lab, on: Node, filter: &str) -> Vec<String> {
    let sql = format!(
        "SELECT s.ssl, coalesce(s.client_dn, '') FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE {filter}"
    );
    lab.sql(on, &sql)
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let col = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                    format!("{}:{}", col(0), col(1))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until every session `filter` picks on `on` is TLS with `client`'s certificate.
fn over_tls_as(lab: &Lab, on: Node, filter: &str, client: &str) -> Option<Vec<String>> {
    let want = format!("t:/CN={client}");
    crate::cmd::poll(Duration::from_secs(15), || {
        let seen = tls_sessions(lab, on, filter);
        (!seen.is_empty() && seen.iter().all(|s| *s == want)).then_some(seen)
    })
}

/// Scenario 48: the TLS pair (`verify-full`, client certificates, the password in the
/// configuration file) fails over and rejoins; every connection between the nodes is
/// TLS, `diagnose` names it and names a CA that did not sign the peer's certificate,
/// and no log, status or `check-config` output shows the password.
pub fn s48_tls_failover_and_rejoin(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "48 TLS between the nodes (verify-full): failover and rejoin",
        "each daemon reads its peer over TLS with its own certificate; b promotes, a rejoins and streams over TLS; the password appears nowhere",
    );
    let (lab, sampler) = cluster_with(
        ctx,
        LabOptions {
            pg: PgOptions {
                tls: true,
                ..PgOptions::default()
            },
            auto_rejoin: true,
            ..LabOptions::new(&ctx.lab_exe)
        },
    )?;
    for n in Node::BOTH {
        let reader = tls_client(n.peer());
        let seen = over_tls_as(&lab, n, "a.application_name = 'twinbeat-remote'", &reader);
        out.check(
            seen.is_some(),
            format!(
                "{}'s daemon reads {n}'s PostgreSQL over TLS with its certificate ({:?})",
                n.peer(),
                tls_sessions(&lab, n, "a.application_name = 'twinbeat-remote'")
            ),
        );
    }
    let (code, report) = lab.diagnose(Node::A, &[], COMMAND_BOUND)?;
    let peer_db = report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["check"] == "db.peer"))
        .cloned()
        .unwrap_or_default();
    out.check(
        peer_db["verdict"] == "ok"
            && peer_db["found"]
                .as_str()
                .is_some_and(|f| f.contains(" over TLS") && f.contains("verify-full")),
        format!("diagnose on a (exit {code:?}): db.peer names TLS and verify-full: {peer_db}"),
    );
    let other_ca = other_ca_config(&lab)?;
    let (_, said) = lab.operator_with(Node::A, &other_ca, &["diagnose"], COMMAND_BOUND)?;
    out.check(
        said.contains("certificate does not verify: no CA in peer.sslrootcert signed it"),
        "diagnose with another CA says the peer's certificate does not verify",
    );
    out.check(
        log_lines(&lab, Node::A, &["refuses this node"]).is_empty()
            && log_lines(&lab, Node::B, &["refuses this node"]).is_empty(),
        "neither daemon logged a refusal",
    );

    super::rejoin::die_then_rejoin_by_itself(ctx, &lab, &sampler, &mut out)?;
    super::rejoin::check_rejoined(&lab, &sampler, &mut out);
    let wal = over_tls_as(
        &lab,
        Node::B,
        "a.pid IN (SELECT pid FROM pg_stat_replication WHERE application_name = 'a')",
        &tls_client(Node::A),
    );
    out.check(
        wal.is_some(),
        "b streams to a over TLS, with a's certificate (its primary_conninfo from the rejoin)",
    );

    wrong_ca_is_no_dead_peer(&lab, &mut out, &other_ca)?;
    check_no_password(&lab, &mut out, &said)?;
    Ok(out.finish(sampler, false))
}

/// a's daemon restarted with a CA that did not sign b's certificate: it logs why in
/// words, and its remote DB path stays up (b's server answers), so it stays b's
/// standby (rule `remote-db-reads-role`). Then a's own configuration again.
fn wrong_ca_is_no_dead_peer(lab: &Lab, out: &mut Outcome, other_ca: &Path) -> Result<()> {
    let config = lab.daemon_config(Node::A);
    let ours = std::fs::read_to_string(&config).map_err(crate::error::io_err(&config))?;
    let theirs = std::fs::read_to_string(other_ca).map_err(crate::error::io_err(other_ca))?;
    let from = super::log_len(lab, Node::A);
    lab.stop_daemon(Node::A, DAEMON_GRACE);
    crate::daemon::write_private(&config, &theirs)?;
    lab.start_daemon(Node::A)?;
    let warned = crate::cmd::poll(Duration::from_secs(15), || {
        super::log_lines_from(lab, Node::A, from, &["certificate does not verify"])
            .into_iter()
            .next()
    });
    out.check(
        warned
            .as_deref()
            .is_some_and(|l| l.contains("WARN") && l.contains("no CA in peer.sslrootcert")),
        format!("a's daemon with another CA warns in words ({warned:?})"),
    );
    let up = crate::cmd::poll(Duration::from_secs(10), || {
        let s = lab.daemon_status(Node::A).ok()?;
        let remote = s["paths"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == "remote_db")?
            .clone();
        (remote["state"] == "up" && s["role"] == "standby").then_some(())
    });
    out.check(
        up.is_some(),
        "its remote DB path stays up and it stays a standby: a refusing server is no dead peer",
    );
    lab.stop_daemon(Node::A, DAEMON_GRACE);
    crate::daemon::write_private(&config, &ours)?;
    lab.start_daemon(Node::A)?;
    Ok(())
}

/// A copy of a's configuration whose `sslrootcert` is `other-ca`, a CA that signed
/// nothing of the lab's.
fn other_ca_config(lab: &Lab) -> Result<PathBuf> {
    let config = lab.daemon_config(Node::A);
    let text = std::fs::read_to_string(&config).map_err(crate::error::io_err(&config))?;
    let certs = lab.certs()?;
    let (ours, other) = (certs.cert(CA), certs.cert("other-ca"));
    let changed = text.replace(&ours.display().to_string(), &other.display().to_string());
    let path = lab.dir.join("a").join("twinbeat-other-ca.toml");
    crate::daemon::write_private(&path, &changed)?;
    Ok(path)
}

/// The password is in both configuration files (check-config shows it redacted), and in
/// none of the daemons' logs, status pages, `twinbeat status`, `check-config` or
/// `diagnose` output (`diagnosed` is one).
fn check_no_password(lab: &Lab, out: &mut Outcome, diagnosed: &str) -> Result<()> {
    let mut texts = vec![("diagnose on a".to_owned(), diagnosed.to_owned())];
    for n in Node::BOTH {
        let log = lab.daemon_log(n);
        texts.push((
            format!("{n}'s log"),
            std::fs::read_to_string(&log).map_err(crate::error::io_err(&log))?,
        ));
        let (_, status) = lab.operator(n, &["status"], COMMAND_BOUND)?;
        texts.push((format!("twinbeat status on {n}"), status));
        let page = lab.daemon_status(n)?;
        texts.push((format!("{n}'s /status"), page.to_string()));
        let (_, shown) = lab.operator(n, &["check-config"], COMMAND_BOUND)?;
        out.check(
            shown.contains("password = \"<redacted>\""),
            format!("check-config on {n} shows the password redacted"),
        );
        texts.push((format!("check-config on {n}"), shown));
    }
    let showing: Vec<&str> = texts
        .iter()
        .filter(|(_, text)| text.contains(PASSWORD))
        .map(|(what, _)| what.as_str())
        .collect();
    out.check(
        showing.is_empty(),
        format!("no output shows the password (shown by: {showing:?})"),
    );
    Ok(())
}
