//! Scenarios through the heartbeat bridge (rule `bridge-verdict`): the serial cable runs
//! through the `link-firmware` bridge in QEMU `lm3s6965evb` (UART0 ↔ a, UART1 ↔ b), and
//! both daemons run with `checks.serial.bridge = true`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{
    b_not_promoted, cluster_with, kill_master_and_check_takeover, normal, quiet_window, stays, Ctx,
    Outcome,
};
use crate::error::Result;
use crate::lab::{Lab, LabOptions};
use crate::netns::Node;
use crate::sampler::Sampler;

/// Starts a cluster whose serial cable is the bridge (`bridge`) or the relay, and waits
/// for a healthy pair.
fn cluster_on(ctx: &Ctx, bridge: bool) -> Result<(Lab, Sampler)> {
    let (lab, sampler) = cluster_with(
        ctx,
        LabOptions {
            bridge,
            ..LabOptions::new(&ctx.lab_exe)
        },
    )?;
    if bridge {
        sampler.mark("the serial cable is the bridge");
    }
    Ok((lab, sampler))
}

/// Polls node `n`'s `/status` until `pred` holds (the last document seen either way).
fn status_until(
    lab: &Lab,
    n: Node,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> (bool, Value) {
    let end = Instant::now() + within;
    let mut last = Value::Null;
    loop {
        if let Ok(v) = lab.daemon_status(n) {
            if pred(&v) {
                return (true, v);
            }
            last = v;
        }
        if Instant::now() > end {
            return (false, last);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn bridge_line(v: &Value) -> String {
    format!(
        "bridge_state {}, serial_down_cause {}, bridge {}",
        v["bridge_state"], v["serial_down_cause"], v["bridge"]
    )
}

fn serial_path(v: &Value) -> Option<&Value> {
    v["paths"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "serial")
}

/// Scenario b1: master death through the bridge → b promoted, VIP on b; b's status says
/// the bridge hears nothing from a.
pub fn b1_master_death_through_bridge(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "b1 master host death through the bridge",
        "b promoted, VIP on b; b's status: serial down, peer silent at bridge",
    );
    let (lab, sampler) = cluster_on(ctx, true)?;
    sampler.mark("fault: a dies (cable out, daemon killed, PostgreSQL stopped)");
    // The bridge stays up: it stops hearing a because a's daemon is dead.
    kill_master_and_check_takeover(ctx, &lab, &sampler, &mut out)?;
    let (ok, v) = status_until(&lab, Node::B, Duration::from_secs(10), |v| {
        v["bridge_state"] == "alive" && v["serial_down_cause"] == "peer silent at bridge"
    });
    out.check(ok, format!("b's status: {}", bridge_line(&v)));
    Ok(out.finish(sampler, false))
}

/// Scenario b2: the bridge dies (QEMU killed) while the master lives → no promotion; b's
/// status shows the bridge silent.
pub fn b2_bridge_stopped(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "b2 bridge stopped while the master lives",
        "no promotion; a keeps the VIP; b's status: bridge silent, serial down (bridge silent)",
    );
    let (lab, sampler) = cluster_on(ctx, true)?;
    sampler.mark("fault: the bridge dies (QEMU killed)");
    lab.kill_bridge()?;
    let window = quiet_window(ctx.profile) * 2;
    let bad = stays(&sampler, window, |s| normal(s) && b_not_promoted(s));
    out.check(
        bad.is_none(),
        format!("pair unchanged for {window:?} ({bad:?})"),
    );
    let (ok, v) = status_until(&lab, Node::B, Duration::from_secs(10), |v| {
        v["bridge_state"] == "silent" && v["serial_down_cause"] == "bridge silent"
    });
    out.check(ok, format!("b's status: {}", bridge_line(&v)));
    Ok(out.finish(sampler, false))
}

/// Scenario b3: the healthy pair's status shows the bridge alive with its counters; then
/// `twinbeat diagnose` on a, its daemon stopped, asks over the bridge who is at the other
/// end and the bridge for its report.
pub fn b3_bridge_status_in_healthy_pair(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "b3 bridge status in a healthy pair",
        "both nodes: bridge alive, both sides heard recently, serial up, the settings' fingerprint across the bridge; diagnose on a: b answers its hello, the bridge reports",
    );
    let (lab, sampler) = cluster_on(ctx, true)?;
    for n in Node::BOTH {
        let (ok, v) = status_until(&lab, n, Duration::from_secs(10), |v| {
            let heard = |side: &str| v["bridge"][side].as_u64().is_some_and(|ms| ms < 3000);
            v["bridge_state"] == "alive"
                && heard("heard_a_ms_ago")
                && heard("heard_b_ms_ago")
                && v["serial_down_cause"].is_null()
                && serial_path(v).is_some_and(|p| p["state"] == "up")
        });
        out.check(ok, format!("{n}'s status: {}", bridge_line(&v)));
        // Tail field 9 (rule `pair-agrees`) crosses the firmware with the rest.
        out.check(
            v["pair"]["agrees"] == true,
            format!("{n} hears the peer's settings' fingerprint: {}", v["pair"]),
        );
    }
    let bad = stays(&sampler, Duration::from_secs(3), normal);
    out.check(bad.is_none(), format!("pair unchanged ({bad:?})"));
    // Diagnose opens the device only when no daemon holds it (a second reader would
    // steal the daemon's frames), so a's daemon stops first; b's answers through the
    // bridge.
    sampler.mark("a's daemon stopped; twinbeat diagnose on a");
    lab.stop_daemon(Node::A, Duration::from_secs(10));
    let (_, report) = lab.diagnose(Node::A, &[], Duration::from_secs(60))?;
    let finding = |check: &str| {
        report["findings"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["check"] == check))
            .cloned()
            .unwrap_or_default()
    };
    let serial = finding("serial");
    let found = serial["found"].as_str().unwrap_or_default();
    out.check(
        serial["verdict"] == "ok"
            && found.contains("answered")
            && found.contains("the bridge reported"),
        format!("diagnose on a, serial: {serial}"),
    );
    let pair = finding("pair");
    out.check(
        pair["verdict"] == "ok",
        format!("diagnose on a, pair: {pair}"),
    );
    Ok(out.finish(sampler, false))
}

