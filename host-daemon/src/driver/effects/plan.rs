//! The configuration mapped once, at start, into the types the `actions` module
//! takes: the service manager, the fence action, the VIP, the state file and the
//! local DB's connection. No bound: every effect's window comes with its action,
//! stamped by the engine, and the fence plan's bounds are set from it.

use std::time::Duration;

use tokio::time::Instant;

use super::guard::DataDir;
use crate::actions::fence::{FenceAction, FencePlan};
use crate::actions::maintenance_file::PauseStore;
use crate::actions::rejoin::RejoinPlan;
use crate::actions::service::{PgCtl, ServiceControl};
use crate::actions::state_file::StateStore;
use crate::actions::systemd::Bus;
use crate::actions::vip::VipSpec;
use crate::config::{self, Config, ServiceManager};
use crate::probe::DbTarget;

/// Gap between two gratuitous ARPs, as IPaddr2.
pub(crate) const GARP_INTERVAL: Duration = Duration::from_millis(200);

/// Everything the effects need, built once from the config.
#[derive(Debug)]
pub(crate) struct Plan {
    /// How the local PostgreSQL is managed.
    pub(crate) service: ServiceControl,
    /// `fence.action`.
    pub(crate) fence_action: FenceAction,
    /// The VIP, when its interface is known.
    pub(crate) vip: Option<VipSpec>,
    /// `vip.gratuitous_arp`.
    pub(crate) garp_count: u32,
    /// The state file in `state_dir`.
    pub(crate) store: StateStore,
    /// The maintenance pause's file in `state_dir`.
    pub(crate) pauses: PauseStore,
    /// Where `pg_promote` and `SHOW data_directory` are sent (the local DB's
    /// credentials). It has no connect timeout: each use bounds it (a promotion by
    /// the window in its action).
    pub(crate) promote_target: tokio_postgres::Config,
    /// Where `postmaster.pid` and the start guard are.
    pub(crate) data_dir: DataDir,
    /// What `Action::Rejoin` needs: the programs, the state directory, the peer.
    pub(crate) rejoin: RejoinPlan,
    /// Rule `sync-epoch`: the peer's `node_id`, which `synchronous_standby_names`
    /// names in `sync` and `strict` mode (`None` in `async`: the names are left alone).
    pub(crate) sync_standby: Option<String>,
}

/// `local_db.service.manager` → [`ServiceControl`].
pub(crate) fn service_control(
    m: &ServiceManager,
    config_file: Option<&std::path::Path>,
) -> ServiceControl {
    match m {
        ServiceManager::PgCtl { pg_ctl, data_dir } => ServiceControl::PgCtl(PgCtl {
            pg_ctl: pg_ctl.clone(),
            data_dir: data_dir.clone(),
            config_file: config_file.map(std::path::Path::to_path_buf),
            log_file: None,
        }),
        ServiceManager::Systemd { unit, .. } => ServiceControl::Systemd {
            unit: unit.clone(),
            bus: Bus::System,
        },
        ServiceManager::Command {
            restart_command,
            stop_command,
            ..
        } => ServiceControl::Command {
            restart: restart_command.clone(),
            stop: stop_command.clone(),
        },
    }
}

/// `fence.action` → [`FenceAction`].
pub(crate) fn fence_action(a: &config::FenceAction) -> FenceAction {
    match a {
        config::FenceAction::StopDb => FenceAction::StopDb,
        config::FenceAction::Poweroff => FenceAction::Poweroff { bus: Bus::System },
        config::FenceAction::Command(c) => FenceAction::Command(c.clone()),
    }
}

/// `[vip]` → [`VipSpec`], or `None` when no interface was given or found.
pub(crate) fn vip_spec(cfg: &Config) -> Option<VipSpec> {
    cfg.vip.interface.as_ref().map(|interface| VipSpec {
        address: cfg.vip.address.addr(),
        prefix_len: cfg.vip.address.prefix_len(),
        interface: interface.clone(),
    })
}

