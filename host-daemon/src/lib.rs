//! The `twinbeat` daemon: configuration, probes, the serial link, status, and the
//! driver that feeds them into [`twinbeat_core`]'s engine.
#![forbid(unsafe_code)]

pub mod actions;
pub mod cli;
pub mod config;
pub mod driver;
pub mod metrics;
pub mod probe;
pub mod serial_link;
pub mod status;
