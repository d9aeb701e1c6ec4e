//! The command line: `run`, `check-config`, `status`, the operator's commands and
//! `diagnose` (clap derive). Start-up
//! lives here: argument handling, logging, the runtime, and every exit code (the
//! driver, the status client and the control client return typed errors that are
//! mapped here).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, HostChecks};
use crate::control::{self, ClientError, Refusal};
use crate::driver::{self, RunError};
use crate::status;

/// Exit code: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: a failure at run time (status server cannot bind, engine refused to
/// start, a fatal I/O error); for `resume`, the engine refused the release.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code: bad configuration or bad usage; for `resume`, a caller the control
/// socket does not admit.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit code: `status` or `resume` could not reach the daemon.
pub(crate) const EXIT_UNREACHABLE: u8 = 3;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  runtime failure (cannot listen, the engine refused to start, fatal I/O error);
     `resume`: the engine refused the release (its reason is printed)
  2  bad configuration or bad usage (one line on stderr names the field, the value
     and what is expected); a control command (`resume`, `pause`, `rejoin`,
     `switchover`): this user is neither root nor in `control.group`
  3  `status`, `resume`: the daemon is not reachable";

/// twinbeat: failover daemon for a two-server PostgreSQL pair.
#[derive(Debug, Parser)]
#[command(name = "twinbeat", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon in the foreground (systemd Type=notify; logs to stderr).
    #[command(after_help = EXIT_CODES)]
    Run(ConfigArg),
    /// Check a configuration file and print the effective configuration (every
    /// default filled in, passwords redacted) as TOML.
    #[command(name = "check-config", after_help = EXIT_CODES)]
    CheckConfig {
        /// The file.
        #[command(flatten)]
        config: ConfigArg,
        /// Also fail (exit 2) on the checks `run` makes against this host: VIP in a
        /// local subnet, VIP interface present, password file readable, peer and
        /// gateway not this host. Without it they are warnings, so a file can be
        /// checked on another machine.
        #[arg(long)]
        strict: bool,
    },
    /// Ask a running daemon for its status and print it as a table.
    #[command(after_help = EXIT_CODES)]
    Status {
        /// Print the raw JSON document instead of a table.
        #[arg(long)]
        json: bool,
        /// Find the daemon from this config file's `status.listen`.
        #[arg(long, short, value_name = "FILE", conflicts_with = "url")]
        config: Option<PathBuf>,
        /// The daemon's status URL (default http://127.0.0.1:8432).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// How long to wait for an answer.
        #[arg(long, default_value = "2s", value_parser = parse_timeout)]
        timeout: Duration,
    },
    /// End the maintenance pause of the pair (`twinbeat pause`), on this node and, once
    /// it hears it, on the peer. With --force-primary instead: release this node's
    /// hold, serving as primary although nothing was heard from the peer (rule
    /// `hold-needs-evidence`; only after `startup_grace`, only while nothing was heard
    /// from the peer; the engine refuses it otherwise and says why). Through the
    /// control socket `<state_dir>/twinbeat.sock`: root or `control.group` only.
    #[command(after_help = EXIT_CODES)]
    Resume {
        /// Release the hold: you checked that the peer is down or fenced and not
        /// serving. If it took over, two primaries will serve.
        #[arg(long)]
        force_primary: bool,
        /// The daemon's configuration file (its `state_dir` holds the socket).
        #[command(flatten)]
        config: ConfigArg,
        /// How long to wait for the answer.
        #[arg(long, default_value = "10s", value_parser = parse_timeout)]
        timeout: Duration,
    },
    /// Pause the pair for maintenance (rule `maintenance-pause`): no promotion for lost
    /// paths, no fence for a lost gateway or DB, no PostgreSQL restart, the VIP stays.
    /// In effect on this node at once, on the peer once it hears it over serial
    /// (`twinbeat status` shows whether it has). Kept across a daemon restart;
    /// `twinbeat resume` on either node ends it. Through the control socket: root or
    /// `control.group` only.
    #[command(after_help = EXIT_CODES)]
    Pause {
        /// End it by itself after this long (e.g. "30m"); without: until `resume`.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_timeout)]
        duration: Option<Duration>,
        /// The daemon's configuration file (its `state_dir` holds the socket).
        #[command(flatten)]
        config: ConfigArg,
        /// How long to wait for the daemon's answer.
        #[arg(long, default_value = "10s", value_parser = parse_timeout)]
        timeout: Duration,
    },
    /// A planned, zero-loss change of roles (rule `planned-switchover`), run on either
    /// node: the master releases the VIP, checkpoints and stops PostgreSQL cleanly and
    /// sends its final LSN over serial; the standby promotes once it has replayed past
    /// it and takes the VIP; the old master becomes its streaming standby. Refused,
    /// with the reason, unless the pair is whole (every path up, serial included), not
    /// paused, and the standby streams within `max_lag_on_failover`. Through the
    /// control socket: root or `control.group` only.
    #[command(after_help = EXIT_CODES)]
    Switchover {
        /// The daemon's configuration file (its `state_dir` holds the socket).
        #[command(flatten)]
        config: ConfigArg,
        /// How long to wait for the daemon's answer.
        #[arg(long, default_value = "10s", value_parser = parse_timeout)]
        timeout: Duration,
        /// How long to follow the switchover until this node's role changed (0: return
        /// once accepted).
        #[arg(long, default_value = "2m", value_parser = parse_timeout)]
        wait: Duration,
    },
    /// Make this fenced node the streaming standby of the peer, which is primary in a
    /// higher term (rule `rejoin-after-fence`). First saves what this node's old
    /// timeline held past the fork (the WAL and a report of the transactions and
    /// tables, under `<state_dir>/rejoin/`), then `pg_rewind` from the peer's own
    /// address (`pg_basebackup` with --reclone, or when the rewind cannot be used),
    /// starts PostgreSQL and waits until it streams. The writes past the fork are
    /// discarded from the database. Through the control socket: root or
    /// `control.group` only.
    #[command(after_help = EXIT_CODES)]
    Rejoin {
        /// Rebuild the data directory with `pg_basebackup` instead of rewinding it.
        #[arg(long)]
        reclone: bool,
        /// The daemon's configuration file (its `state_dir` holds the socket).
        #[command(flatten)]
        config: ConfigArg,
        /// How long to wait for the daemon's answer.
        #[arg(long, default_value = "10s", value_parser = parse_timeout)]
        timeout: Duration,
        /// How long to follow the rejoin until it ends (0: return once accepted).
        #[arg(long, default_value = "1h", value_parser = parse_timeout)]
        wait: Duration,
    },
    /// Check, before anything fails, that the three peer paths are independent and
    /// reach the peer, that PostgreSQL is set up for failover and rejoin, and that
    /// this host can move the VIP: addresses, route and TTL, the serial cable,
    /// PostgreSQL on both nodes, the VIP, the host. Read-only, every check bounded in
    /// time; usable before the daemon ever ran and beside a running one (then the
    /// serial device is left to the daemon). One line per check: ok, warn or FAIL,
    /// what was found and what to do.
    #[command(after_help = DIAGNOSE_EXIT_CODES)]
    Diagnose {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// Print a JSON document for scripts instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// `twinbeat diagnose`'s exit codes (its own: a verdict, not an error).
const DIAGNOSE_EXIT_CODES: &str = "Exit codes:
  0  every check ok
  1  warnings, no failure
  2  at least one FAIL (a configuration that does not load included)";

/// `--config FILE`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// The configuration file (TOML, or the flat JSON format).
    #[arg(long, short, value_name = "FILE", default_value_os_t = config::default_path())]
    pub config: PathBuf,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    config::units::parse_duration(s)
}

