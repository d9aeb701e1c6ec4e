//! The serial cable: bytes through the relay between the a and b tty ends, under each fault.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use twinbeat_lab::relay::{Dir, RelayCtl};
use twinbeat_lab::{exclusive, Lab, LabOptions};

fn open_tty(ctl: &RelayCtl, end: &str) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
        .open(ctl.tty(end))
        .expect("open tty")
}

/// Reads whatever arrives within `window` (the relay forwards at once; this only bounds it).
fn read_for(f: &mut File, window: Duration) -> Vec<u8> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    out
}

/// Reads until `want` bytes arrived or `deadline` passed.
fn read_n(f: &mut File, want: usize, deadline: Duration) -> Vec<u8> {
    let end = Instant::now() + deadline;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < want && Instant::now() < end {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    out
}

fn relay_lab() -> Lab {
    common::start(LabOptions {
        relay: true,
        ..common::net_opts()
    })
}

#[test]
fn relay_pass_cut_restore_corrupt_drop_delay() {
    let _g = exclusive();
    let lab = relay_lab();
    let ctl = lab.relay().expect("relay").clone();
    let mut a = open_tty(&ctl, "a");
    let mut b = open_tty(&ctl, "b");
    let long = Duration::from_secs(10);

    // Pass-through, both ways, byte for byte.
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    a.write_all(&data).expect("write a");
    assert_eq!(read_n(&mut b, data.len(), long), data);
    b.write_all(b"pong").expect("write b");
    assert_eq!(read_n(&mut a, 4, long), b"pong");

    // Cut: nothing arrives; the relay counts what it swallowed.
    ctl.reset_stats().expect("reset");
    ctl.cut(Dir::Both).expect("cut");
    a.write_all(&[7u8; 100]).expect("write");
    assert!(read_for(&mut b, Duration::from_millis(300)).is_empty());
    let s = ctl.stats().expect("stats");
    assert_eq!(
        (s.ab.bytes_in, s.ab.bytes_cut, s.ab.bytes_out),
        (100, 100, 0)
    );

    // Restore.
    ctl.restore(Dir::Both).expect("restore");
    a.write_all(b"back").expect("write");
    assert_eq!(read_n(&mut b, 4, long), b"back");

    // One direction only.
    ctl.cut(Dir::AtoB).expect("cut ab");
    a.write_all(b"lost").expect("write");
    b.write_all(b"kept").expect("write");
    assert_eq!(read_n(&mut a, 4, long), b"kept");
    assert!(read_for(&mut b, Duration::from_millis(300)).is_empty());
    ctl.pass().expect("pass");

    // Corrupt 10 % (seeded): about 10 % of bytes differ, the count matches the relay's.
    ctl.reset_stats().expect("reset");
    ctl.corrupt(10.0, 42, Dir::AtoB).expect("corrupt");
    let clean = vec![0x55u8; 4000];
    a.write_all(&clean).expect("write");
    let got = read_n(&mut b, clean.len(), long);
    assert_eq!(got.len(), clean.len());
    let differ = got.iter().zip(&clean).filter(|(x, y)| x != y).count() as u64;
    let s = ctl.stats().expect("stats");
    assert_eq!(differ, s.ab.bytes_corrupted);
    assert!(
        (200..=600).contains(&differ),
        "{differ} of 4000 corrupted at 10 %"
    );
    ctl.corrupt(0.0, 0, Dir::AtoB).expect("corrupt off");

    // Drop the first 2 frames (0x00-delimited), then pass the rest.
    ctl.reset_stats().expect("reset");
    ctl.drop_first(2, Dir::AtoB).expect("drop");
    a.write_all(b"\0one\0\0two\0\0three\0").expect("write");
    assert_eq!(read_n(&mut b, 7, long), b"\0three\0");
    let s = ctl.stats().expect("stats");
    assert_eq!(s.ab.frames_dropped, 2);

    // Delay: bytes arrive, later (not asserted as a time: only order and content).
    ctl.delay(Duration::from_millis(200), Dir::AtoB)
        .expect("delay");
    a.write_all(b"slow").expect("write");
    assert_eq!(read_n(&mut b, 4, long), b"slow");
    ctl.pass().expect("pass");
}

#[test]
fn relay_cross_wires_b_to_a_foreign_node() {
    let _g = exclusive();
    let lab = relay_lab();
    let ctl = lab.relay().expect("relay").clone();
    let mut a = open_tty(&ctl, "a");
    let mut b = open_tty(&ctl, "b");
    let mut x = open_tty(&ctl, "x");
    ctl.cross(true).expect("cross");
    x.write_all(b"foreign").expect("write x");
    assert_eq!(read_n(&mut b, 7, Duration::from_secs(10)), b"foreign");
    b.write_all(b"hello").expect("write b");
    assert_eq!(read_n(&mut x, 5, Duration::from_secs(10)), b"hello");
    assert!(
        read_for(&mut a, Duration::from_millis(300)).is_empty(),
        "a hears nothing"
    );
    ctl.cross(false).expect("uncross");
    a.write_all(b"home").expect("write a");
    assert_eq!(read_n(&mut b, 4, Duration::from_secs(10)), b"home");
}
