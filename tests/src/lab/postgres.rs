//! The lab's PostgreSQL pair: start, stop, crash, break, query, the VIP from the client.

use std::time::Duration;

use super::Lab;
use crate::certs::CertDir;
use crate::cmd::wait_for;
use crate::error::{LabError, Result};
use crate::netns::{Host, Node};
use crate::pg::{tls_client, tls_server, PgNode, CA};
use crate::pgq::{self, Rows, Target};

impl Lab {
    // ---------- PostgreSQL ----------

    /// Node `n`'s PostgreSQL layout.
    pub fn pg(&self, n: Node) -> &PgNode {
        &self.pg[n as usize]
    }

    pub(super) fn start_pair(&self) -> Result<()> {
        let (a, b) = (self.pg(Node::A), self.pg(Node::B));
        let certs = if self.opts.pg.tls {
            Some(self.make_certs()?)
        } else {
            None
        };
        a.initdb()?;
        a.configure(&self.topo, certs.as_ref())?;
        self.start_pg(Node::A)?;
        b.basebackup_from(a, certs.as_ref())?;
        b.configure(&self.topo, certs.as_ref())?;
        self.start_pg(Node::B)?;
        Ok(())
    }

    /// The TLS pair's certificates (`PgOptions::tls`), in `<lab>/tls`: the CA [`CA`], each
    /// node's server certificate `server-<node>` for its address, each daemon's client
    /// certificate `twinbeat-<node>` (PostgreSQL's `client_dn` `/CN=twinbeat-<node>`),
    /// and `other-ca`, a CA that signed none of them. Everything but the CAs' keys
    /// belongs to `postgres`: the server, `pg_rewind` and the WAL receiver read them.
    pub fn certs(&self) -> Result<CertDir> {
        CertDir::new(self.dir.join("tls"))
    }

    fn make_certs(&self) -> Result<CertDir> {
        let certs = self.certs()?;
        certs.ca(CA)?;
        certs.ca("other-ca")?;
        crate::pg::chown_postgres(&certs.cert(CA))?;
        for n in Node::BOTH {
            let server = tls_server(n);
            certs.leaf(&server, CA, &format!("IP:{}", self.topo.addr(n.host())))?;
            certs.give_to_postgres(&server)?;
            let client = tls_client(n);
            certs.leaf(&client, CA, &format!("DNS:{client}"))?;
            certs.give_to_postgres(&client)?;
        }
        Ok(certs)
    }

    /// Starts node `n`'s PostgreSQL (under a keeper) and waits until it answers.
    pub fn start_pg(&self, n: Node) -> Result<()> {
        let pg = self.pg(n);
        let argv = pg.postmaster_argv();
        let main = self.kept(
            &pg.files.log,
            &argv,
            &[("LC_ALL", "C")],
            &format!("postgres {n}"),
        )?;
        pg.files
            .wait_ready(n.name(), Duration::from_secs(30))
            .map_err(|e| {
                let state = if main.alive() { "running" } else { "exited" };
                LabError::Postgres {
                    node: n.to_string(),
                    message: format!("{e}; postmaster {state}; log:\n{}", pg.files.log_tail(8)),
                }
            })
    }

    /// Stops node `n`'s PostgreSQL at once (`-m immediate`, SIGKILL fallback).
    pub fn stop_pg(&self, n: Node) -> Result<()> {
        self.pg(n).stop_immediate()
    }

    /// Crashes node `n`'s PostgreSQL (SIGKILL of the postmaster). False if it was not running.
    pub fn kill_pg(&self, n: Node) -> bool {
        self.pg(n).kill()
    }

    /// Makes node `n`'s PostgreSQL unable to start (a corrupt `postgresql.conf`).
    pub fn break_pg(&self, n: Node) -> Result<()> {
        self.pg(n).break_config()
    }

    /// Undoes [`break_pg`](Self::break_pg).
    pub fn repair_pg(&self, n: Node) -> Result<()> {
        self.pg(n).repair_config()
    }

    /// Runs `sql` on node `n` over its unix socket.
    pub fn sql(&self, n: Node, sql: &str) -> Result<Rows> {
        crate::rt::block_on(pgq::query(
            &self.pg(n).socket_target(),
            sql,
            Duration::from_secs(5),
        ))
    }

    /// `pg_is_in_recovery()` on node `n`.
    pub fn is_in_recovery(&self, n: Node) -> Result<bool> {
        let rows = self.sql(n, "SELECT pg_is_in_recovery()")?;
        Ok(pgq::scalar(&rows) == Some("t"))
    }

    /// Runs `sql` through the VIP from the client namespace (TCP, the lab password).
    pub fn sql_via_vip(&self, sql: &str, timeout: Duration) -> Result<Rows> {
        let target = Target::tcp(self.topo.vip(), "vip");
        let sql = sql.to_owned();
        self.topo.in_netns(Host::Client, move || {
            crate::rt::block_on(pgq::query(&target, &sql, timeout))
        })?
    }

    /// Which node answers on the VIP from the client (by `cluster_name`); `None` if nobody.
    pub fn vip_answerer(&self, timeout: Duration) -> Option<Node> {
        let rows = self.sql_via_vip("SHOW cluster_name", timeout).ok()?;
        let name = pgq::scalar(&rows)?;
        Node::BOTH
            .into_iter()
            .find(|n| self.pg(*n).cluster_name == name)
    }

    /// Waits until a row written on `from` is visible on `to` (streaming replication works).
    pub fn check_replication(&self, from: Node, to: Node, deadline: Duration) -> Result<()> {
        let token = format!("t{}", std::process::id() ^ rand_token());
        self.sql(
            from,
            "CREATE TABLE IF NOT EXISTS lab_probe (token text PRIMARY KEY, at timestamptz DEFAULT now())",
        )?;
        self.sql(
            from,
            &format!("INSERT INTO lab_probe (token) VALUES ('{token}')"),
        )?;
        wait_for(
            &format!("row {token} to reach {to}"),
            deadline,
            Duration::from_millis(20),
            || {
                let rows = self
                    .sql(
                        to,
                        &format!("SELECT count(*) FROM lab_probe WHERE token = '{token}'"),
                    )
                    .ok()?;
                (pgq::scalar(&rows) == Some("1")).then_some(())
            },
        )
    }
}

fn rand_token() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}
