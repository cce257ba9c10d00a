//! The analyzer as one object: windows in; log, index, detectors, judge and webhooks behind.
//!
//! `ingest` is synchronous and does the durable part at once: append to the window log (synced),
//! add to the index, run the deterministic detectors, index their findings, queue alerts, and
//! queue the window for the judge. The judge (slow, remote, budgeted) and webhook deliveries run
//! as tasks; a periodic commit makes new documents searchable and records the log offset the
//! index covers, so a restart replays exactly what the index lacks. A commit that fails (a full
//! disk) is counted and tried again at the next tick: what it held stays pending, not lost.
//! The judge keeps the day's token spend in the data directory, so a restart does not reset
//! its budget.
//!
//! Ingests are serialised by the log lock, held across append and index add: the offset an
//! index commit records never covers a window that is not in the index.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use model::{Finding, JudgeError, Window};
use opentelemetry_proto::tonic::trace::v1 as otlp_proto;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::detect::Detectors;
use crate::index::{FindingFilter, Hit, Index, SearchQuery, SessionInfo};
use crate::judge::Judge;
use crate::store::WindowLog;
use crate::view::{self, Page, Rollup, TurnPage};
use crate::webhook::{WebhookCounters, WebhookSender};
use crate::{Error, Result};

/// A window for the judge, with the deterministic findings it already has.
type JudgeJob = (Window, Vec<Finding>);

/// Counts the service exports on `/metrics`; tests assert on them.
#[derive(Debug, Default)]
pub struct Counters {
    pub windows_received: AtomicU64,
    pub windows_duplicate: AtomicU64,
    pub windows_rejected: AtomicU64,
    pub windows_replayed: AtomicU64,
    pub events_indexed: AtomicU64,
    /// Windows the judge asked at least one question about.
    pub windows_judged: AtomicU64,
    /// Windows the judge asked nothing about because its daily token budget was spent.
    pub windows_skipped_budget: AtomicU64,
    /// Questions not asked because the daily token budget was spent.
    pub judge_questions_skipped_budget: AtomicU64,
    pub judge_errors: AtomicU64,
    pub judge_queue_full: AtomicU64,
    pub log_bad_lines: AtomicU64,
    pub commits: AtomicU64,
    /// Index commits that failed; the next tick tries again.
    pub commit_failures: AtomicU64,
    /// Findings by kind and detector.
    pub findings: Mutex<BTreeMap<(String, String), u64>>,
    /// OpenTelemetry export (`[analyzer.export]`): sessions and spans sent, and sends that failed
    /// (tried again at the next interval).
    pub otlp_sessions_exported: AtomicU64,
    pub otlp_spans_exported: AtomicU64,
    pub otlp_export_failures: AtomicU64,
    /// Retention (`[analyzer.retention]`, `agentsight prune`): what was deleted.
    pub sessions_pruned: AtomicU64,
    pub windows_pruned: AtomicU64,
    pub log_bytes_pruned: AtomicU64,
    /// Per `ingest` call.
    pub ingest_seconds: crate::metrics::Latency,
    /// Per window, at the commit that makes it searchable: from its arrival, and from its last
    /// event (which includes the collector's wait for the turn to end, and shipping).
    pub received_to_searchable_seconds: crate::metrics::Latency,
    pub event_to_searchable_seconds: crate::metrics::Latency,
    /// Per session exported.
    pub otlp_export_seconds: crate::metrics::Latency,
}

impl Counters {
    fn count_findings(&self, findings: &[Finding]) {
        if let Ok(mut map) = self.findings.lock() {
            for f in findings {
                *map.entry((f.kind.to_string(), f.detector.clone())).or_default() += 1;
            }
        }
    }
}

/// What one ingest did.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct IngestReport {
    pub accepted: usize,
    /// Windows already received since the service started (stored again, replacing themselves).
    pub duplicates: usize,
    pub events: usize,
    pub findings: usize,
}

/// What the judge did since the service started, for a person (`ingest` prints it).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct JudgeSummary {
    pub model: String,
    pub windows_judged: u64,
    pub windows_skipped_budget: u64,
    pub questions_skipped_budget: u64,
    pub judge_errors: u64,
    /// Tokens spent today (UTC), by this run and any earlier one.
    pub tokens_in_today: u64,
    pub tokens_out_today: u64,
    pub daily_token_budget: u64,
}

impl std::fmt::Display for JudgeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LLM judge `{}`: {} windows judged", self.model, self.windows_judged)?;
        if self.questions_skipped_budget > 0 {
            write!(
                f,
                ", {} windows skipped and {} questions not asked (the daily token budget of {} is spent)",
                self.windows_skipped_budget, self.questions_skipped_budget, self.daily_token_budget
            )?;
        }
        write!(
            f,
            ", {} judge errors, {} tokens in / {} out today",
            self.judge_errors, self.tokens_in_today, self.tokens_out_today
        )
    }
}

/// Events read for one session at most; a session page says when it was cut here.
pub const MAX_SESSION_EVENTS: usize = 500_000;
/// Findings read for one session at most.
const MAX_SESSION_FINDINGS: usize = 1_000;
/// Sessions whose events are kept between requests (paging through one reads it once).
const SESSIONS_CACHED: usize = 4;

/// A session in the list: the index's counts and coverage, with `agent` the rollup's short
/// name rather than the argv, and the rollup of its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    #[serde(flatten)]
    pub info: SessionInfo,
    #[serde(flatten)]
    pub rollup: Rollup,
}

impl SessionSummary {
    fn new(mut info: SessionInfo, rollup: Rollup) -> Self {
        info.agent = rollup.agent.clone();
        SessionSummary { info, rollup }
    }
}

/// One page of a session as a person reads it (`GET /v1/sessions/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct SessionPage {
    pub session: String,
    /// What the capture says it missed in this session (see [`SessionInfo::coverage`]).
    pub coverage: Vec<String>,
    pub lost_events: u64,
    pub summary: SessionSummary,
    #[serde(flatten)]
    pub view: TurnPage,
    pub findings: Vec<Finding>,
    /// The session has more events than [`MAX_SESSION_EVENTS`]: the view stops there.
    pub events_cut: bool,
    /// The raw events, in time order, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<model::Event>>,
}

/// A session's events and findings as read from the index, with what they were read at: a
/// stamp that changes whenever the session gains events or findings.
#[derive(Debug)]
struct SessionData {
    stamp: Stamp,
    events: Vec<model::Event>,
    links: Vec<model::Link>,
    findings: Vec<Finding>,
}

impl SessionData {
    fn read(index: &Index, info: &SessionInfo) -> Result<SessionData> {
        let filter =
            FindingFilter { session: Some(info.id.clone()), limit: MAX_SESSION_FINDINGS, ..FindingFilter::default() };
        let findings = index.findings(&filter)?;
        let events = index.session_events(&info.id, MAX_SESSION_EVENTS)?;
        // The links the collector's windower made, made again over the whole session: the
        // same pure function, so the same links (and none lost at a window's edge).
        let links = model::windower::links(&events);
        Ok(SessionData { stamp: stamp(info), events, links, findings })
    }

