//! The optional fields a version-3 Ping or Ack carries in its tail, typed.
//!
//! Each field has a tag, fixed forever once released. Tags are odd: a receiver
//! skips an unknown odd tag and refuses a frame with an unknown even one, so a
//! later field that must not be ignored can still be added without a new
//! version (the "it's OK to be odd" rule of Lightning's TLV streams).

use crate::tail::{take_u32, take_u64, Full, Tail, TailError, Writer, MAX_TAIL_LEN};

/// The tags of the fields defined so far (`WIRE.md`, "Tail fields").
mod tag {
    pub(super) const ECHOED_SEQ: u32 = 1;
    pub(super) const CONDITIONS: u32 = 3;
    pub(super) const SYNC_EPOCH: u32 = 5;
    pub(super) const PAUSE: u32 = 7;
    pub(super) const CONFIG_FINGERPRINT: u32 = 9;
    pub(super) const NODE_NAME: u32 = 11;
    pub(super) const TAKEOVER_REQUEST: u32 = 13;
    pub(super) const TAKEOVER_ANSWER: u32 = 15;
    pub(super) const SWITCHOVER: u32 = 17;
}

/// Bits of the [`Conditions`] byte.
mod bit {
    pub(super) const HUMAN_PROMOTED: u8 = 1 << 0;
    pub(super) const LEAVING: u8 = 1 << 1;
    pub(super) const DEFINED: u8 = HUMAN_PROMOTED | LEAVING;
}

/// The first byte of a [`SwitchoverStage`] (tag 17).
mod stage {
    pub(super) const REQUESTED: u8 = 0x00;
    pub(super) const STOPPING: u8 = 0x01;
    pub(super) const STOPPED: u8 = 0x02;
}

/// The optional fields of a Ping or Ack. `None` means the sender did not send
/// the field (a version-2 frame sends none); encoding leaves absent fields out,
/// so a frame without extensions is as short as its version-2 form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Extensions {
    /// Tag 1: the `seq` of the latest Ping this sender has seen from its peer,
    /// so the peer can tell a frame built after a given ping of its own.
    pub echoed_seq: Option<u32>,
    /// Tag 3: conditions the sender is in.
    pub conditions: Option<Conditions>,
    /// Tag 5: the sender's replication mode and since when it holds.
    pub sync_epoch: Option<SyncEpoch>,
    /// Tag 7: the sender is paused by an operator.
    pub pause: Option<Pause>,
    /// Tag 9: a hash of the sender's configuration, so a pair can see it disagrees.
    pub config_fingerprint: Option<u32>,
    /// Tag 11: the sender's name, for logs and status.
    pub node_name: Option<NodeName>,
    /// Tag 13: the sender (a master) asks its peer to take over at this WAL position.
    pub takeover_request: Option<TakeoverRequest>,
    /// Tag 15: the sender (a standby) answers a takeover request.
    pub takeover_answer: Option<TakeoverAnswer>,
    /// Tag 17: a planned switchover's stage (rule `planned-switchover`).
    pub switchover: Option<SwitchoverStage>,
}

/// A planned switchover's stage (tag 17, rule `planned-switchover`): one stage
/// byte, and for [`SwitchoverStage::Stopped`] the final LSN as a u64 varint.
/// A receiver refuses any other stage byte, and a byte missing or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum SwitchoverStage {
    /// `0x00`: a standby asks its master to hand the primary role over.
    Requested,
    /// `0x01`: the master released the VIP and is checkpointing and stopping
    /// its PostgreSQL.
    Stopping,
    /// `0x02` then a u64 varint: the master's PostgreSQL is shut down cleanly,
    /// its shutdown checkpoint at `lsn`; the standby promotes once it has
    /// replayed past it.
    Stopped {
        /// The shutdown checkpoint's location.
        lsn: u64,
    },
}

/// A master's question (tag 13): "take over at this WAL position?", as a u64 varint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TakeoverRequest {
    /// The master's WAL position when it asked.
    pub lsn: u64,
}

/// A standby's answer (tag 15): the position the request named (u64 varint), then
/// one verdict byte: [`TakeoverAnswer::READY`], or the code of the check that failed
/// (`WIRE.md`). A code this crate does not list is still a refusal, decoded as is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TakeoverAnswer {
    /// The position the request named.
    pub lsn: u64,
    /// [`TakeoverAnswer::READY`] or a refusal's code.
    pub verdict: u8,
}

impl TakeoverAnswer {
    /// The verdict "ready to take over".
    pub const READY: u8 = 0;
}

