//! The engine-to-driver contract: every action the daemon carries out over time
//! carries the end of its window, counted from the `now` the engine was given, so the
//! daemon keeps no timing of its own (the probes: `standby::every_probe_carries_the_end_of_its_window`).

use std::time::Duration;

use crate::harness::{cfg, Answer, Harness, World};
use crate::standby::master_dies;
use twinbeat_core::{
    Action, Config, Instant, PersistedRole, PersistedState, Role, StartFacts, FENCE_ACTION_WINDOW,
    KILL_GRACE, MIN_RESTART_WINDOW, PROMOTE_WINDOW, STOP_GRACE,
};

/// The effects with a window in `h`'s log, each checked against the `now` it was
/// queued at; returns how many of each kind were seen (promote, restart, stop, fence
/// action).
fn check_windows(h: &Harness, cfg: &Config) -> [usize; 4] {
    let mut seen = [0; 4];
    for &(at, action) in &h.log {
        match action {
            Action::Promote {
                connect_by,
                deadline,
                ..
            } => {
                seen[0] += 1;
                assert_eq!(connect_by, at + cfg.local_db.timeout.min(PROMOTE_WINDOW));
                assert_eq!(deadline, at + PROMOTE_WINDOW, "promote at {at:?}");
            }
            Action::RestartDb { deadline, .. } => {
                seen[1] += 1;
                let window = cfg.restart_grace.max(MIN_RESTART_WINDOW);
                assert_eq!(deadline, at + window, "restart at {at:?}");
            }
            Action::StopDb { kill_at, deadline } => {
                seen[2] += 1;
                assert_eq!(kill_at, at + STOP_GRACE, "stop at {at:?}");
                assert_eq!(deadline, kill_at + KILL_GRACE, "stop at {at:?}");
            }
            Action::RunFenceAction { deadline } => {
                seen[3] += 1;
                assert_eq!(deadline, at + FENCE_ACTION_WINDOW, "fence action at {at:?}");
            }
            _ => {}
        }
    }
    seen
}

fn master_facts() -> StartFacts {
    StartFacts {
        persisted: Some(PersistedState {
            role: PersistedRole::Primary,
            term: 1,
        }),
        db_in_recovery: false,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    }
}

#[test]
fn every_effect_carries_the_end_of_its_window() {
    // A standby promotes when the master dies.
    let h = master_dies(World::standby_side());
    assert_eq!(check_windows(&h, &cfg())[0], 1, "one promotion");

    // A master restarts its DB, finds it unrecoverable and fences.
    let mut h = Harness::master(World::master_side());
    h.world.local_db = None;
    h.run_for(Duration::from_secs(30));
    let [_, restarts, stops, actions] = check_windows(&h, &cfg());
    assert_eq!((restarts, stops, actions), (1, 1, 1));

    // A short `restart_grace`: the restart keeps its shortest window.
    let short = Config {
        restart_grace: Duration::from_secs(2),
        ..cfg()
    };
    let mut h = Harness::new(short, master_facts(), World::master_side());
    h.run_for(Duration::from_secs(3));
    assert_eq!(h.e.role(), Role::Primary);
    h.world.local_db = None;
    h.run_for(Duration::from_secs(30));
    assert!(check_windows(&h, &short)[1] >= 1, "restarted");
}

#[test]
fn a_retried_effect_gets_a_whole_window_of_its_own() {
    let mut h = Harness::master(World::master_side());
    h.world.effects_ok = false; // StopDb cannot confirm the postmaster gone
    h.world.gateway = Answer::Silent;
    h.run_for(Duration::from_secs(20));
    let stops: Vec<Instant> = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::StopDb { .. }))
        .map(|(at, _)| *at)
        .collect();
    assert!(stops.len() > 1, "retried");
    // Each retry's window starts when it is queued, not when the first stop was.
    assert_eq!(check_windows(&h, &cfg())[2], stops.len());
}
