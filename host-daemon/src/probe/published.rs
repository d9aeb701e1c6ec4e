//! What a daemon publishes in its own PostgreSQL for the peer's remote DB path to
//! read: the settings' names and their text. One owner for both directions: the DB
//! worker writes [`format`]'s and [`format_epoch`]'s text, the remote DB probe reads
//! it back with [`parse`] and [`parse_epoch`].
//!
//! `twinbeat.handover`, while a handover runs over that path (rule
//! `fence-handshake`): `<stage>:<term>:<lsn>`, the stage one of `ask`, `ready`,
//! `refused-<reason>` (the refusal's name), `fencing`, `armed`.
//!
//! `twinbeat.sync_epoch` (a primary's epoch) and `twinbeat.sync_ack` (a standby's
//! acknowledgement of one), rule `sync-epoch`: `<sync|async>:<since_lsn>:<term>:<run>`.
//!
//! Anything else reads as nothing published: an unknown or damaged value must never
//! count as a stage or an epoch.

use twinbeat_core::{
    Published, PublishedEpoch, Stage, SyncEpoch, TakeoverRefusal, TakeoverVerdict,
};

/// A handover's stage (rule `fence-handshake`).
pub(crate) const HANDOVER: &str = "twinbeat.handover";
/// A primary's synchronous-replication epoch (rule `sync-epoch`).
pub(crate) const SYNC_EPOCH: &str = "twinbeat.sync_epoch";
/// A standby's acknowledgement of an asynchronous epoch (rule `sync-epoch`).
pub(crate) const SYNC_ACK: &str = "twinbeat.sync_ack";

/// The value to write for `p`.
pub(crate) fn format_epoch(p: &PublishedEpoch) -> String {
    let kind = if p.epoch.synchronous { "sync" } else { "async" };
    format!("{kind}:{}:{}:{}", p.epoch.since_lsn, p.term, p.run)
}

/// The epoch a value says, or `None` for an empty or damaged one.
pub(crate) fn parse_epoch(text: &str) -> Option<PublishedEpoch> {
    let mut parts = text.split(':');
    let (kind, since, term, run) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let synchronous = match kind {
        "sync" => true,
        "async" => false,
        _ => return None,
    };
    Some(PublishedEpoch {
        term: term.parse().ok()?,
        run: run.parse().ok()?,
        epoch: SyncEpoch {
            synchronous,
            since_lsn: since.parse().ok()?,
        },
    })
}

/// The value to write for `p`.
pub(crate) fn format(p: &Published) -> String {
    let stage = match p.stage {
        Stage::Ask => "ask".to_owned(),
        Stage::Answer(TakeoverVerdict::Ready) => "ready".to_owned(),
        Stage::Answer(TakeoverVerdict::Refused(why)) => format!("refused-{}", why.name()),
        Stage::Fencing => "fencing".to_owned(),
        Stage::Armed => "armed".to_owned(),
    };
    format!("{stage}:{}:{}", p.term, p.lsn)
}

/// The stage a value says, or `None` for an empty, unknown or damaged one.
pub(crate) fn parse(text: &str) -> Option<Published> {
    let mut parts = text.split(':');
    let (stage, term, lsn) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let stage = match stage {
        "ask" => Stage::Ask,
        "ready" => Stage::Answer(TakeoverVerdict::Ready),
        "fencing" => Stage::Fencing,
        "armed" => Stage::Armed,
        other => {
            let name = other.strip_prefix("refused-")?;
            let why = TakeoverRefusal::ALL
                .into_iter()
                .find(|r| r.name() == name)?;
            Stage::Answer(TakeoverVerdict::Refused(why))
        }
    };
    Some(Published {
        stage,
        term: term.parse().ok()?,
        lsn: lsn.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_reads_back_as_written() {
        let mut stages = vec![
            Stage::Ask,
            Stage::Answer(TakeoverVerdict::Ready),
            Stage::Fencing,
            Stage::Armed,
        ];
        stages.extend(TakeoverRefusal::ALL.map(|r| Stage::Answer(TakeoverVerdict::Refused(r))));
        for stage in stages {
            let p = Published {
                stage,
                term: 7,
                lsn: 50_331_976,
            };
            assert_eq!(parse(&format(&p)), Some(p), "{}", format(&p));
        }
    }

    #[test]
    fn anything_else_is_nothing_published() {
        for text in [
            "",
            "ask",
            "ask:1",
            "ask:1:2:3",
            "ask:x:2",
            "refused-because:1:2",
            "yes:1:2",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn every_epoch_reads_back_as_written() {
        for synchronous in [true, false] {
            let p = PublishedEpoch {
                term: 3,
                run: u64::MAX,
                epoch: SyncEpoch {
                    synchronous,
                    since_lsn: 50_331_976,
                },
            };
            assert_eq!(
                parse_epoch(&format_epoch(&p)),
                Some(p),
                "{}",
                format_epoch(&p)
            );
        }
        assert_eq!(
            format_epoch(&PublishedEpoch {
                term: 2,
                run: 9,
                epoch: SyncEpoch {
                    synchronous: false,
                    since_lsn: 100
                },
            }),
            "async:100:2:9"
        );
    }

    #[test]
    fn a_damaged_epoch_is_nothing_published() {
        for text in [
            "",
            "sync",
            "sync:1:2",
            "sync:1:2:3:4",
            "maybe:1:2:3",
            "async:-1:2:3",
            "async:1:x:3",
        ] {
            assert_eq!(parse_epoch(text), None, "{text:?}");
        }
    }
}
