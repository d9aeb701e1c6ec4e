//! Check 3, the serial cable: is it wired to the peer of this cluster?
//!
//! Beside a running daemon the device is never opened (a second reader steals the
//! daemon's frames and can take the serial path down): the daemon's status says the
//! same things. Without one, diagnose opens the device at the configured speed, sends
//! a `Hello` (a question with no state in it, unlike a ping, so no rule of the peer's
//! acts on it: `protocol/WIRE.md`) and waits for the peer's daemon's `HelloReply`,
//! which names the peer, its role and term and its settings' fingerprint. Meanwhile it
//! listens: its own hello coming back shows a loopback, another cluster's frames a
//! cable wired to another pair, the peer's pings a peer whose daemon does not answer
//! hellos yet. With `bridge = true` it also asks the bridge for its report.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;
use twinbeat_protocol::{ClusterId, DecodeError, Frame, Hello, HelloReply, Message, NodeId};

use super::Finding;
use crate::config::{node_number, Config};
use crate::serial_link::{LinkEvent, SerialConfig, SerialLink};
use crate::status::StatusSnapshot;

/// How long to wait for the device to open.
const OPEN_BOUND: Duration = Duration::from_secs(2);

/// The finding, and the settings' fingerprint the peer's frames carried (rule
/// `pair-agrees`) when diagnose listened itself.
pub(super) async fn check(cfg: &Config, daemon: Option<&StatusSnapshot>) -> (Finding, Option<u32>) {
    match daemon {
        Some(status) => (from_daemon(cfg, status), None),
        None => listen(cfg).await,
    }
}

/// The peer's name for `sender`: its configured `node_id` when that hashes to it.
fn peer_name(cfg: &Config, sender: NodeId) -> String {
    match cfg.peer.node_id.as_deref() {
        Some(name) if node_number(name) == sender.0 => format!("{name:?} (node {})", sender.0),
        Some(name) => format!(
            "node {} (not peer.node_id {name:?}, node {})",
            sender.0,
            node_number(name)
        ),
        None => format!("node {}", sender.0),
    }
}

fn from_daemon(cfg: &Config, s: &StatusSnapshot) -> Finding {
    let device = cfg.checks.serial_device.display();
    let state = s
        .paths
        .iter()
        .find(|p| p.name == "serial")
        .map_or("unknown", |p| p.state.as_str());
    let c = &s.serial;
    let counts = format!(
        "{} frames received, {} sent, {} foreign, {} own echoes, {} corrupt",
        c.received, c.sent, c.foreign, c.own_echo, c.corrupt
    );
    if c.own_echo > 0 && c.received == 0 {
        return Finding::fail("serial", format!("{device} (daemon): only this node's own frames come back ({counts})"), "the cable is looped back (a loopback plug, or both ends on this host): wire it to the peer");
    }
    if c.foreign > 0 && c.received == 0 {
        return Finding::fail("serial", format!("{device} (daemon): frames of another cluster only ({counts})"), "the cable goes to a node of another pair, or the two nodes' cluster_id differ: check the wiring and cluster_id on both");
    }
    match (&s.peer, state) {
        (Some(peer), "up") => {
            let name = peer
                .node
                .parse()
                .map_or_else(|_| peer.node.clone(), |n| peer_name(cfg, NodeId(n)));
            Finding::ok(
                "serial",
                format!(
                    "{device} (daemon): path up; peer {name} is {} in term {} (frame {} ms ago); {counts}",
                    peer.role, peer.term, peer.age_ms
                ),
            )
        }
        _ => Finding::fail(
            "serial",
            format!("{device} (daemon): path {state}; {counts}"),
            "nothing of the peer on the cable: check that the cable joins the two nodes and that the peer's daemon runs",
        ),
    }
}

/// What diagnose heard on the device.
#[derive(Default)]
struct Heard {
    /// The peer's daemon's answer to our hello, and its sender.
    reply: Option<(NodeId, HelloReply)>,
    /// Other frames of this cluster from other nodes: the sender and what they were.
    peers: Vec<(NodeId, &'static str)>,
    /// Our own hello came back.
    own_hello: bool,
    /// Other frames of this cluster carrying our node id (a peer configured with it).
    own_id: u32,
    /// Valid frames of other clusters.
    foreign: Vec<ClusterId>,
    /// The settings' fingerprint the peer's reply or pings carried.
    fingerprint: Option<u32>,
}

async fn listen(cfg: &Config) -> (Finding, Option<u32>) {
    let device = cfg.checks.serial_device.display().to_string();
    let cluster = ClusterId::from_name(&cfg.cluster_id);
    let me = NodeId(node_number(&cfg.node_id));
    let (link, mut events) = SerialLink::spawn(SerialConfig::new(
        cfg.checks.serial_device.clone(),
        cfg.checks.serial_baud,
        cluster,
    ));
    match first_open(&mut events).await {
        Ok(()) => {}
        Err(why) => {
            let f = Finding::fail(
                "serial",
                format!(
                    "cannot open {device} at {} baud: {why}",
                    cfg.checks.serial_baud
                ),
                "check checks.serial.device and that this user may open it (group dialout)",
            );
            return (f, None);
        }
    }
    // Any 32 bits of it tell this hello from another asker's; the high ones always fit.
    let nonce = u32::try_from(crate::driver::run_id() >> 32).unwrap_or_default();
    let ask = |message| {
        let _ = link.send(&Frame {
            cluster,
            sender: me,
            message,
        });
    };
    ask(Message::Hello(Hello { nonce }));
    if cfg.checks.serial_bridge {
        ask(Message::BridgeStatusRequest);
    }
    // A daemon answers at once; a peer whose daemon does not answer hellos still
    // pings every `interval` after a success, at most `timeout` later after a failure.
    let window = (cfg.checks.serial.interval + cfg.checks.serial.timeout) * 2;
    let heard = gather(&mut events, window, me, nonce, cfg.checks.serial_bridge).await;
    drop(link);
    (judge(cfg, &device, window, &heard), heard.fingerprint)
}

async fn first_open(events: &mut Receiver<LinkEvent>) -> Result<(), String> {
    let end = Instant::now() + OPEN_BOUND;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(LinkEvent::Up)) => return Ok(()),
            Ok(Some(LinkEvent::Down { reason })) => return Err(reason),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the link stopped".to_owned()),
            Err(_) => return Err(format!("not opened within {OPEN_BOUND:?}")),
        }
    }
}

