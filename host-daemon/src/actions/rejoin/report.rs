//! The report of what the old timeline held past the fork point, saved before the
//! rewind discards it (rule `rejoin-after-fence`): `pg_waldump` reads the old
//! timeline's WAL from the fork on, in place; the segments from its last checkpoint or
//! the fork, whichever is first, to the end of that WAL are copied to
//! `<state_dir>/rejoin/<ms>-tl<old>/wal/` (the rewind may need the part before the
//! fork back: `restore_missing`); and the relations the committed transactions wrote are named by the new primary
//! (`pg_filenode_relation` in each database: until the fork both had the same files).
//! `report.json` for scripts and `report.txt` for the operator sit beside the WAL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::time::Instant as TokioInstant;

use super::controldata::ControlData;
use super::timeline::{format_lsn, segment_of};
use super::waldump::{self, RelFile, Summary};
use super::RejoinError;
use crate::actions::service::as_owner;
use crate::probe::DbTarget;

/// Longest `pg_waldump` run; the WAL past a fork is what a failure window wrote.
const WALDUMP_BOUND: Duration = Duration::from_secs(300);
/// Bound of each connection and query that names a relation.
const NAME_BOUND: Duration = Duration::from_secs(5);

/// One relation the old timeline's committed transactions wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Written {
    /// The database's name, or its OID when the new primary no longer has it.
    pub database: String,
    /// The relation's name as the new primary knows that file (`public.orders`), or
    /// `None` when it does not (rewritten or dropped since the fork).
    pub relation: Option<String>,
    /// `tablespace/database/relfilenode`, as WAL names it.
    pub file: String,
    /// WAL records the committed transactions wrote to it.
    pub records: u64,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LostTimeline {
    /// The timeline this node was on.
    pub old_timeline: u32,
    /// The new primary's timeline.
    pub new_timeline: u32,
    /// Where the old timeline left the new one's history.
    pub fork_lsn: String,
    /// The first and last WAL record past the fork.
    pub first_lsn: Option<String>,
    /// See `first_lsn`.
    pub last_lsn: Option<String>,
    /// WAL records past the fork.
    pub records: u64,
    /// Transactions committed past the fork: on no other node now.
    pub committed_transactions: u64,
    /// Transactions that aborted there.
    pub aborted_transactions: u64,
    /// Transactions in flight when the old primary stopped (never acknowledged).
    pub unfinished_transactions: u64,
    /// What the committed transactions wrote, by relation.
    pub written: Vec<Written>,
    /// Why the WAL could not be read, if it could not (the copy is still there).
    pub waldump_error: Option<String>,
    /// The copied WAL segments.
    pub wal_segments: Vec<String>,
    /// The directory holding the copy and this report.
    pub dir: PathBuf,
}

impl LostTimeline {
    /// One line for the log.
    pub(crate) fn summary_line(&self) -> String {
        let tables: Vec<String> = self
            .written
            .iter()
            .map(|w| {
                format!(
                    "{}.{} ({} records)",
                    w.database,
                    w.relation.as_deref().unwrap_or(&w.file),
                    w.records
                )
            })
            .collect();
        format!(
            "the old timeline {} held {} committed transaction(s) past {} ({} records{}); written: {}; saved in {}",
            self.old_timeline,
            self.committed_transactions,
            self.fork_lsn,
            self.records,
            self.last_lsn
                .as_ref()
                .map(|l| format!(", up to {l}"))
                .unwrap_or_default(),
            if tables.is_empty() {
                "nothing".to_owned()
            } else {
                tables.join(", ")
            },
            self.dir.display()
        )
    }

    fn text(&self) -> String {
        let mut t = format!(
            "twinbeat rejoin: what the old timeline held past the fork point\n\n\
             old timeline        {}\n\
             new primary's       {}\n\
             fork point          {}\n\
             WAL records past it {} ({} .. {})\n\
             committed           {}  (acknowledged to clients, not on the new primary)\n\
             aborted             {}\n\
             in flight           {}  (never acknowledged)\n\n",
            self.old_timeline,
            self.new_timeline,
            self.fork_lsn,
            self.records,
            self.first_lsn.as_deref().unwrap_or("-"),
            self.last_lsn.as_deref().unwrap_or("-"),
            self.committed_transactions,
            self.aborted_transactions,
            self.unfinished_transactions,
        );
        t.push_str("written by the committed transactions:\n");
        if self.written.is_empty() {
            t.push_str("  nothing\n");
        }
        for w in &self.written {
            t.push_str(&format!(
                "  {}.{}  {} records  (file {})\n",
                w.database,
                w.relation.as_deref().unwrap_or("<unknown relation>"),
                w.records,
                w.file
            ));
        }
        if let Some(e) = &self.waldump_error {
            t.push_str(&format!("\npg_waldump could not read the WAL: {e}\n"));
        }
        t.push_str(&format!(
            "\nThe WAL itself is kept in {}/wal (pg_waldump -p {}/wal -t {} -s {}).\n",
            self.dir.display(),
            self.dir.display(),
            self.old_timeline,
            self.fork_lsn
        ));
        t
    }
}

