//! The analysis commands (`serve`, `ingest`, `search`, `findings`, `report`) and the window
//! tap that `record --analyze` and `collect --ship` put behind the capture.
//!
//! The tap cuts the recorded events into windows (`model::windower`) on the writer thread and
//! hands them over a bounded channel to a tokio runtime, where either an in-process
//! [`Analyzer`] ingests them or a [`Shipper`] sends them to a remote one.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use analyzer::config::Config;
use analyzer::index::{FindingFilter, Index, SearchQuery};
use analyzer::service::{Analyzer, Tasks};
use anyhow::{bail, Context, Result};
use collector::ship::{ShipConfig, ShipReport};
use model::windower::Windower;
use model::{Event, Finding, Window};
use tokio::sync::mpsc;

/// Windows between the writer thread and the analyzer or shipper.
const WINDOW_QUEUE: usize = 256;

/// `--data DIR`, else `$AGENTSIGHT_DATA`, else `~/.local/share/agentsight`.
pub fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("AGENTSIGHT_DATA").map(PathBuf::from))
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".local/share/agentsight")
        })
}

/// `--config FILE`, else `$AGENTSIGHT_CONFIG`, else `~/.config/agentsight/config.toml` when it
/// exists, else the defaults. `AGENTSIGHT_JUDGE_URL` and `AGENTSIGHT_JUDGE_MODEL` configure a
/// judge without a file.
pub fn load_config(arg: Option<PathBuf>) -> Result<Config> {
    let path = arg.or_else(|| std::env::var_os("AGENTSIGHT_CONFIG").map(PathBuf::from)).or_else(|| {
        let p = PathBuf::from(std::env::var_os("HOME")?).join(".config/agentsight/config.toml");
        p.exists().then_some(p)
    });
    let mut config = match path {
        Some(p) => Config::load(&p)?,
        None => Config::default(),
    };
    if let Some(url) = std::env::var("AGENTSIGHT_JUDGE_URL").ok().filter(|u| !u.is_empty()) {
        let mut judge = config.judge.take().unwrap_or_default();
        judge.base_url = url;
        if let Ok(model) = std::env::var("AGENTSIGHT_JUDGE_MODEL") {
            judge.model = model;
        }
        config.judge = Some(judge);
        config.validate()?;
    }
    Ok(config)
}

/// The writer thread's end of the window pipeline.
#[derive(Debug)]
pub struct Tap {
    windower: Windower,
    tx: mpsc::Sender<Window>,
    last_tick: Instant,
}

impl Tap {
    pub fn push(&mut self, ev: &Event) {
        for w in self.windower.push(ev.clone()) {
            self.send(w);
        }
    }

    /// Closes windows idle for the configured timeout; cheap, so call it often.
    pub fn tick(&mut self) {
        if self.last_tick.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_tick = Instant::now();
        let now = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
        for w in self.windower.tick(now) {
            self.send(w);
        }
    }

