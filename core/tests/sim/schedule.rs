//! Random fault schedules: one scenario family per schedule plus background noise.

use std::time::Duration;

use crate::world::{Fault, Step, World, A, B};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// The scenario families; every schedule draws one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    MasterDeath,
    SingleCut,
    DoubleCut,
    CutLongBeforePartition,
    SharedGateway,
    OneSidedGateway,
    MasterDbFailure,
    Freeze,
    SerialNoise,
    StandbyUnfitThenMasterDeath,
    ColdStart,
    DaemonCrash,
    Maintenance,
    Switchover,
}

const FAMILIES: [Family; 14] = [
    Family::MasterDeath,
    Family::SingleCut,
    Family::DoubleCut,
    Family::CutLongBeforePartition,
    Family::SharedGateway,
    Family::OneSidedGateway,
    Family::MasterDbFailure,
    Family::Freeze,
    Family::SerialNoise,
    Family::StandbyUnfitThenMasterDeath,
    Family::ColdStart,
    Family::DaemonCrash,
    Family::Maintenance,
    Family::Switchover,
];

pub(crate) const LENGTH: Duration = Duration::from_secs(6);

/// Fills the world's queue with one schedule; returns the family drawn.
pub(crate) fn generate(w: &mut World) -> Family {
    let family = FAMILIES[w.rng.usize(0..FAMILIES.len())];
    if w.rng.u8(0..3) == 0 {
        w.effect_fail_pct = w.rng.u8(5..30);
    }
    // Starts: usually the master first; cold starts in either order.
    if family == Family::ColdStart {
        // A first start: no state file, so no start guard either.
        w.nodes[A].persisted = None;
        w.nodes[A].signal = false;
        let (first, second) = if w.rng.bool() { (A, B) } else { (B, A) };
        w.fault_in(ms(0), Fault::StartDaemon(first));
        let gap = ms(w.rng.u64(0..3_000));
        if w.rng.u8(0..4) == 0 {
            // The other host is down at power-on and stays so for a while.
            w.fault_in(ms(0), Fault::HostDeath(second));
            let back = gap + ms(w.rng.u64(0..4_000));
            w.fault_in(back, Fault::HostRevive(second));
        } else {
            w.fault_in(gap, Fault::StartDaemon(second));
        }
    } else {
        w.fault_in(ms(0), Fault::StartDaemon(A));
        let d = ms(w.rng.u64(0..300));
        w.fault_in(d, Fault::StartDaemon(B));
    }
    // The primary writes all along; sometimes a lot.
    let mut t = ms(100);
    while t < LENGTH {
        let bytes = if w.rng.u8(0..50) == 0 {
            w.rng.u64(0..2 << 20)
        } else {
            w.rng.u64(0..20_000)
        };
        w.fault_in(t, Fault::Write(bytes));
        t += ms(100);
    }
    let f = ms(w.rng.u64(1_500..3_000)); // first fault, after warm-up
    match family {
        Family::MasterDeath => {
            if w.rng.bool() {
                let crash = [
                    Step::PersistPromoting,
                    Step::Promote,
                    Step::TakeVip,
                    Step::PersistPrimary,
                ][w.rng.usize(0..4)];
                let before = w.rng.bool();
                let back = ms(w.rng.u64(50..1_000));
                w.fault_in(ms(500), Fault::CrashOnStep(B, crash, before, back));
            }
            if w.rng.u8(0..3) == 0 {
                let loss = w.rng.u8(10..60);
                w.fault_in(f - ms(300), Fault::SerialLoss(loss));
            }
            w.fault_in(f, Fault::HostDeath(A));
            if w.rng.bool() {
                let back = f + ms(w.rng.u64(200..3_000));
                w.fault_in(back, Fault::HostRevive(A));
            }
        }
        Family::SingleCut | Family::DoubleCut => {
            let mut paths = [0u8, 1, 2];
            w.rng.shuffle(&mut paths);
            let n = if family == Family::SingleCut { 1 } else { 2 };
            for p in &paths[..n] {
                let d = f + ms(w.rng.u64(0..200));
                w.fault_in(d, cut(*p, true));
                if w.rng.bool() {
                    let heal = d + ms(w.rng.u64(100..2_500));
                    w.fault_in(heal, cut(*p, false));
                }
            }
            if family == Family::SingleCut {
                // One more fault that hides the peer on one more path at most.
                match w.rng.u8(0..4) {
                    0 => {
                        let d = ms(w.rng.u64(50..1_500));
                        w.fault_in(f + ms(500), Fault::DaemonCrash(A, d));
                    }
                    1 => {
                        let d = ms(w.rng.u64(20..1_500));
                        w.fault_in(f + ms(500), Fault::ProcFreeze(A, d));
                    }
                    2 => {
                        let loss = w.rng.u8(10..70);
                        w.fault_in(f + ms(300), Fault::SerialLoss(loss));
                    }
                    _ => {}
                }
            }
            standby_noise(w, f);
        }
        Family::CutLongBeforePartition => {
            let mut paths = [0u8, 1, 2];
            w.rng.shuffle(&mut paths);
            w.fault_in(f - ms(1_000), cut(paths[0], true));
            let window = w.nodes[A].cfg.effective_failure_window();
            let later = f + window * 2 + ms(w.rng.u64(0..1_000));
            w.fault_in(later, cut(paths[1], true));
            let skew = ms(w.rng.u64(0..50));
            w.fault_in(later + skew, cut(paths[2], true));
        }
        Family::SharedGateway => {
            w.checks.shared_gateway = true;
            let skew = ms(w.rng.u64(0..150));
            let (first, second) = if w.rng.bool() { (A, B) } else { (B, A) };
            w.fault_in(f, Fault::Gateway(first, false));
            w.fault_in(f + skew, Fault::Gateway(second, false));
            if w.rng.bool() {
                let up = f + ms(w.rng.u64(500..2_500));
                w.fault_in(up, Fault::Gateway(first, true));
                w.fault_in(up + skew, Fault::Gateway(second, true));
            }
        }
        Family::OneSidedGateway => {
            let node = if w.rng.u8(0..4) == 0 { B } else { A };
            if node == A && w.rng.bool() {
                // Serial cut first: the handover runs over the remote DB path (rule
                // `fence-handshake`).
                let before = ms(w.rng.u64(200..1_500));
                w.fault_in(f - before, Fault::CutSerial(true));
            }
            w.fault_in(f, Fault::Gateway(node, false));
            if node == A {
                fence_noise(w, f);
            }
        }
        Family::MasterDbFailure => {
            if w.rng.bool() {
                w.fault_in(f, Fault::DbBroken(A, true));
                fence_noise(w, f);
            } else {
                w.fault_in(f, Fault::DbCrash(A));
                if w.rng.bool() {
                    // The service manager restarts it first: up read-only under the
                    // start guard, which the primary must treat as unhealthy.
                    let d = f + ms(w.rng.u64(20..400));
                    w.fault_in(d, Fault::DbAutoRestart(A));
                }
            }
        }
        Family::Freeze => {
            let node = if w.rng.bool() { A } else { B };
            let d = ms(w.rng.u64(20..2_000));
            let fault = if w.rng.bool() {
                Fault::NodeFreeze(node, d)
            } else {
                Fault::ProcFreeze(node, d)
            };
            w.fault_in(f, fault);
            if w.rng.bool() {
                let d2 = ms(w.rng.u64(20..1_000));
                let gap = ms(w.rng.u64(0..1_000));
                w.fault_in(f + d + gap, Fault::NodeFreeze(node, d2));
            }
        }
        Family::SerialNoise => {
            let mut t = f;
            for _ in 0..w.rng.u8(1..6) {
                let loss = w.rng.u8(0..100);
                let delay = ms(w.rng.u64(0..80));
                w.fault_in(t, Fault::SerialLoss(loss));
                w.fault_in(t, Fault::SerialDelay(delay));
                t += ms(w.rng.u64(100..800));
            }
            w.fault_in(t, Fault::SerialLoss(0));
            w.fault_in(t, Fault::SerialDelay(ms(0)));
        }
        Family::StandbyUnfitThenMasterDeath => {
            match w.rng.u8(0..3) {
                0 => w.fault_in(f - ms(1_000), Fault::DbBroken(B, true)),
                1 => w.fault_in(f - ms(1_000), Fault::Gateway(B, false)),
                _ => {
                    w.fault_in(f - ms(1_200), Fault::ReplicationStall(true));
                    w.fault_in(f - ms(1_100), Fault::Write(3 << 20));
                }
            }
            w.fault_in(f, Fault::HostDeath(A));
        }
        Family::ColdStart => {}
        Family::DaemonCrash => {
            let node = if w.rng.bool() { A } else { B };
            let d = ms(w.rng.u64(20..2_000));
            w.fault_in(f, Fault::DaemonCrash(node, d));
        }
        Family::Maintenance => {
            // An operator pauses the pair on either node (for a while, or until
            // resumed), then the master's DB crashes, its gateway goes or its host
            // dies; the pause ends by itself, by a resume on either node, or not
            // within the schedule (rule `maintenance-pause`).
            let on = if w.rng.bool() { A } else { B };
            let lasts = w.rng.bool().then(|| ms(w.rng.u64(1_500..3_000)));
            w.fault_in(f - ms(500), Fault::OperatorPause(on, lasts));
            let fault = match w.rng.u8(0..4) {
                0 => Fault::DbCrash(A),
                1 => Fault::Gateway(A, false),
                2 => Fault::HostDeath(A),
                _ => Fault::DaemonCrash(on, ms(w.rng.u64(20..1_000))),
            };
            let crash = matches!(fault, Fault::DbCrash(_));
            w.fault_in(f, fault);
            if crash && w.rng.bool() {
                // The operator starts the crashed DB again while paused (the start
                // guard brings it up read-only).
                let at = f + ms(w.rng.u64(100..800));
                w.fault_in(at, Fault::DbAutoRestart(A));
            }
            if lasts.is_none() && w.rng.bool() {
                let by = if w.rng.bool() { A } else { B };
                let at = f + ms(w.rng.u64(300..2_500));
                w.fault_in(at, Fault::OperatorUnpause(by));
            }
        }
        Family::Switchover => switchover(w, f),
    }
    family
}

