//! The safety and liveness invariants, checked after every step of the simulation.

use std::time::Duration;

use twinbeat_core::{
    Action, Config, DecisionKind, Event, Input, Instant, PathId, PersistedRole, Reason,
    ReplicationMode, Role, TakeoverVerdict,
};

use crate::world::{Node, N};

#[path = "checks/liveness.rs"]
mod liveness;
#[path = "checks/promotion.rs"]
mod promotion;
#[path = "checks/serving.rs"]
mod serving;
#[path = "checks/sync.rs"]
mod sync;

use liveness::Liveness;

#[derive(Debug)]
pub(crate) struct Checks {
    cfg: Config,
    violation: Option<String>,
    /// Per node, per peer path (icmp, remote_db, serial): truly usable since.
    up_since: [[Option<Instant>; 3]; 2],
    /// How stale a standby's view of a path may be when it decides.
    slack: Duration,
    /// Liveness bound after a master's death.
    pub(crate) bound: Duration,
    fenced_sent: [bool; 2],
    /// The node fenced: in this daemon run, or in an earlier one that got "fenced"
    /// onto disk. (A fence whose persist failed and whose daemon then crashed is lost:
    /// the restarted engine only knows the older state, as rule `fence-sequence` implies.)
    ever_fenced: [bool; 2],
    liveness: Option<Liveness>,
    next_id: u32,
    /// A fenced frame reached a healthy standby: (standby, when).
    fenced_seen: Option<(N, Instant)>,
    fenced_disturbed: bool,
    promoted_after_fenced: bool,
    /// Shared gateway outage scenario: nobody may fence.
    pub(crate) shared_gateway: bool,
    pub(crate) promotions: u32,
    /// Guarded primaries that re-opened their DB in their own term (rule `start-guard`).
    pub(crate) reopens: u32,
    /// `local-db-restart-once` restarts of a primary whose DB was up read-only (the guard).
    pub(crate) read_only_restarts: u32,
    pub(crate) fences: u32,
    /// A master heard "ready" to its question since it last asked, in this daemon run
    /// (rule `fence-handshake`).
    ready_heard: [bool; 2],
    /// A fence for a lost gateway or an unrecoverable DB was just decided.
    fence_decided: [bool; 2],
    /// Fences of a serving master, each after a "ready" (rule `fence-handshake`).
    pub(crate) handovers: u32,
    /// The node published `Fencing` over the remote DB path (rule `fence-handshake`).
    fencing_published: [bool; 2],
    /// Promotions of a standby armed over the remote DB path (rule `fence-handshake`).
    pub(crate) db_handovers: u32,
    /// Rejoins started (rule `rejoin-after-fence`).
    pub(crate) rejoins: u32,
    /// Actions a maintenance pause held back (rule `maintenance-pause`).
    pub(crate) held_back: u32,
    /// The final LSN each node's frames last offered for a switchover (rule
    /// `planned-switchover`).
    final_lsn_sent: [Option<u64>; 2],
    /// Promotions for a switchover.
    pub(crate) switchovers: u32,
    /// Rule `sync-epoch`: per timeline, the end of the last commit acknowledged while
    /// the primary's names waited for its standby.
    sync_acked: Vec<(u32, u64)>,
    /// A primary named its standby once: `strict`'s promise holds from then on.
    named_once: bool,
    /// Commits acknowledged synchronously.
    pub(crate) sync_commits: u32,
    pub(crate) liveness_checked: u32,
    /// A path that carries state (remote DB or serial) works both ways.
    reach: bool,
    /// Since when the serving invariant's condition holds (`checks/serving.rs`).
    owed_since: Option<Instant>,
    /// The last step at which a node served.
    serving_at: Option<Instant>,
    serving_bound: Duration,
    /// Steps at which the serving invariant was owed (how often it was checked).
    pub(crate) serving_owed_steps: u64,
    /// Episodes of the condition longer than the bound (each a real test of it).
    pub(crate) serving_windows: u32,
    window_counted: bool,
}

