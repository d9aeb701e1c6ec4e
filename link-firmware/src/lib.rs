//! twinbeat heartbeat bridge logic.
//!
//! A bridge sits on the serial line between the two twinbeat hosts: side A's
//! UART is wired to host A, side B's to host B. It forwards every frame whose
//! envelope is valid (COBS, CRC, wire version 2 or 3, the adopted cluster)
//! unchanged to the other side without reading its body, drops corrupt ones (counted),
//! answers `BridgeStatusRequest` and sends `BridgeStatus` on both sides every
//! [`BridgeConfig::status_interval_ms`]. A host that hears the bridge but not
//! its peer knows the line is fine and the peer is silent; a host that hears
//! nothing knows the line (or the bridge) is broken.
//!
//! The logic is `no_std`, allocation-free and hardware-agnostic: it is
//! generic over [`embedded_io`] ports, a millisecond [`Clock`], an
//! [`embedded_hal::digital::OutputPin`] status LED and a [`Watchdog`], so the
//! same code runs on every board and in the host unit tests.
//!
//! ```
//! # use twinbeat_link::*;
//! # fn demo<A, B, C, L>(a: A, b: B, clock: C, led: L) -> Result<(), ConfigError>
//! # where A: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write + embedded_io::WriteReady,
//! #       B: embedded_io::Read + embedded_io::ReadReady + embedded_io::Write + embedded_io::WriteReady,
//! #       C: Clock, L: embedded_hal::digital::OutputPin {
//! let mut bridge = Bridge::new(a, b, clock, led, || { /* feed the hardware watchdog */ },
//!                              BridgeConfig::DEFAULT)?;
//! loop {
//!     bridge.poll();
//! #   break;
//! }
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

mod bridge;
mod config;
mod port;
mod report;
#[cfg(test)]
mod tests;

pub use bridge::Bridge;
pub use config::{BridgeConfig, ConfigError};
pub use port::{RX_CHUNK, TX_CAPACITY};
pub use report::{Counters, LedView};
pub use twinbeat_protocol as protocol;

/// A free-running millisecond clock.
///
/// The value may wrap at `u32::MAX` (after ~49.7 days): the bridge only ever
/// looks at differences between successive readings, taken with wrapping
/// arithmetic, so a wrap is harmless as long as [`Bridge::poll`] runs more
/// often than every ~24 days.
pub trait Clock {
    /// Milliseconds since an arbitrary epoch (usually boot).
    fn now_ms(&self) -> u32;
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now_ms(&self) -> u32 {
        (**self).now_ms()
    }
}

/// The board's hardware watchdog.
///
/// [`Bridge::poll`] feeds it once at the end of every step, and nothing else
/// does: a main loop that hangs (a stuck UART, a livelock) stops feeding it and
/// the board resets. Any `FnMut()` closure is a watchdog.
pub trait Watchdog {
    /// Restarts the watchdog's countdown.
    fn feed(&mut self);
}

impl<F: FnMut()> Watchdog for F {
    fn feed(&mut self) {
        self()
    }
}
