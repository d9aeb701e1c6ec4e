//! The `twinbeat` daemon: configuration, probes, the serial link, status, and the
//! driver that feeds them into [`twinbeat_core`]'s engine.
#![forbid(unsafe_code)]

pub mod config;
pub mod probe;
pub mod serial_link;
