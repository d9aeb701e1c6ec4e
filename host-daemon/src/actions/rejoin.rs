//! The rejoin (rule `rejoin-after-fence`): a fenced node's PostgreSQL becomes a
//! streaming standby of the peer, which is primary in a higher term. The engine
//! decides when; this runs `Action::Rejoin` within its window:
//!
//! 1. the local PostgreSQL must be stopped (the fence stopped it);
//! 2. the peer, at its own address (never the VIP), must be writable; a `CHECKPOINT`
//!    there puts its new timeline in its control file, where `pg_rewind` reads it;
//! 3. `pg_controldata` gives the local timeline; the peer's timeline history gives
//!    the fork point; the old timeline's WAL past it is copied and reported
//!    (`report`) before anything is discarded;
//! 4. the start guard's `standby.signal` (and any `recovery.signal`) is removed: after
//!    an unclean stop crash recovery runs in single-user mode (as `pg_rewind` would
//!    run it), which refuses standby mode; its end-of-recovery checkpoint recycles
//!    the WAL before it, which the rewind needs back, so the saved copy restores it;
//! 5. `pg_rewind -R` from the peer, or with `--reclone` (or when the rewind cannot
//!    run or fails) `pg_basebackup -R` into the emptied data directory; the
//!    configuration files in the data directory (`*.conf` but `postgresql.auto.conf`)
//!    are kept, since both tools copy the peer's over them;
//! 6. the old primary's replication slots are dropped (a replica's slot would hold its
//!    WAL back for good), a physical slot named after this node is created on the peer
//!    (unless there) and `primary_slot_name` set to it, so the peer keeps the WAL this
//!    node still needs;
//! 7. PostgreSQL is started and the rejoin ends once `pg_stat_wal_receiver` says
//!    `streaming`.
//!
//! `primary_conninfo` comes from `-R`: the peer's address, this node's name as
//! `application_name`, and the password when one is configured (as `pg_basebackup
//! -R` writes it). A failure leaves the rest to the engine, which fences again.

mod controldata;
mod demote;
mod report;
mod slot;
mod timeline;
mod waldump;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant as TokioInstant;

use super::postmaster;
use super::service::{as_owner, ServiceControl, ServiceError};
use crate::probe::DbTarget;
pub(crate) use demote::demote;
pub(crate) use report::LostTimeline;
pub(crate) use slot::ensure_slot;
pub(crate) use timeline::format_lsn;

/// How often the end of the rejoin is polled: is the replica streaming yet?
const STREAMING_POLL: Duration = Duration::from_millis(100);
/// Bound of each query to the peer or the local server.
const QUERY_BOUND: Duration = Duration::from_secs(10);

/// What a rejoin needs besides the service manager and the data directory.
#[derive(Debug, Clone)]
pub(crate) struct RejoinPlan {
    /// Where `pg_rewind`, `pg_basebackup`, `pg_waldump` and `pg_controldata` are.
    pub bin_dir: PathBuf,
    /// The state directory: reports go to `rejoin/` in it.
    pub state_dir: PathBuf,
    /// `postgresql.conf` when it is not in the data directory
    /// (`local_db.service.config_file`).
    pub config_file: Option<PathBuf>,
    /// The peer's PostgreSQL at its own address; `application_name` is this node's
    /// name, which `primary_conninfo` then carries.
    pub source: DbTarget,
    /// The local PostgreSQL, to see it stream.
    pub local: tokio_postgres::Config,
}

/// How the data directory was made the peer's replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    /// `pg_rewind`.
    Rewind,
    /// `pg_basebackup`, asked for, or after the rewind could not be used (why).
    Reclone {
        /// Why the rewind was not used, when it was not asked for.
        instead_of_rewind: Option<String>,
    },
}

/// A rejoin done.
#[derive(Debug, Clone)]
pub(crate) struct Rejoined {
    /// How.
    pub method: Method,
    /// What the old timeline held past the fork; `None` when it had not forked.
    pub report: Option<LostTimeline>,
    /// The whole rejoin's duration.
    pub elapsed: Duration,
}

