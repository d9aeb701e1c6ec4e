//! The command line of the real binary: help, exit codes, the two example files.

use std::process::{Command, Output};

fn twinbeat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twinbeat"))
        .args(args)
        .env_remove("TWINBEAT_PG_PASSWORD")
        .output()
        .unwrap()
}

fn dist(name: &str) -> String {
    format!("{}/dist/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_on_every_command_documents_exit_codes() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["check-config", "--help"],
        &["status", "--help"],
        &["resume", "--help"],
    ] {
        let out = twinbeat(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Exit codes"), "{args:?}: {text}");
        assert!(text.contains("3  `status`"), "{args:?}: {text}");
    }
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(twinbeat(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        twinbeat(&["status", "--url", "ftp://x"]).status.code(),
        Some(2)
    );
    let out = twinbeat(&["check-config", "--config", "/nonexistent/twinbeat.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/twinbeat.toml"));
}

#[test]
fn the_contract_example_parses_and_prints_every_default() {
    let out = twinbeat(&["check-config", "--config", &dist("twinbeat.example.toml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "cluster_id = \"pair-1\"",
        "node_id = \"a\"",
        "role = \"auto\"",
        "password_file = \"/etc/twinbeat/pgpass\"",
        "manager = \"pg_ctl\"",
        "[checks.icmp]\ninterval = \"1ms\"\ntimeout = \"100ms\"\nretries = 5\nttl = 64",
        "address = \"10.0.0.100/24\"",
        "interface = \"eth0\"",
        // "auto" resolved: twice the slowest path's retries × timeout (5 × 200ms).
        "failure_window = \"2s\"",
        "max_lag_on_failover = \"1MiB\"",
        "arp_probe_timeout = \"150ms\"",
        "listen = \"127.0.0.1:8432\"",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // The printed configuration is itself a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("effective.toml");
    std::fs::write(&again, &text).unwrap();
    let out2 = twinbeat(&["check-config", "--config", again.to_str().unwrap()]);
    assert_eq!(out2.status.code(), Some(0));
    // Same settings; only the note that "auto" was resolved is gone.
    let settings = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        settings(&String::from_utf8(out2.stdout).unwrap()),
        settings(&text)
    );
}

#[test]
fn the_notes_flat_file_is_accepted_with_a_loud_warning() {
    let out = twinbeat(&["check-config", "--config", &dist("notes-flat.json")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "cluster_id = \"172.31.148.155\"",
        "port = 5433",
        "dbname = \"recordings\"",
        "password = \"<redacted>\"",
        "db_port = 5434",
        "address = \"localhost\"",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("\"pass\""), "password leaked:\n{text}");
    assert!(
        stderr.contains("dbrmthost (peer.address)") && stderr.contains("LOUD WARNING"),
        "{stderr}"
    );
    // `run` refuses it: the role is not pinned and the peer is this host.
    let out = twinbeat(&["run", "--config", &dist("notes-flat.json")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_world_readable_file_with_a_password_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.json");
    std::fs::copy(dist("notes-flat.json"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = twinbeat(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("readable by group or others"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = twinbeat(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("readable by group or others"));
}
