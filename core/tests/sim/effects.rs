//! How the world carries out each engine action and each scheduled fault.

use std::time::Duration;

use twinbeat_core::{
    Action, Input, LocalDbSample, PathId, PeerDbReading, ProbeOutcome, StandbyReading,
};

use crate::world::{Ev, Fault, World, BOOT, N};

impl World {
    pub(crate) fn apply(&mut self, n: N, a: Action) {
        let o = 1 - n;
        self.checks.on_action(self.now, n, &a, &self.nodes);
        let lat = self.latency();
        match a {
            Action::Probe { path, attempt, .. } => {
                let view = self.path_view()[n];
                let other = &self.nodes[o];
                match path {
                    PathId::Icmp | PathId::RemoteDb => {
                        let ok = if path == PathId::Icmp {
                            view[0]
                        } else {
                            view[1]
                        };
                        let refused = path == PathId::RemoteDb
                            && other.alive
                            && !other.node_frozen
                            && !self.cut_db
                            && !other.db_running;
                        if ok && path == PathId::RemoteDb {
                            let reading = PeerDbReading {
                                in_recovery: other.in_recovery,
                                term: other.published_term,
                                timeline: other.timeline,
                                wal_lsn: other.wal,
                                published: other.published,
                                sync_epoch: other.published_sync[0],
                                sync_ack: other.published_sync[1],
                            };
                            let outcome = ProbeOutcome::Ok { rtt: lat };
                            let reading = Some(reading);
                            let input = Input::RemoteDb {
                                attempt,
                                outcome,
                                reading,
                            };
                            self.deliver(n, lat, input);
                        } else if ok {
                            let outcome = ProbeOutcome::Ok { rtt: lat };
                            self.deliver(
                                n,
                                lat,
                                Input::ProbeDone {
                                    path,
                                    attempt,
                                    outcome,
                                },
                            );
                        } else if path == PathId::RemoteDb && (refused || self.rng.u8(0..4) == 0) {
                            let input = Input::RemoteDb {
                                attempt,
                                outcome: ProbeOutcome::Failed,
                                reading: None,
                            };
                            self.deliver(n, lat, input);
                        } else if refused || self.rng.u8(0..4) == 0 {
                            let outcome = ProbeOutcome::Failed;
                            self.deliver(
                                n,
                                lat,
                                Input::ProbeDone {
                                    path,
                                    attempt,
                                    outcome,
                                },
                            );
                        }
                    }
                    PathId::Gateway => {
                        let outcome = if self.nodes[n].gateway_ok {
                            ProbeOutcome::Ok { rtt: lat }
                        } else {
                            ProbeOutcome::Failed
                        };
                        if self.nodes[n].gateway_ok || self.rng.bool() {
                            self.deliver(
                                n,
                                lat,
                                Input::ProbeDone {
                                    path,
                                    attempt,
                                    outcome,
                                },
                            );
                        }
                    }
                    PathId::LocalDb => {
                        let streaming = !self.nodes[n].in_recovery && self.streams_to(n);
                        let me = &self.nodes[n];
                        let standby = StandbyReading {
                            named: me.sync_names && !me.in_recovery,
                            streaming,
                            synchronous: me.sync_names && streaming,
                        };
                        let sample = me.db_running.then_some(LocalDbSample {
                            accepting: true,
                            select_ok: true,
                            in_recovery: me.in_recovery,
                            wal_lsn: me.wal,
                            replay_lsn: if me.in_recovery { me.wal } else { 0 },
                            timeline: me.timeline,
                            standby,
                        });
                        self.deliver(n, lat, Input::LocalDb { attempt, sample });
                    }
                    PathId::Serial => {}
                }
            }
            Action::SendPing { seq, echo, state } => self.serial(
                o,
                Input::PingReceived {
                    seq,
                    echoed: echo,
                    peer: state,
                },
            ),
            Action::SendAck { seq, state } => {
                self.serial(o, Input::AckReceived { seq, peer: state })
            }
            Action::VipArpProbe { attempt, .. } => {
                let other = &self.nodes[o];
                let answered = other.vip && other.alive && !other.node_frozen && !self.cut_icmp;
                let d = Duration::from_millis(self.rng.u64(5..20));
                self.deliver(n, d, Input::VipArpProbe { attempt, answered });
            }
            Action::RestartDb { lift_guard, .. } => {
                let nd = &mut self.nodes[n];
                let ok = !nd.db_broken;
                if ok {
                    // The daemon lifts the guard for a restart the engine orders with
                    // `lift_guard` (writable after it); otherwise `standby.signal`
                    // decides.
                    let in_recovery = nd.signal && !lift_guard;
                    if !nd.db_running || nd.in_recovery != in_recovery {
                        nd.db_changed_at = self.now;
                    }
                    nd.db_running = true;
                    nd.clean_stop = None;
                    nd.in_recovery = in_recovery;
                }
                let d = Duration::from_millis(50);
                self.deliver(
                    n,
                    d,
                    if ok {
                        Input::DbRestarted
                    } else {
                        Input::DbRestartFailed
                    },
                );
            }
            Action::StopDb { .. } if self.effect_fails() => {
                self.deliver(n, Duration::from_millis(20), Input::DbStopFailed);
            }
            Action::StopDb { .. } => {
                let nd = &mut self.nodes[n];
                if nd.db_running {
                    nd.db_running = false;
                    nd.clean_stop = None;
                    nd.db_changed_at = self.now;
                    self.postmaster_exited(n);
                }
                self.deliver(n, Duration::from_millis(20), Input::DbStopped);
            }
            Action::Demote { .. } if self.effect_fails() => {
                self.deliver(n, Duration::from_millis(20), Input::DemoteFailed);
            }
            // `CHECKPOINT`, a fast (clean) shutdown and `pg_controldata`: the shutdown
            // checkpoint is the last WAL record, streamed to a replica that streams; a
            // server already shut down cleanly is only read.
            Action::Demote { .. } => {
                let nd = &self.nodes[n];
                let input = if nd.db_running && !nd.in_recovery {
                    let lsn = nd.wal;
                    self.nodes[n].wal += 1;
                    self.stream_from(n);
                    let nd = &mut self.nodes[n];
                    nd.db_running = false;
                    nd.clean_stop = Some(lsn);
                    nd.db_changed_at = self.now;
                    self.postmaster_exited(n);
                    Input::Demoted { lsn }
                } else if nd.db_running {
                    // In recovery: stopped, but no primary's shutdown to hand over.
                    let nd = &mut self.nodes[n];
                    nd.db_running = false;
                    nd.db_changed_at = self.now;
                    self.postmaster_exited(n);
                    Input::DemoteFailed
                } else {
                    match nd.clean_stop {
                        Some(lsn) => Input::Demoted { lsn },
                        None => Input::DemoteFailed,
                    }
                };
                self.deliver(n, Duration::from_millis(30), input);
            }
            Action::Promote {
                term, synchronous, ..
            } => {
                // A failure comes before `pg_promote` was sent, or after it (the
                // confirmation timed out but PostgreSQL finishes the promotion).
                let fails = self.effect_fails();
                let requested = fails && self.rng.bool();
                let nd = &mut self.nodes[n];
                if nd.db_running && (!fails || requested) {
                    // The term is published first, then `pg_promote`. PostgreSQL
                    // removes `standby.signal` and starts the next timeline; the
                    // engine arms the guard again once it is primary
                    // (`ArmStartGuard`).
                    nd.published_term = Some(term);
                    let promoted = nd.in_recovery;
                    if nd.in_recovery {
                        nd.in_recovery = false;
                        nd.timeline += 1;
                        nd.signal = false;
                    }
                    // Rule `sync-epoch`: the names for the new situation, before the
                    // answer (and so before the VIP).
                    if let (Some(named), false) = (synchronous, fails) {
                        nd.sync_names = named;
                    }
                    if promoted {
                        self.checks.on_promoted(self.now, n, &self.nodes);
                    }
                }
                let nd = &mut self.nodes[n];
                let input = if nd.db_running && !fails {
                    Input::Promoted
                } else {
                    Input::PromoteFailed {
                        requested: nd.db_running && requested,
                    }
                };
                self.deliver(n, lat * 4, input);
            }
            // Transient faults: at most three failed VIP adds in a row (the engine backs
            // off up to 30 s between attempts, which no schedule outlasts; a lasting
            // VIP fault has its own rule test, `vip_add_failure_is_retried_with_backoff_and_one_alarm`).
            Action::TakeVip if self.nodes[n].vip_failures < 3 && self.effect_fails() => {
                self.nodes[n].vip_failures += 1;
                self.deliver(n, lat, Input::VipFailed)
            }
            Action::TakeVip => {
                self.nodes[n].vip_failures = 0;
                self.nodes[n].vip = true;
                self.deliver(n, lat, Input::VipTaken);
            }
            Action::ReleaseVip => {
                self.nodes[n].vip = false;
                self.deliver(n, lat, Input::VipReleased);
            }
            Action::Persist(s) if self.effect_fails() => {
                self.deliver(n, lat, Input::PersistFailed(s))
            }
            Action::Persist(s) => {
                self.nodes[n].persisted = Some(s);
                self.deliver(n, lat, Input::Persisted(s));
            }
            Action::RunFenceAction { .. } => self.deliver(n, lat, Input::FenceActionDone),
            // Nothing of a pause is queued in the simulated serial line.
            // The daemon writes `standby.signal` into the data directory.
            Action::ArmStartGuard => self.nodes[n].signal = true,
            // `ALTER SYSTEM` needs a running server.
            Action::PublishHandover(p) => {
                let nd = &mut self.nodes[n];
                if nd.db_running && !nd.node_frozen {
                    nd.published = p;
                }
            }
            Action::PublishSyncEpoch(p) | Action::PublishSyncAck(p) => {
                let which = usize::from(matches!(a, Action::PublishSyncAck(_)));
                let fails = self.effect_fails();
                let nd = &mut self.nodes[n];
                if nd.db_running && !nd.node_frozen && !fails {
                    nd.published_sync[which] = Some(p);
                }
            }
            // The daemon saves the old timeline's report, rewinds from the peer's
            // PostgreSQL (which must be a running primary), starts the replica and
            // waits until it streams; `postgresql.auto.conf` comes from the peer.
            Action::Rejoin { .. } => {
                let other = &self.nodes[o];
                let source = other.alive && other.db_running && !other.in_recovery;
                let ok = source && !self.cut_db;
                let ok = ok && !self.effect_fails();
                let other = &self.nodes[o];
                let (timeline, wal, term, published, sync_names, published_sync) = (
                    other.timeline,
                    other.wal,
                    other.published_term,
                    other.published,
                    other.sync_names,
                    other.published_sync,
                );
                let nd = &mut self.nodes[n];
                if ok && !nd.db_broken {
                    nd.sync_names = sync_names;
                    nd.db_running = true;
                    nd.clean_stop = None;
                    nd.in_recovery = true;
                    nd.signal = true;
                    nd.timeline = timeline;
                    nd.wal = wal;
                    nd.published_term = term;
                    nd.published = published;
                    nd.published_sync = published_sync;
                    nd.db_changed_at = self.now;
                }
                let input = if ok && !nd.db_broken {
                    Input::Rejoined
                } else {
                    Input::RejoinFailed
                };
                self.deliver(n, Duration::from_millis(200), input);
            }
            // The slot on the peer and `primary_slot_name` here: needs the peer's
            // PostgreSQL up and reachable.
            // Transient faults: at most two failed changes in a row (a lasting one has
            // its rule test, `a_failed_change_of_the_names_is_tried_again`).
            Action::SetSyncStandby { synchronous, .. } => {
                let transient = self.nodes[n].sync_failures < 2 && self.effect_fails();
                let input = if !self.nodes[n].db_running || transient {
                    self.nodes[n].sync_failures += u32::from(transient);
                    Input::SyncStandbyNotSet { synchronous }
                } else {
                    self.nodes[n].sync_failures = 0;
                    self.nodes[n].sync_names = synchronous;
                    if !synchronous {
                        self.checks.on_names_cleared(self.now, n, &self.nodes);
                    }
                    Input::SyncStandbySet { synchronous }
                };
                self.deliver(n, Duration::from_millis(10), input);
            }
            Action::EnsureSlot { term, .. } => {
                let other = &self.nodes[o];
                let ok = other.alive && other.db_running && !self.cut_db && !self.effect_fails();
                let input = if ok {
                    Input::SlotEnsured { term }
                } else {
                    Input::SlotNotEnsured { term }
                };
                self.deliver(n, Duration::from_millis(10), input);
            }
            Action::PersistMaintenance(p) => {
                self.nodes[n].maintenance = p.map(|w| (self.now, w.left))
            }
            Action::FlushSerialInput | Action::Log(_) => {}
        }
    }

