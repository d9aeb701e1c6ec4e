//! The lab's network: namespaces, addresses, routes, faults (nftables) and cable pulls.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use twinbeat_lab::faults::{self, Fault};
use twinbeat_lab::{exclusive, Host, Node};

const WAIT: Duration = Duration::from_millis(500);

/// A TCP connect (plus one echoed byte) from `from` to `to`:`port`, served by a listener
/// the test runs inside `to`'s namespace.
fn tcp_ok(lab: &twinbeat_lab::Lab, from: Host, to: Host, port: u16) -> bool {
    let addr = SocketAddr::from((lab.topo.addr(to), port));
    let listener = lab
        .topo
        .in_netns(to, move || TcpListener::bind(addr))
        .and_then(|r| {
            r.map_err(|e| twinbeat_lab::LabError::Io {
                path: "bind".into(),
                source: e,
            })
        })
        .expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || {
        for _ in 0..200 {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.set_nonblocking(false);
                let mut b = [0u8; 1];
                if s.read_exact(&mut b).is_ok() {
                    let _ = s.write_all(&b);
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let ok = lab
        .topo
        .in_netns(from, move || {
            let Ok(mut s) = TcpStream::connect_timeout(&addr, WAIT) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(WAIT));
            let mut b = [0u8; 1];
            s.write_all(b"x").is_ok() && s.read_exact(&mut b).is_ok() && &b == b"x"
        })
        .expect("client thread");
    let _ = server.join();
    ok
}

#[test]
fn topology_addresses_routes_and_teardown() {
    let _g = exclusive();
    let lab = common::start(common::net_opts());
    let t = lab.topo.clone();
    for h in [Host::A, Host::B, Host::Client] {
        assert!(
            t.ping(h, t.addr(Host::Gateway), WAIT),
            "{h:?} reaches the gateway"
        );
    }
    assert!(t.ping(Host::A, t.addr(Host::B), WAIT));
    assert!(t.ping(Host::Client, t.addr(Host::A), WAIT));
    // Nodes route via the lab gateway; the gateway has no default route at all.
    let r = t.ip(Host::A, &["route", "show", "default"]).expect("route");
    assert!(r.contains(&t.addr(Host::Gateway).to_string()), "{r}");
    let r = t
        .ip(Host::Gateway, &["route", "show", "default"])
        .expect("route");
    assert!(r.trim().is_empty(), "gateway has a default route: {r}");
    // Addresses exist only inside the lab.
    let iface = t.iface(Host::A).expect("iface");
    assert!(iface.up());
    assert_eq!(iface.addrs, vec![t.addr(Host::A)]);
    let id = t.id;
    let done = lab.teardown();
    assert!(common::leftover_namespaces(id).is_empty(), "{done:?}");
    assert!(!std::path::Path::new(&format!("/tmp/tblab/{id}")).exists());
}

#[test]
fn icmp_dropped_while_tcp_passes() {
    let _g = exclusive();
    let lab = common::start(common::net_opts());
    let t = &lab.topo;
    let f = Fault::DropIcmp {
        from: Node::B,
        to: Node::A,
    };
    lab.apply(f).expect("apply");
    assert!(
        !t.ping(Host::B, t.addr(Host::A), WAIT),
        "ICMP b→a must be dropped"
    );
    assert!(
        t.ping(Host::B, t.addr(Host::Gateway), WAIT),
        "b's other ICMP passes"
    );
    assert!(tcp_ok(&lab, Host::B, Host::A, 5432), "TCP b→a passes");
    assert!(faults::dropped_packets(t, f).expect("counter") >= 1);
    lab.lift(f).expect("lift");
    assert!(t.ping(Host::B, t.addr(Host::A), WAIT));
}

#[test]
fn postgres_port_dropped_while_icmp_passes() {
    let _g = exclusive();
    let lab = common::start(common::net_opts());
    let t = &lab.topo;
    let f = Fault::DropPostgres {
        from: Node::B,
        to: Node::A,
    };
    lab.apply(f).expect("apply");
    assert!(
        !tcp_ok(&lab, Host::B, Host::A, 5432),
        "TCP b→a:5432 dropped"
    );
    assert!(tcp_ok(&lab, Host::B, Host::A, 5433), "another port passes");
    assert!(t.ping(Host::B, t.addr(Host::A), WAIT), "ICMP passes");
    lab.lift(f).expect("lift");
    assert!(tcp_ok(&lab, Host::B, Host::A, 5432));
}

#[test]
fn all_ip_between_nodes_dropped_gateway_still_reached() {
    let _g = exclusive();
    let lab = common::start(common::net_opts());
    let t = &lab.topo;
    lab.apply(Fault::DropAllIpBetweenNodes).expect("apply");
    assert!(!t.ping(Host::A, t.addr(Host::B), WAIT));
    assert!(!t.ping(Host::B, t.addr(Host::A), WAIT));
    assert!(!tcp_ok(&lab, Host::B, Host::A, 5432));
    for h in [Host::A, Host::B] {
        assert!(t.ping(h, t.addr(Host::Gateway), WAIT));
        assert!(t.ping(Host::Client, t.addr(h), WAIT));
    }
    lab.clear_faults().expect("clear");
    assert!(t.ping(Host::A, t.addr(Host::B), WAIT));
}

#[test]
fn gateway_drop_and_link_down() {
    let _g = exclusive();
    let lab = common::start(common::net_opts());
    let t = &lab.topo;
    lab.apply(Fault::DropGateway(Node::A)).expect("apply");
    assert!(!t.ping(Host::A, t.addr(Host::Gateway), WAIT));
    assert!(t.ping(Host::B, t.addr(Host::Gateway), WAIT));
    assert!(t.ping(Host::A, t.addr(Host::B), WAIT));
    lab.lift(Fault::DropGateway(Node::A)).expect("lift");
    assert!(t.ping(Host::A, t.addr(Host::Gateway), WAIT));

    lab.set_link(Node::A, false).expect("unplug");
    assert!(!t.ping(Host::B, t.addr(Host::A), WAIT));
    assert!(!lab.iface(Node::A).expect("iface").up(), "no carrier on a");
    lab.set_link(Node::A, true).expect("plug");
    let back = twinbeat_lab::cmd::wait_for(
        "a reachable again",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            t.ping(Host::B, t.addr(Host::A), Duration::from_millis(200))
                .then_some(())
        },
    );
    assert!(back.is_ok());
}