    fn rollup(&self) -> Rollup {
        view::rollup(&self.events, &self.links, &self.findings)
    }
}

impl SessionPage {
    fn new(info: SessionInfo, data: &SessionData, rollup: Rollup, page: Page, events: Option<usize>) -> Self {
        SessionPage {
            session: info.id.clone(),
            coverage: info.coverage.clone(),
            lost_events: info.lost_events,
            events_cut: data.events.len() >= MAX_SESSION_EVENTS,
            summary: SessionSummary::new(info, rollup),
            view: view::page(&data.events, &data.links, &data.findings, page),
            findings: data.findings.clone(),
            events: events.map(|n| data.events.iter().take(n).cloned().collect()),
        }
    }
}

/// [`Analyzer::session_summaries`] from an index opened read-only (a command beside a running
/// `serve`), without the analyzer's cache: every session's events are read once.
pub fn session_summaries(index: &Index) -> Result<Vec<SessionSummary>> {
    let mut out = Vec::new();
    for info in index.sessions()? {
        let rollup = SessionData::read(index, &info)?.rollup();
        out.push(SessionSummary::new(info, rollup));
    }
    Ok(out)
}

/// [`Analyzer::session_page`] from an index opened read-only; `None` when there is no such
/// session.
pub fn session_page(index: &Index, session: &str, page: Page, events: Option<usize>) -> Result<Option<SessionPage>> {
    let Some(info) = index.sessions()?.into_iter().find(|s| s.id == session) else {
        return Ok(None);
    };
    let data = SessionData::read(index, &info)?;
    let rollup = data.rollup();
    Ok(Some(SessionPage::new(info, &data, rollup, page, events)))
}

/// `session`'s OpenTelemetry spans (every turn, see [`crate::otlp`]) from an index opened
/// read-only; `None` when there is no such session.
pub fn session_spans(index: &Index, info: &SessionInfo, content: bool) -> Result<Vec<otlp_proto::Span>> {
    let data = SessionData::read(index, info)?;
    let rollup = data.rollup();
    Ok(data.spans(info.clone(), rollup, content))
}

impl SessionData {
    /// Every turn (paged through: one page is capped) and the session's spans from them.
    fn spans(&self, info: SessionInfo, rollup: Rollup, content: bool) -> Vec<otlp_proto::Span> {
        let mut turns = Vec::new();
        let mut finding_turns = BTreeMap::new();
        let mut from = 0;
        loop {
            let page = Page { turn_from: from, turns: view::MAX_TURNS, ..Page::default() };
            let p = view::page(&self.events, &self.links, &self.findings, page);
            for (k, v) in p.finding_turns {
                finding_turns.entry(k).or_insert(v);
            }
            turns.extend(p.turns);
            match p.next_turn_from {
                Some(next) if next > from => from = next,
                _ => break,
            }
        }
        let summary = SessionSummary::new(info, rollup);
        let export = crate::otlp::SessionExport {
            summary: &summary,
            turns: &turns,
            finding_turns: &finding_turns,
            findings: &self.findings,
        };
        crate::otlp::session_spans(&export, content)
    }
}

/// What a session's cached reads were made at: its events, findings and last event time, which
/// change whenever it gains anything.
type Stamp = (u64, u64, u64);

fn stamp(info: &SessionInfo) -> Stamp {
    (info.events, info.findings, info.last_ns)
}

/// The shared state of a running analyzer.
#[derive(Debug)]
pub struct Analyzer {
    data_dir: PathBuf,
    config: Config,
    log: Mutex<WindowLog>,
    index: RwLock<Index>,
    detectors: Detectors,
    judge_tx: Mutex<Option<mpsc::Sender<JudgeJob>>>,
    judge: Option<Arc<Judge>>,
    /// Dropped at shutdown, so the webhook stage sends what is queued and ends.
    alerts: Mutex<Option<WebhookSender>>,
    webhook_counters: Arc<WebhookCounters>,
    /// Log offset covered by what has been added to the index (committed or not).
    indexed_upto: AtomicU64,
    seen: Mutex<HashSet<String>>,
    dirty: AtomicU64,
    /// The sessions read last, most recent at the back.
    session_cache: Mutex<VecDeque<(String, Arc<SessionData>)>>,
    /// Rollups by session, with the stamp they were computed at.
    rollups: Mutex<HashMap<String, (Stamp, Rollup)>>,
    /// Windows ingested since the last commit: when they arrived, and their last event's time.
    uncommitted: Mutex<Vec<(std::time::Instant, u64)>>,
    pub counters: Counters,
}

/// The background tasks of an analyzer; `shutdown` drains them.
#[derive(Debug)]
pub struct Tasks {
    judge: Option<JoinHandle<()>>,
    webhooks: Option<JoinHandle<()>>,
    committer: JoinHandle<()>,
    exporter: Option<JoinHandle<()>>,
    retention: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

fn lock_err(what: &'static str) -> Error {
    Error::Poisoned(what)
}

impl Analyzer {
    /// Opens the data directory (creating it), replays the log tail the index lacks and starts
    /// the judge, webhook and commit tasks. Needs a tokio runtime.
    pub fn start(config: Config, data_dir: &Path) -> Result<(Arc<Analyzer>, Tasks)> {
        config.validate()?;
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            op: "create data directory",
            path: data_dir.to_path_buf(),
            source,
        })?;
        let log = WindowLog::open(data_dir)?;
        let index = config.index.open(&data_dir.join("index"))?;
        let detectors = config.detect.clone().build()?;
        let judge = match &config.judge {
            Some(j) => Some(Arc::new(j.clone().build_in(data_dir)?)),
            None => None,
        };
        let webhooks = config.webhooks.clone().build()?;
        let alerts = webhooks.sender();
        let webhook_counters = webhooks.counters();
        let (judge_tx, judge_rx) = mpsc::channel(config.judge_queue.max(1));
        let start_offset = index
            .last_commit_payload()
            .and_then(|p| p.strip_prefix("log_offset=").and_then(|n| n.parse::<u64>().ok()))
            .unwrap_or(0);
        let analyzer = Arc::new(Analyzer {
            data_dir: data_dir.to_path_buf(),
            log: Mutex::new(log),
            index: RwLock::new(index),
            detectors,
            judge_tx: Mutex::new(judge.is_some().then_some(judge_tx)),
            judge: judge.clone(),
            alerts: Mutex::new(Some(alerts)),
            webhook_counters,
            indexed_upto: AtomicU64::new(start_offset),
            seen: Mutex::new(HashSet::new()),
            dirty: AtomicU64::new(0),
            session_cache: Mutex::new(VecDeque::new()),
            rollups: Mutex::new(HashMap::new()),
            uncommitted: Mutex::new(Vec::new()),
            counters: Counters::default(),
            config,
        });
        analyzer.replay(start_offset)?;

