//! The effective configuration printed as TOML, in the contract's layout, with every
//! default filled in (the "auto" failure window as the engine derives it) and passwords
//! redacted. Its output is itself a valid config file.

use serde::Serialize;

use super::types::*;
use super::units::{format_duration, format_size};
use super::Loaded;

#[derive(Serialize)]
struct View {
    profile: &'static str,
    cluster_id: String,
    node_id: String,
    role: &'static str,
    state_dir: String,
    local_db: LocalDbView,
    peer: PeerView,
    checks: ChecksView,
    vip: VipView,
    failover: FailoverView,
    fence: FenceView,
    status: StatusView,
    #[serde(skip_serializing_if = "Option::is_none")]
    control: Option<ControlView>,
    rejoin: RejoinView,
    replication: ReplicationView,
    hooks: HooksView,
}

#[derive(Serialize)]
struct HooksView {
    #[serde(skip_serializing_if = "Option::is_none")]
    on_role_change: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_fence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_alarm: Option<String>,
    timeout: String,
}

#[derive(Serialize)]
struct ReplicationView {
    mode: &'static str,
}

#[derive(Serialize)]
struct RejoinView {
    timeout: String,
    bin_dir: String,
}

#[derive(Serialize)]
struct LocalDbView {
    host: String,
    port: u16,
    user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<String>,
    dbname: String,
    check_interval: String,
    timeout: String,
    retries: u32,
    service: ServiceView,
}

#[derive(Serialize)]
struct ServiceView {
    manager: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pg_ctl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_command: Option<String>,
    restart_grace: String,
}

#[derive(Serialize)]
struct PeerView {
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_id: Option<String>,
    db_port: u16,
    user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<String>,
    dbname: String,
    sslmode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sslrootcert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sslcert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sslkey: Option<String>,
}

#[derive(Serialize)]
struct PathView {
    interval: String,
    timeout: String,
    retries: u32,
}

#[derive(Serialize)]
struct ChecksView {
    icmp: IcmpView,
    remote_db: PathView,
    serial: SerialView,
    gateway: GatewayView,
}

#[derive(Serialize)]
struct IcmpView {
    interval: String,
    timeout: String,
    retries: u32,
    ttl: u8,
}

#[derive(Serialize)]
struct SerialView {
    device: String,
    baud: u32,
    bridge: bool,
    interval: String,
    timeout: String,
    retries: u32,
}

#[derive(Serialize)]
struct GatewayView {
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    interval: String,
    timeout: String,
    retries: u32,
}

#[derive(Serialize)]
struct VipView {
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<String>,
    gratuitous_arp: u32,
    arp_probe_timeout: String,
}

#[derive(Serialize)]
struct FailoverView {
    startup_grace: String,
    failure_window: String,
    promote_when_degraded: bool,
    max_lag_on_failover: String,
    peer_state_max_age: String,
    auto_rejoin: bool,
    auto_rejoin_attempts: u32,
    switchover_timeout: String,
}

#[derive(Serialize)]
struct FenceView {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
}

#[derive(Serialize)]
struct StatusView {
    listen: String,
}

/// `[control]`, shown only with a group (without one only root may use the socket).
#[derive(Serialize)]
struct ControlView {
    group: String,
}

/// `password = "<redacted>"` for a value in the file; a file path is shown as is; a
/// password from the environment is shown as a comment-free absence (the header says so).
fn pw(p: &PasswordSource) -> (Option<&'static str>, Option<String>) {
    match p {
        PasswordSource::Inline(_) => (Some("<redacted>"), None),
        PasswordSource::Env(_) => (Some("<redacted: from TWINBEAT_PG_PASSWORD>"), None),
        PasswordSource::File(f) => (None, Some(f.display().to_string())),
        PasswordSource::None => (None, None),
    }
}

fn path(p: &PathConfig) -> PathView {
    PathView {
        interval: format_duration(p.interval),
        timeout: format_duration(p.timeout),
        retries: p.retries,
    }
}

fn service(s: &Service) -> ServiceView {
    let mut v = ServiceView {
        manager: "",
        pg_ctl: None,
        data_dir: None,
        config_file: s.config_file.as_ref().map(|p| p.display().to_string()),
        unit: None,
        restart_command: None,
        stop_command: None,
        restart_grace: format_duration(s.restart_grace),
    };
    v.data_dir = s.manager.data_dir().map(|d| d.display().to_string());
    match &s.manager {
        ServiceManager::PgCtl { pg_ctl, .. } => {
            v.manager = "pg_ctl";
            v.pg_ctl = Some(pg_ctl.display().to_string());
        }
        ServiceManager::Systemd { unit, .. } => {
            v.manager = "systemd";
            v.unit = Some(unit.clone());
        }
        ServiceManager::Command {
            restart_command,
            stop_command,
            ..
        } => {
            v.manager = "command";
            v.restart_command = Some(restart_command.clone());
            v.stop_command = Some(stop_command.clone());
        }
    }
    v
}

/// `fields` joined with commas, in lines of about 80 columns.
fn textwrap_fields(fields: &[String]) -> Vec<String> {
    let mut lines = vec![String::new()];
    for f in fields {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + f.len() > 76 {
            line.push(',');
            lines.push(f.clone());
        } else {
            if !line.is_empty() {
                line.push_str(", ");
            }
            line.push_str(f);
        }
    }
    lines
}

