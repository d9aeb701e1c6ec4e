//! The control interface with the real `twinbeat` binary and real PostgreSQL 15: a
//! node persisted as primary whose PostgreSQL came up read-only under the start guard,
//! with no peer at all, holds (rule `hold-needs-evidence`) until the operator runs
//! `twinbeat resume --force-primary`. The engine refuses it while `startup_grace`
//! runs; the control socket refuses a user who is neither root nor in
//! `control.group`, whether its mode keeps that user out or was loosened by hand; then
//! root's release re-opens the database and the node serves as primary.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use twinbeat_lab::cmd::{output_within, poll};
use twinbeat_lab::daemon::{write_persisted_state, Control, Service};
use twinbeat_lab::lone::LoneNode;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

const BIN: &str = env!("CARGO_BIN_EXE_twinbeat");
/// `nobody` on Debian: a real user that is neither root nor in [`GROUP`].
const NOBODY: u32 = 65534;
/// `control.group`: a group every Debian has, and `nobody` is not in.
const GROUP: &str = "adm";
/// Long enough that the first `resume` comes while it runs.
const GRACE: &str = "15s";

/// `twinbeat resume --force-primary --config <config>`, as root or (`as_nobody`) as
/// `nobody` with no supplementary groups.
fn resume(config: &Path, as_nobody: bool) -> Output {
    operator(config, as_nobody, &["resume", "--force-primary"])
}

