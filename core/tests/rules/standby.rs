//! The standby's rules `partial-loss-only-warns`, `all-paths-down-together`,
//! `fresh-checks`, `fenced-peer-hands-over` and `startup-grace`, and rule
//! `local-db-restart-once` on a standby.

use std::time::Duration;

use crate::harness::{cfg, peer_state, replica, standby_facts, Answer, Harness, World};
use twinbeat_core::{
    Action, Config, DecisionKind, Event, Input, PersistedRole, Reason, Role, Severity,
};

fn cut(h: &mut Harness, icmp: bool, remote_db: bool, serial: bool) {
    if icmp {
        h.world.icmp = Answer::Silent;
    }
    if remote_db {
        h.world.remote_db = Answer::Silent;
    }
    if serial {
        h.world.serial = Answer::Silent;
    }
}

fn refused_with(h: &Harness, reason: Reason) -> bool {
    h.log.iter().any(|(_, a)| {
        matches!(a, Action::Log(Event::Decision(d)) if d.kind == DecisionKind::NoPromotion && d.reason == reason)
    })
}

fn refused_for_lag(h: &Harness) -> bool {
    h.log.iter().any(|(_, a)| {
        matches!(a, Action::Log(Event::Decision(d)) if matches!(d.reason, Reason::LagTooHigh { .. }))
    })
}

/// Standby that has heard its master and then lost it on every path at once.
pub(crate) fn master_dies(world: World) -> Harness {
    let mut h = Harness::standby(world);
    h.settle();
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    h
}

#[test]
fn standby_does_not_promote_when_only_serial_is_down() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    cut(&mut h, false, false, true);
    h.run_for(Duration::from_secs(30));
    assert!(!h.promoted());
    assert_eq!(h.e.role(), Role::Standby);
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Log(Event::Degraded { paths_down: 1 }))));
}

#[test]
fn standby_does_not_promote_when_two_paths_are_down() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    cut(&mut h, true, true, false);
    h.run_for(Duration::from_secs(30));
    assert!(!h.promoted());
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Log(Event::Degraded { paths_down: 2 }))));
}

#[test]
fn standby_promotes_when_all_paths_fail_together() {
    let h = master_dies(World::standby_side());
    assert!(h.promoted());
    assert_eq!(h.e.role(), Role::Primary);
    assert_eq!(h.e.term(), 2);
    let d = h.e.last_decision().expect("decided");
    assert_eq!(d.reason, Reason::AllPathsDownTogether);
}

#[test]
fn fresh_checks_wait_for_an_arp_probe_that_listens_its_whole_window() {
    // The ARP probe reports only once its window has passed; with tight DB and gateway
    // timeouts that window is the longest fresh check, and its "nobody answered" must
    // still count (the lab's fast profile never failed over before this).
    let mut c = cfg();
    c.local_db.timeout = Duration::from_millis(100);
    c.gateway.timeout = Duration::from_millis(100);
    c.arp_probe_timeout = Duration::from_millis(300);
    let world = World {
        arp_after: c.arp_probe_timeout + Duration::from_millis(2),
        ..World::standby_side()
    };
    let mut h = Harness::new(c, standby_facts(), world);
    h.settle();
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(h.promoted(), "{:?}", h.e.last_decision());
}

#[test]
fn vip_add_failure_is_retried_with_backoff_and_one_alarm() {
    let mut h = Harness::standby(World {
        vip_add_failures: 4,
        ..World::standby_side()
    });
    h.settle();
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(40));
    let adds: Vec<_> = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::TakeVip))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(adds.len(), 5, "four failures, then the add that holds");
    let gaps: Vec<Duration> = adds
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .collect();
    let interval = cfg().gateway.interval;
    for (i, gap) in gaps.iter().enumerate() {
        // The interval doubles after each failure (plus the answer's latency).
        let expected = interval * (1 << i);
        assert!(*gap >= expected && *gap < expected + interval, "{gaps:?}");
    }
    let alarms = h
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Log(Event::Alarm {
                    reason: Reason::VipFailed,
                    ..
                })
            )
        })
        .count();
    assert_eq!(alarms, 1, "one alarm per incident");
    assert_eq!(h.e.role(), Role::Primary);
}

