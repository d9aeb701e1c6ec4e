//! The lab's daemons and whole-node faults (kill, revive, freeze).

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{Freeze, Lab};
use crate::cmd::wait_for;
use crate::daemon::{self, Profile};
use crate::error::{LabError, Result};
use crate::netns::Node;
use crate::procs::{self, ProcId};
use crate::relay::Dir;

impl Lab {
    // ---------- daemons ----------

    /// Node `n`'s daemon configuration file.
    pub fn daemon_config(&self, n: Node) -> PathBuf {
        self.dir.join(n.name()).join("twinbeat.toml")
    }

    /// Node `n`'s daemon log.
    pub fn daemon_log(&self, n: Node) -> PathBuf {
        self.dir.join(n.name()).join("twinbeat.log")
    }

    /// Writes both daemons' configurations for `profile` and the lab's options.
    pub fn write_daemon_configs(&self, profile: Profile) -> Result<()> {
        self.write_daemon_configs_with(profile, |_| {})
    }

    /// What the lab's options say of a daemon's configuration: `auto_rejoin`, the
    /// replication mode, TLS.
    fn apply_options(&self, n: Node, config: &mut daemon::DaemonConfig) -> Result<()> {
        if self.opts.pg.tls {
            // The TLS pair is configured as a careful operator would: the peer's
            // certificate verified against the lab's CA and its address, a client
            // certificate of its own, and the password in the configuration file itself
            // (mode 0600), which no log, status or check-config output may show.
            let certs = self.certs()?;
            let client = crate::pg::tls_client(n);
            config.peer.sslmode = Some("verify-full".into());
            config.peer.sslrootcert = Some(certs.cert(crate::pg::CA));
            config.peer.sslcert = Some(certs.cert(&client));
            config.peer.sslkey = Some(certs.key(&client));
            config.local_db.password = Some(crate::pg::PASSWORD.into());
            config.local_db.password_file = None;
        }
        let replication = self.opts.pg.replication;
        if replication != crate::pg::Replication::Async {
            config.replication = Some(daemon::ReplicationSection {
                mode: replication.mode().into(),
            });
        }
        if let Some(f) = config.failover.as_mut() {
            if self.opts.auto_rejoin {
                f.auto_rejoin = Some(true);
            }
        }
        Ok(())
    }

    /// [`Lab::write_daemon_configs`], each configuration changed by `tune` after the
    /// lab's options.
    pub fn write_daemon_configs_with(
        &self,
        profile: Profile,
        tune: impl Fn(&mut daemon::DaemonConfig),
    ) -> Result<()> {
        let pwfile = self.dir.join("pgpass");
        daemon::write_private(&pwfile, crate::pg::PASSWORD)?;
        if !self.has_bridge() {
            // The relay cable's ttys live at the same paths; fail early without one.
            self.relay()?;
        }
        for n in Node::BOTH {
            let state_dir = self.dir.join(n.name()).join("state");
            let mut config = profile.config(
                &self.topo,
                self.pg(n),
                &self.serial_device(n),
                &state_dir,
                &pwfile,
                self.has_bridge(),
            );
            self.apply_options(n, &mut config)?;
            tune(&mut config);
            let header = format!("# twinbeat lab, node {n}, profile {}\n", profile.name());
            config.write(&self.daemon_config(n), &header)?;
        }
        Ok(())
    }

    /// Starts node `n`'s `twinbeat run` in its namespace (under a keeper, so it and whatever
    /// PostgreSQL it starts are reaped at once).
    pub fn start_daemon(&self, n: Node) -> Result<ProcId> {
        let bin = daemon::binary_or_build()?;
        let argv = daemon::argv(&self.topo, n, &bin, &self.daemon_config(n));
        let p = self.kept(
            &self.daemon_log(n),
            &argv,
            &[("RUST_LOG", "info"), ("NO_COLOR", "1")],
            &format!("daemon {n}"),
        )?;
        if let Ok(mut d) = self.daemons.lock() {
            d[n as usize] = Some(p.clone());
        }
        Ok(p)
    }

    /// Node `n`'s daemon, if it is running.
    pub fn daemon(&self, n: Node) -> Option<ProcId> {
        self.daemons.lock().ok()?[n as usize]
            .clone()
            .filter(ProcId::alive)
    }

    /// Sends `sig` to node `n`'s daemon (SIGKILL, SIGTERM, SIGSTOP, SIGCONT).
    pub fn signal_daemon(&self, n: Node, sig: Signal) -> bool {
        self.daemon(n).is_some_and(|p| p.signal(sig))
    }

    /// Stops node `n`'s daemon: SIGTERM, then SIGKILL after `grace`.
    pub fn stop_daemon(&self, n: Node, grace: Duration) {
        if let Some(p) = self.daemon(n) {
            p.signal(Signal::SIGCONT);
            p.signal(Signal::SIGTERM);
            if wait_for("daemon exit", grace, Duration::from_millis(10), || {
                (!p.alive()).then_some(())
            })
            .is_err()
            {
                procs::kill_all(&[p.pid], Duration::from_secs(5));
            }
        }
    }

    /// `twinbeat resume --force-primary` for node `n` (its control socket, as root): the
    /// operator's release of a hold (rule `hold-needs-evidence`). The exit code and
    /// what the command printed.
    pub fn release_hold(&self, n: Node) -> Result<(Option<i32>, String)> {
        self.operator(n, &["resume", "--force-primary"], Duration::from_secs(10))
    }

