//! Reading `pg_waldump`'s output: what the old timeline held past the fork point —
//! how many transactions committed there and which relations they wrote, by file
//! (tablespace / database / relfilenode); `report` names them.

use std::collections::{BTreeMap, HashMap};

use super::timeline::parse_lsn;

/// A relation's file as WAL names it (`rel 1663/5/16385`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RelFile {
    /// The tablespace's OID (1663 `pg_default`, 1664 `pg_global`).
    pub tablespace: u32,
    /// The database's OID (0 for a shared catalog).
    pub database: u32,
    /// The relfilenode.
    pub relfilenode: u32,
}

/// One WAL record as `pg_waldump` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// The resource manager (`Heap`, `Btree`, `Transaction`, ...).
    pub rmgr: &'a str,
    /// The transaction id (0: none).
    pub xid: u32,
    /// Where the record starts.
    pub lsn: u64,
    /// The description, with its block references.
    pub desc: &'a str,
}

/// Parses one line of `pg_waldump` (PostgreSQL 15): `rmgr: Heap len (rec/tot): 54/150,
/// tx: 735, lsn: 0/03000148, prev 0/03000110, desc: INSERT off 1 flags 0x00, blkref
/// #0: rel 1663/5/16385 blk 0`. `None` for any other line.
pub(crate) fn parse_line(line: &str) -> Option<Record<'_>> {
    let rest = line.strip_prefix("rmgr:")?;
    let (rmgr, rest) = rest.trim_start().split_once(' ')?;
    let (_, rest) = rest.split_once("tx:")?;
    let (xid, rest) = rest.split_once(',')?;
    let (_, rest) = rest.split_once("lsn:")?;
    let (lsn, rest) = rest.split_once(',')?;
    let (_, desc) = rest.split_once("desc:")?;
    Some(Record {
        rmgr,
        xid: xid.trim().parse().ok()?,
        lsn: parse_lsn(lsn)?,
        desc: desc.trim(),
    })
}

/// The relation files a record's block references name.
pub(crate) fn relations(desc: &str) -> impl Iterator<Item = RelFile> + '_ {
    desc.split("rel ").skip(1).filter_map(|s| {
        let spec = s.split_whitespace().next()?;
        let mut parts = spec.split('/').map(|p| p.parse::<u32>().ok());
        Some(RelFile {
            tablespace: parts.next()??,
            database: parts.next()??,
            relfilenode: parts.next()??,
        })
    })
}

