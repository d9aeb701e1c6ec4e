//! The lab's fault matrix (docs/DESIGN.md §5) against a real two-node cluster: two PostgreSQL 15
//! servers, the serial relay and one `twinbeat run` per node, each in its own network
//! namespaces, with the invariant sampler running through every scenario (never two
//! writable primaries, never the VIP on both nodes). One test per scenario; each asserts
//! the outcome its function observed (`twinbeat_lab::scenarios`).
//!
//! Every scenario of the matrix is registered (`scenarios::all()` lists the same ones for
//! `cargo lab scenario`).

use twinbeat_lab::scenario_tests;

scenario_tests!(
    s01_master_death,
    s02_icmp_dropped,
    s03_remote_db_dropped,
    s04_serial_cut,
    s05_ip_partition,
    s06_master_network_gone,
    s07_master_db_killed_once,
    s08_master_db_cannot_start,
    s09_standby_db_broken_then_master_death,
    s10_standby_gateway_lost_then_master_death,
    s11_master_daemon_frozen,
    s12_master_frozen_whole,
    s12b_paused_vm,
    s13_old_master_returns,
    s14_standby_daemon_killed_while_promoting,
    s15_serial_corruption,
    s16_serial_cross_wired,
    s17_sync_no_lost_commit,
    s18_degraded_pair_no_promotion,
    s19_cold_start,
    s20_gateway_down,
    s21_fence_with_dropped_frames,
    s22_master_daemon_stopped,
    s23_master_db_hung,
    s23b_master_db_hung_long,
    s24_old_master_returns_isolated,
    s25_master_daemon_restart_serial_broken,
    s26_master_backend_killed,
    s27_master_gateway_lost_standby_not_streaming,
    s28_standby_promoted_by_hand,
    s29_master_gateway_lost_serial_cut,
    s30_rejoin_after_failover,
    s31_auto_rejoin,
    s32_pause_through_a_master_db_restart,
    s33_switchover_and_back,
    s34_strict_master_death,
    s35_async_master_death_contrast,
    s36_sync_standby_death,
    s37_strict_standby_death,
    s38_sync_master_fence,
    s39_sync_ip_partition,
    s40_sync_serial_down_wal_receiver_broken,
    s41_sync_degrade_then_master_death,
    s42_strict_master_fence,
    s43_strict_ip_partition,
    s44_strict_serial_down_wal_receiver_broken,
    s45_strict_wal_receiver_broken_then_master_death,
    s46_sync_failover_then_rejoin,
    s47_strict_failover_then_rejoin,
    s48_tls_failover_and_rejoin,
);
