//! `record`, `attach` and `collect`: build the pipeline, run or find the traced processes,
//! decide when to stop, then stop it. The stages are `pipeline`'s; this module owns the
//! lifecycle a person sees (signals, exit codes, the command's own messages).

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::{Context, Result};
use collector::procfs;

use crate::pipeline::{self, Options, Pipeline};
use crate::signals::Stops;

const POLL: Duration = Duration::from_millis(10);

/// When `record` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Until {
    /// When every process in the tree has exited.
    Tree,
    /// When the command itself has exited.
    Root,
}

/// The traced command could not be started; exits like a shell would (127, 126).
#[derive(Debug)]
struct SpawnFailed {
    code: u8,
    message: String,
}

impl std::fmt::Display for SpawnFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnFailed {}

/// Map an error to the exit code `agentsight` ends with.
pub(crate) fn exit_code_for(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<SpawnFailed>() {
        Some(spawn) => spawn.code,
        None => 2,
    }
}

fn status_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

/// `agentsight record -- CMD...`: returns the exit code to end with.
pub(crate) fn record(opts: Options, until: Until, command: Vec<OsString>) -> Result<i32> {
    let (program, args) = command.split_first().context("no command given")?;
    let stops = Stops::install()?;
    let me = std::process::id();
    // The command's own executable gets its TLS probes before it starts (a Bun or Node agent may
    // call its model in its first milliseconds, before an exec event could be acted on).
    let exe = resolve_program(program);
    let running = pipeline::build(&opts, |c| {
        c.spawner = Some(me);
        c.tls_binaries.extend(exe);
    })?;

    // The probes are attached: whatever the command does from its first instruction is seen.
    let mut child = match Command::new(program).args(args).spawn() {
        Ok(child) => child,
        Err(err) => {
            running.stop(true)?;
            let name = program.to_string_lossy();
            let (code, message) = match err.kind() {
                ErrorKind::NotFound => (127, format!("command not found: `{name}`")),
                ErrorKind::PermissionDenied => (126, format!("permission denied: cannot execute `{name}`")),
                _ => (126, format!("failed to start `{name}`: {err}")),
            };
            return Err(SpawnFailed { code, message }.into());
        }
    };
    stops.forward_to(child.id());

    let status = loop {
        if let Some(status) = child.try_wait().context("failed to wait for the command")? {
            break Some(status);
        }
        if stops.count() >= 2 || running.capture.is_finished() {
            break None; // a second Ctrl-C: stop now, whatever the command does
        }
        std::thread::sleep(POLL);
    };

    if let Some(status) = status {
        if until == Until::Tree && stops.count() == 0 {
            wait_for_tree(&running, &stops, program, status_code(status), opts.quiet);
        }
    }
    running.stop(opts.quiet)?;
    Ok(match status {
        Some(status) => status_code(status),
        None => stops.exit_code(),
    })
}

/// Where `execvp` would find `program`: itself if it has a slash, else the first executable
/// file of that name on PATH.
fn resolve_program(program: &OsString) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::Path::new(program);
    if program.to_string_lossy().contains('/') {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// After the command exited: keep tracing while its descendants run.
fn wait_for_tree(running: &Pipeline, stops: &Stops, program: &OsString, code: i32, quiet: bool) {
    let mut left = running.capture.fresh_members();
    if left > 0 && !quiet {
        eprintln!(
            "agentsight: `{}` exited ({code}); still tracing {left} process{} it started (Ctrl-C to stop, \
             `--until root` not to wait)",
            program.to_string_lossy(),
            if left == 1 { "" } else { "es" }
        );
    }
    while left > 0 && stops.count() == 0 && !running.capture.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        left = running.capture.members();
    }
}

/// `agentsight attach --pid ... | --comm NAME`.
pub(crate) fn attach(opts: Options, pids: Vec<u32>, comm: Option<String>) -> Result<i32> {
    let roots = match &comm {
        Some(name) => procfs::pids_by_comm(name)?,
        None => {
            procfs::check_pids(&pids)?;
            pids
        }
    };
    let targets = procfs::with_descendants(&roots)?;
    let stops = Stops::install()?;
    let running = pipeline::build(&opts, |c| {
        c.pids = targets.clone();
        c.comms = comm.iter().cloned().collect();
    })?;
    if !opts.quiet {
        let what = match (&comm, targets.len()) {
            (Some(name), 0) => format!("no `{name}` runs yet; waiting for one to start"),
            (Some(name), n) => {
                format!("tracing {n} process(es) named `{name}` or started by one, and any that start later")
            }
            (None, n) => format!("tracing {n} process(es) and every process they start"),
        };
        eprintln!("agentsight: {what} (Ctrl-C to stop)");
    }
    loop {
        if stops.count() > 0 || running.capture.is_finished() {
            break;
        }
        if comm.is_none() && running.capture.members() == 0 {
            if !opts.quiet {
                eprintln!("agentsight: every traced process has exited");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    running.stop(opts.quiet)?;
    Ok(0)
}
