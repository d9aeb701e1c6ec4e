//! The status server over real TCP: `/status` and `/metrics`; the snapshot it serves is
//! the one `tests/data/status_snapshot.json` holds (the document `tests/status_http.rs`
//! serves to the real `twinbeat status`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    fetch, serve, AlarmStatus, BridgeStatus, DecisionStatus, HandoverStatus, PathStatus,
    PeerDbStatus, PeerStatus, ReplicationStatus, SerialCounters, Shared, SlotStatus,
    StatusSnapshot, SyncStatus, Target, VipStatus,
};
use crate::metrics::{AlarmLabel, DropReason, ReasonLabel};

/// The snapshot the `twinbeat status` tests show, in the form the daemon serves it.
const KNOWN_JSON: &str = include_str!("../../tests/data/status_snapshot.json");

fn known() -> StatusSnapshot {
    StatusSnapshot {
        node: "a".into(),
        cluster: "pair-1".into(),
        role: "standby".into(),
        term: 4,
        fenced: false,
        hold_releasable: false,
        rejoin: None,
        switchover: None,
        maintenance: None,
        last_failover: None,
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
            node: "b".into(),
            node_number: 3_876_335_077,
            role: "primary".into(),
            term: 4,
            fenced: false,
            db_healthy: true,
            gateway_up: true,
            wal_lsn: "0/3000060".into(),
            age_ms: 300,
        }),
        replication: ReplicationStatus {
            lag_bytes: Some(2_000_000),
            standby_too_far_behind: true,
            promoted_by_hand: false,
            peer_promoted_by_hand: false,
            peer_db: Some(PeerDbStatus {
                in_recovery: false,
                term: Some(4),
                timeline: 3,
                age_ms: 12,
            }),
            handover: Some(HandoverStatus {
                state: "answered".into(),
                lsn: 42,
                verdict: Some("lag_too_high".into()),
            }),
            slot: Some(SlotStatus {
                name: "b".into(),
                active: true,
                retained_bytes: 16384,
            }),
            sync: SyncStatus {
                mode: "strict".into(),
                synchronous: false,
                since_lsn: Some("0/3000060".into()),
                standby_named: Some(true),
                last_degraded_secs_ago: None,
                note: Some("strict: commits wait until the standby streams again".into()),
            },
        },
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
        pair: Some(crate::status::PairStatus {
            fingerprint: "0badcafe".into(),
            peer_fingerprint: "0badcafe".into(),
            agrees: true,
        }),
        alarms: vec![AlarmStatus {
            severity: "warning".into(),
            code: "serial_device_missing".into(),
            text: "the serial device is missing".into(),
            count: 2,
        }],
        decision: Some(DecisionStatus {
            kind: "standby".into(),
            reason: "peer_heard".into(),
            reason_text: "the peer was heard and does not win".into(),
            age_ms: 4200,
        }),
        wal_lsn: "0/3000060".into(),
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

#[test]
fn the_table_shows_the_peer_db_and_the_lag() {
    let table = super::client::render_table(&known());
    assert!(
        table.contains("peer db   WRITABLE  term 4  timeline 3  read 12 ms ago"),
        "{table}"
    );
    assert!(
        table.contains("lag       2000000 bytes  STANDBY TOO FAR BEHIND TO TAKE OVER"),
        "{table}"
    );
    assert!(
        table.contains("slot      b (active) keeps 16384 bytes of WAL"),
        "{table}"
    );
    assert!(
        table.contains(
            "sync      strict: NOT synchronous since 0/3000060\n          strict: commits wait"
        ),
        "{table}"
    );
}

