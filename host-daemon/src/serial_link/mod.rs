//! The serial link: `twinbeat-protocol` frames over a serial device.
//!
//! ```text
//! let (link, mut events) = SerialLink::spawn(SerialConfig::new("/dev/ttyS0", 115200, cluster));
//! link.send(&frame)?;                 // non-blocking; NotOpen while the device is away
//! while let Some(event) = events.recv().await {
//!     match event {
//!         LinkEvent::Up => ..,                              // device (re)opened
//!         LinkEvent::Down { reason } => ..,                 // missing, unplugged, hung up
//!         LinkEvent::Frame { frame, .. } => ..,             // a valid frame of our cluster
//!         LinkEvent::Rejected { error } => ..,              // corrupt / foreign frame, dropped
//!     }
//! }
//! link.counters()                     // frames ok, each error kind, sent, reopen counts
//! ```
//!
//! The device is opened raw 8N1 without flow control (`serialport`; a pty works
//! too). A reader thread owns the open/read/reopen cycle and feeds a
//! [`Deframer`](twinbeat_protocol::Deframer); a writer thread writes encoded frames
//! (each already starts with 0x00, so the receiver resyncs after line noise)
//! through a clone of the same port. Blocking threads rather than tokio tasks
//! because `serialport` is a blocking API; both wake at least every
//! [`SerialConfig::poll`] to notice a shutdown. A device that is missing at start,
//! or that disappears (a USB adapter unplugged, the far end of a pty hung up), is
//! reported once as [`LinkEvent::Down`] and reopened with exponential back-off; the
//! path counts as down meanwhile. Dropping the [`SerialLink`] stops both threads.
//!
//! Frames go out in the wire version the peer last wrote in (the current one
//! until it is heard): during a rolling upgrade a peer still on the previous
//! version keeps understanding our pings and acks, so the serial path stays up
//! on both sides (`protocol/WIRE.md`, "Rolling upgrade").

mod reader;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serialport::TTYPort;
use tokio::sync::mpsc;
use twinbeat_protocol::{
    encode_as, ClusterId, Counters, DecodeError, EncodeError, Frame, WireVersion, MAX_FRAME_LEN,
};

use reader::reader;
use writer::writer;

/// Frames waiting for the writer thread; more than this means the line is stuck.
const SEND_QUEUE: usize = 32;
/// Events waiting for the driver.
const EVENT_QUEUE: usize = 256;

/// How to reach the serial device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SerialConfig {
    /// Device path, e.g. `/dev/ttyS0` or a pty link.
    pub device: PathBuf,
    /// Baud rate (ignored by ptys).
    pub baud: u32,
    /// Only frames of this cluster are accepted; others are counted and dropped.
    pub cluster: ClusterId,
    /// First delay before retrying a failed open; doubles up to `reopen_max`.
    pub reopen_min: Duration,
    /// Longest delay between two open attempts.
    pub reopen_max: Duration,
    /// Longest a thread blocks before it checks for shutdown; also the write timeout.
    pub poll: Duration,
}

impl SerialConfig {
    /// Defaults: reopen back-off 50 ms doubling to 2 s, poll 100 ms.
    pub(crate) fn new(device: impl Into<PathBuf>, baud: u32, cluster: ClusterId) -> Self {
        Self {
            device: device.into(),
            baud,
            cluster,
            reopen_min: Duration::from_millis(50),
            reopen_max: Duration::from_secs(2),
            poll: Duration::from_millis(100),
        }
    }
}

/// What the link reports to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkEvent {
    /// The device was opened (at start or after it came back).
    Up,
    /// The device could not be opened, or was lost; it is being retried.
    Down {
        /// Why, for the log.
        reason: String,
    },
    /// A valid frame of our cluster arrived.
    Frame {
        /// The frame.
        frame: Frame,
        /// The wire version it came in.
        version: WireVersion,
        /// When the bytes that completed it were read.
        received: Instant,
    },
    /// A frame was rejected (corrupt, foreign cluster, ...) and dropped.
    Rejected {
        /// Why.
        error: DecodeError,
    },
}

/// Counters of the link since it was spawned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkCounters {
    /// Frames decoded, and rejected frames per reason (`wrong_cluster` counts
    /// foreign-cluster frames).
    pub decode: Counters,
    /// Frames written to the device.
    pub frames_sent: u64,
    /// Frames refused by [`SerialLink::send`] because the device was not open.
    pub dropped_not_open: u64,
    /// Frames dropped because the write did not finish within `poll`.
    pub write_timeouts: u64,
    /// Writes that failed otherwise (the device is then reopened).
    pub write_errors: u64,
    /// Successful opens (1 + reopens).
    pub opens: u64,
    /// Failed open attempts.
    pub open_failures: u64,
}