impl Checks {
    pub(crate) fn new(cfg: &Config) -> Checks {
        let max_timeout = PathId::PEER
            .iter()
            .map(|p| cfg.path(*p).timeout)
            .max()
            .expect("3");
        let fresh = cfg
            .local_db
            .timeout
            .max(cfg.gateway.timeout)
            .max(cfg.arp_probe_timeout);
        Checks {
            cfg: *cfg,
            violation: None,
            up_since: [[None; 3]; 2],
            slack: max_timeout * 2 + fresh + Duration::from_millis(20),
            bound: cfg.icmp.interval
                + cfg.icmp.timeout
                + cfg.slowest_peer_detection()
                + Duration::from_millis(50),
            fenced_sent: [false; 2],
            ever_fenced: [false; 2],
            liveness: None,
            next_id: 0,
            fenced_seen: None,
            fenced_disturbed: false,
            promoted_after_fenced: false,
            shared_gateway: false,
            promotions: 0,
            reopens: 0,
            read_only_restarts: 0,
            fences: 0,
            ready_heard: [false; 2],
            fence_decided: [false; 2],
            handovers: 0,
            fencing_published: [false; 2],
            db_handovers: 0,
            rejoins: 0,
            held_back: 0,
            final_lsn_sent: [None; 2],
            switchovers: 0,
            sync_acked: Vec::new(),
            named_once: false,
            sync_commits: 0,
            liveness_checked: 0,
            reach: false,
            owed_since: None,
            serving_at: None,
            serving_bound: serving::serving_bound(cfg, serving::EFFECT),
            serving_owed_steps: 0,
            serving_windows: 0,
            window_counted: false,
        }
    }

    fn fail(&mut self, now: Instant, msg: String) {
        if self.violation.is_none() {
            self.violation = Some(format!("at t={} us: {msg}", now.as_micros()));
        }
    }

    pub(crate) fn take_violation(&mut self) -> Option<String> {
        self.violation.take()
    }

    pub(crate) fn update_paths(&mut self, now: Instant, _nodes: &[Node; 2], view: [[bool; 3]; 2]) {
        self.reach = (1..3).any(|p| view[0][p] && view[1][p]);
        for (n, row) in view.iter().enumerate() {
            for (p, up) in row.iter().enumerate() {
                let slot = &mut self.up_since[n][p];
                if *up {
                    slot.get_or_insert(now);
                } else {
                    *slot = None;
                }
            }
        }
    }

    /// After every step: never two active primaries holding the VIP, and never a
    /// writable DB that no daemon watches next to another writable DB (the window the
    /// start guard closes: a rebooted old master up before its daemon).
    pub(crate) fn step(&mut self, now: Instant, nodes: &[Node; 2]) -> Result<(), String> {
        let writable = |n: &Node| n.alive && !n.node_frozen && n.db_running && !n.in_recovery;
        if nodes.iter().all(writable) {
            // A node that never had a state file never ran as primary under the daemon,
            // so it has no guard yet (a first installation): outside the guard's reach.
            let unwatched = nodes
                .iter()
                .position(|n| n.engine.is_none() && n.persisted.is_some());
            if let Some(n) = unwatched {
                self.fail(
                    now,
                    format!("two writable DBs, node {n}'s without a daemon to hold it"),
                );
            }
        }
        self.check_serving(now, nodes);
        if self.owed_since.is_some() {
            self.serving_owed_steps += 1;
        }
        if nodes.iter().all(|n| n.active() && n.vip) {
            self.fail(
                now,
                format!(
                    "both nodes active with the VIP: roles {:?} / {:?}",
                    nodes[0].role(),
                    nodes[1].role()
                ),
            );
        }
        self.violation.take().map_or(Ok(()), Err)
    }

    pub(crate) fn on_start(&mut self, _now: Instant, n: N, nodes: &[Node; 2]) {
        let on_disk = nodes[n]
            .persisted
            .is_some_and(|p| p.role == PersistedRole::Fenced);
        self.ever_fenced[n] = on_disk;
        self.ready_heard[n] = false;
        self.fence_decided[n] = false;
    }

    pub(crate) fn on_input(&mut self, now: Instant, n: N, input: &Input, nodes: &[Node; 2]) {
        let peer = match input {
            Input::PingReceived { peer, .. } | Input::AckReceived { peer, .. } => peer,
            _ => return,
        };
        let me = &nodes[n];
        let healthy = me.role() == Some(Role::Standby)
            && me.db_running
            && me.in_recovery
            && me.gateway_ok
            && nodes[1 - n].wal.saturating_sub(me.wal) <= self.cfg.max_lag_on_failover
            // Rule `sync-epoch`: a `strict` standby without a claim never promotes by
            // itself, a fenced peer or not.
            && (self.cfg.replication != ReplicationMode::Strict
                || me.engine.as_ref().is_some_and(|e| e.holds_sync_claim(now)));
        if peer.fenced && healthy && self.fenced_seen.is_none() {
            self.fenced_seen = Some((n, now));
        }
    }

