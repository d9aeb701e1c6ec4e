//! The control socket for real: a server on a socket in a temporary directory, callers
//! connecting as root (this test process) and as other users (this test binary run
//! again under `setpriv` with another uid, gid and no supplementary groups, filtered to
//! [`client_child`]). The driver's end of the channel is a stand-in that answers with
//! the engine's refusal text (`ReleaseRefused`'s Display); the daemon's binary test
//! (`tests/control_run.rs`) drives the real engine.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use twinbeat_core::ReleaseRefused;
use twinbeat_lab::cmd::output_within;
use twinbeat_lab::rt::runtime;

use super::access::{admits, refusal, Caller, GroupEntry, UserEntry};
use super::server::ControlServer;
use super::*;

/// `nobody`/`nogroup` on Debian: a real unprivileged uid and gid.
const NOBODY: u32 = 65534;
/// A Debian group `nobody` is not in.
const OTHER_GROUP: &str = "adm";
/// The group whose gid is `nobody`'s own.
const NOBODYS_GROUP: &str = "nogroup";

/// Set in the child process that runs [`client_child`]: the socket to call.
const CHILD_SOCKET: &str = "TWINBEAT_CONTROL_TEST_SOCKET";

fn caller(uid: u32, gid: u32) -> Caller {
    Caller {
        uid,
        gid,
        pid: Some(1),
    }
}

#[test]
fn root_is_admitted_and_others_only_through_the_group() {
    let group = GroupEntry {
        gid: 1500,
        members: vec!["alice".into()],
    };
    let user = |name: &str, gid| UserEntry {
        name: name.into(),
        gid,
    };
    // Root, group or none.
    assert!(admits(&caller(0, 0), None, None));
    // The caller's own gid, its user listed as a member, its user's primary group.
    assert!(admits(&caller(1000, 1500), Some(&group), None));
    assert!(admits(
        &caller(1000, 1000),
        Some(&group),
        Some(&user("alice", 1000))
    ));
    assert!(admits(
        &caller(1001, 1001),
        Some(&group),
        Some(&user("carol", 1500))
    ));
    // Anyone else, and anyone at all without a group.
    assert!(!admits(
        &caller(1002, 1002),
        Some(&group),
        Some(&user("bob", 1002))
    ));
    assert!(!admits(&caller(1002, 1002), Some(&group), None));
    assert!(!admits(
        &caller(1000, 1500),
        None,
        Some(&user("alice", 1500))
    ));
    assert_eq!(
        refusal(&caller(1000, 1000), Some("twinbeat-admin")),
        "uid 1000 is not root and not in group twinbeat-admin"
    );
    assert_eq!(
        refusal(&caller(1000, 1000), None),
        "uid 1000 is not root (no control.group is configured)"
    );
}

/// The status a test server answers with.
fn shared() -> std::sync::Arc<crate::status::Shared> {
    crate::status::Shared::new(StatusSnapshot::default())
}

/// A server on `<dir>/twinbeat.sock` whose driver stand-in answers every operation
/// with `answer`; returns the server and the operations' callers and commands, as the
/// driver saw them.
async fn server(
    dir: &Path,
    group: Option<&str>,
    answer: Result<String, String>,
) -> (ControlServer, mpsc::UnboundedReceiver<(String, Command)>) {
    let (tx, mut rx) = mpsc::channel::<Operation>(4);
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(op) = rx.recv().await {
            let _ = seen_tx.send((op.caller, op.command));
            let _ = op.reply.send(answer.clone());
        }
    });
    let server = serve(socket_path(dir), group.map(str::to_owned), tx, shared())
        .await
        .expect("the control socket");
    (server, seen_rx)
}

/// Sends `line` as is and returns the answer line, decoded.
async fn raw(path: &Path, line: &[u8]) -> Response {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(line).await.unwrap();
    s.shutdown().await.unwrap();
    // One line, not to the end: input the server refused unread (too long) makes a
    // read after the answer fail.
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).await.unwrap();
    assert!(
        answer.ends_with('\n') && answer.lines().count() == 1,
        "{answer:?}"
    );
    serde_json::from_str(&answer).unwrap()
}

fn resume() -> Request {
    Request::Resume {
        force_primary: true,
    }
}

#[test]
fn status_is_answered_from_the_snapshot_without_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (_server, mut seen) = server(dir.path(), None, Ok("unused".into())).await;
        let path = socket_path(dir.path());
        let answer = raw(&path, b"{\"command\":\"status\"}\n").await;
        assert!(answer.ok, "{answer:?}");
        assert_eq!(answer.status.as_deref(), Some(&StatusSnapshot::default()));
        // Read only: nothing reached the driver.
        assert!(seen.try_recv().is_err());
    });
}

