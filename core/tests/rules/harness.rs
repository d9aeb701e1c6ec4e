//! A one-engine harness: a scripted peer and world that answer the engine's actions.

use std::collections::BTreeMap;
use std::time::Duration;

use twinbeat_core::{
    Action, Config, DecisionKind, Engine, Event, Handover, Input, Instant, LocalDbSample, NodeId,
    NodeState, PathId, PeerDbReading, PersistedState, ProbeOutcome, Published, PublishedEpoch,
    Reason, Role, Severity, Stage, StandbyReading, StartFacts, TakeoverVerdict,
};

/// How one probed thing answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Answers after `LATENCY`.
    Ok,
    /// Reports a failure after `LATENCY` (connection refused).
    FailFast,
    /// Never answers.
    Silent,
    /// Answers after this long.
    After(Duration),
}

pub(crate) const LATENCY: Duration = Duration::from_millis(1);

/// `Action::Promote` as [`unwindowed`] leaves it (the term cleared too: the terms
/// have their own tests).
pub(crate) const PROMOTE: Action = Action::Promote {
    term: 0,
    synchronous: None,
    connect_by: Instant::ZERO,
    deadline: Instant::ZERO,
};
/// `Action::StopDb` as [`unwindowed`] leaves it.
pub(crate) const STOP_DB: Action = Action::StopDb {
    kill_at: Instant::ZERO,
    deadline: Instant::ZERO,
};

/// `action` with the end of its window cleared, so a sequence of side effects
/// compares by what each effect is (every effect's window has its own rule test,
/// `every_effect_carries_the_end_of_its_window`).
pub(crate) fn unwindowed(action: Action) -> Action {
    match action {
        Action::Promote { synchronous, .. } => Action::Promote {
            term: 0,
            synchronous,
            connect_by: Instant::ZERO,
            deadline: Instant::ZERO,
        },
        Action::SetSyncStandby { synchronous, .. } => Action::SetSyncStandby {
            synchronous,
            deadline: Instant::ZERO,
        },
        Action::StopDb { .. } => STOP_DB,
        Action::RestartDb { lift_guard, .. } => Action::RestartDb {
            lift_guard,
            deadline: Instant::ZERO,
        },
        Action::RunFenceAction { .. } => Action::RunFenceAction {
            deadline: Instant::ZERO,
        },
        Action::EnsureSlot { term, .. } => Action::EnsureSlot {
            term,
            deadline: Instant::ZERO,
        },
        Action::Demote { .. } => Action::Demote {
            deadline: Instant::ZERO,
        },
        Action::Rejoin { term, reclone, .. } => Action::Rejoin {
            term,
            reclone,
            deadline: Instant::ZERO,
        },
        other => other,
    }
}

/// Whether the engine logged decision `kind` for `reason`.
pub(crate) fn decided(h: &Harness, kind: DecisionKind, reason: Reason) -> bool {
    h.log.iter().any(|(_, a)| {
        matches!(a, Action::Log(Event::Decision(d)) if d.kind == kind && d.reason == reason)
    })
}

/// Whether the engine raised a critical alarm for `reason`.
pub(crate) fn alarmed(h: &Harness, reason: Reason) -> bool {
    h.log.iter().any(|(_, a)| {
        *a == Action::Log(Event::Alarm {
            severity: Severity::Critical,
            reason,
        })
    })
}

