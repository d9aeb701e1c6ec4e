//! Golden vectors, sizes and hand-made error cases.

mod common;

use common::{encoded, events, Event};
use twinbeat_protocol::vectors::{ALL, TWINBEAT};
use twinbeat_protocol::*;

#[test]
fn golden_vectors_encode_and_decode_exactly() {
    assert!(ALL.len() >= 8);
    for v in ALL {
        if v.canonical {
            let mut out = [0u8; MAX_FRAME_LEN];
            let n = encode_as(&v.frame, v.version, &mut out).expect("fits");
            assert_eq!(&out[..n], v.encoded, "encoding of {}", v.name);
        }
        if v.version == WireVersion::CURRENT && v.canonical {
            assert_eq!(encoded(&v.frame), v.encoded, "encoding of {}", v.name);
        }
        let (got, d) = events([v.encoded], ClusterFilter::Only(v.frame.cluster));
        let raw = v.encoded[1..v.encoded.len() - 1].to_vec();
        assert_eq!(
            got,
            vec![Event::Frame(v.frame, v.version, raw)],
            "decoding of {}",
            v.name
        );
        assert_eq!(d.counters().frames_ok, 1);
        assert_eq!(d.counters().errors(), 0);
    }
}

#[test]
fn wire_md_lists_the_golden_vectors_exactly() {
    let wire_md = include_str!("../WIRE.md");
    let hex_block = wire_md
        .split("Encodings in hex, delimiters included:")
        .nth(1)
        .and_then(|after| after.split("```").nth(1))
        .expect("WIRE.md has the hex block");
    // A name line ("ping_standby:"), then its bytes on indented lines.
    let mut listed: Vec<(String, Vec<u8>)> = Vec::new();
    for line in hex_block.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(name) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            listed.push((name.to_string(), Vec::new()));
            continue;
        }
        let (_, bytes) = listed.last_mut().expect("a name before the bytes");
        bytes.extend(
            line.split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).expect("hex byte")),
        );
    }
    let exported: Vec<(String, Vec<u8>)> = ALL
        .iter()
        .map(|v| (v.name.to_string(), v.encoded.to_vec()))
        .collect();
    assert_eq!(listed, exported);
    for v in ALL {
        let row = format!("| `{}` | {} |", v.name, v.encoded.len());
        assert!(wire_md.contains(&row), "WIRE.md lacks the row {row}");
    }
}

#[test]
fn cluster_id_is_crc32c_of_the_name() {
    // The CRC-32C check value from the catalogue pins the algorithm.
    assert_eq!(ClusterId::from_name("123456789"), ClusterId(0xE306_9283));
    assert_eq!(ClusterId::from_name("twinbeat"), TWINBEAT);
}

#[test]
fn sizes_meet_the_goals() {
    let size = |name: &str| ALL.iter().find(|v| v.name == name).unwrap().encoded.len();
    // Realistic pings and acks fit 32 bytes on the wire, delimiters included.
    for name in [
        "ping_standby",
        "ack_primary",
        "ping_month_uptime",
        "ping_fenced",
        "ack_hold_zero",
        "ping_promoting",
        "ping_echo",
        "ack_leaving",
        "ping_standby_v2",
    ] {
        assert!(size(name) <= 32, "{name} is {} bytes", size(name));
    }
    // A version-3 frame without extensions is as long as its version-2 form.
    assert_eq!(size("ping_standby"), size("ping_standby_v2"));
    // The typical heartbeat: the routine ping and the echoed sequence, 3 B more.
    assert_eq!(size("ping_echo"), 27);
    assert_eq!(size("ping_every_extension"), 152);
    assert_eq!(size("ping_max"), MAX_FRAME_LEN);

    // WIRE.md's "long run" row: seq < 2^28, term < 128, LSN < 2^42 take 29 bytes.
    let long_run = Frame {
        cluster: TWINBEAT,
        sender: NodeId(1),
        message: Message::Ping(Ping {
            seq: (1 << 28) - 1,
            state: NodeState {
                role: Role::Primary,
                term: 127,
                fenced: true,
                db_healthy: true,
                gateway_up: true,
                wal_lsn: (1 << 42) - 1,
            },
            extensions: Extensions::NONE,
        }),
    };
    assert_eq!(encoded(&long_run).len(), 29);
    // The same with the peer's seq (also < 2^28) echoed: WIRE.md's 35.
    let Message::Ping(mut ping) = long_run.message else {
        unreachable!()
    };
    ping.extensions.echoed_seq = Some((1 << 28) - 1);
    let long_run_echo = Frame {
        message: Message::Ping(ping),
        ..long_run
    };
    assert_eq!(encoded(&long_run_echo).len(), 35);
    let widest_status = Frame {
        cluster: TWINBEAT,
        sender: NodeId::BRIDGE,
        message: Message::BridgeStatus(BridgeStatus {
            uptime_ms: u32::MAX,
            since_a_ms: Some(u32::MAX),
            since_b_ms: Some(u32::MAX),
            frames_dropped: u32::MAX,
            to_side: Side::B,
        }),
    };
    assert_eq!(encoded(&widest_status).len(), 40);
    assert_eq!(MAX_FRAME_LEN, 171);
    for v in ALL {
        assert!(v.encoded.len() <= MAX_FRAME_LEN);
    }
}

#[test]
fn encode_reports_a_short_buffer() {
    let frame = ALL[0].frame;
    let mut out = [0u8; MAX_FRAME_LEN];
    let needed = match encode(&frame, &mut out[..5]) {
        Err(EncodeError::BufferTooSmall { needed }) => needed,
        other => panic!("{other:?}"),
    };
    assert!(needed <= MAX_FRAME_LEN);
    assert!(encode(&frame, &mut out[..needed]).is_ok());
    assert!(encode(&frame, &mut []).is_err());
}

