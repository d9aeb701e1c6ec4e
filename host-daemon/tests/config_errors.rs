//! Bad configurations: the real binary's `check-config` must exit 2 with exactly one
//! line on stderr that names the field and the bad value.

use std::process::Command;

/// A valid file on any host (host-dependent problems are warnings without --strict).
const BASE: &str = r#"node_id = "a"
role = "auto"
state_dir = "/var/lib/twinbeat"

[local_db]
port = 5432
check_interval = "2s"
timeout = "1s"
retries = 5

[local_db.service]
manager = "pg_ctl"
data_dir = "/var/lib/postgresql/15/main"
restart_grace = "10s"

[peer]
address = "10.0.0.12"
db_port = 5432

[checks.icmp]
interval = "1ms"
timeout = "100ms"
retries = 5
ttl = 64

[checks.remote_db]
interval = "10ms"
timeout = "200ms"
retries = 5

[checks.serial]
device = "/dev/ttyS0"
baud = 115200
interval = "1s"
timeout = "200ms"
retries = 5

[checks.gateway]
address = "10.0.0.1"

[vip]
address = "10.0.0.100/24"

[failover]
failure_window = "auto"
max_lag_on_failover = "1MiB"
peer_state_max_age = "5s"

[fence]
action = "stop-db"

[status]
listen = "127.0.0.1:8432"
"#;

const FLAT: &str = r#"{
    //"role":"master",
    "dblclhost":"localhost",
    "dblcluser":"postgres",
    "dblclpass":"pass",
    "dblclname":"recordings",
    "dblclport":"5433",
    "dbrmthost":"10.0.0.12",
    "dbrmtport":"5434",
    "vip":"172.31.148.155",
}"#;

struct Case {
    name: &'static str,
    /// (text in BASE, replacement); the text must occur exactly once.
    edit: (&'static str, &'static str),
    /// Field and value the one error line must name.
    field: &'static str,
    value: &'static str,
    strict: bool,
    json: bool,
}

const fn case(
    name: &'static str,
    from: &'static str,
    to: &'static str,
    field: &'static str,
    value: &'static str,
) -> Case {
    Case {
        name,
        edit: (from, to),
        field,
        value,
        strict: false,
        json: false,
    }
}

