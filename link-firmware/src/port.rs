//! One side of the bridge: its serial port, the deframer for what comes in,
//! and the queue of whole frames waiting to go out.

use embedded_io::{Write, WriteReady};
use heapless::Deque;
use twinbeat_protocol::{ClusterFilter, Deframer, Side, MAX_FRAME_LEN};

/// Bytes taken from a port per read call.
pub const RX_CHUNK: usize = 32;

/// Bytes of whole frames that may wait for one port's transmitter: four
/// frames of the largest size a receiver accepts (684 B: 25 typical 27-byte
/// heartbeats, and more than the eight largest frames of wire version 2 took).
/// A UART drains at the same rate the other side's fills, so this only absorbs
/// bursts (a forwarded frame and a status frame at once, say); beyond it frames
/// are dropped and counted rather than blocking the loop while the other
/// side's receive FIFO overflows.
pub const TX_CAPACITY: usize = 4 * MAX_FRAME_LEN;

/// One side of the bridge.
pub(crate) struct Port<P> {
    /// The serial port.
    pub(crate) io: P,
    /// Which side this is.
    pub(crate) side: Side,
    /// Accepts any cluster: the bridge itself decides which one it adopted.
    pub(crate) deframer: Deframer<MAX_FRAME_LEN>,
    /// Bytes waiting to be written to `io`.
    pub(crate) tx: TxQueue,
}

impl<P> Port<P> {
    pub(crate) fn new(io: P, side: Side) -> Self {
        Port {
            io,
            side,
            deframer: Deframer::new(ClusterFilter::Any),
            tx: TxQueue::new(),
        }
    }
}

/// Outgoing bytes of one port. Frames go in whole or not at all, so a full
/// queue never puts half a frame on the line.
pub(crate) struct TxQueue {
    bytes: Deque<u8, TX_CAPACITY>,
}

impl TxQueue {
    pub(crate) const fn new() -> Self {
        TxQueue {
            bytes: Deque::new(),
        }
    }

    /// Queues the concatenation of `parts` if it all fits; returns whether it did.
    pub(crate) fn push_all(&mut self, parts: &[&[u8]]) -> bool {
        let total = parts.iter().map(|p| p.len()).sum::<usize>();
        if TX_CAPACITY - self.bytes.len() < total {
            return false;
        }
        for byte in parts.iter().flat_map(|p| p.iter()) {
            // Cannot fail: room was checked above.
            let _ = self.bytes.push_back(*byte);
        }
        true
    }

    /// Queues a received frame's COBS bytes between two delimiters, exactly
    /// as a sender would have put them on the line.
    pub(crate) fn push_framed(&mut self, raw: &[u8]) -> bool {
        self.push_all(&[&[0], raw, &[0]])
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes as much as the port takes without blocking.
    pub(crate) fn drain_into<W: Write + WriteReady>(
        &mut self,
        port: &mut W,
    ) -> Result<(), W::Error> {
        while !self.bytes.is_empty() && port.write_ready()? {
            let (front, _) = self.bytes.as_slices();
            let written = port.write(front)?;
            if written == 0 {
                break;
            }
            for _ in 0..written {
                self.bytes.pop_front();
            }
        }
        Ok(())
    }
}