/// Parses the process arguments and runs the command; returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(match cli.command {
        Command::Run(arg) => run_cmd(&arg.config),
        Command::CheckConfig { config, strict } => check_config(&config.config, strict),
        Command::Status {
            json,
            config,
            url,
            timeout,
        } => status_cmd(json, config, url, timeout),
        Command::Resume {
            force_primary,
            config,
            timeout,
        } => resume_cmd(force_primary, &config.config, timeout),
        Command::Rejoin {
            reclone,
            config,
            timeout,
            wait,
        } => rejoin_cmd(reclone, &config.config, timeout, wait),
        Command::Switchover {
            config,
            timeout,
            wait,
        } => switchover_cmd(&config.config, timeout, wait),
        Command::Pause {
            duration,
            config,
            timeout,
        } => pause_cmd(duration, &config.config, timeout),
        Command::Diagnose { config, json } => crate::diagnose::run(&config.config, json),
    })
}

/// Sets up `tracing` to stderr; `RUST_LOG` overrides the default `info` level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The runtime every command runs on: one thread.
fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            EXIT_RUNTIME
        })
}

/// `run`: loads the config (host checks enforced) and runs the daemon in the
/// foreground until SIGTERM/SIGINT; returns the exit code.
fn run_cmd(path: &std::path::Path) -> u8 {
    init_logging();
    let loaded = match config::load(path, HostChecks::Enforce) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("config: {w}");
    }
    crate::diagnose::at_start(&loaded.config)
        .iter()
        .for_each(log_finding);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // The route checks wait on the network for seconds: once, beside the daemon,
    // never before it starts.
    let cfg = loaded.config.clone();
    rt.spawn(async move {
        crate::diagnose::routes_at_start(&cfg)
            .await
            .iter()
            .for_each(log_finding);
    });
    // The daemon runs as a spawned task, not as `block_on`'s own future: on a
    // current-thread runtime a wake of the `block_on` future unparks the
    // driver, which costs an extra turn of the runtime, while a spawned task
    // woken from the runtime's own thread is only queued. Measured on an idle
    // standby (`perf stat -e syscalls:sys_enter_epoll_wait`, ~470 ICMP
    // attempts/s): 1,833 → 1,363 `epoll_wait`s a second, one per attempt.
    let daemon =
        rt.block_on(async { tokio::spawn(driver::run(loaded.config, loaded.engine)).await });
    let outcome = match daemon {
        Ok(outcome) => outcome,
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(cancelled) => {
                eprintln!("error: the daemon task ended unexpectedly: {cancelled}");
                return EXIT_RUNTIME;
            }
        },
    };
    match outcome {
        Ok(()) => EXIT_OK,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            run_exit_code(&e)
        }
    }
}

