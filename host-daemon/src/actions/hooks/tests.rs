//! Hooks run as real `sh -c` commands: the environment they get, their output and exit
//! status, and the bound that kills them with what they started.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::{load_str, HostChecks, HostFacts};

fn config(hooks: &str) -> Config {
    let text = format!(
        "cluster_id = \"pair-1\"\nnode_id = \"a\"\n[vip]\naddress = \"10.9.8.100/24\"\ninterface = \"lo\"\n[peer]\naddress = \"10.9.8.2\"\nnode_id = \"b\"\n[checks.gateway]\naddress = \"10.9.8.1\"\n[hooks]\n{hooks}"
    );
    load_str(
        Path::new("hooks.toml"),
        &text,
        &HostFacts::from_system(),
        HostChecks::Warn,
        None,
    )
    .expect("the configuration loads")
    .config
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits (bounded) for `path` to hold a complete line.
async fn written(path: &Path) -> String {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with("END\n") {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} was not written", path.display());
}

#[test]
fn a_role_change_hook_gets_the_event_and_the_pair_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let cfg = config(&format!(
        "on_role_change = \"env | grep ^TWINBEAT_ | sort > {}; echo END >> {}\"\n",
        out.display(),
        out.display()
    ));
    runtime().block_on(async {
        let hooks = Hooks::start(&cfg);
        hooks.fire(HookEvent::RoleChange {
            from: "standby",
            to: "promoting",
            term: 3,
            reason: "all_paths_down_together",
            reason_text: "every peer path went down",
        });
        // No hook for fences is configured: nothing runs for one.
        hooks.fire(HookEvent::Fence {
            role: "primary",
            term: 3,
            reason: "own_gateway_down",
            reason_text: "lost".into(),
        });
        let env = written(&out).await;
        for line in [
            "TWINBEAT_CLUSTER=pair-1",
            "TWINBEAT_EVENT=role_change",
            "TWINBEAT_NODE=a",
            "TWINBEAT_PEER=b",
            "TWINBEAT_PREVIOUS_ROLE=standby",
            "TWINBEAT_REASON=all_paths_down_together",
            "TWINBEAT_REASON_TEXT=every peer path went down",
            "TWINBEAT_ROLE=promoting",
            "TWINBEAT_TERM=3",
        ] {
            assert!(env.lines().any(|l| l == line), "{line} missing in\n{env}");
        }
        assert!(!env.contains("own_gateway_down"), "{env}");
    });
}

#[test]
fn a_hooks_exit_status_and_output_are_reported() {
    runtime().block_on(async {
        let run = Run {
            command: "echo hello; echo oops >&2; exit 3".into(),
            env: Vec::new(),
        };
        let outcome = run_bounded(&run, Duration::from_secs(10)).await.unwrap();
        assert_eq!(outcome.status.code(), Some(3));
        assert_eq!(outcome.stdout, "hello\n");
        assert_eq!(outcome.stderr, "oops\n");
        assert_eq!(
            outcome.output_suffix(),
            "; stdout: \"hello\"; stderr: \"oops\""
        );
    });
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    runtime().block_on(async {
        let run = Run {
            command: format!("sleep 60 & echo $! > {}; wait", pid_file.display()),
            env: Vec::new(),
        };
        let why = run_bounded(&run, Duration::from_millis(300))
            .await
            .err()
            .expect("killed");
        assert!(why.contains("killed after"), "{why}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc_dir = Path::new("/proc").join(pid.trim());
        let mut gone = false;
        for _ in 0..200 {
            // Killed, then reaped by init (a zombie still has its /proc entry briefly).
            let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            if state.is_empty() || state.contains(") Z ") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone, "the hook's background sleep {} lives on", pid.trim());
    });
}

#[test]
fn firing_never_waits_for_a_slow_hook() {
    let cfg = config("on_alarm = \"sleep 60\"\ntimeout = \"60s\"\n");
    runtime().block_on(async {
        let hooks = Hooks::start(&cfg);
        // More than the queue holds, while the first run sleeps: each call returns (the
        // runs past the queue's room are dropped with a warning).
        for _ in 0..(QUEUE + 8) {
            hooks.fire(HookEvent::Alarm {
                role: "primary",
                term: 1,
                severity: "warning",
                reason: "peer_config_differs".into(),
                reason_text: "the peer's settings differ".into(),
            });
        }
    });
}