#[test]
fn standby_does_not_promote_when_a_path_was_already_down() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    cut(&mut h, false, false, true);
    h.run_for(Duration::from_secs(60));
    cut(&mut h, true, true, false);
    h.run_for(Duration::from_secs(30));
    assert!(!h.promoted());
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Log(Event::Disarmed(Reason::DegradedPair)))));
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::Log(Event::Alarm {
            severity: Severity::Critical,
            reason: Reason::DegradedPair
        })
    )));
    assert!(refused_with(&h, Reason::DegradedPair));
}

#[test]
fn promote_when_degraded_gives_the_notes_literal_rule() {
    let config = Config {
        promote_when_degraded: true,
        ..cfg()
    };
    let mut h = Harness::new(config, standby_facts(), World::standby_side());
    h.settle();
    cut(&mut h, false, false, true);
    h.run_for(Duration::from_secs(60));
    cut(&mut h, true, true, false);
    h.run_for(Duration::from_secs(5));
    assert!(h.promoted());
    assert_eq!(
        h.e.last_decision().map(|d| d.reason),
        Some(Reason::AllPathsDownDegraded)
    );
}

#[test]
fn fresh_check_local_db_unhealthy_blocks_promotion() {
    let mut w = World::standby_side();
    let mut h = Harness::standby(w.clone());
    h.settle();
    w.local_db = Some(twinbeat_core::LocalDbSample {
        select_ok: false,
        ..replica(1000)
    });
    h.world = w;
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::LocalDbUnhealthy));
}

#[test]
fn fresh_check_db_not_in_recovery_blocks_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.local_db = Some(crate::harness::writable(1000));
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::LocalDbNotInRecovery));
}

#[test]
fn fresh_check_gateway_down_blocks_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.gateway = Answer::FailFast;
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::GatewayDown));
}

#[test]
fn fresh_check_lag_over_bound_blocks_promotion() {
    let mut w = World::standby_side();
    w.peer.wal_lsn = 10 * 1024 * 1024;
    let mut h = Harness::standby(w);
    h.settle();
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_for_lag(&h));
}

#[test]
fn fresh_check_lag_is_measured_against_the_freshest_known_primary_position() {
    // The frames say 1000, but the master's PostgreSQL, read over the remote DB path
    // after the last frame, was already 10 MiB further: that is what b would lose.
    let mut w = World::standby_side();
    let mut reading = crate::harness::peer_db_of(&w.peer);
    reading.wal_lsn = 10 * 1024 * 1024;
    w.peer_db = Some(reading);
    let mut h = Harness::standby(w);
    h.settle();
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_for_lag(&h));
}

#[test]
fn fresh_check_vip_answering_arp_blocks_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.arp_answered = true;
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::VipAnswered));
    // Re-evaluated continuously: once nobody answers, it promotes.
    h.world.arp_answered = false;
    h.run_for(Duration::from_secs(3));
    assert!(h.promoted());
}

#[test]
fn fresh_checks_are_fresh_probes() {
    let h = master_dies(World::standby_side());
    let fresh: Vec<_> = h
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Probe { fresh: true, .. } | Action::VipArpProbe { .. }
            )
        })
        .collect();
    assert_eq!(fresh.len(), 3, "local_db, gateway, ARP");
}

#[test]
fn every_probe_carries_the_end_of_its_window() {
    let h = master_dies(World::standby_side());
    let cfg = cfg();
    let probes: Vec<_> = h
        .log
        .iter()
        .filter_map(|(at, a)| match a {
            Action::Probe {
                path,
                deadline,
                fresh,
                ..
            } => Some((*at, *path, *deadline, *fresh)),
            _ => None,
        })
        .collect();
    assert!(probes.iter().any(|p| p.3), "fresh probes among them");
    for (at, path, deadline, _) in probes {
        // The driver bounds the probe by this alone (rule `attempt-window`).
        assert_eq!(deadline, at + cfg.path(path).timeout, "{path:?} at {at:?}");
    }
}