/// The status page's alarms on one line.
fn alarm_list(alarms: &[status::AlarmStatus]) -> String {
    let all: Vec<String> = alarms.iter().map(ToString::to_string).collect();
    all.join(", ")
}

/// A finding of diagnose's start subset, for the daemon's log.
fn log_finding(f: &crate::diagnose::Finding) {
    tracing::warn!(
        "diagnose: {} {}: {} ({})",
        f.verdict.word(),
        f.check,
        f.found,
        f.todo
    );
}

/// The exit code of a daemon that stopped with `e`: the operator's input refused
/// (config, role pin, state file) is 2, a host failure is 1.
fn run_exit_code(e: &RunError) -> u8 {
    match e {
        RunError::Start(_) | RunError::State(_) | RunError::Tls(_) => EXIT_CONFIG,
        RunError::Status(_) | RunError::Control(_) | RunError::Io { .. } => EXIT_RUNTIME,
    }
}

/// `check-config`: prints warnings to stderr and the effective config to stdout.
pub(crate) fn check_config(path: &std::path::Path, strict: bool) -> u8 {
    let mode = if strict {
        HostChecks::Enforce
    } else {
        HostChecks::Warn
    };
    match config::load(path, mode) {
        Ok(loaded) => {
            // The peer's TLS files, read as `run` reads them (whether the peer accepts
            // them is `diagnose`'s question: it connects).
            if let Err(e) = crate::probe::tls::PeerConnector::new(&loaded.config.peer.tls) {
                eprintln!("error: {e}");
                return EXIT_CONFIG;
            }
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", config::render_toml(&loaded));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

fn status_cmd(
    json: bool,
    config_path: Option<PathBuf>,
    url: Option<String>,
    timeout: Duration,
) -> u8 {
    let target = match (config_path, url) {
        (Some(p), _) => match config::load(&p, HostChecks::Warn) {
            Ok(l) => status::Target::from_listen(l.config.status.listen),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONFIG;
            }
        },
        (None, Some(u)) => match status::Target::from_url(&u) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_CONFIG;
            }
        },
        (None, None) => status::Target {
            authority: config::defaults::LISTEN.to_owned(),
        },
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(status::fetch(&target, timeout)) {
        Ok(snap) => {
            if json {
                match serde_json::to_string_pretty(&snap) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return EXIT_RUNTIME;
                    }
                }
            } else {
                print!("{}", status::render_table(&snap));
            }
            EXIT_OK
        }
        Err(e @ status::FetchError::BadUrl(_)) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_UNREACHABLE
        }
    }
}