/// Builds `0x00 · COBS(bytes with a valid CRC appended) · 0x00`, for frames the
/// encoder would never produce.
fn forge(unstuffed: &[u8]) -> Vec<u8> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(unstuffed);
    let mut raw = unstuffed.to_vec();
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut out = vec![0u8; cobs::max_encoding_length(raw.len()) + 2];
    let n = cobs::encode(&raw, &mut out[1..]);
    out.truncate(n + 2);
    out
}

fn header(version: u8, kind: u8, cluster: u32) -> Vec<u8> {
    let mut h = vec![version, kind];
    h.extend_from_slice(&cluster.to_le_bytes());
    h.extend_from_slice(&7u32.to_le_bytes());
    h
}

fn only_error(bytes: &[u8], filter: ClusterFilter) -> DecodeError {
    match events([bytes], filter).0.as_slice() {
        [Event::Error(e)] => *e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_error_kind_is_reported_and_counted() {
    let any = ClusterFilter::Any;
    let good = ALL[0].encoded;
    let body = &{
        let mut raw = vec![0u8; good.len()];
        let n = cobs::decode(&good[1..good.len() - 1], &mut raw)
            .unwrap()
            .frame_size();
        raw.truncate(n - CRC_LEN);
        raw
    }[HEADER_LEN..];

    let mut bad_crc = good.to_vec();
    bad_crc[12] ^= 0x40;
    assert_eq!(only_error(&bad_crc, any), DecodeError::BadCrc);
    // A code byte pointing past the end of the frame is not COBS.
    assert_eq!(only_error(&[0, 9, 1, 2, 0], any), DecodeError::BadCobs);
    assert_eq!(only_error(&forge(&[1, 1, 0]), any), DecodeError::TooShort);
    // Version 1 (role and flags as four fields) is not spoken any more.
    let unknown_version = forge(&[header(1, 1, TWINBEAT.0), body.to_vec()].concat());
    assert_eq!(
        only_error(&unknown_version, any),
        DecodeError::UnknownVersion(1)
    );
    let next_version = forge(&[header(4, 1, TWINBEAT.0), body.to_vec()].concat());
    assert_eq!(
        only_error(&next_version, any),
        DecodeError::UnknownVersion(4)
    );
    let unknown_kind = forge(&[header(VERSION, 9, TWINBEAT.0), body.to_vec()].concat());
    assert_eq!(only_error(&unknown_kind, any), DecodeError::UnknownKind(9));
    let malformed = forge(&[header(VERSION, 1, TWINBEAT.0), vec![1, 9]].concat());
    assert_eq!(only_error(&malformed, any), DecodeError::Malformed);
    // seq 1, a state byte with bit 5 set (undefined), term 0, WAL 0.
    let undefined_flag = forge(&[header(VERSION, 1, TWINBEAT.0), vec![1, 0x20, 0, 0]].concat());
    assert_eq!(only_error(&undefined_flag, any), DecodeError::Malformed);
    // Only version 2 has trailing bytes: in version 3 they are the tail.
    let trailing = forge(&[header(2, 1, TWINBEAT.0), body.to_vec(), vec![0]].concat());
    assert_eq!(only_error(&trailing, any), DecodeError::TrailingBytes);
    let request_with_body = forge(&[header(VERSION, 4, TWINBEAT.0), vec![0]].concat());
    assert_eq!(
        only_error(&request_with_body, any),
        DecodeError::TrailingBytes
    );
    assert_eq!(
        only_error(good, ClusterFilter::Only(ClusterId(5))),
        DecodeError::WrongCluster(TWINBEAT)
    );

    // Over-full: reported once, then everything up to the next 0x00 is dropped.
    let mut long = vec![0u8];
    long.extend(std::iter::repeat_n(0x55, 3 * MAX_FRAME_LEN));
    long.extend_from_slice(good);
    let (got, d) = events([&long[..]], any);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], Event::Error(DecodeError::OverFull));
    assert!(matches!(got[1], Event::Frame(f, _, _) if f == ALL[0].frame));
    assert_eq!(d.counters().over_full, 1);

    let c = {
        let all = [
            &bad_crc[..],
            &[0, 9, 1, 2, 0],
            &forge(&[1, 1, 0]),
            &unknown_version,
            &unknown_kind,
            &malformed,
            &undefined_flag,
            &trailing,
        ];
        *events(all, any).1.counters()
    };
    assert_eq!(
        (c.bad_crc, c.bad_cobs, c.too_short, c.unknown_version),
        (1, 1, 1, 1)
    );
    assert_eq!((c.unknown_kind, c.malformed, c.trailing_bytes), (1, 2, 1));
    assert_eq!((c.errors(), c.frames_ok), (8, 0));
}

#[test]
fn empty_frames_are_skipped_silently() {
    let (got, d) = events([&[0u8, 0, 0, 0][..], &[0, 0]], ClusterFilter::Any);
    assert!(got.is_empty());
    assert_eq!(*d.counters(), Counters::default());
}

#[test]
fn raw_is_forwardable_unchanged() {
    // A bridge forwards `0x00 · raw · 0x00`: the far side decodes the same frame.
    for v in ALL {
        let (got, _) = events([v.encoded], ClusterFilter::Any);
        let Event::Frame(_, _, raw) = &got[0] else {
            panic!()
        };
        let forwarded = [&[0u8][..], raw, &[0]].concat();
        assert_eq!(forwarded, v.encoded);
    }
}
