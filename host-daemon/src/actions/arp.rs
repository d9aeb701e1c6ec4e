//! ARP on an AF_PACKET socket: gratuitous announcements after taking the VIP, and
//! the frames the pre-promotion probe ([`super::arp_probe`]) sends and reads.
//!
//! The socket work is blocking (pnet's datalink channel with a read timeout), so it
//! runs on tokio's blocking pool; the network namespace is the one of the thread
//! that created the runtime's blocking threads (the daemon runs in one namespace).
//!
//! IPv6 VIPs get unsolicited neighbour advertisements instead ([`super::ndp`]).

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender, MacAddr};

/// Length of an ARP-over-Ethernet frame without padding.
pub(crate) const ARP_FRAME_LEN: usize = 42;
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
/// ARP opcode: request.
pub(crate) const OP_REQUEST: u16 = 1;

/// Errors of the ARP side.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArpError {
    /// No interface has this name.
    #[error("ARP: no interface named {0:?}")]
    NoSuchInterface(String),
    /// The interface has no MAC address (not Ethernet-like).
    #[error("ARP: interface {0:?} has no MAC address")]
    NoMac(String),
    /// Opening, sending on or reading the packet socket failed (EPERM: no CAP_NET_RAW).
    #[error("ARP: {op} on {interface}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The interface.
        interface: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The blocking task died (a panic), which should not happen.
    #[error("ARP: worker task failed: {0}")]
    Task(String),
}

/// A parsed ARP frame (Ethernet/IPv4 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArpFrame {
    /// Opcode ([`OP_REQUEST`] or [`OP_REPLY`]).
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: [u8; 6],
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// The Ethernet + ARP bytes, sent to `eth_dst`.
    pub(crate) fn encode(&self, eth_dst: [u8; 6]) -> [u8; ARP_FRAME_LEN] {
        let mut f = [0u8; ARP_FRAME_LEN];
        f[0..6].copy_from_slice(&eth_dst);
        f[6..12].copy_from_slice(&self.sender_mac);
        f[12..14].copy_from_slice(&ETHERTYPE_ARP);
        f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
        f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
        f[18] = 6;
        f[19] = 4;
        f[20..22].copy_from_slice(&self.op.to_be_bytes());
        f[22..28].copy_from_slice(&self.sender_mac);
        f[28..32].copy_from_slice(&self.sender_ip.octets());
        f[32..38].copy_from_slice(&self.target_mac);
        f[38..42].copy_from_slice(&self.target_ip.octets());
        f
    }

    /// Parses an Ethernet frame; `None` if it is not Ethernet/IPv4 ARP.
    pub(crate) fn decode(frame: &[u8]) -> Option<Self> {
        let b = frame.get(..ARP_FRAME_LEN)?;
        if b[12..14] != ETHERTYPE_ARP || b[14..20] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        let mac = |r: std::ops::Range<usize>| -> [u8; 6] { b[r].try_into().unwrap_or([0; 6]) };
        let ip = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        Some(Self {
            op: u16::from_be_bytes([b[20], b[21]]),
            sender_mac: mac(22..28),
            sender_ip: ip(28),
            target_mac: mac(32..38),
            target_ip: ip(38),
        })
    }

    /// A gratuitous ARP request announcing `ip` at `mac` (sender = target = `ip`).
    pub(crate) fn gratuitous(mac: [u8; 6], ip: Ipv4Addr) -> Self {
        Self {
            op: OP_REQUEST,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: [0; 6],
            target_ip: ip,
        }
    }
}

/// The Ethernet broadcast address.
pub(crate) const BROADCAST: [u8; 6] = [0xff; 6];

/// An open AF_PACKET channel on one interface.
pub(crate) struct PacketSocket {
    pub(crate) interface: String,
    pub(crate) mac: [u8; 6],
    tx: Box<dyn DataLinkSender>,
    rx: Box<dyn DataLinkReceiver>,
}

