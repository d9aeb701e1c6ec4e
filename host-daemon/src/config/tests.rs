//! Loading against injected host facts: interface and prefix inference, and the
//! checks `run` enforces on the target host.

use std::path::Path;

use super::host::{parse_proc_route, GroupDb, HostFacts, LocalAddr};
use super::*;

fn host() -> HostFacts {
    HostFacts {
        hostname: Some("node-a".into()),
        addrs: vec![
            LocalAddr {
                interface: "lo".into(),
                net: "127.0.0.1/8".parse().unwrap(),
            },
            LocalAddr {
                interface: "eth1".into(),
                net: "172.31.144.7/20".parse().unwrap(),
            },
        ],
        routes: parse_proc_route(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
             eth1\t00000000\t01901FAC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        ),
        interfaces: vec!["eth1".into(), "lo".into()],
        groups: GroupDb::Listed(vec!["twinbeat-admin".into()]),
    }
}

const FLAT: &str = r#"{
    //"role":"master",
    "dblclhost":"localhost",
    "dblcluser":"postgres",
    "dblclpass":"pass",
    "dblclname":"recordings",
    "dblclport":"5433",
    "dbrmthost":"localhost",
    "dbrmtport":"5434",
    "vip":"172.31.148.155",
}"#;

fn load(text: &str, name: &str, mode: HostChecks) -> Result<Loaded, ConfigError> {
    load_str(Path::new(name), text, &host(), mode, None)
}

#[test]
fn flat_file_maps_and_infers_from_the_host() {
    let l = load(FLAT, "notes.json", HostChecks::Warn).unwrap();
    assert!(l.flat);
    let c = &l.config;
    assert_eq!(c.local_db.conn.port, 5433);
    assert_eq!(c.local_db.conn.dbname, "recordings");
    assert_eq!(
        c.local_db.conn.password,
        PasswordSource::Inline(Secret("pass".into()))
    );
    assert_eq!(c.peer.db.port, 5434);
    assert_eq!(c.peer.db.user, "postgres");
    // Prefix and interface from the subnet that holds the VIP.
    assert_eq!(c.vip.address.to_string(), "172.31.148.155/20");
    assert_eq!(c.vip.interface.as_deref(), Some("eth1"));
    // Gateway from the default route; cluster id from the VIP; node id from the host.
    assert_eq!(
        c.checks.gateway_address,
        Some("172.31.144.1".parse().unwrap())
    );
    assert_eq!(c.cluster_id, "172.31.148.155");
    assert!(c.cluster_id_derived);
    assert_eq!(c.node_id, "node-a");
    // "localhost" as the peer: a loud warning, named by the flat key.
    assert!(l
        .warnings
        .iter()
        .any(|w| w.field.starts_with("dbrmthost") && w.message.contains("LOUD")));
}

#[test]
fn run_refuses_a_peer_on_this_host_unless_the_role_is_pinned() {
    let e = load(FLAT, "notes.json", HostChecks::Enforce).unwrap_err();
    assert!(e.to_string().starts_with("dbrmthost (peer.address)"), "{e}");
    let pinned = FLAT.replace("//\"role\":\"master\",", "\"role\":\"master\",");
    let l = load(&pinned, "notes.json", HostChecks::Enforce).unwrap();
    assert_eq!(l.config.role, RolePin::Master);
}

#[test]
fn run_refuses_a_vip_in_no_local_subnet_and_a_missing_interface() {
    let toml = "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"10.9.9.9/24\"\n";
    assert!(load(toml, "c.toml", HostChecks::Warn).is_ok());
    let e = load(toml, "c.toml", HostChecks::Enforce).unwrap_err();
    assert_eq!(e.field(), Some("vip.address"));
    let toml = "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"172.31.144.100\"\ninterface = \"eth7\"\n";
    let e = load(toml, "c.toml", HostChecks::Enforce).unwrap_err();
    assert_eq!(e.field(), Some("vip.interface"));
}