/// Median of b's serial ping→ack round trip (`/status`, last successful attempt) over
/// `samples` ping intervals.
fn serial_rtt_ms(lab: &Lab, samples: usize) -> Vec<f64> {
    let mut rtts = Vec::new();
    for _ in 0..samples {
        if let Ok(v) = lab.daemon_status(Node::B) {
            if let Some(ms) = serial_path(&v).and_then(|p| p["last_rtt_ms"].as_f64()) {
                rtts.push(ms);
            }
        }
        // One ping per interval (1 s by default): sample each round trip about once.
        std::thread::sleep(Duration::from_millis(1000));
    }
    rtts.sort_by(f64::total_cmp);
    rtts
}

/// Not a fault scenario: b's serial round trip through the bridge and through the relay,
/// each in a fresh healthy pair (a measurement, reported as notes; QEMU does not model
/// baud timing, so neither includes wire time at 115200 baud).
pub fn brtt_serial_round_trip(ctx: &Ctx) -> Result<Outcome> {
    let mut out = Outcome::new(
        "brtt serial ping→ack round trip, bridge vs relay",
        "both cables carry pings and acks (figures in the notes)",
    );
    for (bridge, name) in [(true, "bridge (QEMU)"), (false, "relay")] {
        let (lab, sampler) = cluster_on(ctx, bridge)?;
        let rtts = serial_rtt_ms(&lab, 30);
        out.check(!rtts.is_empty(), format!("{name}: {} samples", rtts.len()));
        if !rtts.is_empty() {
            // Nearest-rank percentiles (per cent of the sorted samples).
            let at = |pct: usize| rtts[(rtts.len() - 1) * pct / 100];
            out.note(format!(
                "{name}: serial RTT ms min {:.3} median {:.3} p90 {:.3} max {:.3}",
                at(0),
                at(50),
                at(90),
                at(100)
            ));
        }
        // Stopped before its lab goes, so it never samples a half-removed lab.
        let report = sampler.stop();
        out.check(report.clean(), format!("{name}: invariants held"));
        drop(lab);
    }
    Ok(out)
}
