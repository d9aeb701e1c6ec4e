//! ICMP echo to the peer and to the gateway, with surge-ping.
//!
//! ```text
//! let prober = IcmpProber::new(64);                       // inside a tokio runtime
//! let mut peer = prober.target("10.0.0.12".parse()?).await?;
//! match peer.attempt(Duration::from_millis(100)).await {
//!     IcmpOutcome::Reply { rtt, seq } => ..,
//!     IcmpOutcome::Failed(error) => ..,                     // timeout, send error
//! }
//! ```
//!
//! One long-lived surge-ping [`Client`] (one socket and one receive task) per
//! address family serves every target, so a 1 kHz ICMP path costs one
//! `sendto` + one `recvfrom` per attempt and no process or socket churn
//! (iputils `ping -i 0.001` burns a core here). The socket is an unprivileged
//! ICMP datagram socket where `net.ipv4.ping_group_range` allows it, a raw
//! socket otherwise (the daemon runs as root). Every attempt gets its own
//! sequence number from a counter shared by all targets of a prober, so replies
//! match attempts even when two targets are the same address, and a late reply
//! never counts for a later attempt.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use surge_ping::{Client, Config, PingIdentifier, PingSequence, Pinger, SurgeError, ICMP};

/// Bytes of payload in each echo request (the reply echoes them back).
const PAYLOAD: [u8; 16] = *b"twinbeat-icmp-v1";

/// Errors of the ICMP path.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    /// The ICMP socket could not be opened (no privilege, family disabled).
    #[error("cannot open the ICMP socket: {0}")]
    Socket(std::io::Error),
    /// No echo reply within the attempt's timeout.
    #[error("no echo reply within the timeout")]
    Timeout,
    /// The request could not be sent (no route, interface down, ...).
    #[error("cannot send the echo request: {0}")]
    Send(std::io::Error),
    /// Any other failure reported by surge-ping (malformed reply, client gone).
    #[error("ICMP error: {0}")]
    Other(String),
}

/// The result of one attempt.
#[derive(Debug)]
pub enum IcmpOutcome {
    /// An echo reply arrived in time.
    Reply {
        /// Round-trip time measured by surge-ping (send to receive).
        rtt: Duration,
        /// The sequence number of the attempt.
        seq: u16,
    },
    /// The attempt failed.
    Failed(IcmpError),
}

impl IcmpOutcome {
    /// True for [`IcmpOutcome::Reply`].
    pub fn is_ok(&self) -> bool {
        matches!(self, IcmpOutcome::Reply { .. })
    }
}

/// Owns the ICMP sockets (one per address family, opened on first use).
#[derive(Clone)]
pub struct IcmpProber {
    inner: Arc<ProberInner>,
}

struct ProberInner {
    ttl: u32,
    // In an Arc because dropping any clone of a surge-ping 0.8 `Client` marks
    // the shared client destroyed: there must be exactly one `Client` value.
    v4: Mutex<Option<Arc<Client>>>,
    v6: Mutex<Option<Arc<Client>>>,
    seq: AtomicU16,
    ident: u16,
}

impl std::fmt::Debug for IcmpProber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcmpProber")
            .field("ttl", &self.inner.ttl)
            .field("ident", &self.inner.ident)
            .finish()
    }
}

impl IcmpProber {
    /// A prober whose echo requests carry `ttl` (hop limit on IPv6). Opens no
    /// socket yet; [`IcmpProber::target`] does, and must run inside a tokio
    /// runtime (the client spawns its receive task).
    pub fn new(ttl: u32) -> Self {
        Self {
            inner: Arc::new(ProberInner {
                ttl,
                v4: Mutex::new(None),
                v6: Mutex::new(None),
                seq: AtomicU16::new(0),
                // Raw sockets see every echo reply on the host: tell ours apart
                // from another daemon's or a ping(8)'s by the identifier.
                ident: {
                    let [a, b, _, _] = std::process::id().to_le_bytes();
                    u16::from_le_bytes([a, b])
                },
            }),
        }
    }

    /// A target to probe; opens the family's socket the first time.
    pub async fn target(&self, address: IpAddr) -> Result<IcmpTarget, IcmpError> {
        let client = self.client(address)?;
        let pinger = client
            .pinger(address, PingIdentifier(self.inner.ident))
            .await;
        Ok(IcmpTarget {
            pinger,
            prober: self.inner.clone(),
            address,
        })
    }

    fn client(&self, address: IpAddr) -> Result<Arc<Client>, IcmpError> {
        let (slot, kind) = match address {
            IpAddr::V4(_) => (&self.inner.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.inner.v6, ICMP::V6),
        };
        // A poisoned lock only means another thread panicked while opening:
        // the slot itself is still a valid Option.
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let config = Config::builder().kind(kind).ttl(self.inner.ttl).build();
        let client = Arc::new(Client::new(&config).map_err(IcmpError::Socket)?);
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// One address being probed (the peer or the gateway).
pub struct IcmpTarget {
    pinger: Pinger,
    prober: Arc<ProberInner>,
    address: IpAddr,
}

impl std::fmt::Debug for IcmpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcmpTarget")
            .field("address", &self.address)
            .finish()
    }
}

impl IcmpTarget {
    /// The probed address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Sends one echo request and waits up to `timeout` for its reply.
    pub async fn attempt(&mut self, timeout: Duration) -> IcmpOutcome {
        let seq = self.prober.seq.fetch_add(1, Ordering::Relaxed);
        self.pinger.timeout(timeout);
        match self.pinger.ping(PingSequence(seq), &PAYLOAD).await {
            Ok((_packet, rtt)) => IcmpOutcome::Reply { rtt, seq },
            Err(SurgeError::Timeout { .. }) => IcmpOutcome::Failed(IcmpError::Timeout),
            Err(SurgeError::IOError(error)) => IcmpOutcome::Failed(IcmpError::Send(error)),
            Err(other) => IcmpOutcome::Failed(IcmpError::Other(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
