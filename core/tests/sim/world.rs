//! The simulated world: two hosts, their databases, VIP, gateways, the LAN paths and
//! the serial line, with a virtual clock that jumps to the next thing that happens.
//! The nodes are in `node`, the daemons driving their engines in `daemon`.

use std::collections::BTreeMap;
use std::time::Duration;

use twinbeat_core::{Config, Input, Instant, PathId, PersistedRole, PersistedState, ProbeOutcome};

use crate::checks::Checks;

#[path = "world/daemon.rs"]
mod daemon;
#[path = "world/node.rs"]
mod node;

pub(crate) use node::{Node, Step, A, B, N};

/// One fault or world change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    StartDaemon(N),
    HostDeath(N),
    HostRevive(N),
    NodeFreeze(N, Duration),
    ProcFreeze(N, Duration),
    DaemonCrash(N, Duration),
    /// Crash the daemon when it next emits this step (before or after the effect),
    /// restarting it after the duration.
    CrashOnStep(N, Step, bool, Duration),
    CutIcmp(bool),
    CutDb(bool),
    CutSerial(bool),
    SerialLoss(u8),
    SerialDelay(Duration),
    Gateway(N, bool),
    /// The DB stops and cannot be restarted (true) or works again (false).
    DbBroken(N, bool),
    /// The DB crashes once; a restart brings it back.
    DbCrash(N),
    /// The service manager restarts a crashed DB behind the daemon (an unordered start:
    /// the start guard applies).
    DbAutoRestart(N),
    ReplicationStall(bool),
    /// The primary writes this many bytes of WAL.
    Write(u64),
    /// An operator pauses the pair on this node, for this long or until resumed (rule
    /// `maintenance-pause`).
    OperatorPause(N, Option<Duration>),
    /// An operator resumes the pair on this node.
    OperatorUnpause(N),
    /// An operator runs `twinbeat switchover` on this node (rule
    /// `planned-switchover`).
    OperatorSwitchover(N),
}

#[derive(Clone, Debug)]
pub(crate) enum Ev {
    Deliver { node: N, inc: u32, input: Input },
    Fault(Fault),
    Resume(N),
    Restart(N),
    Liveness(u32),
}

pub(crate) struct World {
    pub(crate) now: Instant,
    pub(crate) start: Instant,
    pub(crate) nodes: [Node; 2],
    pub(crate) queue: BTreeMap<(Instant, u64), Ev>,
    pub(crate) seq: u64,
    pub(crate) rng: fastrand::Rng,
    pub(crate) cut_icmp: bool,
    pub(crate) cut_db: bool,
    pub(crate) cut_serial: bool,
    pub(crate) serial_loss: u8,
    pub(crate) serial_delay: Duration,
    pub(crate) repl_stalled: bool,
    /// Percentage of side effects (persist, promote, VIP take, DB stop) that fail.
    pub(crate) effect_fail_pct: u8,
    pub(crate) checks: Checks,
    pub(crate) trace: bool,
    pub(crate) steps: u64,
}

pub(crate) const BOOT: Duration = Duration::from_millis(300);

impl World {
    pub(crate) fn new(cfg: Config, seed: u64, trace: bool) -> World {
        let start = Instant::from_millis(1_000);
        let node = |id: u32, primary: bool| Node {
            cfg: Config {
                node_id: twinbeat_core::NodeId(id),
                ..cfg
            },
            engine: None,
            inc: 0,
            started_at: start,
            heard_peer: false,
            alive: true,
            node_frozen: false,
            proc_frozen: false,
            frozen_until: start,
            deferred: Vec::new(),
            db_running: true,
            db_broken: false,
            in_recovery: !primary,
            // The master's guard was armed by the daemon's earlier run.
            signal: true,
            db_changed_at: start,
            wal: 0,
            sync_names: false,
            sync_failures: 0,
            timeline: 1,
            published_term: primary.then_some(1),
            published: None,
            published_sync: [None; 2],
            vip: false,
            vip_failures: 0,
            gateway_ok: true,
            gateway_changed_at: start,
            persisted: primary.then_some(PersistedState {
                role: PersistedRole::Primary,
                term: 1,
            }),
            maintenance: None,
            crash_on: None,
            clean_stop: None,
        };
        World {
            now: start,
            start,
            nodes: [node(1, true), node(2, false)],
            queue: BTreeMap::new(),
            seq: 0,
            rng: fastrand::Rng::with_seed(seed),
            cut_icmp: false,
            cut_db: false,
            cut_serial: false,
            serial_loss: 0,
            serial_delay: Duration::ZERO,
            repl_stalled: false,
            effect_fail_pct: 0,
            checks: Checks::new(&cfg),
            trace,
            steps: 0,
        }
    }

