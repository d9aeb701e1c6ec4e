//! Prometheus metrics (`GET /metrics`), with the official `prometheus-client` crate:
//! every name under `twinbeat_`, in base units (seconds, bytes), counters ending in
//! `_total`, label values the stable `snake_case` codes of the status document.
//! `host-daemon/README.md` ("Metrics") documents each; `dist/prometheus-alerts.yml` is
//! an example of the alerts an operator must act on.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label naming one checked path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PathLabel {
    /// `icmp`, `remote_db`, `serial`, `gateway` or `local_db`.
    pub path: String,
}

/// Why a serial frame was dropped.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// CRC mismatch.
    Corrupt,
    /// Bad COBS or a frame that does not decode.
    Malformed,
    /// Longer than the receive buffer.
    Overflow,
    /// From another cluster.
    Foreign,
}

impl EncodeLabelValue for DropReason {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            DropReason::Corrupt => "corrupt",
            DropReason::Malformed => "malformed",
            DropReason::Overflow => "overflow",
            DropReason::Foreign => "foreign",
        })
    }
}

/// Label of the promotions and fences: the decision's reason (`Reason::code`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    /// The reason's code, e.g. `all_paths_down_together`.
    pub reason: &'static str,
}

/// Labels of [`Metrics::alarms`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AlarmLabel {
    /// `warning` or `critical`.
    pub severity: &'static str,
    /// The alarm's code.
    pub code: &'static str,
}

/// Label of [`Metrics::role`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RoleLabel {
    /// The role's name (`primary`, `standby`, `hold`, …).
    pub role: &'static str,
}

/// Label of [`Metrics::serial_dropped`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DropLabel {
    /// Why it was dropped.
    pub reason: DropReason,
}

type HistogramFamily = Family<PathLabel, Histogram, fn() -> Histogram>;