#[test]
fn fenced_peer_allows_immediate_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let t0 = h.now;
    let mut peer = peer_state(Role::Fenced, 1);
    peer.fenced = true;
    h.input(Input::PingReceived {
        echoed: None,
        seq: 1,
        peer,
    });
    h.run_for(Duration::from_millis(50));
    assert!(h.promoted(), "paths are all up, the fenced flag suffices");
    assert_eq!(h.e.role(), Role::Primary);
    assert!(h.now.saturating_duration_since(t0) <= Duration::from_millis(50));
    assert_eq!(
        h.log.iter().find_map(|(_, a)| match a {
            Action::Log(Event::Decision(d)) if d.kind == DecisionKind::Promote => Some(d.reason),
            _ => None,
        }),
        Some(Reason::PeerFenced)
    );
}

#[test]
fn startup_grace_blocks_promotion() {
    let mut w = World::standby_side();
    w.icmp = Answer::Silent;
    w.remote_db = Answer::Silent;
    w.serial = Answer::Silent;
    let mut h = Harness::standby(w);
    h.run_for(Duration::from_secs(59));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::StartupGrace));
    // Grace over, master never heard: the pair needs a primary.
    h.run_for(Duration::from_secs(3));
    assert!(h.promoted());
}

#[test]
fn startup_grace_ends_when_master_heard() {
    let h = master_dies(World::standby_side());
    assert!(h.promoted(), "heard the master once: no grace wait");
}

#[test]
fn local_db_restarted_once_then_stopped() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.local_db = None;
    h.run_for(Duration::from_secs(60));
    let restarts = h.count_since(twinbeat_core::Instant::ZERO, |a| {
        matches!(a, Action::RestartDb { .. })
    });
    let stops = h.count_since(twinbeat_core::Instant::ZERO, |a| {
        matches!(a, Action::StopDb { .. })
    });
    assert_eq!((restarts, stops), (1, 1));
    assert!(!h.e.own_state().db_healthy);
    // A standby with its DB stopped cannot promote.
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(5));
    assert!(!h.promoted());
    assert!(refused_with(&h, Reason::LocalDbStopped));
}

#[test]
fn local_db_incident_ends_after_healthy_grace() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    h.world.local_db = None;
    h.run_for(Duration::from_secs(11));
    h.world.local_db = Some(replica(1000));
    h.run_for(Duration::from_secs(30));
    // A new incident gets its own restart.
    h.world.local_db = None;
    h.run_for(Duration::from_secs(11));
    let restarts = h.count_since(twinbeat_core::Instant::ZERO, |a| {
        matches!(a, Action::RestartDb { .. })
    });
    assert_eq!(restarts, 2);
    assert_eq!(
        h.count_since(twinbeat_core::Instant::ZERO, |a| matches!(
            a,
            Action::StopDb { .. }
        )),
        0
    );
}

#[test]
fn liveness_bound_with_default_config() {
    // Promotion is requested within (icmp interval + timeout) + the largest
    // retries × timeout + a small constant of the master's last sign of life.
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    let died = h.now;
    cut(&mut h, true, true, true);
    h.run_for(Duration::from_secs(3));
    let asked = h
        .log
        .iter()
        .find(|(_, a)| matches!(a, Action::Persist(s) if s.role == PersistedRole::Promoting))
        .map(|(t, _)| *t)
        .expect("promotion requested");
    let bound = Duration::from_millis(1 + 100 + 1000 + 50);
    assert!(
        asked.saturating_duration_since(died) <= bound,
        "{:?}",
        asked.saturating_duration_since(died)
    );
}

#[test]
fn frame_heard_after_serial_down_blocks_promotion() {
    let mut h = Harness::standby(World::standby_side());
    h.settle();
    cut(&mut h, true, true, true);
    // The master's daemon is alive: its pings get through although our pings' acks
    // are lost.
    for _ in 0..40 {
        h.run_for(Duration::from_millis(100));
        h.input(Input::PingReceived {
            echoed: None,
            seq: 1,
            peer: peer_state(Role::Primary, 1),
        });
    }
    assert!(!h.promoted());
}
