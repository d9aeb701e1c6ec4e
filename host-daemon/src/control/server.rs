//! The control server: the socket's life (created at start, a stale one replaced only
//! when no daemon answers on it, mode 0660 with `control.group` as its group, removed
//! when the daemon stops) and one short exchange per connection: credentials checked,
//! one request line read, handed to the driver, one answer line written.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::timeout;

use super::access::{self, Caller};
use super::{Command, Operation, Refusal, Request, Response, IO_TIMEOUT, MAX_REQUEST};
use crate::status::Shared;

/// Connections served at once; more wait in the listen backlog. Each is bounded by
/// [`IO_TIMEOUT`] per step, so a stalled caller holds one slot for seconds at most.
const CONCURRENT: usize = 4;

/// The socket's mode: owner (root) and group read-write, nobody else; `connect()`
/// needs write permission.
const MODE: u32 = 0o660;

/// Why the control socket could not be set up; `run` stops with it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    /// A daemon answers on the socket already: two daemons on one state directory
    /// would each think they own its state.
    #[error("control socket {}: a daemon already answers there (another twinbeat with this state_dir?)", .0.display())]
    InUse(PathBuf),
    /// Something that is not a socket has the socket's name: not ours to remove.
    #[error("control socket {}: exists and is not a socket; move it away", .0.display())]
    NotASocket(PathBuf),
    /// `control.group` is not in the group database (any more).
    #[error("control.group {0:?}: no such group on this host")]
    NoGroup(String),
    /// Creating, binding or setting up the socket failed.
    #[error("control socket {}: {what}: {source}", path.display())]
    Io {
        /// The socket's path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// The running server. Dropping it stops it and removes the socket, if the file at its
/// path is still the one it created.
#[derive(Debug)]
pub(crate) struct ControlServer {
    path: PathBuf,
    /// Device and inode of the socket it created.
    id: (u64, u64),
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// The socket's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(
                    "control socket {}: cannot remove it: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// Creates the socket at `path` and serves it: callers admitted by `access` (root, or
/// members of `group`) have their requests carried out by whoever receives from `ops`
/// (the driver); a status request is answered from `shared`.
pub(crate) async fn serve(
    path: PathBuf,
    group: Option<String>,
    ops: mpsc::Sender<Operation>,
    shared: Arc<Shared>,
) -> Result<ControlServer, ControlError> {
    let io_err = |what| {
        let path = path.clone();
        move |source| ControlError::Io { path, what, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("creating its directory"))?;
    }
    remove_stale(&path).await?;
    let listener = UnixListener::bind(&path).map_err(io_err("bind"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(MODE))
        .map_err(io_err("chmod 0660"))?;
    if let Some(name) = &group {
        let gid = match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => g.gid.as_raw(),
            Ok(None) => return Err(ControlError::NoGroup(name.clone())),
            Err(e) => return Err(io_err("looking up control.group")(e.into())),
        };
        std::os::unix::fs::chown(&path, None, Some(gid)).map_err(io_err(
            "giving it to control.group (chown; needs CAP_CHOWN)",
        ))?;
        warn_if_unreachable(&path, name, gid);
    }
    let meta = std::fs::symlink_metadata(&path).map_err(io_err("stat"))?;
    let group: Option<Arc<str>> = group.map(Into::into);
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let task = tokio::spawn(async move {
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // EMFILE and friends: keep serving once descriptors free up.
                    tracing::warn!("control: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let group = group.clone();
            let ops = ops.clone();
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                connection(stream, group, ops, &shared).await;
                drop(permit);
            });
        }
    });
    Ok(ControlServer {
        path,
        id: (meta.dev(), meta.ino()),
        task,
    })
}

/// Warns when the group cannot get through the socket's directory (the shipped unit's
/// `StateDirectoryMode=0700`): its members are then refused by the file system, not by
/// the credential check, so a setting that looks right would not work.
fn warn_if_unreachable(path: &Path, group: &str, gid: u32) {
    let Some(dir) = path.parent() else {
        return;
    };
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let mode = meta.permissions().mode();
    let passes = mode & 0o001 != 0 || (meta.gid() == gid && mode & 0o010 != 0);
    if !passes {
        tracing::warn!(
            "control socket {}: group {group} cannot reach it through {} (mode {:o}): \
             give the directory mode 0711 (systemd: StateDirectoryMode=0711) for its members to use it",
            path.display(),
            dir.display(),
            mode & 0o7777
        );
    }
}

