//! Hygiene: nothing is left behind — not after a normal end, not after a panic, and stale
//! leftovers of an earlier run are removed when the next lab starts.

mod common;

use std::process::Command;
use std::time::Duration;

use twinbeat_lab::procs::{self, ProcId};
use twinbeat_lab::state::{self, LabState};
use twinbeat_lab::{exclusive, Node};

#[test]
fn nothing_left_after_a_panicking_test() {
    let _g = exclusive();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let lab = common::start(common::opts());
        let pids: Vec<i32> = Node::BOTH
            .iter()
            .filter_map(|n| lab.pg(*n).postmaster_pid())
            .collect();
        tx.send((lab.topo.id, lab.dir.clone(), pids)).expect("send");
        panic!("a scenario failed");
    });
    assert!(result.is_err());
    let (id, dir, pids) = rx.recv().expect("lab info");
    assert_eq!(pids.len(), 2, "both servers were running");
    assert!(common::leftover_namespaces(id).is_empty());
    assert!(!dir.exists());
    for p in pids {
        assert!(procs::gone(p), "postmaster {p} left running");
    }
}

#[test]
fn stale_leftovers_are_removed_at_start() {
    let _g = exclusive();
    // Fake an earlier run that died: a namespace, a process recorded in its state file, and
    // an owner that no longer exists.
    let root = state::root();
    let (mut st, dir) = state::claim(&root, false).expect("claim");
    let id = st.id;
    let ns = format!("tblab-{id}-a");
    twinbeat_lab::cmd::run("ip", &["netns", "add", &ns]).expect("netns");
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &ns, "sleep", "600"])
        .spawn()
        .expect("sleep");
    let sleeper_pid = sleeper.id() as i32;
    twinbeat_lab::cmd::wait_for(
        "sleeper in ns",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || procs::netns_pids(&ns).contains(&sleeper_pid).then_some(()),
    )
    .expect("sleeper started");
    st.owner = Some(ProcId {
        pid: sleeper_pid,
        start: 1,
        label: "dead owner".into(),
    });
    st.procs = vec![ProcId::of(sleeper_pid, "stale sleeper").expect("alive")];
    st.save(&dir.join("state.json")).expect("save");
    // An orphan namespace with no lab directory at all.
    let orphan = "tblab-249-b";
    twinbeat_lab::cmd::run("ip", &["netns", "add", orphan]).expect("orphan netns");

    let lab = common::start(common::net_opts());
    let _ = sleeper.wait();
    assert!(procs::gone(sleeper_pid), "stale process killed");
    let now = state::list_netns();
    assert!(!now.iter().any(|n| n == orphan), "orphan namespace deleted");
    if lab.topo.id == id {
        // The freed id was reused: its namespaces and directory are the new lab's.
        let st = LabState::load(&dir.join("state.json")).expect("new state");
        assert!(st.owner.is_some_and(|o| o.pid == std::process::id() as i32));
        assert!(st.procs.iter().all(|p| p.pid != sleeper_pid));
    } else {
        assert!(!now.iter().any(|n| n == &ns), "stale namespace deleted");
        assert!(!dir.exists(), "stale directory removed");
    }
    drop(lab);
}

#[test]
fn labs_do_not_clash() {
    let _g = exclusive();
    let one = common::start(common::net_opts());
    let two = common::start(common::net_opts());
    assert_ne!(one.topo.id, two.topo.id);
    assert_ne!(
        one.topo.ns(twinbeat_lab::Host::A),
        two.topo.ns(twinbeat_lab::Host::A)
    );
    let (i1, i2) = (one.topo.id, two.topo.id);
    drop(one);
    assert!(common::leftover_namespaces(i1).is_empty());
    assert_eq!(
        common::leftover_namespaces(i2).len(),
        5,
        "the other lab is untouched"
    );
    drop(two);
    assert!(common::leftover_namespaces(i2).is_empty());
}