/// Why [`SerialLink::send`] did not queue a frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The device is not open (missing, unplugged): the frame was dropped.
    #[error("the serial device is not open")]
    NotOpen,
    /// The writer is more than `SEND_QUEUE` frames behind.
    #[error("the serial send queue is full")]
    QueueFull,
    /// The frame could not be encoded.
    #[error("cannot encode the frame: {0:?}")]
    Encode(EncodeError),
    /// The link has shut down.
    #[error("the serial link has shut down")]
    Closed,
}

struct Shared {
    config: SerialConfig,
    stop: AtomicBool,
    open: AtomicBool,
    /// The driver asked to drop queued input (rule `pause-is-a-restart`); the reader
    /// does it before its next read.
    flush: AtomicBool,
    /// The wire version the peer last wrote in (its header byte); ours is
    /// written in it. Set by the reader, read by `send`.
    peer_version: AtomicU8,
    /// The writer's clone of the open port; `None` while the device is away.
    port: Mutex<Option<TTYPort>>,
    counters: Mutex<LinkCounters>,
}

impl Shared {
    fn counters(&self) -> MutexGuard<'_, LinkCounters> {
        // Counters stay meaningful even if a thread panicked while holding them.
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn port(&self) -> MutexGuard<'_, Option<TTYPort>> {
        self.port.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn peer_version(&self) -> WireVersion {
        WireVersion::from_byte(self.peer_version.load(Ordering::Acquire))
            .unwrap_or(WireVersion::CURRENT)
    }
}

/// A running serial link; see the module documentation.
pub(crate) struct SerialLink {
    shared: Arc<Shared>,
    outgoing: std_mpsc::SyncSender<Vec<u8>>,
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLink")
            .field("device", &self.shared.config.device)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        // The writer ends when `outgoing` is dropped; the reader within `poll`.
        self.shared.stop.store(true, Ordering::Release);
    }
}

impl SerialLink {
    /// Starts the reader and writer threads; the device is opened (and retried)
    /// by the reader. Needs no tokio runtime.
    pub(crate) fn spawn(config: SerialConfig) -> (SerialLink, mpsc::Receiver<LinkEvent>) {
        let shared = Arc::new(Shared {
            config,
            stop: AtomicBool::new(false),
            open: AtomicBool::new(false),
            flush: AtomicBool::new(false),
            peer_version: AtomicU8::new(WireVersion::CURRENT.byte()),
            port: Mutex::new(None),
            counters: Mutex::new(LinkCounters::default()),
        });
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (outgoing, outgoing_rx) = std_mpsc::sync_channel(SEND_QUEUE);
        let reader_shared = shared.clone();
        thread::Builder::new()
            .name("serial-reader".into())
            .spawn(move || reader(&reader_shared, &events))
            .map(drop)
            .unwrap_or_else(|error| tracing::error!(%error, "cannot start the serial reader"));
        let writer_shared = shared.clone();
        thread::Builder::new()
            .name("serial-writer".into())
            .spawn(move || writer(&writer_shared, &outgoing_rx))
            .map(drop)
            .unwrap_or_else(|error| tracing::error!(%error, "cannot start the serial writer"));
        (SerialLink { shared, outgoing }, events_rx)
    }

    /// Encodes `frame` in the version the peer speaks ([`SerialLink::peer_version`])
    /// and queues it for the writer. Never blocks.
    pub(crate) fn send(&self, frame: &Frame) -> Result<(), SendError> {
        if !self.is_open() {
            self.shared.counters().dropped_not_open += 1;
            return Err(SendError::NotOpen);
        }
        let mut bytes = vec![0; MAX_FRAME_LEN];
        let len = encode_as(frame, self.peer_version(), &mut bytes).map_err(SendError::Encode)?;
        bytes.truncate(len);
        self.send_raw(bytes)
    }

    /// Queues bytes as they are (tests inject line noise with it).
    pub(crate) fn send_raw(&self, bytes: Vec<u8>) -> Result<(), SendError> {
        self.outgoing.try_send(bytes).map_err(|error| match error {
            std_mpsc::TrySendError::Full(_) => SendError::QueueFull,
            std_mpsc::TrySendError::Disconnected(_) => SendError::Closed,
        })
    }

    /// The wire version the peer last wrote in, which [`SerialLink::send`]
    /// writes: the current one until a frame of the peer was heard.
    pub(crate) fn peer_version(&self) -> WireVersion {
        self.shared.peer_version()
    }

    /// Drops whatever input is queued on the device (the tty buffer) and any half
    /// frame, before the next read: frames that waited out a pause are no evidence
    /// (rule `hold-needs-evidence`). The reader does the same whenever it opens it.
    pub(crate) fn flush_input(&self) {
        self.shared.flush.store(true, Ordering::Release);
    }

    /// True while the device is open.
    pub(crate) fn is_open(&self) -> bool {
        self.shared.open.load(Ordering::Acquire)
    }

    /// A snapshot of the counters.
    pub(crate) fn counters(&self) -> LinkCounters {
        *self.shared.counters()
    }
}

#[cfg(test)]
mod tests;
