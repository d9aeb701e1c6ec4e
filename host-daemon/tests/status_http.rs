//! `twinbeat status` (the real binary) against the `/status` document of
//! `tests/data/status_snapshot.json` (the status server's own tests check it is the
//! document the server serves for that snapshot), served here over real TCP; and
//! against no daemon at all.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

/// The known snapshot, as the daemon serves it on `/status`.
fn known() -> serde_json::Value {
    serde_json::from_str(include_str!("data/status_snapshot.json")).unwrap()
}

/// Serves `doc` as the answer to the next `requests` HTTP requests on a loopback port;
/// returns the base URL.
fn serve_status(doc: serde_json::Value, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = serde_json::to_string(&doc).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            assert!(request_line.starts_with("GET /status "), "{request_line}");
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    url
}

#[test]
fn status_shows_the_daemons_snapshot_as_a_table_and_as_json() {
    let mut doc = known();
    doc["role"] = "primary".into();
    let url = serve_status(doc, 2);
    let table = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["status", "--url", &url])
        .output()
        .unwrap();
    let json = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["status", "--json", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let table = String::from_utf8(table.stdout).unwrap();
    for needle in [
        "pair-1",
        "primary",
        "serial",
        "down",
        "0.125 ms",
        "ALARM     warning: the serial device is missing (x2)",
        // Both nodes side by side, the peer by its configured name.
        "a (this node)",
        "b (300 ms ago)",
        "decision  standby (4 s ago): the peer was heard and does not win",
        "bridge    alive  up 100s  heard A 20 ms ago  heard B never  dropped 3",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    assert_eq!(json.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["role"], "primary");
    assert_eq!(doc["paths"], known()["paths"]);
}

#[test]
fn status_of_an_absent_daemon_exits_3() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["status", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not reachable"));
}

#[test]
fn a_hold_that_waits_for_the_operator_says_how_to_release_it() {
    let mut doc = known();
    doc["role"] = "hold".into();
    doc["hold_releasable"] = true.into();
    let url = serve_status(doc, 1);
    let out = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["status", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("hold      waits for the operator")
            && table.contains("twinbeat resume --force-primary"),
        "{table}"
    );
}
