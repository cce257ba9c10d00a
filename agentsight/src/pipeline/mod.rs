//! The one place where the stages of a recording are wired (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! capture ──batches──▶ writer ──windows──▶ backend
//! (collector)          (sink, summary,     (analyzer in this process | shipper to a remote one)
//!                       process tree, tap)
//! ```
//!
//! [`build`] starts all of them and returns a [`Pipeline`] that names each stage; the commands
//! (`record`, `attach`, `collect`, `demo`) only decide when to stop, and [`Pipeline::stop`] is
//! the one way to: the capture stops and closes its channel, the writer drains it, flushes the
//! sink and finishes the tap (closing the window channel), then the backend drains that and
//! shuts down. Each stage reports what it did as it stops, in that order. `ingest` replays a
//! trace file into the same backend through [`replay`], with no capture or sink.
//!
//! Both queues are bounded: batches wait in [`CHANNEL_CAPACITY`] slots (the kernel ring buffer
//! takes a burst, and counts what it cannot hold), windows in `backend::WINDOW_QUEUE`.

mod backend;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};
use collector::ship::ShipConfig;
use collector::{Capture, CaptureConfig};
use model::windower::WindowerConfig;

pub(crate) use backend::{runtime, Backend, IngestTotals, Tap};
use writer::Sink;
pub(crate) use writer::Writer;

/// Batches of events (up to `collector::capture::BATCH` each) between the capture thread and the
/// writer; when full, the capture thread waits and the kernel ring buffer takes the burst (and
/// counts what it cannot hold).
const CHANNEL_CAPACITY: usize = 64;

/// What a recording is asked to do (`record`, `attach`, `collect`, `demo`).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub output: Option<PathBuf>,
    pub quiet: bool,
    pub verbose: bool,
    /// What to capture, from the config's `[capture]` and `[redact]` (and their flags); the
    /// session and what to trace are set by [`build`] and its caller.
    pub capture: CaptureConfig,
    /// Where windows of the recorded events go, if anywhere.
    pub windows: Option<Dest>,
}

/// `record --analyze` or `collect --ship URL`; `window` is the config's `[window]`.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per recording: its size does not matter
pub(crate) enum Dest {
    Analyze {
        window: WindowerConfig,
        config: analyzer::config::Config,
        data: PathBuf,
    },
    /// `ship` has the URL and token of this run.
    Ship {
        window: WindowerConfig,
        ship: ShipConfig,
    },
}

/// Every stage of a running recording.
#[derive(Debug)]
pub(crate) struct Pipeline {
    /// The eBPF capture; the commands poll it (`is_finished`, `members`) to decide when to stop.
    pub capture: Capture,
    /// The writer thread: sink, summary, process tree and window tap.
    pub writer: Writer,
    /// Where the windows go, if anywhere.
    pub backend: Option<Backend>,
    /// The session id every event carries.
    pub session: String,
    started: Instant,
}

fn session_id() -> String {
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    format!("{now}-{}", std::process::id())
}

/// Starts the backend, the writer and then the capture, in the order each needs the next; the
/// capture's probes are attached when this returns. `configure` says what to trace.
pub(crate) fn build(opts: &Options, configure: impl FnOnce(&mut CaptureConfig)) -> Result<Pipeline> {
    let session = session_id();
    let sink = match (&opts.output, &opts.windows) {
        (None, Some(Dest::Ship { .. })) => Sink::Discard,
        _ => Sink::open(opts.output.clone(), opts.verbose)?,
    };
    let (tap, backend) = match &opts.windows {
        None => (None, None),
        Some(Dest::Analyze { window, config, data }) => {
            let (tap, backend) = backend::analyze(window, config.clone(), data)?;
            (Some(tap), Some(backend))
        }
        Some(Dest::Ship { window, ship }) => {
            let (tap, backend) = backend::ship(window, ship.clone())?;
            (Some(tap), Some(backend))
        }
    };
    let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let mut config = CaptureConfig { session: session.clone(), ..opts.capture.clone() };
    configure(&mut config);
    let capture = config.start(tx)?;
    let writer = Writer::spawn(sink, rx, tap)?;
    Ok(Pipeline { capture, writer, backend, session, started: Instant::now() })
}

impl Pipeline {
    /// Stops every stage in order, each reporting on stderr (nothing but problems when `quiet`):
    /// the capture, the writer (the summary and the process tree), then the backend (the
    /// session's findings, or what was shipped). A failed capture is reported last, after
    /// everything it recorded was written and analysed.
    pub(crate) fn stop(self, quiet: bool) -> Result<()> {
        let elapsed = self.started.elapsed();
        let stopped = self.capture.stop();
        let written = self.writer.join()?;
        eprint!("{}", written.report(&self.session, elapsed, quiet));
        if let Some(backend) = self.backend {
            backend.finish(&self.session, quiet)?;
        }
        stopped.context("capture failed")?;
        Ok(())
    }
}

/// `ingest`: a trace file replayed into an analyzer on `data`, with the recorded events pushed
/// to [`Replay::tap`] instead of coming from a capture.
#[derive(Debug)]
pub(crate) struct Replay {
    pub tap: Tap,
    backend: Backend,
}

/// Starts an analyzer on `data` for [`Replay`], the events cut into windows by `window`.
pub(crate) fn replay(window: &WindowerConfig, config: analyzer::config::Config, data: &Path) -> Result<Replay> {
    let (tap, backend) = backend::analyze(window, config, data)?;
    Ok(Replay { tap, backend })
}

impl Replay {
    /// Cuts the last windows, waits for them to be analysed and reports on `session` (see
    /// [`Backend::finish`]).
    pub(crate) fn stop(self, session: &str, quiet: bool) -> Result<Option<IngestTotals>> {
        self.tap.finish();
        self.backend.finish(session, quiet)
    }
}
