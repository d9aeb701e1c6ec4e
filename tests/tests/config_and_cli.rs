//! The daemons' configuration files (the daemon's contract format) and the `lab` binary's
//! behaviour without root.

mod common;

use std::process::Command;
use std::time::Duration;

use twinbeat_lab::daemon::Profile;
use twinbeat_lab::netns::Topology;
use twinbeat_lab::pg::PgNode;
use twinbeat_lab::Node;

fn config(profile: Profile, node: Node) -> toml::Value {
    let topo = Topology::new(7);
    let dir = std::path::Path::new("/tmp/tblab/7");
    let pg = PgNode::new(&topo, dir, node);
    let text = profile
        .config(
            &topo,
            &pg,
            &dir.join(format!("{node}.tty")),
            &dir.join(node.name()).join("state"),
            &dir.join("pgpass"),
            false,
        )
        .render()
        .expect("render");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn configs_follow_the_daemon_contract() {
    for profile in [Profile::Default, Profile::Fast] {
        for node in Node::BOTH {
            let c = config(profile, node);
            assert_eq!(c["node_id"].as_str(), Some(node.name()));
            assert_eq!(c["cluster_id"].as_str(), Some("tblab-7"));
            assert_eq!(c["role"].as_str(), Some("auto"));
            let peer = if node == Node::A {
                "10.77.7.12"
            } else {
                "10.77.7.11"
            };
            assert_eq!(c["peer"]["address"].as_str(), Some(peer));
            assert_eq!(
                c["checks"]["gateway"]["address"].as_str(),
                Some("10.77.7.1")
            );
            assert_eq!(c["vip"]["address"].as_str(), Some("10.77.7.100/24"));
            assert_eq!(c["vip"]["interface"].as_str(), Some("eth0"));
            assert_eq!(c["status"]["listen"].as_str(), Some("127.0.0.1:8432"));
            assert_eq!(c["local_db"]["service"]["manager"].as_str(), Some("pg_ctl"));
            let dev = c["checks"]["serial"]["device"].as_str().unwrap_or_default();
            assert!(dev.ends_with(&format!("{node}.tty")), "{dev}");
            // The timings are the daemon's preset of the profile's name, none the lab's
            // own: the daemon owns them (its config tests check each preset's values).
            assert_eq!(c["profile"].as_str(), Some(profile.name()));
            for path in ["icmp", "remote_db", "serial", "gateway"] {
                for setting in ["interval", "timeout", "retries"] {
                    assert!(
                        c["checks"][path].get(setting).is_none(),
                        "{profile:?} {node}: checks.{path}.{setting} set by the lab"
                    );
                }
            }
            assert!(c["local_db"].get("check_interval").is_none());
        }
    }
}

#[test]
fn lab_without_root_says_what_it_needs() {
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_lab"))
        .arg("status")
        .output()
        .expect("run lab as nobody");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root"), "{err}");
    assert!(err.contains("network namespaces"), "{err}");
}

#[test]
fn lab_up_status_down() {
    let _g = twinbeat_lab::exclusive();
    let lab = env!("CARGO_BIN_EXE_lab");
    let up = Command::new(lab)
        .args(["up", "--no-daemons"])
        .output()
        .expect("lab up");
    let text = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        text.contains("primary (writable)") && text.contains("standby (in recovery)"),
        "{text}"
    );
    let id: u8 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("lab ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("lab id");
    // Detached: still there after `up` exited.
    assert_eq!(common::leftover_namespaces(id).len(), 5);
    let st = Command::new(lab)
        .arg("status")
        .output()
        .expect("lab status");
    let st_text = String::from_utf8_lossy(&st.stdout);
    assert!(st_text.contains("left up by `cargo lab up`"), "{st_text}");
    let mut cmd = Command::new(lab);
    cmd.arg("down");
    let down = twinbeat_lab::cmd::output_within(cmd, Duration::from_secs(60)).expect("lab down");
    assert!(down.status.success());
    assert!(common::leftover_namespaces(id).is_empty());
    assert!(!std::path::Path::new(&format!("/tmp/tblab/{id}")).exists());
}