/// Why a rejoin failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RejoinError {
    /// The local PostgreSQL runs: only a stopped one is rejoined.
    #[error(
        "rejoin: the local PostgreSQL is running (postmaster {0}); a fenced node's is stopped"
    )]
    Running(i32),
    /// The data directory is not known.
    #[error("rejoin: the data directory is not known: set local_db.service.data_dir")]
    NoDataDir,
    /// The data directory holds no `postgresql.conf` and none is configured: the crash
    /// recovery cannot start the server.
    #[error(
        "rejoin: {} holds no postgresql.conf: set local_db.service.config_file (Debian: /etc/postgresql/15/main/postgresql.conf)",
        .0.display()
    )]
    NoConfigFile(PathBuf),
    /// The peer could not be asked, or is not a writable primary.
    #[error("rejoin: the peer's PostgreSQL at {host}: {why}")]
    Source {
        /// Its address.
        host: String,
        /// What went wrong.
        why: String,
    },
    /// `pg_controldata` printed what cannot be read.
    #[error("rejoin: {0}")]
    ControlData(String),
    /// A program failed or overran its bound.
    #[error("rejoin: {0}")]
    Program(#[from] ServiceError),
    /// A file operation failed.
    #[error("rejoin: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The local PostgreSQL refused or failed a query (the standby's slot setting).
    #[error("the local PostgreSQL: {0}")]
    Local(String),
    /// PostgreSQL started but did not stream by the end of the window.
    #[error("rejoin: PostgreSQL started but was not streaming from the peer by the end of the rejoin's window ({0})")]
    NotStreaming(String),
    /// The window ended.
    #[error("rejoin: the window (rejoin.timeout) ended during {0}")]
    Timeout(&'static str),
}

/// Runs the rejoin onto the peer's timeline, by `deadline`.
pub(crate) async fn rejoin(
    plan: &RejoinPlan,
    service: &ServiceControl,
    data_dir: Option<&Path>,
    reclone: bool,
    deadline: TokioInstant,
) -> Result<Rejoined, RejoinError> {
    let started = TokioInstant::now();
    let data_dir = data_dir.ok_or(RejoinError::NoDataDir)?;
    // A fence stops the server at once, so its crash recovery (step 4) needs the
    // configuration: refused before anything changes.
    if plan.config_file.is_none() && !data_dir.join("postgresql.conf").exists() {
        return Err(RejoinError::NoConfigFile(data_dir.to_path_buf()));
    }
    if let Some(pid) = postmaster::read_pid(data_dir).ok().flatten() {
        if !postmaster::postmaster_state(pid).is_dead() {
            return Err(RejoinError::Running(pid));
        }
    }
    let new_timeline = source_timeline(&plan.source).await?;
    let control = controldata(plan, data_dir, deadline).await?;
    tracing::warn!(
        "rejoin: local cluster on timeline {} ({}; wal_log_hints {}, checksums {}), the peer on timeline {new_timeline}",
        control.timeline,
        control.state,
        if control.wal_log_hints { "on" } else { "off" },
        if control.checksums { "on" } else { "off" },
    );
    let report = if control.timeline < new_timeline {
        let fork = fork_point(&plan.source, new_timeline, control.timeline).await?;
        let saved = report::save(
            report::Input {
                data_dir,
                bin_dir: &plan.bin_dir,
                state_dir: &plan.state_dir,
                control: &control,
                fork,
                new_timeline,
                source: &plan.source,
            },
            deadline,
        )
        .await?;
        tracing::warn!("rejoin: {}", saved.summary_line());
        Some(saved)
    } else {
        None
    };
    for signal in ["standby.signal", "recovery.signal"] {
        let path = data_dir.join(signal);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(
                "rejoin: removed {} (a rewind's crash recovery runs in single-user mode)",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(RejoinError::Io {
                    what: "removing",
                    path,
                    source,
                })
            }
        }
    }
    if let Some(r) = report.as_ref().filter(|_| !control.shut_down_cleanly()) {
        crash_recovery(plan, data_dir, deadline).await?;
        let restored = report::restore_missing(&r.dir.join("wal"), &data_dir.join("pg_wal"))?;
        tracing::info!(
            "rejoin: crash recovery done; {restored} WAL segment(s) it recycled put back for pg_rewind"
        );
    }
    let kept = KeptConfig::read(data_dir)?;
    let method = if reclone {
        basebackup(plan, data_dir, deadline).await?;
        Method::Reclone {
            instead_of_rewind: None,
        }
    } else {
        let rewound = if control.rewindable() {
            rewind(plan, data_dir, deadline).await
        } else {
            Err(RejoinError::ControlData(
                "the local cluster has neither wal_log_hints nor data checksums, so pg_rewind cannot run".to_owned(),
            ))
        };
        match rewound {
            Ok(()) => Method::Rewind,
            Err(e) => {
                tracing::error!("{e}: rebuilding with pg_basebackup instead");
                basebackup(plan, data_dir, deadline).await?;
                Method::Reclone {
                    instead_of_rewind: Some(e.to_string()),
                }
            }
        }
    };
    kept.restore()?;
    let slot = slot_name(&plan.source.application_name);
    drop_local_slots(data_dir)?;
    create_slot(&plan.source, &slot).await?;
    append_setting(data_dir, "primary_slot_name", &slot)?;
    let left = deadline.saturating_duration_since(TokioInstant::now());
    if left.is_zero() {
        return Err(RejoinError::Timeout("the start"));
    }
    service.start(left).await?;
    wait_streaming(&plan.local, deadline).await?;
    Ok(Rejoined {
        method,
        report,
        elapsed: started.elapsed(),
    })
}