/// `resume`: ends the maintenance pause; `resume --force-primary`: releases the hold.
/// Prints the daemon's answer; 0 done, 1 the engine refused, 2 refused the caller or
/// bad usage, 3 no daemon answered.
fn resume_cmd(force_primary: bool, path: &std::path::Path, timeout: Duration) -> u8 {
    let request = control::Request::Resume { force_primary };
    match ask_daemon(path, &request, timeout) {
        Ok((message, _)) => {
            println!("{message}");
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// `pause [--for DURATION]`: pauses the pair (rule `maintenance-pause`); 0 paused, 2
/// refused the caller or bad usage, 3 no daemon answered.
fn pause_cmd(duration: Option<Duration>, path: &std::path::Path, timeout: Duration) -> u8 {
    let for_ms = duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match ask_daemon(path, &control::Request::Pause { for_ms }, timeout) {
        Ok((message, _)) => {
            println!("{message}");
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// `switchover`: asks the daemon for a planned switchover and, unless `wait` is zero,
/// follows its `/status` until this node's role changed (0: the old master is the new
/// primary's standby, or the standby is primary) or the switchover ended without a
/// change (1: withdrawn or refused by the master); 2 refused, 3 no daemon answered.
fn switchover_cmd(path: &std::path::Path, timeout: Duration, wait: Duration) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // The term before the request: the switchover ends in a higher one.
    let before = config::load(path, HostChecks::Warn).ok().and_then(|l| {
        let target = status::Target::from_listen(l.config.status.listen);
        rt.block_on(status::fetch(&target, timeout)).ok()
    });
    let (message, loaded) = match ask_daemon(path, &control::Request::Switchover, timeout) {
        Ok(answer) => answer,
        Err(code) => return code,
    };
    println!("{message}");
    if wait.is_zero() {
        return EXIT_OK;
    }
    let target = status::Target::from_listen(loaded.config.status.listen);
    let until = std::time::Instant::now() + wait;
    let term0 = before.as_ref().map_or(0, |s| s.term);
    let mut began = before.is_some_and(|s| s.role == "demoting");
    while std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(snap) = rt.block_on(status::fetch(&target, timeout)) else {
            continue;
        };
        let settled = snap.switchover.is_none() && snap.rejoin.is_none();
        if snap.term > term0 && settled && matches!(snap.role.as_str(), "standby" | "primary") {
            println!(
                "switched over: this node is {} in term {}",
                snap.role, snap.term
            );
            return EXIT_OK;
        }
        // Under way: this master demoting, or this standby's request out (or the
        // master's stages heard). Over with no new term: withdrawn, or the master
        // refused the standby's request (its log says why).
        began |= snap.role == "demoting" || snap.switchover.is_some();
        if settled && began && snap.term == term0 && snap.role != "demoting" {
            eprintln!(
                "no switchover: this node is {} in term {} still; the master withdrew it or refused the request (its log and `twinbeat status` say why; alarms here: {})",
                snap.role,
                snap.term,
                alarm_list(&snap.alarms)
            );
            return EXIT_RUNTIME;
        }
    }
    eprintln!("no change of roles after {wait:?}: follow it with `twinbeat status` and the log");
    EXIT_RUNTIME
}

/// `rejoin [--reclone]`: asks the daemon to rejoin the peer and, unless `wait` is
/// zero, follows its `/status` until the node is a streaming standby (0) or the rejoin
/// failed (1); 2 refused the caller or bad usage, 3 no daemon answered.
fn rejoin_cmd(reclone: bool, path: &std::path::Path, timeout: Duration, wait: Duration) -> u8 {
    let request = control::Request::Rejoin { reclone };
    let (message, loaded) = match ask_daemon(path, &request, timeout) {
        Ok(answer) => answer,
        Err(code) => return code,
    };
    println!("{message}");
    if wait.is_zero() {
        return EXIT_OK;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let target = status::Target::from_listen(loaded.config.status.listen);
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
        let Ok(snap) = rt.block_on(status::fetch(&target, timeout)) else {
            continue;
        };
        if snap.rejoin.is_some() {
            continue;
        }
        if snap.role == "standby" {
            println!("rejoined: a standby of the peer in term {}", snap.term);
            return EXIT_OK;
        }
        eprintln!(
            "the rejoin failed: the node is {} again; the daemon's log says why (alarms: {})",
            snap.role,
            alarm_list(&snap.alarms)
        );
        return EXIT_RUNTIME;
    }
    eprintln!("still rejoining after {wait:?}: follow it with `twinbeat status`");
    EXIT_RUNTIME
}

/// Sends `request` to the daemon whose config is at `path` and returns its answer
/// with the loaded config, or prints why not and returns the exit code: 1 the engine
/// refused, 2 refused the caller or bad usage, 3 no daemon answered.
fn ask_daemon(
    path: &std::path::Path,
    request: &control::Request,
    timeout: Duration,
) -> Result<(String, config::Loaded), u8> {
    let loaded = match config::load(path, HostChecks::Warn) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(EXIT_CONFIG);
        }
    };
    let socket = control::socket_path(&loaded.config.state_dir);
    let group = loaded.config.control.group.clone();
    let rt = runtime()?;
    match rt.block_on(control::send(&socket, request, timeout)) {
        Ok(answer) if answer.ok => Ok((answer.message, loaded)),
        Ok(answer) => {
            eprintln!("{}", answer.message);
            Err(match answer.refusal {
                Some(Refusal::Engine) => EXIT_RUNTIME,
                Some(Refusal::Unavailable) => EXIT_UNREACHABLE,
                Some(Refusal::Permission | Refusal::Request) | None => EXIT_CONFIG,
            })
        }
        Err(e @ ClientError::Permission { .. }) => {
            let who = group.map_or_else(
                || "root only (no control.group is configured)".to_owned(),
                |g| format!("root and members of group {g}"),
            );
            eprintln!("refused: {e}: the control socket admits {who}");
            Err(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_UNREACHABLE)
        }
    }
}
