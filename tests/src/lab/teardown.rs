//! Removing a lab: its daemons, PostgreSQL servers and every recorded process by PID,
//! then its namespaces and directory — also when a test panics (the `Drop` guard).

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::Lab;
use crate::cmd::wait_child;
use crate::netns::Node;
use crate::procs;
use crate::state;

impl Lab {
    /// Removes everything now and says what was done.
    pub fn teardown(mut self) -> Vec<String> {
        self.remove()
    }

    fn remove(&mut self) -> Vec<String> {
        if self.removed {
            return Vec::new();
        }
        self.removed = true;
        let mut done = Vec::new();
        self.keep_logs();
        for n in Node::BOTH {
            if let Some(p) = self.daemon(n) {
                procs::kill_all(&[p.pid], Duration::from_secs(5));
                done.push(format!("killed daemon {n} ({})", p.pid));
            }
        }
        for n in Node::BOTH {
            let pg = &self.pg[n as usize];
            // Thaw first: a stopped postmaster ignores pg_ctl.
            pg.signal_all(Signal::SIGCONT);
            if pg.postmaster_pid().is_some() {
                match pg.stop_immediate() {
                    Ok(()) => done.push(format!("stopped PostgreSQL {n}")),
                    Err(e) => done.push(format!("PostgreSQL {n}: {e}")),
                }
            }
        }
        let recorded: Vec<i32> = self
            .state
            .lock()
            .map(|s| {
                s.procs
                    .iter()
                    .filter(|p| p.alive())
                    .map(|p| p.pid)
                    .collect()
            })
            .unwrap_or_default();
        if !recorded.is_empty() {
            procs::kill_all(&recorded, Duration::from_secs(5));
            done.push(format!("killed {recorded:?}"));
        }
        if let Some(mut cable) = self.bridge.lock().ok().and_then(|mut b| b.take()) {
            match cable.kill() {
                Ok(()) => done.push("killed the QEMU bridge".into()),
                Err(e) => done.push(e.to_string()),
            }
        }
        for mut c in self
            .children
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
        {
            let _ = c.kill();
            let _ = wait_child(&mut c, Duration::from_secs(5));
        }
        for mut k in self
            .kept
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
        {
            // The keeper exits once its tree is gone; kill it if it does not.
            if wait_child(&mut k.keeper, Duration::from_secs(5)).is_err() {
                done.push(format!("keeper of {} did not exit", k.main.label));
            }
        }
        done.extend(state::remove_lab(self.topo.id, None, Some(&self.dir)));
        done
    }

    /// With `TWINBEAT_LAB_LOGS=<dir>`, copies both daemons' logs and the PostgreSQL logs
    /// there (as `<unix time>-lab<id>-<node>-twinbeat.log`, ...) before the lab directory goes.
    fn keep_logs(&self) {
        let Some(to) = std::env::var_os("TWINBEAT_LAB_LOGS").map(PathBuf::from) else {
            return;
        };
        let _ = std::fs::create_dir_all(&to);
        for n in Node::BOTH {
            let node_dir = self.dir.join(n.name());
            let Ok(entries) = std::fs::read_dir(&node_dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".log") {
                    let stamp = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let dest = to.join(format!("{stamp}-lab{}-{}-{name}", self.topo.id, n.name()));
                    let _ = std::fs::copy(e.path(), dest);
                }
            }
        }
    }

    /// Keeps the lab running after this value is dropped (`cargo lab up`); `cargo lab down`
    /// removes it.
    pub fn detach(mut self) -> u8 {
        // `removed` here means "not this value's to remove".
        self.removed = true;
        if let Ok(mut st) = self.state.lock() {
            st.detached = true;
            let _ = st.save(&self.dir.join("state.json"));
        }
        self.topo.id
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}