/// What the report is made from.
pub(crate) struct Input<'a> {
    pub data_dir: &'a Path,
    pub bin_dir: &'a Path,
    pub state_dir: &'a Path,
    pub control: &'a ControlData,
    pub fork: u64,
    pub new_timeline: u32,
    pub source: &'a DbTarget,
}

/// Copies the old timeline's WAL from the fork on, reads it and saves the report. A
/// copy that fails fails the rejoin (nothing is discarded unsaved); a WAL that cannot
/// be read or relations that cannot be named leave that in the report.
pub(crate) async fn save(
    i: Input<'_>,
    deadline: TokioInstant,
) -> Result<LostTimeline, RejoinError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| RejoinError::Io { what, path, source }
    };
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = i
        .state_dir
        .join("rejoin")
        .join(format!("{ms}-tl{}", i.control.timeline));
    let wal = dir.join("wal");
    tokio::fs::create_dir_all(&wal)
        .await
        .map_err(io("creating the report directory", &wal))?;
    let pg_wal = i.data_dir.join("pg_wal");
    let mut entries = tokio::fs::read_dir(&pg_wal)
        .await
        .map_err(io("listing", &pg_wal))?;
    let size = i.control.wal_segment_size.max(1);
    let first = i.fork.min(i.control.redo_lsn) / size;
    let mut segments = Vec::new();
    while let Some(e) = entries.next_entry().await.map_err(io("listing", &pg_wal))? {
        let name = e.file_name().to_string_lossy().into_owned();
        match segment_of(&name, size) {
            Some((tli, seg)) if tli == i.control.timeline && seg >= first => {
                segments.push((seg, name));
            }
            _ => {}
        }
    }
    segments.sort();
    // Read in place first (nothing runs there): where the WAL ends tells which
    // segments hold it; the ones after are recycled files waiting to be reused.
    // No segment at or past the fork: nothing was written there (and `pg_waldump`
    // would wait for the missing file, 10 × 500 ms, before it gave up).
    let fork_seg = i.fork / size;
    let newest = segments.last().map_or(0, |(seg, _)| *seg);
    let (summary, waldump_error, last) = if newest < fork_seg || segments.is_empty() {
        (Summary::default(), None, fork_seg)
    } else {
        // `--end` at the end of the newest segment there is: a WAL that ends on a
        // segment boundary must not send it waiting for the next file.
        let end = newest.saturating_add(1).saturating_mul(size);
        match dump(&i, &pg_wal, end, deadline).await {
            Ok(text) => {
                let s = waldump::summarize(&text);
                let last = s.last_lsn.map_or(first, |l| l / size).max(i.fork / size);
                (s, None, last)
            }
            Err(e) => (Summary::default(), Some(e), u64::MAX),
        }
    };
    let mut names = Vec::new();
    for (_, name) in segments.into_iter().filter(|(seg, _)| *seg <= last) {
        let to = wal.join(&name);
        tokio::fs::copy(pg_wal.join(&name), &to)
            .await
            .map_err(io("copying WAL", &to))?;
        names.push(name);
    }
    let written = name_relations(i.source, &summary.written).await;
    let report = LostTimeline {
        old_timeline: i.control.timeline,
        new_timeline: i.new_timeline,
        fork_lsn: format_lsn(i.fork),
        first_lsn: summary.first_lsn.map(format_lsn),
        last_lsn: summary.last_lsn.map(format_lsn),
        records: summary.records,
        committed_transactions: summary.committed,
        aborted_transactions: summary.aborted,
        unfinished_transactions: summary.unfinished,
        written,
        waldump_error,
        wal_segments: names,
        dir: dir.clone(),
    };
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let path = dir.join("report.json");
    tokio::fs::write(&path, json)
        .await
        .map_err(io("writing the report", &path))?;
    let path = dir.join("report.txt");
    tokio::fs::write(&path, report.text())
        .await
        .map_err(io("writing the report", &path))?;
    Ok(report)
}