/// The connection `pg_promote` goes over.
pub(crate) fn pg_config(t: &DbTarget) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host(&t.host)
        .port(t.port)
        .user(&t.user)
        .dbname(&t.dbname)
        .application_name(&t.application_name);
    if let Some(p) = &t.password {
        c.password(p);
    }
    c
}

impl Plan {
    /// Maps `cfg`; `local` is the local DB target and `peer` the peer's as a rejoin
    /// connects to it, this node's name its `application_name` (passwords already
    /// resolved).
    pub(crate) fn new(cfg: &Config, local: &DbTarget, peer: DbTarget) -> Plan {
        Plan {
            rejoin: RejoinPlan {
                bin_dir: cfg.rejoin.bin_dir.clone(),
                state_dir: cfg.state_dir.clone(),
                config_file: cfg.local_db.service.config_file.clone(),
                source: peer,
                local: pg_config(local),
            },
            service: service_control(
                &cfg.local_db.service.manager,
                cfg.local_db.service.config_file.as_deref(),
            ),
            fence_action: fence_action(&cfg.fence),
            vip: vip_spec(cfg),
            garp_count: cfg.vip.gratuitous_arp,
            store: StateStore::new(cfg.state_dir.clone()),
            pauses: PauseStore::new(cfg.state_dir.clone()),
            promote_target: pg_config(local),
            sync_standby: cfg
                .replication
                .managed()
                .then(|| cfg.peer.node_id.clone())
                .flatten(),
            data_dir: DataDir::new(
                cfg.local_db
                    .service
                    .manager
                    .data_dir()
                    .map(std::path::Path::to_path_buf),
            ),
        }
    }

    /// The fence plan for `StopDb` and `RunFenceAction`. `data_dir` confirms a stop
    /// by PID (any manager, when known). Its bounds are the library's defaults until
    /// the caller sets them from the action's window ([`Plan::stop_plan`],
    /// [`Plan::fence_action_plan`]).
    fn fence_plan(&self, data_dir: Option<&std::path::Path>) -> FencePlan<'_> {
        let mut p = FencePlan::new(&self.service);
        p.action = self.fence_action.clone();
        p.data_dir = data_dir.map(std::path::Path::to_path_buf);
        p
    }

    /// The plan of a `StopDb` starting now: the stop request gets until `kill_at`,
    /// and the postmaster, SIGKILLed then if still alive, must be gone by `deadline`.
    /// The service manager's own kill request (systemd's KillUnit, sent with the
    /// daemon's SIGKILL) keeps the library's bound on a D-Bus call.
    pub(crate) fn stop_plan(
        &self,
        data_dir: Option<&std::path::Path>,
        kill_at: Instant,
        deadline: Instant,
    ) -> FencePlan<'_> {
        let mut p = self.fence_plan(data_dir);
        p.stop_bound = kill_at.saturating_duration_since(Instant::now());
        p.kill_bound = deadline.saturating_duration_since(kill_at);
        p
    }

    /// The plan of a `RunFenceAction` starting now, bounded by `deadline`.
    pub(crate) fn fence_action_plan(&self, deadline: Instant) -> FencePlan<'_> {
        let mut p = self.fence_plan(None);
        p.action_timeout = deadline.saturating_duration_since(Instant::now());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn managers_map_one_to_one() {
        let m = ServiceManager::PgCtl {
            pg_ctl: PathBuf::from("/x/pg_ctl"),
            data_dir: PathBuf::from("/d"),
        };
        assert!(
            matches!(service_control(&m, None), ServiceControl::PgCtl(p) if p.data_dir.as_path() == std::path::Path::new("/d"))
        );
        let m = ServiceManager::Command {
            restart_command: "r".into(),
            stop_command: "s".into(),
            data_dir: None,
        };
        assert_eq!(
            service_control(&m, None),
            ServiceControl::Command {
                restart: "r".into(),
                stop: "s".into()
            }
        );
        assert_eq!(
            fence_action(&config::FenceAction::Poweroff),
            FenceAction::Poweroff { bus: Bus::System }
        );
    }
}
