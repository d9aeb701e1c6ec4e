//! Ping→ack round trip through the bridge in QEMU versus direct links
//! (socket pair, pty pair): the firmware's round-trip figures in docs/BENCHMARKS.md. Printed, not
//! asserted: timings on a shared two-core machine are noise-prone.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, SpecialCharacterIndices};
use twinbeat_protocol::{Ack, Extensions, Message};

use crate::harness::{ping, state, wire, Line, Qemu, PATIENCE};

/// Sequence number that tells the responder to stop.
const STOP: u32 = u32::MAX;

fn samples() -> u32 {
    std::env::var("TWINBEAT_RTT_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// Host B: answers every ping with an ack until it gets the STOP ping.
fn responder(mut line: Line) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        let Some((frame, _)) = line.wait_for(PATIENCE, |f| matches!(f.message, Message::Ping(_)))
        else {
            return;
        };
        let Message::Ping(ping) = frame.message else {
            continue;
        };
        if ping.seq == STOP {
            return;
        }
        line.send(&wire(
            1,
            Message::Ack(Ack {
                seq: ping.seq,
                state: state(),
                extensions: Extensions::NONE,
            }),
        ));
    })
}

/// Host A: `n` pings one after another, each timed until its ack is in.
fn measure(pinger: &mut Line, answering: thread::JoinHandle<()>, n: u32) -> Vec<Duration> {
    static WARMUP: AtomicU32 = AtomicU32::new(10);
    let mut rtts = Vec::new();
    for seq in 0..n + WARMUP.load(Ordering::Relaxed) {
        let sent = Instant::now();
        pinger.send(&ping(2, seq));
        pinger
            .wait_for(
                PATIENCE,
                |f| matches!(f.message, Message::Ack(a) if a.seq == seq),
            )
            .unwrap_or_else(|| panic!("no ack for ping {seq}"));
        if seq >= WARMUP.load(Ordering::Relaxed) {
            rtts.push(sent.elapsed());
        }
    }
    pinger.send(&ping(2, STOP));
    answering.join().expect("responder");
    rtts.sort();
    rtts
}

fn row(name: &str, rtts: &[Duration]) -> f64 {
    // Nearest-rank percentile: index = q × (n − 1), in integer per-mille.
    let at = |per_mille: usize| rtts[(rtts.len() - 1) * per_mille / 1_000].as_secs_f64() * 1e3;
    println!(
        "  {name:<34} p50 {:7.3}  p90 {:7.3}  p99 {:7.3}  max {:7.3}",
        at(500),
        at(900),
        at(990),
        at(1_000)
    );
    at(500)
}

/// A pty pair in raw mode; the slave end reads with a 0.1 s time-out.
fn pty_pair() -> (Line, Line) {
    let pty = openpty(None, None).expect("openpty");
    let mut termios = tcgetattr(&pty.slave).expect("tcgetattr");
    cfmakeraw(&mut termios);
    termios.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
    termios.control_chars[SpecialCharacterIndices::VTIME as usize] = 1;
    tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).expect("tcsetattr");
    (
        Line::polled(std::fs::File::from(pty.slave)),
        Line::polled(std::fs::File::from(pty.master)),
    )
}

#[test]
fn round_trip_through_bridge_vs_direct() {
    let n = samples();
    println!("ping→ack round trip, {n} samples each, milliseconds:");

    let (a, b) = UnixStream::pair().expect("socketpair");
    let (mut a, b) = (Line::new(a), Line::new(b));
    let socket = row("direct Unix socket pair", &measure(&mut a, responder(b), n));

    // The pinger holds the slave (time-outs work there); the responder the master.
    let (mut a, b) = pty_pair();
    let pty = row("direct pty pair", &measure(&mut a, responder(b), n));

    let mut qemu = Qemu::boot();
    let b = std::mem::replace(&mut qemu.b, Line::placeholder());
    let bridged = row(
        "bridge in QEMU (UARTs on sockets)",
        &measure(&mut qemu.a, responder(b), n),
    );

    let ping_len = ping(2, 1_000_000).len();
    let ack_len = wire(
        1,
        Message::Ack(Ack {
            seq: 1_000_000,
            state: state(),
            extensions: Extensions::NONE,
        }),
    )
    .len();
    let wire_ms = ((ping_len + ack_len) * 10) as f64 / 115_200.0 * 1e3;
    println!(
        "  bridge adds (p50): {:.3} ms over the socket pair, {:.3} ms over the pty pair",
        bridged - socket,
        bridged - pty
    );
    println!(
        "  wire time at 115200 8N1 (ping {ping_len} B + ack {ack_len} B, 10 bits/byte): direct cable {wire_ms:.3} ms; \
         through a store-and-forward bridge {:.3} ms (each frame crosses two cables). QEMU does not model baud \
         timing, so the bridge row is the emulated bridge's own overhead.",
        2.0 * wire_ms
    );
}
