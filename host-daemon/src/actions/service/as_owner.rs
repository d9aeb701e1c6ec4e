//! Running PostgreSQL's own programs (`pg_ctl`, `pg_rewind`, `pg_basebackup`,
//! `pg_waldump`, `pg_controldata`) as the owner of the data directory: they refuse
//! root, and what they write must belong to the server's user. Each run is bounded;
//! a child that overruns its bound is killed.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

use super::{wait_bounded, ServiceError};

/// `program` set up to run as the owner of `data_dir` (with that user's `HOME`,
/// `USER` and `LOGNAME`), from `/`, no stdin, its output captured, killed when
/// dropped. A root-owned data directory is refused: PostgreSQL would refuse it too.
pub(crate) fn command(program: &Path, data_dir: &Path) -> Result<Command, ServiceError> {
    let meta = std::fs::metadata(data_dir).map_err(|source| ServiceError::Owner {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        return Err(ServiceError::RootOwned(data_dir.to_path_buf()));
    }
    let mut cmd = Command::new(program);
    cmd.current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if nix::unistd::geteuid().as_raw() != uid {
        cmd.uid(uid).gid(gid);
        if let Ok(Some(user)) = nix::unistd::User::from_uid(uid.into()) {
            cmd.env("HOME", &user.dir)
                .env("USER", &user.name)
                .env("LOGNAME", &user.name);
        }
    }
    Ok(cmd)
}

/// Runs `cmd` (named `what` in errors) to its end within `timeout`, whatever its exit
/// status: the caller judges it ([`succeeded`]).
pub(crate) async fn output(
    what: &str,
    mut cmd: Command,
    timeout: Duration,
) -> Result<Output, ServiceError> {
    let child = cmd.spawn().map_err(|source| ServiceError::Spawn {
        what: what.to_owned(),
        source,
    })?;
    let limit = timeout + Duration::from_secs(1);
    wait_bounded(what, limit, timeout, child.wait_with_output()).await
}

/// `out` when its program exited 0, otherwise [`ServiceError::Failed`] with what it
/// printed on stderr (or stdout when stderr is empty).
pub(crate) fn succeeded(what: &str, out: Output) -> Result<Output, ServiceError> {
    if out.status.success() {
        return Ok(out);
    }
    let mut printed = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if printed.is_empty() {
        printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    }
    Err(ServiceError::Failed {
        what: what.to_owned(),
        status: out.status,
        output: printed,
    })
}

/// The name a program's errors use: its path and first argument.
pub(crate) fn describe(program: &Path, first_arg: Option<&OsStr>) -> String {
    match first_arg {
        Some(a) => format!("{} {}", program.display(), a.to_string_lossy()),
        None => program.display().to_string(),
    }
}
