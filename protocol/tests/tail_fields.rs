//! The version-3 tail: every refusal the spec lists is `Malformed`, unknown odd
//! tags are skipped wherever they stand, and extensions round-trip.

mod common;

use common::{events, extensions, Event};
use proptest::prelude::*;
use twinbeat_protocol::vectors::{ALL, TWINBEAT};
use twinbeat_protocol::*;

/// The head of `ping_standby`'s body (seq 1, state byte, term 1, LSN).
const HEAD: [u8; 7] = [0x01, 0x18, 0x01, 0xe0, 0x80, 0x80, 0x18];

/// `0x00 · COBS(header · HEAD · tail · crc) · 0x00` for a version-3 Ping.
fn ping_with_tail(tail: &[u8]) -> Vec<u8> {
    let mut raw = vec![3, 1];
    raw.extend_from_slice(&TWINBEAT.0.to_le_bytes());
    raw.extend_from_slice(&2u32.to_le_bytes());
    raw.extend_from_slice(&HEAD);
    raw.extend_from_slice(tail);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut out = vec![0u8; cobs::max_encoding_length(raw.len()) + 2];
    let n = cobs::encode(&raw, &mut out[1..]);
    out.truncate(n + 2);
    out
}

fn decoded(tail: &[u8]) -> Result<Extensions, DecodeError> {
    match events([&ping_with_tail(tail)[..]], ClusterFilter::Any)
        .0
        .as_slice()
    {
        [Event::Frame(f, WireVersion::V3, _)] => match f.message {
            Message::Ping(p) => Ok(p.extensions),
            other => panic!("{other:?}"),
        },
        [Event::Error(e)] => Err(*e),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_tails_are_refused() {
    let cases: &[(&str, &[u8], TailError)] = &[
        ("length past the end", &[1, 3, 7], TailError::FieldPastEnd),
        ("tag without length", &[1], TailError::FieldPastEnd),
        ("unterminated varint tag", &[0x81], TailError::FieldPastEnd),
        (
            "takeover request with a byte over",
            &[13, 2, 5, 0],
            TailError::BadValue(13),
        ),
        (
            "takeover answer without its verdict",
            &[15, 1, 5],
            TailError::BadValue(15),
        ),
        (
            "takeover answer with a byte over",
            &[15, 3, 5, 0, 0],
            TailError::BadValue(15),
        ),
        (
            "switchover stage byte 3",
            &[17, 1, 3],
            TailError::BadValue(17),
        ),
        (
            "switchover Stopped without LSN",
            &[17, 1, 2],
            TailError::BadValue(17),
        ),
        (
            "switchover Requested with a byte over",
            &[17, 2, 0, 0],
            TailError::BadValue(17),
        ),
        (
            "duplicate tag",
            &[1, 1, 7, 1, 1, 8],
            TailError::TagsNotAscending(1),
        ),
        (
            "descending tags",
            &[3, 1, 0, 1, 1, 7],
            TailError::TagsNotAscending(1),
        ),
        (
            "echoed seq too wide",
            &[1, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            TailError::BadValue(1),
        ),
        (
            "echoed seq with a byte over",
            &[1, 2, 7, 0],
            TailError::BadValue(1),
        ),
        ("echoed seq empty", &[1, 0], TailError::BadValue(1)),
        (
            "undefined condition bit",
            &[3, 1, 0x04],
            TailError::BadValue(3),
        ),
        (
            "conditions two bytes",
            &[3, 2, 1, 0],
            TailError::BadValue(3),
        ),
        (
            "sync flag not a bool",
            &[5, 2, 2, 0],
            TailError::BadValue(5),
        ),
        ("sync without LSN", &[5, 1, 1], TailError::BadValue(5)),
        ("pause option byte 2", &[7, 1, 2], TailError::BadValue(7)),
        (
            "pause none with a byte over",
            &[7, 2, 0, 5],
            TailError::BadValue(7),
        ),
        (
            "fingerprint of 3 bytes",
            &[9, 3, 1, 2, 3],
            TailError::BadValue(9),
        ),
        (
            "name not UTF-8",
            &[11, 2, 0xc3, 0x28],
            TailError::BadValue(11),
        ),
        (
            "unknown even tag",
            &[1, 1, 7, 12, 0],
            TailError::UnknownRequired(12),
        ),
    ];
    for (what, tail, why) in cases {
        assert_eq!(Extensions::decode(tail), Err(*why), "{what}");
        assert_eq!(decoded(tail), Err(DecodeError::Malformed), "{what}");
    }
    let long_name = [&[11u8, 33][..], &[b'x'; 33]].concat();
    assert_eq!(Extensions::decode(&long_name), Err(TailError::BadValue(11)));
    let over_budget = [&[13u8, 127][..], &[0x5a; 127]].concat();
    assert_eq!(Extensions::decode(&over_budget), Err(TailError::TooLong));
    // Every refusal counts as Malformed; nothing else is counted.
    let (_, d) = events([&ping_with_tail(&[1, 3, 7])[..]], ClusterFilter::Any);
    assert_eq!((d.counters().malformed, d.counters().errors()), (1, 1));
}

#[test]
fn a_takeover_verdict_this_crate_does_not_list_decodes_as_is() {
    // Later senders may add reasons to refuse: still a refusal, never Malformed.
    let ext = decoded(&[13, 1, 9, 15, 2, 9, 200]).expect("well formed");
    assert_eq!(ext.takeover_request, Some(TakeoverRequest { lsn: 9 }));
    assert_eq!(
        ext.takeover_answer,
        Some(TakeoverAnswer {
            lsn: 9,
            verdict: 200
        })
    );
}

#[test]
fn unknown_odd_tags_are_skipped() {
    let known = Extensions {
        echoed_seq: Some(7),
        config_fingerprint: Some(0x0403_0201),
        ..Extensions::NONE
    };
    // After known fields (every tag defined so far is below 19); empty, long
    // and multi-byte tags and values.
    for tail in [
        &[1, 1, 7, 9, 4, 1, 2, 3, 4][..],
        &[1, 1, 7, 9, 4, 1, 2, 3, 4, 19, 0],
        &[
            1, 1, 7, 9, 4, 1, 2, 3, 4, 19, 2, 0, 0, 0x7f, 3, 0xaa, 0xbb, 0xcc,
        ],
        &[
            1, 1, 7, 9, 4, 1, 2, 3, 4, 0x81, 0x01, 0x03, 0x00, 0x11, 0x11,
        ],
    ] {
        assert_eq!(decoded(tail), Ok(known), "{tail:02x?}");
    }
    assert_eq!(decoded(&[19, 1, 0]), Ok(Extensions::NONE));
    assert_eq!(decoded(&[]), Ok(Extensions::NONE));
}

#[test]
fn a_name_is_at_most_32_bytes_of_utf8() {
    let name = NodeName::new("pg-b.rack-7.eu-west-1.zürich.ch").expect("32 bytes");
    assert_eq!(name.as_bytes().len(), NodeName::MAX_LEN);
    assert_eq!(format!("{name:?}"), "\"pg-b.rack-7.eu-west-1.zürich.ch\"");
    assert_eq!(
        NodeName::new("pg-b.rack-7.eu-west-1.zürich.chx"),
        Err(NameTooLong)
    );
    assert_eq!(NodeName::default().as_str(), "");
    assert_eq!(
        (Extensions::MAX_LEN, MAX_TAIL_LEN - Extensions::MAX_LEN),
        (109, 19),
        "WIRE.md: 109 bytes of fields, 19 to spare"
    );
}

/// The state of the golden `ping_standby`.
fn standby() -> NodeState {
    match ALL[0].frame.message {
        Message::Ping(p) => p.state,
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any extensions survive a frame, and an unknown odd field appended to
    /// their tail (tags 19 to 119: above every tag defined so far) changes nothing.
    #[test]
    fn extensions_round_trip(
        ext in extensions(),
        unknown in (9u8..60).prop_map(|t| 2 * t + 1),
        value in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let frame = Frame {
            cluster: TWINBEAT,
            sender: NodeId(1),
            message: Message::Ack(Ack { seq: 9, state: standby(), extensions: ext }),
        };
        let mut out = [0u8; MAX_FRAME_LEN];
        let n = encode(&frame, &mut out).expect("fits");
        let (got, _) = events([&out[..n]], ClusterFilter::Any);
        prop_assert_eq!(got, vec![Event::Frame(frame, WireVersion::V3, out[1..n - 1].to_vec())]);

        let mut tail = tail_of(&ext);
        tail.push(unknown);
        tail.push(u8::try_from(value.len()).expect("short"));
        tail.extend_from_slice(&value);
        prop_assert_eq!(Extensions::decode(&tail), Ok(ext));
    }
}

/// The tail `ext` encodes to, cut from a version-3 Ping's un-stuffed body.
fn tail_of(ext: &Extensions) -> Vec<u8> {
    let frame = Frame {
        cluster: TWINBEAT,
        sender: NodeId(2),
        message: Message::Ping(Ping {
            seq: 1,
            state: standby(),
            extensions: *ext,
        }),
    };
    let mut wire = [0u8; MAX_FRAME_LEN];
    let n = encode(&frame, &mut wire).expect("fits");
    let mut raw = vec![0u8; n];
    let len = cobs::decode(&wire[1..n - 1], &mut raw)
        .unwrap()
        .frame_size();
    raw[HEADER_LEN + HEAD.len()..len - CRC_LEN].to_vec()
}