    pub(crate) fn at(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    /// Schedules a fault `d` after the start of the schedule.
    pub(crate) fn fault_in(&mut self, d: Duration, f: Fault) {
        self.at(self.start + d, Ev::Fault(f));
    }

    pub(crate) fn after(&mut self, d: Duration, ev: Ev) {
        self.at(self.now + d, ev);
    }

    pub(crate) fn latency(&mut self) -> Duration {
        Duration::from_micros(self.rng.u64(200..3_000))
    }

    pub(crate) fn deliver(&mut self, node: N, d: Duration, input: Input) {
        let inc = self.nodes[node].inc;
        self.after(d, Ev::Deliver { node, inc, input });
    }

    /// Runs until `end`, checking invariants after every step.
    pub(crate) fn run(&mut self, end: Instant) -> Result<(), String> {
        loop {
            let next_ev = self.queue.keys().next().map(|k| k.0);
            let mut next_timer: Option<(Instant, N)> = None;
            for n in 0..2 {
                if !self.nodes[n].active() {
                    continue;
                }
                if let Some(t) = self.nodes[n].engine.as_ref().and_then(|e| e.poll_timeout()) {
                    if next_timer.is_none_or(|(b, _)| t < b) {
                        next_timer = Some((t, n));
                    }
                }
            }
            let take_event = match (next_ev, next_timer) {
                (Some(e), Some((t, _))) => e <= t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(()),
            };
            let at = if take_event {
                next_ev.unwrap_or(end)
            } else {
                next_timer.map_or(end, |x| x.0)
            };
            if at > end {
                self.now = end;
                return Ok(());
            }
            self.now = at;
            self.steps += 1;
            if take_event {
                let key = *self.queue.keys().next().expect("present");
                let ev = self.queue.remove(&key).expect("present");
                self.event(ev);
            } else if let Some((_, n)) = next_timer {
                if let Some(e) = self.nodes[n].engine.as_mut() {
                    e.handle_timeout(self.now);
                }
                self.drain(n);
            }
            self.check_step()?;
        }
    }

    fn check_step(&mut self) -> Result<(), String> {
        self.checks
            .update_paths(self.now, &self.nodes, self.path_view());
        if let Some(v) = self.checks.take_violation() {
            return Err(v);
        }
        self.checks.step(self.now, &self.nodes)
    }

    /// (icmp, remote_db, serial) truly usable from each node towards the other.
    pub(crate) fn path_view(&self) -> [[bool; 3]; 2] {
        let mut out = [[false; 3]; 2];
        for (n, row) in out.iter_mut().enumerate() {
            let o = &self.nodes[1 - n];
            let host = o.alive && !o.node_frozen;
            let serial_ok = !self.cut_serial
                && self.serial_loss == 0
                && self.serial_delay * 2 < self.nodes[n].cfg.serial.timeout;
            *row = [
                host && !self.cut_icmp,
                host && !self.cut_db && o.db_running,
                o.alive && o.engine.is_some() && !o.node_frozen && !o.proc_frozen && serial_ok,
            ];
        }
        out
    }

    fn event(&mut self, ev: Ev) {
        if self.trace {
            println!("{:>10} EV {:?}", self.now.as_micros(), ev);
        }
        match ev {
            Ev::Deliver { node, inc, input } => {
                let nd = &mut self.nodes[node];
                if !nd.alive || nd.engine.is_none() || nd.inc != inc {
                    return;
                }
                if nd.node_frozen || nd.proc_frozen {
                    nd.deferred.push(input);
                    return;
                }
                self.input(node, input);
            }
            Ev::Fault(f) => self.fault(f),
            Ev::Resume(n) => {
                let nd = &mut self.nodes[n];
                if nd.frozen_until > self.now || !(nd.node_frozen || nd.proc_frozen) {
                    return;
                }
                nd.node_frozen = false;
                nd.proc_frozen = false;
                if let Some(e) = nd.engine.as_mut() {
                    e.handle_timeout(self.now);
                }
                self.drain(n);
                let deferred = std::mem::take(&mut self.nodes[n].deferred);
                for input in deferred {
                    if self.nodes[n].active() {
                        self.input(n, input);
                    }
                }
            }
            Ev::Restart(n) => self.start_daemon(n),
            Ev::Liveness(id) => {
                let now = self.now;
                self.checks.liveness_due(id, now, &self.nodes);
            }
        }
    }

    fn input(&mut self, n: N, input: Input) {
        if matches!(
            input,
            Input::AckReceived { .. } | Input::PingReceived { .. }
        ) {
            self.nodes[n].heard_peer = true;
        }
        if let Input::ProbeDone {
            path: PathId::Icmp | PathId::RemoteDb,
            outcome: ProbeOutcome::Ok { .. },
            ..
        } = input
        {
            self.nodes[n].heard_peer = true;
        }
        self.checks.on_input(self.now, n, &input, &self.nodes);
        if let Some(e) = self.nodes[n].engine.as_mut() {
            e.handle_input(self.now, input);
        }
        self.drain(n);
    }
}
