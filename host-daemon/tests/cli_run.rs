//! `twinbeat run` end to end on this host: the real binary with the real engine, ICMP
//! to loopback, a local DB that is not there, a serial device that does not exist.
//! It must serve its status, report the paths it sees, perform the side effects the
//! engine asks for (here a restart through `restart_command`), and stop cleanly on
//! SIGTERM.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use twinbeat_lab::daemon::{
    http_get_at, Checks, DaemonConfig, Gateway, Icmp, LocalDb, Peer, Serial, Service, Status,
    Timing, Vip,
};
use twinbeat_lab::netns::free_local_port;

/// A host address in the subnet of this host's first non-loopback IPv4 interface,
/// other than the host's own: `run` insists that the VIP is in a local subnet.
fn vip_in_a_local_subnet() -> Option<String> {
    let ifs = if_addrs::get_if_addrs().ok()?;
    ifs.iter().find_map(|i| match &i.addr {
        if_addrs::IfAddr::V4(a) if !a.ip.is_loopback() && a.prefixlen <= 30 => {
            let own = u32::from(a.ip);
            let mask = u32::MAX << (32 - a.prefixlen);
            let broadcast = (own & mask) | !mask;
            let mut vip = broadcast - 1;
            if vip == own {
                vip -= 1;
            }
            Some(format!("{}/{}", Ipv4Addr::from(vip), a.prefixlen))
        }
        _ => None,
    })
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    http_get_at(addr, path).ok()
}

fn path_state(status: &serde_json::Value, name: &str) -> Option<String> {
    status["paths"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["state"].as_str())
        .map(str::to_owned)
}

/// A config for this host; nothing listens on the DB port, so the local DB is down.
fn write_config(dir: &Path, role: &str, vip: &str, status_port: u16) -> PathBuf {
    let db_port = free_local_port();
    let config = DaemonConfig {
        profile: None,
        hooks: None,
        cluster_id: None,
        node_id: "1".into(),
        // Pinned: peer and gateway on loopback are allowed.
        role: Some(role.into()),
        state_dir: dir.to_path_buf(),
        local_db: LocalDb {
            host: "127.0.0.1".into(),
            port: db_port,
            check_interval: Some("200ms".into()),
            timeout: Some("100ms".into()),
            retries: Some(2),
            service: Service::command("true", "true"),
            ..LocalDb::default()
        },
        peer: Peer {
            address: "127.0.0.1".into(),
            node_id: None,
            db_port,
            ..Peer::default()
        },
        checks: Checks {
            icmp: Icmp {
                timing: Timing {
                    interval: Some("100ms".into()),
                    ..Timing::default()
                },
                ttl: None,
            },
            remote_db: None,
            serial: Serial {
                device: dir.join("no-such-tty"),
                ..Serial::default()
            },
            gateway: Gateway {
                address: "127.0.0.2".into(),
                ..Gateway::default()
            },
        },
        vip: Vip {
            address: vip.into(),
            ..Vip::default()
        },
        failover: None,
        fence: None,
        status: Status {
            listen: format!("127.0.0.1:{status_port}"),
        },
        control: None,
        replication: None,
    };
    let path = dir.join("twinbeat.toml");
    config.write(&path, "").unwrap();
    path
}

#[test]
fn run_refuses_a_role_pin_that_postgresql_contradicts() {
    let vip = vip_in_a_local_subnet()
        .expect("this test needs an IPv4 interface other than loopback to put a VIP subnet on");
    let dir = tempfile::tempdir().unwrap();
    // No PostgreSQL answers: the start facts say "in recovery", i.e. a standby.
    let path = write_config(dir.path(), "master", &vip, free_local_port());
    let out = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to start: role is pinned to Master"),
        "{stderr}"
    );
}

#[test]
fn run_serves_status_and_stops_on_sigterm() {
    let vip = vip_in_a_local_subnet()
        .expect("this test needs an IPv4 interface other than loopback to put a VIP subnet on");
    let dir = tempfile::tempdir().unwrap();
    let status_port = free_local_port();
    let path = write_config(dir.path(), "standby", &vip, status_port);
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), status_port);
    // Generous bound: only a hung daemon gets anywhere near it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    let seen = loop {
        if let Some(body) = get(addr, "/status") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let icmp_up = path_state(&v, "icmp").as_deref() == Some("up");
            let db_down = path_state(&v, "local_db").as_deref() == Some("down");
            if icmp_up && db_down {
                break Some(v);
            }
            last = Some(v);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let metrics = get(addr, "/metrics").unwrap_or_default();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let code = child.wait().unwrap().code();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();

    let status =
        seen.unwrap_or_else(|| panic!("never saw icmp up and local_db down: {last:?}\n{stderr}"));
    assert_eq!(status["node"], "1");
    assert_eq!(status["role"], "standby");
    assert_ne!(path_state(&status, "serial").as_deref(), Some("up"));
    assert!(
        metrics.contains("twinbeat_path_up{path=\"icmp\"} 1"),
        "{metrics}"
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("path local_db down"), "{stderr}");
    assert!(stderr.contains("local DB restarted"), "{stderr}");
    assert!(stderr.contains("SIGTERM: shutting down"), "{stderr}");
}
