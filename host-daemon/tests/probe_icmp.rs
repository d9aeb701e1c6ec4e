//! ICMP probes inside two network namespaces the test creates: peer up, link
//! down, link back, IPv6; two targets on the same address do not steal each other's
//! replies.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::netns::NetPair;
use twinbeat::probe::icmp::{IcmpError, IcmpOutcome, IcmpProber};

const TIMEOUT: Duration = Duration::from_millis(500);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn peer_up_then_link_down_then_back() {
    let pair = NetPair::new();
    let peer = IpAddr::V4(NetPair::ADDR_B);
    pair.run_in_a(|| {
        let rt = runtime();
        rt.block_on(async {
            let prober = IcmpProber::new(64);
            let mut target = prober.target(peer).await.expect("open the ICMP socket");
            for _ in 0..20 {
                let outcome = target.attempt(TIMEOUT).await;
                assert!(outcome.is_ok(), "{outcome:?}");
            }

            pair.set_b_link(false);
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

            pair.set_b_link(true);
            let mut back = false;
            for _ in 0..50 {
                if target.attempt(TIMEOUT).await.is_ok() {
                    back = true;
                    break;
                }
            }
            assert!(back, "the peer answers again once the link is up");
        });
    });
}

#[test]
fn address_with_nobody_fails() {
    let pair = NetPair::new();
    pair.run_in_a(|| {
        runtime().block_on(async {
            let prober = IcmpProber::new(64);
            let mut target = prober
                .target("10.250.1.99".parse().expect("address"))
                .await
                .expect("open the ICMP socket");
            let outcome = target.attempt(Duration::from_millis(200)).await;
            assert!(!outcome.is_ok(), "{outcome:?}");
        });
    });
}

#[test]
fn two_targets_on_one_address_each_get_their_own_replies() {
    let pair = NetPair::new();
    let peer = IpAddr::V4(NetPair::ADDR_B);
    pair.run_in_a(|| {
        runtime().block_on(async {
            let prober = IcmpProber::new(64);
            let mut as_peer = prober.target(peer).await.expect("socket");
            let mut as_gateway = prober.target(peer).await.expect("socket");
            for _ in 0..50 {
                let (x, y) = tokio::join!(as_peer.attempt(TIMEOUT), as_gateway.attempt(TIMEOUT));
                match (x, y) {
                    (IcmpOutcome::Reply { seq: s1, .. }, IcmpOutcome::Reply { seq: s2, .. }) => {
                        assert_ne!(s1, s2)
                    }
                    other => panic!("{other:?}"),
                }
            }
        });
    });
}

#[test]
fn ipv6_peer_answers_through_its_own_client() {
    let pair = NetPair::new();
    let peer = IpAddr::V6(NetPair::ADDR6_B);
    pair.run_in_a(|| {
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
    });
}