/// Conditions a node reports (tag 3): one byte, a bit each; a receiver
/// refuses a byte with any other bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Conditions {
    /// Bit 0: the sender became primary because an operator promoted it.
    pub human_promoted: bool,
    /// Bit 1: the sender is leaving the pair (shutting down for good).
    pub leaving: bool,
}

/// The sender's replication mode (tag 5): a flag byte (`0x00`/`0x01`), then
/// the WAL position as a u64 varint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SyncEpoch {
    /// Replication is synchronous.
    pub synchronous: bool,
    /// The WAL position (LSN) from which the mode has held.
    pub since_lsn: u64,
}

/// An operator's pause of the sender (tag 7): `0x00` (no expiry) or `0x01`
/// and the seconds left as a u32 varint. Seconds left rather than a wall-clock
/// deadline, so the two nodes' clocks need not agree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Pause {
    /// Seconds until the pause ends by itself; `None`: until an operator resumes.
    pub seconds_left: Option<u32>,
}

/// A node's name (tag 11): UTF-8, at most [`NodeName::MAX_LEN`] bytes, kept
/// inline so frames stay `Copy` and allocation-free.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NodeName {
    /// Bytes past `len` are always zero, so the derived comparisons are right.
    bytes: [u8; NodeName::MAX_LEN],
    len: u8,
}

/// A name longer than [`NodeName::MAX_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTooLong;

impl core::fmt::Display for NameTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "a node name has at most {} bytes", NodeName::MAX_LEN)
    }
}

impl core::error::Error for NameTooLong {}

impl NodeName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// The name `name`, if it has at most [`NodeName::MAX_LEN`] bytes.
    pub const fn new(name: &str) -> Result<NodeName, NameTooLong> {
        let src = name.as_bytes();
        if src.len() > NodeName::MAX_LEN {
            return Err(NameTooLong);
        }
        let mut bytes = [0u8; NodeName::MAX_LEN];
        let mut i = 0;
        while i < src.len() {
            bytes[i] = src[i];
            i += 1;
        }
        #[allow(clippy::cast_possible_truncation)] // at most MAX_LEN (32), checked above
        let len = src.len() as u8;
        Ok(NodeName { bytes, len })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only valid UTF-8 gets in (`new` takes a str, `from_wire` checks).
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The name's UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn from_wire(bytes: &[u8]) -> Option<NodeName> {
        NodeName::new(core::str::from_utf8(bytes).ok()?).ok()
    }
}

impl core::fmt::Debug for NodeName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for NodeName {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for NodeName {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let name: &str = u.arbitrary()?;
        // The longest prefix that fits, cut at a character boundary.
        let mut end = name.len().min(NodeName::MAX_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        Ok(NodeName::new(name.get(..end).unwrap_or_default()).unwrap_or_default())
    }
}

/// Bytes of one field at its widest: tag and length (one byte each while
/// tags stay below 128 and values below 128 bytes) and the value.
const fn field_len(value: usize) -> usize {
    2 + value
}

/// The longest value of any field defined so far (the node name).
const MAX_VALUE_LEN: usize = NodeName::MAX_LEN;

// Every field at its widest fits the budget every receiver accepts.
const _: () = assert!(Extensions::MAX_LEN <= MAX_TAIL_LEN);

impl Extensions {
    /// No field: what a version-2 frame carries.
    pub const NONE: Extensions = Extensions {
        echoed_seq: None,
        conditions: None,
        sync_epoch: None,
        pause: None,
        config_fingerprint: None,
        node_name: None,
        takeover_request: None,
        takeover_answer: None,
        switchover: None,
    };

    /// The longest tail these fields make, each at its widest: 109 bytes.
    pub const MAX_LEN: usize = field_len(5) // echoed seq: a u32 varint
        + field_len(1) // conditions
        + field_len(1 + 10) // sync epoch: flag, u64 varint
        + field_len(1 + 5) // pause: option byte, u32 varint
        + field_len(4) // config fingerprint: u32 LE
        + field_len(NodeName::MAX_LEN)
        + field_len(10) // takeover request: u64 varint
        + field_len(10 + 1) // takeover answer: u64 varint, verdict byte
        + field_len(1 + 10); // switchover: stage byte, u64 varint (`Stopped`)

    /// True if no field is present.
    pub fn is_empty(&self) -> bool {
        *self == Extensions::NONE
    }

