//! twinbeat lab: a two-node cluster on one machine.
