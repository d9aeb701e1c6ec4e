//! The fence's host-side steps on a real PostgreSQL 15 and a VIP inside a network
//! namespace, run in the order the engine orders them (rule `fence-sequence`; the
//! order itself is the engine's and is tested in `core/tests/rules/master.rs`):
//! DB stopped and confirmed gone (also when the postmaster is SIGSTOPped: SIGKILL),
//! VIP gone, "fenced" persisted, then the action; a restarted daemon reads "fenced"
//! back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use twinbeat_core::PersistedRole;
use twinbeat_lab::netns::{End, NetPair};
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

use super::{run_action, stop_confirmed, FenceAction, FencePlan};
use crate::actions::postmaster;
use crate::actions::service::{PgCtl, ServiceControl};
use crate::actions::state_file::{PersistedState, StateStore};
use crate::actions::vip::{Vip, VipSpec};

/// A step's name, duration and outcome.
type Step = (&'static str, Duration, Result<String, String>);

fn run_fence(freeze: bool) {
    assert!(pg::installed(), "PostgreSQL 15 is required");
    postmaster::become_subreaper().unwrap();
    let pair = NetPair::new(
        "tbact",
        End::new("va", &["10.251.0.1/24"]),
        End::new("vb", &["10.251.0.2/24"]),
    )
    .unwrap();
    let db = PgServer::primary(Launch::PgCtl).expect("a primary");
    let pid = db.pid().unwrap();
    if freeze {
        kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    }
    let state_dir = tempfile::tempdir().unwrap();
    let state_path = StateStore::new(state_dir.path()).path();
    let marker = state_dir.path().join("action-ran");
    let data_dir = db.data().to_path_buf();
    let sd = state_dir.path().to_path_buf();
    // The action proves what the earlier steps left: it succeeds only when the
    // postmaster is gone and "fenced" is on disk.
    let action = format!(
        "test ! -d /proc/{pid} && grep -q '\"fenced\"' {} && touch {}",
        state_path.display(),
        marker.display()
    );
    let (steps, killed) = pair
        .a
        .block_on(move || async move {
            let vip = Vip::new(VipSpec {
                address: IpAddr::V4(Ipv4Addr::new(10, 251, 0, 100)),
                prefix_len: 24,
                interface: "va".into(),
            })
            .unwrap();
            vip.add().await.unwrap();
            let svc = ServiceControl::PgCtl(PgCtl {
                pg_ctl: format!("{PG_BIN}/pg_ctl").into(),
                data_dir,
                config_file: None,
                log_file: None,
            });
            let store = StateStore::new(sd);
            let mut plan = FencePlan::new(&svc);
            plan.stop_bound = Duration::from_millis(500);
            plan.action = FenceAction::Command(action);
            // The engine's `StopDb`, `ReleaseVip`, `Persist(fenced)`, `RunFenceAction`,
            // each performed by the call the driver makes for it.
            let (stop, killed) = stop_confirmed(&plan).await;
            let started = Instant::now();
            let released = vip.remove().await.map(|o| format!("{o:?}"));
            let release_elapsed = started.elapsed();
            let started = Instant::now();
            let record = PersistedState::new(PersistedRole::Fenced, 4, "gateway down 5 times");
            let persisted = store.save_async(record).await.map(|()| "saved".to_owned());
            let persist_elapsed = started.elapsed();
            let action = run_action(&plan).await;
            assert!(!vip.is_present().await.unwrap(), "VIP released");
            let steps: [Step; 4] = [
                ("stop", stop.elapsed, stop.result.map_err(|e| e.to_string())),
                (
                    "release VIP",
                    release_elapsed,
                    released.map_err(|e| e.to_string()),
                ),
                (
                    "persist",
                    persist_elapsed,
                    persisted.map_err(|e| e.to_string()),
                ),
                (
                    "action",
                    action.elapsed,
                    action.result.map_err(|e| e.to_string()),
                ),
            ];
            (steps, killed)
        })
        .unwrap();
    for (step, elapsed, result) in &steps {
        println!("fence step {step}: {elapsed:?} {result:?}");
    }
    let total: Duration = steps.iter().map(|(_, elapsed, _)| *elapsed).sum();
    println!("fence total (frozen={freeze}): {total:?}");
    assert!(steps.iter().all(|(_, _, r)| r.is_ok()), "{steps:?}");
    assert_eq!(killed, freeze);
    assert!(postmaster::proc_state(pid).is_dead());
    assert!(
        marker.exists(),
        "the action ran after the stop and the persist"
    );
    let addrs = pair.a.ip(&["-o", "addr", "show", "dev", "va"]).unwrap();
    assert!(!addrs.contains("10.251.0.100"), "{addrs}");
    // A restarted daemon reads the sticky fence back, with the reason for `status`.
    let again = StateStore::new(state_dir.path()).load().unwrap().unwrap();
    assert_eq!((again.state, again.term), (PersistedRole::Fenced, 4));
    assert_eq!(again.reason, "gateway down 5 times");
}

#[test]
fn fence_stops_db_releases_vip_persists_then_acts() {
    run_fence(false);
}

#[test]
fn fence_sigkills_a_sigstopped_postmaster() {
    run_fence(true);
}