/// A rejoin error about the peer's PostgreSQL.
fn source_error(source: &DbTarget, why: String) -> RejoinError {
    RejoinError::Source {
        host: source.host.clone(),
        why,
    }
}

/// A session on the peer's PostgreSQL and its connection task, awaited once the client
/// is dropped.
async fn connect(
    source: &DbTarget,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), RejoinError> {
    crate::probe::pg::open(source, QUERY_BOUND)
        .await
        .map_err(|e| source_error(source, e.to_string()))
}

/// `work` on the peer, bounded by `QUERY_BOUND`.
async fn bounded<T>(
    source: &DbTarget,
    work: impl std::future::Future<Output = Result<T, RejoinError>>,
) -> Result<T, RejoinError> {
    tokio::time::timeout(QUERY_BOUND, work)
        .await
        .map_err(|_| source_error(source, format!("no answer within {QUERY_BOUND:?}")))?
}

/// The peer's timeline, after a `CHECKPOINT` there so its control file (which
/// `pg_rewind` reads) has it; a peer in recovery is no source.
async fn source_timeline(source: &DbTarget) -> Result<u32, RejoinError> {
    let err = |why: String| source_error(source, why);
    let work = async {
        let (client, task) = connect(source).await?;
        let row = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| err(e.to_string()))?;
        if row.get::<_, bool>(0) {
            return Err(err("it is in recovery, not a primary".to_owned()));
        }
        client
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| err(format!("CHECKPOINT: {e}")))?;
        let row = client
            .query_one("SELECT timeline_id FROM pg_control_checkpoint()", &[])
            .await
            .map_err(|e| err(e.to_string()))?;
        drop(client);
        let _ = task.await;
        u32::try_from(row.get::<_, i32>(0)).map_err(|_| err("a negative timeline".to_owned()))
    };
    bounded(source, work).await
}

/// Where timeline `old` forked off the peer's timeline `new`, from the peer's history
/// file.
async fn fork_point(source: &DbTarget, new: u32, old: u32) -> Result<u64, RejoinError> {
    let err = |why: String| source_error(source, why);
    let file = format!("pg_wal/{}", timeline::history_file_name(new));
    let work = async {
        let (client, task) = connect(source).await?;
        let row = client
            .query_one("SELECT pg_read_file($1)", &[&file])
            .await
            .map_err(|e| err(format!("reading {file}: {e}")))?;
        drop(client);
        let _ = task.await;
        Ok::<String, RejoinError>(row.get(0))
    };
    let history = bounded(source, work).await?;
    timeline::fork_point(&history, old).ok_or_else(|| {
        err(format!(
            "{file} does not list timeline {old}: the clusters share no history"
        ))
    })
}

async fn controldata(
    plan: &RejoinPlan,
    data_dir: &Path,
    deadline: TokioInstant,
) -> Result<controldata::ControlData, RejoinError> {
    let out = run(
        plan,
        data_dir,
        "pg_controldata",
        vec![data_dir.into()],
        deadline,
    )
    .await?;
    controldata::parse(&String::from_utf8_lossy(&out.stdout)).map_err(RejoinError::ControlData)
}

/// The physical replication slot named after this node (its `node_id`, in the
/// characters a slot name allows: lower-case letters, digits and `_`).
pub(crate) fn slot_name(node: &str) -> String {
    node.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect()
}

