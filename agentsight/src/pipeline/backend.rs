//! The backend stage and the tap that feeds it: the tap cuts the recorded events into windows
//! (`model::windower`) on the writer thread and hands them over a bounded channel to a tokio
//! runtime, where either an in-process [`Analyzer`] ingests them or a [`Shipper`] sends them to
//! a remote one. The backend stops when the tap is finished (its channel closed) and it has
//! drained what was queued.
//!
//! [`Shipper`]: collector::ship::Shipper

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use analyzer::config::Config;
use analyzer::index::FindingFilter;
use analyzer::service::{Analyzer, Tasks};
use anyhow::{bail, Context, Result};
use collector::ship::{ShipConfig, ShipReport};
use model::windower::{Windower, WindowerConfig};
use model::{Event, Window};
use tokio::sync::mpsc;

use crate::render::{finding_text, judge_line};

/// Windows between the writer thread and the analyzer or shipper.
const WINDOW_QUEUE: usize = 256;

/// The writer thread's end of the window pipeline.
#[derive(Debug)]
pub(crate) struct Tap {
    windower: Windower,
    tx: mpsc::Sender<Window>,
    last_tick: Instant,
}

impl Tap {
    pub(crate) fn push(&mut self, ev: &Event) {
        for w in self.windower.push(ev.clone()) {
            self.send(w);
        }
    }

    /// Closes windows idle for the configured timeout; cheap, so call it often.
    pub(super) fn tick(&mut self) {
        if self.last_tick.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_tick = Instant::now();
        let now = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
        for w in self.windower.tick(now) {
            self.send(w);
        }
    }

    pub(super) fn finish(mut self) {
        for w in self.windower.finish() {
            self.send(w);
        }
    }

    fn send(&self, w: Window) {
        // The consumer is a task of our own runtime; it stops only after this channel closes.
        let _ = self.tx.blocking_send(w);
    }
}

/// Where windows go: an in-process analyzer, or a remote one.
pub(crate) enum Backend {
    Analyze {
        runtime: tokio::runtime::Runtime,
        analyzer: Arc<Analyzer>,
        tasks: Tasks,
        ingest: tokio::task::JoinHandle<IngestTotals>,
    },
    Ship {
        runtime: tokio::runtime::Runtime,
        ship: tokio::task::JoinHandle<ShipReport>,
        spool: PathBuf,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Analyze { .. } => "Backend::Analyze",
            Backend::Ship { .. } => "Backend::Ship",
        })
    }
}

/// What the in-process ingest did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IngestTotals {
    pub windows: u64,
    pub events: u64,
    pub findings: u64,
    pub failed: u64,
}

/// The runtime the backends, `serve` and `prune` run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("agentsight-analysis")
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// `record --analyze`: an analyzer on `data` in this process.
pub(super) fn analyze(window: &WindowerConfig, config: Config, data: &Path) -> Result<(Tap, Backend)> {
    crate::datadir::ensure_free(data)?;
    let windower = window.clone().build();
    let runtime = runtime()?;
    let (analyzer, tasks) =
        runtime.block_on(async { Analyzer::start(config, data) }).map_err(|e| crate::datadir::open_error(e, data))?;
    let (tx, mut rx) = mpsc::channel::<Window>(WINDOW_QUEUE);
    let a = analyzer.clone();
    let ingest = runtime.spawn(async move {
        let mut totals = IngestTotals::default();
        while let Some(w) = rx.recv().await {
            let a = a.clone();
            match tokio::task::spawn_blocking(move || a.ingest(std::slice::from_ref(&w))).await {
                Ok(Ok(r)) => {
                    totals.windows += 1;
                    totals.events += r.events as u64;
                    totals.findings += r.findings as u64;
                }
                Ok(Err(e)) => {
                    totals.failed += 1;
                    eprintln!("agentsight: a window could not be analysed: {e}");
                }
                Err(_) => totals.failed += 1,
            }
        }
        totals
    });
    let tap = Tap { windower, tx, last_tick: Instant::now() };
    Ok((tap, Backend::Analyze { runtime, analyzer, tasks, ingest }))
}

