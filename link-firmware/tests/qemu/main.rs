//! The bridge firmware booted in QEMU (`lm3s6965evb`), driven over its two
//! UARTs like the two hosts would.
//!
//! These tests need `qemu-system-arm` and the firmware ELFs named by
//! `TWINBEAT_LINK_ELF` and `TWINBEAT_LINK_WDT_ELF` (`link-firmware/ci.sh` builds
//! them and `link-firmware/ci.sh elf-paths` prints the assignments); without them
//! they fail with a message saying how to build the firmware. Each test
//! boots its own QEMU and kills it (by PID) when it ends, pass or fail.

mod harness;
mod rtt;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{is_seq, ping, state, watchdog_demo_elf, wire, Qemu, CLUSTER, PATIENCE, QEMU_ARGS};
use twinbeat_protocol::{Ack, BridgeStatus, Extensions, Frame, Message, NodeId, Side};

fn status_of(frame: &Frame) -> Option<BridgeStatus> {
    match frame.message {
        Message::BridgeStatus(status) => Some(status),
        _ => None,
    }
}

#[test]
fn ping_and_ack_cross_the_bridge_byte_identical() {
    let mut qemu = Qemu::boot();
    for seq in 0..5 {
        let ping = ping(2, seq);
        qemu.a.send(&ping);
        let (_, got) = qemu
            .b
            .wait_for(PATIENCE, |f| is_seq(f, seq))
            .expect("ping reached B");
        assert_eq!(got, ping, "A→B byte-identical");

        let ack = wire(
            1,
            Message::Ack(Ack {
                seq,
                state: state(),
                extensions: Extensions::NONE,
            }),
        );
        qemu.b.send(&ack);
        let (_, got) = qemu
            .a
            .wait_for(PATIENCE, |f| is_seq(f, seq))
            .expect("ack reached A");
        assert_eq!(got, ack, "B→A byte-identical");
    }
    assert_eq!(
        qemu.a.bad_frames + qemu.b.bad_frames,
        0,
        "the bridge sent a bad frame"
    );
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut qemu = Qemu::boot();
    qemu.a.send(&ping(2, 1));
    qemu.b
        .wait_for(PATIENCE, |f| is_seq(f, 1))
        .expect("first ping reached B");

    let mut corrupt = ping(2, 2);
    let at = corrupt.len() / 2;
    corrupt[at] ^= if corrupt[at] == 0x01 { 0x02 } else { 0x01 };
    qemu.a
        .send(&[0x13, 0x37, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF, 0xFF]);
    qemu.a.send(&corrupt);
    qemu.b.send(&[0x00, 0x42, 0x00]);
    qemu.a.send(&ping(2, 3));

    qemu.b
        .wait_for(PATIENCE, |f| is_seq(f, 3))
        .expect("the good frame after the garbage");
    assert!(
        !qemu.b.history.iter().any(|f| is_seq(f, 2)),
        "corrupt frame was forwarded"
    );
    let (frame, _) = qemu
        .b
        .wait_for(PATIENCE, |f| {
            status_of(f).is_some_and(|s| s.frames_dropped >= 3)
        })
        .expect("a status counting the dropped frames");
    assert_eq!(frame.sender, NodeId::BRIDGE);
    assert_eq!(qemu.b.bad_frames, 0, "the bridge forwarded garbage");
    assert!(
        qemu.a.history.iter().all(|f| status_of(f).is_some()),
        "nothing but status goes back to A"
    );
}

#[test]
fn status_on_both_sides_periodically_and_on_request() {
    let mut qemu = Qemu::boot();
    // Before any host spoke, the bridge knows no cluster and stays quiet.
    qemu.a.listen(Duration::from_millis(1_200));
    qemu.b.listen(Duration::from_millis(100));
    assert!(
        qemu.a.history.is_empty() && qemu.b.history.is_empty(),
        "status before adoption"
    );

    qemu.a.send(&ping(2, 1));
    let is_status = |f: &Frame| status_of(f).is_some();
    let (on_a, _) = qemu.a.wait_for(PATIENCE, is_status).expect("status on A");
    let (on_b, _) = qemu.b.wait_for(PATIENCE, is_status).expect("status on B");
    for (frame, side) in [(on_a, Side::A), (on_b, Side::B)] {
        let status = status_of(&frame).expect("status");
        assert_eq!((frame.cluster, frame.sender), (CLUSTER, NodeId::BRIDGE));
        assert_eq!(status.to_side, side);
        assert!(status.since_a_ms.is_some(), "A was heard: {status:?}");
        assert_eq!(status.since_b_ms, None, "B never spoke: {status:?}");
    }

    // Cadence by the bridge's own clock; the host-side spacing is printed
    // (QEMU's virtual clock follows the host's, so they should agree).
    let mut uptimes = Vec::new();
    let mut arrivals = Vec::new();
    while uptimes.len() < 5 {
        let (frame, _) = qemu
            .a
            .wait_for(PATIENCE, is_status)
            .expect("periodic status");
        uptimes.push(status_of(&frame).expect("status").uptime_ms);
        arrivals.push(Instant::now());
    }
    let by_bridge: Vec<u32> = uptimes.windows(2).map(|w| w[1] - w[0]).collect();
    let by_host: Vec<u128> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    println!("status spacing: bridge clock {by_bridge:?} ms, host clock {by_host:?} ms");
    assert!(by_bridge.iter().all(|&ms| ms >= 500), "{by_bridge:?}");

    // A request from B is answered on B (B now heard), and not forwarded to A.
    qemu.b.send(&wire(1, Message::BridgeStatusRequest));
    let (answer, _) = qemu
        .b
        .wait_for(PATIENCE, |f| {
            status_of(f).is_some_and(|s| s.since_b_ms.is_some())
        })
        .expect("answer on B");
    assert_eq!(status_of(&answer).map(|s| s.to_side), Some(Side::B));
    qemu.a.listen(Duration::from_millis(300));
    assert!(!qemu
        .a
        .history
        .iter()
        .any(|f| f.message == Message::BridgeStatusRequest));
}

#[test]
fn watchdog_resets_a_stopped_main_loop() {
    // The demo firmware runs the bridge for 2 s, then stops stepping it; the
    // watchdog (1 s) must reset the board, which `-no-reboot` turns into QEMU
    // exiting. The normal firmware's survival is checked by every other test
    // (QEMU exiting there fails them with "socket closed").
    let mut child = Command::new("qemu-system-arm")
        .args(QEMU_ARGS)
        .args(["-serial", "null", "-serial", "null", "-kernel"])
        .arg(watchdog_demo_elf())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qemu-system-arm");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for qemu") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("the watchdog never reset the board");
    assert!(
        status.success(),
        "QEMU ended by reset, not by an error: {status}"
    );
    let after = started.elapsed();
    println!("watchdog reset {after:?} after boot (loop stopped at 2 s, timeout 1 s)");
    assert!(
        after >= Duration::from_secs(2),
        "reset before the loop stopped: {after:?}"
    );
}