/// The slots this node kept while it was primary are gone with its demotion: a
/// replica's slot holds back its WAL for a standby that now streams from elsewhere,
/// until its disk fills (`pg_rewind` leaves `pg_replslot/` as it was).
fn drop_local_slots(data_dir: &Path) -> Result<(), RejoinError> {
    let dir = data_dir.join("pg_replslot");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let path = e.path();
        std::fs::remove_dir_all(&path).map_err(|source| RejoinError::Io {
            what: "dropping the old primary's replication slot",
            path: path.clone(),
            source,
        })?;
        tracing::info!("rejoin: dropped the old primary's slot {}", path.display());
    }
    Ok(())
}

/// The slot this node streams through, on the peer, so the peer keeps the WAL this
/// node has not received yet: created (reserving WAL at once) unless it is there.
async fn create_slot(source: &DbTarget, slot: &str) -> Result<(), RejoinError> {
    let err = |why: String| source_error(source, why);
    let work = async {
        let (client, task) = connect(source).await?;
        let made = client
            .query(
                "SELECT pg_create_physical_replication_slot($1, true) \
                 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                &[&slot],
            )
            .await
            .map_err(|e| err(format!("creating replication slot {slot}: {e}")))?;
        drop(client);
        let _ = task.await;
        Ok::<bool, RejoinError>(!made.is_empty())
    };
    let made = bounded(source, work).await?;
    tracing::info!(
        "rejoin: replication slot {slot} on the peer {}",
        if made { "created" } else { "already there" }
    );
    Ok(())
}

/// Appends `name = 'value'` to `postgresql.auto.conf` (the last setting wins), as
/// `-R` appends `primary_conninfo`.
fn append_setting(data_dir: &Path, name: &str, value: &str) -> Result<(), RejoinError> {
    use std::io::Write;
    let path = data_dir.join("postgresql.auto.conf");
    let line = format!("{name} = '{}'\n", value.replace('\'', "''"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|source| RejoinError::Io {
            what: "writing",
            path,
            source,
        })
}

/// Crash recovery of an uncleanly stopped cluster, in single-user mode, as
/// `pg_rewind` runs it (`postgres --single -F -D <data> template1`, no input).
async fn crash_recovery(
    plan: &RejoinPlan,
    data_dir: &Path,
    deadline: TokioInstant,
) -> Result<(), RejoinError> {
    let mut args: Vec<OsString> =
        vec!["--single".into(), "-F".into(), "-D".into(), data_dir.into()];
    if let Some(file) = &plan.config_file {
        args.extend([
            "-c".into(),
            format!("config_file={}", file.display()).into(),
        ]);
    }
    args.push("template1".into());
    run(plan, data_dir, "postgres", args, deadline).await?;
    Ok(())
}

/// `pg_rewind -R` from the peer.
async fn rewind(
    plan: &RejoinPlan,
    data_dir: &Path,
    deadline: TokioInstant,
) -> Result<(), RejoinError> {
    let mut args: Vec<OsString> = vec![
        "--target-pgdata".into(),
        data_dir.into(),
        format!("--source-server={}", conninfo(&plan.source)).into(),
        "--write-recovery-conf".into(),
    ];
    if let Some(file) = &plan.config_file {
        // PostgreSQL 15's pg_rewind: for the target's own checks of its server.
        args.push(format!("--config-file={}", file.display()).into());
    }
    let out = run(plan, data_dir, "pg_rewind", args, deadline).await?;
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        tracing::info!("rejoin: pg_rewind: {line}");
    }
    Ok(())
}

/// Empties the data directory (the report and the configuration are saved) and
/// `pg_basebackup -R` from the peer into it.
async fn basebackup(
    plan: &RejoinPlan,
    data_dir: &Path,
    deadline: TokioInstant,
) -> Result<(), RejoinError> {
    let entries = std::fs::read_dir(data_dir).map_err(|source| RejoinError::Io {
        what: "listing",
        path: data_dir.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let path = e.path();
        let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(|source| RejoinError::Io {
            what: "emptying the data directory",
            path,
            source,
        })?;
    }
    let args = vec![
        "--pgdata".into(),
        data_dir.into(),
        format!("--dbname={}", conninfo(&plan.source)).into(),
        "--write-recovery-conf".into(),
        "--wal-method=stream".into(),
        "--checkpoint=fast".into(),
        "--no-password".into(),
    ];
    run(plan, data_dir, "pg_basebackup", args, deadline).await?;
    tracing::warn!("rejoin: the data directory was rebuilt with pg_basebackup from the peer");
    Ok(())
}

/// Runs one of PostgreSQL's programs as the data directory's owner, bounded by what
/// is left of the window, with the peer's password in the environment (never on the
/// command line).
async fn run(
    plan: &RejoinPlan,
    data_dir: &Path,
    name: &'static str,
    args: Vec<OsString>,
    deadline: TokioInstant,
) -> Result<std::process::Output, RejoinError> {
    let left = deadline.saturating_duration_since(TokioInstant::now());
    if left.is_zero() {
        return Err(RejoinError::Timeout(name));
    }
    let program = plan.bin_dir.join(name);
    let what = program.display().to_string();
    let mut cmd = as_owner::command(&program, data_dir)?;
    cmd.args(&args).env("LC_ALL", "C");
    if let Some(p) = &plan.source.password {
        cmd.env("PGPASSWORD", p);
    }
    let out = as_owner::output(&what, cmd, left).await?;
    Ok(as_owner::succeeded(&what, out)?)
}

/// The peer as a libpq connection string (values quoted as libpq reads them).
fn conninfo(t: &DbTarget) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    format!(
        "host={} port={} user={} dbname={} application_name={} connect_timeout=10{}",
        q(&t.host),
        t.port,
        q(&t.user),
        q(&t.dbname),
        q(&t.application_name),
        t.tls.libpq_params(q)
    )
}

