//! Takeover timing: from a fault to b writable and to the VIP answering from b at the client,
//! polled much faster than the sampler (these are the benchmark's figures).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::lab::Lab;
use crate::netns::Node;
use crate::pgq::{self, Target};

/// How long after the fault each milestone was first seen.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Takeover {
    /// a's PostgreSQL stopped answering (the fence, in scenario 6).
    pub a_down: Option<Duration>,
    /// b answered `pg_is_in_recovery() = false`.
    pub b_writable: Option<Duration>,
    /// A client query through the VIP was answered by b.
    pub vip_on_b: Option<Duration>,
}

impl Takeover {
    /// One line, in ms.
    pub fn text(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "not seen".into())
        };
        format!(
            "a down {}, b writable {}, VIP answering from b {}",
            ms(self.a_down),
            ms(self.b_writable),
            ms(self.vip_on_b)
        )
    }
}

/// Polls, from `t0` until all milestones are seen or `deadline` passes: a's and b's recovery
/// state over their sockets (every ~5 ms) and the VIP from the client (every ~10 ms).
pub fn watch_takeover(lab: &Lab, t0: Instant, deadline: Duration) -> Takeover {
    let stop = Arc::new(AtomicBool::new(false));
    let end = t0 + deadline;
    let a = lab.pg(Node::A).socket_target();
    let b = lab.pg(Node::B).socket_target();
    let (a_down, b_writable, vip_on_b) = std::thread::scope(|s| {
        let st = stop.clone();
        let db = s.spawn(move || {
            let mut a_down = None;
            let mut b_writable = None;
            while Instant::now() < end && (a_down.is_none() || b_writable.is_none()) {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let now = Instant::now();
                if a_down.is_none() && !answers(&a) {
                    a_down = Some(now - t0);
                }
                if b_writable.is_none() && writable(&b) {
                    b_writable = Some(t0.elapsed());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (a_down, b_writable)
        });
        let mut vip = None;
        while Instant::now() < end {
            // Stamped when the answer arrives, not when the query was sent: a query
            // sent before b holds the VIP can wait on ARP and be answered after.
            if lab.vip_answerer(Duration::from_millis(200)) == Some(Node::B) {
                vip = Some(t0.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let (a_down, b_writable) = db.join().unwrap_or((None, None));
        stop.store(true, Ordering::SeqCst);
        (a_down, b_writable, vip)
    });
    Takeover {
        a_down,
        b_writable,
        vip_on_b,
    }
}

fn answers(t: &Target) -> bool {
    crate::rt::block_on(pgq::query(t, "SELECT 1", Duration::from_millis(100))).is_ok()
}

fn writable(t: &Target) -> bool {
    crate::rt::block_on(pgq::query(
        t,
        "SELECT pg_is_in_recovery()",
        Duration::from_millis(100),
    ))
    .is_ok_and(|r| pgq::scalar(&r) == Some("f"))
}