        let (stop, stop_rx) = watch::channel(false);
        let judge_task = judge.map(|j| tokio::spawn(judge_loop(analyzer.clone(), j, judge_rx)));
        let mut stop_webhooks = stop_rx.clone();
        // After the stop signal, queued deliveries get a grace period, then count as dropped.
        let grace = async move {
            let _ = stop_webhooks.wait_for(|s| *s).await;
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        };
        let webhook_task = Some(tokio::spawn(webhooks.run(grace)));
        let exporter = match analyzer.config.export.otlp.is_empty() {
            true => None,
            false => {
                let exporter = crate::otlp::Exporter::new(&analyzer.config.export)?;
                Some(tokio::spawn(export_loop(analyzer.clone(), exporter, stop_rx.clone())))
            }
        };
        let retention =
            analyzer.config.retention.is_on().then(|| tokio::spawn(retention_loop(analyzer.clone(), stop_rx.clone())));
        let committer = tokio::spawn(commit_loop(analyzer.clone(), stop_rx));
        let tasks = Tasks { judge: judge_task, webhooks: webhook_task, committer, exporter, retention, stop };
        Ok((analyzer, tasks))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether an LLM judge is configured.
    pub fn has_judge(&self) -> bool {
        self.judge.is_some()
    }

    pub fn judge(&self) -> Option<&Judge> {
        self.judge.as_deref()
    }

    /// What the judge did, when one is configured.
    pub fn judge_summary(&self) -> Option<JudgeSummary> {
        let judge = self.judge.as_ref()?;
        let j = judge.counters();
        let c = &self.counters;
        Some(JudgeSummary {
            model: judge.model().to_string(),
            windows_judged: c.windows_judged.load(Relaxed),
            windows_skipped_budget: c.windows_skipped_budget.load(Relaxed),
            questions_skipped_budget: c.judge_questions_skipped_budget.load(Relaxed),
            judge_errors: c.judge_errors.load(Relaxed),
            tokens_in_today: j.tokens_in_today,
            tokens_out_today: j.tokens_out_today,
            daily_token_budget: j.daily_token_budget,
        })
    }

    pub fn webhook_counters(&self) -> &WebhookCounters {
        &self.webhook_counters
    }

    fn replay(&self, offset: u64) -> Result<()> {
        let replay = self.log.lock().map_err(|_| lock_err("log"))?.replay_from(offset)?;
        self.counters.log_bad_lines.fetch_add(replay.bad_lines, Relaxed);
        if replay.windows.is_empty() {
            return Ok(());
        }
        self.counters.windows_replayed.fetch_add(replay.windows.len() as u64, Relaxed);
        let end = self.log.lock().map_err(|_| lock_err("log"))?.len();
        self.index_windows(&replay.windows)?;
        self.indexed_upto.store(end, Relaxed);
        self.commit()?;
        Ok(())
    }

    /// Checks what serde cannot: ids agree with session and seq, events belong to the session.
    pub fn validate(w: &Window) -> Result<()> {
        if w.window_id != model::window_id(&w.session, w.seq) {
            return Err(Error::InvalidWindow(format!(
                "`window_id` is `{}`, expected `{}`",
                w.window_id,
                model::window_id(&w.session, w.seq)
            )));
        }
        if w.session.is_empty() {
            return Err(Error::InvalidWindow("`session` is empty".into()));
        }
        if w.overlap_events > w.events.len() {
            return Err(Error::InvalidWindow("`overlap_events` exceeds the number of events".into()));
        }
        if let Some(e) = w.events.iter().chain(&w.context.history).find(|e| e.session != w.session) {
            return Err(Error::InvalidWindow(format!(
                "event `{}` belongs to session `{}`, not `{}`",
                e.id(),
                e.session,
                w.session
            )));
        }
        Ok(())
    }

    /// Stores, indexes and analyses windows; when it returns Ok they are durable.
    /// All windows are validated first: one bad window rejects the batch, nothing is stored.
    pub fn ingest(&self, windows: &[Window]) -> Result<IngestReport> {
        let started = std::time::Instant::now();
        let report = self.ingest_timed(windows);
        self.counters.ingest_seconds.observe(started.elapsed());
        report
    }

    fn ingest_timed(&self, windows: &[Window]) -> Result<IngestReport> {
        let received = std::time::Instant::now();
        self.counters.windows_received.fetch_add(windows.len() as u64, Relaxed);
        if let Err(e) = windows.iter().try_for_each(Analyzer::validate) {
            self.counters.windows_rejected.fetch_add(windows.len() as u64, Relaxed);
            return Err(e);
        }
        let mut report = IngestReport { accepted: windows.len(), ..Default::default() };
        {
            let mut seen = self.seen.lock().map_err(|_| lock_err("seen"))?;
            report.duplicates = windows.iter().filter(|w| !seen.insert(w.window_id.clone())).count();
        }
        self.counters.windows_duplicate.fetch_add(report.duplicates as u64, Relaxed);
        let mut log = self.log.lock().map_err(|_| lock_err("log"))?;
        let end = log.append(windows)?;
        let (events, findings) = self.index_windows(windows)?;
        self.indexed_upto.store(end, Relaxed);
        drop(log);
        if let Ok(mut pending) = self.uncommitted.lock() {
            pending.extend(windows.iter().map(|w| (received, w.end_ns)));
        }
        report.events = events;
        report.findings = findings;
        Ok(report)
    }

    /// Index, detect, alert and queue for the judge; returns (events, findings).
    fn index_windows(&self, windows: &[Window]) -> Result<(usize, usize)> {
        let mut events = 0;
        let mut all_findings = 0;
        for w in windows {
            let findings = self.detectors.run(w);
            {
                let mut index = self.index.write().map_err(|_| lock_err("index"))?;
                events += index.add_window(w)?;
                index.add_findings(&findings)?;
            }
            self.dirty.fetch_add(1, Relaxed);
            self.counters.count_findings(&findings);
            all_findings += findings.len();
            self.alert(w, &findings);
            self.queue_for_judge(w, findings);
        }
        self.counters.events_indexed.fetch_add(events as u64, Relaxed);
        Ok((events, all_findings))
    }

    fn queue_for_judge(&self, w: &Window, findings: Vec<Finding>) {
        let Some(judge) = &self.judge else { return };
        if judge.gate(w, &findings).is_empty() {
            return;
        }
        let Ok(tx) = self.judge_tx.lock() else { return };
        if let Some(tx) = tx.as_ref() {
            if tx.try_send((w.clone(), findings)).is_err() {
                self.counters.judge_queue_full.fetch_add(1, Relaxed);
            }
        }
    }

    /// Hands findings to the webhook rules; a rule with a saved query is checked against the
    /// window's documents in the index.
    fn alert(&self, w: &Window, findings: &[Finding]) {
        let Ok(alerts) = self.alerts.lock() else { return };
        let Some(alerts) = alerts.as_ref() else { return };
        for f in findings {
            let matches = |query: &str| self.window_matches(w, query);
            alerts.try_send(f, &matches);
        }
    }

