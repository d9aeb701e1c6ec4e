//! systemd's Manager over D-Bus (zbus): RestartUnit / StartUnit / StopUnit / KillUnit
//! for the local PostgreSQL unit, and PowerOff for the `poweroff` fence action.
//!
//! The calls return once systemd has queued the job (`"replace"` mode); whether the
//! database really stopped is confirmed separately through its postmaster PID (see
//! [`super::fence`]). Tests run these against a private `dbus-daemon` with a small
//! stand-in that implements these Manager methods, because systemd is not PID 1 on
//! the test machines; the bus address is therefore configurable ([`Bus`]).

use std::time::Duration;

use zbus::zvariant::OwnedObjectPath;

#[allow(missing_docs, unreachable_pub)]
mod proxy {
    #[zbus::proxy(
        interface = "org.freedesktop.systemd1.Manager",
        default_service = "org.freedesktop.systemd1",
        default_path = "/org/freedesktop/systemd1",
        gen_blocking = false
    )]
    pub trait Manager {
        fn restart_unit(
            &self,
            name: &str,
            mode: &str,
        ) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
        fn start_unit(
            &self,
            name: &str,
            mode: &str,
        ) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
        fn stop_unit(
            &self,
            name: &str,
            mode: &str,
        ) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
        fn kill_unit(&self, name: &str, whom: &str, signal: i32) -> zbus::Result<()>;
        fn power_off(&self) -> zbus::Result<()>;
    }
}

/// Which bus to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Bus {
    /// The system bus (production).
    #[default]
    System,
    /// A bus at this D-Bus address: the tests' private `dbus-daemon`.
    #[cfg(test)]
    Address(String),
}

/// Errors of the D-Bus side.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SystemdError {
    /// Could not connect to the bus.
    #[error("systemd: cannot connect to D-Bus: {0}")]
    Connect(#[source] zbus::Error),
    /// The method call failed (systemd refused it, unit unknown, access denied...).
    #[error("systemd: {method} failed: {source}")]
    Call {
        /// The Manager method.
        method: &'static str,
        /// zbus's error (with systemd's error name and message).
        #[source]
        source: zbus::Error,
    },
    /// No answer within the bound.
    #[error("systemd: {0} timed out")]
    Timeout(&'static str),
}

/// A connection to systemd's Manager.
#[derive(Debug, Clone)]
pub(crate) struct SystemdManager {
    proxy: proxy::ManagerProxy<'static>,
    timeout: Duration,
}

impl SystemdManager {
    /// Connects to `bus`; every later call is bounded by `timeout`.
    pub(crate) async fn connect(bus: &Bus, timeout: Duration) -> Result<Self, SystemdError> {
        let connect = async {
            let conn = match bus {
                Bus::System => zbus::Connection::system().await?,
                #[cfg(test)]
                Bus::Address(a) => {
                    zbus::connection::Builder::address(a.as_str())?
                        .build()
                        .await?
                }
            };
            proxy::ManagerProxy::new(&conn).await
        };
        let proxy = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| SystemdError::Timeout("connect"))?
            .map_err(SystemdError::Connect)?;
        Ok(Self { proxy, timeout })
    }

    async fn bounded<T>(
        &self,
        method: &'static str,
        f: impl std::future::Future<Output = zbus::Result<T>>,
    ) -> Result<T, SystemdError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .map_err(|_| SystemdError::Timeout(method))?
            .map_err(|source| SystemdError::Call { method, source })
    }

    /// `RestartUnit(unit, "replace")`; returns the job's object path.
    pub(crate) async fn restart_unit(&self, unit: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.bounded("RestartUnit", self.proxy.restart_unit(unit, "replace"))
            .await
    }

    /// `StartUnit(unit, "replace")`; returns the job's object path. The end of a rejoin
    /// starts the DB (see [`ServiceControl::start`](crate::actions::service::ServiceControl::start)).
    pub(crate) async fn start_unit(&self, unit: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.bounded("StartUnit", self.proxy.start_unit(unit, "replace"))
            .await
    }

    /// `StopUnit(unit, "replace")`; returns the job's object path.
    pub(crate) async fn stop_unit(&self, unit: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.bounded("StopUnit", self.proxy.stop_unit(unit, "replace"))
            .await
    }

    /// `KillUnit(unit, "all", signal)`: signals every process of the unit.
    pub(crate) async fn kill_unit(&self, unit: &str, signal: i32) -> Result<(), SystemdError> {
        self.bounded("KillUnit", self.proxy.kill_unit(unit, "all", signal))
            .await
    }

    /// `PowerOff()`: the `poweroff` fence action.
    pub(crate) async fn power_off(&self) -> Result<(), SystemdError> {
        self.bounded("PowerOff", self.proxy.power_off()).await
    }
}

#[cfg(test)]
mod tests;