    /// The daemon's postmaster watch reports an exit within its period — two times in
    /// three: a postmaster the daemon did not see start (started behind it, between two
    /// looks) goes unreported, and the local DB checks find it instead.
    fn postmaster_exited(&mut self, n: N) {
        if self.rng.u8(0..3) == 0 {
            return;
        }
        let d = Duration::from_millis(self.rng.u64(5..25));
        self.deliver(n, d, Input::PostmasterExited);
    }

    /// Whether this side effect fails (never `ReleaseVip`: a VIP that cannot be
    /// removed defeats any failover design, and the engine only retries it).
    fn effect_fails(&mut self) -> bool {
        self.effect_fail_pct > 0 && self.rng.u8(0..100) < self.effect_fail_pct
    }

    fn serial(&mut self, to: N, input: Input) {
        if self.cut_serial || self.rng.u8(0..100) < self.serial_loss {
            return;
        }
        let d = self.serial_delay + Duration::from_micros(self.rng.u64(1_000..5_000));
        self.deliver(to, d, input);
    }

    pub(crate) fn fault(&mut self, f: Fault) {
        let now = self.now;
        if let Some((at, id)) = self.checks.on_fault(now, &f, &self.nodes) {
            self.at(at, Ev::Liveness(id));
        }
        match f {
            Fault::StartDaemon(n) => self.start_daemon(n),
            Fault::HostDeath(n) => {
                let nd = &mut self.nodes[n];
                nd.alive = false;
                nd.clean_stop = nd.clean_stop.filter(|_| !nd.db_running);
                nd.engine = None;
                nd.inc += 1;
                nd.db_running = false;
                nd.db_changed_at = now;
                nd.vip = false; // the address dies with the host
                nd.node_frozen = false;
                nd.proc_frozen = false;
                nd.deferred.clear();
            }
            Fault::HostRevive(n) => {
                let nd = &mut self.nodes[n];
                if !nd.alive {
                    nd.alive = true;
                    self.unordered_db_start(n);
                    self.after(BOOT, Ev::Restart(n));
                }
            }
            Fault::NodeFreeze(n, d) | Fault::ProcFreeze(n, d) => {
                let nd = &mut self.nodes[n];
                if nd.alive && !nd.node_frozen && !nd.proc_frozen {
                    if matches!(f, Fault::NodeFreeze(..)) {
                        nd.node_frozen = true;
                    } else {
                        nd.proc_frozen = true;
                    }
                    nd.frozen_until = now + d;
                    self.after(d, Ev::Resume(n));
                }
            }
            Fault::DaemonCrash(n, d) => self.crash_daemon(n, d),
            Fault::CrashOnStep(n, step, before, d) => {
                self.nodes[n].crash_on = Some((step, before, d))
            }
            Fault::CutIcmp(c) => self.cut_icmp = c,
            Fault::CutDb(c) => self.cut_db = c,
            Fault::CutSerial(c) => self.cut_serial = c,
            Fault::SerialLoss(p) => self.serial_loss = p,
            Fault::SerialDelay(d) => self.serial_delay = d,
            Fault::Gateway(n, up) => {
                self.nodes[n].gateway_ok = up;
                self.nodes[n].gateway_changed_at = now;
            }
            Fault::DbBroken(n, broken) => {
                let nd = &mut self.nodes[n];
                nd.db_broken = broken;
                if broken && nd.db_running {
                    nd.db_running = false;
                    nd.db_changed_at = now;
                    self.postmaster_exited(n);
                }
            }
            // The operator's command reaches a running, unfrozen daemon only.
            Fault::OperatorPause(n, d) => {
                if self.nodes[n].active() {
                    if let Some(e) = self.nodes[n].engine.as_mut() {
                        e.pause(now, d);
                    }
                    self.drain(n);
                }
            }
            Fault::OperatorUnpause(n) => {
                if self.nodes[n].active() {
                    if let Some(e) = self.nodes[n].engine.as_mut() {
                        let _ = e.unpause(now);
                    }
                    self.drain(n);
                }
            }
            Fault::OperatorSwitchover(n) => {
                if self.nodes[n].active() {
                    if let Some(e) = self.nodes[n].engine.as_mut() {
                        let _ = e.request_switchover(now);
                    }
                    self.drain(n);
                }
            }
            Fault::DbCrash(n) => {
                let nd = &mut self.nodes[n];
                if nd.db_running {
                    nd.db_running = false;
                    nd.db_changed_at = now;
                    self.postmaster_exited(n);
                }
            }
            Fault::DbAutoRestart(n) => {
                if self.nodes[n].alive {
                    self.unordered_db_start(n);
                }
            }
            Fault::ReplicationStall(s) => self.repl_stalled = s,
            Fault::Write(bytes) => {
                for n in 0..2 {
                    let nd = &self.nodes[n];
                    if nd.alive && nd.db_running && !nd.in_recovery && nd.vip {
                        // A commit is acknowledged at once without names; with them,
                        // only once the standby has it (rule `sync-epoch`): otherwise
                        // it waits, its WAL written but not acknowledged.
                        let streams = self.streams_to(n);
                        self.nodes[n].wal += bytes;
                        self.stream_from(n);
                        let named = self.nodes[n].sync_names;
                        if !named || streams {
                            self.checks.on_commit(self.now, n, named, &self.nodes);
                        }
                    }
                }
            }
        }
    }

    /// Whether the other node streams from `n`: alive, a running replica, replication
    /// neither stalled nor cut.
    fn streams_to(&self, n: N) -> bool {
        let o = &self.nodes[1 - n];
        !self.repl_stalled && !self.cut_db && o.alive && o.db_running && o.in_recovery
    }

    /// The replica receives and replays the primary's WAL at once, unless replication
    /// is stalled or cut.
    fn stream_from(&mut self, n: N) {
        if self.streams_to(n) {
            let (wal, timeline) = (self.nodes[n].wal, self.nodes[n].timeline);
            let o = &mut self.nodes[1 - n];
            o.wal = wal;
            o.timeline = o.timeline.max(timeline);
        }
    }
}
