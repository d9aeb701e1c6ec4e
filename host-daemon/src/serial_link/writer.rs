//! The writer thread: writes queued frames through the reader's clone of the port.

use std::io::{ErrorKind, Write};
use std::sync::mpsc as std_mpsc;

use super::Shared;

pub(super) fn writer(shared: &Shared, outgoing: &std_mpsc::Receiver<Vec<u8>>) {
    while let Ok(bytes) = outgoing.recv() {
        let mut slot = shared.port();
        let Some(port) = slot.as_mut() else {
            shared.counters().dropped_not_open += 1;
            continue;
        };
        match port.write_all(&bytes) {
            Ok(()) => shared.counters().frames_sent += 1,
            Err(error) if error.kind() == ErrorKind::TimedOut => {
                shared.counters().write_timeouts += 1;
            }
            Err(error) => {
                tracing::warn!(%error, "serial write failed");
                shared.counters().write_errors += 1;
                // The reader notices the loss too and reopens; stop writing to it.
                *slot = None;
            }
        }
    }
}