fn shown(path: &Option<std::path::PathBuf>) -> Option<String> {
    path.as_ref().map(|p| p.display().to_string())
}

/// Prints the effective configuration as TOML (passwords redacted).
pub(crate) fn render_toml(loaded: &Loaded) -> String {
    let c = &loaded.config;
    let (lp, lpf) = pw(&c.local_db.conn.password);
    let (pp, ppf) = pw(&c.peer.db.password);
    let (action, command) = match &c.fence {
        FenceAction::StopDb => ("stop-db", None),
        FenceAction::Poweroff => ("poweroff", None),
        FenceAction::Command(cmd) => ("command", Some(cmd.clone())),
    };
    let view = View {
        profile: c.profile.name(),
        cluster_id: c.cluster_id.clone(),
        node_id: c.node_id.clone(),
        role: c.role.as_str(),
        state_dir: c.state_dir.display().to_string(),
        local_db: LocalDbView {
            host: c.local_db.conn.host.clone(),
            port: c.local_db.conn.port,
            user: c.local_db.conn.user.clone(),
            password: lp,
            password_file: lpf,
            dbname: c.local_db.conn.dbname.clone(),
            check_interval: format_duration(c.local_db.check_interval),
            timeout: format_duration(c.local_db.timeout),
            retries: c.local_db.retries,
            service: service(&c.local_db.service),
        },
        peer: PeerView {
            address: c.peer.host.clone(),
            node_id: c.peer.node_id.clone(),
            db_port: c.peer.db.port,
            user: c.peer.db.user.clone(),
            password: pp,
            password_file: ppf,
            dbname: c.peer.db.dbname.clone(),
            sslmode: c.peer.tls.mode.as_str(),
            sslrootcert: shown(&c.peer.tls.root_cert),
            sslcert: shown(&c.peer.tls.cert),
            sslkey: shown(&c.peer.tls.key),
        },
        checks: ChecksView {
            icmp: IcmpView {
                interval: format_duration(c.checks.icmp.interval),
                timeout: format_duration(c.checks.icmp.timeout),
                retries: c.checks.icmp.retries,
                ttl: c.checks.icmp_ttl,
            },
            remote_db: path(&c.checks.remote_db),
            serial: SerialView {
                device: c.checks.serial_device.display().to_string(),
                baud: c.checks.serial_baud,
                bridge: c.checks.serial_bridge,
                interval: format_duration(c.checks.serial.interval),
                timeout: format_duration(c.checks.serial.timeout),
                retries: c.checks.serial.retries,
            },
            gateway: GatewayView {
                address: c.checks.gateway_address.map(|a| a.to_string()),
                interval: format_duration(c.checks.gateway.interval),
                timeout: format_duration(c.checks.gateway.timeout),
                retries: c.checks.gateway.retries,
            },
        },
        vip: VipView {
            address: c.vip.address.to_string(),
            interface: c.vip.interface.clone(),
            gratuitous_arp: c.vip.gratuitous_arp,
            arp_probe_timeout: format_duration(c.vip.arp_probe_timeout),
        },
        failover: FailoverView {
            startup_grace: format_duration(c.failover.startup_grace),
            failure_window: format_duration(loaded.engine.effective_failure_window()),
            promote_when_degraded: c.failover.promote_when_degraded,
            max_lag_on_failover: format_size(c.failover.max_lag_on_failover),
            peer_state_max_age: format_duration(c.failover.peer_state_max_age),
            auto_rejoin: c.failover.auto_rejoin,
            auto_rejoin_attempts: c.failover.auto_rejoin_attempts,
            switchover_timeout: format_duration(c.failover.switchover_timeout),
        },
        fence: FenceView { action, command },
        status: StatusView {
            listen: c.status.listen.to_string(),
        },
        control: c.control.group.clone().map(|group| ControlView { group }),
        rejoin: RejoinView {
            timeout: format_duration(c.rejoin.timeout),
            bin_dir: c.rejoin.bin_dir.display().to_string(),
        },
        replication: ReplicationView {
            mode: c.replication.as_str(),
        },
        hooks: HooksView {
            on_role_change: c.hooks.on_role_change.clone(),
            on_fence: c.hooks.on_fence.clone(),
            on_alarm: c.hooks.on_alarm.clone(),
            timeout: format_duration(c.hooks.timeout),
        },
    };
    let mut out = String::new();
    if !c.from_profile.is_empty() {
        out.push_str(&format!(
            "# from profile {:?} (not set in the file):\n",
            c.profile.name()
        ));
        for line in textwrap_fields(&c.from_profile) {
            out.push_str(&format!("#   {line}\n"));
        }
    }
    if c.cluster_id_derived {
        out.push_str("# cluster_id derived from the VIP (no cluster_id in the file)\n");
    }
    if c.failover.failure_window.is_none() {
        out.push_str(
            "# failover.failure_window = \"auto\": twice the slowest path's retries x timeout\n",
        );
    }
    out.push_str(&toml::to_string(&view).unwrap_or_else(|e| format!("# cannot render: {e}\n")));
    out
}
