//! Host unit tests of the bridge with in-memory ports.

mod forwarding;
mod mock;
mod status;
mod versions;
