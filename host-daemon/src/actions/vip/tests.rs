//! The VIP over rtnetlink, gratuitous ARP and the ARP probe, inside network
//! namespaces the test creates (root needed, as in CI).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use twinbeat_lab::netns::{End, NetPair};

use super::{AddOutcome, RemoveOutcome, Vip, VipError, VipSpec};
use crate::actions::arp::{ArpFrame, OP_REQUEST};
use crate::actions::arp_probe::{probe_vip, ProbeOptions, ProbeOutcome};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 251, 0, 100);

/// Namespaces `a` (`va`, 10.251.0.1/24) and `b` (`vb`, 10.251.0.2/24) joined by a veth.
fn pair() -> NetPair {
    NetPair::new(
        "tbact",
        End::new("va", &["10.251.0.1/24"]),
        End::new("vb", &["10.251.0.2/24"]),
    )
    .expect("two linked namespaces")
}

/// Puts a stale neighbour entry for `addr` with a wrong MAC on the observer `b`.
fn stale_wrong_neighbour(pair: &NetPair, family: &str, addr: &str) {
    pair.b
        .ip(&[
            family,
            "neigh",
            "add",
            addr,
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "vb",
            "nud",
            "stale",
        ])
        .unwrap();
}

fn spec(interface: &str) -> VipSpec {
    VipSpec {
        address: IpAddr::V4(VIP),
        prefix_len: 24,
        interface: interface.to_owned(),
    }
}

/// Captures ARP frames on `dev` in the current thread's namespace until one
/// announces `ip` or the deadline passes; returns (frame, when seen).
fn capture_garp(dev: &str, ip: Ipv4Addr, deadline: Duration) -> Option<(ArpFrame, Instant)> {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == dev)?;
    let cfg = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(20)),
        ..Default::default()
    };
    let pnet_datalink::Channel::Ethernet(_tx, mut rx) = pnet_datalink::channel(&iface, cfg).ok()?
    else {
        return None;
    };
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Ok(frame) = rx.next() {
            if let Some(a) = ArpFrame::decode(frame) {
                if a.op == OP_REQUEST && a.sender_ip == ip && a.target_ip == ip {
                    return Some((a, Instant::now()));
                }
            }
        }
    }
    None
}

#[test]
fn vip_add_idempotent_release_and_gratuitous_arp_seen_from_peer() {
    let pair = pair();
    let mac_a = pair.a.mac("va").unwrap();
    // A stale, wrong neighbour entry on the observer: the gratuitous ARP must fix it.
    stale_wrong_neighbour(&pair, "-4", &VIP.to_string());

    // Listen on the observer side first.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let capture = pair.b.spawn(move || {
        ready_tx.send(()).unwrap();
        capture_garp("vb", VIP, Duration::from_secs(5))
    });
    ready_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));

    let (started, report) = pair
        .a
        .block_on(|| async {
            let vip = Vip::new(spec("va")).unwrap();
            assert!(!vip.is_present().await.unwrap());
            let started = Instant::now();
            let (mut report, arp_err) = vip.take(3, Duration::from_millis(50)).await.unwrap();
            assert!(arp_err.is_none(), "{arp_err:?}");
            assert_eq!(report.outcome, AddOutcome::Added);
            assert!(vip.is_present().await.unwrap());
            // Idempotent: a second add is a success that changes nothing.
            assert_eq!(vip.add().await.unwrap(), AddOutcome::AlreadyPresent);
            let sent = report.announcements.take().unwrap().finish().await.unwrap();
            assert_eq!(sent, 3);
            (started, report)
        })
        .unwrap();
    let (frame, seen) = capture
        .join()
        .unwrap()
        .expect("observer saw the gratuitous ARP");
    assert_eq!(frame.sender_mac, mac_a);
    let neigh = pair
        .b
        .ip(&["neigh", "show", &VIP.to_string(), "dev", "vb"])
        .unwrap();
    let mac_text: Vec<String> = mac_a.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        neigh.contains(&mac_text.join(":")),
        "observer neighbour entry not updated: {neigh}"
    );
    println!(
        "VIP take: add {:?}, first gratuitous ARP sent after {:?}, seen by the peer after {:?}",
        report.add_elapsed,
        report.first_announcement_elapsed.unwrap(),
        seen.duration_since(started)
    );

    pair.a
        .block_on(|| async {
            let vip = Vip::new(spec("va")).unwrap();
            assert_eq!(vip.remove().await.unwrap(), RemoveOutcome::Removed);
            assert!(!vip.is_present().await.unwrap());
            assert_eq!(vip.remove().await.unwrap(), RemoveOutcome::WasAbsent);
            // The interface's own address is untouched.
            let own = Vip::new(VipSpec {
                address: IpAddr::V4(Ipv4Addr::new(10, 251, 0, 1)),
                prefix_len: 24,
                interface: "va".into(),
            })
            .unwrap();
            assert!(own.is_present().await.unwrap());
            // An unknown interface is a clear error.
            let bad = Vip::new(spec("nope0")).unwrap();
            assert!(matches!(bad.add().await, Err(VipError::NoSuchInterface(_))));
        })
        .unwrap();
    let addrs = pair.a.ip(&["-o", "addr", "show", "dev", "va"]).unwrap();
    assert!(!addrs.contains("10.251.0.100"), "{addrs}");
}

