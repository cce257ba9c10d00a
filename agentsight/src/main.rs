//! `agentsight`: one binary for every command (see `../shared/DESIGN.md`, "Command line").
//!
//! This crate is the thin layer a person touches: argument parsing, signals, output and exit
//! codes. Capture lives in `collector`, analysis in `analyzer`.

mod output;
mod pretty;
mod signals;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Watch AI agents from outside: every exec, fork, exit, file change and connection of a
/// command and all of its descendants, recorded with eBPF. No SDK, no proxy, no change to the
/// agent. Needs root (or CAP_BPF and CAP_PERFMON) and Linux 5.17+ with BTF.
#[derive(Debug, Parser)]
#[command(name = "agentsight", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command and trace it and every process it starts.
    ///
    /// The probes are live before the command starts, so nothing it does is missed; daemons it
    /// double-forks or starts with `setsid` are traced too. `record` exits with the command's
    /// exit code (128 + the signal's number if a signal killed it). Ctrl-C stops cleanly and
    /// flushes everything recorded so far.
    #[command(after_help = "Examples:\n  agentsight record -- make test\n  agentsight record -o trace.jsonl -- python3 agent.py\n  agentsight record --until root -- ./start-dev-server.sh")]
    Record {
        #[command(flatten)]
        out: OutputArgs,
        /// When to stop: when the whole process tree has exited (`tree`), or as soon as the
        /// command itself has (`root`), leaving its background processes untraced.
        #[arg(long, value_enum, default_value = "tree")]
        until: trace::Until,
        /// The command to run, after `--`.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Trace processes that already run, and every process they start from now on.
    ///
    /// Stops on Ctrl-C, or when every traced process has exited (with `--pid`).
    #[command(after_help = "Examples:\n  agentsight attach --pid 4242\n  agentsight attach --comm claude -o claude.jsonl")]
    Attach {
        /// A process to trace, with its current descendants (repeatable).
        #[arg(long, value_name = "PID", num_args = 1.., required_unless_present = "comm")]
        pid: Vec<u32>,
        /// Trace processes with this name: those running now and any that start later.
        #[arg(long, value_name = "NAME", conflicts_with = "pid")]
        comm: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Write events as JSON Lines to FILE (`-` for stdout) instead of the live readable stream.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print no summary or process tree at the end.
    #[arg(short, long)]
    quiet: bool,
    /// Show every event in the live stream, read-only opens of system files included.
    #[arg(short, long)]
    verbose: bool,
    /// Size of the kernel ring buffer in MiB (a power of two); raise it if losses are reported.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = ring_mib)]
    ring_mib: u32,
}

fn ring_mib(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if n.is_power_of_two() && (1..=1024).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is not a power of two between 1 and 1024"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record { out, until, command } => trace::record(trace::Options::from(out), until, command),
        Command::Attach { pid, comm, out } => trace::attach(trace::Options::from(out), pid, comm),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("agentsight: {err:#}");
            ExitCode::from(trace::exit_code_for(&err))
        }
    }
}

impl From<OutputArgs> for trace::Options {
    fn from(o: OutputArgs) -> Self {
        trace::Options { output: o.output, quiet: o.quiet, verbose: o.verbose, ring_bytes: o.ring_mib << 20 }
    }
}