/// The scripted world around the engine.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub(crate) icmp: Answer,
    pub(crate) remote_db: Answer,
    pub(crate) serial: Answer,
    pub(crate) gateway: Answer,
    pub(crate) local_db: Option<LocalDbSample>,
    pub(crate) peer: NodeState,
    /// What the remote DB path reads when it answers; `None`: what `peer` implies
    /// ([`peer_db_of`]), and no answer from a fenced peer (its DB is stopped).
    pub(crate) peer_db: Option<PeerDbReading>,
    pub(crate) arp_answered: bool,
    /// When the VIP ARP probe reports (the real probe listens for its whole window).
    pub(crate) arp_after: Duration,
    /// How many VIP adds fail before one succeeds.
    pub(crate) vip_add_failures: u32,
    /// Answer to effects (promote, VIP, persist, DB stop).
    pub(crate) effects_ok: bool,
    /// When `pg_promote` answers (`Silent`: the test answers it).
    pub(crate) promote: Answer,
    /// A failed promotion had sent `pg_promote` (and PostgreSQL leaves recovery).
    pub(crate) promote_requested: bool,
    /// When a restart of the local DB answers (and the DB is back).
    pub(crate) restart: Answer,
    /// How the peer answers "take over?" in the ack to a ping that asks (rule
    /// `fence-handshake`); `None`: it never answers.
    pub(crate) takeover: Option<TakeoverVerdict>,
    /// What this node last published in its PostgreSQL (`Action::PublishHandover`).
    pub(crate) published: Option<Published>,
    /// What this node last published of rule `sync-epoch` (`Action::PublishSyncEpoch`
    /// on a primary, `Action::PublishSyncAck` on a standby).
    pub(crate) published_sync: Option<PublishedEpoch>,
    /// How `Action::Rejoin` answers; a success leaves the local DB a replica of the
    /// peer.
    pub(crate) rejoin: Answer,
    /// How `Action::Demote` answers; a success stops the local DB at `final_lsn`.
    pub(crate) demote: Answer,
    /// The shutdown checkpoint's location `Action::Demote` reports.
    pub(crate) final_lsn: u64,
    /// `Action::EnsureSlot` succeeds.
    pub(crate) slot_ok: bool,
    /// `Action::SetSyncStandby` succeeds (and the local sample's names follow it).
    pub(crate) sync_set_ok: bool,
    /// The peer's acks echo the sync epoch of the ping they answer, as a standby
    /// acknowledges its primary's (rule `sync-epoch`).
    pub(crate) echo_sync: bool,
}

pub(crate) fn replica(wal: u64) -> LocalDbSample {
    LocalDbSample {
        accepting: true,
        select_ok: true,
        in_recovery: true,
        wal_lsn: wal,
        replay_lsn: wal,
        timeline: 1,
        standby: StandbyReading::NONE,
    }
}

pub(crate) fn writable(wal: u64) -> LocalDbSample {
    LocalDbSample {
        accepting: true,
        select_ok: true,
        in_recovery: false,
        wal_lsn: wal,
        replay_lsn: 0,
        timeline: 1,
        standby: StandbyReading::NONE,
    }
}

pub(crate) fn peer_state(role: Role, term: u64) -> NodeState {
    NodeState {
        node_id: NodeId(2),
        role,
        term,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 1000,
        human_promoted: false,
        handover: None,
        pause: None,
        switchover: None,
        sync_epoch: None,
        config_fingerprint: None,
    }
}

/// The peer's PostgreSQL as the remote DB path reads it, consistent with the state
/// its frames carry: a node that promoted (or re-opens) published its term; only a
/// primary is out of recovery; a standby never promoted published none.
pub(crate) fn peer_db_of(peer: &NodeState) -> PeerDbReading {
    let claims = peer.role.claims_primary();
    PeerDbReading {
        in_recovery: peer.role != Role::Primary,
        term: claims.then_some(peer.term),
        timeline: 1,
        wal_lsn: peer.wal_lsn,
        published: None,
        sync_epoch: None,
        sync_ack: None,
    }
}

/// What the scripted peer publishes in its PostgreSQL, answering ours as a standby
/// does over the remote DB path (rule `fence-handshake`): `takeover` to a question,
/// `Armed` to `Fencing`.
fn peer_publishes(w: &World) -> Option<Published> {
    let ours = w.published?;
    let stage = match ours.stage {
        Stage::Ask => Stage::Answer(w.takeover?),
        Stage::Fencing => Stage::Armed,
        Stage::Answer(_) | Stage::Armed => return None,
    };
    Some(Published { stage, ..ours })
}

