//! Probes of the outside world, each bounded by its timeout.
