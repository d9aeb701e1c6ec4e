//! twinbeat lab: a real two-node PostgreSQL cluster on one machine.
//!
//! Network namespaces make a switch, node a, node b, a gateway and a client on one private
//! /24 that exists only inside them ([`netns`]); nftables inside a namespace drops chosen
//! traffic ([`faults`]); PostgreSQL 15 runs as a primary on a and a `pg_basebackup -R`
//! standby on b ([`pg`]); a pty relay is the serial cable ([`relay`]); each node runs
//! `twinbeat run` in its namespace ([`daemon`]); an invariant sampler watches for two
//! writable primaries or the VIP on both nodes ([`sampler`]). [`Lab`] ties it together and
//! removes all of it when dropped. [`scenarios`] holds the fault scenarios; [`checker`]
//! commits through the VIP while they run and holds the new primary to every acknowledged
//! commit.
//!
//! The same parts serve the daemon's own integration tests: a lone namespace or a pair
//! ([`netns::Netns`], [`netns::NetPair`]), a lone PostgreSQL server ([`pg::PgServer`]), a
//! pty pair ([`pty::PtyPair`]), a daemon configuration ([`daemon::DaemonConfig`]) and a
//! lone daemon node ([`lone::LoneNode`]); each removes what it made when dropped.
//!
//! Everything needs root; [`lab::preflight`] says what is missing.

pub mod certs;
pub mod checker;
pub mod cmd;
pub mod daemon;
pub mod dbwatch;
pub mod error;
pub mod faults;
pub mod foreign;
pub mod keeper;
pub mod lab;
pub mod lone;
pub mod netns;
pub mod nlview;
pub mod pg;
pub mod pgq;
pub mod procs;
pub mod pty;
pub mod relay;
pub mod rt;
pub mod sampler;
pub mod scenarios;
pub mod state;
pub mod unit_sandbox;
pub mod writer;

pub use error::{LabError, Result};
pub use lab::{exclusive, Freeze, Lab, LabOptions};
pub use netns::{Host, Node, Topology};

/// One `#[test]` per scenario function of [`scenarios`], each run by
/// [`scenarios::run_and_assert`] with the calling test's `lab` executable (so use it from
/// this package's integration tests, where `CARGO_BIN_EXE_lab` is set).
#[macro_export]
macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::scenarios::run_and_assert(
                    env!("CARGO_BIN_EXE_lab").into(),
                    $crate::scenarios::$name,
                );
            }
        )*
    };
}
