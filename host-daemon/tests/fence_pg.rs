//! The fence sequence on a real PostgreSQL 15 and a VIP inside a network namespace:
//! in order, DB stopped (also when the postmaster is SIGSTOPped), VIP gone, state
//! persisted, then the action; a restarted daemon reads "fenced" back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use twinbeat::actions::fence::{fence, FenceAction, FencePlan, FenceStep};
use twinbeat::actions::postmaster;
use twinbeat::actions::service::{PgCtl, ServiceControl};
use twinbeat::actions::state_file::{NodeState, StateStore};
use twinbeat::actions::vip::{Vip, VipSpec};
use twinbeat_lab::netns::{End, NetPair};
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

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
    // The action proves the order: it runs only after the postmaster is gone and
    // "fenced" is on disk.
    let action = format!(
        "test ! -d /proc/{pid} && grep -q '\"fenced\"' {} && touch {}",
        state_path.display(),
        marker.display()
    );
    let report = pair
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
                log_file: None,
            });
            let store = StateStore::new(sd);
            let mut plan = FencePlan::new(&svc, &store, 4, "gateway down 5 times");
            plan.vip = Some(&vip);
            plan.stop_bound = Duration::from_millis(500);
            plan.action = FenceAction::Command(action);
            let report = fence(&plan).await;
            assert!(!vip.is_present().await.unwrap(), "VIP released");
            report
        })
        .unwrap();
    for s in &report.steps {
        println!("fence step {:?}: {:?} {:?}", s.step, s.elapsed, s.result);
    }
    println!("fence total (frozen={freeze}): {:?}", report.total);
    let order: Vec<_> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        order,
        [
            FenceStep::StopDb,
            FenceStep::ReleaseVip,
            FenceStep::PersistFenced,
            FenceStep::Action
        ]
    );
    assert!(report.all_ok());
    assert_eq!(report.killed, freeze);
    assert!(postmaster::proc_state(pid).is_dead());
    assert!(
        marker.exists(),
        "the action ran after the stop and the persist"
    );
    let addrs = pair.a.ip(&["-o", "addr", "show", "dev", "va"]).unwrap();
    assert!(!addrs.contains("10.251.0.100"), "{addrs}");
    // A restarted daemon reads the sticky fence back, with the reason for `status`.
    let again = StateStore::new(state_dir.path()).load().unwrap().unwrap();
    assert_eq!((again.state, again.term), (NodeState::Fenced, 4));
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
