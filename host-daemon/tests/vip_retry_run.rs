//! Issue 5: a VIP that cannot be added. The real `twinbeat` binary promotes a real
//! standby, the VIP's interface refuses the address (IPv6 disabled on it: the
//! kernel answers EACCES), the daemon raises the critical alarm, keeps the DB
//! promoted and retries; once the interface accepts the address the retry holds it.
//!
//! The failure is not "interface missing": `run` refuses a `vip.interface` the host
//! does not have, and the pre-promotion ARP probe counts a missing interface as
//! "held" (rule 5), which would stop the promotion before any add.

mod actions_support;
mod daemon_support;

use std::time::Duration;

use actions_support::{have_pg, sh, PgBase, PgCluster, PG_BIN};
use daemon_support::{pg_ctl_config, spawn, status_json, stop, wait_for, wait_persisted, Net};
use twinbeat_core::PersistedRole;

#[test]
fn a_vip_add_that_fails_raises_a_critical_alarm_and_is_retried_until_it_holds() {
    assert!(
        have_pg(),
        "PostgreSQL 15 is not installed at {PG_BIN}: apt-get install postgresql-15 (tests/install-deps.sh)"
    );
    let base = PgBase::new();
    let primary = PgCluster::primary(&base, "a");
    let standby = PgCluster::standby(&base, "b", &primary);
    let net = Net::new();
    let vip = format!("fd00:252:{}::100", net.x);
    // The VIP's subnet is on tb0 (the host check wants it local); the VIP goes on
    // tbv, a veth whose peer stays in the node namespace.
    let n = net.node.as_str();
    sh(&[
        "ip",
        "-n",
        n,
        "addr",
        "add",
        &format!("fd00:252:{}::2/64", net.x),
        "dev",
        "tb0",
        "nodad",
    ]);
    sh(&[
        "ip", "-n", n, "link", "add", "tbv", "type", "veth", "peer", "name", "tbvp",
    ]);
    sh(&["ip", "-n", n, "link", "set", "tbv", "up"]);
    sh(&["ip", "-n", n, "link", "set", "tbvp", "up"]);
    let sysctl = |v: &str| {
        sh(&[
            "ip",
            "netns",
            "exec",
            n,
            "sysctl",
            "-w",
            &format!("net.ipv6.conf.tbv.disable_ipv6={v}"),
        ]);
    };
    sysctl("1");
    let tbv_has_vip =
        || sh(&["ip", "-n", n, "-o", "addr", "show", "dev", "tbv"]).contains(&format!("{vip}/"));
    let dir = tempfile::tempdir().unwrap();
    let vip_body = format!("address = \"{vip}/64\"\ninterface = \"tbv\"\ngratuitous_arp = 1");
    let cfg = pg_ctl_config(dir.path(), &net, &base, &standby, Some(&vip_body));
    let log = dir.path().join("stderr.log");
    let child = spawn(&net, &cfg, &log);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    // Failing: the alarm is raised and the take is retried (two failed adds).
    let failing = wait_for(Duration::from_secs(40), || {
        let text = stderr();
        (text.contains("CRITICAL alarm: VipFailed")
            && text.matches("CRITICAL: cannot take the VIP").count() >= 2)
            .then_some(())
    });
    assert!(failing.is_some(), "no alarm and retry\n{}", stderr());
    let status = wait_for(Duration::from_secs(10), || {
        status_json(&net, &cfg).filter(|s| {
            s["alarms"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|t| t.as_str().is_some_and(|t| t.contains("VipFailed")))
            })
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
    let held = wait_for(Duration::from_secs(30), || tbv_has_vip().then_some(()));
    let persisted = wait_persisted(
        &dir.path().join("state"),
        PersistedRole::Primary,
        Duration::from_secs(10),
    );
    let status = wait_for(Duration::from_secs(10), || {
        status_json(&net, &cfg).filter(|s| s["role"] == "primary")
    });
    let code = stop(child);
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