#[test]
fn root_reaches_the_driver_and_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let released = "hold released: now promoting in term 1".to_owned();
        let (server, mut seen) = server(dir.path(), None, Ok(released.clone())).await;
        let path = socket_path(dir.path());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o660);
        assert_eq!((meta.uid(), meta.gid()), (0, 0));

        let answer = send(&path, &resume(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(answer, Response::done(released));
        let (who, command) = seen.recv().await.unwrap();
        assert!(who.starts_with("uid 0 gid 0 pid "), "{who}");
        assert_eq!(command, Command::ReleaseHold);

        // The protocol as written in the design: one JSON line each way.
        let answer = raw(&path, b"{\"command\":\"resume\",\"force_primary\":true}\n").await;
        assert!(answer.ok, "{answer:?}");
        assert_eq!(seen.recv().await.unwrap().1, Command::ReleaseHold);
        for (line, reclone) in [
            (&b"{\"command\":\"rejoin\"}\n"[..], false),
            (&b"{\"command\":\"rejoin\",\"reclone\":true}\n"[..], true),
        ] {
            let answer = raw(&path, line).await;
            assert!(answer.ok, "{answer:?}");
            assert_eq!(seen.recv().await.unwrap().1, Command::Rejoin { reclone });
        }
        // Without `force_primary`, `resume` ends a maintenance pause: it never
        // releases a hold.
        for (line, command) in [
            (&b"{\"command\":\"resume\"}\n"[..], Command::Unpause),
            (&b"{\"command\":\"pause\"}\n"[..], Command::Pause(None)),
            (
                &b"{\"command\":\"pause\",\"for_ms\":600000}\n"[..],
                Command::Pause(Some(Duration::from_secs(600))),
            ),
        ] {
            let answer = raw(&path, line).await;
            assert!(answer.ok, "{answer:?}");
            assert_eq!(seen.recv().await.unwrap().1, command);
        }

        drop(server);
        assert!(
            !path.exists(),
            "the socket is removed when the server stops"
        );
    });
}

#[test]
fn the_engines_refusal_goes_back_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let reason = ReleaseRefused::GraceRunning.to_string();
        let (_server, _seen) = server(dir.path(), None, Err(reason.clone())).await;
        let answer = send(&socket_path(dir.path()), &resume(), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(!answer.ok);
        assert_eq!(answer.refusal, Some(Refusal::Engine));
        assert_eq!(answer.message, format!("refused: {reason}"));
    });
}

#[test]
fn bad_requests_are_refused_before_the_driver_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (_server, mut seen) = server(dir.path(), None, Ok("released".into())).await;
        let path = socket_path(dir.path());
        let unknown = raw(&path, b"{\"command\":\"promote\"}\n").await;
        assert_eq!(unknown.refusal, Some(Refusal::Request), "{unknown:?}");
        assert!(
            unknown.message.contains("unknown variant `promote`"),
            "{unknown:?}"
        );
        let not_json = raw(&path, b"resume --force-primary\n").await;
        assert_eq!(not_json.refusal, Some(Refusal::Request), "{not_json:?}");
        let mut long = b"{\"command\":\"resume\",\"force_primary\":true".to_vec();
        long.resize(2 * MAX_REQUEST, b' ');
        long.extend_from_slice(b"}\n");
        let too_long = raw(&path, &long).await;
        assert_eq!(too_long.refusal, Some(Refusal::Request), "{too_long:?}");
        assert!(
            too_long.message.contains("longer than 1024 bytes"),
            "{too_long:?}"
        );
        assert!(seen.try_recv().is_err(), "no operation reached the driver");
    });
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_and_other_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(dir.path());
    runtime().block_on(async {
        // A socket nobody listens on any more (a daemon killed without cleaning up).
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (first, _seen) = server(dir.path(), None, Ok("released".into())).await;
        // A second daemon on the same state directory.
        let (tx, _rx) = mpsc::channel(1);
        let second = serve(path.clone(), None, tx, shared()).await.unwrap_err();
        assert!(matches!(second, ControlError::InUse(_)), "{second}");
        assert!(second.to_string().contains("already answers"), "{second}");
        // The first one still serves.
        let answer = send(&path, &resume(), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(answer.ok, "{answer:?}");
        drop(first);

        std::fs::write(&path, "not a socket").unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let e = serve(path.clone(), None, tx, shared()).await.unwrap_err();
        assert!(matches!(e, ControlError::NotASocket(_)), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    });
}

/// What a caller running as `uid`:`gid` with no supplementary groups got: the
/// child's one output line, `answer <json>` or `error <kind>: <message>`.
fn call_as(uid: u32, gid: u32, path: &Path) -> String {
    let mut cmd = Process::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "control::tests::client_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_SOCKET, path);
    let out = output_within(cmd, Duration::from_secs(60)).expect("setpriv runs the client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the client child failed\n{text}");
    // libtest prints the test's name on the same line, before the child's output.
    text.lines()
        .find_map(|l| l.split_once("CONTROL-CLIENT ").map(|(_, got)| got))
        .unwrap_or_else(|| panic!("the child ran no client\n{text}"))
        .to_owned()
}

/// Not a test on its own: the caller that [`call_as`] runs as another user.
#[test]
#[ignore = "child process of the tests that call the control socket as another user"]
fn client_child() {
    let Some(path) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let got = runtime().block_on(send(Path::new(&path), &resume(), Duration::from_secs(20)));
    let line = match got {
        Ok(answer) => format!("answer {}", serde_json::to_string(&answer).unwrap()),
        Err(e @ ClientError::Permission { .. }) => format!("error permission: {e}"),
        Err(e) => format!("error other: {e}"),
    };
    println!("CONTROL-CLIENT {line}");
}

/// A directory `nobody` can reach, with a server in it whose socket mode is `mode`:
/// 0660 as the server makes it, or 0666 (loosened by hand) so that only the
/// credential check stands between any local user and the daemon.
async fn reachable_server(
    group: Option<&str>,
    mode: u32,
) -> (
    tempfile::TempDir,
    PathBuf,
    ControlServer,
    mpsc::UnboundedReceiver<(String, Command)>,
) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (server, seen) = server(
        dir.path(),
        group,
        Ok("hold released: now promoting in term 1".into()),
    )
    .await;
    let path = socket_path(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, path, server, seen)
}