/// `twinbeat <args> --config <config>`, as root or (`as_nobody`) as `nobody` with no
/// supplementary groups.
fn operator(config: &Path, as_nobody: bool, args: &[&str]) -> Output {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={NOBODY}"))
            .args(["--clear-groups", "--", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args).arg("--config").arg(config);
    output_within(cmd, Duration::from_secs(30)).expect("twinbeat runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_held_primary_serves_again_only_on_roots_release_after_the_grace() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    // The postmaster this test restarts must be reaped by it.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    // What the start guard leaves behind on a primary: a start the daemon did not order
    // (here an operator's restart) comes up in recovery, read-only.
    db.files().write_owned("standby.signal", "").unwrap();
    db.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"])
        .unwrap();
    assert_eq!(db.query("SELECT pg_is_in_recovery()").unwrap(), "t");

    let net = LoneNode::new(Path::new(BIN)).expect("the node's namespaces");
    let sock = db.sock_dir().display().to_string();
    let mut cfg = net.daemon_config(
        (&sock, db.port()),
        Service::pg_ctl(db.data()),
        GRACE,
        net.vip(),
    );
    cfg.control = Some(Control {
        group: Some(GROUP.into()),
    });
    let config = net.write_config(&cfg).unwrap();
    write_persisted_state(
        &net.state_dir(),
        "primary",
        1,
        "test: primary before the restart",
    )
    .unwrap();
    // `nobody` must read the configuration and reach the state directory to get as far
    // as the socket: the kit makes them root's alone.
    chmod(net.dir(), 0o755);
    chmod(&config, 0o644);
    chmod(&net.state_dir(), 0o755);
    let socket = net.state_dir().join("twinbeat.sock");

    let child = net.spawn(&config, &[]).unwrap();
    let log = || net.log_text();
    let held = poll(Duration::from_secs(30), || {
        net.status_json(&config).filter(|s| s["role"] == "hold")
    });
    let held = held.unwrap_or_else(|| panic!("never held\n{}", log()));
    assert_eq!(held["hold_releasable"], false, "{held}");
    assert!(socket.exists(), "no control socket\n{}", log());

    // 1. While the grace runs evidence may still come: the engine refuses.
    let early = resume(&config, false);
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    assert!(
        String::from_utf8_lossy(&early.stderr)
            .contains("refused: startup_grace has not passed yet; evidence may still arrive"),
        "{}",
        text(&early)
    );

    // The grace passes with nothing heard: the hold now waits for the operator.
    let waiting = poll(Duration::from_secs(60), || {
        net.status_json(&config)
            .filter(|s| s["role"] == "hold" && s["hold_releasable"] == true)
    });
    assert!(
        waiting.is_some(),
        "the hold never waited for the operator\n{}",
        log()
    );

    // 2. A user neither root nor in the group: the socket's mode (0660, group adm)
    // keeps it out...
    let kept_out = resume(&config, true);
    assert_eq!(kept_out.status.code(), Some(2), "{}", text(&kept_out));
    let stderr = String::from_utf8_lossy(&kept_out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "refused: uid {NOBODY} cannot open the control socket"
        )),
        "{}",
        text(&kept_out)
    );
    assert!(
        stderr.contains(&format!("group {GROUP}")),
        "{}",
        text(&kept_out)
    );
    // ...and with the mode loosened by hand, its credentials (SO_PEERCRED) do.
    chmod(&socket, 0o666);
    let refused = resume(&config, true);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        format!("refused: uid {NOBODY} is not root and not in group {GROUP}"),
        "{}",
        text(&refused)
    );
    assert!(
        log().contains(&format!("control: refused uid {NOBODY} gid {NOBODY}")),
        "the refusal is not logged\n{}",
        log()
    );
    // A rejoin changes the pair as much: refused to that user the same way.
    let rejoin = operator(&config, true, &["rejoin", "--wait", "0"]);
    assert_eq!(rejoin.status.code(), Some(2), "{}", text(&rejoin));
    assert_eq!(
        String::from_utf8_lossy(&rejoin.stderr).trim(),
        format!("refused: uid {NOBODY} is not root and not in group {GROUP}"),
        "{}",
        text(&rejoin)
    );
    // Root's: the engine refuses it on a node that is not fenced, and says why.
    let not_fenced = operator(&config, false, &["rejoin", "--wait", "0"]);
    assert_eq!(not_fenced.status.code(), Some(1), "{}", text(&not_fenced));
    assert_eq!(
        String::from_utf8_lossy(&not_fenced.stderr).trim(),
        "refused: only a fenced node rejoins; this node is hold",
        "{}",
        text(&not_fenced)
    );
    // `resume` without --force-primary ends a maintenance pause; it never
    // releases a hold.
    let not_paused = operator(&config, false, &["resume"]);
    assert_eq!(not_paused.status.code(), Some(1), "{}", text(&not_paused));
    assert_eq!(
        String::from_utf8_lossy(&not_paused.stderr).trim(),
        "refused: the pair is not paused on this node",
        "{}",
        text(&not_paused)
    );
    let still = net.status_json(&config).unwrap_or_default();
    assert_eq!(still["role"], "hold", "{still}");

    // 3. Root's release: the engine re-opens the database in the same term.
    let released = resume(&config, false);
    assert_eq!(
        released.status.code(),
        Some(0),
        "{}\n{}",
        text(&released),
        log()
    );
    assert_eq!(
        String::from_utf8_lossy(&released.stdout).trim(),
        "hold released: now promoting in term 1",
        "{}",
        text(&released)
    );
    let serving = poll(Duration::from_secs(30), || {
        net.status_json(&config)
            .filter(|s| s["role"] == "primary" && s["vip"]["holder"] == "this node")
    });
    let serving = serving.unwrap_or_else(|| panic!("never primary after the release\n{}", log()));
    assert_eq!(serving["term"], 1, "{serving}");
    assert_eq!(serving["hold_releasable"], false, "{serving}");
    assert_eq!(db.query("SELECT pg_is_in_recovery()").unwrap(), "f");
    db.query("CREATE TABLE after_release (x int)").unwrap();
    let persisted = net.wait_persisted("primary", Duration::from_secs(10));
    assert_eq!(
        persisted.map(|p| p["term"].clone()),
        Some(1.into()),
        "{}",
        log()
    );
    assert!(log().contains("operator (uid 0 gid 0"), "{}", log());

    // A clean exit removes the socket.
    let code = child.stop();
    assert_eq!(code, Some(0), "{}", log());
    assert!(!socket.exists(), "the socket outlived the daemon");
    for line in log()
        .lines()
        .filter(|l| l.contains("control") || l.contains("operator") || l.contains("Hold"))
    {
        eprintln!("log: {line}");
    }
}