#[test]
fn password_from_the_environment_when_the_file_has_none() {
    let toml = "[peer]\naddress = \"10.0.0.12\"\n[vip]\naddress = \"10.0.0.100/24\"\n";
    let l = load_str(
        Path::new("c.toml"),
        toml,
        &host(),
        HostChecks::Warn,
        Some("s3cret".into()),
    )
    .unwrap();
    assert_eq!(
        l.config.local_db.conn.password,
        PasswordSource::Env(Secret("s3cret".into()))
    );
    // The peer inherits the local credentials.
    assert_eq!(l.config.peer.db.password, l.config.local_db.conn.password);
    let shown = render_toml(&l);
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn rendered_config_loads_back_to_the_same_config() {
    let l = load(FLAT, "notes.json", HostChecks::Warn).unwrap();
    let text = render_toml(&l).replace("<redacted>", "pass");
    let again = load(&text, "again.toml", HostChecks::Warn).unwrap();
    let mut expected = l.config.clone();
    // The rendered file states the derived cluster id and the window explicitly.
    expected.cluster_id_derived = false;
    expected.failover.failure_window = Some(l.engine.effective_failure_window());
    // Every timing is written out: none comes from the profile any more.
    expected.from_profile.clear();
    assert_eq!(again.config, expected);
}

#[test]
fn a_profile_fills_in_the_timings_the_file_leaves_out_and_check_config_says_which() {
    use std::time::Duration;
    let conf = |extra: &str| {
        format!(
            "{extra}node_id = \"a\"\n[vip]\naddress = \"172.31.144.100\"\n[peer]\naddress = \"172.31.144.9\"\n[checks.serial]\ntimeout = \"40ms\"\n"
        )
    };
    let fast = load(&conf("profile = \"fast\"\n"), "c.toml", HostChecks::Warn).unwrap();
    let c = &fast.config;
    assert_eq!(c.profile, Profile::Fast);
    assert_eq!(c.checks.icmp.timeout, Duration::from_millis(20));
    assert_eq!(c.checks.remote_db.timeout, Duration::from_millis(25));
    assert_eq!(c.checks.serial.interval, Duration::from_millis(50));
    assert_eq!(c.local_db.check_interval, Duration::from_millis(200));
    assert_eq!(c.failover.startup_grace, Duration::from_secs(10));
    assert_eq!(c.vip.arp_probe_timeout, Duration::from_millis(20));
    // An explicit setting wins over the preset, and is not listed as the preset's.
    assert_eq!(c.checks.serial.timeout, Duration::from_millis(40));
    assert!(c.from_profile.iter().any(|f| f == "checks.icmp.timeout"));
    assert!(!c.from_profile.iter().any(|f| f == "checks.serial.timeout"));
    let shown = render_toml(&fast);
    assert!(
        shown.starts_with("# from profile \"fast\" (not set in the file):\n"),
        "{shown}"
    );
    assert!(shown.contains("checks.icmp.timeout"), "{shown}");
    assert!(shown.contains("profile = \"fast\""), "{shown}");

    // Without a profile, the default one: the design's rates.
    let default = load(&conf(""), "c.toml", HostChecks::Warn).unwrap().config;
    assert_eq!(default.profile, Profile::Default);
    assert_eq!(default.checks.icmp.timeout, Duration::from_millis(100));
    assert_eq!(default.checks.serial.interval, Duration::from_secs(1));

    let e = load(&conf("profile = \"quick\"\n"), "c.toml", HostChecks::Warn).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("profile") && msg.contains("\"quick\""),
        "{msg}"
    );
}

#[test]
fn engine_config_gets_every_timing() {
    let l = load(FLAT, "notes.json", HostChecks::Warn).unwrap();
    let core = &l.engine;
    assert_eq!(core.icmp.interval, std::time::Duration::from_millis(1));
    assert_eq!(core.local_db.interval, std::time::Duration::from_secs(2));
    assert_eq!(core.failure_window, None);
    // The window `check-config` shows is the one the engine runs with.
    let shown = format!(
        "failure_window = \"{}\"",
        units::format_duration(core.effective_failure_window())
    );
    assert!(render_toml(&l).contains(&shown), "{shown}");
}

#[test]
fn data_dir_is_accepted_for_every_manager_and_rendered() {
    let base = "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"172.31.144.100\"\n";
    for service in [
        "manager = \"systemd\"\nunit = \"postgresql@15-main.service\"",
        "manager = \"command\"\nrestart_command = \"r\"\nstop_command = \"s\"",
        "manager = \"pg_ctl\"",
    ] {
        let text = format!("{base}[local_db.service]\n{service}\ndata_dir = \"/srv/pg/15/main\"\n");
        let l = load(&text, "c.toml", HostChecks::Warn).unwrap();
        let dir = l.config.local_db.service.manager.data_dir();
        assert_eq!(dir, Some(Path::new("/srv/pg/15/main")), "{service}");
        assert!(
            !l.warnings
                .iter()
                .any(|w| w.field == "local_db.service.data_dir"),
            "{service}: {:?}",
            l.warnings
        );
        let shown = render_toml(&l);
        assert!(
            shown.contains("data_dir = \"/srv/pg/15/main\""),
            "{service}: {shown}"
        );
        let again = load(&shown, "again.toml", HostChecks::Warn).unwrap();
        assert_eq!(
            again.config.local_db.service.manager,
            l.config.local_db.service.manager
        );
    }
}

