//! Shared helpers for the daemon's real-part tests: throw-away PostgreSQL 15
//! servers ([`pg`]), network namespaces ([`netns`]) and pty pairs ([`pty`]).
//!
//! The tests run as root on a machine the CI script prepared; when a part is
//! missing they panic with the package to install rather than skip.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod netns;
pub(crate) mod pg;
pub(crate) mod pty;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Panics with a clear message unless `path` exists.
pub(crate) fn require_file(path: &str, what: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: this test needs {what} (the CI script installs it)"
    );
}

/// Panics with a clear message unless `program` runs.
pub(crate) fn require_program(program: &str, what: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: this test needs {what} (the CI script installs it)"
    );
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after `limit`.
/// The limit is a safety net against hangs, not a timing assertion.
pub(crate) fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < until,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command and panics with its output if it fails.
pub(crate) fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
