//! Unsolicited neighbour advertisements for an IPv6 VIP (RFC 4861 §7.2.6), the
//! IPv6 counterpart of gratuitous ARP: sent to all-nodes (ff02::1) with the
//! Override flag, so neighbours replace a cached link-layer address at once.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::arp::{announce_frames, ArpError, GarpHandle};

/// Length of the Ethernet + IPv6 + ICMPv6 NA (+ target link-layer option) frame.
pub(crate) const NA_FRAME_LEN: usize = 14 + 40 + 32;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The Internet checksum of the ICMPv6 message with its pseudo-header.
fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u32::from(*b));
            sum += hi | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    let len = u32::try_from(icmp.len()).unwrap_or(0);
    add(&len.to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(icmp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xffff)
}

/// An unsolicited NA for `target` at `mac` (Override set, Solicited and Router clear).
pub(crate) fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    // Ethernet: all-nodes multicast MAC 33:33:00:00:00:01.
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    // IPv6 header: version 6, payload 32, next header ICMPv6, hop limit 255 (required).
    let ip = &mut f[14..54];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&32u16.to_be_bytes());
    ip[6] = 58;
    ip[7] = 255;
    ip[8..24].copy_from_slice(&target.octets());
    ip[24..40].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 NA: type 136, flags O, target, option 2 (target link-layer address).
    let icmp = &mut f[54..86];
    icmp[0] = 136;
    icmp[4] = 0x20;
    icmp[8..24].copy_from_slice(&target.octets());
    icmp[24] = 2;
    icmp[25] = 1;
    icmp[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(&target, &ALL_NODES, &f[54..86]);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Sends `count` unsolicited NAs for `ip` on `interface`: the first before this
/// returns, the rest `interval` apart in the background.
pub(crate) async fn announce(
    interface: &str,
    ip: Ipv6Addr,
    count: u32,
    interval: Duration,
) -> Result<GarpHandle, ArpError> {
    announce_frames(interface, count, interval, move |mac| {
        unsolicited_na(mac, ip).to_vec()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_verifies_to_zero() {
        let f = unsolicited_na([2, 0, 0, 0, 0, 1], "fd00::64".parse().unwrap());
        let src: Ipv6Addr = "fd00::64".parse().unwrap();
        // Summing a message that includes its own checksum gives 0 (complemented).
        assert_eq!(icmpv6_checksum(&src, &ALL_NODES, &f[54..86]), 0);
    }
}
