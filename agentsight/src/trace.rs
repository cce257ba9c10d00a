//! `record` and `attach`: start the capture, run or find the traced processes, decide when to
//! stop, then print what was recorded. The capture itself is `collector`'s; this module owns
//! the lifecycle a person sees (signals, exit codes, the closing summary).

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use analyzer::tree::human_duration;
use anyhow::{anyhow, Context, Result};
use collector::{procfs, Capture, CaptureConfig};

use crate::analysis::{self, Backend};
use crate::output::{self, Sink, Written};
use crate::signals::Stops;

/// Batches of events (up to `collector::capture::BATCH` each) between the capture thread and the
/// writer; when full, the capture thread waits and the kernel ring buffer takes the burst (and
/// counts what it cannot hold).
const CHANNEL_CAPACITY: usize = 64;
const POLL: Duration = Duration::from_millis(10);
const TREE_LINES: usize = 60;

/// Options shared by `record` and `attach`.
#[derive(Debug, Clone)]
pub struct Options {
    pub output: Option<std::path::PathBuf>,
    pub quiet: bool,
    pub verbose: bool,
    pub ring_bytes: u32,
    /// Write `llm_call` requests whole (see `CaptureConfig::full_requests`).
    pub full_requests: bool,
    /// Where windows of the recorded events go, if anywhere.
    pub windows: Option<Dest>,
}

/// `record --analyze` or `collect --ship URL`.
#[derive(Debug, Clone)]
pub enum Dest {
    Analyze { config: analyzer::config::Config, data: std::path::PathBuf },
    Ship { config: analyzer::config::Config, url: String, spool: std::path::PathBuf, token: Option<String> },
}

/// When `record` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
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
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<SpawnFailed>() {
        Some(spawn) => spawn.code,
        None => 2,
    }
}

fn session_id() -> String {
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    format!("{now}-{}", std::process::id())
}

/// A capture with its writer thread.
struct Running {
    capture: Capture,
    writer: JoinHandle<Written>,
    started: Instant,
    session: String,
    output: Option<std::path::PathBuf>,
    backend: Option<Backend>,
}

fn start(opts: &Options, configure: impl FnOnce(&mut CaptureConfig)) -> Result<Running> {
    let session = session_id();
    let sink = match (&opts.output, &opts.windows) {
        (None, Some(Dest::Ship { .. })) => Sink::Discard,
        _ => Sink::open(opts.output.clone(), opts.verbose)?,
    };
    let (tap, backend) = match &opts.windows {
        None => (None, None),
        Some(Dest::Analyze { config, data }) => {
            let (tap, backend) = analysis::analyze_backend(config.clone(), data)?;
            (Some(tap), Some(backend))
        }
        Some(Dest::Ship { config, url, spool, token }) => {
            let (tap, backend) = analysis::ship_backend(config, url, spool.clone(), token.clone())?;
            (Some(tap), Some(backend))
        }
    };
    let output = sink.path().cloned();
    let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let mut config = CaptureConfig::new(session.clone());
    config.ring_bytes = opts.ring_bytes;
    config.full_requests = opts.full_requests;
    configure(&mut config);
    let capture = config.start(tx)?;
    let writer = std::thread::Builder::new()
        .name("agentsight-writer".into())
        .spawn(move || output::drain(sink, rx, tap))
        .context("failed to start the writer thread")?;
    Ok(Running { capture, writer, started: Instant::now(), session, output, backend })
}

impl Running {
    /// Stop capturing, wait for the writer, print the summary.
    fn finish(self, quiet: bool) -> Result<()> {
        let elapsed = self.started.elapsed();
        let stopped = self.capture.stop();
        let written = self.writer.join().map_err(|_| anyhow!("the writer thread panicked"))?;
        let s = &written.summary;
        if !quiet {
            eprintln!(
                "agentsight: session {}: {} events in {}, {}",
                self.session,
                s.events(),
                human_duration(elapsed.as_nanos() as u64),
                s.losses_line()
            );
            if s.events() > 0 {
                eprintln!("  {}", s.kinds_line());
            }
            if s.truncated > 0 {
                eprintln!("  {} events had a field cut at its cap (marked `truncated` in the trace)", s.truncated);
            }
            if written.hidden > 0 {
                eprintln!(
                    "  {} reads of libraries and system files, failed lookups and cache files are not shown above (`--verbose` shows them; `-o` keeps all)",
                    written.hidden
                );
            }
            if let Some(path) = &self.output {
                eprintln!("agentsight: trace written to {}", path.display());
            }
            if !written.tree.is_empty() {
                eprint!("process tree:\n{}", written.tree.render(TREE_LINES));
            }
        } else if s.lost() > 0 {
            eprintln!("agentsight: {}", s.losses_line());
        }
        if let Some(err) = &written.error {
            eprintln!("agentsight: output failed ({err}); {} events were not written", written.unwritten);
        }
        if let Some(backend) = self.backend {
            backend.finish(&self.session, quiet)?;
        }
        stopped.context("capture failed")?;
        Ok(())
    }
}

fn status_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

/// `agentsight record -- CMD...`: returns the exit code to end with.
pub fn record(opts: Options, until: Until, command: Vec<OsString>) -> Result<i32> {
    let (program, args) = command.split_first().context("no command given")?;
    let stops = Stops::install()?;
    let me = std::process::id();
    // The command's own executable gets its TLS probes before it starts (a Bun or Node agent may
    // call its model in its first milliseconds, before an exec event could be acted on).
    let exe = resolve_program(program);
    let running = start(&opts, |c| {
        c.spawner = Some(me);
        c.tls_binaries.extend(exe);
    })?;

    // The probes are attached: whatever the command does from its first instruction is seen.
    let mut child = match Command::new(program).args(args).spawn() {
        Ok(child) => child,
        Err(err) => {
            running.finish(true)?;
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
    running.finish(opts.quiet)?;
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
fn wait_for_tree(running: &Running, stops: &Stops, program: &OsString, code: i32, quiet: bool) {
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
pub fn attach(opts: Options, pids: Vec<u32>, comm: Option<String>) -> Result<i32> {
    let roots = match &comm {
        Some(name) => procfs::pids_by_comm(name)?,
        None => {
            procfs::check_pids(&pids)?;
            pids
        }
    };
    let targets = procfs::with_descendants(&roots)?;
    let stops = Stops::install()?;
    let running = start(&opts, |c| {
        c.pids = targets.clone();
        c.comms = comm.iter().cloned().collect();
    })?;
    if !opts.quiet {
        let what = match (&comm, targets.len()) {
            (Some(name), 0) => format!("no `{name}` runs yet; waiting for one to start"),
            (Some(name), n) => format!("tracing {n} process(es) named `{name}` or started by one, and any that start later"),
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
    running.finish(opts.quiet)?;
    Ok(0)
}