#[test]
fn arp_probe_sees_a_held_address_and_none_when_free() {
    let pair = pair();
    let mac_b = pair.b.mac("vb").unwrap();
    // The peer namespace holds .50.
    pair.b
        .ip(&["addr", "add", "10.251.0.50/24", "dev", "vb"])
        .unwrap();
    let opts = ProbeOptions::default();
    let (held, free) = pair
        .a
        .block_on(move || async move {
            let t = Instant::now();
            let held = probe_vip("va", Ipv4Addr::new(10, 251, 0, 50), opts)
                .await
                .unwrap();
            let held_t = t.elapsed();
            let t = Instant::now();
            let free = probe_vip("va", Ipv4Addr::new(10, 251, 0, 77), opts)
                .await
                .unwrap();
            println!(
                "ARP probe: held answered in {held_t:?}; free took {:?}",
                t.elapsed()
            );
            (held, free)
        })
        .unwrap();
    match held {
        ProbeOutcome::Held { by, after } => {
            println!("ARP probe: the holder answered {after:?} after the first probe");
            assert_eq!(by, mac_b)
        }
        ProbeOutcome::Free => panic!("probe missed the address held by the peer"),
    }
    assert_eq!(free, ProbeOutcome::Free);
    // No neighbour entry was created on the peer by the probes (sender IP 0.0.0.0).
    let neigh = pair.b.ip(&["neigh", "show", "dev", "vb"]).unwrap();
    assert!(!neigh.contains("10.251.0.1 "), "{neigh}");
}

#[test]
fn ipv6_vip_is_announced_with_unsolicited_neighbour_advertisements() {
    let pair = pair();
    let mac_a = pair.a.mac("va").unwrap();
    let vip6 = "fd00:251::100";
    pair.b
        .ip(&["-6", "addr", "add", "fd00:251::2/64", "dev", "vb", "nodad"])
        .unwrap();
    // A stale, wrong entry on the observer: the Override flag must replace it.
    stale_wrong_neighbour(&pair, "-6", vip6);
    let spec6 = move || VipSpec {
        address: vip6.parse().unwrap(),
        prefix_len: 64,
        interface: "va".into(),
    };
    // Control: adding the address alone does not touch the observer's entry.
    pair.a
        .block_on(move || async move {
            let (report, _) = Vip::new(spec6())
                .unwrap()
                .take(0, Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(report.outcome, AddOutcome::Added);
        })
        .unwrap();
    let neigh = pair
        .b
        .ip(&["-6", "neigh", "show", vip6, "dev", "vb"])
        .unwrap();
    assert!(neigh.contains("02:00:00:00:00:99"), "{neigh}");
    pair.a
        .block_on(move || async move {
            let vip = Vip::new(spec6()).unwrap();
            let (mut report, err) = vip.take(2, Duration::from_millis(50)).await.unwrap();
            assert!(err.is_none(), "{err:?}");
            assert_eq!(report.outcome, AddOutcome::AlreadyPresent);
            assert_eq!(
                report.announcements.take().unwrap().finish().await.unwrap(),
                2
            );
            assert!(vip.is_present().await.unwrap());
        })
        .unwrap();
    let mac_text: Vec<String> = mac_a.iter().map(|b| format!("{b:02x}")).collect();
    let neigh = pair
        .b
        .ip(&["-6", "neigh", "show", vip6, "dev", "vb"])
        .unwrap();
    assert!(
        neigh.contains(&mac_text.join(":")),
        "observer entry not updated: {neigh}"
    );
    // Not tentative (no DAD): usable at once.
    let addrs = pair
        .a
        .ip(&["-6", "-o", "addr", "show", "dev", "va"])
        .unwrap();
    let line = addrs
        .lines()
        .find(|l| l.contains("fd00:251::100/64"))
        .unwrap_or_else(|| panic!("VIP missing: {addrs}"));
    assert!(!line.contains("tentative"), "{line}");
    pair.a
        .block_on(move || async move {
            let vip = Vip::new(spec6()).unwrap();
            assert_eq!(vip.remove().await.unwrap(), RemoveOutcome::Removed);
        })
        .unwrap();
}
