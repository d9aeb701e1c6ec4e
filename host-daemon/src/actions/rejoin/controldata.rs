//! What `pg_controldata` says about the local data directory that a rejoin needs:
//! the timeline it is on, whether it was shut down cleanly, whether `pg_rewind` can
//! work on it (`wal_log_hints` or data checksums) and its WAL segment size.

use std::collections::HashMap;

use super::timeline::parse_lsn;

/// The fields read from `pg_controldata`'s output (run with `LC_ALL=C`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControlData {
    /// "Database cluster state".
    pub state: String,
    /// The timeline the cluster is on: the minimum recovery point's when it was a
    /// replica that had one, otherwise the latest checkpoint's (as `pg_rewind` reads it).
    pub timeline: u32,
    /// "wal_log_hints setting" is `on`.
    pub wal_log_hints: bool,
    /// "Data page checksum version" is not 0.
    pub checksums: bool,
    /// "Bytes per WAL segment".
    pub wal_segment_size: u64,
    /// "Latest checkpoint's REDO location": crash recovery, and `pg_rewind`'s search
    /// for the last common checkpoint, read the WAL from here.
    pub redo_lsn: u64,
    /// "Latest checkpoint location": after a clean shutdown, the shutdown checkpoint
    /// record, the last WAL the cluster wrote (a switchover's final LSN, rule
    /// `planned-switchover`).
    pub checkpoint_lsn: u64,
}

impl ControlData {
    /// Whether `pg_rewind` can rewind this cluster: it needs every hint-bit change
    /// WAL-logged, which `wal_log_hints` or data checksums give.
    pub(crate) fn rewindable(&self) -> bool {
        self.wal_log_hints || self.checksums
    }

    /// Whether it was shut down cleanly (as a primary or as a replica): otherwise it
    /// needs crash recovery before `pg_rewind` can read it.
    pub(crate) fn shut_down_cleanly(&self) -> bool {
        matches!(self.state.as_str(), "shut down" | "shut down in recovery")
    }
}

/// Parses `pg_controldata`'s output; the error names the field missing or unreadable.
pub(crate) fn parse(text: &str) -> Result<ControlData, String> {
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |k: &str| {
        fields
            .get(k)
            .copied()
            .ok_or_else(|| format!("pg_controldata printed no {k:?}"))
    };
    let number = |k: &str| -> Result<u64, String> {
        let v = get(k)?;
        v.parse()
            .map_err(|_| format!("pg_controldata: {k:?} is {v:?}, not a number"))
    };
    let checkpoint_tli = number("Latest checkpoint's TimeLineID")?;
    let min_recovery_tli = number("Min recovery ending loc's timeline").unwrap_or(0);
    let timeline = if min_recovery_tli != 0 {
        min_recovery_tli
    } else {
        checkpoint_tli
    };
    Ok(ControlData {
        state: get("Database cluster state")?.to_owned(),
        timeline: u32::try_from(timeline)
            .map_err(|_| format!("pg_controldata: timeline {timeline} out of range"))?,
        wal_log_hints: get("wal_log_hints setting")? == "on",
        checksums: number("Data page checksum version")? != 0,
        wal_segment_size: number("Bytes per WAL segment")?,
        redo_lsn: {
            let k = "Latest checkpoint's REDO location";
            let v = get(k)?;
            parse_lsn(v).ok_or_else(|| format!("pg_controldata: {k:?} is {v:?}, not an LSN"))?
        },
        checkpoint_lsn: {
            let k = "Latest checkpoint location";
            let v = get(k)?;
            parse_lsn(v).ok_or_else(|| format!("pg_controldata: {k:?} is {v:?}, not an LSN"))?
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of PostgreSQL 15's `pg_controldata` that are read, as it prints them
    /// for a primary stopped by a fence (immediate stop).
    const FENCED_PRIMARY: &str = "\
pg_control version number:            1300
Database cluster state:               in production
Latest checkpoint location:           0/3000060
Latest checkpoint's REDO location:    0/3000028
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Min recovery ending location:         0/0
Min recovery ending loc's timeline:   0
wal_log_hints setting:                on
Bytes per WAL segment:                16777216
Data page checksum version:           0
";

    #[test]
    fn a_fenced_primary_reads_as_its_timeline_and_rewindable() {
        let c = parse(FENCED_PRIMARY).unwrap();
        assert_eq!(c.state, "in production");
        assert_eq!(c.timeline, 1);
        assert!(c.wal_log_hints && !c.checksums && c.rewindable());
        assert_eq!(c.wal_segment_size, 16 << 20);
        assert_eq!(c.redo_lsn, 0x3000028);
        assert!(!c.shut_down_cleanly());
    }

    #[test]
    fn a_replica_reads_as_its_minimum_recovery_timeline() {
        let text = FENCED_PRIMARY
            .replace("in production", "shut down in recovery")
            .replace("loc's timeline:   0", "loc's timeline:   2");
        assert_eq!(parse(&text).unwrap().timeline, 2);
    }

    #[test]
    fn without_hints_or_checksums_it_is_not_rewindable() {
        let text =
            FENCED_PRIMARY.replace("setting:                on", "setting:                off");
        assert!(!parse(&text).unwrap().rewindable());
        let sums = text.replace("version:           0", "version:           1");
        assert!(parse(&sums).unwrap().rewindable());
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = FENCED_PRIMARY.replace("Bytes per WAL segment", "Bytes per segment");
        assert_eq!(
            parse(&text).unwrap_err(),
            "pg_controldata printed no \"Bytes per WAL segment\""
        );
    }
}
