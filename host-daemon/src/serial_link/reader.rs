//! The reader thread: opens the device (reopening it with back-off when it is
//! missing or lost), reads, deframes and reports each frame or rejection.

use std::io::{ErrorKind, Read};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, StopBits, TTYPort};
use tokio::sync::mpsc;
use twinbeat_protocol::{ClusterFilter, Deframer, Feed, NodeId, MAX_FRAME_LEN};

use super::{LinkEvent, SerialConfig, Shared};

fn open(config: &SerialConfig) -> Result<TTYPort, serialport::Error> {
    serialport::new(config.device.to_string_lossy(), config.baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .timeout(config.poll)
        .open_native()
}

/// Drops the bytes queued in the device's input buffer (`tcflush(TCIFLUSH)`).
fn clear_input(port: &TTYPort) {
    use serialport::SerialPort;
    if let Err(error) = port.clear(serialport::ClearBuffer::Input) {
        tracing::debug!(%error, "serial: cannot flush the input");
    }
}

/// Sleeps `total` in `poll`-sized steps; false if a shutdown was asked meanwhile.
fn sleep_unless_stopped(shared: &Shared, total: Duration) -> bool {
    let until = Instant::now() + total;
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        thread::sleep((until - now).min(shared.config.poll));
    }
}

pub(super) fn reader(shared: &Shared, events: &mpsc::Sender<LinkEvent>) {
    let config = &shared.config;
    let mut deframer = Deframer::<MAX_FRAME_LEN>::new(ClusterFilter::Only(config.cluster));
    let mut backoff = config.reopen_min;
    let mut announced_down = false;
    while !shared.stop.load(Ordering::Acquire) {
        let port = match open(config).and_then(|port| {
            let clone = port.try_clone_native()?;
            Ok((port, clone))
        }) {
            Ok(pair) => pair,
            Err(error) => {
                shared.counters().open_failures += 1;
                if !announced_down {
                    announced_down = true;
                    let reason = format!("cannot open {}: {error}", config.device.display());
                    if events.blocking_send(LinkEvent::Down { reason }).is_err() {
                        return;
                    }
                }
                if !sleep_unless_stopped(shared, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(config.reopen_max);
                continue;
            }
        };
        let (mut port, clone) = port;
        backoff = config.reopen_min;
        // What the device held before we opened it was sent to a reader that is gone.
        shared.flush.store(false, Ordering::Release);
        clear_input(&port);
        deframer.reset();
        *shared.port() = Some(clone);
        shared.open.store(true, Ordering::Release);
        shared.counters().opens += 1;
        if events.blocking_send(LinkEvent::Up).is_err() {
            return;
        }
        let reason = read_until_lost(shared, &mut port, &mut deframer, events);
        shared.open.store(false, Ordering::Release);
        *shared.port() = None;
        drop(port);
        match reason {
            // Shutdown or the driver is gone.
            None => return,
            Some(reason) => {
                announced_down = true;
                if events.blocking_send(LinkEvent::Down { reason }).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads and decodes until the device is lost (returns why) or the link stops
/// (returns `None`).
fn read_until_lost<const N: usize>(
    shared: &Shared,
    port: &mut TTYPort,
    deframer: &mut Deframer<N>,
    events: &mpsc::Sender<LinkEvent>,
) -> Option<String> {
    let mut buf = [0u8; 256];
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return None;
        }
        if shared.flush.swap(false, Ordering::AcqRel) {
            clear_input(port);
            deframer.reset();
        }
        let n = match port.read(&mut buf) {
            Ok(0) => return Some("end of file on the serial device".into()),
            Ok(n) => n,
            Err(error) if matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                continue
            }
            Err(error) => return Some(format!("serial read failed: {error}")),
        };
        let received = Instant::now();
        let mut window = &buf[..n];
        while !window.is_empty() {
            let (event, rest) = match deframer.feed(window) {
                Feed::Consumed => break,
                Feed::Frame {
                    frame,
                    version,
                    remaining,
                    ..
                } => {
                    // The peer's version, not a bridge's: a bridge answers
                    // each side in that side's version anyway.
                    if frame.sender != NodeId::BRIDGE {
                        let byte = version.byte();
                        shared.peer_version.store(byte, Ordering::Release);
                    }
                    let event = LinkEvent::Frame {
                        frame,
                        version,
                        received,
                    };
                    (event, remaining)
                }
                Feed::Error { error, remaining } => (LinkEvent::Rejected { error }, remaining),
            };
            window = rest;
            // Publish the counters before the event, so that whoever sees the
            // event also sees it counted.
            shared.counters().decode = *deframer.counters();
            if events.blocking_send(event).is_err() {
                return None;
            }
        }
        shared.counters().decode = *deframer.counters();
    }
}
