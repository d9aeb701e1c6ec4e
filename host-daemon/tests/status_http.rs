//! The status server over real TCP: `/status` and `/metrics`, and `twinbeat status`
//! (the real binary) against it.

use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twinbeat::status::{
    self, BridgeStatus, PathStatus, PeerStatus, SerialCounters, Shared, StatusSnapshot, VipStatus,
};

fn known() -> StatusSnapshot {
    StatusSnapshot {
        node: "a".into(),
        cluster: "pair-1".into(),
        role: "standby".into(),
        term: 4,
        fenced: false,
        uptime_secs: 42,
        paths: vec![
            PathStatus {
                name: "icmp".into(),
                state: "up".into(),
                consecutive_failures: 0,
                last_rtt_ms: Some(0.125),
            },
            PathStatus {
                name: "serial".into(),
                state: "down".into(),
                consecutive_failures: 5,
                last_rtt_ms: None,
            },
        ],
        local_db: "healthy (in recovery)".into(),
        start_guard: "armed".into(),
        vip: VipStatus {
            address: "10.0.0.100/24".into(),
            holder: "peer".into(),
        },
        peer: Some(PeerStatus {
            node: "2".into(),
            role: "primary".into(),
            term: 4,
            fenced: false,
            age_ms: 300,
        }),
        serial: SerialCounters {
            sent: 10,
            received: 9,
            corrupt: 1,
            ..SerialCounters::default()
        },
        bridge_state: "alive".into(),
        serial_down_cause: None,
        bridge: Some(BridgeStatus {
            report_age_ms: 120,
            uptime_secs: 100,
            heard_a_ms_ago: Some(20),
            heard_b_ms_ago: None,
            dropped: 3,
        }),
        alarms: vec!["warning: SerialDeviceMissing".into()],
        persisted: None,
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn serves_status_and_metrics() {
    let shared = Shared::new(known());
    shared
        .metrics
        .observe_probe("icmp", true, 0, Some(Duration::from_micros(125)));
    shared.metrics.observe_probe("serial", false, 5, None);
    shared.metrics.promotions.inc();
    shared
        .metrics
        .dropped(twinbeat::metrics::DropReason::Corrupt);
    let server = status::serve("127.0.0.1:0".parse().unwrap(), shared.clone())
        .await
        .unwrap();
    let addr = server.local_addr;

    let target = status::Target::from_listen(addr);
    let got = status::fetch(&target, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(got, known());

    let metrics = get(addr, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for needle in [
        "twinbeat_path_up{path=\"icmp\"} 1",
        "twinbeat_path_up{path=\"serial\"} 0",
        "twinbeat_path_consecutive_failures{path=\"serial\"} 5",
        "twinbeat_probe_rtt_seconds_count{path=\"icmp\"} 1",
        "twinbeat_promotions_total 1",
        "twinbeat_fences_total 0",
        "twinbeat_serial_frames_dropped_total{reason=\"Corrupt\"} 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?} in\n{metrics}");
    }
    let missing = get(addr, "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    // Updates show up on the next request.
    shared.update(|s| s.role = "primary".into());
    let got = status::fetch(&target, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(got.role, "primary");

    // The real CLI, as a table and as JSON (it blocks, so off the runtime's thread).
    let url = format!("http://{addr}");
    let (table, json) = tokio::task::spawn_blocking(move || {
        let t = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
            .args(["status", "--url", &url])
            .output()
            .unwrap();
        let j = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
            .args(["status", "--json", "--url", &url])
            .output()
            .unwrap();
        (t, j)
    })
    .await
    .unwrap();
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let table = String::from_utf8(table.stdout).unwrap();
    for needle in [
        "pair-1",
        "primary",
        "serial",
        "down",
        "0.125 ms",
        "ALARM",
        "bridge    alive  up 100s  heard A 20 ms ago  heard B never  dropped 3",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    assert_eq!(json.status.code(), Some(0));
    let doc: StatusSnapshot = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc.role, "primary");
    assert_eq!(doc.paths, known().paths);
    server.task.abort();
}

#[test]
fn status_of_an_absent_daemon_exits_3() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
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