/// Listens for `window`, or until the peer answered (and the bridge reported, when
/// one is configured).
async fn gather(
    events: &mut Receiver<LinkEvent>,
    window: Duration,
    me: NodeId,
    nonce: u32,
    bridge: bool,
) -> Heard {
    let end = Instant::now() + window;
    let mut heard = Heard::default();
    let bridge_heard = |h: &Heard| h.peers.iter().any(|(_, w)| *w == BRIDGE_REPORT);
    while heard.reply.is_none() || (bridge && !bridge_heard(&heard)) {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, events.recv()).await else {
            break;
        };
        match event {
            LinkEvent::Frame { frame, .. } => match frame.message {
                Message::Hello(h) if frame.sender == me && h.nonce == nonce => {
                    heard.own_hello = true;
                }
                _ if frame.sender == me => heard.own_id += 1,
                Message::HelloReply(r) if r.nonce == nonce => {
                    heard.fingerprint = r.config_fingerprint.or(heard.fingerprint);
                    heard.reply = Some((frame.sender, r));
                }
                message => {
                    let (what, fingerprint) = match message {
                        Message::BridgeStatus(_) => (BRIDGE_REPORT, None),
                        Message::Ping(p) => ("pings", p.extensions.config_fingerprint),
                        Message::Ack(a) => ("pings", a.extensions.config_fingerprint),
                        Message::Hello(_) => ("a hello (twinbeat diagnose runs there too)", None),
                        Message::HelloReply(_) | Message::BridgeStatusRequest => ("frames", None),
                    };
                    heard.fingerprint = fingerprint.or(heard.fingerprint);
                    heard.peers.push((frame.sender, what));
                }
            },
            LinkEvent::Rejected {
                error: DecodeError::WrongCluster(c),
            } => heard.foreign.push(c),
            LinkEvent::Rejected { .. } | LinkEvent::Up | LinkEvent::Down { .. } => {}
        }
    }
    heard
}

/// What [`Heard::peers`] says of a bridge's report.
const BRIDGE_REPORT: &str = "a bridge report";

fn judge(cfg: &Config, device: &str, window: Duration, h: &Heard) -> Finding {
    let baud = cfg.checks.serial_baud;
    if h.own_hello {
        return Finding::fail(
            "serial",
            format!("{device}: this node's own hello came back"),
            "the cable is looped back (a loopback plug, or both ends on this host): wire it to the peer",
        );
    }
    if h.own_id > 0 && h.reply.is_none() {
        return Finding::fail(
            "serial",
            format!(
                "{device}: {} frames from a node with this node's id ({})",
                h.own_id,
                node_number(&cfg.node_id)
            ),
            "the peer is configured with this node's node_id: give each node its own",
        );
    }
    let bridge = if h.peers.iter().any(|(_, w)| *w == BRIDGE_REPORT) {
        "; the bridge reported"
    } else if cfg.checks.serial_bridge {
        "; no bridge report (checks.serial.bridge = true)"
    } else {
        ""
    };
    if let Some((sender, r)) = &h.reply {
        return Finding::ok(
            "serial",
            format!(
                "{device} at {baud} baud: {} of this cluster answered: {} in term {}{}{bridge}",
                peer_name(cfg, *sender),
                format!("{:?}", r.state.role).to_lowercase(),
                r.state.term,
                if r.state.fenced { ", fenced" } else { "" },
            ),
        );
    }
    if let Some((sender, what)) = h
        .peers
        .iter()
        .find(|(_, w)| *w == "pings")
        .or(h.peers.first())
    {
        return Finding::ok(
            "serial",
            format!(
                "{device} at {baud} baud: {what} from {} of this cluster{bridge}",
                peer_name(cfg, *sender),
            ),
        );
    }
    if let Some(c) = h.foreign.first() {
        return Finding::fail(
            "serial",
            format!("{device}: frames of another cluster ({:#010x}), none of this one ({:#010x})", c.0, ClusterId::from_name(&cfg.cluster_id).0),
            "the cable goes to a node of another pair, or the two nodes' cluster_id differ: check the wiring and cluster_id on both",
        );
    }
    Finding::warn(
        "serial",
        format!("{device}: no answer to a hello and silence for {window:?}{bridge}"),
        "nothing answers on the cable: start the peer's daemon, and check that the cable joins the two nodes",
    )
}
