//! [`Lab`]: one running lab instance, and the guard that removes all of it — processes by
//! PID, namespaces, the lab directory — when it is dropped, also when a test panics.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::cmd::have;
use crate::daemon::Profile;
use crate::error::{io_err, LabError, Result};
use crate::faults::{self, Fault};
use crate::keeper::{spawn_kept, Kept};
use crate::netns::{IfaceState, Node, Topology};
use crate::pg::{PgNode, PgOptions, PG_BIN};
use crate::procs::ProcId;
use crate::relay::RelayCtl;
use crate::sampler::Sampler;
use crate::state::{self, LabState};

mod bridge;
mod daemons;
mod postgres;
mod teardown;

pub use bridge::{firmware_elf, BridgeCable, ELF_VAR};

/// How a lab is built.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The `lab` executable (runs the keeper and the relay): `env!("CARGO_BIN_EXE_lab")` in
    /// tests, the current executable in the `lab` binary.
    pub lab_exe: PathBuf,
    /// Start the PostgreSQL pair (a primary, b standby).
    pub postgres: bool,
    /// PostgreSQL options.
    pub pg: PgOptions,
    /// Start the serial relay.
    pub relay: bool,
    /// Run the serial cable through the bridge firmware in QEMU instead of the relay
    /// (`relay` is then ignored; the daemons get `checks.serial.bridge = true`).
    pub bridge: bool,
    /// Start both daemons with this profile (`None`: no daemons).
    pub daemons: Option<Profile>,
    /// The daemons rejoin by themselves after a fence (`failover.auto_rejoin`).
    pub auto_rejoin: bool,
}

impl LabOptions {
    /// Network + PostgreSQL pair + relay, no daemons.
    pub fn new(lab_exe: impl Into<PathBuf>) -> Self {
        Self {
            lab_exe: lab_exe.into(),
            postgres: true,
            pg: PgOptions::default(),
            relay: true,
            bridge: false,
            daemons: None,
            auto_rejoin: false,
        }
    }

    /// Only the network.
    pub fn network_only(lab_exe: impl Into<PathBuf>) -> Self {
        Self {
            postgres: false,
            relay: false,
            bridge: false,
            ..Self::new(lab_exe)
        }
    }
}

/// What can be frozen with SIGSTOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freeze {
    /// The node's daemon only.
    Daemon,
    /// The node's PostgreSQL (postmaster and children).
    Postgres,
    /// Every process in the node's namespace (a paused machine, kernel still up).
    Everything,
}

static LOCK: Mutex<()> = Mutex::new(());

/// Serialises labs within a process (they use root-level resources and 2 cores).
pub fn exclusive() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Checks that we are root and that the tools the lab runs exist.
pub fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot(
            "network namespaces (ip netns), nftables rules and running PostgreSQL as the \
             `postgres` user need root: run as root (e.g. `sudo -E cargo lab demo`)"
                .into(),
        ));
    }
    let hint = "run tests/install-deps.sh as root";
    for tool in ["ip", "nft", "ping", "setpriv"] {
        if !have(tool) {
            return Err(LabError::MissingTool {
                tool: tool.into(),
                hint: hint.into(),
            });
        }
    }
    let initdb = format!("{PG_BIN}/initdb");
    if !have(&initdb) {
        return Err(LabError::MissingTool {
            tool: initdb,
            hint: format!("postgresql-15; {hint}"),
        });
    }
    Ok(())
}

/// A running lab. Dropping it removes everything it made (unless detached).
#[derive(Debug)]
pub struct Lab {
    /// Names and addresses.
    pub topo: Topology,
    /// The lab directory (`/tmp/tblab/<id>`).
    pub dir: PathBuf,
    opts: LabOptions,
    state: Mutex<LabState>,
    kept: Mutex<Vec<Kept>>,
    children: Mutex<Vec<Child>>,
    daemons: Mutex<[Option<ProcId>; 2]>,
    pg: [PgNode; 2],
    relay: Option<RelayCtl>,
    bridge: Mutex<Option<BridgeCable>>,
    removed: bool,
}

