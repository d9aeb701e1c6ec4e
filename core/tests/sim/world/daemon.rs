//! The daemon's side of the world: starting and crashing it, carrying out the actions
//! its engine queues (crashing at a chosen step), and the start guard it keeps.

use std::time::Duration;

use twinbeat_core::{Engine, StartFacts};

use super::{Ev, World, N};

impl World {
    pub(crate) fn start_daemon(&mut self, n: N) {
        let now = self.now;
        let nd = &mut self.nodes[n];
        if !nd.alive || nd.engine.is_some() {
            return;
        }
        let facts = StartFacts {
            persisted: nd.persisted,
            db_in_recovery: if nd.db_running { nd.in_recovery } else { true },
            vip_held: nd.vip,
            // The daemon hands back what is left of a persisted pause.
            maintenance: nd.maintenance.and_then(|(at, left)| match left {
                None => Some(twinbeat_core::MaintenanceWindow { left: None }),
                Some(d) => {
                    let gone = now.saturating_duration_since(at);
                    (gone < d).then(|| twinbeat_core::MaintenanceWindow {
                        left: Some(d - gone),
                    })
                }
            }),
            run_id: self.rng.u64(..),
        };
        nd.inc += 1;
        nd.started_at = now;
        nd.heard_peer = false;
        nd.deferred.clear();
        nd.engine = Some(Engine::new(nd.cfg, facts, now).expect("valid sim config"));
        self.checks.on_start(now, n, &self.nodes);
        self.drain(n);
    }

    /// PostgreSQL started by anyone but the daemon (boot, service manager).
    pub(crate) fn unordered_db_start(&mut self, n: N) {
        let now = self.now;
        let nd = &mut self.nodes[n];
        if nd.db_running || nd.db_broken {
            return;
        }
        nd.db_running = true;
        nd.clean_stop = None;
        nd.in_recovery |= nd.signal;
        nd.db_changed_at = now;
    }

    pub(crate) fn crash_daemon(&mut self, n: N, restart_after: Duration) {
        self.checks.disturb();
        let nd = &mut self.nodes[n];
        if nd.engine.take().is_some() {
            nd.inc += 1;
            nd.proc_frozen = false;
            nd.deferred.clear();
            self.after(restart_after, Ev::Restart(n));
        }
    }

    pub(crate) fn drain(&mut self, n: N) {
        loop {
            let Some(a) = self.nodes[n].engine.as_mut().and_then(|e| e.poll_action()) else {
                return;
            };
            if self.trace {
                println!("{:>10} {} {:?}", self.now.as_micros(), ["A", "B"][n], a);
            }
            self.checks.on_request(self.now, n, &a, &self.nodes);
            if let Some((step, before, d)) = self.nodes[n].crash_on {
                if step.matches(&a) {
                    self.nodes[n].crash_on = None;
                    if !before {
                        self.apply(n, a);
                    }
                    self.crash_daemon(n, d);
                    return;
                }
            }
            self.apply(n, a);
        }
    }
}
