//! Probes of the outside world, each bounded by its timeout.
//!
//! Every probe is a plain struct with an `async` method that runs **one attempt**
//! and returns within the timeout it is given (plus scheduling noise): the
//! driver decides when to call it, the core engine decides what the result means.
//! A probe returns as soon as it knows; holding a failed attempt until the end of
//! its window (rule `attempt-window`) is the engine's job, not the probe's.
//!
//! | path | type | attempt | result |
//! | --- | --- | --- | --- |
//! | local DB | [`local_db::LocalDbProbe`] | [`local_db::LocalDbProbe::check`] | [`local_db::LocalDbSample`] |
//! | remote DB | [`remote_db::RemoteDbProbe`] | [`remote_db::RemoteDbProbe::attempt`] | [`remote_db::RemoteDbOutcome`] |
//! | ICMP (peer, gateway) | [`icmp::IcmpTarget`] from [`icmp::IcmpProber`] | [`icmp::IcmpTarget::attempt`] | [`icmp::IcmpOutcome`] |
//!
//! All of them implement [`Probe`], so the driver can hand any of them to
//! [`runner::spawn`], which owns the probe in its own task and reports finished
//! attempts over a tokio mpsc channel (the shape a `select!` loop wants).

pub(crate) mod icmp;
#[cfg(test)]
pub(crate) mod lab_target;
pub(crate) mod local_db;
pub(crate) mod pg;
pub(crate) mod published;
pub(crate) mod remote_db;
pub(crate) mod runner;
pub(crate) mod tls;

use std::future::Future;
use std::time::Duration;

pub use pg::DbTarget;
pub(crate) use pg::Readiness;

/// One kind of probe: something that runs one attempt bounded by a timeout.
pub(crate) trait Probe: Send + 'static {
    /// What one attempt reports.
    type Outcome: Send + 'static;

    /// Runs one attempt; returns within `timeout` (plus scheduling noise).
    fn attempt(&mut self, timeout: Duration) -> impl Future<Output = Self::Outcome> + Send;
}

impl Probe for local_db::LocalDbProbe {
    type Outcome = local_db::LocalDbSample;

    fn attempt(&mut self, timeout: Duration) -> impl Future<Output = Self::Outcome> + Send {
        self.check(timeout)
    }
}

impl Probe for remote_db::RemoteDbProbe {
    type Outcome = remote_db::RemoteDbOutcome;

    fn attempt(&mut self, timeout: Duration) -> impl Future<Output = Self::Outcome> + Send {
        remote_db::RemoteDbProbe::attempt(self, timeout)
    }
}

impl Probe for icmp::IcmpTarget {
    type Outcome = icmp::IcmpOutcome;

    fn attempt(&mut self, timeout: Duration) -> impl Future<Output = Self::Outcome> + Send {
        icmp::IcmpTarget::attempt(self, timeout)
    }
}