/// Makes room for the socket: nothing there, or a socket nobody answers on (a daemon
/// that died without removing it), which is removed. A socket a daemon answers on, or
/// a file of another kind, is left alone and refused.
async fn remove_stale(path: &Path) -> Result<(), ControlError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ControlError::Io {
                path: path.to_owned(),
                what: "stat",
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket(path.to_owned()));
    }
    match timeout(IO_TIMEOUT, UnixStream::connect(path)).await {
        // A connect that is not refused at once has a listener behind it.
        Ok(Ok(_)) | Err(_) => Err(ControlError::InUse(path.to_owned())),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(
                "control socket {}: stale (nobody answers): replacing it",
                path.display()
            );
            std::fs::remove_file(path).map_err(|source| ControlError::Io {
                path: path.to_owned(),
                what: "removing the stale socket",
                source,
            })
        }
        Ok(Err(source)) => Err(ControlError::Io {
            path: path.to_owned(),
            what: "checking whether a daemon answers",
            source,
        }),
    }
}

/// One connection: the answer, then its line written back within [`IO_TIMEOUT`].
async fn connection(
    mut stream: UnixStream,
    group: Option<Arc<str>>,
    ops: mpsc::Sender<Operation>,
    shared: &Shared,
) {
    let response = answer(&mut stream, group, ops, shared).await;
    let mut line = serde_json::to_string(&response)
        .unwrap_or_else(|e| format!(r#"{{"ok":false,"message":"cannot encode the answer: {e}"}}"#));
    line.push('\n');
    let written = timeout(IO_TIMEOUT, async {
        stream.write_all(line.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("control: cannot write the answer: {e}"),
        Err(_) => tracing::debug!("control: the caller did not read the answer in time"),
    }
}

/// The answer to the caller on `stream`: refused unless admitted, else its request
/// carried out by the driver.
async fn answer(
    stream: &mut UnixStream,
    group: Option<Arc<str>>,
    ops: mpsc::Sender<Operation>,
    shared: &Shared,
) -> Response {
    let caller = match stream.peer_cred() {
        Ok(c) => Caller {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        },
        Err(e) => {
            tracing::warn!("control: refused a caller whose credentials cannot be read: {e}");
            return Response::refused(
                Refusal::Permission,
                "the caller's credentials cannot be read",
            );
        }
    };
    // Read before judging: a socket closed with input unread makes the caller's next
    // read fail (ECONNRESET), which a caller reading to the end would take for no answer.
    let request = read_request(stream).await;
    if caller.uid != 0 {
        let g = group.clone();
        let verdict = tokio::task::spawn_blocking(move || access::check(&caller, g.as_deref()))
            .await
            .unwrap_or_else(|e| Err(format!("the access check failed: {e}")));
        if let Err(why) = verdict {
            tracing::warn!("control: refused {caller}: {why}");
            return Response::refused(Refusal::Permission, why);
        }
    }
    let request = match request {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!("control: bad request from {caller}: {why}");
            return Response::refused(Refusal::Request, why);
        }
    };
    let command = match request {
        Request::Resume {
            force_primary: true,
        } => Command::ReleaseHold,
        Request::Resume {
            force_primary: false,
        } => Command::Unpause,
        Request::Pause { for_ms } => Command::Pause(for_ms.map(std::time::Duration::from_millis)),
        Request::Rejoin { reclone } => Command::Rejoin { reclone },
        Request::Switchover => Command::Switchover,
        Request::Status => {
            tracing::debug!("control: status read by {caller}");
            return Response::status(shared.snapshot());
        }
    };
    tracing::info!("control: {} requested by {caller}", command.name());
    let (reply, replied) = oneshot::channel();
    let op = Operation {
        command,
        caller: caller.to_string(),
        reply,
    };
    let unavailable = || {
        Response::refused(
            Refusal::Unavailable,
            "the daemon did not take the request (starting or stopping): try again",
        )
    };
    let outcome = timeout(IO_TIMEOUT, async {
        ops.send(op).await.ok()?;
        replied.await.ok()
    })
    .await;
    match outcome {
        Ok(Some(Ok(done))) => Response::done(done),
        Ok(Some(Err(reason))) => Response::refused(Refusal::Engine, reason),
        Ok(None) | Err(_) => unavailable(),
    }
}

/// Reads one request line (or the bytes up to end of input) of at most
/// [`MAX_REQUEST`] bytes within [`IO_TIMEOUT`], and decodes it.
async fn read_request(stream: &mut UnixStream) -> Result<Request, String> {
    let mut line = Vec::with_capacity(128);
    let limit = u64::try_from(MAX_REQUEST).unwrap_or(u64::MAX);
    let mut reader = BufReader::new(stream.take(limit));
    match timeout(IO_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(format!("no request within {IO_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("cannot read the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() >= MAX_REQUEST && !line.ends_with(b"\n") {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    serde_json::from_slice(&line).map_err(|e| format!("bad request: {e}"))
}
