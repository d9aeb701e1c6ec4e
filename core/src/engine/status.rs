//! Read-only views of the engine: what the status page shows and frames carry.

use super::Engine;
use crate::config::Config;
use crate::io::Decision;
use crate::time::Instant;
use crate::types::{
    BridgeStatus, LocalDbSample, NodeState, OwnState, PathHealth, PathId, PathStatus,
    PeerDbReading, PeerView, Role,
};

impl Engine {
    /// The engine's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The engine's term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether this node advertises itself fenced.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Status of one path, as the rules see it (the serial path includes the bridge's
    /// verdict when a bridge is configured).
    pub fn path(&self, path: PathId) -> PathStatus {
        self.effective_path(path)
    }

    /// The last decision and its reason.
    pub fn last_decision(&self) -> Option<Decision> {
        self.last_decision
    }

    /// The last peer state heard and when.
    pub fn peer(&self) -> Option<PeerView> {
        self.peer
    }

    /// The last bridge status heard and when.
    pub fn bridge(&self) -> Option<(BridgeStatus, Instant)> {
        self.bridge
    }

    /// The last local DB sample.
    pub fn local_db(&self) -> Option<LocalDbSample> {
        self.local
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Actions dropped because the queue was full (the driver did not drain it).
    pub fn dropped_actions(&self) -> u32 {
        self.dropped_actions
    }

    /// Frames dropped because they carried this node's own id: echoes of its own
    /// frames, or a peer configured with the same id (rule `own-frames-dropped`).
    pub fn own_frames_dropped(&self) -> u32 {
        self.own_frames_dropped
    }

    /// This node's state, as put in every frame.
    pub fn own_state(&self) -> OwnState {
        NodeState {
            node_id: self.cfg.node_id,
            role: self.role,
            term: self.term,
            fenced: self.fenced,
            db_healthy: self.local_healthy && !self.db_stopped,
            gateway_up: self.paths[PathId::Gateway.index()].status.health != PathHealth::Down,
            wal_lsn: self.local.map_or(0, |s| s.wal_lsn),
            human_promoted: self.promoted_by_hand(),
            handover: self.handover_to_send(),
            pause: self.pause_to_send(),
            switchover: self.switchover_to_send(),
            sync_epoch: self.sync_epoch_to_send(),
            config_fingerprint: self.cfg.fingerprint,
        }
    }

    /// Rule `pair-agrees`: this node's fingerprint and the one the peer's frames last
    /// carried (`None` until a frame carried one, or when this node has none).
    pub fn pair_fingerprints(&self) -> Option<(u32, u32)> {
        self.cfg.fingerprint.zip(self.peer_fingerprint)
    }

    /// Rule `human-promoted-standby`: a standby whose PostgreSQL serves writes.
    pub(super) fn promoted_by_hand(&self) -> bool {
        self.role == Role::Standby && self.local.is_some_and(|s| s.healthy() && !s.in_recovery)
    }

    /// The last reading of the peer's PostgreSQL over the remote DB path and when.
    pub fn peer_db(&self) -> Option<(PeerDbReading, Instant)> {
        self.peer_db
    }

    /// Whether an operator may release this node's hold now
    /// ([`Engine::release_hold`]).
    pub fn hold_releasable(&self) -> bool {
        self.role == Role::Hold && self.hold_waiting && !self.hold_heard_peer
    }
}
