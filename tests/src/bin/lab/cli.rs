//! The user-facing subcommands of `cargo lab`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use twinbeat_lab::daemon::{self, Profile};
use twinbeat_lab::netns::Topology;
use twinbeat_lab::pg::{PgOptions, Replication};
use twinbeat_lab::sampler::{DbObs, VipObs};
use twinbeat_lab::scenarios::{self, watch_takeover, Ctx, RejoinTiming, Takeover};
use twinbeat_lab::state::{self, LabState};
use twinbeat_lab::{lab, Lab, LabError, LabOptions, Node};

use crate::report;

/// Prints an error the way every subcommand does; exit code 2 when root is needed, else 1.
fn fail(e: &LabError) -> i32 {
    eprintln!("lab: {e}");
    if matches!(e, LabError::NotRoot(_)) {
        2
    } else {
        1
    }
}

fn lab_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lab"))
}

/// Checks root and tools; installs what is missing when `install` (Debian, as root).
fn ensure_deps(install: bool) -> Result<(), LabError> {
    match lab::preflight() {
        Err(LabError::MissingTool { tool, hint }) if install => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install-deps.sh");
            println!("missing {tool}: running {} ...", script.display());
            let status = std::process::Command::new("bash")
                .arg(&script)
                .arg("--lab")
                .status()
                .map_err(|source| LabError::Spawn {
                    cmd: script.display().to_string(),
                    source,
                })?;
            if !status.success() {
                return Err(LabError::MissingTool {
                    tool,
                    hint: format!("{hint}; {} failed ({status})", script.display()),
                });
            }
            lab::preflight()
        }
        other => other,
    }
}

/// Starts both daemons on `lab`; returns why they are not usable, if they are not.
fn start_daemons(lab: &Lab, profile: Profile) -> Result<(), String> {
    println!("building / finding the twinbeat binary ...");
    let bin = daemon::binary_or_build().map_err(|e| e.to_string())?;
    println!("  {}", bin.display());
    lab.write_daemon_configs(profile)
        .map_err(|e| e.to_string())?;
    for n in Node::BOTH {
        lab.start_daemon(n).map_err(|e| e.to_string())?;
    }
    // A daemon that cannot run exits at once; give it a moment to show that.
    std::thread::sleep(Duration::from_secs(2));
    let dead: Vec<String> = Node::BOTH
        .iter()
        .filter(|n| lab.daemon(**n).is_none())
        .map(|n| {
            let log = std::fs::read_to_string(lab.daemon_log(*n)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            format!("daemon {n} exited ({})", tail.join(" | "))
        })
        .collect();
    if dead.is_empty() {
        Ok(())
    } else {
        Err(dead.join("; "))
    }
}

pub(crate) fn up(daemons: Option<Profile>, sync: bool) -> i32 {
    let opts = LabOptions {
        pg: PgOptions {
            replication: if sync {
                Replication::Sync
            } else {
                Replication::Async
            },
            ..PgOptions::default()
        },
        ..LabOptions::new(lab_exe())
    };
    let lab = match ensure_deps(false).and_then(|()| Lab::start(opts)) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if let Some(p) = daemons {
        if let Err(why) = start_daemons(&lab, p) {
            println!("daemons: not running: {why}");
        }
    }
    report::describe(&lab);
    let id = lab.detach();
    println!("\nlab {id} is up; remove it with `cargo lab down`.");
    0
}

pub(crate) fn down() -> i32 {
    if let Err(e) = lab::preflight() {
        return fail(&e);
    }
    let done = state::remove_stale(&state::root(), true);
    if done.is_empty() {
        println!("no lab to remove (labs owned by running processes are left alone)");
    }
    for d in done {
        println!("{d}");
    }
    0
}

pub(crate) fn status() -> i32 {
    if let Err(e) = lab::preflight() {
        return fail(&e);
    }
    let root = state::root();
    let mut any = false;
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let Some(st) = LabState::load(&e.path().join("state.json")) else {
            continue;
        };
        any = true;
        report::status_of(&Topology::new(st.id), &e.path(), &st);
    }
    if !any {
        println!(
            "no lab on this machine ({} is empty); start one with `cargo lab up`",
            root.display()
        );
    }
    0
}