/// The subtransactions a commit or abort record lists (`; subxacts: 736 737`).
fn subxacts(desc: &str) -> Vec<u32> {
    desc.split_once("subxacts:")
        .map(|(_, s)| {
            s.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What the WAL past the fork held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Records read.
    pub records: u64,
    /// The first and the last record's position.
    pub first_lsn: Option<u64>,
    /// See `first_lsn`.
    pub last_lsn: Option<u64>,
    /// Transactions whose commit record is there: acknowledged to their clients
    /// (with asynchronous replication) and not on the new primary.
    pub committed: u64,
    /// Transactions that aborted.
    pub aborted: u64,
    /// Transactions with records but neither a commit nor an abort (in flight when
    /// the old primary stopped; never acknowledged).
    pub unfinished: u64,
    /// The relation files the committed transactions wrote, with their record counts.
    pub written: BTreeMap<RelFile, u64>,
}

/// Reads `pg_waldump`'s whole output into a [`Summary`].
pub(crate) fn summarize(text: &str) -> Summary {
    let mut s = Summary::default();
    let mut open: HashMap<u32, BTreeMap<RelFile, u64>> = HashMap::new();
    for r in text.lines().filter_map(parse_line) {
        s.records += 1;
        s.first_lsn.get_or_insert(r.lsn);
        s.last_lsn = Some(r.lsn);
        if r.xid == 0 {
            continue;
        }
        if r.rmgr == "Transaction" && (r.desc.starts_with("COMMIT") || r.desc.starts_with("ABORT"))
        {
            let commit = r.desc.starts_with("COMMIT");
            for xid in std::iter::once(r.xid).chain(subxacts(r.desc)) {
                if let Some(rels) = open.remove(&xid) {
                    if commit {
                        for (rel, n) in rels {
                            *s.written.entry(rel).or_default() += n;
                        }
                    }
                }
            }
            if commit {
                s.committed += 1;
            } else {
                s.aborted += 1;
            }
            continue;
        }
        let rels = open.entry(r.xid).or_default();
        for rel in relations(r.desc) {
            *rels.entry(rel).or_default() += 1;
        }
    }
    s.unfinished = open.len() as u64;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 15's `pg_waldump` past a fork: transaction 740 inserts twice into
    /// relfilenode 16385 and commits; 741 (with subtransaction 742 writing 16390)
    /// commits; 743 aborts; 744 is still open; a checkpoint-ish record without a
    /// transaction; and the end-of-WAL error.
    const DUMP: &str = "\
rmgr: Heap        len (rec/tot):     59/    59, tx:        740, lsn: 0/03000148, prev 0/03000110, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/5/16385 blk 0
rmgr: Heap        len (rec/tot):     59/    59, tx:        740, lsn: 0/03000188, prev 0/03000148, desc: INSERT off 4 flags 0x00, blkref #0: rel 1663/5/16385 blk 0
rmgr: Btree       len (rec/tot):     64/    64, tx:        740, lsn: 0/030001C8, prev 0/03000188, desc: INSERT_LEAF off 4, blkref #0: rel 1663/5/16388 blk 1
rmgr: Transaction len (rec/tot):     34/    34, tx:        740, lsn: 0/03000208, prev 0/030001C8, desc: COMMIT 2026-12-06 22:10:01.123456 UTC
rmgr: Heap        len (rec/tot):     59/    59, tx:        741, lsn: 0/03000230, prev 0/03000208, desc: UPDATE off 1 xmax 741 flags 0x00 ; new off 5 xmax 0, blkref #0: rel 1663/5/16385 blk 0
rmgr: Heap        len (rec/tot):     59/    59, tx:        742, lsn: 0/03000270, prev 0/03000230, desc: INSERT off 1 flags 0x00, blkref #0: rel 1663/16384/16390 blk 0
rmgr: Transaction len (rec/tot):     38/    38, tx:        741, lsn: 0/030002B0, prev 0/03000270, desc: COMMIT 2026-12-06 22:10:02.000001 UTC; subxacts: 742
rmgr: Heap        len (rec/tot):     59/    59, tx:        743, lsn: 0/030002D8, prev 0/030002B0, desc: INSERT off 6 flags 0x00, blkref #0: rel 1663/5/16385 blk 0
rmgr: Transaction len (rec/tot):     34/    34, tx:        743, lsn: 0/03000318, prev 0/030002D8, desc: ABORT 2026-12-06 22:10:03.000001 UTC
rmgr: Standby     len (rec/tot):     50/    50, tx:          0, lsn: 0/03000340, prev 0/03000318, desc: RUNNING_XACTS nextXid 744 latestCompletedXid 743 oldestRunningXid 744
rmgr: Heap        len (rec/tot):     59/    59, tx:        744, lsn: 0/03000378, prev 0/03000340, desc: INSERT off 7 flags 0x00, blkref #0: rel 1663/5/16385 blk 0
pg_waldump: error: error in WAL record at 0/30003B8: invalid record length at 0/30003F0: wanted 24, got 0
";

    #[test]
    fn a_record_line_reads_back() {
        let r = parse_line(DUMP.lines().next().unwrap()).unwrap();
        assert_eq!(
            r,
            Record {
                rmgr: "Heap",
                xid: 740,
                lsn: 0x3000148,
                desc: "INSERT off 3 flags 0x00, blkref #0: rel 1663/5/16385 blk 0",
            }
        );
        assert_eq!(
            relations(r.desc).collect::<Vec<_>>(),
            [RelFile {
                tablespace: 1663,
                database: 5,
                relfilenode: 16385
            }]
        );
        assert_eq!(parse_line("pg_waldump: error: something"), None);
    }

    #[test]
    fn the_summary_counts_what_committed_and_where_it_wrote() {
        let s = summarize(DUMP);
        assert_eq!(s.records, 11);
        assert_eq!(s.first_lsn, Some(0x3000148));
        assert_eq!(s.last_lsn, Some(0x3000378));
        assert_eq!((s.committed, s.aborted, s.unfinished), (2, 1, 1));
        let rel = |database, relfilenode| RelFile {
            tablespace: 1663,
            database,
            relfilenode,
        };
        // 740's two inserts and 741's update into 16385, 740's index entry, and the
        // subtransaction's insert, counted with its parent's commit; not the aborted
        // or the unfinished ones.
        let expected: BTreeMap<RelFile, u64> = [
            (rel(5, 16385), 3),
            (rel(5, 16388), 1),
            (rel(16384, 16390), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(s.written, expected);
    }

    #[test]
    fn nothing_past_the_fork_is_an_empty_summary() {
        assert_eq!(summarize(""), Summary::default());
    }
}
