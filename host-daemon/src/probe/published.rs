//! The text of `twinbeat.handover`: what a daemon publishes in its own PostgreSQL for
//! the peer's remote DB path to read while a handover runs over that path (rule
//! `fence-handshake`). One owner for both directions: the DB worker writes
//! [`format`]'s text, the remote DB probe reads it back with [`parse`].
//!
//! `<stage>:<term>:<lsn>`, the stage one of `ask`, `ready`, `refused-<reason>`
//! (the refusal's name), `fencing`, `armed`. Anything else reads as nothing
//! published: an unknown or damaged value must never count as a stage.

use twinbeat_core::{Published, Stage, TakeoverRefusal, TakeoverVerdict};

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
}
