//! sd-notify against a NOTIFY_SOCKET the test listens on (systemd is not PID 1 here).
//!
//! `NOTIFY_SOCKET` and `WATCHDOG_*` are process-wide and the crate's unit tests share
//! one process (and the driver's tests notify too), so the calls run in a child
//! process of their own: this test binary, filtered to [`in_own_process`].

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use crate::actions::notify;

/// Set in the child process that runs [`in_own_process`].
const CHILD_ENV: &str = "TWINBEAT_NOTIFY_TEST_CHILD";

#[test]
fn ready_watchdog_status_stopping_reach_the_socket() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "actions::notify::tests::in_own_process",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran no test\n{text}");
}

/// Not a test on its own: the body of the child process that
/// `ready_watchdog_status_stopping_reach_the_socket` starts (with `--ignored`).
#[test]
#[ignore = "child process of ready_watchdog_status_stopping_reach_the_socket"]
fn in_own_process() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The only test in this process: setting the environment is race-free.
    std::env::set_var("NOTIFY_SOCKET", &path);
    std::env::set_var("WATCHDOG_USEC", "4000000");
    std::env::set_var("WATCHDOG_PID", std::process::id().to_string());

    let mut buf = [0u8; 4096];
    let mut recv = || {
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    notify::ready("standby, term 3").unwrap();
    let m = recv();
    assert!(m.lines().any(|l| l == "READY=1"), "{m}");
    assert!(m.lines().any(|l| l == "STATUS=standby, term 3"), "{m}");
    notify::watchdog().unwrap();
    assert_eq!(recv().trim(), "WATCHDOG=1");
    notify::status("primary, term 4").unwrap();
    assert_eq!(recv().trim(), "STATUS=primary, term 4");
    notify::stopping().unwrap();
    assert_eq!(recv().trim(), "STOPPING=1");
    assert_eq!(notify::watchdog_period(), Some(Duration::from_secs(2)));

    // Without NOTIFY_SOCKET every call is a no-op, not an error.
    std::env::remove_var("NOTIFY_SOCKET");
    notify::ready("x").unwrap();
}