const CASES: &[Case] = &[
    case(
        "unknown top-level key",
        "node_id = \"a\"",
        "node_id = \"a\"\nbogus_key = 1",
        "bogus_key",
        "bogus_key",
    ),
    case(
        "unknown key in a section",
        "[local_db]\nport = 5432",
        "[local_db]\nprot = 5432",
        "local_db",
        "prot",
    ),
    case(
        "unknown section",
        "[status]",
        "[statos]",
        "statos",
        "statos",
    ),
    case(
        "retries of the wrong type",
        "check_interval = \"2s\"\ntimeout = \"1s\"\nretries = 5",
        "check_interval = \"2s\"\ntimeout = \"1s\"\nretries = \"five\"",
        "local_db.retries",
        "five",
    ),
    case(
        "serial bridge flag of the wrong type",
        "baud = 115200",
        "baud = 115200\nbridge = \"yes\"",
        "checks.serial.bridge",
        "yes",
    ),
    case(
        "port of the wrong type",
        "[local_db]\nport = 5432",
        "[local_db]\nport = true",
        "local_db.port",
        "true",
    ),
    case(
        "port out of range",
        "[local_db]\nport = 5432",
        "[local_db]\nport = 70000",
        "local_db.port",
        "70000",
    ),
    case(
        "port string that is no number",
        "db_port = 5432",
        "db_port = \"54x32\"",
        "peer.db_port",
        "54x32",
    ),
    case(
        "unparsable duration",
        "check_interval = \"2s\"",
        "check_interval = \"2 parsecs\"",
        "local_db.check_interval",
        "2 parsecs",
    ),
    case(
        "duration given as a number",
        "[failover]\nfailure_window = \"auto\"",
        "[failover]\nstartup_grace = 60\nfailure_window = \"auto\"",
        "failover.startup_grace",
        "60",
    ),
    case(
        "zero retries on icmp",
        "interval = \"1ms\"\ntimeout = \"100ms\"\nretries = 5",
        "interval = \"1ms\"\ntimeout = \"100ms\"\nretries = 0",
        "checks.icmp.retries",
        "0",
    ),
    case(
        "zero interval",
        "interval = \"10ms\"",
        "interval = \"0s\"",
        "checks.remote_db.interval",
        "0s",
    ),
    case(
        "timeout longer than allowed",
        "timeout = \"100ms\"",
        "timeout = \"2m\"",
        "checks.icmp.timeout",
        "2m",
    ),
    case(
        "serial timeout longer than its interval",
        "timeout = \"200ms\"\nretries = 5\n\n[checks.gateway]",
        "timeout = \"2s\"\nretries = 5\n\n[checks.gateway]",
        "checks.serial.timeout",
        "2s",
    ),
    case(
        "local timeout not shorter than the restart grace",
        "timeout = \"1s\"",
        "timeout = \"10s\"",
        "local_db.timeout",
        "10s",
    ),
    case(
        "unparsable size",
        "max_lag_on_failover = \"1MiB\"",
        "max_lag_on_failover = \"1 parsec\"",
        "failover.max_lag_on_failover",
        "1 parsec",
    ),
    case(
        "unparsable failure window",
        "failure_window = \"auto\"",
        "failure_window = \"soon\"",
        "failover.failure_window",
        "soon",
    ),
    case(
        "failure window shorter than detection",
        "failure_window = \"auto\"",
        "failure_window = \"100ms\"",
        "failover.failure_window",
        "100ms",
    ),
    case(
        "peer state max age not above the serial interval",
        "peer_state_max_age = \"5s\"",
        "peer_state_max_age = \"1s\"",
        "failover.peer_state_max_age",
        "1s",
    ),
    case(
        "unparsable peer address",
        "address = \"10.0.0.12\"",
        "address = \"10.0.0.999\"",
        "peer.address",
        "10.0.0.999",
    ),
    case(
        "missing peer address",
        "address = \"10.0.0.12\"\n",
        "",
        "peer.address",
        "missing",
    ),
    case(
        "peer CA file missing",
        "db_port = 5432\n\n[checks.icmp]",
        "db_port = 5432\nsslmode = \"verify-full\"\nsslrootcert = \"/nonexistent/ca.crt\"\n\n[checks.icmp]",
        "peer.sslrootcert",
        "/nonexistent/ca.crt",
    ),
    case(
        "unparsable VIP",
        "address = \"10.0.0.100/24\"",
        "address = \"10.0.0.300/24\"",
        "vip.address",
        "10.0.0.300/24",
    ),
    case(
        "VIP prefix too long",
        "address = \"10.0.0.100/24\"",
        "address = \"10.0.0.100/40\"",
        "vip.address",
        "10.0.0.100/40",
    ),
    case(
        "VIP is the network address",
        "address = \"10.0.0.100/24\"",
        "address = \"10.0.0.0/24\"",
        "vip.address",
        "10.0.0.0/24",
    ),
    case(
        "gateway is the peer",
        "[checks.gateway]\naddress = \"10.0.0.1\"",
        "[checks.gateway]\naddress = \"10.0.0.12\"",
        "checks.gateway.address",
        "10.0.0.12",
    ),
    case(
        "unknown manager",
        "manager = \"pg_ctl\"",
        "manager = \"sysvinit\"",
        "local_db.service.manager",
        "sysvinit",
    ),
    case(
        "pg_ctl without data_dir",
        "data_dir = \"/var/lib/postgresql/15/main\"\n",
        "",
        "local_db.service.data_dir",
        "missing",
    ),
    case(
        "relative data_dir",
        "data_dir = \"/var/lib/postgresql/15/main\"",
        "data_dir = \"15/main\"",
        "local_db.service.data_dir",
        "15/main",
    ),
    case(
        "systemd without unit",
        "manager = \"pg_ctl\"",
        "manager = \"systemd\"",
        "local_db.service.unit",
        "missing",
    ),
    case(
        "command without commands",
        "manager = \"pg_ctl\"",
        "manager = \"command\"",
        "local_db.service.restart_command",
        "missing",
    ),
    case(
        "bad fence action",
        "action = \"stop-db\"",
        "action = \"explode\"",
        "fence.action",
        "explode",
    ),
    case(
        "fence command without a command",
        "action = \"stop-db\"",
        "action = \"command\"",
        "fence.command",
        "missing",
    ),
    case(
        "baud 0",
        "baud = 115200",
        "baud = 0",
        "checks.serial.baud",
        "0",
    ),
    case(
        "relative serial device",
        "device = \"/dev/ttyS0\"",
        "device = \"ttyS0\"",
        "checks.serial.device",
        "ttyS0",
    ),
    case(
        "bad listen address",
        "listen = \"127.0.0.1:8432\"",
        "listen = \"localhost:http\"",
        "status.listen",
        "localhost:http",
    ),
    case("ttl 0", "ttl = 64", "ttl = 0", "checks.icmp.ttl", "0"),
    case(
        "ttl over 255",
        "ttl = 64",
        "ttl = 300",
        "checks.icmp.ttl",
        "300",
    ),
    case(
        "unknown role",
        "role = \"auto\"",
        "role = \"boss\"",
        "role",
        "boss",
    ),
    case(
        "relative state_dir",
        "state_dir = \"/var/lib/twinbeat\"",
        "state_dir = \"twinbeat\"",
        "state_dir",
        "twinbeat",
    ),
    case(
        "node id with a space",
        "node_id = \"a\"",
        "node_id = \"a b\"",
        "node_id",
        "a b",
    ),
    case(
        "password and password_file together",
        "[local_db]\nport = 5432",
        "[local_db]\nport = 5432\npassword = \"x\"\npassword_file = \"/etc/twinbeat/pgpass\"",
        "local_db.password_file",
        "/etc/twinbeat/pgpass",
    ),
    case(
        "relative password_file",
        "[local_db]\nport = 5432",
        "[local_db]\nport = 5432\npassword_file = \"pgpass\"",
        "local_db.password_file",
        "pgpass",
    ),
    case(
        "bad gratuitous ARP count",
        "address = \"10.0.0.100/24\"",
        "address = \"10.0.0.100/24\"\ngratuitous_arp = 1000",
        "vip.gratuitous_arp",
        "1000",
    ),
    case("TOML syntax error", "[status]", "[status", "line", "TOML"),
    case(
        "control group that is no group name",
        "listen = \"127.0.0.1:8432\"",
        "listen = \"127.0.0.1:8432\"\n\n[control]\ngroup = \"-wheel\"",
        "control.group",
        "-wheel",
    ),
    case(
        "unknown key in the control section",
        "listen = \"127.0.0.1:8432\"",
        "listen = \"127.0.0.1:8432\"\n\n[control]\ngrop = \"adm\"",
        "control",
        "grop",
    ),
    Case {
        strict: true,
        ..case(
            "VIP in no local subnet (--strict, as run checks it)",
            "address = \"10.0.0.100/24\"",
            "address = \"203.0.113.10/24\"",
            "vip.address",
            "203.0.113.10/24",
        )
    },
    Case {
        json: true,
        ..case(
            "flat JSON: unknown key",
            "\"dblclport\":\"5433\"",
            "\"dblcport\":\"5433\"",
            "dblcport",
            "dblcport",
        )
    },
    Case {
        json: true,
        ..case(
            "flat JSON: port that is no number",
            "\"dblclport\":\"5433\"",
            "\"dblclport\":\"54x33\"",
            "dblclport",
            "54x33",
        )
    },
    Case {
        json: true,
        ..case(
            "flat JSON: unparsable VIP",
            "\"vip\":\"172.31.148.155\"",
            "\"vip\":\"172.31.148\"",
            "vip",
            "172.31.148",
        )
    },
];

