//! `twinbeat diagnose`: checks, before anything fails, that the three peer paths are
//! independent and really reach the peer, that PostgreSQL is set up for failover and
//! rejoin, and that this host can move the VIP without running a command.
//!
//! Read-only: it changes nothing on the host (no address added, no setting written,
//! no frame this node's peer would act on), every check is bounded in time, and it
//! runs on either role, before the daemon ever ran or beside a running one (then it
//! never opens the serial device: it asks the daemon, over its control socket or
//! `/status`). One [`Finding`] per check:
//! `ok`, `warn` or `FAIL`, what was found and what to do; exit 0 when all are ok, 1
//! with warnings, 2 with a failure.

mod addresses;
mod host;
mod pair;
mod postgres;
mod route;
mod serial;
mod vip;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::{self, HostChecks, Loaded};
use crate::control;
use crate::status::{self, StatusSnapshot};

/// Exit code: every check ok.
const EXIT_ALL_OK: u8 = 0;
/// Exit code: warnings, no failure.
const EXIT_WARNINGS: u8 = 1;
/// Exit code: at least one failure (a bad configuration included).
const EXIT_FAILURE: u8 = 2;

/// How long diagnose waits for a running daemon's `/status`.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// A check's verdict, in rising order of gravity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    /// As it should be.
    Ok,
    /// Works, but weakens the pair (or could not be confirmed).
    Warn,
    /// A path, a promotion or a rejoin would not work.
    Fail,
}

impl Verdict {
    /// The word of the table's first column.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// Stable name of the check (`address.peer`, `db.local.wal_log_hints`, ...).
    pub check: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found.
    pub found: String,
    /// What to do about it (empty when ok).
    pub todo: String,
}

impl Finding {
    pub(crate) fn ok(check: impl Into<String>, found: impl Into<String>) -> Self {
        Self::new(check, Verdict::Ok, found, "")
    }

    pub(crate) fn warn(
        check: impl Into<String>,
        found: impl Into<String>,
        todo: impl Into<String>,
    ) -> Self {
        Self::new(check, Verdict::Warn, found, todo)
    }

    pub(crate) fn fail(
        check: impl Into<String>,
        found: impl Into<String>,
        todo: impl Into<String>,
    ) -> Self {
        Self::new(check, Verdict::Fail, found, todo)
    }

    fn new(
        check: impl Into<String>,
        verdict: Verdict,
        found: impl Into<String>,
        todo: impl Into<String>,
    ) -> Self {
        Self {
            check: check.into(),
            verdict,
            found: found.into(),
            todo: todo.into(),
        }
    }
}

/// Every finding of one run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    /// Whether a daemon answered on `status.listen` (its facts were used).
    pub daemon_running: bool,
    /// The findings, in the order the checks ran.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The worst verdict (ok for an empty report).
    pub(crate) fn worst(&self) -> Verdict {
        self.findings
            .iter()
            .map(|f| f.verdict)
            .max()
            .unwrap_or(Verdict::Ok)
    }

    /// 0 all ok, 1 warnings, 2 a failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self.worst() {
            Verdict::Ok => EXIT_ALL_OK,
            Verdict::Warn => EXIT_WARNINGS,
            Verdict::Fail => EXIT_FAILURE,
        }
    }

    /// One line per check, then what to do under each that is not ok.
    pub(crate) fn table(&self) -> String {
        let width = self
            .findings
            .iter()
            .map(|f| f.check.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                f.verdict.word(),
                f.check,
                f.found
            ));
            if !f.todo.is_empty() {
                out.push_str(&format!("{:<4}  {:<width$}  -> {}\n", "", "", f.todo));
            }
        }
        let count = |v| self.findings.iter().filter(|f| f.verdict == v).count();
        out.push_str(&format!(
            "{} checks: {} ok, {} warn, {} FAIL{}\n",
            self.findings.len(),
            count(Verdict::Ok),
            count(Verdict::Warn),
            count(Verdict::Fail),
            if self.daemon_running {
                " (beside a running daemon)"
            } else {
                ""
            }
        ));
        out
    }
}

