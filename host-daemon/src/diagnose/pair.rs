//! Check 6, the pair agrees (rule `pair-agrees`): the settings both nodes must share
//! (`config::pair_settings`: the cluster, the VIP, the paths' timings, the failure
//! window, the replication mode) hash to the fingerprint every frame carries; the
//! peer's, as the running daemon last heard it or as diagnose hears it on the cable,
//! must be this node's.

use super::Finding;
use crate::config::{pair_fingerprint, pair_settings, Config};
use crate::status::StatusSnapshot;

/// This node's shared settings and their fingerprint, to compare with the peer's
/// `twinbeat diagnose` line by line.
pub(super) fn settings(cfg: &Config) -> Finding {
    Finding::ok(
        "pair.settings",
        format!(
            "fingerprint {:08x} of: {}",
            pair_fingerprint(cfg),
            pair_settings(cfg).replace('\n', "; ")
        ),
    )
}

/// The running daemon's comparison.
pub(super) fn from_daemon(s: &StatusSnapshot) -> Finding {
    match &s.pair {
        Some(p) if p.agrees => Finding::ok(
            "pair",
            format!("the peer's frames carry this node's fingerprint {} (daemon)", p.fingerprint),
        ),
        Some(p) => differ(&p.fingerprint, &p.peer_fingerprint),
        None => Finding::warn(
            "pair",
            "the daemon has heard no fingerprint from the peer yet",
            "the peer runs an older twinbeat, or no frame of it came: compare `twinbeat diagnose` on both nodes (pair.settings)",
        ),
    }
}

/// The fingerprint heard on the cable (`None`: nothing heard).
pub(super) fn from_cable(cfg: &Config, theirs: Option<u32>) -> Finding {
    let ours = pair_fingerprint(cfg);
    match theirs {
        Some(t) if t == ours => Finding::ok(
            "pair",
            format!("the peer's frames carry this node's fingerprint {ours:08x}"),
        ),
        Some(t) => differ(&format!("{ours:08x}"), &format!("{t:08x}")),
        None => Finding::warn(
            "pair",
            "no fingerprint heard from the peer (see serial)",
            "compare `twinbeat diagnose` on both nodes (pair.settings)",
        ),
    }
}

fn differ(ours: &str, theirs: &str) -> Finding {
    Finding::fail(
        "pair",
        format!("the peer's settings differ: fingerprint {theirs}, this node's {ours}"),
        "the two nodes must share cluster_id, the VIP, every peer path's interval, timeout and retries, the failure window and the replication mode: run diagnose on both and make pair.settings equal",
    )
}
