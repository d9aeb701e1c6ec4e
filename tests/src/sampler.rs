//! The invariant sampler: a thread that every ≤ 50 ms asks both PostgreSQL servers whether
//! they are in recovery (short-timeout queries on persistent connections) and reads which
//! namespace holds the VIP, records a timeline of changes, and flags the two violations:
//! two writable primaries, and the VIP on both nodes (each with carrier).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dbwatch::DbWatch;
use crate::netns::{Node, Topology, IFACE};
use crate::nlview::IfaceView;

/// The sampling period (every ≤ 50 ms, so that a split brain is seen however brief).
pub const PERIOD: Duration = Duration::from_millis(50);
/// Bound of one VIP read over netlink: below the period, so it cannot stretch the period.
const PROBE_TIMEOUT: Duration = Duration::from_millis(40);

/// What a node's PostgreSQL said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DbObs {
    /// `pg_is_in_recovery()` = false: writable.
    Primary,
    /// In recovery.
    Standby,
    /// Refused or failed (not running, starting, shutting down).
    Down,
    /// No answer within the timeout (frozen, overloaded).
    Hung,
}

/// Where the VIP is, seen from a node's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VipObs {
    /// The VIP is on the interface and the interface has carrier.
    Held,
    /// The VIP is configured, but the cable is out (unreachable, harmless).
    HeldNoCarrier,
    /// Not on the interface.
    Absent,
    /// Could not be read in time.
    Unknown,
}

/// One node in one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NodeObs {
    /// Its PostgreSQL.
    pub db: DbObs,
    /// The VIP on its interface.
    pub vip: VipObs,
}

/// One sample of both nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Time since the sampler started.
    pub at: Duration,
    /// Node a.
    pub a: NodeObs,
    /// Node b.
    pub b: NodeObs,
}

impl Sample {
    /// The observation of `node`.
    pub fn of(&self, node: Node) -> NodeObs {
        match node {
            Node::A => self.a,
            Node::B => self.b,
        }
    }

    /// Both writable?
    pub fn two_primaries(&self) -> bool {
        self.a.db == DbObs::Primary && self.b.db == DbObs::Primary
    }

    /// VIP reachable on both?
    pub fn vip_on_both(&self) -> bool {
        self.a.vip == VipObs::Held && self.b.vip == VipObs::Held
    }
}

/// A timeline entry: a change of observations, or a mark set by the scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Time since the sampler started.
    pub at: Duration,
    /// What happened.
    pub what: String,
}

/// What the sampler saw, returned when it stops.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SamplerReport {
    /// Samples taken.
    pub ticks: u64,
    /// The longest gap between two samples' starts.
    pub max_gap: Duration,
    /// Changes and marks, in order.
    pub timeline: Vec<Event>,
    /// Samples with two writable primaries.
    pub two_primary_samples: u64,
    /// Samples with the VIP held on both nodes.
    pub vip_both_samples: u64,
    /// The first violation seen, if any.
    pub first_violation: Option<Event>,
}

impl SamplerReport {
    /// No violation at all?
    pub fn clean(&self) -> bool {
        self.two_primary_samples == 0 && self.vip_both_samples == 0
    }

    /// The timeline as text, one line per event, times in ms.
    pub fn timeline_text(&self) -> String {
        self.timeline
            .iter()
            .map(|e| format!("{:>8.1} ms  {}\n", e.at.as_secs_f64() * 1000.0, e.what))
            .collect()
    }
}

struct Shared {
    latest: Option<Sample>,
    report: SamplerReport,
}

/// A running sampler; [`stop`](Sampler::stop) it to get the report (dropping stops it too).
pub struct Sampler {
    start: Instant,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("start", &self.start)
            .finish()
    }
}

