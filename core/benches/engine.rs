//! Cost of one `handle_input` plus draining the actions it queues (goal: ≤ 1 µs).
//!
//! Run: `cargo bench -p twinbeat-core --bench engine`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use twinbeat_core::{
    Action, Config, Engine, Input, Instant, LocalDbSample, NodeId, NodeState, PathId,
    PeerDbReading, ProbeOutcome, Role, StandbyReading, StartFacts,
};

/// A standby that has settled: every path up, the master heard.
fn settled_standby() -> (Engine, Instant) {
    let facts = StartFacts {
        persisted: None,
        db_in_recovery: true,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    };
    let mut now = Instant::from_millis(1_000);
    let mut e = Engine::new(Config::default(), facts, now).expect("default config is valid");
    let peer = NodeState {
        node_id: NodeId(2),
        role: Role::Primary,
        term: 1,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 0,
        human_promoted: false,
        handover: None,
        pause: None,
        switchover: None,
        sync_epoch: None,
        config_fingerprint: None,
    };
    let sample = LocalDbSample {
        accepting: true,
        select_ok: true,
        in_recovery: true,
        wal_lsn: 0,
        replay_lsn: 0,
        timeline: 1,
        standby: StandbyReading::NONE,
    };
    for _ in 0..10 {
        now += Duration::from_millis(1);
        e.handle_timeout(now);
        while let Some(a) = e.poll_action() {
            answer(&mut e, now, a, peer, sample);
        }
    }
    (e, now)
}

fn answer(e: &mut Engine, now: Instant, a: Action, peer: NodeState, sample: LocalDbSample) {
    let input = match a {
        Action::Probe {
            path: PathId::LocalDb,
            attempt,
            ..
        } => Input::LocalDb {
            attempt,
            sample: Some(sample),
        },
        Action::Probe {
            path: PathId::RemoteDb,
            attempt,
            ..
        } => Input::RemoteDb {
            attempt,
            outcome: ProbeOutcome::Ok {
                rtt: Duration::from_micros(300),
            },
            reading: Some(PeerDbReading {
                in_recovery: false,
                term: Some(1),
                timeline: 1,
                wal_lsn: 0,
                published: None,
                sync_epoch: None,
                sync_ack: None,
            }),
        },
        Action::Probe { path, attempt, .. } => Input::ProbeDone {
            path,
            attempt,
            outcome: ProbeOutcome::Ok {
                rtt: Duration::from_micros(300),
            },
        },
        Action::SendPing { seq, .. } => Input::AckReceived { seq, peer },
        _ => return,
    };
    e.handle_input(now, input);
    while let Some(a) = e.poll_action() {
        black_box(a);
    }
}

fn bench(c: &mut Criterion) {
    let (mut e, now) = settled_standby();
    let peer = NodeState {
        node_id: NodeId(2),
        role: Role::Primary,
        term: 1,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 0,
        human_promoted: false,
        handover: None,
        pause: None,
        switchover: None,
        sync_epoch: None,
        config_fingerprint: None,
    };
    let sample = LocalDbSample {
        accepting: true,
        select_ok: true,
        in_recovery: true,
        wal_lsn: 0,
        replay_lsn: 0,
        timeline: 1,
        standby: StandbyReading::NONE,
    };
    // The hot path on a standby: an icmp reply (about 1 kHz), answered at once.
    let mut t = now;
    c.bench_function(
        "icmp round: handle_timeout + handle_input(ProbeDone) + drain",
        |b| {
            b.iter(|| {
                t += Duration::from_millis(1);
                e.handle_timeout(t);
                let mut due = [None; 8];
                let mut n = 0;
                while let Some(a) = e.poll_action() {
                    if n < due.len() {
                        due[n] = Some(a);
                        n += 1;
                    }
                }
                for a in due.into_iter().flatten() {
                    answer(&mut e, t, a, peer, sample);
                }
            })
        },
    );
    let mut seq = 0u32;
    c.bench_function("handle_input(PingReceived) + drain", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            e.handle_input(
                t,
                Input::PingReceived {
                    echoed: None,
                    seq,
                    peer: black_box(peer),
                },
            );
            while let Some(a) = e.poll_action() {
                black_box(a);
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
