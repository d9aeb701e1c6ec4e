//! The driver: one task owns the engine and `select!`s over its next timeout, probe
//! results, serial frames, effect results and signals (quinn's `ConnectionDriver`
//! shape). Everything with a clock, a socket or a process is here or below; the
//! engine only decides.
//!
//! [`run`] is the daemon: start the status server and the control socket (operator
//! commands reach the engine through the driver's loop), ask PostgreSQL for the start
//! facts, start the engine (a role pin that contradicts PostgreSQL is refused here),
//! spawn the probes and the serial link, then loop until SIGTERM or SIGINT. The CLI
//! loads the config, builds the runtime and maps a [`RunError`] to an exit code.
//!
//! The process first becomes a child subreaper, so a postmaster it starts through
//! pg_ctl is reaped at once when it dies (a zombie's PID in `postmaster.pid` would
//! block the next start). The persisted state in `state_dir` is loaded before the
//! engine starts: missing is the documented default (standby, term 0), corrupt
//! refuses to start — never a silent promotion.

mod effects;
mod engine_loop;
mod slots;
mod snapshot;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use twinbeat_core as engine;

use crate::actions::maintenance_file::PauseStore;
use crate::actions::state_file::{PersistedState, StateStore};
use crate::actions::{notify, postmaster};
use crate::config::{self, Config};
use crate::control;
use crate::probe::local_db::LocalDbProbe;
use crate::probe::DbTarget;
use crate::status::{self, Shared};

pub(crate) use engine_loop::Driver;