/// An operator's `twinbeat switchover` on either node, and trouble at every step of
/// it: a crash of either daemon on each of its effects (or at a random moment), a
/// stalled replica (the master withdraws), serial cut or lossy, the new primary dying;
/// sometimes a switch back (rule `planned-switchover`).
fn switchover(w: &mut World, f: Duration) {
    let on = if w.rng.bool() { A } else { B };
    w.fault_in(f, Fault::OperatorSwitchover(on));
    match w.rng.u8(0..8) {
        0 => {
            let step = [
                Step::PersistDemoting,
                Step::ReleaseVip,
                Step::Demote,
                Step::Rejoin,
                Step::PersistPrimary,
            ][w.rng.usize(0..5)];
            let (back, before) = (ms(w.rng.u64(50..1_000)), w.rng.bool());
            w.fault_in(f - ms(100), Fault::CrashOnStep(A, step, before, back));
        }
        1 => {
            let step = [
                Step::PersistPromoting,
                Step::Promote,
                Step::TakeVip,
                Step::PersistPrimary,
            ][w.rng.usize(0..4)];
            let (back, before) = (ms(w.rng.u64(50..1_000)), w.rng.bool());
            w.fault_in(f - ms(100), Fault::CrashOnStep(B, step, before, back));
        }
        2 => {
            let node = if w.rng.bool() { A } else { B };
            let at = f + ms(w.rng.u64(0..800));
            let back = ms(w.rng.u64(20..1_500));
            w.fault_in(at, Fault::DaemonCrash(node, back));
        }
        3 => {
            let at = f + ms(w.rng.u64(0..100));
            w.fault_in(at, Fault::ReplicationStall(true));
            let heal = f + ms(w.rng.u64(500..3_000));
            w.fault_in(heal, Fault::ReplicationStall(false));
        }
        4 => {
            let at = f + ms(w.rng.u64(0..600));
            w.fault_in(at, Fault::CutSerial(true));
            if w.rng.bool() {
                let heal = at + ms(w.rng.u64(100..2_000));
                w.fault_in(heal, Fault::CutSerial(false));
            }
        }
        5 => {
            let loss = w.rng.u8(20..80);
            w.fault_in(f, Fault::SerialLoss(loss));
            let heal = f + ms(w.rng.u64(500..2_500));
            w.fault_in(heal, Fault::SerialLoss(0));
        }
        6 => {
            let at = f + ms(w.rng.u64(100..1_500));
            w.fault_in(at, Fault::HostDeath(B));
        }
        _ => {}
    }
    if w.rng.u8(0..3) == 0 {
        // And back again, from either node.
        let by = if w.rng.bool() { A } else { B };
        let at = f + ms(w.rng.u64(1_200..2_500));
        w.fault_in(at, Fault::OperatorSwitchover(by));
    }
}

