//! `dist/twinbeat.service` passes `systemd-analyze verify` (Debian's systemd
//! package). systemd is not PID 1 here, so the unit is verified, not started: a
//! copy whose ExecStart points at the binary cargo just built (verify checks that
//! the executable exists).

use std::process::Command;

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dist/twinbeat.service"
    ))
    .unwrap();
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "ExecStart=/usr/bin/twinbeat run --config /etc/twinbeat/twinbeat.toml",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "KillMode=process",
    ] {
        assert!(unit.contains(needed), "unit lacks {needed}");
    }
    let copy = unit.replace(
        "ExecStart=/usr/bin/twinbeat",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_twinbeat")),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twinbeat.service");
    std::fs::write(&path, copy).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) is required");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed: {stderr}");
    // Unknown keys are only warnings (exit 0): refuse those too.
    let about_unit: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("twinbeat.service"))
        .collect();
    assert!(about_unit.is_empty(), "verify warnings: {about_unit:?}");
}
