//! ICMP probes inside two network namespaces the test creates: peer up, link
//! down, link back, IPv6; two targets on the same address do not steal each other's
//! replies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use twinbeat_lab::netns::{End, NetPair};
use twinbeat_lab::rt::runtime;

use super::{IcmpError, IcmpOutcome, IcmpProber};

const TIMEOUT: Duration = Duration::from_millis(500);

/// Address of `b`'s end (the peer).
const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 250, 1, 2);
/// IPv6 address of `b`'s end (unique local, only inside the namespace).
const ADDR6_B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x250, 0, 0, 0, 0, 0, 2);

/// Namespaces `a` (the prober's side, 10.250.1.1) and `b` (the peer) with `veth0` in each,
/// linked.
fn net_pair() -> NetPair {
    NetPair::new(
        "tbtest",
        End::new("veth0", &["fd00:250::1/64", "10.250.1.1/24"]),
        End::new("veth0", &["fd00:250::2/64", "10.250.1.2/24"]),
    )
    .expect("two linked namespaces (iproute2 and root)")
}

/// Sets `b`'s end of the link up or down.
fn set_b_link(pair: &NetPair, up: bool) {
    let state = if up { "up" } else { "down" };
    pair.b
        .ip(&["link", "set", "veth0", state])
        .expect("ip link set");
}

#[test]
fn peer_up_then_link_down_then_back() {
    let pair = net_pair();
    let peer = IpAddr::V4(ADDR_B);
    pair.a
        .enter(|| {
            let rt = runtime();
            rt.block_on(async {
                let prober = IcmpProber::new(64);
                let mut target = prober.target(peer).await.expect("open the ICMP socket");
                for _ in 0..20 {
                    let outcome = target.attempt(TIMEOUT).await;
                    assert!(outcome.is_ok(), "{outcome:?}");
                }

                set_b_link(&pair, false);
                for _ in 0..3 {
                    let outcome = target.attempt(Duration::from_millis(200)).await;
                    assert!(
                        matches!(
                            outcome,
                            IcmpOutcome::Failed(IcmpError::Timeout | IcmpError::Send(_))
                        ),
                        "{outcome:?}"
                    );
                }

                set_b_link(&pair, true);
                let mut back = false;
                for _ in 0..50 {
                    if target.attempt(TIMEOUT).await.is_ok() {
                        back = true;
                        break;
                    }
                }
                assert!(back, "the peer answers again once the link is up");
            });
        })
        .expect("enter namespace a");
}

#[test]
fn address_with_nobody_fails() {
    let pair = net_pair();
    pair.a
        .enter(|| {
            runtime().block_on(async {
                let prober = IcmpProber::new(64);
                let mut target = prober
                    .target("10.250.1.99".parse().expect("address"))
                    .await
                    .expect("open the ICMP socket");
                let outcome = target.attempt(Duration::from_millis(200)).await;
                assert!(!outcome.is_ok(), "{outcome:?}");
            });
        })
        .expect("enter namespace a");
}

#[test]
fn two_targets_on_one_address_each_get_their_own_replies() {
    let pair = net_pair();
    let peer = IpAddr::V4(ADDR_B);
    pair.a
        .enter(|| {
            runtime().block_on(async {
                let prober = IcmpProber::new(64);
                let mut as_peer = prober.target(peer).await.expect("socket");
                let mut as_gateway = prober.target(peer).await.expect("socket");
                for _ in 0..50 {
                    let (x, y) =
                        tokio::join!(as_peer.attempt(TIMEOUT), as_gateway.attempt(TIMEOUT));
                    match (x, y) {
                        (
                            IcmpOutcome::Reply { seq: s1, .. },
                            IcmpOutcome::Reply { seq: s2, .. },
                        ) => {
                            assert_ne!(s1, s2)
                        }
                        other => panic!("{other:?}"),
                    }
                }
            });
        })
        .expect("enter namespace a");
}

#[test]
fn ipv6_peer_answers_through_its_own_client() {
    let pair = net_pair();
    let peer = IpAddr::V6(ADDR6_B);
    pair.a
        .enter(|| {
            runtime().block_on(async {
                let prober = IcmpProber::new(64);
                let mut target = prober.target(peer).await.expect("open the ICMPv6 socket");
                // Just after the link comes up, the first echoes can go unanswered
                // (IPv6 on a fresh link); once one is answered, all must be.
                let mut up = false;
                for _ in 0..50 {
                    if target.attempt(TIMEOUT).await.is_ok() {
                        up = true;
                        break;
                    }
                }
                assert!(up, "the IPv6 peer never answered");
                for _ in 0..20 {
                    let outcome = target.attempt(TIMEOUT).await;
                    assert!(outcome.is_ok(), "{outcome:?}");
                }
            });
        })
        .expect("enter namespace a");
}