impl World {
    /// Healthy standby side: master alive on every path.
    pub(crate) fn standby_side() -> World {
        World {
            icmp: Answer::Ok,
            remote_db: Answer::Ok,
            serial: Answer::Ok,
            gateway: Answer::Ok,
            local_db: Some(replica(1000)),
            peer: peer_state(Role::Primary, 1),
            peer_db: None,
            arp_answered: false,
            arp_after: LATENCY,
            vip_add_failures: 0,
            effects_ok: true,
            promote: Answer::Ok,
            promote_requested: false,
            restart: Answer::Ok,
            takeover: Some(TakeoverVerdict::Ready),
            published: None,
            published_sync: None,
            rejoin: Answer::Ok,
            demote: Answer::Ok,
            final_lsn: 1000,
            slot_ok: true,
            sync_set_ok: true,
            echo_sync: false,
        }
    }

    /// Healthy master side: standby alive.
    pub(crate) fn master_side() -> World {
        World {
            local_db: Some(writable(1000)),
            peer: peer_state(Role::Standby, 1),
            ..World::standby_side()
        }
    }
}

pub(crate) struct Harness {
    pub(crate) e: Engine,
    pub(crate) now: Instant,
    pub(crate) world: World,
    /// Every action seen, with its time.
    pub(crate) log: Vec<(Instant, Action)>,
    pending: BTreeMap<(Instant, u64), Input>,
    seq: u64,
}

pub(crate) fn cfg() -> Config {
    Config {
        node_id: NodeId(1),
        ..Config::default()
    }
}

/// A node persisted primary in `term`, its DB writable, the VIP not on its interface:
/// it starts in hold.
pub(crate) fn primary_facts(term: u64) -> StartFacts {
    StartFacts {
        persisted: Some(PersistedState {
            role: twinbeat_core::PersistedRole::Primary,
            term,
        }),
        db_in_recovery: false,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    }
}

pub(crate) fn standby_facts() -> StartFacts {
    StartFacts {
        persisted: None,
        db_in_recovery: true,
        vip_held: false,
        maintenance: None,
        run_id: 0,
    }
}

impl Harness {
    pub(crate) fn new(cfg: Config, facts: StartFacts, world: World) -> Harness {
        let now = Instant::from_millis(1_000_000);
        let e = Engine::new(cfg, facts, now).expect("valid config");
        let mut h = Harness {
            e,
            now,
            world,
            log: Vec::new(),
            pending: BTreeMap::new(),
            seq: 0,
        };
        h.drain();
        h
    }

    pub(crate) fn standby(world: World) -> Harness {
        Harness::new(cfg(), standby_facts(), world)
    }

    /// A master that has been serving for a while (resumed from hold on hearing the peer).
    pub(crate) fn master(world: World) -> Harness {
        Harness::master_with(cfg(), world)
    }

    /// [`Harness::master`] with its own config.
    pub(crate) fn master_with(cfg: Config, world: World) -> Harness {
        let mut h = Harness::new(cfg, primary_facts(1), world);
        h.run_for(Duration::from_secs(3));
        assert_eq!(
            h.e.role(),
            Role::Primary,
            "master harness must reach primary"
        );
        h
    }

    fn schedule(&mut self, after: Duration, input: Input) {
        self.seq += 1;
        self.pending.insert((self.now + after, self.seq), input);
    }

    /// Injects an input now (and drains the resulting actions).
    pub(crate) fn input(&mut self, input: Input) {
        self.e.handle_input(self.now, input);
        self.drain();
    }

    fn answer(&mut self, a: Answer, ok: Input, failed: Input) {
        match a {
            Answer::Ok => self.schedule(LATENCY, ok),
            Answer::After(d) => self.schedule(d, ok),
            Answer::FailFast => self.schedule(LATENCY, failed),
            Answer::Silent => {}
        }
    }

