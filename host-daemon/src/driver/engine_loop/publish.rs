//! What the driver publishes about the engine: the systemd STATUS= line and the
//! status snapshot behind `/status` and `/metrics`.

use twinbeat_core::{self as engine, PathId};

use super::Driver;
use crate::actions::notify;
use crate::driver::snapshot;

impl Driver {
    /// The systemd STATUS= line: role, term and each peer path.
    pub(super) fn status_line(&self) -> String {
        let paths: Vec<String> = [PathId::Icmp, PathId::RemoteDb, PathId::Serial]
            .iter()
            .map(|&p| {
                let h = match self.engine.path(p).health {
                    engine::PathHealth::Up => "up",
                    engine::PathHealth::Down => "down",
                    engine::PathHealth::Unknown => "?",
                };
                format!("{} {h}", p.name())
            })
            .collect();
        format!(
            "{:?} term {}{}; {}",
            self.engine.role(),
            self.engine.term(),
            if self.engine.is_fenced() {
                " FENCED"
            } else {
                ""
            },
            paths.join(", ")
        )
    }

    /// Rewrites the status snapshot from the engine.
    pub(super) fn refresh(&mut self) {
        let line = self.status_line();
        if line != self.notified {
            if let Err(e) = notify::status(&line) {
                tracing::warn!("{e}");
            }
            self.notified = line;
        }
        let now = self.now();
        let mut snap = snapshot::build(
            &self.engine,
            now,
            &self.cfg,
            self.epoch.elapsed(),
            &self.serial.counters(),
            &self.alarms,
            &self.persisted,
        );
        snap.start_guard = self.effects.start_guard().into();
        self.shared.metrics.set_role(self.engine.role().name());
        snap.last_failover = self.last_failover.clone();
        snap.replication.slot = self.slot.as_ref().map(|s| crate::status::SlotStatus {
            name: s.name.clone(),
            active: s.active,
            retained_bytes: s.retained_bytes,
        });
        self.shared.metrics.slot_retained_bytes.set(
            self.slot
                .as_ref()
                .map_or(-1, |s| i64::try_from(s.retained_bytes).unwrap_or(i64::MAX)),
        );
        let by_operator = self
            .engine
            .maintenance()
            .is_some_and(|m| m.origin == engine::PauseOrigin::Operator);
        if let Some(m) = snap.maintenance.as_mut().filter(|_| by_operator) {
            m.by = self.pause_by.clone();
        }
        let lag = snap
            .replication
            .lag_bytes
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.shared.metrics.replication_lag_bytes.set(lag);
        let m = &self.shared.metrics;
        m.maintenance_paused
            .set(i64::from(self.engine.maintenance().is_some()));
        m.rejoin_in_progress
            .set(i64::from(self.engine.rejoin_progress().is_some()));
        m.switchover_in_progress
            .set(i64::from(self.engine.switchover().is_some()));
        let sync = &snap.replication.sync;
        m.replication_synchronous.set(i64::from(sync.synchronous));
        m.replication_degraded_seconds_ago.set(
            sync.last_degraded_secs_ago
                .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)),
        );
        self.shared.update(|s| *s = snap);
    }
}