fn run(case: &Case, dir: &std::path::Path) -> (Option<i32>, String) {
    let (base, ext) = if case.json {
        (FLAT, "json")
    } else {
        (BASE, "toml")
    };
    let (from, to) = case.edit;
    assert_eq!(
        base.matches(from).count(),
        1,
        "{}: the edit must match once: {from:?}",
        case.name
    );
    let text = base.replacen(from, to, 1);
    let path = dir.join(format!("case.{ext}"));
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_twinbeat"));
    cmd.arg("check-config").arg("--config").arg(&path);
    if case.strict {
        cmd.arg("--strict");
    }
    cmd.env_remove("TWINBEAT_PG_PASSWORD");
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn base_configs_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    for (text, ext) in [(BASE, "toml"), (FLAT, "json")] {
        let path = dir.path().join(format!("ok.{ext}"));
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_twinbeat"))
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ext}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_bad_config_exits_2_naming_field_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut tested = 0;
    let mut failures = Vec::new();
    for case in CASES {
        tested += 1;
        let (code, stderr) = run(case, dir.path());
        let lines: Vec<&str> = stderr.lines().collect();
        let ok = code == Some(2)
            && lines.len() == 1
            && lines[0].starts_with("error: ")
            && lines[0].contains(case.field)
            && lines[0].contains(case.value);
        if !ok {
            failures.push(format!("{}: exit {code:?}, stderr {stderr:?}", case.name));
        }
    }
    assert!(tested >= 25, "only {tested} bad configurations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
