//! sd-notify against a NOTIFY_SOCKET the test listens on (systemd is not PID 1 here).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use twinbeat::actions::notify;

#[test]
fn ready_watchdog_status_stopping_reach_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The only test in this binary: setting the environment is race-free.
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
