//! The words for the engine's reasons and decisions: a stable `snake_case` code for
//! scripts (the status document, hook environments, metric labels) and a sentence for a
//! human (the status table, the logs). The one place each is spelt.

use crate::io::{DecisionKind, Reason, Severity};

impl Reason {
    /// The stable code, in `snake_case`.
    pub const fn code(self) -> &'static str {
        self.words().0
    }

    /// What it means, as a sentence fragment for an operator.
    pub const fn text(self) -> &'static str {
        self.words().1
    }

    const fn words(self) -> (&'static str, &'static str) {
        use Reason as R;
        match self {
            R::AllPathsDownTogether => ("all_paths_down_together", "every peer path went down within the failure window: the master is gone"),
            R::AllPathsDownDegraded => ("all_paths_down_degraded", "every peer path is down, one long before the others, and promote_when_degraded is set"),
            R::DegradedPair => ("degraded_pair", "a peer path has been down long before the others: automatic promotion is disarmed"),
            R::PeerFenced => ("peer_fenced", "the peer says it is fenced: it hands over"),
            R::StartupGrace => ("startup_grace", "startup_grace is running and the master was never heard"),
            R::LocalDbUnhealthy => ("local_db_unhealthy", "the local PostgreSQL is not healthy"),
            R::LocalDbNotInRecovery => ("local_db_not_in_recovery", "the local PostgreSQL is not in recovery where a replica was expected"),
            R::LocalDbStopped => ("local_db_stopped", "the local PostgreSQL was stopped after its one restart failed"),
            R::GatewayDown => ("gateway_down", "this node's gateway does not answer"),
            R::NotStreaming => ("not_streaming", "this standby's WAL is further behind than max_lag_on_failover: replication stopped?"),
            R::LagTooHigh { .. } => ("lag_too_high", "the standby lags by more than max_lag_on_failover"),
            R::VipAnswered => ("vip_answered", "another host answers ARP for the VIP"),
            R::FreshCheckTimeout => ("fresh_check_timeout", "a fresh check before acting got no answer in time"),
            R::OwnDbUnrecoverable => ("own_db_unrecoverable", "this master's PostgreSQL did not recover after its restart"),
            R::OwnGatewayDown => ("own_gateway_down", "this master lost its gateway"),
            R::SharedGatewayOutage => ("shared_gateway_outage", "the peer lost its gateway too: a shared outage, nobody fences"),
            R::PeerDbUnhealthy => ("peer_db_unhealthy", "the peer's PostgreSQL is not healthy, so it cannot take over"),
            R::PeerNotStandby => ("peer_not_standby", "the peer is not a standby that could take over"),
            R::PeerStateStale => ("peer_state_stale", "the peer's state is older than peer_state_max_age"),
            R::PeerWins => ("peer_wins", "the peer is primary in a higher term, or wins the tie"),
            R::PeerHeard => ("peer_heard", "the peer was heard and does not win"),
            R::PeerDbAnswered => ("peer_db_answered", "the peer's PostgreSQL answered before pg_promote: promotion aborted"),
            R::PeerNotHeard => ("peer_not_heard", "nothing heard from the peer: holding until evidence or an operator's release"),
            R::PeerDbInRecovery => ("peer_db_in_recovery", "the peer's PostgreSQL is a replica that has not taken over"),
            R::PeerDbAhead => ("peer_db_ahead", "the peer's PostgreSQL is ahead (a higher term or a later timeline): no evidence either way yet"),
            R::SecondWritablePeer => ("second_writable_peer", "the peer's PostgreSQL is writable too, in no higher term: two writable databases need an operator"),
            R::PeerHumanPromoted => ("peer_human_promoted", "the peer's PostgreSQL was promoted by hand"),
            R::LocalDbPromotedByHand => ("local_db_promoted_by_hand", "this standby's PostgreSQL left recovery without twinbeat"),
            R::OperatorRelease => ("operator_release", "an operator released the hold (resume --force-primary)"),
            R::PromotionPending => ("promotion_pending", "pg_promote was sent and PostgreSQL has not left recovery yet"),
            R::PeerAliveButSilent => ("peer_alive_but_silent", "the peer's paths are up but no frame carries its state"),
            R::Restarted => ("restarted", "started from the persisted state"),
            R::Paused => ("paused", "this node's timers fired far too late (a pause): treated as a restart"),
            R::PersistFailed => ("persist_failed", "the state could not be written to state_dir"),
            R::PromoteFailed => ("promote_failed", "pg_promote failed"),
            R::VipFailed => ("vip_failed", "the VIP could not be taken"),
            R::VipReleaseFailed => ("vip_release_failed", "the VIP could not be released"),
            R::DbStopFailed => ("db_stop_failed", "stopping PostgreSQL could not be confirmed"),
            R::DbRestartFailed => ("db_restart_failed", "restarting PostgreSQL failed"),
            R::SerialDeviceMissing => ("serial_device_missing", "the serial device is missing"),
            R::TakeoverRefused(_) => ("takeover_refused", "the standby answered that it cannot take over"),
            R::TakeoverNotAnswered => ("takeover_not_answered", "the standby did not answer the question to take over in time"),
            R::PeerFencing => ("peer_fencing", "the master published that it is fencing and its PostgreSQL is gone"),
            R::OwnNodeIdHeard => ("own_node_id_heard", "a frame carried this node's own id: a looped cable, or both nodes share node_id"),
            R::OperatorRejoin => ("operator_rejoin", "an operator asked this fenced node to rejoin"),
            R::AutoRejoin => ("auto_rejoin", "auto_rejoin: the peer is primary in a higher term"),
            R::RejoinInterrupted => ("rejoin_interrupted", "a rejoin was under way when the daemon stopped: taken up again"),
            R::RejoinFailed => ("rejoin_failed", "the rejoin failed: the node stays fenced with PostgreSQL stopped"),
            R::OperatorPause => ("operator_pause", "an operator paused the pair on this node"),
            R::PeerPause => ("peer_pause", "the peer's frames carry a pause"),
            R::OperatorUnpause => ("operator_unpause", "an operator ended the pause on this node"),
            R::PeerUnpause => ("peer_unpause", "the pause ended on the peer"),
            R::MaintenanceEnded => ("maintenance_ended", "the pause's time ran out"),
            R::ReadOnlyInMaintenance => ("read_only_in_maintenance", "the primary's PostgreSQL came back read-only during a pause"),
            R::OperatorSwitchover => ("operator_switchover", "an operator asked for a planned switchover"),
            R::PeerRequestedSwitchover => ("peer_requested_switchover", "the standby asks for a planned switchover"),
            R::Switchover => ("switchover", "the master stopped for a switchover and this standby replayed past its final position"),
            R::SwitchoverTimedOut => ("switchover_timed_out", "the standby did not take over within switchover_timeout: withdrawn"),
            R::DemoteFailed => ("demote_failed", "the master's PostgreSQL could not be stopped cleanly: switchover withdrawn"),
            R::SwitchoverWithdrawn => ("switchover_withdrawn", "the master withdrew the switchover before pg_promote"),
            R::ReplayBehind { .. } => ("replay_behind", "the standby has not replayed the master's final position yet"),
            R::SwitchoverRefused(_) => ("switchover_refused", "the master's checks refused the switchover"),
            R::SlotNotEnsured => ("slot_not_ensured", "the standby's replication slot could not be made sure of"),
            R::SyncStandbyAway => ("sync_standby_away", "the synchronous standby is gone"),
            R::SyncDegraded => ("sync_degraded", "commits no longer wait for the standby: asynchronous until it streams again"),
            R::SyncStandbyNotSet => ("sync_standby_not_set", "synchronous_standby_names could not be set and read back"),
            R::PeerConfigDiffers => ("peer_config_differs", "the peer's settings that must match this node's differ (run twinbeat diagnose on both)"),
            R::NoSyncClaim => ("no_sync_claim", "strict mode: this standby holds no synchronous claim and does not promote by itself"),
        }
    }
}

impl DecisionKind {
    /// The stable code, in `snake_case`.
    pub const fn code(self) -> &'static str {
        match self {
            DecisionKind::Promote => "promote",
            DecisionKind::NoPromotion => "no_promotion",
            DecisionKind::Fence => "fence",
            DecisionKind::NoFence => "no_fence",
            DecisionKind::Hold => "hold",
            DecisionKind::Resume => "resume",
            DecisionKind::Standby => "standby",
            DecisionKind::RestartDb => "restart_db",
            DecisionKind::StopDb => "stop_db",
            DecisionKind::Rejoin => "rejoin",
            DecisionKind::Maintenance => "maintenance",
            DecisionKind::Switchover => "switchover",
            DecisionKind::NoSwitchover => "no_switchover",
        }
    }
}

impl Severity {
    /// The stable code: `warning` or `critical`.
    pub const fn code(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}