fn rtt_histogram() -> Histogram {
    // 100 µs … ~6.5 s: a LAN ICMP RTT sits at the bottom, a serial round trip in the
    // middle, a slow database at the top.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The metrics of one path; see [`Metrics::path`].
#[derive(Debug, Clone)]
pub(crate) struct PathMetrics {
    up: Gauge,
    failures: Gauge,
    rtt: Histogram,
}

impl PathMetrics {
    /// Records one probe outcome: up or not, consecutive failures, RTT on success.
    pub(crate) fn observe(&self, up: bool, failures: u32, rtt: Option<std::time::Duration>) {
        self.up.set(i64::from(up));
        self.failures.set(i64::from(failures));
        if let Some(rtt) = rtt {
            self.rtt.observe(rtt.as_secs_f64());
        }
    }
}

/// Every metric the daemon exports, registered once.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// 1 when the path is up, 0 when down.
    pub path_up: Family<PathLabel, Gauge>,
    /// Consecutive failed attempts of each path.
    pub consecutive_failures: Family<PathLabel, Gauge>,
    /// Round-trip time of successful probes, in seconds.
    pub probe_rtt: HistogramFamily,
    /// Promotions this process began, by the decision's reason.
    pub promotions: Family<ReasonLabel, Counter>,
    /// Fences this process began, by the decision's reason.
    pub fences: Family<ReasonLabel, Counter>,
    /// Alarms raised, by severity and code.
    pub alarms: Family<AlarmLabel, Counter>,
    /// 1 for this node's current role, 0 for the roles it had before.
    pub role: Family<RoleLabel, Gauge>,
    /// The role [`Metrics::role`] shows as 1.
    current_role: Mutex<Option<&'static str>>,
    /// From this node's last decision to promote to serving as primary (PostgreSQL
    /// writable, the VIP taken), in seconds; -1 before its first promotion.
    pub last_failover_duration: Gauge<f64, AtomicU64>,
    /// Serial frames dropped, by reason.
    pub serial_dropped: Family<DropLabel, Counter>,
    /// Serial frames sent.
    pub serial_sent: Counter,
    /// Valid serial frames received.
    pub serial_received: Counter,
    /// Valid serial frames the engine dropped for carrying this node's own id (rule
    /// `own-frames-dropped`).
    pub serial_own_echo: Counter,
    /// Connect probes the peer's PostgreSQL answered without letting this node in (login
    /// or TLS refused, a certificate that does not verify; rule `remote-db-reads-role`).
    pub remote_db_refused: Counter,
    /// Current term.
    pub term: Gauge,
    /// Replication lag in bytes (primary's current WAL position minus the standby's
    /// received one); -1 while unknown.
    pub replication_lag_bytes: Gauge,
    /// 1 while a maintenance pause is in effect on this node (rule `maintenance-pause`).
    pub maintenance_paused: Gauge,
    /// 1 while a rejoin runs (rule `rejoin-after-fence`).
    pub rejoin_in_progress: Gauge,
    /// Rejoins this process started.
    pub rejoins: Counter,
    /// WAL the primary's replication slot keeps back, in bytes (-1: no slot, or not
    /// a primary).
    pub slot_retained_bytes: Gauge,
    /// 1 while a planned switchover is under way on this node (rule
    /// `planned-switchover`).
    pub switchover_in_progress: Gauge,
    /// Planned switchovers this process began (a master) or asked for (a standby).
    pub switchovers: Counter,
    /// Rule `sync-epoch`: 1 when commits wait for the standby (a primary announcing a
    /// synchronous epoch) or the standby holds an unexpired synchronous claim.
    pub replication_synchronous: Gauge,
    /// Seconds since this primary last stopped waiting for its standby (-1: never).
    pub replication_degraded_seconds_ago: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `twinbeat_` prefix.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("twinbeat");
        let path_up = Family::<PathLabel, Gauge>::default();
        let consecutive_failures = Family::<PathLabel, Gauge>::default();
        let probe_rtt: HistogramFamily = Family::new_with_constructor(rtt_histogram);
        let promotions = Family::<ReasonLabel, Counter>::default();
        let fences = Family::<ReasonLabel, Counter>::default();
        let alarms = Family::<AlarmLabel, Counter>::default();
        let role = Family::<RoleLabel, Gauge>::default();
        let last_failover_duration = Gauge::<f64, AtomicU64>::default();
        last_failover_duration.set(-1.0);
        registry.register(
            "alarms",
            "Alarms raised, by severity and code (the status document's alarm codes)",
            alarms.clone(),
        );
        registry.register(
            "role",
            "1 for this node's current role (primary, standby, hold, promoting, fencing, fenced, demoting)",
            role.clone(),
        );
        registry.register(
            "last_failover_duration_seconds",
            "From this node's last decision to promote to serving as primary, PostgreSQL writable and the VIP taken (-1: never)",
            last_failover_duration.clone(),
        );
        let serial_dropped = Family::<DropLabel, Counter>::default();
        let serial_sent = Counter::default();
        let serial_received = Counter::default();
        let serial_own_echo = Counter::default();
        let term = Gauge::default();
        let replication_lag_bytes = Gauge::default();
        replication_lag_bytes.set(-1);
        let maintenance_paused = Gauge::default();
        let rejoin_in_progress = Gauge::default();
        let rejoins = Counter::default();
        let slot_retained_bytes = Gauge::default();
        slot_retained_bytes.set(-1);
        registry.register(
            "replication_slot_retained_bytes",
            "WAL this primary's replication slot keeps back, in bytes (-1: no slot, or not a primary)",
            slot_retained_bytes.clone(),
        );
        let switchover_in_progress = Gauge::default();
        let switchovers = Counter::default();
        let replication_synchronous = Gauge::default();
        let replication_degraded_seconds_ago = Gauge::default();
        replication_degraded_seconds_ago.set(-1);
        registry.register(
            "replication_synchronous",
            "1 when commits wait for the standby (primary) or this standby holds a synchronous claim (rule sync-epoch)",
            replication_synchronous.clone(),
        );
        registry.register(
            "replication_degraded_seconds_ago",
            "Seconds since this primary last stopped waiting for its standby (-1: never)",
            replication_degraded_seconds_ago.clone(),
        );
        registry.register(
            "switchover_in_progress",
            "1 while a planned switchover is under way on this node (handing over or taking over)",
            switchover_in_progress.clone(),
        );
        registry.register(
            "switchovers",
            "Planned switchovers begun (a master) or asked for (a standby) on this node",
            switchovers.clone(),
        );
        registry.register(
            "maintenance_paused",
            "1 while a maintenance pause is in effect on this node",
            maintenance_paused.clone(),
        );
        registry.register(
            "rejoin_in_progress",
            "1 while this fenced node rejoins the peer as its standby",
            rejoin_in_progress.clone(),
        );
        registry.register("rejoins", "Rejoins started", rejoins.clone());
        registry.register(
            "replication_lag_bytes",
            "Bytes the standby's received WAL is behind the primary's current position (-1: unknown)",
            replication_lag_bytes.clone(),
        );
        registry.register(
            "path_up",
            "1 when the path is up, 0 when down",
            path_up.clone(),
        );
        registry.register(
            "path_consecutive_failures",
            "Consecutive failed attempts of the path",
            consecutive_failures.clone(),
        );
        registry.register(
            "probe_rtt_seconds",
            "Round-trip time of successful probes",
            probe_rtt.clone(),
        );
        registry.register(
            "promotions",
            "Promotions this node began (failover, handover or switchover), by reason",
            promotions.clone(),
        );
        registry.register(
            "fences",
            "Fences this node began, by reason",
            fences.clone(),
        );
        registry.register(
            "serial_frames_dropped",
            "Serial frames dropped, by reason",
            serial_dropped.clone(),
        );
        registry.register(
            "serial_frames_sent",
            "Serial frames sent",
            serial_sent.clone(),
        );
        registry.register(
            "serial_frames_received",
            "Valid serial frames received",
            serial_received.clone(),
        );
        registry.register(
            "serial_own_echo",
            "Serial frames dropped for carrying this node's own id (an echo of its own frames)",
            serial_own_echo.clone(),
        );
        registry.register("term", "Current term", term.clone());
        let remote_db_refused = Counter::default();
        registry.register(
            "remote_db_refused",
            "Connect probes the peer's PostgreSQL answered without letting this node in (login or TLS refused, a certificate that does not verify)",
            remote_db_refused.clone(),
        );
        Metrics {
            registry,
            path_up,
            consecutive_failures,
            probe_rtt,
            promotions,
            fences,
            alarms,
            role,
            current_role: Mutex::new(None),
            last_failover_duration,
            serial_dropped,
            serial_sent,
            serial_received,
            serial_own_echo,
            remote_db_refused,
            term,
            replication_lag_bytes,
            maintenance_paused,
            rejoin_in_progress,
            rejoins,
            slot_retained_bytes,
            switchover_in_progress,
            switchovers,
            replication_synchronous,
            replication_degraded_seconds_ago,
        }
    }

    /// The metrics of one path, looked up once so that recording a probe (up to a
    /// thousand a second for ICMP) allocates nothing.
    pub(crate) fn path(&self, path: &str) -> PathMetrics {
        let label = PathLabel {
            path: path.to_owned(),
        };
        PathMetrics {
            up: self.path_up.get_or_create(&label).clone(),
            failures: self.consecutive_failures.get_or_create(&label).clone(),
            rtt: self.probe_rtt.get_or_create(&label).clone(),
        }
    }

    /// Shows `role` as this node's current one.
    pub(crate) fn set_role(&self, role: &'static str) {
        let mut current = self
            .current_role
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current == Some(role) {
            return;
        }
        if let Some(old) = current.replace(role) {
            self.role.get_or_create(&RoleLabel { role: old }).set(0);
        }
        self.role.get_or_create(&RoleLabel { role }).set(1);
    }

    /// Counts one dropped serial frame.
    pub(crate) fn dropped(&self, reason: DropReason) {
        self.serial_dropped
            .get_or_create(&DropLabel { reason })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            out.push_str(&format!("# encoding error: {e}\n"));
        }
        out
    }
}