impl Sampler {
    /// Starts sampling lab `topo` whose servers have their sockets in `sockets` (a, b).
    pub fn start(topo: &Topology, sockets: [PathBuf; 2]) -> Self {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared {
            latest: None,
            report: SamplerReport::default(),
        }));
        let ctx = Ctx {
            topo: topo.clone(),
            sockets,
            start,
            stop: stop.clone(),
            shared: shared.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("lab-sampler".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(ctx.run());
                }
            })
            .ok();
        Self {
            start,
            stop,
            shared,
            thread,
        }
    }

    /// When the sampler started (timeline zero).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Adds a mark to the timeline (e.g. "fault: a killed").
    pub fn mark(&self, what: &str) {
        let at = self.start.elapsed();
        if let Ok(mut s) = self.shared.lock() {
            s.report.timeline.push(Event {
                at,
                what: format!("mark: {what}"),
            });
        }
    }

    /// The latest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.shared.lock().ok()?.latest
    }

    /// Waits until a sample satisfies `pred`, at most `deadline`. Returns that sample.
    pub fn wait_for(&self, deadline: Duration, pred: impl Fn(&Sample) -> bool) -> Option<Sample> {
        let end = Instant::now() + deadline;
        let mut seen = Duration::ZERO;
        while Instant::now() < end {
            if let Some(s) = self.latest() {
                if s.at > seen {
                    seen = s.at;
                    if pred(&s) {
                        return Some(s);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// A copy of the report so far.
    pub fn snapshot(&self) -> SamplerReport {
        self.shared
            .lock()
            .map(|s| s.report.clone())
            .unwrap_or_default()
    }

    /// Stops the thread and returns the report.
    pub fn stop(mut self) -> SamplerReport {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}

struct Ctx {
    topo: Topology,
    sockets: [PathBuf; 2],
    start: Instant,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
}

impl Ctx {
    async fn run(self) {
        let watches = [
            DbWatch::spawn(self.sockets[0].clone(), "a"),
            DbWatch::spawn(self.sockets[1].clone(), "b"),
        ];
        let views = Node::BOTH.map(|n| {
            IfaceView::open(&format!("/run/netns/{}", self.topo.ns(n.host())), IFACE).ok()
        });
        let mut prev: Option<(Instant, Sample)> = None;
        let mut next = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            let tick = Instant::now();
            let (va, vb) = tokio::join!(
                vip_obs(&self.topo, views[0].as_ref()),
                vip_obs(&self.topo, views[1].as_ref()),
            );
            let now = Instant::now();
            let (da, db) = (watches[0].observe(now), watches[1].observe(now));
            let sample = Sample {
                at: tick.duration_since(self.start),
                a: NodeObs { db: da, vip: va },
                b: NodeObs { db, vip: vb },
            };
            self.record(&sample, prev.as_ref(), tick);
            prev = Some((tick, sample));
            next += PERIOD;
            let now = Instant::now();
            if next < now {
                next = now; // overran: sample again at once rather than bunching up
            }
            tokio::time::sleep_until(next.into()).await;
        }
    }

    fn record(&self, s: &Sample, prev: Option<&(Instant, Sample)>, tick: Instant) {
        let Ok(mut sh) = self.shared.lock() else {
            return;
        };
        let r = &mut sh.report;
        r.ticks += 1;
        r.two_primary_samples += u64::from(s.two_primaries());
        r.vip_both_samples += u64::from(s.vip_on_both());
        if let Some((t, p)) = prev {
            r.max_gap = r.max_gap.max(tick.duration_since(*t));
            if (p.a, p.b) == (s.a, s.b) {
                sh.latest = Some(*s);
                return;
            }
        }
        r.timeline.push(Event {
            at: s.at,
            what: format!(
                "a: db {:?}, vip {:?} | b: db {:?}, vip {:?}",
                s.a.db, s.a.vip, s.b.db, s.b.vip
            ),
        });
        if (s.two_primaries() || s.vip_on_both()) && r.first_violation.is_none() {
            r.first_violation = Some(Event {
                at: s.at,
                what: if s.two_primaries() {
                    "two writable primaries"
                } else {
                    "VIP on both nodes"
                }
                .into(),
            });
        }
        sh.latest = Some(*s);
    }
}

async fn vip_obs(topo: &Topology, view: Option<&IfaceView>) -> VipObs {
    let Some(view) = view else {
        return VipObs::Unknown;
    };
    let Ok(Ok(iface)) = tokio::time::timeout(PROBE_TIMEOUT, view.read()).await else {
        return VipObs::Unknown;
    };
    match (iface.addrs.contains(&IpAddr::V4(topo.vip())), iface.up) {
        (true, true) => VipObs::Held,
        (true, false) => VipObs::HeldNoCarrier,
        (false, _) => VipObs::Absent,
    }
}