    /// Reads a tail: checks its structure ([`Tail::new_checked`]), decodes
    /// every field this crate knows exactly, skips unknown odd tags.
    pub fn decode(tail: &[u8]) -> Result<Extensions, TailError> {
        let mut ext = Extensions::NONE;
        if tail.is_empty() {
            return Ok(ext);
        }
        for field in Tail::new_checked(tail)?.fields() {
            let value = field.value;
            let bad = TailError::BadValue(field.tag);
            match field.tag {
                tag::ECHOED_SEQ => ext.echoed_seq = Some(whole(take_u32(value)).ok_or(bad)?),
                tag::CONDITIONS => ext.conditions = Some(conditions(value).ok_or(bad)?),
                tag::SYNC_EPOCH => ext.sync_epoch = Some(sync_epoch(value).ok_or(bad)?),
                tag::PAUSE => ext.pause = Some(pause(value).ok_or(bad)?),
                tag::CONFIG_FINGERPRINT => {
                    let word: [u8; 4] = value.try_into().map_err(|_| bad)?;
                    ext.config_fingerprint = Some(u32::from_le_bytes(word));
                }
                tag::NODE_NAME => ext.node_name = Some(NodeName::from_wire(value).ok_or(bad)?),
                tag::TAKEOVER_REQUEST => {
                    let lsn = whole(take_u64(value)).ok_or(bad)?;
                    ext.takeover_request = Some(TakeoverRequest { lsn });
                }
                tag::TAKEOVER_ANSWER => {
                    ext.takeover_answer = Some(takeover_answer(value).ok_or(bad)?);
                }
                tag::SWITCHOVER => ext.switchover = Some(switchover(value).ok_or(bad)?),
                unknown if unknown % 2 == 1 => {}
                unknown => return Err(TailError::UnknownRequired(unknown)),
            }
        }
        Ok(ext)
    }