/// `collect --ship URL`: windows to a remote analyzer, through the spool when it is away.
pub(super) fn ship(window: &WindowerConfig, config: ShipConfig) -> Result<(Tap, Backend)> {
    let windower = window.clone().build();
    let runtime = runtime()?;
    let spool = config.spool_dir.clone();
    let shipper = config.build()?;
    let (tx, rx) = mpsc::channel::<Window>(WINDOW_QUEUE);
    let ship = runtime.spawn(shipper.run(rx, Duration::from_secs(10)));
    let tap = Tap { windower, tx, last_tick: Instant::now() };
    Ok((tap, Backend::Ship { runtime, ship, spool }))
}

impl Backend {
    /// Waits for the last windows to be analysed or shipped and reports on `session`; returns
    /// what the analyzer took (`None` when shipping). Call after the tap is finished (its
    /// channel closed).
    pub(super) fn finish(self, session: &str, quiet: bool) -> Result<Option<IngestTotals>> {
        match self {
            Backend::Analyze { runtime, analyzer, tasks, ingest } => {
                let totals = runtime.block_on(ingest).unwrap_or_default();
                if analyzer.has_judge() && !quiet {
                    eprintln!("agentsight: waiting for the judge...");
                }
                runtime.block_on(tasks.shutdown(&analyzer))?;
                if !quiet {
                    print_session_findings(&analyzer, session, totals)?;
                }
                Ok(Some(totals))
            }
            Backend::Ship { runtime, ship, spool } => {
                let report = runtime.block_on(ship).context("the shipper stopped unexpectedly")?;
                if !quiet || report.left_in_spool > 0 || report.rejected > 0 || report.dropped_spool_full > 0 {
                    eprintln!(
                        "agentsight: shipped {} windows; {} left in the spool `{}` (sent by the next run), {} rejected by the analyzer, {} dropped (spool full)",
                        report.sent,
                        report.left_in_spool,
                        spool.display(),
                        report.rejected,
                        report.dropped_spool_full
                    );
                    if let (Some(why), true, None) = (&report.last_error, report.left_in_spool > 0, &report.auth_error)
                    {
                        eprintln!("agentsight: the analyzer could not be reached: {why}");
                    }
                }
                if report.damaged > 0 {
                    eprintln!(
                        "agentsight: {} damaged spool entries (not a regular file, or no window in it) were moved to `{}`",
                        report.damaged,
                        spool.join("damaged").display()
                    );
                }
                if let Some(why) = &report.auth_error {
                    bail!(
                        "the analyzer refused the token ({why}); nothing more was sent and {} windows are kept in the spool `{}`: set the right token (in the variable `--token-env` names, AGENTSIGHT_TOKEN by default) and run `collect` again to send them",
                        report.left_in_spool,
                        spool.display()
                    );
                }
                Ok(None)
            }
        }
    }
}

fn print_session_findings(analyzer: &Analyzer, session: &str, totals: IngestTotals) -> Result<()> {
    let findings =
        analyzer.findings(&FindingFilter { session: Some(session.to_string()), limit: 100, ..Default::default() })?;
    eprintln!(
        "agentsight: analysed {} windows ({} events) into `{}`",
        totals.windows,
        totals.events,
        analyzer.data_dir().display()
    );
    if totals.failed > 0 {
        eprintln!("agentsight: {} windows could not be analysed (see above)", totals.failed);
    }
    eprintln!("{}", judge_line(analyzer));
    if findings.is_empty() {
        eprintln!("agentsight: no findings");
    } else {
        eprintln!("findings:");
        for f in &findings {
            eprint!("{}", finding_text(f));
        }
    }
    Ok(())
}
