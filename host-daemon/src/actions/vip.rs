//! The VIP as an address on an interface, over rtnetlink (never by running `ip`).
//!
//! Taking it = add the address (already present is success) and then announce it with
//! gratuitous ARP (see [`super::arp`]; IPv6: unsolicited neighbour advertisements,
//! [`super::ndp`]); releasing it = delete the address (absent is
//! success). Every netlink request is bounded by [`NETLINK_TIMEOUT`].

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressHeaderFlags;
use rtnetlink::Handle;

use super::arp::{self, ArpError, GarpHandle};
use super::ndp;

/// Bound on one netlink request (they normally answer in well under a millisecond).
pub(crate) const NETLINK_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the VIP goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VipSpec {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length (as in `address/prefix`).
    pub prefix_len: u8,
    /// The interface name.
    pub interface: String,
}

/// Errors of the VIP's netlink side.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VipError {
    /// The netlink socket could not be opened.
    #[error("VIP: cannot open a netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// No interface has this name.
    #[error("VIP: no interface named {0:?}")]
    NoSuchInterface(String),
    /// The kernel refused a request (e.g. EPERM without CAP_NET_ADMIN).
    #[error("VIP: netlink {op} failed: {source}")]
    Netlink {
        /// The request.
        op: &'static str,
        /// The kernel's or the library's error.
        #[source]
        source: rtnetlink::Error,
    },
    /// A request got no answer within [`NETLINK_TIMEOUT`].
    #[error("VIP: netlink {0} timed out")]
    Timeout(&'static str),
}

/// Whether [`Vip::add`] changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddOutcome {
    /// The address was added.
    Added,
    /// It was already there (idempotent success).
    AlreadyPresent,
}

/// Whether [`Vip::remove`] changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoveOutcome {
    /// The address was deleted.
    Removed,
    /// It was not there (idempotent success).
    WasAbsent,
}

/// The result of [`Vip::take`].
#[derive(Debug)]
pub(crate) struct TakeReport {
    /// What the add did.
    pub outcome: AddOutcome,
    /// From the call to the address being on the interface (a figure the tests print).
    #[cfg(test)]
    pub add_elapsed: Duration,
    /// From the call to the first gratuitous ARP (IPv6: unsolicited neighbour
    /// advertisement) leaving; None when none was asked for or sending failed.
    pub first_announcement_elapsed: Option<Duration>,
    /// The remaining announcements, sent in the background.
    pub announcements: Option<GarpHandle>,
}

/// A handle on the VIP of one node. Bound to the network namespace it was created in.
#[derive(Debug)]
pub(crate) struct Vip {
    spec: VipSpec,
    handle: Handle,
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for Vip {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn netlink(op: &'static str) -> impl Fn(rtnetlink::Error) -> VipError {
    move |source| VipError::Netlink { op, source }
}

/// The errno of a netlink error, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().raw_os_error(),
        _ => None,
    }
}

async fn bounded<T>(
    op: &'static str,
    f: impl std::future::Future<Output = Result<T, VipError>>,
) -> Result<T, VipError> {
    tokio::time::timeout(NETLINK_TIMEOUT, f)
        .await
        .unwrap_or(Err(VipError::Timeout(op)))
}