/// Puts back into `pg_wal` (owned like it) each segment of the copy in `wal` that is
/// no longer there: crash recovery's end-of-recovery checkpoint recycles the segments
/// before it, and `pg_rewind` reads back from the fork to the last common checkpoint.
/// Returns how many.
pub(crate) fn restore_missing(wal: &Path, pg_wal: &Path) -> Result<usize, RejoinError> {
    use std::os::unix::fs::MetadataExt;
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| RejoinError::Io { what, path, source }
    };
    let owner = std::fs::metadata(pg_wal).map_err(io("reading", pg_wal))?;
    let mut restored = 0;
    for e in std::fs::read_dir(wal).map_err(io("listing", wal))? {
        let e = e.map_err(io("listing", wal))?;
        let to = pg_wal.join(e.file_name());
        if to.exists() {
            continue;
        }
        std::fs::copy(e.path(), &to).map_err(io("restoring WAL", &to))?;
        std::os::unix::fs::chown(&to, Some(owner.uid()), Some(owner.gid()))
            .map_err(io("restoring WAL", &to))?;
        restored += 1;
    }
    Ok(restored)
}

/// `pg_waldump` over the WAL in `wal`, from the fork on. It ends with an error at the
/// end of the WAL (the last record is followed by nothing valid): its output up to
/// there is the answer, whatever its exit status.
async fn dump(
    i: &Input<'_>,
    wal: &Path,
    end: u64,
    deadline: TokioInstant,
) -> Result<String, String> {
    let program = i.bin_dir.join("pg_waldump");
    let what = program.display().to_string();
    let mut cmd = tokio::process::Command::new(&program);
    cmd.arg("--path")
        .arg(wal)
        .arg("--timeline")
        .arg(i.control.timeline.to_string())
        .arg("--start")
        .arg(format_lsn(i.fork))
        .arg("--end")
        .arg(format_lsn(end))
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let bound = deadline
        .saturating_duration_since(TokioInstant::now())
        .min(WALDUMP_BOUND);
    let out = as_owner::output(&what, cmd, bound)
        .await
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if stdout.is_empty() && !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(stdout)
}

/// Names each relation file on the new primary: the database by its OID, then the
/// relation in that database. Whatever cannot be named keeps its numbers.
async fn name_relations(source: &DbTarget, written: &BTreeMap<RelFile, u64>) -> Vec<Written> {
    let databases = database_names(source).await.unwrap_or_default();
    let mut by_db: BTreeMap<u32, Vec<(RelFile, u64)>> = BTreeMap::new();
    for (rel, n) in written {
        by_db.entry(rel.database).or_default().push((*rel, *n));
    }
    let mut out = Vec::new();
    for (oid, rels) in by_db {
        let name = databases.get(&oid).cloned();
        let names = match &name {
            Some(db) => relation_names(source, db, &rels).await,
            None => BTreeMap::new(),
        };
        for (rel, records) in rels {
            out.push(Written {
                database: name.clone().unwrap_or_else(|| {
                    if oid == 0 {
                        "(shared catalog)".to_owned()
                    } else {
                        format!("database {oid}")
                    }
                }),
                relation: names.get(&rel).cloned(),
                file: format!("{}/{}/{}", rel.tablespace, rel.database, rel.relfilenode),
                records,
            });
        }
    }
    out
}

async fn connect(
    target: &DbTarget,
) -> Option<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    tokio::time::timeout(NAME_BOUND, crate::probe::pg::open(target, NAME_BOUND))
        .await
        .ok()?
        .map_err(|e| {
            tracing::warn!(
                "rejoin report: cannot connect to the peer's {}: {e}",
                target.dbname
            )
        })
        .ok()
}

async fn database_names(source: &DbTarget) -> Option<BTreeMap<u32, String>> {
    let (client, task) = connect(source).await?;
    let rows = tokio::time::timeout(
        NAME_BOUND,
        client.query("SELECT oid, datname FROM pg_database", &[]),
    )
    .await
    .ok()?
    .ok()?;
    drop(client);
    let _ = task.await;
    Some(
        rows.iter()
            .filter_map(|r| Some((r.try_get::<_, u32>(0).ok()?, r.try_get(1).ok()?)))
            .collect(),
    )
}

async fn relation_names(
    source: &DbTarget,
    database: &str,
    rels: &[(RelFile, u64)],
) -> BTreeMap<RelFile, String> {
    let target = DbTarget {
        dbname: database.to_owned(),
        ..source.clone()
    };
    let mut names = BTreeMap::new();
    let Some((client, task)) = connect(&target).await else {
        return names;
    };
    for (rel, _) in rels {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
            [&rel.tablespace, &rel.relfilenode];
        let q = client.query_one("SELECT pg_filenode_relation($1, $2)::text", &params);
        if let Ok(Ok(row)) = tokio::time::timeout(NAME_BOUND, q).await {
            if let Ok(Some(name)) = row.try_get::<_, Option<String>>(0) {
                names.insert(*rel, name);
            }
        }
    }
    drop(client);
    let _ = task.await;
    names
}