fn group_gid(name: &str) -> u32 {
    nix::unistd::Group::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("Debian has a group {name:?}; this host has none"))
        .gid
        .as_raw()
}

#[test]
fn a_caller_neither_root_nor_in_the_group_is_refused_by_its_credentials() {
    let rt = runtime();
    for group in [None, Some(OTHER_GROUP)] {
        let (_dir, path, _server, mut seen) = rt.block_on(reachable_server(group, 0o666));
        let got = rt.block_on(async {
            let p = path.clone();
            tokio::task::spawn_blocking(move || call_as(NOBODY, NOBODY, &p))
                .await
                .unwrap()
        });
        let json = got
            .strip_prefix("answer ")
            .unwrap_or_else(|| panic!("{got}"));
        let answer: Response = serde_json::from_str(json).unwrap();
        assert_eq!(answer.refusal, Some(Refusal::Permission), "{answer:?}");
        let expected = match group {
            Some(g) => format!("refused: uid {NOBODY} is not root and not in group {g}"),
            None => format!("refused: uid {NOBODY} is not root (no control.group is configured)"),
        };
        assert_eq!(answer.message, expected);
        assert!(seen.try_recv().is_err(), "the driver never saw it");
    }
}

#[test]
fn a_member_of_the_group_is_admitted() {
    let rt = runtime();
    let (_dir, path, _server, mut seen) = rt.block_on(reachable_server(Some(NOBODYS_GROUP), 0o660));
    // The server gave the socket to the group: its members can open it as it is.
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.gid(), group_gid(NOBODYS_GROUP));
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let got = rt.block_on(async {
        let p = path.clone();
        tokio::task::spawn_blocking(move || call_as(NOBODY, NOBODY, &p))
            .await
            .unwrap()
    });
    let json = got
        .strip_prefix("answer ")
        .unwrap_or_else(|| panic!("{got}"));
    let answer: Response = serde_json::from_str(json).unwrap();
    assert!(answer.ok, "{answer:?}");
    let (who, _) = rt.block_on(seen.recv()).unwrap();
    assert!(
        who.starts_with(&format!("uid {NOBODY} gid {NOBODY} ")),
        "{who}"
    );
}

#[test]
fn the_socket_mode_keeps_out_whoever_is_not_root_or_in_the_group() {
    let rt = runtime();
    let (_dir, path, _server, mut seen) = rt.block_on(reachable_server(Some(OTHER_GROUP), 0o660));
    assert_eq!(
        std::fs::metadata(&path).unwrap().gid(),
        group_gid(OTHER_GROUP)
    );
    let got = rt.block_on(async {
        let p = path.clone();
        tokio::task::spawn_blocking(move || call_as(NOBODY, NOBODY, &p))
            .await
            .unwrap()
    });
    assert!(
        got.starts_with(&format!(
            "error permission: uid {NOBODY} cannot open the control socket"
        )),
        "{got}"
    );
    assert!(seen.try_recv().is_err(), "the driver never saw it");
}