#[test]
fn config_file_is_an_absolute_path_without_a_quote_and_rendered() {
    let text = |file: &str| {
        format!(
            "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"172.31.144.100\"\n\
             [local_db.service]\nmanager = \"pg_ctl\"\ndata_dir = \"/var/lib/postgresql/15/main\"\n\
             config_file = \"{file}\"\n"
        )
    };
    let debian = "/etc/postgresql/15/main/postgresql.conf";
    let l = load(&text(debian), "c.toml", HostChecks::Warn).unwrap();
    assert_eq!(
        l.config.local_db.service.config_file.as_deref(),
        Some(Path::new(debian))
    );
    let shown = render_toml(&l);
    assert!(
        shown.contains(&format!("config_file = \"{debian}\"")),
        "{shown}"
    );
    for bad in ["postgresql.conf", "/etc/it's/postgresql.conf"] {
        let e = load(&text(bad), "c.toml", HostChecks::Warn)
            .unwrap_err()
            .to_string();
        assert!(e.contains("local_db.service.config_file"), "{bad}: {e}");
    }
}

#[test]
fn without_data_dir_a_systemd_or_command_manager_is_warned_about() {
    let text = "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"172.31.144.100\"\n\
                [local_db.service]\nmanager = \"command\"\nrestart_command = \"r\"\nstop_command = \"s\"\n";
    let l = load(text, "c.toml", HostChecks::Warn).unwrap();
    assert_eq!(l.config.local_db.service.manager.data_dir(), None);
    let w = l
        .warnings
        .iter()
        .find(|w| w.field == "local_db.service.data_dir")
        .expect("a data_dir warning");
    assert!(w.message.contains("SHOW data_directory"), "{}", w.message);
    assert!(w.message.contains("start guard"), "{}", w.message);
    assert!(w.message.contains("confirmed by PID"), "{}", w.message);
}

