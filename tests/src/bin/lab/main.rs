//! `cargo lab`: the twinbeat lab — a real two-node PostgreSQL cluster on one machine.
//!
//! `up` / `down` / `status` / `demo` / `bench`; `keeper` and `relay` are the lab's own helper
//! processes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use twinbeat_lab::daemon::Profile;

mod cli;
mod report;

/// The twinbeat lab: a two-node PostgreSQL cluster in network namespaces.
#[derive(Debug, Parser)]
#[command(name = "lab", version)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    Default,
    Fast,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Default => Profile::Default,
            ProfileArg::Fast => Profile::Fast,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Bring a lab up and leave it running (remove it with `down`).
    Up {
        /// Daemon timing profile.
        #[arg(long, value_enum, default_value = "default")]
        profile: ProfileArg,
        /// Do not start the `twinbeat run` daemons.
        #[arg(long)]
        no_daemons: bool,
        /// Synchronous replication: the daemons run with `[replication] mode = "sync"`
        /// (without daemons nothing names a synchronous standby).
        #[arg(long)]
        sync: bool,
    },
    /// Remove every lab that no running process owns (including those left by `up`).
    Down,
    /// Show the labs on this machine and their nodes.
    Status,
    /// Bring a cluster up, show it, kill the master, print the timeline, tear down.
    Demo {
        /// Daemon timing profile.
        #[arg(long, value_enum, default_value = "default")]
        profile: ProfileArg,
        /// Do not install missing packages.
        #[arg(long)]
        no_install: bool,
    },
    /// Time failovers: N runs of scenario 1 (default and fast profile) and scenario 6;
    /// with --rejoin, N rejoins of the old master with pg_rewind and N with --reclone.
    Bench {
        /// Runs per case.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Time `twinbeat rejoin` instead: after a failover and ~100 MiB written on the
        /// new primary, until the old master streams from it (default profile).
        #[arg(long)]
        rejoin: bool,
        /// Where to write the table (Markdown); nothing is written when no run was measured.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Run fault scenarios by number (`1`, `12b`, ...; `all` for every one) and print what
    /// each observed; the exit code is non-zero when one did not hold.
    Scenario {
        /// Scenario numbers, or `all`.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Daemon timing profile.
        #[arg(long, value_enum, default_value = "default")]
        profile: ProfileArg,
    },
    /// (internal) Run a command as a child subreaper and reap everything it orphans.
    #[command(hide = true)]
    Keeper {
        /// Log file for the command's output.
        #[arg(long)]
        log: PathBuf,
        /// The command.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// (internal) The serial relay process.
    #[command(hide = true)]
    Relay {
        /// The lab directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let code = match args.cmd {
        Cmd::Keeper { log, argv } => twinbeat_lab::keeper::keeper_main(&log, &argv),
        Cmd::Relay { dir } => twinbeat_lab::relay::relay_main(&dir),
        Cmd::Up {
            profile,
            no_daemons,
            sync,
        } => cli::up((!no_daemons).then(|| profile.into()), sync),
        Cmd::Down => cli::down(),
        Cmd::Status => cli::status(),
        Cmd::Demo {
            profile,
            no_install,
        } => cli::demo(profile.into(), !no_install),
        Cmd::Bench {
            runs,
            rejoin: false,
            write,
        } => cli::bench(runs, write.as_deref()),
        Cmd::Bench {
            runs,
            rejoin: true,
            write,
        } => cli::bench_rejoin(runs, write.as_deref()),
        Cmd::Scenario { ids, profile } => cli::scenario(&ids, profile.into()),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
