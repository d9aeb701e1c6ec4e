//! The status HTTP server: `GET /status` (JSON) and `GET /metrics` (Prometheus text),
//! on hyper's HTTP/1 server over a tokio listener — a small footprint, no framework.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Shared;

/// Why the status server could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// Binding the listen address failed (in use, not local, no permission).
    #[error("status.listen {addr}: cannot listen: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running status server.
#[derive(Debug)]
pub(crate) struct StatusServer {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    /// The accept loop; abort it to stop the server.
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` and serves `shared` until the returned task is aborted.
pub(crate) async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> Result<StatusServer, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // EMFILE and friends: keep serving once descriptors free up.
                    tracing::warn!("status server: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(handle(&req, &shared)) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    tracing::debug!("status connection: {e}");
                }
            });
        }
    });
    Ok(StatusServer { local_addr, task })
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn handle(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/status" => match serde_json::to_string_pretty(&shared.snapshot()) {
            Ok(body) => reply(StatusCode::OK, "application/json", body + "\n"),
            Err(e) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("{e}\n"),
            ),
        },
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.encode(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /status or /metrics\n".into(),
        ),
    }
}
