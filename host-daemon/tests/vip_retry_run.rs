//! A VIP that cannot be added. The real `twinbeat` binary promotes a real
//! standby, the VIP's interface refuses the address (IPv6 disabled on it: the
//! kernel answers EACCES), the daemon raises the critical alarm, keeps the DB
//! promoted and retries; once the interface accepts the address the retry holds it.
//!
//! The failure is not "interface missing": `run` refuses a `vip.interface` the host
//! does not have, and the pre-promotion ARP probe counts a missing interface as
//! "held" (rule `fresh-checks`), which would stop the promotion before any add.

use std::path::Path;
use std::time::Duration;

use twinbeat_lab::cmd::poll;
use twinbeat_lab::daemon::Vip;
use twinbeat_lab::lone::LoneNode;
use twinbeat_lab::pg::{self, Launch, PgServer, PG_BIN};

#[test]
fn a_vip_add_that_fails_raises_a_critical_alarm_and_is_retried_until_it_holds() {
    assert!(
        pg::installed(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    let primary = PgServer::primary(Launch::PgCtl).expect("a primary");
    let standby = PgServer::standby_of(&primary, Launch::PgCtl, true).expect("a standby");
    let net =
        LoneNode::new(Path::new(env!("CARGO_BIN_EXE_twinbeat"))).expect("the node's namespaces");
    let vip = format!("fd00:252:{}::100", net.x);
    // The VIP's subnet is on tb0 (the host check wants it local); the VIP goes on
    // tbv, a veth whose peer stays in the node namespace.
    let node = net.node();
    node.ip(&[
        "addr",
        "add",
        &format!("fd00:252:{}::2/64", net.x),
        "dev",
        "tb0",
        "nodad",
    ])
    .unwrap();
    node.ip(&["link", "add", "tbv", "type", "veth", "peer", "name", "tbvp"])
        .unwrap();
    node.ip(&["link", "set", "tbv", "up"]).unwrap();
    node.ip(&["link", "set", "tbvp", "up"]).unwrap();
    let sysctl = |v: &str| {
        let setting = format!("net.ipv6.conf.tbv.disable_ipv6={v}");
        node.run("sysctl", &["-w", &setting]).unwrap();
    };
    sysctl("1");
    let tbv_has_vip = || node.has_addr("tbv", &vip);
    let vip_body = Vip {
        address: format!("{vip}/64"),
        interface: Some("tbv".into()),
        gratuitous_arp: Some(1),
        ..Vip::default()
    };
    let cfg = net.pg_ctl_config(&standby, Some(vip_body)).unwrap();
    let log = net.log();
    let child = net.spawn(&cfg, &[]).unwrap();
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    // Failing: the alarm is raised and the take is retried (two failed adds).
    let failing = poll(Duration::from_secs(40), || {
        let text = stderr();
        (text.contains("CRITICAL alarm: VipFailed")
            && text.matches("CRITICAL: cannot take the VIP").count() >= 2)
            .then_some(())
    });
    assert!(failing.is_some(), "no alarm and retry\n{}", stderr());
    let status = poll(Duration::from_secs(10), || {
        net.status_json(&cfg).filter(|s| {
            s["alarms"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t["code"] == "vip_failed"))
        })
    });
    let status = status.unwrap_or_else(|| panic!("alarm not on the status page\n{}", stderr()));
    // Promoted and still claiming the primary's side; the VIP is all that is missing.
    assert_eq!(status["role"], "promoting", "{status}");
    assert_eq!(status["fenced"], false, "{status}");
    assert_eq!(status["local_db"], "healthy (primary)", "{status}");
    assert!(!tbv_has_vip());

    // The interface accepts addresses again: the next retry holds the VIP.
    sysctl("0");
    let held = poll(Duration::from_secs(30), || tbv_has_vip().then_some(()));
    let persisted = net.wait_persisted("primary", Duration::from_secs(10));
    let status = poll(Duration::from_secs(10), || {
        net.status_json(&cfg).filter(|s| s["role"] == "primary")
    });
    let code = child.stop();
    let text = stderr();
    assert!(
        held.is_some(),
        "VIP never added after the interface came back\n{text}"
    );
    assert!(persisted.is_some(), "never persisted primary\n{text}");
    let status = status.unwrap_or_else(|| panic!("never primary\n{text}"));
    assert_eq!(status["vip"]["holder"], "this node", "{status}");
    assert_eq!(code, Some(0), "{text}");
    for line in text
        .lines()
        .filter(|l| l.contains("VIP") || l.contains("VipFailed"))
    {
        eprintln!("log: {line}");
    }
}
