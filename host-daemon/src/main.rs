//! `twinbeat`: the failover daemon and CLI.
fn main() {}
