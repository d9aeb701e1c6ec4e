//! Scenarios through the heartbeat bridge (rule `bridge-verdict`): the lab's serial cable runs
//! through the `link-firmware` bridge in QEMU `lm3s6965evb` instead of the relay, with
//! both daemons on `checks.serial.bridge = true`; two real PostgreSQL servers, network
//! namespaces and the invariant sampler as in `scenarios.rs`.
//!
//! The firmware ELF comes from `$TWINBEAT_LINK_ELF` (exported by `tests/run-all.sh`
//! after `link-firmware/ci.sh`) or `link-firmware/ci.sh elf-paths`; without one each
//! test fails and says how to build it.

use twinbeat_lab::scenario_tests;

scenario_tests!(
    b1_master_death_through_bridge,
    b2_bridge_stopped,
    b3_bridge_status_in_healthy_pair,
);
