//! The CLI's side of the control socket: one request, one answer, all within a
//! deadline.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{Request, Response, MAX_ANSWER};

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The socket (or its directory) does not let this user in.
    #[error("uid {uid} cannot open the control socket {} ({source})", path.display())]
    Permission {
        /// This process's uid.
        uid: u32,
        /// The socket.
        path: PathBuf,
        /// The OS error (EACCES, EPERM).
        source: io::Error,
    },
    /// Nothing listens there, or no answer came in time.
    #[error("daemon not reachable at {}: {detail}", path.display())]
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// What happened.
        detail: String,
    },
    /// Something answered, but not with an answer.
    #[error("bad answer from {}: {detail}", path.display())]
    BadAnswer {
        /// The socket.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

/// Sends `request` to the daemon at `path` and returns its answer, within `deadline`.
pub(crate) async fn send(
    path: &Path,
    request: &Request,
    deadline: Duration,
) -> Result<Response, ClientError> {
    let unreachable = |detail: String| ClientError::Unreachable {
        path: path.to_owned(),
        detail,
    };
    let bad = |detail: String| ClientError::BadAnswer {
        path: path.to_owned(),
        detail,
    };
    let exchange = async {
        let mut stream = UnixStream::connect(path).await.map_err(|source| {
            if matches!(source.kind(), io::ErrorKind::PermissionDenied) {
                ClientError::Permission {
                    uid: nix::unistd::getuid().as_raw(),
                    path: path.to_owned(),
                    source,
                }
            } else {
                unreachable(source.to_string())
            }
        })?;
        let mut line = serde_json::to_vec(request).map_err(|e| bad(e.to_string()))?;
        line.push(b'\n');
        // A server that refuses the caller answers without reading: the write may then
        // fail, while its answer is already there to read.
        let written = async {
            stream.write_all(&line).await?;
            stream.shutdown().await
        }
        .await;
        let mut answer = Vec::new();
        let limit = u64::try_from(MAX_ANSWER).unwrap_or(u64::MAX);
        BufReader::new(stream.take(limit))
            .read_until(b'\n', &mut answer)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if answer.is_empty() {
            return Err(match written {
                Err(e) => unreachable(format!("cannot send the request: {e}")),
                Ok(()) => unreachable("the connection closed without an answer".to_owned()),
            });
        }
        serde_json::from_slice(&answer).map_err(|e| bad(e.to_string()))
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| unreachable(format!("no answer within {deadline:?}")))?
}