impl Lab {
    /// Builds a lab: removes stale labs, claims an id, creates the network, then (as asked)
    /// the serial relay, the PostgreSQL pair and the daemons. On error everything made so far
    /// is removed.
    pub fn start(opts: LabOptions) -> Result<Self> {
        preflight()?;
        state::remove_stale(&state::root(), false);
        let (st, dir) = state::claim(&state::root(), false)?;
        let topo = Topology::new(st.id);
        let pg = [
            PgNode::new(&topo, &dir, Node::A),
            PgNode::new(&topo, &dir, Node::B),
        ];
        let lab = Self {
            topo,
            relay: (opts.relay && !opts.bridge).then(|| RelayCtl::new(&dir)),
            bridge: Mutex::new(None),
            dir,
            opts: opts.clone(),
            state: Mutex::new(st),
            kept: Mutex::new(Vec::new()),
            children: Mutex::new(Vec::new()),
            daemons: Mutex::new([None, None]),
            pg,
            removed: false,
        };
        // A failure below drops `lab`, which removes what was made.
        lab.topo.create()?;
        if opts.bridge {
            lab.start_bridge()?;
        } else if opts.relay {
            lab.start_relay()?;
        }
        if opts.postgres {
            lab.start_pair()?;
        }
        if let Some(profile) = opts.daemons {
            lab.write_daemon_configs(profile)?;
            for n in Node::BOTH {
                lab.start_daemon(n)?;
            }
        }
        Ok(lab)
    }

    fn register(&self, p: ProcId) {
        if let Ok(mut st) = self.state.lock() {
            st.procs.retain(|q| q.alive());
            st.procs.push(p);
            let _ = st.save(&self.dir.join("state.json"));
        }
    }

    fn kept(
        &self,
        log: &Path,
        argv: &[String],
        envs: &[(&str, &str)],
        label: &str,
    ) -> Result<ProcId> {
        let k = spawn_kept(&self.opts.lab_exe, log, argv, envs, label)?;
        let main = k.main.clone();
        if let Some(kp) = ProcId::of(k.keeper.id() as i32, &format!("keeper of {label}")) {
            self.register(kp);
        }
        self.register(main.clone());
        if let Ok(mut v) = self.kept.lock() {
            // Reap keepers that have finished, so they do not pile up as zombies.
            v.retain_mut(|k| !matches!(k.keeper.try_wait(), Ok(Some(_))));
            v.push(k);
        }
        Ok(main)
    }

    // ---------- serial relay ----------

    fn start_relay(&self) -> Result<()> {
        let log = self.dir.join("relay.log");
        let logf = std::fs::File::create(&log).map_err(io_err(&log))?;
        let mut child = Command::new(&self.opts.lab_exe)
            .args(["relay", "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .map_err(|source| LabError::Spawn {
                cmd: "lab relay".into(),
                source,
            })?;
        if let Some(p) = ProcId::of(child.id() as i32, "relay") {
            self.register(p);
        }
        let out = child.stdout.take();
        if let Ok(mut c) = self.children.lock() {
            c.push(child);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(o) = out {
                let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(o), &mut line);
            }
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.trim() == "ready" => Ok(()),
            other => Err(LabError::Relay(format!(
                "did not start ({other:?}); see {}",
                log.display()
            ))),
        }
    }

    /// The serial cable's control handle.
    pub fn relay(&self) -> Result<&RelayCtl> {
        self.relay
            .as_ref()
            .ok_or_else(|| LabError::Relay("this lab has no relay".into()))
    }

    // ---------- network ----------

    /// Plugs or unplugs node `n`'s cable at the switch.
    pub fn set_link(&self, n: Node, up: bool) -> Result<()> {
        self.topo.set_link(n.host(), up)
    }

    /// Injects a network fault.
    pub fn apply(&self, f: Fault) -> Result<()> {
        faults::apply(&self.topo, f)
    }

    /// Lifts a network fault.
    pub fn lift(&self, f: Fault) -> Result<()> {
        faults::lift(&self.topo, f)
    }

    /// Lifts every nftables fault on both nodes.
    pub fn clear_faults(&self) -> Result<()> {
        for n in Node::BOTH {
            faults::clear(&self.topo, n.host())?;
        }
        Ok(())
    }

    /// Node `n`'s interface: carrier and addresses.
    pub fn iface(&self, n: Node) -> Result<IfaceState> {
        self.topo.iface(n.host())
    }

    /// Nodes whose interface holds the VIP with carrier.
    pub fn vip_holders(&self) -> Result<Vec<Node>> {
        let vip: Ipv4Addr = self.topo.vip();
        let mut v = Vec::new();
        for n in Node::BOTH {
            let i = self.iface(n)?;
            if i.up() && i.addrs.contains(&vip) {
                v.push(n);
            }
        }
        Ok(v)
    }

    /// Starts an invariant sampler on this lab.
    pub fn sampler(&self) -> Sampler {
        Sampler::start(
            &self.topo,
            [
                self.pg(Node::A).files.sock_dir.clone(),
                self.pg(Node::B).files.sock_dir.clone(),
            ],
        )
    }
}