/// The local server's connection task, awaited once its client is dropped.
type ConnTask = tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>;

/// A session on the local server, its connect bounded by `bound` (the rejoin's wait
/// for streaming, the demotion's checkpoint, the standby's slot setting).
async fn connect_local(
    local: &tokio_postgres::Config,
    bound: Duration,
) -> Result<(tokio_postgres::Client, ConnTask), tokio_postgres::Error> {
    let mut cfg = local.clone();
    cfg.connect_timeout(bound);
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    Ok((client, tokio::spawn(conn)))
}

/// Waits until the local server streams from the peer.
async fn wait_streaming(
    local: &tokio_postgres::Config,
    deadline: TokioInstant,
) -> Result<(), RejoinError> {
    let mut last = String::from("no answer yet");
    loop {
        let left = deadline.saturating_duration_since(TokioInstant::now());
        if left.is_zero() {
            return Err(RejoinError::NotStreaming(last));
        }
        let ask = async {
            let (client, task) = connect_local(local, left.min(QUERY_BOUND))
                .await
                .map_err(|e| e.to_string())?;
            let rows = client
                .query("SELECT status FROM pg_stat_wal_receiver", &[])
                .await
                .map_err(|e| e.to_string());
            drop(client);
            let _ = task.await;
            let status: Option<String> = rows?.first().and_then(|r| r.try_get(0).ok());
            Ok::<_, String>(status)
        };
        match tokio::time::timeout(left.min(QUERY_BOUND), ask).await {
            Ok(Ok(Some(s))) if s == "streaming" => return Ok(()),
            Ok(Ok(s)) => last = format!("wal receiver {}", s.as_deref().unwrap_or("not running")),
            Ok(Err(e)) => last = e,
            Err(_) => last = "no answer".to_owned(),
        }
        tokio::time::sleep(STREAMING_POLL.min(left)).await;
    }
}

/// The configuration files that live in the data directory, kept across the rewind or
/// the base backup (both copy the peer's): each top-level `*.conf` but
/// `postgresql.auto.conf`, whose `primary_conninfo` `-R` writes.
struct KeptConfig {
    files: Vec<(PathBuf, Vec<u8>, std::fs::Permissions, u32, u32)>,
}

impl KeptConfig {
    fn read(data_dir: &Path) -> Result<KeptConfig, RejoinError> {
        use std::os::unix::fs::MetadataExt;
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| RejoinError::Io { what, path, source }
        };
        let mut files = Vec::new();
        for e in std::fs::read_dir(data_dir).map_err(io("listing", data_dir))? {
            let e = e.map_err(io("listing", data_dir))?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().map_err(io("reading", &path))?;
            if !meta.is_file() || !name.ends_with(".conf") || name == "postgresql.auto.conf" {
                continue;
            }
            let text = std::fs::read(&path).map_err(io("reading", &path))?;
            files.push((path, text, meta.permissions(), meta.uid(), meta.gid()));
        }
        Ok(KeptConfig { files })
    }

    fn restore(self) -> Result<(), RejoinError> {
        for (path, text, perm, uid, gid) in self.files {
            let err = |source| RejoinError::Io {
                what: "restoring",
                path: path.clone(),
                source,
            };
            std::fs::write(&path, text).map_err(err)?;
            std::fs::set_permissions(&path, perm).map_err(err)?;
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(err)?;
        }
        Ok(())
    }
}