    pub fn finish(mut self) {
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
pub enum Backend {
    Analyze { runtime: tokio::runtime::Runtime, analyzer: Arc<Analyzer>, tasks: Tasks, ingest: tokio::task::JoinHandle<IngestTotals> },
    Ship { runtime: tokio::runtime::Runtime, ship: tokio::task::JoinHandle<ShipReport>, spool: PathBuf },
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
pub struct IngestTotals {
    pub windows: u64,
    pub events: u64,
    pub findings: u64,
    pub failed: u64,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("agentsight-analysis")
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// `record --analyze`: an analyzer on `data` in this process.
pub fn analyze_backend(config: Config, data: &Path) -> Result<(Tap, Backend)> {
    crate::datadir::ensure_free(data)?;
    let windower = config.window.clone().build();
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
pub fn ship_backend(config: &Config, url: &str, spool: PathBuf, token: Option<String>) -> Result<(Tap, Backend)> {
    let windower = config.window.clone().build();
    let runtime = runtime()?;
    let shipper = ShipConfig { token, ..ShipConfig::new(url, &spool) }.build()?;
    let (tx, rx) = mpsc::channel::<Window>(WINDOW_QUEUE);
    let ship = runtime.spawn(shipper.run(rx, Duration::from_secs(10)));
    let tap = Tap { windower, tx, last_tick: Instant::now() };
    Ok((tap, Backend::Ship { runtime, ship, spool }))
}

impl Backend {
    /// Waits for the last windows to be analysed or shipped and reports on `session`; returns
    /// what the analyzer took (`None` when shipping). Call after the tap is finished (its
    /// channel closed).
    pub fn finish(self, session: &str, quiet: bool) -> Result<Option<IngestTotals>> {
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
                    if let (Some(why), true, None) = (&report.last_error, report.left_in_spool > 0, &report.auth_error) {
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
    let findings = analyzer.findings(&FindingFilter { session: Some(session.to_string()), limit: 100, ..Default::default() })?;
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

fn judge_line(analyzer: &Analyzer) -> String {
    match analyzer.judge_summary() {
        None => "agentsight: no LLM judge configured: deterministic detectors only (set AGENTSIGHT_JUDGE_URL and AGENTSIGHT_JUDGE_MODEL, or a [judge] section in the config, to add one)".into(),
        Some(summary) => format!("agentsight: {summary}"),
    }
}

/// A finding as a person reads it.
pub fn finding_text(f: &Finding) -> String {
    let by = match &f.judge {
        Some(j) => format!("judge {} ({})", j.model, j.prompt_id),
        None => f.detector.clone(),
    };
    let mut out = format!("  {:<14} {:.2}  {}  [{}]\n      {}\n", f.kind, f.score, f.window_id, by, f.rationale);
    for e in &f.evidence {
        out.push_str(&format!("      - {} ({})\n", e.summary, e.event));
    }
    out
}

/// What `agentsight eval` was asked.
#[derive(Debug)]
pub struct EvalArgs {
    pub floors: Option<PathBuf>,
    pub json: bool,
    pub verbose: bool,
    pub judge: bool,
    pub sample: Option<usize>,
}

/// `agentsight eval DIR`: detection quality on a labelled set.
pub fn eval(dir: &Path, args: EvalArgs, config: Config) -> Result<i32> {
    let floors = args
        .floors
        .as_deref()
        .map(|f| {
            let text = std::fs::read_to_string(f).with_context(|| format!("failed to read `{}`", f.display()))?;
            analyzer::eval::Floors::parse(&text).with_context(|| format!("in `{}`", f.display()))
        })
        .transpose()?;
    let detectors = config.detect.clone().build()?;
    let judge = match (args.judge, &config.judge) {
        (false, _) => None,
        (true, None) => bail!("--judge needs a judge: a `[judge]` section in the config (or AGENTSIGHT_JUDGE_URL and AGENTSIGHT_JUDGE_MODEL)"),
        (true, Some(j)) => Some(j.clone().build().context("failed to start the judge")?),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("failed to start a runtime")?;
    let mut ask = |w: &model::Window, found: &[model::Finding]| -> analyzer::eval::Judged {
        let Some(judge) = &judge else { return analyzer::eval::Judged::default() };
        let started = std::time::Instant::now();
        let v = runtime.block_on(judge.judge(w, found));
        let cost = |f: &model::Finding| f.judge.as_ref().map_or((0, 0), |j| (j.input_tokens, j.output_tokens));
        analyzer::eval::Judged {
            prompts: v.findings.len() + v.errors.len(),
            errors: v.errors.len(),
            input_tokens: v.findings.iter().map(|f| cost(f).0).sum(),
            output_tokens: v.findings.iter().map(|f| cost(f).1).sum(),
            seconds: started.elapsed().as_secs_f64(),
            findings: v.findings,
        }
    };
    let options = analyzer::eval::Options {
        sample: args.sample,
        judge: judge.as_ref().map(|j| (j.model().to_string(), &mut ask as analyzer::eval::JudgeFn<'_>)),
    };
    let started = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = analyzer::eval::run(dir, &config.window, &detectors, options, |n, total, file| {
        if tty && !args.json {
            eprint!("\ragentsight: eval {}/{total} {file:<50.50}", n + 1);
        } else if judge.is_some() {
            eprintln!("agentsight: eval {}/{total} {file}", n + 1);
        }
    })
    .with_context(|| format!("failed to evaluate `{}`", dir.display()))?;
    if tty && !args.json {
        eprint!("\r{:80}\r", "");
    }
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        let text = format!("{}: {}", dir.display(), analyzer::eval::render(&report, args.verbose));
        crate::output::print_text(&format!("{text}\n{:.1} s\n", started.elapsed().as_secs_f64()))?;
    }
    let short = floors.map(|f| f.check(&report)).unwrap_or_default();
    for line in &short {
        eprintln!("agentsight: eval below its floor: {line}");
    }
    Ok(if short.is_empty() { 0 } else { 1 })
}

/// The default cap on one line of a trace given to `ingest`. The collector keeps at most 32 MiB
/// of each HTTP body and an `llm_call` holds a request and a response, JSON-escaped; a longer
/// line is no trace of ours, and is skipped without being read into memory.
pub const MAX_TRACE_LINE_BYTES: usize = 128 << 20;

/// One line of a trace, as [`read_line`] found it.
#[derive(Debug, PartialEq)]
enum TraceLine {
    /// The line is in the buffer, without its newline.
    Whole,
    /// Over the cap: consumed, not kept; how long it was (newline included).
    Overlong(u64),
}

/// Reads the next line into `buf` (cleared first), keeping at most `max` bytes of it: a longer
/// line is consumed in buffer-sized steps and reported, never held whole. `None` at the end.
fn read_line(reader: &mut impl BufRead, max: usize, buf: &mut Vec<u8>) -> std::io::Result<Option<TraceLine>> {
    buf.clear();
    let (mut seen, mut overlong) = (0u64, false);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let (take, end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = if end { take - 1 } else { take };
        if !overlong && buf.len() + content > max {
            overlong = true;
            *buf = Vec::new();
        }
        if !overlong {
            buf.extend_from_slice(&chunk[..content]);
        }
        seen += take as u64;
        reader.consume(take);
        if end {
            break;
        }
    }
    Ok(match (seen, overlong) {
        (0, _) => None,
        (n, true) => Some(TraceLine::Overlong(n)),
        (_, false) => Some(TraceLine::Whole),
    })
}

/// Lines of a trace that `ingest` skipped, by reason.
#[derive(Debug, Default, PartialEq)]
struct Skipped {
    not_utf8: u64,
    overlong: u64,
    not_event: u64,
}

impl Skipped {
    fn total(&self) -> u64 {
        self.not_utf8 + self.overlong + self.not_event
    }
}

/// What `ingest` read from a trace.
#[derive(Debug, Default)]
struct TraceRead {
    events: u64,
    sessions: std::collections::BTreeSet<String>,
    skipped: Skipped,
}

/// Feeds every event of `trace` to `tap`, skipping (and counting, and naming the first few of)
/// lines that are not valid UTF-8, longer than `max_line`, or not events. Stops at a read
/// error, with what it read so far.
fn read_trace(trace: impl std::io::Read, max_line: usize, tap: &mut Tap) -> (TraceRead, Option<std::io::Error>) {
    let mut reader = BufReader::with_capacity(1 << 20, trace);
    let mut read = TraceRead::default();
    let mut buf = Vec::new();
    let mut n = 0u64;
    let say = |read: &TraceRead, n: u64, why: String| {
        if read.skipped.total() <= 3 {
            eprintln!("agentsight: line {n} {why}");
        }
    };
    loop {
        n += 1;
        let line = match read_line(&mut reader, max_line, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => return (read, None),
            Err(e) => return (read, Some(e)),
        };
        if let TraceLine::Overlong(len) = line {
            read.skipped.overlong += 1;
            say(&read, n, format!("is {len} bytes long, over the {max_line}-byte cap, skipped"));
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(text) => text,
            Err(e) => {
                read.skipped.not_utf8 += 1;
                say(&read, n, format!("is not valid UTF-8 (at byte {}), skipped", e.valid_up_to()));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(text) {
            Ok(mut ev) => {
                fill_derived_fields(&mut ev);
                read.events += 1;
                if !read.sessions.contains(&ev.session) {
                    read.sessions.insert(ev.session.clone());
                }
                tap.push(&ev);
            }
            Err(e) => {
                read.skipped.not_event += 1;
                say(&read, n, format!("is not an event, skipped: {e}"));
            }
        }
    }
}

/// Fields the event contract does not require, derived from those it does when a trace left
/// them out (serde defaulted them).
fn fill_derived_fields(ev: &mut Event) {
    if let model::EventBody::Exec(e) = &mut ev.body {
        if e.argv_bytes == 0 && !e.argv_truncated {
            let bytes: usize = e.argv.iter().map(|a| a.len() + 1).sum();
            e.argv_bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        }
    }
}

/// `agentsight ingest trace.jsonl`: the whole pipeline offline, no server needed. Exits
/// non-zero when nothing could be ingested.
pub fn ingest(trace: &Path, config: Config, data: &Path, quiet: bool, max_line: usize) -> Result<i32> {
    let mut file = std::fs::File::open(trace).with_context(|| format!("failed to open `{}`", trace.display()))?;
    // A gzip'ed trace (`trace.jsonl.gz`, as the eval sets keep them) is read as it is.
    let mut magic = [0u8; 2];
    let gzip = std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == [0x1f, 0x8b];
    std::io::Seek::rewind(&mut file).with_context(|| format!("failed to read `{}`", trace.display()))?;
    let file: Box<dyn std::io::Read> = if gzip { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let (mut tap, backend) = analyze_backend(config, data)?;
    let (read, read_error) = read_trace(file, max_line, &mut tap);
    tap.finish();
    let skipped = &read.skipped;
    for (n, why) in [
        (skipped.not_event, "were not events".to_string()),
        (skipped.not_utf8, "were not valid UTF-8".to_string()),
        (skipped.overlong, format!("were longer than {max_line} bytes")),
    ] {
        if n > 0 {
            eprintln!("agentsight: {n} lines {why} and were skipped");
        }
    }
    if read.events == 0 {
        match read_error {
            Some(e) => bail!("failed to read `{}`: {e}", trace.display()),
            None => bail!("`{}` holds no events", trace.display()),
        }
    }
    let session = read.sessions.iter().next().cloned().unwrap_or_default();
    if read.sessions.len() > 1 && !quiet {
        eprintln!("agentsight: {} sessions in the trace; findings of the first are shown, `agentsight findings` lists all", read.sessions.len());
    }
    // What was read before an error is analysed and committed all the same.
    let totals = backend.finish(&session, quiet)?;
    if let Some(e) = read_error {
        bail!("failed to read `{}` after {} events: {e}", trace.display(), read.events);
    }
    if totals.is_some_and(|t| t.windows == 0) {
        bail!("nothing from `{}` was ingested: every window failed (see above)", trace.display());
    }
    if !quiet {
        eprintln!("agentsight: search it with `agentsight search QUERY --data {}`", data.display());
    }
    Ok(0)
}

pub(crate) fn open_index(data: &Path) -> Result<Index> {
    let dir = data.join("index");
    if !dir.exists() {
        bail!("no index in `{}`: ingest a trace first (`agentsight ingest trace.jsonl`) or record with `--analyze`", data.display());
    }
    Index::open_read_only(&dir).with_context(|| format!("failed to open the index in `{}`", data.display()))
}

/// `agentsight search QUERY`.
pub fn search(q: SearchQuery, data: &Path, json: bool) -> Result<i32> {
    let index = open_index(data)?;
    let hits = index.search(&q)?;
    if json {
        crate::output::print_json(&hits)?;
        return Ok(0);
    }
    if hits.is_empty() {
        // Nothing found is an answer, not a failure (see README, "Exit codes").
        eprintln!("agentsight: nothing matches `{}`", q.query);
        return Ok(0);
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut out = String::new();
    for h in &hits {
        let when = jiff::Timestamp::from_nanosecond(h.ts_ns as i128).map(|t| t.strftime("%F %T").to_string()).unwrap_or_default();
        let snippet = if tty { h.snippet.replace("<b>", "\x1b[1m").replace("</b>", "\x1b[0m") } else { strip_tags(&h.snippet) };
        out.push_str(&format!("{when}  {:<8} {:<10} {}  {}\n    {}\n", h.doc, h.kind, h.session, h.id, unescape(&snippet)));
    }
    crate::output::print_text(&out)?;
    Ok(0)
}

fn strip_tags(s: &str) -> String {
    s.replace("<b>", "").replace("</b>", "")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'").replace("&#39;", "'").replace("&amp;", "&")
}

/// `agentsight findings`.
pub fn findings(filter: FindingFilter, data: &Path, json: bool) -> Result<i32> {
    let index = open_index(data)?;
    let findings = index.findings(&filter)?;
    if json {
        crate::output::print_json(&findings)?;
        return Ok(0);
    }
    // What the capture missed comes first: a session without findings may be one whose LLM
    // calls were never seen.
    let mut text = coverage_text(&index.sessions()?, filter.session.as_deref());
    if findings.is_empty() {
        crate::output::print_text(&text)?;
        eprintln!("agentsight: no findings");
        return Ok(0);
    }
    text.extend(findings.iter().map(finding_text));
    crate::output::print_text(&text)?;
    Ok(0)
}

/// Sessions listed with their coverage warnings in `findings` at most.
const COVERAGE_SESSIONS: usize = 10;

/// One block per session whose capture missed something (of `session` only, when given):
/// `! session ID: N coverage warnings` and the first lines.
fn coverage_text(sessions: &[analyzer::index::SessionInfo], session: Option<&str>) -> String {
    let missed: Vec<_> = sessions
        .iter()
        .filter(|s| !s.coverage.is_empty() && session.is_none_or(|id| s.id == id))
        .collect();
    let mut out = String::new();
    for s in missed.iter().take(COVERAGE_SESSIONS) {
        out.push_str(&format!("! session {}: what the capture missed ({} loss events):\n", crate::pretty::clean(&s.id), s.lost_events));
        for line in s.coverage.iter().take(3) {
            out.push_str(&format!("    {}\n", crate::pretty::clean(line)));
        }
        if s.coverage.len() > 3 {
            out.push_str(&format!("    … `agentsight show {}` lists all\n", crate::pretty::clean(&s.id)));
        }
    }
    if missed.len() > COVERAGE_SESSIONS {
        out.push_str(&format!("! … {} more sessions with coverage warnings: `agentsight sessions`\n", missed.len() - COVERAGE_SESSIONS));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// `agentsight prune`: deletes sessions by age and/or log size (flags, else `[retention]`).
pub fn prune(before_ns: Option<u64>, max_log_bytes: Option<u64>, dry_run: bool, mut config: Config, data: &Path) -> Result<i32> {
    if before_ns.is_none() && max_log_bytes.is_none() {
        bail!("nothing to prune by: give --older-than DURATION and/or --max-log-size MIB, or set `retention.max_age_hours` / `retention.max_log_mib` in the config");
    }
    if !data.join("index").exists() {
        bail!("no index in `{}`: nothing to prune", data.display());
    }
    crate::datadir::ensure_free(data)?;
    // This run deletes what it is told, once; the config's own retention task stays off.
    config.retention = Default::default();
    config.export.otlp.clear();
    let runtime = runtime()?;
    let (analyzer, tasks) =
        runtime.block_on(async { Analyzer::start(config, data) }).map_err(|e| crate::datadir::open_error(e, data))?;
    let report = analyzer.prune(before_ns, max_log_bytes, dry_run);
    runtime.block_on(tasks.shutdown(&analyzer))?;
    let report = report?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut text = String::new();
    for s in &report.sessions {
        text.push_str(&format!("{verb} {}\n", crate::pretty::clean(s)));
    }
    text.push_str(&format!(
        "agentsight: {verb} {} sessions ({} windows, {:.1} MiB of window log); {} sessions kept ({:.1} MiB)\n",
        report.sessions.len(),
        report.windows,
        report.log_bytes as f64 / (1 << 20) as f64,
        report.sessions_kept,
        report.log_bytes_kept as f64 / (1 << 20) as f64,
    ));
    crate::output::print_text(&text)?;
    Ok(0)
}

/// `agentsight report`.
pub fn report(since: Duration, format: analyzer::report::Format, out: Option<PathBuf>, data: &Path) -> Result<i32> {
    let index = open_index(data)?;
    let now = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
    let since_ns = now.saturating_sub(since.as_nanos() as u64);
    let text = analyzer::report::build(&index, since_ns, now, format)?;
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))?;
            eprintln!("agentsight: report written to {}", path.display());
        }
        None => crate::output::print_text(&text)?,
    }
    Ok(0)
}

/// `agentsight serve`.
pub fn serve(mut config: Config, data: &Path, listen: Option<String>) -> Result<i32> {
    if let Some(l) = listen {
        config.listen = l;
    }
    let addr: SocketAddr = config.listen.parse().with_context(|| format!("`{}` is not an address:port", config.listen))?;
    let token = std::env::var(&config.token_env).ok().filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        bail!(
            "refusing to listen on {addr} without a token: set {} to a secret bearer token (or listen on 127.0.0.1)",
            config.token_env
        );
    }
    crate::datadir::ensure_free(data)?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        let (analyzer, tasks) = Analyzer::start(config, data).map_err(|e| crate::datadir::open_error(e, data))?;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("failed to listen on {addr}"))?;
        let _marker = listener.local_addr().ok().and_then(|a| crate::datadir::ServeMarker::write(data, a));
        eprintln!(
            "agentsight: serving {} on http://{addr} (web UI at /, API at /v1, metrics at /metrics){}",
            data.display(),
            if token.is_some() { "; bearer token required" } else { "" }
        );
        eprintln!("{}", judge_line(&analyzer));
        let state = analyzer::api::ApiState { analyzer: analyzer.clone(), token };
        analyzer::api::serve(listener, state, stop_requested())
        .await
        .context("the server failed")?;
        eprintln!("agentsight: stopping; finishing queued judge requests and webhooks");
        tasks.shutdown(&analyzer).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// Ctrl-C or SIGTERM (`systemctl stop`, `docker stop`): either stops `serve` cleanly, with the
/// judge queue and the webhooks drained and the index committed.
async fn stop_requested() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            // Without a handler SIGTERM keeps its default action; Ctrl-C still works.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as `read_line` reported it, with the buffer's bytes.
    type Read = (Option<TraceLine>, Vec<u8>);

    /// Every line of `input` as `read_line` with cap `max` sees it, and the largest buffer it
    /// allocated on the way.
    fn lines(input: &[u8], max: usize) -> (Vec<Read>, usize) {
        // A small buffer, so a line spans many reads.
        let mut reader = BufReader::with_capacity(4, input);
        let (mut out, mut buf, mut largest) = (Vec::new(), Vec::new(), 0);
        loop {
            let line = read_line(&mut reader, max, &mut buf).expect("read");
            largest = largest.max(buf.capacity());
            let end = line.is_none();
            out.push((line, buf.clone()));
            if end {
                return (out, largest);
            }
        }
    }

    #[test]
    fn read_line_keeps_lines_up_to_the_cap_and_skips_longer_ones_unheld() {
        let long = vec![b'x'; 1000];
        let mut input = b"12345678\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n\nlast");
        let (got, largest) = lines(&input, 8);
        assert_eq!(
            got,
            vec![
                (Some(TraceLine::Whole), b"12345678".to_vec()),
                (Some(TraceLine::Overlong(1001)), Vec::new()),
                (Some(TraceLine::Whole), Vec::new()),
                (Some(TraceLine::Whole), b"last".to_vec()),
                (None, Vec::new()),
            ]
        );
        assert!(largest < 64, "the long line was not held: {largest} bytes");
    }

    #[test]
    fn read_line_passes_invalid_utf8_through_as_bytes() {
        let (got, _) = lines(b"a\xffb\n", 100);
        assert_eq!(got[0], (Some(TraceLine::Whole), b"a\xffb".to_vec()));
    }
}