#[test]
fn control_group_is_a_group_name_that_exists_on_the_host() {
    let base = "[peer]\naddress = \"172.31.144.9\"\n[vip]\naddress = \"172.31.144.100\"\n";
    // Without a group only root may use the socket, and nothing is shown.
    let l = load(base, "c.toml", HostChecks::Enforce).unwrap();
    assert_eq!(l.config.control, Control::default());
    assert!(!render_toml(&l).contains("[control]"));

    let with = |group: &str| format!("{base}[control]\ngroup = \"{group}\"\n");
    let l = load(&with("twinbeat-admin"), "c.toml", HostChecks::Enforce).unwrap();
    assert_eq!(l.config.control.group.as_deref(), Some("twinbeat-admin"));
    let shown = render_toml(&l);
    assert!(
        shown.contains("[control]\ngroup = \"twinbeat-admin\""),
        "{shown}"
    );
    let again = load(&shown, "again.toml", HostChecks::Enforce).unwrap();
    assert_eq!(again.config.control, l.config.control);

    // A group this host does not have: `run` refuses it, `check-config` warns.
    let text = with("dba");
    let e = load(&text, "c.toml", HostChecks::Enforce).unwrap_err();
    assert_eq!(e.field(), Some("control.group"));
    assert!(e.to_string().contains("\"dba\""), "{e}");
    let l = load(&text, "c.toml", HostChecks::Warn).unwrap();
    assert!(
        l.warnings.iter().any(|w| w.field == "control.group"),
        "{:?}",
        l.warnings
    );

    // Not a group name at all: refused on any host.
    for bad in ["", "-admins", "4", "wheel group", "a/b", &"g".repeat(33)] {
        let e = load(&with(bad), "c.toml", HostChecks::Warn).unwrap_err();
        assert_eq!(e.field(), Some("control.group"), "{bad:?}: {e}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

#[test]
fn replication_mode_needs_the_peers_node_id_to_name_it() {
    let base = "node_id = \"a\"\n[vip]\naddress = \"172.31.144.100\"\n";
    // Async by default: nothing to name.
    let l = load(
        &format!("{base}[peer]\naddress = \"172.31.144.9\"\n"),
        "c.toml",
        HostChecks::Enforce,
    )
    .unwrap();
    assert_eq!(l.config.replication, twinbeat_core::ReplicationMode::Async);
    assert_eq!(l.engine.replication, twinbeat_core::ReplicationMode::Async);

    let with = |peer: &str, mode: &str| {
        format!(
            "{base}[peer]\naddress = \"172.31.144.9\"\n{peer}[replication]\nmode = \"{mode}\"\n"
        )
    };
    let e = load(&with("", "sync"), "c.toml", HostChecks::Warn).unwrap_err();
    assert_eq!(e.field(), Some("peer.node_id"), "{e}");
    let l = load(
        &with("node_id = \"b\"\n", "strict"),
        "c.toml",
        HostChecks::Enforce,
    )
    .unwrap();
    assert_eq!(l.engine.replication, twinbeat_core::ReplicationMode::Strict);
    assert_eq!(l.config.peer.node_id.as_deref(), Some("b"));
    let shown = render_toml(&l);
    assert!(
        shown.contains("[replication]\nmode = \"strict\""),
        "{shown}"
    );
    let again = load(&shown, "again.toml", HostChecks::Enforce).unwrap();
    assert_eq!(again.config.replication, l.config.replication);
    assert_eq!(again.config.peer.node_id, l.config.peer.node_id);

    let e = load(
        &with("node_id = \"b\"\n", "quorum"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("replication.mode"));
    assert!(e.to_string().contains("\"quorum\""), "{e}");
    let e = load(
        &with("node_id = \"a\"\n", "sync"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap_err();
    assert_eq!(
        e.field(),
        Some("peer.node_id"),
        "the peer's id, not this node's: {e}"
    );
    let e = load(
        &with("node_id = \"b c\"\n", "sync"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("peer.node_id"), "{e}");
}

#[test]
fn sync_mode_defaults_peer_state_max_age_to_its_stall_bound() {
    use std::time::Duration;
    // Rule `sync-epoch`: in `sync` the setting bounds how long commits wait for a dead
    // standby, so its default is shorter there; a value given still wins.
    let conf = |mode: &str, extra: &str| {
        format!(
            "node_id = \"a\"\n[vip]\naddress = \"172.31.144.100\"\n[peer]\naddress = \"172.31.144.9\"\nnode_id = \"b\"\n[replication]\nmode = \"{mode}\"\n{extra}"
        )
    };
    let age = |text: &str| {
        load(text, "c.toml", HostChecks::Enforce)
            .unwrap()
            .engine
            .peer_state_max_age
    };
    assert_eq!(age(&conf("sync", "")), Duration::from_millis(1800));
    assert_eq!(age(&conf("strict", "")), Duration::from_secs(5));
    assert_eq!(age(&conf("async", "")), Duration::from_secs(5));
    let given = "[failover]\npeer_state_max_age = \"3s\"\n";
    assert_eq!(age(&conf("sync", given)), Duration::from_secs(3));
}

#[test]
fn peer_tls_settings_are_checked_and_shown() {
    let conf = |peer: &str| {
        format!(
            "node_id = \"a\"\n[vip]\naddress = \"172.31.144.100\"\n[peer]\naddress = \"172.31.144.9\"\n{peer}"
        )
    };
    let c = load(&conf(""), "c.toml", HostChecks::Warn).unwrap();
    assert_eq!(c.config.peer.tls.mode, SslMode::Disable);
    assert!(render_toml(&c).contains("sslmode = \"disable\""));
    let e = load(
        &conf("sslmode = \"verify-full\"\n"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap_err();
    assert!(e.to_string().contains("peer.sslrootcert"), "{e}");
    let e = load(&conf("sslmode = \"always\"\n"), "c.toml", HostChecks::Warn).unwrap_err();
    assert!(
        e.to_string().contains("peer.sslmode") && e.to_string().contains("always"),
        "{e}"
    );
    let e = load(
        &conf("sslmode = \"require\"\nsslcert = \"/etc/twinbeat/client.crt\"\n"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap_err();
    assert!(e.to_string().contains("peer.sslkey"), "{e}");
    let ok = load(
        &conf("sslmode = \"verify-full\"\nsslrootcert = \"/etc/twinbeat/ca.crt\"\n"),
        "c.toml",
        HostChecks::Warn,
    )
    .unwrap();
    let shown = render_toml(&ok);
    assert!(shown.contains("sslmode = \"verify-full\""), "{shown}");
    assert!(
        shown.contains("sslrootcert = \"/etc/twinbeat/ca.crt\""),
        "{shown}"
    );
}