/// `twinbeat diagnose`: loads `path` (host problems are findings, not errors), runs
/// every check, prints the table or the JSON document; returns the exit code.
pub(crate) fn run(path: &Path, json: bool) -> u8 {
    let report = match config::load(path, HostChecks::Warn) {
        Ok(loaded) => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(diagnose(&loaded)),
            Err(e) => Report {
                daemon_running: false,
                findings: vec![Finding::fail(
                    "runtime",
                    format!("cannot start the async runtime: {e}"),
                    "check the process's limits (threads, file descriptors)",
                )],
            },
        },
        Err(e) => Report {
            daemon_running: false,
            findings: vec![Finding::fail(
                "config",
                e.to_string(),
                "fix the configuration (`twinbeat check-config` says the same)",
            )],
        },
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("cannot encode the report: {e}"),
        }
    } else {
        print!("{}", report.table());
    }
    report.exit_code()
}

/// Runs every check against the loaded configuration.
async fn diagnose(loaded: &Loaded) -> Report {
    let cfg = &loaded.config;
    let daemon = running_daemon(cfg).await;
    let mut findings: Vec<Finding> = loaded
        .warnings
        .iter()
        .map(|w| {
            Finding::warn(
                format!("config.{}", w.field),
                w.message.clone(),
                "see the field's documentation in host-daemon/README.md",
            )
        })
        .collect();
    let facts = config::HostFacts::from_system();
    findings.extend(addresses::check(cfg, &facts));
    findings.extend(route::check(cfg, &facts).await);
    let (serial, heard) = serial::check(cfg, daemon.as_ref()).await;
    findings.push(serial);
    findings.push(pair::settings(cfg));
    findings.push(match &daemon {
        Some(status) => pair::from_daemon(status),
        None => pair::from_cable(cfg, heard),
    });
    findings.extend(postgres::check(cfg).await);
    findings.extend(vip::check(cfg, &facts).await);
    findings.extend(host::check(cfg, &loaded.engine).await);
    Report {
        daemon_running: daemon.is_some(),
        findings,
    }
}

/// The cheap, local subset the daemon runs at start (addresses, the state directory):
/// the findings that are not ok, for its log. Nothing here waits on the network.
pub(crate) fn at_start(cfg: &config::Config) -> Vec<Finding> {
    let facts = config::HostFacts::from_system();
    let mut findings = addresses::check(cfg, &facts);
    findings.push(host::state_dir(&cfg.state_dir));
    findings.retain(|f| f.verdict != Verdict::Ok);
    findings
}

/// The route checks (the notes' traceroute: whether the paths to the peer and the
/// gateway are independent), which the daemon runs once beside itself at start: the
/// findings that are not ok, for its log. Bounded: a few echo requests, each within
/// its path's timeout.
pub(crate) async fn routes_at_start(cfg: &config::Config) -> Vec<Finding> {
    let facts = config::HostFacts::from_system();
    let mut findings = route::check(cfg, &facts).await;
    findings.retain(|f| f.verdict != Verdict::Ok);
    findings
}

/// The daemon of this configuration, if one answers: on its control socket in
/// `state_dir` (root and `control.group`), else on `status.listen` (anyone who can
/// reach it).
async fn running_daemon(cfg: &config::Config) -> Option<StatusSnapshot> {
    let socket = control::socket_path(&cfg.state_dir);
    match control::send(&socket, &control::Request::Status, STATUS_TIMEOUT).await {
        Ok(control::Response {
            status: Some(snapshot),
            ..
        }) => return Some(*snapshot),
        Ok(other) => tracing::debug!("control socket: no status: {}", other.message),
        Err(e) => tracing::debug!("control socket: {e}"),
    }
    let target = status::Target::from_listen(cfg.status.listen);
    status::fetch(&target, STATUS_TIMEOUT).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_is_the_worst_verdict() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), 0);
        r.findings.push(Finding::ok("a", "fine"));
        assert_eq!(r.exit_code(), 0);
        r.findings.push(Finding::warn("b", "meh", "do x"));
        assert_eq!(r.exit_code(), 1);
        r.findings.push(Finding::fail("c", "broken", "do y"));
        assert_eq!(r.exit_code(), 2);
        let table = r.table();
        assert!(table.contains("FAIL  c  broken\n"), "{table}");
        assert!(table.contains("-> do y"), "{table}");
        assert!(
            table.ends_with("3 checks: 1 ok, 1 warn, 1 FAIL\n"),
            "{table}"
        );
    }
}