/// Why [`run`] stopped with an error. Each variant says whether the operator's input
/// was refused or the host failed; the CLI maps that to an exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The engine refused to start: a role pin that PostgreSQL and the persisted state
    /// contradict, or an engine-level config error.
    #[error("refusing to start: {0}")]
    Start(engine::StartError),
    /// The state file in `state_dir` exists but cannot be read or parsed:
    /// guessing a state could make this node a second primary.
    #[error("refusing to start: {0}")]
    State(crate::actions::state_file::StateError),
    /// The status server could not listen.
    #[error("{0}")]
    Status(#[from] status::ServeError),
    /// The peer's TLS settings cannot be used (a PEM file, a key that does not match).
    #[error("{0}")]
    Tls(#[from] crate::probe::tls::TlsError),
    /// The control socket could not be set up.
    #[error("{0}")]
    Control(#[from] control::ControlError),
    /// A signal handler or another OS facility failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// The database target of the local or remote probe: plain TCP or a socket to the
/// local server, TLS to the peer's as `tls` (`[peer] sslmode`) says.
pub(crate) fn db_target(
    conn: &config::DbConn,
    application_name: &str,
    tls: &config::PeerTls,
) -> Result<DbTarget, RunError> {
    let password = conn.password.resolve().map_err(|source| RunError::Io {
        what: "reading the password file",
        source,
    })?;
    Ok(DbTarget {
        host: conn.host.clone(),
        port: conn.port,
        user: conn.user.clone(),
        password,
        dbname: conn.dbname.clone(),
        application_name: application_name.to_owned(),
        tls: crate::probe::tls::PeerConnector::new(tls)?,
    })
}

/// The start facts: whether PostgreSQL is in recovery and the persisted state. A DB
/// that cannot be asked counts as in recovery: a node that believes it is a replica
/// is the one that never acts on its own (the engine's documented convention).
async fn start_facts(
    cfg: &Config,
    store: &StateStore,
) -> Result<(engine::StartFacts, PersistedState), RunError> {
    let mut probe = LocalDbProbe::new(db_target(
        &cfg.local_db.conn,
        "twinbeat-start",
        &config::PeerTls::default(),
    )?);
    // The one timing the driver reads from the config: this check runs before the
    // engine exists, so no action can carry its window. It gets the window the
    // engine gives every local DB check (rule `attempt-window`).
    let sample = probe.check(cfg.local_db.timeout).await;
    let db_in_recovery = match (sample.healthy(), sample.in_recovery) {
        (true, Some(r)) => r,
        _ => {
            tracing::warn!(
                "start: local PostgreSQL could not be asked ({}): starting as if in recovery",
                sample.error.as_deref().unwrap_or("no answer")
            );
            true
        }
    };
    let (persisted, record) = match store.load().map_err(RunError::State)? {
        Some(r) => {
            tracing::info!(
                "start: persisted {:?} in term {} ({}) from {}",
                r.state,
                r.term,
                r.reason,
                store.path().display()
            );
            (Some(r.engine_state()), r)
        }
        None => {
            tracing::info!(
                "start: no state file at {}: standby, term 0 (the documented default)",
                store.path().display()
            );
            (None, PersistedState::default_missing())
        }
    };
    let vip_held = vip_on_interface(cfg).await;
    let pauses = PauseStore::new(&cfg.state_dir);
    let maintenance = match pauses.load().map(|r| (r.left(), r)) {
        Some((Some(left), r)) => {
            tracing::warn!(
                "start: maintenance pause by {} still in effect{} (rule maintenance-pause)",
                r.by,
                left.map(|d| format!(" for {}s", d.as_secs()))
                    .unwrap_or_default()
            );
            Some(engine::MaintenanceWindow { left })
        }
        Some((None, _)) => {
            tracing::info!("start: the persisted maintenance pause has ended");
            if let Err(e) = pauses.save(None) {
                tracing::warn!("{e}");
            }
            None
        }
        None => None,
    };
    Ok((
        engine::StartFacts {
            persisted,
            db_in_recovery,
            vip_held,
            maintenance,
            run_id: run_id(),
        },
        record,
    ))
}

/// Whether the VIP is on our interface now (a fact for the engine, which decides
/// whether a restarted primary keeps it, rule `hold-needs-evidence`). Unknown reads as
/// absent: the engine then releases it, the cautious side.
async fn vip_on_interface(cfg: &Config) -> bool {
    let Some(spec) = effects::plan::vip_spec(cfg) else {
        return false;
    };
    match crate::actions::vip::Vip::new(spec).map(|vip| async move { vip.is_present().await }) {
        Ok(check) => match check.await {
            Ok(held) => {
                tracing::info!(
                    "start: the VIP is {}on the interface",
                    if held { "" } else { "not " }
                );
                held
            }
            Err(e) => {
                tracing::warn!("start: cannot tell whether the VIP is held ({e}): as if not");
                false
            }
        },
        Err(e) => {
            tracing::warn!("start: cannot tell whether the VIP is held ({e}): as if not");
            false
        }
    }
}

/// `twinbeat run`: the daemon, on the current tokio runtime, until SIGTERM or SIGINT,
/// with the engine's config as loading checked it (`config::Loaded::engine`).
pub(crate) async fn run(cfg: Config, core_cfg: engine::Config) -> Result<(), RunError> {
    // First, before this process starts any PostgreSQL: orphaned postgres processes
    // must become ours to reap.
    if let Err(e) = postmaster::become_subreaper() {
        tracing::warn!("cannot become a child subreaper ({e}): PID 1 reaps dead postmasters");
    }
    let store = StateStore::new(cfg.state_dir.clone());
    let shared = Shared::new(snapshot::initial(&cfg));
    let server = status::serve(cfg.status.listen, shared.clone()).await?;
    tracing::info!("status on http://{}/status and /metrics", server.local_addr);
    // Requests wait here while the engine starts; the driver takes them from its loop.
    let (ops_tx, ops_rx) = tokio::sync::mpsc::channel(4);
    let control = control::serve(
        control::socket_path(&cfg.state_dir),
        cfg.control.group.clone(),
        ops_tx,
        shared.clone(),
    )
    .await?;
    tracing::info!(
        "control socket {} (root{})",
        control.path().display(),
        cfg.control
            .group
            .as_ref()
            .map(|g| format!(" and group {g}"))
            .unwrap_or_default()
    );
    let reaper = match postmaster::spawn_reaper() {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("cannot watch SIGCHLD ({e}): dead postmasters are not reaped at once");
            None
        }
    };
    let result = async {
        let (facts, record) = start_facts(&cfg, &store).await?;
        let mut driver =
            Driver::start(cfg, core_cfg, facts, record, Arc::clone(&shared), ops_rx).await?;
        driver.run_until_signal().await
    }
    .await;
    if let Err(e) = notify::stopping() {
        tracing::warn!("{e}");
    }
    tracing::info!("stopped");
    if let Some(r) = reaper {
        r.abort();
    }
    server.task.abort();
    // Removes the socket: nothing answers on it any more.
    drop(control);
    result
}

/// How often the status snapshot is refreshed besides on every logged event.
pub(crate) const SNAPSHOT_PERIOD: Duration = Duration::from_millis(250);

/// A number for this run ([`engine::StartFacts::run_id`]): the standard library's
/// randomly keyed hasher, fed the process id and the time, so no two runs of the
/// daemon on a host draw the same one in practice.
pub(crate) fn run_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