    fn window_matches(&self, w: &Window, query: &str) -> bool {
        let q = SearchQuery {
            query: format!("window_id:\"{}\" AND ({query})", w.window_id),
            limit: 1,
            ..SearchQuery::default()
        };
        // Uncommitted documents are not visible to searches: commit first when a rule needs it.
        if self.commit().is_err() {
            return false;
        }
        self.index.read().ok().and_then(|i| i.search(&q).ok()).is_some_and(|hits| !hits.is_empty())
    }

    /// Commits the index when something changed, recording the log offset it covers. A failed
    /// commit is counted and leaves the changes pending, so the next call tries again.
    pub fn commit(&self) -> Result<()> {
        let changes = self.dirty.swap(0, Relaxed);
        if changes == 0 {
            return Ok(());
        }
        // The offset is read under the index lock: a prune moves it (and commits) under it.
        let committed = self.index.write().map_err(|_| lock_err("index")).and_then(|mut index| {
            let upto = self.indexed_upto.load(Relaxed);
            index.commit(&format!("log_offset={upto}"))
        });
        match committed {
            Ok(()) => {
                self.counters.commits.fetch_add(1, Relaxed);
                let done = self.uncommitted.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
                let now_ns = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
                for (received, end_ns) in done {
                    let c = &self.counters;
                    c.received_to_searchable_seconds.observe(received.elapsed());
                    c.event_to_searchable_seconds
                        .observe(std::time::Duration::from_nanos(now_ns.saturating_sub(end_ns)));
                }
                Ok(())
            }
            Err(e) => {
                self.dirty.fetch_add(changes, Relaxed);
                self.counters.commit_failures.fetch_add(1, Relaxed);
                Err(e)
            }
        }
    }

    /// Records judge findings and errors.
    fn record_verdicts(&self, w: &Window, findings: Vec<Finding>, errors: Vec<JudgeError>) -> Result<()> {
        if !findings.is_empty() {
            self.index.write().map_err(|_| lock_err("index"))?.add_findings(&findings)?;
            self.dirty.fetch_add(1, Relaxed);
            self.counters.count_findings(&findings);
            self.alert(w, &findings);
        }
        if !errors.is_empty() {
            self.counters.judge_errors.fetch_add(errors.len() as u64, Relaxed);
            let path = self.data_dir.join("judge_errors.jsonl");
            let mut text = String::new();
            for e in &errors {
                if let Ok(line) = serde_json::to_string(e) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|source| Error::Io { op: "append to", path, source })?;
        }
        Ok(())
    }