fn cut(path: u8, c: bool) -> Fault {
    match path {
        0 => Fault::CutIcmp(c),
        1 => Fault::CutDb(c),
        _ => Fault::CutSerial(c),
    }
}

/// Standby-side trouble that never hides the master.
fn standby_noise(w: &mut World, f: Duration) {
    let d = f + Duration::from_millis(w.rng.u64(0..2_000));
    let fault = match w.rng.u8(0..5) {
        0 => Fault::DaemonCrash(B, ms(w.rng.u64(20..1_000))),
        1 => Fault::NodeFreeze(B, ms(w.rng.u64(20..1_000))),
        2 => Fault::Gateway(B, false),
        _ => return,
    };
    w.fault_in(d, fault);
}

/// Around a fence: lost fenced frames and crashes at each fencing step.
fn fence_noise(w: &mut World, f: Duration) {
    if w.rng.bool() {
        let loss = w.rng.u8(30..95);
        w.fault_in(f, Fault::SerialLoss(loss));
        let heal = f + ms(w.rng.u64(1_000..3_000));
        w.fault_in(heal, Fault::SerialLoss(0));
    }
    if w.rng.u8(0..3) == 0 {
        // The rejoin's steps too, when `auto_rejoin` is drawn (rule `rejoin-after-fence`).
        let step = [
            Step::StopDb,
            Step::ReleaseVip,
            Step::PersistFenced,
            Step::PersistRejoining,
            Step::Rejoin,
        ][w.rng.usize(0..5)];
        let before = w.rng.bool();
        let back = ms(w.rng.u64(50..1_000));
        w.fault_in(ms(500), Fault::CrashOnStep(A, step, before, back));
    }
}
