//! The lab's PostgreSQL 15 pair: primary on a, a `pg_basebackup -R` standby on b, each
//! listening in its node's namespace with its own `cluster_name`.

use std::net::Ipv4Addr;
use std::path::Path;

use nix::sys::signal::Signal;

use super::PgFiles;
use crate::certs::CertDir;
use crate::error::{io_err, Result};
use crate::netns::{Host, Node, Topology};
use crate::pgq::Target;

/// The password of the `postgres` role over TCP (the lab's own, throwaway).
pub const PASSWORD: &str = "twinbeat-lab";
/// The PostgreSQL port on both nodes.
pub const PORT: u16 = crate::faults::PG_PORT;

/// The lab's CA, in [`crate::lab::Lab::certs`].
pub const CA: &str = "ca";

/// The name of node `n`'s client certificate in [`crate::lab::Lab::certs`], which its
/// daemon, its WAL receiver and the programs of its rejoin present: PostgreSQL shows
/// it as `client_dn` `/CN=<name>`.
pub fn tls_client(n: Node) -> String {
    format!("twinbeat-{}", n.name())
}

/// The name of node `n`'s server certificate in [`crate::lab::Lab::certs`].
pub fn tls_server(n: Node) -> String {
    format!("server-{}", n.name())
}

/// A line that makes `postgresql.conf` unparsable (see [`PgNode::break_config`]).
const BREAKAGE: &str = "this line breaks the lab configuration on purpose";

/// One node's PostgreSQL: where its files are and how to reach it.
#[derive(Debug, Clone)]
pub struct PgNode {
    /// The node.
    pub node: Node,
    /// The node's namespace.
    pub ns: String,
    /// The node's lab address.
    pub addr: Ipv4Addr,
    /// Its files, in `<labdir>/<node>`.
    pub files: PgFiles,
    /// `cluster_name`, unique per lab and node (`tblab<id>-<node>`).
    pub cluster_name: String,
}

/// Options of the pair.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgOptions {
    /// How the pair replicates. twinbeat owns `synchronous_standby_names` (rule
    /// `sync-epoch`), so this is the daemons' `[replication] mode`; PostgreSQL's own
    /// files name no synchronous standby.
    pub replication: Replication,
    /// TLS between the nodes: both servers serve certificates the lab makes for their
    /// addresses and ask for a client certificate, refuse every connection from a node
    /// that is not TLS, and the daemons verify them (`sslmode = "verify-full"`) and
    /// present their own ([`crate::lab::Lab::certs`]).
    pub tls: bool,
}

/// `[replication] mode` of the lab's daemons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Replication {
    /// Asynchronous (the daemon's default).
    #[default]
    Async,
    /// Synchronous, degrading when the standby is gone.
    Sync,
    /// Synchronous, never degrading.
    Strict,
}

impl Replication {
    /// The config file's spelling.
    pub fn mode(self) -> &'static str {
        match self {
            Replication::Async => "async",
            Replication::Sync => "sync",
            Replication::Strict => "strict",
        }
    }
}

impl PgNode {
    /// The layout of `node`'s PostgreSQL in lab `dir`.
    pub fn new(topo: &Topology, dir: &Path, node: Node) -> Self {
        Self {
            node,
            ns: topo.ns(node.host()),
            addr: topo.addr(node.host()),
            files: PgFiles::new(dir.join(node.name()), PORT),
            cluster_name: format!("tblab{}-{}", topo.id, node.name()),
        }
    }

    /// Connection target over the unix socket (from the host namespace).
    pub fn socket_target(&self) -> Target {
        self.files.socket_target(self.node.name())
    }

