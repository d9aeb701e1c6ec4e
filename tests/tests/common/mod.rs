//! Shared helpers of the lab's integration tests.
#![allow(dead_code)]

use twinbeat_lab::{Lab, LabOptions};

/// Options with the `lab` binary of this build.
pub(crate) fn opts() -> LabOptions {
    LabOptions::new(env!("CARGO_BIN_EXE_lab"))
}

/// Network-only options.
pub(crate) fn net_opts() -> LabOptions {
    LabOptions::network_only(env!("CARGO_BIN_EXE_lab"))
}

/// Starts a lab or fails the test with the reason.
pub(crate) fn start(o: LabOptions) -> Lab {
    match Lab::start(o) {
        Ok(l) => l,
        Err(e) => panic!("lab did not start: {e}"),
    }
}

/// Namespaces of lab `id` still present.
pub(crate) fn leftover_namespaces(id: u8) -> Vec<String> {
    let prefix = format!("tblab-{id}-");
    twinbeat_lab::state::list_netns()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}