    pub(crate) fn drain(&mut self) {
        while let Some(a) = self.e.poll_action() {
            self.log.push((self.now, a));
            self.respond(a);
        }
    }

    fn respond(&mut self, a: Action) {
        let w = self.world.clone();
        let ok_if = |b: bool, yes: Input, no: Input| if b { yes } else { no };
        match a {
            Action::Probe {
                path,
                attempt,
                deadline: _,
                fresh: _,
            } => match path {
                PathId::LocalDb => {
                    let input = Input::LocalDb {
                        attempt,
                        sample: w.local_db,
                    };
                    if w.local_db.is_some() {
                        self.schedule(LATENCY, input);
                    }
                }
                PathId::RemoteDb => {
                    let reading = match w.peer_db {
                        Some(r) => Some(r),
                        // A fenced peer, or one demoting, stopped its PostgreSQL.
                        None if w.peer.fenced || w.peer.role == Role::Demoting => None,
                        None => Some(PeerDbReading {
                            published: peer_publishes(&w),
                            ..peer_db_of(&w.peer)
                        }),
                    };
                    let (outcome, failed) = match reading {
                        Some(_) => (ProbeOutcome::Ok { rtt: LATENCY }, ProbeOutcome::Failed),
                        None => (ProbeOutcome::Failed, ProbeOutcome::Failed),
                    };
                    let ok = Input::RemoteDb {
                        attempt,
                        outcome,
                        reading,
                    };
                    let failed = Input::RemoteDb {
                        attempt,
                        outcome: failed,
                        reading: None,
                    };
                    self.answer(w.remote_db, ok, failed);
                }
                _ => {
                    let ans = match path {
                        PathId::Icmp => w.icmp,
                        _ => w.gateway,
                    };
                    let ok = Input::ProbeDone {
                        path,
                        attempt,
                        outcome: ProbeOutcome::Ok { rtt: LATENCY },
                    };
                    let failed = Input::ProbeDone {
                        path,
                        attempt,
                        outcome: ProbeOutcome::Failed,
                    };
                    self.answer(ans, ok, failed);
                }
            },
            Action::SendPing { seq, state, .. } => {
                let mut peer = w.peer;
                if let (Some(Handover::Asked { lsn }), Some(verdict)) = (state.handover, w.takeover)
                {
                    peer.handover = Some(Handover::Answered { lsn, verdict });
                }
                if w.echo_sync {
                    peer.sync_epoch = state.sync_epoch;
                }
                let ack = Input::AckReceived { seq, peer };
                self.answer(w.serial, ack, Input::SerialDeviceMissing);
            }
            Action::VipArpProbe { attempt, .. } => self.schedule(
                w.arp_after,
                Input::VipArpProbe {
                    attempt,
                    answered: w.arp_answered,
                },
            ),
            Action::Persist(s) => {
                let i = ok_if(w.effects_ok, Input::Persisted(s), Input::PersistFailed(s));
                self.schedule(LATENCY, i)
            }
            Action::Promote { .. } => {
                let ok = w.effects_ok && !matches!(w.promote, Answer::FailFast | Answer::Silent);
                if ok || w.promote_requested {
                    // pg_promote ends recovery.
                    if let Some(db) = self.world.local_db.as_mut() {
                        db.in_recovery = false;
                        if let Action::Promote {
                            synchronous: Some(named),
                            ..
                        } = a
                        {
                            db.standby.named = named;
                            db.standby.synchronous = named && db.standby.streaming;
                        }
                    }
                }
                let failed = Input::PromoteFailed {
                    requested: w.promote_requested,
                };
                let done = ok_if(w.effects_ok, Input::Promoted, failed);
                self.answer(w.promote, done, failed);
            }
            Action::TakeVip => {
                let fails = !w.effects_ok || w.vip_add_failures > 0;
                self.world.vip_add_failures = w.vip_add_failures.saturating_sub(1);
                self.schedule(LATENCY, ok_if(!fails, Input::VipTaken, Input::VipFailed));
            }
            Action::ReleaseVip => self.schedule(LATENCY, Input::VipReleased),
            Action::StopDb { .. } => self.schedule(
                LATENCY,
                ok_if(w.effects_ok, Input::DbStopped, Input::DbStopFailed),
            ),
            Action::RestartDb { lift_guard, .. } => {
                // The daemon lifts the start guard for a restart the engine orders
                // on a primary, so that restart comes back writable; otherwise the
                // DB comes back as it was.
                if lift_guard {
                    if let Some(db) = self.world.local_db.as_mut() {
                        db.in_recovery = false;
                    }
                }
                self.answer(w.restart, Input::DbRestarted, Input::DbRestartFailed)
            }
            Action::RunFenceAction { .. } => self.schedule(LATENCY, Input::FenceActionDone),
            Action::PublishHandover(p) => self.world.published = p,
            Action::PublishSyncEpoch(p) | Action::PublishSyncAck(p) => {
                self.world.published_sync = Some(p);
            }
            Action::Rejoin { .. } => {
                let ok = w.effects_ok && !matches!(w.rejoin, Answer::FailFast | Answer::Silent);
                if ok {
                    self.world.local_db = Some(replica(w.peer.wal_lsn));
                }
                let done = ok_if(ok, Input::Rejoined, Input::RejoinFailed);
                self.answer(w.rejoin, done, Input::RejoinFailed);
            }
            Action::Demote { .. } => {
                let ok = w.effects_ok && !matches!(w.demote, Answer::FailFast | Answer::Silent);
                if ok {
                    self.world.local_db = None;
                }
                let done = ok_if(ok, Input::Demoted { lsn: w.final_lsn }, Input::DemoteFailed);
                self.answer(w.demote, done, Input::DemoteFailed);
            }
            Action::EnsureSlot { term, .. } => self.schedule(
                LATENCY,
                ok_if(
                    w.slot_ok,
                    Input::SlotEnsured { term },
                    Input::SlotNotEnsured { term },
                ),
            ),
            Action::SetSyncStandby { synchronous, .. } => {
                if w.sync_set_ok {
                    if let Some(db) = self.world.local_db.as_mut() {
                        db.standby.named = synchronous;
                        db.standby.synchronous = synchronous && db.standby.streaming;
                    }
                }
                let done = ok_if(
                    w.sync_set_ok,
                    Input::SyncStandbySet { synchronous },
                    Input::SyncStandbyNotSet { synchronous },
                );
                self.schedule(LATENCY, done);
            }
            Action::SendAck { .. }
            | Action::PersistMaintenance(_)
            | Action::ArmStartGuard
            | Action::FlushSerialInput
            | Action::Log(_) => {}
        }
    }

    /// Runs the driver loop until `now + d`.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next_input = self.pending.keys().next().map(|k| k.0);
            let next_timer = self.e.poll_timeout();
            let next = match (next_input, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).expect("the watchdog is always armed"),
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = next;
            if next_input == Some(next) {
                let key = *self.pending.keys().next().expect("present");
                let input = self.pending.remove(&key).expect("present");
                self.e.handle_input(self.now, input);
            } else {
                self.e.handle_timeout(self.now);
            }
            self.drain();
        }
    }

    /// Actions seen since `since` matching `f`.
    pub(crate) fn count_since(&self, since: Instant, f: impl Fn(&Action) -> bool) -> usize {
        self.log.iter().filter(|(t, a)| *t >= since && f(a)).count()
    }

    pub(crate) fn promoted(&self) -> bool {
        self.log
            .iter()
            .any(|(_, a)| matches!(a, Action::Promote { .. }))
    }

    pub(crate) fn fenced_started(&self) -> bool {
        self.log
            .iter()
            .any(|(_, a)| matches!(a, Action::StopDb { .. }))
    }

    /// Lets the standby hear the master so startup grace is over, then settles.
    pub(crate) fn settle(&mut self) {
        self.run_for(Duration::from_secs(2));
    }
}
