//! Rule `local-db-restart-once` on a postmaster that exited: a fact, not a slow
//! answer, so the restart follows at once (with `restart_after_crash = off`, a crashed
//! backend shows this way), and the primary's restart comes back writable (rule
//! `start-guard`: the daemon lifts the guard for a restart it orders on a primary).

use std::time::Duration;

use crate::harness::{unwindowed, Harness, World, STOP_DB};
use twinbeat_core::{Action, Input, PathHealth, PathId, Role};

fn restarts_since(h: &Harness, since: twinbeat_core::Instant) -> usize {
    h.count_since(since, |a| matches!(a, Action::RestartDb { .. }))
}

#[test]
fn a_postmaster_exit_restarts_the_primarys_db_at_once() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    h.world.local_db = None; // gone until restarted
    h.input(Input::PostmasterExited);
    assert_eq!(
        restarts_since(&h, t0),
        1,
        "no retries wait for a dead process"
    );
    assert_eq!(
        h.count_since(t0, |a| matches!(
            a,
            Action::RestartDb {
                lift_guard: true,
                ..
            }
        )),
        1,
        "a primary's restart lifts the start guard for that one start"
    );
    assert_eq!(h.e.path(PathId::LocalDb).health, PathHealth::Down);
    // The restart brings it back writable; the primary serves on, nothing else moves.
    h.world.local_db = Some(crate::harness::writable(1000));
    h.run_for(Duration::from_secs(5));
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.path(PathId::LocalDb).health, PathHealth::Up);
    assert_eq!(restarts_since(&h, t0), 1);
    assert!(!h.fenced_started());
}

#[test]
fn a_postmaster_exit_the_engine_ordered_is_not_news() {
    let mut h = Harness::master(World::master_side());
    // The fence stops the DB: the exit that follows restarts nothing.
    h.world.gateway = crate::harness::Answer::Silent;
    h.run_for(Duration::from_secs(15));
    assert!(h.log.iter().any(|(_, a)| unwindowed(*a) == STOP_DB));
    let t0 = h.now;
    h.input(Input::PostmasterExited);
    h.run_for(Duration::from_secs(1));
    assert_eq!(restarts_since(&h, t0), 0);
    assert_eq!(h.e.role(), Role::Fenced);
}

#[test]
fn a_second_exit_within_the_incident_restarts_nothing_more() {
    let mut h = Harness::master(World::master_side());
    let t0 = h.now;
    h.input(Input::PostmasterExited);
    h.input(Input::PostmasterExited);
    assert_eq!(restarts_since(&h, t0), 1);
    assert!(!h
        .log
        .iter()
        .any(|(t, a)| *t >= t0 && *a == Action::ReleaseVip));
}

#[test]
fn the_restart_grace_counts_from_the_end_of_the_restart() {
    // An escalated restart of a hung server takes seconds (fast stop, immediate stop,
    // SIGKILL, start): longer than a short `restart_grace`. The grace starts when the
    // restart answers, so a restart that worked is not judged a failure.
    let cfg = twinbeat_core::Config {
        restart_grace: Duration::from_secs(2),
        ..crate::harness::cfg()
    };
    let mut h = Harness::master_with(cfg, World::master_side());
    let t0 = h.now;
    h.world.restart = crate::harness::Answer::After(Duration::from_millis(3500));
    h.world.local_db = None;
    h.input(Input::PostmasterExited);
    h.run_for(Duration::from_millis(3400));
    h.world.local_db = Some(crate::harness::writable(1000)); // the restart brings it back
    h.run_for(Duration::from_secs(10));
    assert_eq!(restarts_since(&h, t0), 1);
    assert!(
        !h.fenced_started(),
        "judged after the restart, not during it"
    );
    assert_eq!(h.e.role(), Role::Primary);
}
