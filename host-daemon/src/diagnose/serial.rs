//! Check 3, the serial cable: is it wired to the peer of this cluster?
//!
//! Beside a running daemon the device is never opened (a second reader steals the
//! daemon's frames and can take the serial path down): the daemon's status says the
//! same things. Without one, diagnose opens the device at the configured speed and
//! listens for the peer's own pings (a daemon pings every `serial.interval`): their
//! cluster and sender name the peer. It sends no ping of its own, since a ping carries
//! a state the peer's rules would act on; it writes three short invalid frames instead
//! (the peer counts and drops them, as any corrupt bytes) so that a loopback, which
//! returns them, shows. With `bridge = true` it asks the bridge for its report.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;
use twinbeat_protocol::{ClusterId, DecodeError, Frame, Message, NodeId};

use super::Finding;
use crate::config::{node_number, Config};
use crate::serial_link::{LinkEvent, SerialConfig, SerialLink};
use crate::status::StatusSnapshot;

/// Markers written to find a loopback: a delimiter, then a COBS frame too short to be
/// a frame (`TBDIAG`).
const MARKER: [u8; 9] = [0, 7, b'T', b'B', b'D', b'I', b'A', b'G', 0];
/// Markers written.
const MARKERS: usize = 3;
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

/// What listening on the device showed.
#[derive(Default)]
struct Heard {
    /// The peer's frames: sender, and whether it was a bridge's report.
    peers: Vec<(NodeId, &'static str)>,
    /// Frames of our cluster carrying our own node id.
    own: u32,
    /// Valid frames of other clusters.
    foreign: Vec<ClusterId>,
    /// Invalid frames (the markers come back as these on a loopback).
    invalid: usize,
    /// The settings' fingerprint the peer's last ping or ack carried.
    fingerprint: Option<u32>,
}

async fn listen(cfg: &Config) -> (Finding, Option<u32>) {
    let device = cfg.checks.serial_device.display().to_string();
    let cluster = ClusterId::from_name(&cfg.cluster_id);
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
    for _ in 0..MARKERS {
        let _ = link.send_raw(MARKER.to_vec());
    }
    if cfg.checks.serial_bridge {
        let _ = link.send(&Frame {
            cluster,
            sender: NodeId(node_number(&cfg.node_id)),
            message: Message::BridgeStatusRequest,
        });
    }
    // Two of the peer's ping intervals: it pings every `interval` after a success, at
    // most `timeout` later after a failure.
    let window = (cfg.checks.serial.interval + cfg.checks.serial.timeout) * 2;
    let heard = gather(&mut events, window, NodeId(node_number(&cfg.node_id))).await;
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

async fn gather(events: &mut Receiver<LinkEvent>, window: Duration, me: NodeId) -> Heard {
    let end = Instant::now() + window;
    let mut heard = Heard::default();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, events.recv()).await else {
            return heard;
        };
        match event {
            LinkEvent::Frame { frame, .. } if frame.sender == me => heard.own += 1,
            LinkEvent::Frame { frame, .. } => {
                let (what, fingerprint) = match frame.message {
                    Message::BridgeStatus(_) => ("a bridge report", None),
                    Message::Ping(p) => ("pings", p.extensions.config_fingerprint),
                    Message::Ack(a) => ("pings", a.extensions.config_fingerprint),
                    Message::BridgeStatusRequest => ("pings", None),
                };
                heard.fingerprint = fingerprint.or(heard.fingerprint);
                heard.peers.push((frame.sender, what));
            }
            LinkEvent::Rejected {
                error: DecodeError::WrongCluster(c),
            } => heard.foreign.push(c),
            LinkEvent::Rejected { .. } => heard.invalid += 1,
            LinkEvent::Up | LinkEvent::Down { .. } => {}
        }
    }
}

fn judge(cfg: &Config, device: &str, window: Duration, h: &Heard) -> Finding {
    if h.invalid >= MARKERS || h.own > 0 {
        return Finding::fail(
            "serial",
            format!("{device}: what this node writes comes back ({} of {MARKERS} markers, {} own frames)", h.invalid.min(MARKERS), h.own),
            "the cable is looped back (a loopback plug, or both ends on this host): wire it to the peer",
        );
    }
    if let Some((sender, what)) = h
        .peers
        .iter()
        .find(|(_, w)| *w == "pings")
        .or(h.peers.first())
    {
        let bridge = h.peers.iter().any(|(_, w)| *w == "a bridge report");
        return Finding::ok(
            "serial",
            format!(
                "{device} at {} baud: {what} from {} of this cluster{}",
                cfg.checks.serial_baud,
                peer_name(cfg, *sender),
                if bridge { "; the bridge reported" } else { "" }
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
        format!("{device}: silence for {window:?}"),
        "nothing answers on the cable: start the peer's daemon (it pings every serial.interval), and check that the cable joins the two nodes",
    )
}
