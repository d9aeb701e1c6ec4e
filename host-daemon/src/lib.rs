//! The `twinbeat` daemon: configuration, probes, the serial link, status, and the
//! driver that feeds them into [`twinbeat_core`]'s engine.
//!
//! The library exists for the `twinbeat` binary: its one public entry is [`main`].
//! Every module is crate-private; each module's tests live next to it, and the
//! tests in `tests/` go through the binary, the state file and HTTP `/status`.
//! [`measure`] is the one other door, for the measurement programs in `examples/`.
#![forbid(unsafe_code)]

mod actions;
mod cli;
mod config;
mod control;
mod diagnose;
mod driver;
mod metrics;
mod probe;
mod serial_link;
mod status;

pub use cli::main;

/// The command line as clap describes it, for the man page the package ships
/// (`examples/man_page.rs`, clap_mangen). Not an API.
#[doc(hidden)]
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}

/// The probes the measurement programs in `examples/` drive (`icmp_load`,
/// `port_check_cost`, run by `benches/probe-cost.sh`): they measure the cost of the
/// daemon's own probe code, so they need it, not a copy. Not an API.
#[doc(hidden)]
pub mod measure {
    pub use crate::probe::icmp::{IcmpError, IcmpOutcome, IcmpProber, IcmpTarget};
    pub use crate::probe::remote_db::{
        RemoteDbCounters, RemoteDbFailure, RemoteDbOutcome, RemoteDbProbe, Via,
    };
    pub use crate::probe::tls::PeerConnector;
    pub use crate::probe::DbTarget;
}