pub(crate) fn demo(profile: Profile, install: bool) -> i32 {
    if let Err(e) = ensure_deps(install) {
        return fail(&e);
    }
    println!("== bringing the cluster up (network namespaces, PostgreSQL pair, serial relay)");
    let t = Instant::now();
    let lab = match Lab::start(LabOptions::new(lab_exe())) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    println!("   up in {:.1} s", t.elapsed().as_secs_f64());
    match lab.check_replication(Node::A, Node::B, Duration::from_secs(20)) {
        Ok(()) => println!("   replication a → b works (a row written on a is read on b)"),
        Err(e) => println!("   replication check failed: {e}"),
    }
    println!(
        "\n== starting `twinbeat run` on both nodes (profile {})",
        profile.name()
    );
    let daemons = start_daemons(&lab, profile);
    if let Err(why) = &daemons {
        println!("   NOT AVAILABLE YET: {why}");
    }
    println!("\n== status");
    report::describe(&lab);
    let code = match daemons {
        Ok(()) => failover_demo(&lab, profile),
        Err(_) => {
            println!("\n== kill the master and fail over: NOT AVAILABLE YET (the daemons are not running)");
            0
        }
    };
    println!("\n== tearing down");
    for line in lab.teardown() {
        println!("   {line}");
    }
    code
}

fn failover_demo(lab: &Lab, profile: Profile) -> i32 {
    let sampler = lab.sampler();
    let healthy = sampler.wait_for(Duration::from_secs(30), |s| {
        s.a.db == DbObs::Primary && s.a.vip == VipObs::Held && s.b.db == DbObs::Standby
    });
    if healthy.is_none() {
        println!(
            "\n== kill the master and fail over: NOT AVAILABLE YET: no healthy pair within 30 s \
             (the daemon on a must hold the VIP; latest sample {:?}); see {}",
            sampler.latest(),
            lab.daemon_log(Node::A).display()
        );
        return 0;
    }
    println!(
        "\n== killing the master (a: cable out, daemon killed, PostgreSQL stopped, serial cut)"
    );
    let wall = SystemTime::now();
    let t0 = Instant::now();
    sampler.mark("fault: a killed");
    if let Err(e) = lab.kill_node(Node::A) {
        return fail(&e);
    }
    let take = watch_takeover(lab, t0, scenarios::takeover_deadline(profile));
    let rep = sampler.stop();
    report::timeline(lab, wall, &take, &rep);
    if take.b_writable.is_none() {
        println!("   b did not become writable: the daemon cannot fail over yet (or it failed; see the logs above)");
    }
    0
}

pub(crate) fn bench(runs: usize, write: Option<&Path>) -> i32 {
    if let Err(e) = ensure_deps(false) {
        return fail(&e);
    }
    let cases: [(&str, Profile, scenarios::Scenario); 3] = [
        (
            "scenario 1, default profile",
            Profile::Default,
            scenarios::s01_master_death,
        ),
        (
            "scenario 1, fast profile",
            Profile::Fast,
            scenarios::s01_master_death,
        ),
        (
            "scenario 6, fast profile",
            Profile::Fast,
            scenarios::s06_master_network_gone,
        ),
    ];
    let mut table: Vec<(String, Vec<Takeover>, Vec<String>)> = Vec::new();
    for (name, profile, f) in cases {
        let ctx = Ctx {
            lab_exe: lab_exe(),
            profile,
        };
        let mut got = Vec::new();
        let mut errors = Vec::new();
        for i in 0..runs {
            match f(&ctx) {
                Ok(o) => {
                    println!(
                        "{name}, run {}: {}",
                        i + 1,
                        o.takeover.map(|t| t.text()).unwrap_or_default()
                    );
                    if let Some(t) = o.takeover {
                        got.push(t);
                    }
                }
                Err(e) => {
                    println!("{name}, run {}: not measured: {e}", i + 1);
                    errors.push(e.to_string());
                    break; // the same cause would repeat
                }
            }
        }
        table.push((name.to_owned(), got, errors));
    }
    let md = report::bench_table(runs, &table);
    println!("\n{md}");
    if let Some(path) = write {
        if table
            .iter()
            .any(|(_, t, _)| t.iter().any(|t| t.b_writable.is_some()))
        {
            if let Err(e) = std::fs::write(path, &md) {
                eprintln!("lab: {}: {e}", path.display());
                return 1;
            }
            println!("written to {}", path.display());
        } else {
            println!("nothing written to {}: no run failed over", path.display());
        }
    }
    0
}