    /// `initdb` a fresh primary with the lab password.
    pub fn initdb(&self) -> Result<()> {
        std::fs::create_dir_all(&self.files.home).map_err(io_err(&self.files.home))?;
        let pwfile = self.files.home.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).map_err(io_err(&pwfile))?;
        super::chown_postgres(&pwfile)?;
        let auth = [
            "--auth-local=trust".to_owned(),
            "--auth-host=scram-sha-256".to_owned(),
            format!("--pwfile={}", pwfile.display()),
        ];
        let done = self.files.initdb(&auth);
        let _ = std::fs::remove_file(&pwfile);
        done
    }

    /// Writes this node's settings (`lab.conf`, included from `postgresql.conf`) and
    /// pg_hba; with `tls`, the certificates of [`crate::lab::Lab::certs`] and pg_hba lines
    /// that refuse a node's connection without TLS.
    pub fn configure(&self, topo: &Topology, tls: Option<&CertDir>) -> Result<()> {
        // `restart_after_crash = off`: a crashed backend makes the postmaster exit, and
        // the daemon restarts it itself, the start guard lifted on a primary (rule
        // `start-guard`, host-daemon/docs/start-guard.md).
        let mut conf = format!(
            "# written by the twinbeat lab\n\
             listen_addresses = '*'\n\
             port = {PORT}\n\
             unix_socket_directories = '{sock}'\n\
             cluster_name = '{name}'\n\
             wal_level = replica\n\
             hot_standby = on\n\
             max_wal_senders = 5\n\
             wal_keep_size = '128MB'\n\
             max_slot_wal_keep_size = '1GB'\n\
             max_connections = 50\n\
             shared_buffers = '32MB'\n\
             fsync = off\n\
             wal_sender_timeout = '5s'\n\
             wal_receiver_status_interval = '1s'\n\
             wal_retrieve_retry_interval = '500ms'\n\
             restart_after_crash = off\n\
             wal_log_hints = on\n\
             log_line_prefix = '%m [%p] '\n",
            sock = self.files.sock_dir.display(),
            name = self.cluster_name,
        );
        let subnet = topo.subnet();
        let mut hba = "local all all trust\n\
             local replication all trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n"
            .to_owned();
        if let Some(certs) = tls {
            let server = tls_server(self.node);
            conf.push_str(&format!(
                "ssl = on\n\
                 ssl_cert_file = '{}'\n\
                 ssl_key_file = '{}'\n\
                 ssl_ca_file = '{}'\n",
                certs.cert(&server).display(),
                certs.key(&server).display(),
                certs.cert(CA).display(),
            ));
            // The client (the VIP's user) stays on plain TCP; a node never does.
            let client = topo.addr(Host::Client);
            hba.push_str(&format!(
                "host all all {client}/32 scram-sha-256\n\
                 hostnossl all all {subnet} reject\n\
                 hostnossl replication all {subnet} reject\n"
            ));
        }
        hba.push_str(&format!(
            "host all all {subnet} scram-sha-256\n\
             host replication all {subnet} scram-sha-256\n"
        ));
        self.files.configure("lab.conf", &conf)?;
        self.files.write_owned("pg_hba.conf", &hba)
    }

    /// Makes this node a streaming standby of `primary` with `pg_basebackup -R`, over the lab
    /// network from inside this node's namespace. Its WAL receiver's `application_name`
    /// is the node's name, as a rejoin's `primary_conninfo` sets it: the name
    /// `synchronous_standby_names` gives it (rule `sync-epoch`). With `tls`, it verifies
    /// the primary's certificate and presents the node's own, as its daemon does.
    pub fn basebackup_from(&self, primary: &PgNode, tls: Option<&CertDir>) -> Result<()> {
        let mut conninfo = format!("application_name={}", self.node.name());
        if let Some(certs) = tls {
            let client = tls_client(self.node);
            conninfo.push_str(&format!(
                " sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
                certs.cert(CA).display(),
                certs.cert(&client).display(),
                certs.key(&client).display()
            ));
        }
        self.files.basebackup(
            &primary.addr.to_string(),
            PORT,
            Some(&self.ns),
            Some(PASSWORD),
            Some(&conninfo),
        )
    }

    /// The command line that runs the postmaster in the foreground inside the namespace.
    pub fn postmaster_argv(&self) -> Vec<String> {
        let cmd = self.files.as_postgres("postgres", Some(&self.ns));
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .chain(["-D".as_ref(), self.files.data.as_os_str()])
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    /// The postmaster's PID, if it is running.
    pub fn postmaster_pid(&self) -> Option<i32> {
        self.files.postmaster_pid()
    }

    /// Stops PostgreSQL at once (see [`PgFiles::stop_immediate`]).
    pub fn stop_immediate(&self) -> Result<()> {
        self.files.stop_immediate(&format!("on {}", self.node))
    }

    /// Crashes PostgreSQL: SIGKILL of the postmaster only.
    pub fn kill(&self) -> bool {
        self.files.kill()
    }

    /// Sends `sig` (SIGSTOP / SIGCONT) to the postmaster and all its children.
    pub fn signal_all(&self, sig: Signal) -> usize {
        self.files.signal_all(sig)
    }

    /// Makes `postgresql.conf` unparsable, so PostgreSQL cannot start again.
    pub fn break_config(&self) -> Result<()> {
        let text = self.main_conf()?;
        if !text.contains(BREAKAGE) {
            self.files
                .write_owned("postgresql.conf", &format!("{text}\n{BREAKAGE}\n"))?;
        }
        Ok(())
    }

    /// Undoes [`break_config`](Self::break_config).
    pub fn repair_config(&self) -> Result<()> {
        let fixed: String = self
            .main_conf()?
            .lines()
            .filter(|l| *l != BREAKAGE)
            .map(|l| format!("{l}\n"))
            .collect();
        self.files.write_owned("postgresql.conf", &fixed)
    }

    fn main_conf(&self) -> Result<String> {
        let path = self.files.data.join("postgresql.conf");
        std::fs::read_to_string(&path).map_err(io_err(&path))
    }
}