impl PacketSocket {
    /// Opens the interface; reads time out after `read_timeout`.
    pub(crate) fn open(interface: &str, read_timeout: Duration) -> Result<Self, ArpError> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == interface)
            .ok_or_else(|| ArpError::NoSuchInterface(interface.to_owned()))?;
        let mac = iface
            .mac
            .filter(|m| *m != MacAddr::zero())
            .ok_or_else(|| ArpError::NoMac(interface.to_owned()))?;
        let config = pnet_datalink::Config {
            read_timeout: Some(read_timeout),
            write_timeout: Some(Duration::from_millis(200)),
            promiscuous: false,
            ..Default::default()
        };
        let io_err = |source| ArpError::Io {
            op: "open packet socket",
            interface: interface.to_owned(),
            source,
        };
        match pnet_datalink::channel(&iface, config).map_err(io_err)? {
            Channel::Ethernet(tx, rx) => Ok(Self {
                interface: interface.to_owned(),
                mac: mac.octets(),
                tx,
                rx,
            }),
            _ => Err(io_err(io::Error::other("not an Ethernet channel"))),
        }
    }

    /// Sends one frame.
    pub(crate) fn send(&mut self, frame: &[u8]) -> Result<(), ArpError> {
        let r = self
            .tx
            .send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("send_to gave no result")));
        r.map_err(|source| ArpError::Io {
            op: "send",
            interface: self.interface.clone(),
            source,
        })
    }

    /// The next ARP frame, or `None` on the read timeout.
    pub(crate) fn next_arp(&mut self) -> Result<Option<ArpFrame>, ArpError> {
        loop {
            match self.rx.next() {
                Ok(frame) => {
                    if let Some(arp) = ArpFrame::decode(frame) {
                        return Ok(Some(arp));
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Ok(None)
                }
                Err(source) => {
                    return Err(ArpError::Io {
                        op: "receive",
                        interface: self.interface.clone(),
                        source,
                    })
                }
            }
        }
    }
}

/// Gratuitous announcements in progress.
#[derive(Debug)]
pub(crate) struct GarpHandle {
    first_sent_at: Instant,
    cancel: Arc<AtomicBool>,
    // Awaited by `finish`, which only the tests call: the driver cancels announcements,
    // it never waits for them.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests' `finish`"))]
    task: tokio::task::JoinHandle<Result<u32, ArpError>>,
}

impl GarpHandle {
    /// When the first announcement left.
    pub(crate) fn first_sent_at(&self) -> Instant {
        self.first_sent_at
    }

    /// Stops the remaining announcements (call it when the VIP is released).
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the remaining announcements; returns how many were sent in all.
    #[cfg(test)]
    pub(crate) async fn finish(self) -> Result<u32, ArpError> {
        self.task.await.map_err(|e| ArpError::Task(e.to_string()))?
    }
}

/// Sends `count` gratuitous ARPs for `ip` on `interface`: the first before this
/// returns, the rest `interval` apart in the background.
pub(crate) async fn announce(
    interface: &str,
    ip: Ipv4Addr,
    count: u32,
    interval: Duration,
) -> Result<GarpHandle, ArpError> {
    announce_frames(interface, count, interval, move |mac| {
        ArpFrame::gratuitous(mac, ip).encode(BROADCAST).to_vec()
    })
    .await
}

/// Sends `count` copies of the frame `build` makes from the interface's MAC (a
/// gratuitous ARP, or an IPv6 unsolicited neighbour advertisement): the first before
/// this returns, the rest `interval` apart in the background until cancelled.
pub(crate) async fn announce_frames(
    interface: &str,
    count: u32,
    interval: Duration,
    build: impl FnOnce([u8; 6]) -> Vec<u8> + Send + 'static,
) -> Result<GarpHandle, ArpError> {
    let iface = interface.to_owned();
    let first = tokio::task::spawn_blocking(move || {
        let mut sock = PacketSocket::open(&iface, Duration::from_millis(10))?;
        let frame = build(sock.mac);
        sock.send(&frame)?;
        Ok::<_, ArpError>((sock, frame, Instant::now()))
    })
    .await
    .map_err(|e| ArpError::Task(e.to_string()))?;
    let (mut sock, frame, first_sent_at) = first?;
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut sent = 1;
        while sent < count {
            std::thread::sleep(interval);
            if flag.load(Ordering::Relaxed) {
                break;
            }
            sock.send(&frame)?;
            sent += 1;
        }
        Ok(sent)
    });
    Ok(GarpHandle {
        first_sent_at,
        cancel,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips() {
        let f = ArpFrame::gratuitous([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 1, 2, 3));
        let bytes = f.encode(BROADCAST);
        assert_eq!(&bytes[0..6], &BROADCAST);
        assert_eq!(ArpFrame::decode(&bytes), Some(f));
        assert_eq!(ArpFrame::decode(&bytes[..41]), None);
        let mut ip = bytes;
        ip[13] = 0x00; // ethertype IPv4, not ARP
        assert_eq!(ArpFrame::decode(&ip), None);
    }
}