    pub(crate) fn on_action(&mut self, now: Instant, n: N, a: &Action, nodes: &[Node; 2]) {
        let me = &nodes[n];
        if let Action::SendPing { state, .. } | Action::SendAck { state, .. } = a {
            if let Some(twinbeat_core::SwitchoverStage::Stopped { lsn }) = state.switchover {
                self.final_lsn_sent[n] = Some(lsn);
            }
        }
        match a {
            Action::SendPing { state, .. } | Action::SendAck { state, .. } if state.fenced => {
                if me.db_running || me.vip {
                    self.fail(
                        now,
                        format!(
                            "node {n} advertises fenced with DB running={} VIP={}",
                            me.db_running, me.vip
                        ),
                    );
                }
                self.fenced_sent[n] = true;
            }
            Action::Persist(s) if s.role == PersistedRole::Promoting && self.ever_fenced[n] => {
                self.fail(now, format!("fenced node {n} promotes"));
            }
            Action::Promote { .. } | Action::TakeVip if self.ever_fenced[n] => {
                self.fail(now, format!("fenced node {n} emits {a:?}"));
            }
            Action::Persist(s) if s.role == PersistedRole::Primary && self.ever_fenced[n] => {
                self.fail(now, format!("fenced node {n} persists primary"));
            }
            Action::Log(event) => self.on_event(now, n, event),
            // Only a rejoin makes a fenced node a standby again (rules
            // `rejoin-after-fence`, `planned-switchover`): it may promote later.
            Action::Persist(s) if s.role == PersistedRole::Standby => self.ever_fenced[n] = false,
            Action::Persist(s) if s.role == PersistedRole::Fenced => {
                self.ever_fenced[n] = true;
                self.fences += 1;
                if self.shared_gateway {
                    self.fail(
                        now,
                        format!("node {n} fenced during a shared gateway outage"),
                    );
                }
            }
            _ => {}
        }
    }

    /// Rule `fence-handshake`: a serving master fences for a lost gateway or an
    /// unrecoverable DB only after the standby answered "ready" to its latest question.
    /// (A guarded primary whose re-open failed fences from promoting, on the standby's
    /// last frame: rule `start-guard`.)
    fn on_event(&mut self, now: Instant, n: N, event: &Event) {
        match event {
            Event::TakeoverAsked { .. } => self.ready_heard[n] = false,
            Event::TakeoverAnswered {
                verdict: TakeoverVerdict::Ready,
                ..
            } => self.ready_heard[n] = true,
            Event::Decision(d) if d.kind == DecisionKind::Fence => {
                self.fence_decided[n] = matches!(
                    d.reason,
                    Reason::OwnGatewayDown | Reason::OwnDbUnrecoverable
                );
            }
            Event::RoleChanged {
                from: Role::Primary,
                to: Role::Fencing,
            } if self.fence_decided[n] => {
                self.fence_decided[n] = false;
                if self.ready_heard[n] {
                    self.handovers += 1;
                } else {
                    self.fail(
                        now,
                        format!("node {n} fenced with no \"ready\" from its standby"),
                    );
                }
            }
            _ => {}
        }
    }

    /// Every action the engine requests, applied or not (the world may crash the
    /// daemon before carrying it out): the decision itself is what is checked.
    pub(crate) fn on_request(&mut self, now: Instant, n: N, a: &Action, nodes: &[Node; 2]) {
        if matches!(a, Action::Promote { .. }) {
            self.check_promote(now, n, nodes);
        }
        self.check_paused(now, n, a, nodes);
        if matches!(a, Action::Log(Event::Decision(d)) if d.kind == DecisionKind::Maintenance) {
            self.held_back += 1;
        }
        if let Action::Rejoin { term, .. } = a {
            // Rule `rejoin-after-fence`: only ever onto a term the peer promoted into
            // (it published it before its `pg_promote`), above this node's own.
            self.rejoins += 1;
            let own = nodes[n].engine.as_ref().map_or(0, |e| e.term());
            let peer_promoted = nodes[1 - n].published_term.is_some_and(|t| t >= *term);
            if *term <= own || !peer_promoted {
                self.fail(
                    now,
                    format!(
                        "node {n} rejoins term {term} (own term {own}) the peer never promoted into"
                    ),
                );
            }
        }
        if let Action::PublishHandover(Some(p)) = a {
            if p.stage == twinbeat_core::Stage::Fencing {
                self.fencing_published[n] = true;
            }
        }
        let me = &nodes[n];
        if matches!(a, Action::RestartDb { .. })
            && me.role() == Some(Role::Primary)
            && me.in_recovery
        {
            self.read_only_restarts += 1;
        }
        if matches!(a, Action::Persist(s) if s.role == PersistedRole::Promoting) {
            self.check_promotion(now, n, nodes);
            self.promotions += 1;
            let armed = nodes[n]
                .engine
                .as_ref()
                .and_then(|e| e.last_decision())
                .is_some_and(|d| d.reason == Reason::PeerFencing);
            if armed {
                self.db_handovers += 1;
            }
            if let Some(l) = self.liveness.as_mut().filter(|l| l.standby == n) {
                l.promoted = true;
            }
            if self.fenced_seen.is_some_and(|(s, _)| s == n) {
                self.promoted_after_fenced = true;
            }
        }
    }