impl Vip {
    /// Opens a netlink connection (in the current network namespace; needs a tokio
    /// runtime with I/O enabled).
    pub(crate) fn new(spec: VipSpec) -> Result<Self, VipError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(VipError::Socket)?;
        let conn = tokio::spawn(connection);
        Ok(Self { spec, handle, conn })
    }

    /// The VIP this handle manages.
    pub(crate) fn spec(&self) -> &VipSpec {
        &self.spec
    }

    /// The interface's index.
    pub(crate) async fn interface_index(&self) -> Result<u32, VipError> {
        bounded("get link", async {
            let mut links = self
                .handle
                .link()
                .get()
                .match_name(self.spec.interface.clone())
                .execute();
            match links.try_next().await {
                Ok(Some(link)) => Ok(link.header.index),
                Ok(None) => Err(VipError::NoSuchInterface(self.spec.interface.clone())),
                Err(e) if errno(&e) == Some(nix::libc::ENODEV) => {
                    Err(VipError::NoSuchInterface(self.spec.interface.clone()))
                }
                Err(e) => Err(netlink("get link")(e)),
            }
        })
        .await
    }

    /// Adds the address; already present is success.
    pub(crate) async fn add(&self) -> Result<AddOutcome, VipError> {
        let index = self.interface_index().await?;
        bounded("add address", async {
            let mut req = self
                .handle
                .address()
                .add(index, self.spec.address, self.spec.prefix_len);
            if self.spec.address.is_ipv6() {
                // No duplicate address detection: the VIP must be usable at once
                // (the ARP probe already checked nobody holds it), as keepalived does.
                req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
            }
            match req.execute().await {
                Ok(()) => Ok(AddOutcome::Added),
                Err(e) if errno(&e) == Some(nix::libc::EEXIST) => Ok(AddOutcome::AlreadyPresent),
                Err(e) => Err(netlink("add address")(e)),
            }
        })
        .await
    }

    /// The netlink dump of this VIP's address on interface `index` (any prefix length).
    fn our_addresses(
        &self,
        index: u32,
    ) -> impl futures_util::TryStream<
        Ok = rtnetlink::packet_route::address::AddressMessage,
        Error = rtnetlink::Error,
    > + Unpin {
        self.handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(self.spec.address)
            .execute()
    }

    /// Deletes the address (any prefix length) from the interface; absent is success.
    pub(crate) async fn remove(&self) -> Result<RemoveOutcome, VipError> {
        let index = self.interface_index().await?;
        bounded("delete address", async {
            let mut found = self.our_addresses(index);
            let mut removed = false;
            while let Some(msg) = found.try_next().await.map_err(netlink("get address"))? {
                match self.handle.address().del(msg).execute().await {
                    Ok(()) => removed = true,
                    // Gone in between (another actor, or a second call): fine.
                    Err(e)
                        if matches!(
                            errno(&e),
                            Some(nix::libc::EADDRNOTAVAIL | nix::libc::ENOENT)
                        ) => {}
                    Err(e) => return Err(netlink("delete address")(e)),
                }
            }
            Ok(if removed {
                RemoveOutcome::Removed
            } else {
                RemoveOutcome::WasAbsent
            })
        })
        .await
    }

    /// Whether the address is on the interface.
    pub(crate) async fn is_present(&self) -> Result<bool, VipError> {
        let index = self.interface_index().await?;
        bounded("get address", async {
            let mut found = self.our_addresses(index);
            Ok(found
                .try_next()
                .await
                .map_err(netlink("get address"))?
                .is_some())
        })
        .await
    }

    /// Takes the VIP: adds it, sends the first gratuitous ARP at once and the other
    /// `announcements - 1` every `interval` in the background (IPaddr2 uses 200 ms).
    ///
    /// An announcement failure is returned as the second element: the address is
    /// on the interface either way, so the node is primary and the engine only alarms.
    pub(crate) async fn take(
        &self,
        announcements: u32,
        interval: Duration,
    ) -> Result<(TakeReport, Option<ArpError>), VipError> {
        let start = Instant::now();
        let outcome = self.add().await?;
        let mut report = TakeReport {
            outcome,
            #[cfg(test)]
            add_elapsed: start.elapsed(),
            first_announcement_elapsed: None,
            announcements: None,
        };
        if announcements == 0 {
            return Ok((report, None));
        }
        let announced = match self.spec.address {
            IpAddr::V4(v4) => {
                arp::announce(&self.spec.interface, v4, announcements, interval).await
            }
            IpAddr::V6(v6) => {
                ndp::announce(&self.spec.interface, v6, announcements, interval).await
            }
        };
        match announced {
            Ok(h) => {
                report.first_announcement_elapsed = Some(h.first_sent_at().duration_since(start));
                report.announcements = Some(h);
                Ok((report, None))
            }
            Err(e) => Ok((report, Some(e))),
        }
    }
}

#[cfg(test)]
mod tests;
