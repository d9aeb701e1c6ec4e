//! In-memory stand-ins for the board: ports, clock, LED, watchdog.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use twinbeat_protocol::{
    encode, Ack, ClusterFilter, ClusterId, Deframer, Extensions, Feed, Frame, Message, NodeId,
    NodeState, Ping, Role, MAX_FRAME_LEN,
};

use crate::{Bridge, BridgeConfig, Clock, Watchdog};

/// A serial port: `rx` is what the host sent (the bridge reads it), `tx` what
/// the bridge wrote to the host.
#[derive(Default)]
pub(super) struct MemPort {
    pub(super) rx: VecDeque<u8>,
    pub(super) tx: Vec<u8>,
    /// Bytes the transmitter accepts before it is "full"; `None` = unlimited.
    pub(super) tx_room: Option<usize>,
    /// The next `read_ready` reports an error (then clears).
    pub(super) fail_next_read: bool,
}

impl MemPort {
    /// Everything written so far, emptied.
    pub(super) fn take_tx(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tx)
    }
}

impl ErrorType for MemPort {
    type Error = ErrorKind;
}

impl Read for MemPort {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.rx.len());
        for (slot, byte) in buf.iter_mut().zip(self.rx.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl ReadReady for MemPort {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        if std::mem::take(&mut self.fail_next_read) {
            return Err(ErrorKind::Other);
        }
        Ok(!self.rx.is_empty())
    }
}

impl Write for MemPort {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = self.tx_room.map_or(buf.len(), |room| room.min(buf.len()));
        self.tx.extend_from_slice(&buf[..n]);
        if let Some(room) = self.tx_room.as_mut() {
            *room -= n;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl WriteReady for MemPort {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(self.tx_room != Some(0))
    }
}

/// A clock the test moves by hand.
#[derive(Clone, Default)]
pub(super) struct TestClock(Rc<Cell<u32>>);

impl TestClock {
    pub(super) fn starting_at(ms: u32) -> Self {
        TestClock(Rc::new(Cell::new(ms)))
    }

    pub(super) fn advance(&self, ms: u32) {
        self.0.set(self.0.get().wrapping_add(ms));
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u32 {
        self.0.get()
    }
}

/// An LED that remembers its level and how often it was switched.
#[derive(Default)]
pub(super) struct MockLed {
    pub(super) on: bool,
    pub(super) writes: u32,
}

impl embedded_hal::digital::ErrorType for MockLed {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for MockLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.on = false;
        self.writes += 1;
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.on = true;
        self.writes += 1;
        Ok(())
    }
}

/// Counts feeds.
#[derive(Default)]
pub(super) struct FeedCount(pub(super) u32);

impl Watchdog for FeedCount {
    fn feed(&mut self) {
        self.0 += 1;
    }
}

pub(super) type TestBridge = Bridge<MemPort, MemPort, TestClock, MockLed, FeedCount>;

/// A bridge with default config and its clock.
pub(super) fn rig() -> (TestBridge, TestClock) {
    rig_with(BridgeConfig::DEFAULT, 1_000)
}

pub(super) fn rig_with(config: BridgeConfig, start_ms: u32) -> (TestBridge, TestClock) {
    let clock = TestClock::starting_at(start_ms);
    let bridge = Bridge::new(
        MemPort::default(),
        MemPort::default(),
        clock.clone(),
        MockLed::default(),
        FeedCount::default(),
        config,
    )
    .expect("default config is valid");
    (bridge, clock)
}

pub(super) const CLUSTER: ClusterId = ClusterId(0x5EED_0001);

fn state(role: Role) -> NodeState {
    NodeState {
        role,
        term: 4,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 0x0300_0060,
    }
}

/// The exact bytes a host puts on the line for `frame`.
pub(super) fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = encode(frame, &mut out).expect("encodes");
    out[..n].to_vec()
}

pub(super) fn ping(cluster: ClusterId, seq: u32) -> Frame {
    Frame {
        cluster,
        sender: NodeId(2),
        message: Message::Ping(Ping {
            seq,
            state: state(Role::Standby),
            extensions: Extensions::NONE,
        }),
    }
}

pub(super) fn ack(cluster: ClusterId, seq: u32) -> Frame {
    Frame {
        cluster,
        sender: NodeId(1),
        message: Message::Ack(Ack {
            seq,
            state: state(Role::Primary),
            extensions: Extensions::NONE,
        }),
    }
}

pub(super) fn status_request(cluster: ClusterId) -> Frame {
    Frame {
        cluster,
        sender: NodeId(1),
        message: Message::BridgeStatusRequest,
    }
}

/// `0x00 · COBS(header · body · CRC-32C) · 0x00` for any version, kind and
/// body, valid or not for a host: what a bridge must forward on its envelope alone.
pub(super) fn forge(version: u8, kind: u8, cluster: ClusterId, body: &[u8]) -> Vec<u8> {
    let mut raw = vec![version, kind];
    raw.extend_from_slice(&cluster.0.to_le_bytes());
    raw.extend_from_slice(&2u32.to_le_bytes());
    raw.extend_from_slice(body);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut out = vec![0u8; cobs::max_encoding_length(raw.len()) + 2];
    let n = cobs::encode(&raw, &mut out[1..]);
    out.truncate(n + 2);
    out
}

/// Every frame in `bytes`, as a host would decode it; panics on a bad one.
pub(super) fn frames_in(bytes: &[u8]) -> Vec<Frame> {
    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Any);
    let mut frames = Vec::new();
    let mut window = bytes;
    while !window.is_empty() {
        match deframer.feed(window) {
            Feed::Consumed => break,
            Feed::Frame {
                frame, remaining, ..
            } => {
                frames.push(frame);
                window = remaining;
            }
            Feed::Error { error, .. } => panic!("bridge wrote a bad frame: {error}"),
        }
    }
    frames
}