#[tokio::test]
async fn serves_status_and_metrics() {
    let shared = Shared::new(known());
    shared
        .metrics
        .path("icmp")
        .observe(true, 0, Some(Duration::from_micros(125)));
    shared.metrics.path("serial").observe(false, 5, None);
    shared
        .metrics
        .promotions
        .get_or_create(&ReasonLabel {
            reason: "all_paths_down_together",
        })
        .inc();
    shared
        .metrics
        .alarms
        .get_or_create(&AlarmLabel {
            severity: "critical",
            code: "vip_failed",
        })
        .inc();
    shared.metrics.set_role("standby");
    shared.metrics.set_role("primary");
    shared.metrics.last_failover_duration.set(1.25);
    shared.metrics.dropped(DropReason::Corrupt);
    shared.metrics.serial_own_echo.inc();
    shared.metrics.maintenance_paused.set(1);
    shared.metrics.rejoins.inc();
    let server = serve("127.0.0.1:0".parse().unwrap(), shared.clone())
        .await
        .unwrap();
    let addr = server.local_addr;

    let target = Target::from_listen(addr);
    let got = fetch(&target, Duration::from_secs(10)).await.unwrap();
    assert_eq!(got, known());

    let metrics = get(addr, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for needle in [
        "twinbeat_path_up{path=\"icmp\"} 1",
        "twinbeat_path_up{path=\"serial\"} 0",
        "twinbeat_path_consecutive_failures{path=\"serial\"} 5",
        "twinbeat_probe_rtt_seconds_count{path=\"icmp\"} 1",
        "twinbeat_promotions_total{reason=\"all_paths_down_together\"} 1",
        "twinbeat_alarms_total{severity=\"critical\",code=\"vip_failed\"} 1",
        "twinbeat_role{role=\"standby\"} 0",
        "twinbeat_role{role=\"primary\"} 1",
        "twinbeat_last_failover_duration_seconds 1.25",
        "twinbeat_serial_frames_dropped_total{reason=\"corrupt\"} 1",
        "twinbeat_serial_own_echo_total 1",
        "twinbeat_replication_lag_bytes -1",
        "twinbeat_maintenance_paused 1",
        "twinbeat_rejoin_in_progress 0",
        "twinbeat_rejoins_total 1",
        "twinbeat_switchover_in_progress 0",
        "twinbeat_switchovers_total 0",
        "twinbeat_replication_synchronous 0",
        "twinbeat_replication_degraded_seconds_ago -1",
        "twinbeat_replication_slot_retained_bytes -1",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?} in\n{metrics}");
    }
    let missing = get(addr, "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    // Updates show up on the next request.
    shared.update(|s| s.role = "primary".into());
    let got = fetch(&target, Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.role, "primary");

    server.task.abort();
}

/// The metric names `/metrics` exposes (`# TYPE` lines), with the suffixes Prometheus
/// adds to a counter's samples.
fn exported_metric_names() -> Vec<String> {
    Shared::new(StatusSnapshot::default())
        .metrics
        .encode()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_is_documented_and_every_alert_uses_real_metrics() {
    let names = exported_metric_names();
    assert!(names.len() > 20, "{names:?}");
    let readme = include_str!("../../README.md");
    for name in &names {
        // Counters are documented by their samples' name.
        let documented =
            readme.contains(&format!("`{name}`")) || readme.contains(&format!("`{name}_total`"));
        assert!(
            documented,
            "{name} is not in host-daemon/README.md, \"Metrics\""
        );
    }
    let alerts = include_str!("../../dist/prometheus-alerts.yml");
    for used in alerts
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("twinbeat_"))
    {
        let known = names.iter().any(|n| {
            used == n
                || used == format!("{n}_total")
                || ["_bucket", "_count", "_sum"]
                    .iter()
                    .any(|s| used == format!("{n}{s}"))
        });
        assert!(
            known,
            "the alert rules use {used}, which the daemon does not export"
        );
    }
}

#[test]
fn the_known_snapshot_is_the_document_the_cli_tests_serve() {
    let served: serde_json::Value = serde_json::from_str(KNOWN_JSON).unwrap();
    assert_eq!(serde_json::to_value(known()).unwrap(), served);
    let parsed: StatusSnapshot = serde_json::from_str(KNOWN_JSON).unwrap();
    assert_eq!(parsed, known());
}
