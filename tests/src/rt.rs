//! Current-thread tokio runtimes for the kit's blocking callers (the lab's API and the
//! daemon's tests are blocking; the clients they drive are async).

use std::future::Future;

use crate::error::Result;

/// A current-thread runtime with time and I/O enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}

/// Runs a fallible future to completion on a fresh current-thread runtime.
pub fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    runtime().block_on(fut)
}