    /// `twinbeat <args> --config <n's config>`, run in node `n`'s namespace as root
    /// (the control socket; `/status` listens in the namespace), bounded by `bound`.
    /// The exit code and what the command printed.
    pub fn operator(
        &self,
        n: Node,
        args: &[&str],
        bound: Duration,
    ) -> Result<(Option<i32>, String)> {
        self.operator_with(n, &self.daemon_config(n), args, bound)
    }

    /// [`Lab::operator`] with the configuration file `config`.
    pub fn operator_with(
        &self,
        n: Node,
        config: &Path,
        args: &[&str],
        bound: Duration,
    ) -> Result<(Option<i32>, String)> {
        let bin = daemon::binary_or_build()?;
        let mut cmd = crate::netns::exec_in(&self.topo.ns(n.host()), &bin.to_string_lossy(), args);
        cmd.arg("--config").arg(config);
        let out = crate::cmd::output_within(cmd, bound)?;
        Ok((
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }

    /// `twinbeat diagnose --json` for node `n`'s configuration, run in its namespace as
    /// root without the capabilities named in `without` (`net_admin`; dropped with
    /// `setpriv` from the bounding and inheritable sets, so the process has them in no
    /// set), bounded by `bound`: the exit code and the report.
    pub fn diagnose(
        &self,
        n: Node,
        without: &[&str],
        bound: Duration,
    ) -> Result<(Option<i32>, serde_json::Value)> {
        let bin = daemon::binary_or_build()?;
        let bin = bin.to_string_lossy().into_owned();
        let config = self.daemon_config(n).to_string_lossy().into_owned();
        let drop: Vec<String> = without.iter().map(|c| format!("-{c}")).collect();
        let caps = drop.join(",");
        let mut args: Vec<&str> = Vec::new();
        let (bounding, inheritable) = (
            format!("--bounding-set={caps}"),
            format!("--inh-caps={caps}"),
        );
        let program = if without.is_empty() {
            bin.as_str()
        } else {
            args.extend([bounding.as_str(), inheritable.as_str(), bin.as_str()]);
            "setpriv"
        };
        args.extend(["diagnose", "--json", "--config", config.as_str()]);
        let cmd = crate::netns::exec_in(&self.topo.ns(n.host()), program, &args);
        let out = crate::cmd::output_within(cmd, bound)?;
        let report = serde_json::from_slice(&out.stdout).map_err(|e| LabError::Parse {
            what: format!("diagnose of {n}"),
            detail: format!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })?;
        Ok((out.status.code(), report))
    }

    /// `twinbeat rejoin [--reclone]` for node `n` ([`Lab::operator`]): the control
    /// socket, then its `/status` until the rejoin ends, bounded by `bound`.
    pub fn rejoin(&self, n: Node, reclone: bool, bound: Duration) -> Result<(Option<i32>, String)> {
        let wait = format!("{}s", bound.as_secs());
        let mut args = vec!["rejoin", "--wait", &wait];
        if reclone {
            args.push("--reclone");
        }
        self.operator(n, &args, bound + Duration::from_secs(10))
    }

    /// Node `n`'s daemon status (`GET /status` inside its namespace), as JSON.
    pub fn daemon_status(&self, n: Node) -> Result<serde_json::Value> {
        let body = daemon::http_get(&self.topo, n, "/status")?;
        serde_json::from_str(&body).map_err(|e| LabError::Parse {
            what: format!("status of {n}"),
            detail: e.to_string(),
        })
    }

    // ---------- whole-node faults ----------

    /// Freezes (SIGSTOP) or thaws (SIGCONT) part of node `n`. Returns how many processes.
    pub fn freeze(&self, n: Node, what: Freeze, frozen: bool) -> usize {
        let sig = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        match what {
            Freeze::Daemon => self
                .daemon(n)
                .map(|p| procs::signal_tree(p.pid, sig))
                .unwrap_or(0),
            Freeze::Postgres => self.pg(n).signal_all(sig),
            Freeze::Everything => procs::netns_pids(&self.topo.ns(n.host()))
                .into_iter()
                .filter(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), sig).is_ok())
                .count(),
        }
    }

    /// Host death of node `n`: cable out, daemon SIGKILLed, PostgreSQL stopped immediate,
    /// serial cut.
    pub fn kill_node(&self, n: Node) -> Result<()> {
        self.set_link(n, false)?;
        self.signal_daemon(n, Signal::SIGKILL);
        if let Some(r) = &self.relay {
            r.cut(Dir::Both)?;
        }
        self.stop_pg(n)
    }

    /// Brings a dead node back as after a reboot: its VIP is gone (addresses do not survive a
    /// reboot), cable in, serial restored, PostgreSQL started, daemon started if the lab runs
    /// daemons.
    pub fn revive_node(&self, n: Node) -> Result<()> {
        self.reboot_node(n, true)
    }

    /// [`revive_node`](Self::revive_node), or with `connected` false the same reboot with
    /// the cable still out and the serial cable still cut: a host back from a crash on a
    /// dead switch port, its serial cable unplugged.
    pub fn reboot_node(&self, n: Node, connected: bool) -> Result<()> {
        if self.iface(n)?.addrs.contains(&self.topo.vip()) {
            self.topo.set_addr(n.host(), self.topo.vip(), false)?;
        }
        if connected {
            self.set_link(n, true)?;
            if let Some(r) = &self.relay {
                r.restore(Dir::Both)?;
            }
        }
        if self.pg(n).postmaster_pid().is_none() {
            self.start_pg(n)?;
        }
        if self.opts.daemons.is_some() && self.daemon(n).is_none() {
            self.start_daemon(n)?;
        }
        Ok(())
    }
}
