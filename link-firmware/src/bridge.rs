//! The bridge's main-loop step: read both sides, forward, report, show, feed.
//!
//! Frames are forwarded on their envelope alone (COBS, CRC, version, cluster;
//! rule `bridge-verdict`): the bridge never decodes a body, so a field added
//! to a Ping or Ack later passes through firmware that does not know it.

use embedded_hal::digital::OutputPin;
use embedded_io::{Read, ReadReady, Write, WriteReady};
use twinbeat_protocol::{
    encode_as, BridgeStatus, ClusterId, DecodeError, Envelope, Feed, Frame, Kind, Message, NodeId,
    Side, WireVersion, MAX_FRAME_LEN,
};

use crate::port::{Port, TxQueue, RX_CHUNK};
use crate::report::{Counters, LedView};
use crate::{BridgeConfig, Clock, ConfigError, Watchdog};

/// Read calls per side per [`Bridge::poll`], so a chatty side cannot starve
/// the other side or the watchdog.
const READS_PER_POLL: usize = 4;

/// The heartbeat bridge between two serial ports `A` and `B`.
pub struct Bridge<A, B, C, L, W> {
    a: Port<A>,
    b: Port<B>,
    clock: C,
    led: L,
    watchdog: W,
    state: State,
}

/// Everything that is not generic, so frame handling is written once for both sides.
struct State {
    config: BridgeConfig,
    /// Clock reading at the previous step.
    last_now: u32,
    uptime_ms: u32,
    /// Time since the last periodic status (saturating).
    since_status: u32,
    cluster: Option<ClusterId>,
    /// Time since a frame of the adopted cluster came in (saturating).
    since_cluster: u32,
    /// Time since a valid frame came in on side A and side B; `None` = never.
    since: [Option<u32>; 2],
    /// The version side A's and side B's host last wrote in: the bridge's
    /// status goes to each in it, so a host not yet upgraded still reads it.
    speaks: [WireVersion; 2],
    counters: Counters,
    /// The LED level last written; `None` before the first write.
    led_on: Option<bool>,
}

impl<A, B, C, L, W> Bridge<A, B, C, L, W>
where
    A: Read + ReadReady + Write + WriteReady,
    B: Read + ReadReady + Write + WriteReady,
    C: Clock,
    L: OutputPin,
    W: Watchdog,
{
    /// A bridge between port `a` (side A) and port `b` (side B). Uptime counts
    /// from this call. The LED is set on the first [`Bridge::poll`].
    pub fn new(
        a: A,
        b: B,
        clock: C,
        led: L,
        watchdog: W,
        config: BridgeConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let now = clock.now_ms();
        Ok(Bridge {
            a: Port::new(a, Side::A),
            b: Port::new(b, Side::B),
            clock,
            led,
            watchdog,
            state: State {
                config,
                last_now: now,
                uptime_ms: 0,
                since_status: 0,
                cluster: None,
                since_cluster: 0,
                since: [None, None],
                speaks: [WireVersion::CURRENT; 2],
                counters: Counters::default(),
                led_on: None,
            },
        })
    }

    /// One main-loop step; never blocks on a port. Reads what is ready on
    /// each side and forwards or answers every complete frame, sends the
    /// periodic status when due, writes what each transmitter takes, updates
    /// the LED, and feeds the watchdog last, so the watchdog only sees a loop
    /// that completed.
    pub fn poll(&mut self) {
        let now = self.clock.now_ms();
        self.state.advance(now);

        pump_rx(&mut self.a, &mut self.b.tx, &mut self.state);
        pump_rx(&mut self.b, &mut self.a.tx, &mut self.state);

        if self.state.since_status >= self.state.config.status_interval_ms
            && self.state.cluster.is_some()
        {
            self.state.since_status = 0;
            self.state.queue_status(Side::A, &mut self.a.tx);
            self.state.queue_status(Side::B, &mut self.b.tx);
        }

        if self.a.tx.drain_into(&mut self.a.io).is_err() {
            self.state.counters.port_errors = self.state.counters.port_errors.wrapping_add(1);
        }
        if self.b.tx.drain_into(&mut self.b.io).is_err() {
            self.state.counters.port_errors = self.state.counters.port_errors.wrapping_add(1);
        }

        self.update_led();
        self.watchdog.feed();
    }

    fn update_led(&mut self) {
        let on = match self.view() {
            LedView::BothHeard => true,
            LedView::BothSilent => false,
            LedView::OneSilent => {
                (self.state.uptime_ms / self.state.config.blink_half_period_ms) % 2 == 0
            }
        };
        if self.state.led_on == Some(on) {
            return;
        }
        let result = if on {
            self.led.set_high()
        } else {
            self.led.set_low()
        };
        match result {
            Ok(()) => self.state.led_on = Some(on),
            // Left unrecorded so the next step tries again.
            Err(_) => {
                self.state.counters.led_errors = self.state.counters.led_errors.wrapping_add(1)
            }
        }
    }
}

