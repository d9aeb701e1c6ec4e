//! Starting the driver: the engine from the start facts, the probe tasks, the
//! effects workers and the serial link.

use crate::actions::hooks::Hooks;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use twinbeat_core::{self as engine, Engine, PathId, PersistedRole};
use twinbeat_protocol as proto;

use super::{Driver, IcmpDone};
use crate::actions::state_file::PersistedState;
use crate::config::{self, Config};
use crate::control::Operation;
use crate::driver::effects::{Effects, Plan};
use crate::driver::slots::{Slot, Slots};
use crate::driver::{db_target, RunError};
use crate::probe::icmp::IcmpProber;
use crate::probe::local_db::LocalDbProbe;
use crate::probe::remote_db::RemoteDbProbe;
use crate::probe::runner;
use crate::serial_link::{SerialConfig, SerialLink};
use crate::status::Shared;

async fn icmp_slot(
    prober: &IcmpProber,
    path: PathId,
    address: Option<IpAddr>,
    tx: &mpsc::Sender<IcmpDone>,
) -> Slot {
    let Some(address) = address else {
        tracing::error!("{}: no address: every attempt fails", path.name());
        return Slot::new(None);
    };
    match prober.target(address).await {
        Ok(target) => Slot::new(Some(runner::spawn(path, target, tx.clone()))),
        Err(e) => {
            tracing::error!("{} to {address}: {e}: every attempt fails", path.name());
            Slot::new(None)
        }
    }
}

impl Driver {
    /// Starts the engine and spawns the probes and the serial link.
    pub(crate) async fn start(
        cfg: Config,
        core_cfg: engine::Config,
        facts: engine::StartFacts,
        persisted: PersistedState,
        shared: Arc<Shared>,
        ops_rx: mpsc::Receiver<Operation>,
    ) -> Result<Driver, RunError> {
        let epoch = TokioInstant::now();
        let engine =
            Engine::new(core_cfg, facts, engine::Instant::ZERO).map_err(RunError::Start)?;
        let (icmp_tx, icmp_rx) = mpsc::channel(16);
        let (remote_tx, remote_rx) = mpsc::channel(4);
        let (local_tx, local_rx) = mpsc::channel(4);
        let prober = IcmpProber::new(u32::from(cfg.checks.icmp_ttl));
        let mut slots = Slots::default();
        for (path, address) in [
            (PathId::Icmp, Some(cfg.peer.address)),
            (PathId::Gateway, cfg.checks.gateway_address),
        ] {
            slots.insert(path, icmp_slot(&prober, path, address, &icmp_tx).await);
        }
        let remote = RemoteDbProbe::new(db_target(&cfg.peer.db, "twinbeat-remote", &cfg.peer.tls)?);
        let remote = runner::spawn(PathId::RemoteDb, remote, remote_tx);
        slots.insert(PathId::RemoteDb, Slot::new(Some(remote)));
        let local_target = db_target(&cfg.local_db.conn, "twinbeat-local", &Default::default())?;
        let rejoin_source = db_target(&cfg.peer.db, &cfg.node_id, &cfg.peer.tls)?;
        let plan = Plan::new(&cfg, &local_target, rejoin_source);
        let (effects, effects_rx) = Effects::spawn(plan);
        effects.learn_data_dir().await;
        tracing::info!(
            "start guard (standby.signal): {} at start",
            effects.start_guard()
        );
        let local = LocalDbProbe::new(local_target);
        let local = match cfg.peer.node_id.as_deref() {
            Some(standby) if cfg.replication.managed() => local.watching_standby(standby),
            _ => local,
        };
        let local = runner::spawn(PathId::LocalDb, local, local_tx);
        slots.insert(PathId::LocalDb, Slot::new(Some(local)));
        let cluster = proto::ClusterId::from_name(&cfg.cluster_id);
        let (serial, serial_rx) = SerialLink::spawn(SerialConfig::new(
            cfg.checks.serial_device.clone(),
            cfg.checks.serial_baud,
            cluster,
        ));
        tracing::info!(
            "node {} (engine id {}) in cluster {:?} ({:#010x}), role pin {}, start role {:?}, term {}",
            cfg.node_id,
            config::node_number(&cfg.node_id),
            cfg.cluster_id,
            cluster.0,
            cfg.role.as_str(),
            engine.role(),
            engine.term()
        );
        let path_metrics = PathId::ALL.map(|p| shared.metrics.path(p.name()));
        // A primary's record says how it became one.
        let last_failover = matches!(
            persisted.state,
            PersistedRole::Primary | PersistedRole::Promoting
        )
        .then(|| super::drain::last_failover(&persisted));
        let pause_by = crate::actions::maintenance_file::PauseStore::new(&cfg.state_dir)
            .load()
            .map_or_else(|| "an operator".to_owned(), |r| r.by);
        let hooks = Hooks::start(&cfg);
        Ok(Driver {
            path_metrics,
            engine,
            epoch,
            node: proto::NodeId(config::node_number(&cfg.node_id)),
            cluster,
            cfg,
            shared,
            slots,
            icmp_rx,
            remote_rx,
            local_rx,
            serial,
            serial_rx,
            inputs: VecDeque::new(),
            alarms: VecDeque::new(),
            hooks,
            promote_started: None,
            last_frame_seen: false,
            remote_refusal: None,
            effects,
            effects_rx,
            ops_rx,
            persisted,
            notified: String::new(),
            pause_by,
            last_failover,
            slot: None,
        })
    }
}
