//! The reasons' codes (status JSON, hook environments, metric labels) are stable
//! identifiers: `snake_case`, one per reason, and each has a sentence.

use twinbeat_core::{Reason as R, SwitchoverRefused, TakeoverRefusal};

/// Every reason, one value of each.
const ALL: [R; 68] = [
    R::AllPathsDownTogether,
    R::AllPathsDownDegraded,
    R::DegradedPair,
    R::PeerFenced,
    R::StartupGrace,
    R::LocalDbUnhealthy,
    R::LocalDbNotInRecovery,
    R::LocalDbStopped,
    R::GatewayDown,
    R::NotStreaming,
    R::LagTooHigh { lag: 1 },
    R::VipAnswered,
    R::FreshCheckTimeout,
    R::OwnDbUnrecoverable,
    R::OwnGatewayDown,
    R::SharedGatewayOutage,
    R::PeerDbUnhealthy,
    R::PeerNotStandby,
    R::PeerStateStale,
    R::PeerWins,
    R::PeerHeard,
    R::PeerDbAnswered,
    R::PeerNotHeard,
    R::PeerDbInRecovery,
    R::PeerDbAhead,
    R::SecondWritablePeer,
    R::PeerHumanPromoted,
    R::LocalDbPromotedByHand,
    R::OperatorRelease,
    R::PromotionPending,
    R::PeerAliveButSilent,
    R::Restarted,
    R::Paused,
    R::PersistFailed,
    R::PromoteFailed,
    R::VipFailed,
    R::VipReleaseFailed,
    R::DbStopFailed,
    R::DbRestartFailed,
    R::SerialDeviceMissing,
    R::TakeoverRefused(TakeoverRefusal::LagTooHigh),
    R::TakeoverNotAnswered,
    R::PeerFencing,
    R::OwnNodeIdHeard,
    R::OperatorRejoin,
    R::AutoRejoin,
    R::RejoinInterrupted,
    R::RejoinFailed,
    R::OperatorPause,
    R::PeerPause,
    R::OperatorUnpause,
    R::PeerUnpause,
    R::MaintenanceEnded,
    R::ReadOnlyInMaintenance,
    R::OperatorSwitchover,
    R::PeerRequestedSwitchover,
    R::Switchover,
    R::SwitchoverTimedOut,
    R::DemoteFailed,
    R::SwitchoverWithdrawn,
    R::ReplayBehind { behind: 1 },
    R::SwitchoverRefused(SwitchoverRefused::Busy),
    R::SlotNotEnsured,
    R::SyncStandbyAway,
    R::SyncDegraded,
    R::SyncStandbyNotSet,
    R::PeerConfigDiffers,
    R::NoSyncClaim,
];

#[test]
fn every_reason_has_its_own_snake_case_code_and_a_sentence() {
    let mut codes: Vec<&str> = ALL.iter().map(|r| r.code()).collect();
    for (r, code) in ALL.iter().zip(&codes) {
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{r:?}: {code}"
        );
        assert!(r.text().len() > 10, "{r:?}: {}", r.text());
    }
    codes.sort_unstable();
    let before = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), before, "a code is shared");
}