impl<A, B, C, L, W> Bridge<A, B, C, L, W> {
    /// What the LED shows (as of the last step).
    pub fn view(&self) -> LedView {
        let recent = |since: Option<u32>| since.is_some_and(|ms| ms < self.state.config.recent_ms);
        match (recent(self.state.since[0]), recent(self.state.since[1])) {
            (true, true) => LedView::BothHeard,
            (false, false) => LedView::BothSilent,
            _ => LedView::OneSilent,
        }
    }

    /// The status the bridge would send on `to_side` now (as of the last step).
    pub fn status(&self, to_side: Side) -> BridgeStatus {
        self.state.status(to_side)
    }

    /// The cluster id adopted, if any frame was heard yet.
    pub fn cluster(&self) -> Option<ClusterId> {
        self.state.cluster
    }

    /// The counters since start.
    pub fn counters(&self) -> &Counters {
        &self.state.counters
    }

    /// The configuration in force.
    pub fn config(&self) -> &BridgeConfig {
        &self.state.config
    }

    /// Bytes waiting for side A's and side B's transmitters.
    pub fn tx_pending(&self) -> (usize, usize) {
        (self.a.tx.len(), self.b.tx.len())
    }

    /// Side A's port (tests inject and collect bytes through it).
    pub fn port_a_mut(&mut self) -> &mut A {
        &mut self.a.io
    }

    /// Side B's port.
    pub fn port_b_mut(&mut self) -> &mut B {
        &mut self.b.io
    }

    /// The LED pin.
    pub fn led(&self) -> &L {
        &self.led
    }

    /// The watchdog.
    pub fn watchdog(&self) -> &W {
        &self.watchdog
    }
}

/// Reads what `from` has ready and handles every frame in it.
fn pump_rx<P: Read + ReadReady>(from: &mut Port<P>, to: &mut TxQueue, state: &mut State) {
    let mut buf = [0u8; RX_CHUNK];
    for _ in 0..READS_PER_POLL {
        let got = match from.io.read_ready() {
            Ok(false) => break,
            Ok(true) => from.io.read(&mut buf),
            Err(error) => Err(error),
        };
        let Ok(n) = got else {
            state.counters.port_errors = state.counters.port_errors.wrapping_add(1);
            break;
        };
        let mut window = buf.get(..n).unwrap_or(&[]);
        if window.is_empty() {
            break;
        }
        while !window.is_empty() {
            match from.deframer.feed_envelope(window) {
                Feed::Consumed => break,
                Feed::Frame {
                    frame,
                    version,
                    raw,
                    remaining,
                } => {
                    state.on_frame(from.side, &frame, version, raw, &mut from.tx, to);
                    window = remaining;
                }
                Feed::Error { error, remaining } => {
                    state.on_error(error);
                    window = remaining;
                }
            }
        }
    }
}

const fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl State {
    /// Moves every "time since" forward by the time elapsed since the last step.
    fn advance(&mut self, now: u32) {
        let elapsed = now.wrapping_sub(self.last_now);
        self.last_now = now;
        // Uptime wraps like the clock (the protocol says so); the "since"
        // values saturate so a long silence never looks recent again.
        self.uptime_ms = self.uptime_ms.wrapping_add(elapsed);
        self.since_status = self.since_status.saturating_add(elapsed);
        self.since_cluster = self.since_cluster.saturating_add(elapsed);
        for since in self.since.iter_mut().flatten() {
            *since = since.saturating_add(elapsed);
        }
    }

    fn on_frame(
        &mut self,
        from: Side,
        envelope: &Envelope,
        version: WireVersion,
        raw: &[u8],
        own: &mut TxQueue,
        other: &mut TxQueue,
    ) {
        if !self.accept_cluster(envelope.cluster) {
            self.counters.foreign_cluster = self.counters.foreign_cluster.wrapping_add(1);
            return;
        }
        self.since[index(from)] = Some(0);
        self.speaks[index(from)] = version;
        match envelope.known_kind() {
            // Addressed to the bridge itself: answered on the side it came
            // from, not forwarded (the peer did not ask). Its body, empty by
            // the protocol, is not looked at.
            Some(Kind::BridgeStatusRequest) => {
                self.counters.requests_answered = self.counters.requests_answered.wrapping_add(1);
                self.queue_status(from, own);
            }
            // Every other kind, known here or not, goes through unchanged.
            _ => {
                if !other.push_framed(raw) {
                    self.counters.tx_overflow = self.counters.tx_overflow.wrapping_add(1);
                    return;
                }
                let forwarded = match from {
                    Side::A => &mut self.counters.forwarded_a_to_b,
                    Side::B => &mut self.counters.forwarded_b_to_a,
                };
                *forwarded = forwarded.wrapping_add(1);
            }
        }
    }

    /// Adopts `id` if no cluster is adopted yet or the adopted one has been
    /// silent for `readopt_after_ms`; returns whether `id` is the cluster now.
    fn accept_cluster(&mut self, id: ClusterId) -> bool {
        match self.cluster {
            Some(adopted) if adopted == id => {}
            Some(_) if self.since_cluster < self.config.readopt_after_ms => return false,
            _ => {
                self.cluster = Some(id);
                self.counters.adoptions = self.counters.adoptions.wrapping_add(1);
            }
        }
        self.since_cluster = 0;
        true
    }

    fn on_error(&mut self, error: DecodeError) {
        // The deframer accepts any cluster, so WrongCluster cannot come from
        // it; counted with the foreign frames all the same.
        let counter = match error {
            DecodeError::WrongCluster(_) => &mut self.counters.foreign_cluster,
            _ => &mut self.counters.corrupt,
        };
        *counter = counter.wrapping_add(1);
    }

    fn status(&self, to_side: Side) -> BridgeStatus {
        BridgeStatus {
            uptime_ms: self.uptime_ms,
            since_a_ms: self.since[0],
            since_b_ms: self.since[1],
            frames_dropped: self.counters.frames_dropped(),
            to_side,
        }
    }

    /// Queues a status frame for `to_side`, in the version that side's host
    /// speaks. Nothing is sent before a cluster is adopted: hosts drop frames
    /// of the wrong cluster, and until a host has spoken the bridge cannot
    /// know theirs.
    fn queue_status(&mut self, to_side: Side, tx: &mut TxQueue) {
        let Some(cluster) = self.cluster else { return };
        let frame = Frame {
            cluster,
            sender: NodeId::BRIDGE,
            message: Message::BridgeStatus(self.status(to_side)),
        };
        let mut wire = [0u8; MAX_FRAME_LEN];
        let queued = match encode_as(&frame, self.speaks[index(to_side)], &mut wire) {
            Ok(n) => tx.push_all(&[wire.get(..n).unwrap_or(&[])]),
            Err(_) => false,
        };
        let counter = if queued {
            &mut self.counters.status_sent
        } else {
            &mut self.counters.status_skipped
        };
        *counter = counter.wrapping_add(1);
    }
}