/// `cargo lab bench --rejoin`: `runs` timed rejoins with pg_rewind and `runs` with
/// `--reclone`, alternating so that both methods see the same spells of machine load.
pub(crate) fn bench_rejoin(runs: usize, write: Option<&Path>) -> i32 {
    if let Err(e) = ensure_deps(false) {
        return fail(&e);
    }
    let ctx = Ctx {
        lab_exe: lab_exe(),
        profile: Profile::Default,
    };
    let methods = [("pg_rewind", false), ("--reclone (pg_basebackup)", true)];
    let mut table: Vec<(String, Vec<RejoinTiming>, Vec<String>)> = methods
        .iter()
        .map(|(name, _)| ((*name).to_owned(), Vec::new(), Vec::new()))
        .collect();
    for i in 0..runs {
        for ((name, reclone), (_, got, errors)) in methods.iter().zip(table.iter_mut()) {
            match scenarios::rejoin_timing(&ctx, *reclone) {
                Ok(t) if t.outcome.held => {
                    println!("{name}, run {}: {}", i + 1, rejoin_line(&t));
                    got.push(t);
                }
                Ok(t) => {
                    println!("{name}, run {}: not measured:\n{}", i + 1, t.outcome.text());
                    let failed: Vec<&str> = t
                        .outcome
                        .observed
                        .iter()
                        .filter(|o| o.starts_with("FAIL"))
                        .map(String::as_str)
                        .collect();
                    errors.push(format!("run {}: {}", i + 1, failed.join("; ")));
                }
                Err(e) => {
                    println!("{name}, run {}: not measured: {e}", i + 1);
                    errors.push(format!("run {}: {e}", i + 1));
                }
            }
        }
    }
    let md = report::rejoin_table(runs, &table);
    println!("\n{md}");
    if let Some(path) = write {
        if table.iter().any(|(_, t, _)| !t.is_empty()) {
            if let Err(e) = std::fs::write(path, &md) {
                eprintln!("lab: {}: {e}", path.display());
                return 1;
            }
            println!("written to {}", path.display());
        } else {
            println!(
                "nothing written to {}: no rejoin was measured",
                path.display()
            );
        }
    }
    0
}

/// One timed rejoin on one line.
fn rejoin_line(t: &RejoinTiming) -> String {
    let ms = |d: Option<Duration>| {
        d.map_or("not seen".to_owned(), |d| {
            format!("{:.0} ms", d.as_secs_f64() * 1000.0)
        })
    };
    let mib = |b: Option<u64>| {
        b.map_or("?".to_owned(), |b| {
            format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
        })
    };
    format!(
        "twinbeat rejoin returned after {}, a's WAL receiver streaming after {} \
         (a's log: report {}, copy {}, start {}; b wrote {} of table, {} of WAL)",
        ms(t.elapsed),
        ms(t.streaming),
        ms(t.phases.report),
        ms(t.phases.copy),
        ms(t.phases.start),
        mib(t.fill_bytes),
        mib(t.fill_wal_bytes)
    )
}

pub(crate) fn scenario(ids: &[String], profile: Profile) -> i32 {
    if let Err(e) = ensure_deps(false) {
        return fail(&e);
    }
    let known = scenarios::all();
    let chosen: Vec<_> = if ids.iter().any(|i| i == "all") {
        known
    } else {
        let mut chosen = Vec::new();
        for id in ids {
            match known.iter().find(|(k, _)| k == id) {
                Some(s) => chosen.push(*s),
                None => {
                    let names: Vec<_> = known.iter().map(|(k, _)| *k).collect();
                    eprintln!("lab: no scenario {id:?}; known: {}", names.join(", "));
                    return 2;
                }
            }
        }
        chosen
    };
    let ctx = Ctx {
        lab_exe: lab_exe(),
        profile,
    };
    let mut failed = Vec::new();
    for (id, f) in chosen {
        match f(&ctx) {
            Ok(outcome) => {
                println!("{}", outcome.text());
                if !outcome.held {
                    failed.push(id);
                }
            }
            Err(e) => {
                println!("scenario {id}: could not run: {e}\n");
                failed.push(id);
            }
        }
    }
    if failed.is_empty() {
        0
    } else {
        println!("did not hold: {}", failed.join(", "));
        1
    }
}