    /// Writes the present fields in ascending tag order.
    pub(crate) fn emit(&self, out: &mut Writer<'_>) -> Result<(), Full> {
        if let Some(seq) = self.echoed_seq {
            field(out, tag::ECHOED_SEQ, |v| v.varint(u64::from(seq)))?;
        }
        if let Some(c) = self.conditions {
            let flag = |set: bool, bit: u8| if set { bit } else { 0 };
            let byte = flag(c.human_promoted, bit::HUMAN_PROMOTED) | flag(c.leaving, bit::LEAVING);
            field(out, tag::CONDITIONS, |v| v.byte(byte))?;
        }
        if let Some(s) = self.sync_epoch {
            field(out, tag::SYNC_EPOCH, |v| {
                v.byte(u8::from(s.synchronous))?;
                v.varint(s.since_lsn)
            })?;
        }
        if let Some(p) = self.pause {
            field(out, tag::PAUSE, |v| match p.seconds_left {
                None => v.byte(0),
                Some(seconds) => {
                    v.byte(1)?;
                    v.varint(u64::from(seconds))
                }
            })?;
        }
        if let Some(fingerprint) = self.config_fingerprint {
            field(out, tag::CONFIG_FINGERPRINT, |v| {
                v.bytes(&fingerprint.to_le_bytes())
            })?;
        }
        if let Some(name) = &self.node_name {
            field(out, tag::NODE_NAME, |v| v.bytes(name.as_bytes()))?;
        }
        if let Some(r) = self.takeover_request {
            field(out, tag::TAKEOVER_REQUEST, |v| v.varint(r.lsn))?;
        }
        if let Some(a) = self.takeover_answer {
            field(out, tag::TAKEOVER_ANSWER, |v| {
                v.varint(a.lsn)?;
                v.byte(a.verdict)
            })?;
        }
        if let Some(s) = self.switchover {
            field(out, tag::SWITCHOVER, |v| match s {
                SwitchoverStage::Requested => v.byte(stage::REQUESTED),
                SwitchoverStage::Stopping => v.byte(stage::STOPPING),
                SwitchoverStage::Stopped { lsn } => {
                    v.byte(stage::STOPPED)?;
                    v.varint(lsn)
                }
            })?;
        }
        Ok(())
    }
}

/// Writes `tag · length · value`, the value written by `value`.
fn field(
    out: &mut Writer<'_>,
    tag: u32,
    value: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>,
) -> Result<(), Full> {
    let mut buf = [0u8; MAX_VALUE_LEN];
    let mut v = Writer::new(&mut buf);
    value(&mut v)?;
    out.varint(u64::from(tag))?;
    out.varint(v.len() as u64)?;
    out.bytes(v.written())
}

/// The value of a varint that filled its field exactly.
fn whole<T>(taken: Option<(T, &[u8])>) -> Option<T> {
    match taken {
        Some((value, [])) => Some(value),
        _ => None,
    }
}

fn flag(byte: u8) -> Option<bool> {
    match byte {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

fn conditions(value: &[u8]) -> Option<Conditions> {
    let [byte] = *value else { return None };
    (byte & !bit::DEFINED == 0).then_some(Conditions {
        human_promoted: byte & bit::HUMAN_PROMOTED != 0,
        leaving: byte & bit::LEAVING != 0,
    })
}

fn sync_epoch(value: &[u8]) -> Option<SyncEpoch> {
    let (&first, rest) = value.split_first()?;
    Some(SyncEpoch {
        synchronous: flag(first)?,
        since_lsn: whole(take_u64(rest))?,
    })
}

fn takeover_answer(value: &[u8]) -> Option<TakeoverAnswer> {
    let (lsn, rest) = take_u64(value)?;
    let [verdict] = *rest else { return None };
    Some(TakeoverAnswer { lsn, verdict })
}

fn switchover(value: &[u8]) -> Option<SwitchoverStage> {
    let (&first, rest) = value.split_first()?;
    match first {
        stage::REQUESTED if rest.is_empty() => Some(SwitchoverStage::Requested),
        stage::STOPPING if rest.is_empty() => Some(SwitchoverStage::Stopping),
        stage::STOPPED => Some(SwitchoverStage::Stopped {
            lsn: whole(take_u64(rest))?,
        }),
        _ => None,
    }
}

fn pause(value: &[u8]) -> Option<Pause> {
    let (&first, rest) = value.split_first()?;
    let seconds_left = match flag(first)? {
        false if rest.is_empty() => None,
        false => return None,
        true => Some(whole(take_u32(rest))?),
    };
    Some(Pause { seconds_left })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail `ext` encodes to.
    fn tail(ext: &Extensions) -> ([u8; MAX_TAIL_LEN], usize) {
        let mut out = [0u8; MAX_TAIL_LEN];
        let mut w = Writer::new(&mut out);
        ext.emit(&mut w).expect("fits");
        let len = w.len();
        (out, len)
    }

    fn with(stage: SwitchoverStage) -> Extensions {
        Extensions {
            switchover: Some(stage),
            ..Extensions::NONE
        }
    }

    #[test]
    fn each_switchover_stage_round_trips() {
        let cases: [(SwitchoverStage, &[u8]); 5] = [
            (SwitchoverStage::Requested, &[17, 1, 0x00]),
            (SwitchoverStage::Stopping, &[17, 1, 0x01]),
            (SwitchoverStage::Stopped { lsn: 0 }, &[17, 2, 0x02, 0x00]),
            (
                SwitchoverStage::Stopped {
                    lsn: 0x0000_0001_0000_0028,
                },
                &[17, 6, 0x02, 0xa8, 0x80, 0x80, 0x80, 0x10],
            ),
            (
                SwitchoverStage::Stopped { lsn: u64::MAX },
                &[
                    17, 11, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ),
        ];
        for (stage, bytes) in cases {
            let ext = with(stage);
            let (out, len) = tail(&ext);
            assert_eq!(&out[..len], bytes, "{stage:?}");
            assert_eq!(Extensions::decode(bytes), Ok(ext), "{stage:?}");
        }
        // After the takeover answer (tag 15), in ascending order.
        let both = Extensions {
            takeover_answer: Some(TakeoverAnswer { lsn: 5, verdict: 0 }),
            ..with(SwitchoverStage::Stopping)
        };
        let (out, len) = tail(&both);
        assert_eq!(&out[..len], &[15, 2, 5, 0, 17, 1, 1]);
        assert_eq!(Extensions::decode(&out[..len]), Ok(both));
    }

    #[test]
    fn bad_switchover_values_are_refused() {
        let bad = Err(TailError::BadValue(17));
        for (what, bytes) in [
            ("unknown stage byte 3", &[17, 1, 0x03][..]),
            ("unknown stage byte 0xff", &[17, 1, 0xff]),
            ("no stage byte", &[17, 0]),
            ("Stopped without LSN", &[17, 1, 0x02]),
            ("Stopped with an unterminated LSN", &[17, 2, 0x02, 0x80]),
            (
                "Stopped with an LSN past u64",
                &[
                    17, 11, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                ],
            ),
            ("Stopped with a byte over", &[17, 3, 0x02, 0x05, 0x00]),
            ("Requested with a byte over", &[17, 2, 0x00, 0x00]),
            ("Stopping with a byte over", &[17, 2, 0x01, 0x00]),
        ] {
            assert_eq!(Extensions::decode(bytes), bad, "{what}");
        }
    }

    #[test]
    fn every_field_at_its_widest_fits_the_budget() {
        // Also a const assertion above; here the figure WIRE.md gives.
        assert_eq!(
            (Extensions::MAX_LEN, MAX_TAIL_LEN - Extensions::MAX_LEN),
            (109, 19)
        );
    }
}