    /// Rule `maintenance-pause`: a paused node never restarts or stops its PostgreSQL
    /// for its own health, never fences for a lost gateway or DB (only a higher term,
    /// or a failed rejoin, may fence it) and never promotes for lost paths (only a
    /// fenced peer's handover).
    fn check_paused(&mut self, now: Instant, n: N, a: &Action, nodes: &[Node; 2]) {
        let Some(e) = nodes[n]
            .engine
            .as_ref()
            .filter(|e| e.maintenance().is_some())
        else {
            return;
        };
        let why = e.last_decision().map(|d| d.reason);
        let bad = match a {
            Action::RestartDb { .. } => Some("restarts its DB"),
            Action::Log(Event::Decision(d))
                if d.kind == DecisionKind::Fence
                    && matches!(
                        d.reason,
                        Reason::OwnGatewayDown | Reason::OwnDbUnrecoverable
                    ) =>
            {
                Some("fences for its gateway or DB")
            }
            // A fence begun before the pause runs to its end (its stop is retried
            // until confirmed); any other stop is the health rule's.
            Action::StopDb { .. } if e.role() != Role::Fencing => Some("stops its DB"),
            Action::Persist(s)
                if s.role == PersistedRole::Promoting
                    && !matches!(why, Some(Reason::PeerFenced | Reason::PeerFencing)) =>
            {
                Some("promotes")
            }
            _ => None,
        };
        if let Some(what) = bad {
            self.fail(
                now,
                format!("node {n} {what} while paused (last decision {why:?})"),
            );
        }
    }

    /// `pg_promote` only after "promoting" was persisted in the engine's term (rule `promotion-order`),
    /// or as a guarded primary re-opening its DB in its own persisted term (rule `start-guard`).
    /// A `Promote` of a writable server sends no `pg_promote`: `strict` resumes through
    /// it to name its standby before the VIP (rule `sync-epoch`).
    fn check_promote(&mut self, now: Instant, n: N, nodes: &[Node; 2]) {
        let me = &nodes[n];
        if me.db_running && !me.in_recovery {
            return;
        }
        let Some(term) = me.engine.as_ref().map(|e| e.term()) else {
            return;
        };
        match me.persisted {
            Some(p) if p.term == term && p.role == PersistedRole::Promoting => {}
            // A guarded primary's re-open; or a withdrawn switchover's, whose
            // "primary" may not be on disk yet (rule `planned-switchover`).
            Some(p)
                if p.term == term
                    && matches!(
                        p.role,
                        PersistedRole::Primary | PersistedRole::Demoting { .. }
                    ) =>
            {
                self.reopens += 1
            }
            p => self.fail(
                now,
                format!("node {n} promotes in term {term} with persisted state {p:?}"),
            ),
        }
    }

    /// End of a schedule: promises that must have been kept.
    pub(crate) fn end(&mut self, now: Instant, nodes: &[Node; 2]) -> Result<(), String> {
        if let Some((s, t)) = self.fenced_seen {
            let settle = self.slack + self.cfg.gateway.interval;
            if !self.fenced_disturbed
                && now >= t + settle
                && !self.promoted_after_fenced
                && nodes[s].active()
            {
                self.fail(
                    now,
                    format!(
                        "node {s} heard a fenced peer at {} but never promoted",
                        t.as_micros()
                    ),
                );
            }
        }
        if self.shared_gateway && !nodes.iter().any(|n| n.active() && n.vip) {
            self.fail(
                now,
                "shared gateway outage left the pair without a primary".into(),
            );
        }
        self.violation.take().map_or(Ok(()), Err)
    }
}