    /// Judge errors recorded so far (oldest first).
    pub fn judge_errors(&self) -> Vec<JudgeError> {
        let text = std::fs::read_to_string(self.data_dir.join("judge_errors.jsonl")).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>> {
        self.index.read().map_err(|_| lock_err("index"))?.search(q)
    }

    pub fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>> {
        self.index.read().map_err(|_| lock_err("index"))?.findings(f)
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        self.index.read().map_err(|_| lock_err("index"))?.sessions()
    }

    pub fn session_events(&self, session: &str, limit: usize) -> Result<Vec<model::Event>> {
        self.index.read().map_err(|_| lock_err("index"))?.session_events(session, limit)
    }

    /// Every session with its rollup, most recently active first. A rollup is computed from
    /// the session's events once, and again only when the session changed.
    pub fn session_summaries(&self) -> Result<Vec<SessionSummary>> {
        let sessions = self.sessions()?;
        let mut out = Vec::with_capacity(sessions.len());
        for info in sessions {
            let rollup = match self.cached_rollup(&info)? {
                Some(r) => r,
                None => self.session_data(&info)?.1,
            };
            out.push(SessionSummary::new(info, rollup));
        }
        Ok(out)
    }

    /// One page of `session`'s turns; `None` when there is no such session. With `events`,
    /// the first `events` raw events too.
    pub fn session_page(&self, session: &str, page: Page, events: Option<usize>) -> Result<Option<SessionPage>> {
        let Some(info) = self.sessions()?.into_iter().find(|s| s.id == session) else {
            return Ok(None);
        };
        let (data, rollup) = self.session_data(&info)?;
        Ok(Some(SessionPage::new(info, &data, rollup, page, events)))
    }

    /// `session`'s OpenTelemetry spans (see [`crate::otlp`]), from the session cache.
    pub fn session_spans(&self, info: &SessionInfo, content: bool) -> Result<Vec<otlp_proto::Span>> {
        let (data, rollup) = self.session_data(info)?;
        Ok(data.spans(info.clone(), rollup, content))
    }

    fn cached_rollup(&self, info: &SessionInfo) -> Result<Option<Rollup>> {
        let rollups = self.rollups.lock().map_err(|_| lock_err("rollups"))?;
        Ok(rollups.get(&info.id).filter(|(at, _)| *at == stamp(info)).map(|(_, r)| r.clone()))
    }

    /// The session's events, links and findings, from the cache while the session is
    /// unchanged, and its rollup (recorded for [`Self::session_summaries`]).
    fn session_data(&self, info: &SessionInfo) -> Result<(Arc<SessionData>, Rollup)> {
        let at = stamp(info);
        let hit = {
            let cache = self.session_cache.lock().map_err(|_| lock_err("session cache"))?;
            cache.iter().find(|(id, d)| *id == info.id && d.stamp == at).map(|(_, d)| d.clone())
        };
        let data = match hit {
            Some(d) => d,
            None => {
                let d = Arc::new(SessionData::read(&*self.index.read().map_err(|_| lock_err("index"))?, info)?);
                let mut cache = self.session_cache.lock().map_err(|_| lock_err("session cache"))?;
                cache.retain(|(id, _)| *id != info.id);
                if cache.len() >= SESSIONS_CACHED {
                    cache.pop_front();
                }
                cache.push_back((info.id.clone(), d.clone()));
                d
            }
        };
        let rollup = match self.cached_rollup(info)? {
            Some(r) => r,
            None => {
                let r = data.rollup();
                self.rollups.lock().map_err(|_| lock_err("rollups"))?.insert(info.id.clone(), (at, r.clone()));
                r
            }
        };
        Ok((data, rollup))
    }

    /// `/metrics`: one registry that each stage registers into (see [`crate::metrics`]),
    /// encoded as Prometheus text.
    pub fn metrics(&self) -> String {
        use crate::metrics::{label, Snapshot};
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Relaxed);
        let mut registry = crate::metrics::registry();
        let mut s = Snapshot::default()
            .counter("windows_received", "Windows received.", get(&c.windows_received))
            .counter("windows_duplicate", "Windows received again (stored once).", get(&c.windows_duplicate))
            .counter("windows_replayed", "Windows replayed from the log at start.", get(&c.windows_replayed))
            .counter("events_indexed", "Events added to the index.", get(&c.events_indexed))
            .counter(
                "windows_judged",
                "Windows the LLM judge asked at least one question about.",
                get(&c.windows_judged),
            )
            .counter(
                "windows_skipped_budget",
                "Windows the LLM judge asked nothing about: daily token budget spent.",
                get(&c.windows_skipped_budget),
            )
            .counter(
                "judge_questions_skipped_budget",
                "Questions the LLM judge did not ask: daily token budget spent.",
                get(&c.judge_questions_skipped_budget),
            )
            .counter("judge_errors", "Judge requests that never got a valid answer.", get(&c.judge_errors))
            .counter("index_commits", "Index commits.", get(&c.commits))
            .counter(
                "index_commit_failures",
                "Index commits that failed (tried again at the next tick).",
                get(&c.commit_failures),
            )
            .counters(
                "dropped",
                "Things not processed, by reason.",
                &["reason"],
                [
                    (label("window_rejected"), get(&c.windows_rejected)),
                    (label("judge_queue_full"), get(&c.judge_queue_full)),
                    (label("log_bad_line"), get(&c.log_bad_lines)),
                ],
            )
            .counters(
                "findings",
                "Findings made, by kind and detector.",
                &["kind", "detector"],
                c.findings
                    .lock()
                    .map(|m| m.iter().map(|((k, d), n)| (vec![k.clone(), d.clone()], *n)).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .counter(
                "otlp_sessions_exported",
                "Sessions sent to the OpenTelemetry endpoint (again when they changed).",
                get(&c.otlp_sessions_exported),
            )
            .counter("otlp_spans_exported", "Spans sent to the OpenTelemetry endpoint.", get(&c.otlp_spans_exported))
            .counter(
                "otlp_export_failures",
                "OpenTelemetry exports that failed (tried again at the next interval).",
                get(&c.otlp_export_failures),
            )
            .counter("sessions_pruned", "Sessions deleted by retention or `agentsight prune`.", get(&c.sessions_pruned))
            .counter(
                "windows_pruned",
                "Windows deleted from the log by retention or `agentsight prune`.",
                get(&c.windows_pruned),
            )
            .counter(
                "log_bytes_pruned",
                "Bytes of window log freed by retention or `agentsight prune`.",
                get(&c.log_bytes_pruned),
            )
            .gauge("log_bytes", "The window log's size.", self.log_bytes());
        if let Ok(index) = self.index.read() {
            let (ic, docs) = (index.counters(), index.counts());
            s = s
                .counter("index_write_failures", "Index adds and commits that failed.", ic.write_failures)
                .counter("index_writer_restarts", "Index writers started again after a failure.", ic.writer_restarts)
                .gauges(
                    "index_documents",
                    "Documents in the index (committed).",
                    &["doc"],
                    [(label("event"), docs.events), (label("finding"), docs.findings)],
                );
        }
        s.register(&mut registry);
        c.ingest_seconds.register(
            &mut registry,
            "ingest_seconds",
            "Time to store and index one batch of windows (POST /v1/windows), detectors included.",
        );
        c.otlp_export_seconds.register(
            &mut registry,
            "otlp_export_seconds",
            "Time to build and send one session to the OpenTelemetry endpoint.",
        );
        c.received_to_searchable_seconds.register(
            &mut registry,
            "window_received_to_searchable_seconds",
            "Per window: from its arrival to the index commit that makes it and its findings searchable.",
        );
        c.event_to_searchable_seconds.register(&mut registry, "window_event_to_searchable_seconds", "Per window: from its last event to the index commit that makes it searchable (includes the collector's wait for the turn to end, and shipping).");
        if let Some(j) = &self.judge {
            j.register_metrics(&mut registry);
        }
        self.webhook_counters.register_metrics(&mut registry);
        crate::metrics::text(&registry)
    }
}

async fn judge_loop(analyzer: Arc<Analyzer>, judge: Arc<Judge>, mut rx: mpsc::Receiver<JudgeJob>) {
    while let Some((w, deterministic)) = rx.recv().await {
        let verdicts = judge.judge(&w, &deterministic).await;
        let c = &analyzer.counters;
        let skipped = verdicts.skipped_budget.len() as u64;
        c.judge_questions_skipped_budget.fetch_add(skipped, Relaxed);
        // A window is judged when a question was asked; one whose every question was left for
        // want of budget is not, whatever the judge would have said.
        if verdicts.findings.is_empty() && verdicts.errors.is_empty() && skipped > 0 {
            c.windows_skipped_budget.fetch_add(1, Relaxed);
        } else {
            c.windows_judged.fetch_add(1, Relaxed);
        }
        // A failure to record is counted as a judge error: the verdict is not silently lost.
        if analyzer.record_verdicts(&w, verdicts.findings, verdicts.errors).is_err() {
            analyzer.counters.judge_errors.fetch_add(1, Relaxed);
        }
    }
}

/// What a prune deleted and kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PruneReport {
    /// The sessions deleted (or, in a dry run, that would be), oldest first.
    pub sessions: Vec<String>,
    pub windows: u64,
    /// Bytes of window log freed.
    pub log_bytes: u64,
    pub sessions_kept: usize,
    /// The window log's size after the prune.
    pub log_bytes_kept: u64,
}

impl Analyzer {
    /// Deletes the sessions whose last event is before `before_ns`, and then the oldest ones
    /// while the window log is over `max_log_bytes`: their events and findings from the index
    /// and their windows from the log. With `dry_run`, only says which.
    ///
    /// Ingest goes on meanwhile: the log is copied without those sessions first, then, for the
    /// short time it takes to copy what arrived since, commit the index and rename the copy
    /// into place, appends wait. The index is committed before the rename with offsets into the
    /// new log, which are never past the old ones: a crash between the two replays a little
    /// more of the old log at start (idempotent), never less.
    pub fn prune(&self, before_ns: Option<u64>, max_log_bytes: Option<u64>, dry_run: bool) -> Result<PruneReport> {
        let mut sessions = self.sessions()?;
        sessions.sort_by_key(|s| s.last_ns);
        let upto = self.log.lock().map_err(|_| lock_err("log"))?.len();
        let mut victims: Vec<String> =
            sessions.iter().filter(|s| before_ns.is_some_and(|b| s.last_ns < b)).map(|s| s.id.clone()).collect();
        // Bytes per session are needed to apply a cap or to say what a dry run would free;
        // otherwise the rewrite below counts them (one pass over the log, not two).
        let bytes = match max_log_bytes.is_some() || dry_run {
            true => crate::store::session_bytes(&self.data_dir, upto)?,
            false => HashMap::new(),
        };
        let total: u64 = bytes.values().sum();
        let mut kept_bytes = total - victims.iter().map(|v| bytes.get(v).copied().unwrap_or(0)).sum::<u64>();
        if let Some(cap) = max_log_bytes {
            for s in &sessions {
                if kept_bytes <= cap {
                    break;
                }
                if !victims.contains(&s.id) {
                    kept_bytes -= bytes.get(&s.id).copied().unwrap_or(0);
                    victims.push(s.id.clone());
                }
            }
        }
        let mut report = PruneReport {
            sessions_kept: sessions.len() - victims.len(),
            log_bytes_kept: upto,
            ..PruneReport::default()
        };
        let order: HashMap<&str, u64> = sessions.iter().map(|s| (s.id.as_str(), s.last_ns)).collect();
        victims.sort_by_key(|v| order.get(v.as_str()).copied().unwrap_or(0));
        if dry_run || victims.is_empty() {
            report.windows = 0;
            report.log_bytes = total - kept_bytes;
            report.log_bytes_kept = kept_bytes;
            report.sessions = victims;
            return Ok(report);
        }
        let gone: HashSet<String> = victims.iter().cloned().collect();
        let rw = crate::store::rewrite_without(&self.data_dir, upto, &gone)?;
        {
            let mut log = self.log.lock().map_err(|_| lock_err("log"))?;
            let (rw, len) = log.finish_rewrite(rw)?;
            {
                let mut index = self.index.write().map_err(|_| lock_err("index"))?;
                for v in &victims {
                    index.delete_session(v)?;
                }
                let moved = rw.moved(self.indexed_upto.load(Relaxed));
                self.indexed_upto.store(moved, Relaxed);
                index.commit(&format!("log_offset={moved}"))?;
            }
            report.windows = rw.windows_dropped;
            report.log_bytes = rw.bytes_dropped();
            report.log_bytes_kept = len;
            log.replace(rw, len)?;
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|id| {
                !gone.iter().any(|v| id.strip_prefix(v.as_str()).is_some_and(|rest| rest.starts_with(':')))
            });
        }
        if let Ok(mut cache) = self.session_cache.lock() {
            cache.retain(|(id, _)| !gone.contains(id));
        }
        if let Ok(mut rollups) = self.rollups.lock() {
            rollups.retain(|id, _| !gone.contains(id));
        }
        let c = &self.counters;
        c.sessions_pruned.fetch_add(victims.len() as u64, Relaxed);
        c.windows_pruned.fetch_add(report.windows, Relaxed);
        c.log_bytes_pruned.fetch_add(report.log_bytes, Relaxed);
        report.sessions = victims;
        Ok(report)
    }

