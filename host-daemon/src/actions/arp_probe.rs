//! The last fresh check before a promotion (rule `fresh-checks`): does anyone hold the VIP?
//!
//! A few ARP probes (sender IP 0.0.0.0, as RFC 5227, so no neighbour cache is
//! touched) tens of milliseconds apart instead of RFC 5227's seconds, which would
//! blow the failover budget. Any ARP from another MAC that claims the VIP as its
//! sender address (a reply, a gratuitous ARP, or its own probe answer) means the VIP
//! is held and the engine must not promote. Run it only while this node does not
//! hold the VIP itself (the kernel does not answer its own probes on the wire).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::arp::{ArpError, ArpFrame, PacketSocket, BROADCAST, OP_REQUEST};

/// How to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbeOptions {
    /// Number of probes.
    pub count: u32,
    /// Gap between probes; the listening goes on one more gap after the last one.
    pub interval: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            count: 3,
            interval: Duration::from_millis(30),
        }
    }
}

/// What the probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeOutcome {
    /// Nobody answered within `count` × `interval`.
    Free,
    /// Someone claims the VIP.
    Held {
        /// Its MAC address.
        by: [u8; 6],
        /// How long after the first probe it was seen.
        after: Duration,
    },
}

/// Probes for `vip` on `interface`; bounded by `count` × `interval` plus the socket
/// set-up. Errors (e.g. no CAP_NET_RAW) mean "could not check", which the engine
/// must treat as a failed fresh check.
pub(crate) async fn probe_vip(
    interface: &str,
    vip: Ipv4Addr,
    opts: ProbeOptions,
) -> Result<ProbeOutcome, ArpError> {
    let iface = interface.to_owned();
    tokio::task::spawn_blocking(move || probe_blocking(&iface, vip, opts))
        .await
        .map_err(|e| ArpError::Task(e.to_string()))?
}

fn probe_blocking(
    interface: &str,
    vip: Ipv4Addr,
    opts: ProbeOptions,
) -> Result<ProbeOutcome, ArpError> {
    let tick = Duration::from_millis(2);
    let mut sock = PacketSocket::open(interface, tick)?;
    let probe = ArpFrame {
        op: OP_REQUEST,
        sender_mac: sock.mac,
        sender_ip: Ipv4Addr::UNSPECIFIED,
        target_mac: [0; 6],
        target_ip: vip,
    }
    .encode(BROADCAST);
    let start = Instant::now();
    let end = opts.interval * (opts.count.max(1) + 1).min(1000);
    let mut sent = 0u32;
    loop {
        let elapsed = start.elapsed();
        if sent < opts.count.max(1) && elapsed >= opts.interval * sent {
            sock.send(&probe)?;
            sent += 1;
        }
        if elapsed >= end {
            return Ok(ProbeOutcome::Free);
        }
        if let Some(arp) = sock.next_arp()? {
            if arp.sender_ip == vip && arp.sender_mac != sock.mac {
                return Ok(ProbeOutcome::Held {
                    by: arp.sender_mac,
                    after: start.elapsed(),
                });
            }
        }
    }
}