    /// The window log's size in bytes.
    pub fn log_bytes(&self) -> u64 {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }
}

/// `serve`'s retention: every `interval_mins`, [`Analyzer::prune`] by `[analyzer.retention]`.
async fn retention_loop(analyzer: Arc<Analyzer>, mut stop: watch::Receiver<bool>) {
    let config = analyzer.config.retention.clone();
    let every = std::time::Duration::from_secs(config.interval_mins.max(1) * 60);
    loop {
        let (a, config) = (analyzer.clone(), config.clone());
        let pruned = tokio::task::spawn_blocking(move || {
            let now = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
            a.prune(config.before_ns(now), config.max_log_bytes(), false)
        })
        .await;
        match pruned {
            Ok(Ok(r)) if !r.sessions.is_empty() => tracing::info!(
                sessions = r.sessions.len(),
                windows = r.windows,
                log_bytes = r.log_bytes,
                kept = r.sessions_kept,
                "retention deleted sessions"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Where `serve` keeps which version of each session it exported (see [`export_loop`]).
const EXPORTED_FILE: &str = "otlp-exported.json";

/// `serve`'s continuous OpenTelemetry export: every `interval_secs`, each session that changed
/// since it was last exported and has then been quiet for `idle_secs` is exported whole (span
/// ids are deterministic, so a receiver keyed on them keeps one copy of what it had). What was
/// exported is kept in the data directory, so a restart does not send everything again; a
/// failed send is counted and tried at the next interval.
async fn export_loop(analyzer: Arc<Analyzer>, exporter: crate::otlp::Exporter, mut stop: watch::Receiver<bool>) {
    let config = analyzer.config.export.clone();
    let every = std::time::Duration::from_secs(config.interval_secs);
    let idle = std::time::Duration::from_secs(config.idle_secs);
    let state_path = analyzer.data_dir.join(EXPORTED_FILE);
    let mut exported: HashMap<String, Stamp> =
        std::fs::read(&state_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    // When each session was first seen at its current stamp.
    let mut quiet_since: HashMap<String, (Stamp, std::time::Instant)> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
        let Ok(sessions) = analyzer.sessions() else { continue };
        let now = std::time::Instant::now();
        let mut changed = false;
        for info in sessions {
            let at = stamp(&info);
            if exported.get(&info.id) == Some(&at) {
                continue;
            }
            let since = quiet_since.entry(info.id.clone()).or_insert((at, now));
            if since.0 != at {
                *since = (at, now);
            }
            if now.duration_since(since.1) < idle {
                continue;
            }
            let started = std::time::Instant::now();
            let a = analyzer.clone();
            let content = config.content;
            let spans =
                match tokio::task::spawn_blocking(move || a.session_spans(&info, content).map(|s| (info, s))).await {
                    Ok(Ok(s)) => s,
                    _ => {
                        analyzer.counters.otlp_export_failures.fetch_add(1, Relaxed);
                        continue;
                    }
                };
            let (info, spans) = spans;
            match exporter.send(spans).await {
                Ok(sent) => {
                    let c = &analyzer.counters;
                    c.otlp_export_seconds.observe(started.elapsed());
                    c.otlp_sessions_exported.fetch_add(1, Relaxed);
                    c.otlp_spans_exported.fetch_add(sent.spans as u64, Relaxed);
                    exported.insert(info.id.clone(), at);
                    changed = true;
                }
                Err(e) => {
                    analyzer.counters.otlp_export_failures.fetch_add(1, Relaxed);
                    tracing::warn!(session = %info.id, error = %e, retry_in_secs = config.interval_secs, "OTLP export failed");
                    break; // the receiver is down or refusing: wait for the next interval
                }
            }
        }
        if changed {
            if let Ok(json) = serde_json::to_vec(&exported) {
                let tmp = state_path.with_extension("json.tmp");
                if std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, &state_path)).is_err() {
                    analyzer.counters.otlp_export_failures.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

async fn commit_loop(analyzer: Arc<Analyzer>, mut stop: watch::Receiver<bool>) {
    let every = std::time::Duration::from_millis(analyzer.config.commit_interval_ms.max(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
        let a = analyzer.clone();
        // Commits sync files: keep them off the async workers.
        let _ = tokio::task::spawn_blocking(move || a.commit()).await;
    }
}

impl Tasks {
    /// Lets queued judge requests and webhook deliveries finish, then commits and stops.
    pub async fn shutdown(self, analyzer: &Analyzer) -> Result<()> {
        if let Ok(mut tx) = analyzer.judge_tx.lock() {
            tx.take();
        }
        if let Some(j) = self.judge {
            let _ = j.await;
        }
        // Judge findings are alerted above; now the webhook stage may drain and end.
        if let Ok(mut alerts) = analyzer.alerts.lock() {
            alerts.take();
        }
        let _ = self.stop.send(true);
        if let Some(w) = self.webhooks {
            let _ = w.await;
        }
        let _ = self.committer.await;
        if let Some(r) = self.retention {
            let _ = r.await;
        }
        // An export in flight is abandoned: what it had not sent is sent at the next start.
        if let Some(e) = self.exporter {
            e.abort();
            let _ = e.await;
        }
        analyzer.commit()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use model::windower::WindowerConfig;
    use model::Event;

    use super::*;
    use crate::judge::JudgeConfig;

    const DEMO_TRACE: &str = include_str!("../../tests/fixtures/demo-trace.jsonl");

    /// The demo trace cut into windows, as a collector would ship them.
    fn demo_windows() -> Vec<Window> {
        let mut windower = WindowerConfig::default().build();
        let mut windows = Vec::new();
        for line in DEMO_TRACE.lines().filter(|l| !l.trim().is_empty()) {
            let ev: Event = serde_json::from_str(line).expect("demo trace event");
            windows.extend(windower.push(ev));
        }
        windows.extend(windower.finish());
        windows
    }

    /// The value of a sample in Prometheus text.
    fn metric(text: &str, sample: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no sample `{sample}` in:\n{text}"))
            .trim()
            .parse()
            .expect("integer sample")
    }

    /// Polls `done` every 10 ms for up to ten seconds.
    async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spent_budget_skips_are_counted_and_shown() {
        // A budget of one token: every question the gate asks for is skipped, no request is
        // sent (nothing listens at the address).
        let config = Config {
            commit_interval_ms: 3_600_000,
            judge: Some(JudgeConfig {
                base_url: "http://127.0.0.1:1/v1".into(),
                model: "stand-in".into(),
                api_key_env: "AGENTSIGHT_TEST_NO_SUCH_KEY".into(),
                daily_token_budget: 1,
                ..JudgeConfig::default()
            }),
            ..Config::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (analyzer, tasks) = Analyzer::start(config, dir.path()).expect("start");
        let windows = demo_windows();
        let judge = analyzer.judge().expect("judge");
        let gated: Vec<usize> =
            windows.iter().map(|w| judge.gate(w, &analyzer.detectors.run(w)).len()).filter(|&n| n > 0).collect();
        assert!(!gated.is_empty(), "the demo trace has windows for the judge");
        analyzer.ingest(&windows).expect("ingest");
        tasks.shutdown(&analyzer).await.expect("shutdown");

        let (skipped_windows, skipped_questions) = (gated.len() as u64, gated.iter().sum::<usize>() as u64);
        let c = &analyzer.counters;
        assert_eq!(c.windows_judged.load(Relaxed), 0, "a window nobody asked about is not judged");
        assert_eq!(c.windows_skipped_budget.load(Relaxed), skipped_windows);
        assert_eq!(c.judge_questions_skipped_budget.load(Relaxed), skipped_questions);
        assert_eq!(c.judge_errors.load(Relaxed), 0, "a skip is not an error");

        let metrics = analyzer.metrics();
        assert_eq!(metric(&metrics, "agentsight_windows_judged_total"), 0);
        assert_eq!(metric(&metrics, "agentsight_windows_skipped_budget_total"), skipped_windows);
        assert_eq!(metric(&metrics, "agentsight_judge_questions_skipped_budget_total"), skipped_questions);
        assert_eq!(metric(&metrics, "agentsight_judge_budget_skipped_total"), skipped_questions);
        assert_eq!(metric(&metrics, "agentsight_judge_requests_total"), 0);

        // What `ingest` prints.
        let summary = analyzer.judge_summary().expect("a judge").to_string();
        assert_eq!(
            summary,
            format!(
                "LLM judge `stand-in`: 0 windows judged, {skipped_windows} windows skipped and {skipped_questions} questions not asked (the daily token budget of 1 is spent), 0 judge errors, 0 tokens in / 0 out today"
            )
        );
    }

    #[test]
    fn the_judge_summary_says_nothing_of_the_budget_while_it_lasts() {
        let summary = JudgeSummary {
            model: "m".into(),
            windows_judged: 2,
            judge_errors: 1,
            tokens_in_today: 2400,
            tokens_out_today: 80,
            daily_token_budget: 2_000_000,
            ..JudgeSummary::default()
        };
        assert_eq!(
            summary.to_string(),
            "LLM judge `m`: 2 windows judged, 1 judge errors, 2400 tokens in / 80 out today"
        );
    }

    /// The demo's windows as session `session`, `shift_ns` later.
    fn demo_as(session: &str, shift_ns: u64) -> Vec<Window> {
        demo_windows()
            .into_iter()
            .map(|mut w| {
                w.session = session.to_owned();
                w.window_id = model::window_id(session, w.seq);
                w.start_ns += shift_ns;
                w.end_ns += shift_ns;
                for ev in w.events.iter_mut().chain(w.context.history.iter_mut()) {
                    ev.session = session.to_owned();
                    ev.ts_ns += shift_ns;
                }
                w
            })
            .collect()
    }

    /// Retention: the old session goes from the index and the log, the new one stays whole,
    /// ingest goes on, and a restart (which replays the log from the index's offset) brings
    /// back nothing deleted and loses nothing kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prune_deletes_old_sessions_from_index_and_log_and_keeps_the_rest() {
        const DAY: u64 = 86_400_000_000_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let (analyzer, tasks) = Analyzer::start(Config::default(), dir.path()).expect("start");
        let (old, new) = (demo_as("old", 0), demo_as("new", 30 * DAY));
        analyzer.ingest(&old).expect("ingest");
        analyzer.ingest(&new[..new.len() - 1]).expect("ingest");
        analyzer.commit().expect("commit");
        let count = |a: &Analyzer, session: &str| {
            a.search(&SearchQuery { session: Some(session.into()), limit: 10_000, ..SearchQuery::default() })
                .expect("search")
                .len()
        };
        let (old_docs, new_docs) = (count(&analyzer, "old"), count(&analyzer, "new"));
        assert!(old_docs > 0 && new_docs > 0);
        let before = new[0].start_ns;

        let dry = analyzer.prune(Some(before), None, true).expect("dry run");
        assert_eq!(dry.sessions, vec!["old".to_string()]);
        assert_eq!(count(&analyzer, "old"), old_docs, "a dry run deletes nothing");

        let log_before = analyzer.log_bytes();
        let report = analyzer.prune(Some(before), None, false).expect("prune");
        assert_eq!(report.sessions, vec!["old".to_string()]);
        assert_eq!(report.windows, old.len() as u64);
        assert_eq!(report.log_bytes_kept, log_before - report.log_bytes);
        assert_eq!(count(&analyzer, "old"), 0, "gone from the index");
        assert_eq!(count(&analyzer, "new"), new_docs);
        let log = std::fs::read_to_string(dir.path().join("windows.log")).expect("log");
        assert!(!log.contains("\"session\":\"old\""), "gone from the log");
        assert!(metric(&analyzer.metrics(), "agentsight_sessions_pruned_total") == 1);

        // Ingest goes on after the prune, at the right offsets.
        analyzer.ingest(&new[new.len() - 1..]).expect("ingest after");
        analyzer.commit().expect("commit");
        let all_new = count(&analyzer, "new");
        tasks.shutdown(&analyzer).await.expect("shutdown");
        drop(analyzer);

        let (again, tasks) = Analyzer::start(Config::default(), dir.path()).expect("restart");
        assert_eq!(again.counters.log_bad_lines.load(Relaxed), 0);
        assert_eq!(count(&again, "old"), 0, "nothing deleted comes back");
        assert_eq!(count(&again, "new"), all_new, "nothing kept is lost");
        // A size cap drops the oldest sessions first, until the log fits.
        let r = again.prune(None, Some(1), false).expect("cap");
        assert_eq!(r.sessions, vec!["new".to_string()]);
        assert_eq!(again.log_bytes(), 0);
        tasks.shutdown(&again).await.expect("shutdown");
    }

    /// The demo session as OpenTelemetry spans: one trace, one `invoke_agent` root, every
    /// other span's parent present, a `chat` span per LLM call with its model and tokens, tool
    /// calls with the commands they ran as children (failed ones ERROR), every finding as an
    /// evaluation event, the same ids every time, and a protobuf request that decodes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_becomes_genai_spans() {
        use crate::otlp;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
        use prost::Message;

        let dir = tempfile::tempdir().expect("tempdir");
        let (analyzer, tasks) = Analyzer::start(Config::default(), dir.path()).expect("start");
        analyzer.ingest(&demo_windows()).expect("ingest");
        analyzer.commit().expect("commit");
        let info = analyzer.sessions().expect("sessions").remove(0);
        let spans = analyzer.session_spans(&info, true).expect("spans");
        let attr = |s: &otlp_proto::Span, k: &str| {
            s.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.clone()?.value)
        };
        let str_attr = |s: &otlp_proto::Span, k: &str| match attr(s, k) {
            Some(V::StringValue(v)) => Some(v),
            _ => None,
        };
        let op = |s: &otlp_proto::Span| str_attr(s, "gen_ai.operation.name").unwrap_or_default();

        let root = &spans[0];
        assert!(root.parent_span_id.is_empty() && op(root) == "invoke_agent", "{root:?}");
        assert_eq!(str_attr(root, "gen_ai.conversation.id").as_deref(), Some(info.id.as_str()));
        assert_eq!(spans.iter().filter(|s| s.parent_span_id.is_empty()).count(), 1);
        let ids: HashSet<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
        assert_eq!(ids.len(), spans.len(), "span ids are unique");
        for s in &spans {
            assert_eq!(s.trace_id, root.trace_id, "one trace");
            assert!(
                s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice()),
                "{} has no parent",
                s.name
            );
            assert!(s.end_time_unix_nano >= s.start_time_unix_nano, "{}", s.name);
        }
        let chats: Vec<_> = spans.iter().filter(|s| op(s) == "chat").collect();
        assert_eq!(chats.len() as u64, info.llm_calls, "one chat span per LLM call");
        for c in &chats {
            assert!(str_attr(c, "gen_ai.request.model").is_some_and(|m| !m.is_empty()), "{c:?}");
            assert!(matches!(attr(c, "gen_ai.usage.input_tokens"), Some(V::IntValue(n)) if n > 0), "{c:?}");
            assert!(str_attr(c, "gen_ai.input.messages").is_some(), "content is on by default");
        }
        let tools: Vec<_> = spans.iter().filter(|s| op(s) == "execute_tool").collect();
        assert!(!tools.is_empty(), "the demo agent calls tools");
        let failed: Vec<_> = spans
            .iter()
            .filter(|s| {
                s.name.starts_with("exec ") && matches!(attr(s, "process.exit.code"), Some(V::IntValue(c)) if c != 0)
            })
            .collect();
        assert!(!failed.is_empty(), "the demo's build fails");
        for f in &failed {
            assert_eq!(
                f.status.as_ref().map(|s| s.code),
                Some(otlp_proto::status::StatusCode::Error as i32),
                "{}",
                f.name
            );
        }
        assert!(
            tools.iter().any(|t| failed.iter().any(|f| f.parent_span_id == t.span_id)),
            "a failed command sits under the tool call that ran it"
        );
        let evaluations: Vec<_> =
            spans.iter().flat_map(|s| &s.events).filter(|e| e.name == "gen_ai.evaluation.result").collect();
        assert_eq!(evaluations.len() as u64, info.findings, "every finding is an evaluation");
        assert_eq!(otlp::counted(&spans).evaluations as u64, info.findings);

        assert_eq!(analyzer.session_spans(&info, true).expect("again"), spans, "the same spans and ids every time");
        let bare = analyzer.session_spans(&info, false).expect("no content");
        assert!(bare
            .iter()
            .all(|s| str_attr(s, "gen_ai.input.messages").is_none()
                && str_attr(s, "gen_ai.tool.call.arguments").is_none()));
        let req = otlp::request(spans.clone(), "p");
        let back = ExportTraceServiceRequest::decode(req.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(back.resource_spans[0].scope_spans[0].spans, spans);
        tasks.shutdown(&analyzer).await.expect("shutdown");
    }

    /// A failed commit (here: the index directory is gone, as files cannot be created on a
    /// full disk) used to clear the pending changes, so the windows stayed unsearchable until
    /// another window arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_index_commit_is_retried_at_the_next_tick() {
        let config = Config { commit_interval_ms: 20, ..Config::default() };
        let dir = tempfile::tempdir().expect("tempdir");
        let (analyzer, tasks) = Analyzer::start(config, dir.path()).expect("start");
        let (index, away) = (dir.path().join("index"), dir.path().join("index.away"));
        std::fs::rename(&index, &away).expect("move the index away");

        // One window, so one change to commit: without a retry there is one failure, not two.
        let windows = demo_windows();
        let window = windows.iter().max_by_key(|w| w.events.len()).expect("a window");
        let report = analyzer.ingest(std::slice::from_ref(window)).expect("acknowledged: the log has it");
        assert!(report.events > 0);
        wait_for("a failed commit tried again", || analyzer.counters.commit_failures.load(Relaxed) >= 2).await;
        assert_eq!(analyzer.index.read().expect("index").counts().events, 0);

        std::fs::rename(&away, &index).expect("bring the index back");
        wait_for("the retried commit", || {
            analyzer.index.read().expect("index").counts().events == report.events as u64
        })
        .await;
        let hits = analyzer.search(&SearchQuery::default()).expect("search");
        assert!(!hits.is_empty(), "the window is searchable");

        // After the commit task has stopped, so that its last count is in.
        tasks.shutdown(&analyzer).await.expect("shutdown");
        let metrics = analyzer.metrics();
        assert!(metric(&metrics, "agentsight_index_commit_failures_total") >= 2, "{metrics}");
        assert!(metric(&metrics, "agentsight_index_write_failures_total") >= 2, "{metrics}");
        assert!(metric(&metrics, "agentsight_index_writer_restarts_total") >= 1, "{metrics}");
        assert!(metric(&metrics, "agentsight_index_commits_total") >= 1, "{metrics}");
    }
}
