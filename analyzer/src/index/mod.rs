//! The tantivy index of events and findings: full-text search, session timelines and lists.
//!
//! One document per event and per finding (schema in [`doc`]). Text fields use the
//! [`tokenizer`] that makes Chinese, Japanese and Korean searchable; the query parser uses it
//! too. The whole object is stored as JSON, so reads return full [`Event`]s and [`Finding`]s.
//!
//! Invariants:
//! - A window's own events (`events[overlap_events..]`) are indexed under the window's key, and
//!   adding a window first deletes that key: a resent window replaces itself, and an overlap
//!   event is indexed once, by the window that owns it.
//! - A finding replaces any earlier finding with its `finding_id`.
//! - Nothing is visible to reads before [`Index::commit`]; the commit payload is the caller's
//!   (the store writes its log position there to replay after a crash).
//! - A commit's payload never covers a document that is not in the index. tantivy drops what a
//!   writer holds when one of its threads fails (a full disk, say) and refuses documents after;
//!   so everything added since the last commit is also kept here ([`Redo`]), and after a failed
//!   add or commit the next commit starts a fresh writer and adds it again. Should that redo
//!   list outgrow its cap, a failure pins the payload to the last good commit's instead, and the
//!   caller's replay after a restart fills the gap.
//! - Filters are query clauses, not post-filters, so a limit counts matching documents.
//! - Every field a query can name is in [`search_fields`], the field reference (a test holds
//!   it to the schema). An index made with an older schema is rebuilt from its own stored
//!   documents at the first writable open (`migrate`).
//! - A query that does not parse is [`Error::Query`] with a [`QueryReason`]: what is wrong, and
//!   where, in characters (`query`).

mod doc;
mod migrate;
mod query;
pub mod tokenizer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::path::Path;

use model::{Event, Finding, Window};
use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::{Directory, MmapDirectory};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::{Snippet, SnippetGenerator};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{
    DocAddress, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term,
};

use crate::error::{Error, QueryReason, Result};
pub use doc::{search_fields, FieldInfo};
use doc::{Fields, LinkTexts, Text, DOC_EVENT, DOC_FINDING};

/// The most the redo list holds (JSON bytes of the documents added since the last commit).
const MAX_REDO_BYTES: usize = 64 << 20;

/// The most hits one search returns, whatever its `limit`.
pub const MAX_SEARCH_LIMIT: usize = 1000;

/// The longest query text [`Index::search`] parses, in bytes.
pub const MAX_QUERY_BYTES: usize = 8 << 10;

/// The deepest nesting [`Index::search`] parses: groups in parentheses plus chained `NOT`s.
/// tantivy's query parser and the query tree it builds recurse once per level, so a query
/// nested a few thousand deep (a few KiB of text) overflows the stack and aborts the process.
pub const MAX_QUERY_DEPTH: usize = 32;

/// How the index is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Memory the writer buffers before it flushes a segment, shared by its threads.
    pub writer_heap_mib: usize,
    /// Indexing threads; 0 lets tantivy choose (one per core, up to 8, at least 15 MiB each).
    pub writer_threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { writer_heap_mib: 64, writer_threads: 0 }
    }
}

impl IndexConfig {
    /// Opens the index in `dir`, creating both if needed, with its one writer.
    /// An index made with an older schema is rebuilt first, in place (see `migrate`).
    pub fn open(&self, dir: &Path) -> Result<Index> {
        migrate::finish_interrupted(dir)?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            op: "create index directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = doc::schema();
        if migrate::is_outdated(dir, &schema)? {
            migrate::upgrade(dir, &schema, &fields, self)?;
        }
        let context = || format!("open index in `{}`", dir.display());
        let directory = MmapDirectory::open(dir).map_err(|e| index_error(context())(TantivyError::from(e)))?;
        self.open_in(directory, context())
    }

    /// Opens or creates the index in any tantivy directory (tests inject failing ones).
    fn open_in(&self, directory: impl Into<Box<dyn Directory>>, context: String) -> Result<Index> {
        let (schema, fields) = doc::schema();
        let index = tantivy::Index::builder()
            .schema(schema)
            .tokenizers(tokenizers())
            .open_or_create(directory)
            .map_err(index_error(context))?;
        Index::new(index, fields, Some(self))
    }

    /// A fresh index in memory, for tests and one-shot analyses.
    pub fn in_ram(&self) -> Result<Index> {
        let (schema, fields) = doc::schema();
        let index = tantivy::Index::builder()
            .schema(schema)
            .tokenizers(tokenizers())
            .create_in_ram()
            .map_err(index_error("create index in memory"))?;
        Index::new(index, fields, Some(self))
    }
}

/// What to search for. Deserialised from the HTTP API's query string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchQuery {
    /// tantivy query syntax over the text fields (`pytest`, `kind:exec AND argv:pytest`,
    /// `"测试通过"`, `tool:bash`); empty matches everything, newest first.
    pub query: String,
    pub session: Option<String>,
    /// An event kind (`exec`, `llm_call`, ...) or a finding kind (`loop`, ...).
    pub kind: Option<String>,
    /// Only documents with `since_ns <= ts_ns < until_ns`.
    pub since_ns: Option<u64>,
    pub until_ns: Option<u64>,
    /// Only findings scored at least this (events have no score, so this selects findings).
    pub min_score: Option<f64>,
    /// At most this many hits (capped at [`MAX_SEARCH_LIMIT`]).
    pub limit: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            query: String::new(),
            session: None,
            kind: None,
            since_ns: None,
            until_ns: None,
            min_score: None,
            limit: 20,
        }
    }
}

/// One search result.
///
/// In JSON, `ts_ns` is a string of digits: nanosecond timestamps pass 2^53, where JavaScript
/// and jq 1.6 round numbers (and `id`, which holds one, was a string already). The `event` or
/// `finding` inside keeps the trace's own format, numbers included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// `event` or `finding`.
    pub doc: String,
    /// [`Event::id`] or `finding_id`.
    pub id: String,
    pub session: String,
    #[serde(serialize_with = "as_string")]
    pub ts_ns: u64,
    pub kind: String,
    /// Relevance (BM25); 0 for an empty query.
    pub score: f32,
    /// Plain text: the best matching fragment of the best matching field; empty when no text
    /// field matched.
    pub snippet: String,
    /// The matches in `snippet`: `[start, end)` byte offsets, in order, not overlapping.
    pub highlights: Vec<(usize, usize)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

/// Serialises an integer as a JSON string, so that readers with 53-bit numbers keep every digit.
fn as_string<S: serde::Serializer>(n: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(n)
}

/// Which findings to list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FindingFilter {
    pub min_score: Option<f64>,
    pub session: Option<String>,
    pub kind: Option<String>,
    /// Only findings made at or after this time.
    pub since_ns: Option<u64>,
    pub limit: usize,
}

impl Default for FindingFilter {
    fn default() -> Self {
        FindingFilter { min_score: None, session: None, kind: None, since_ns: None, limit: 100 }
    }
}

/// A session as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub id: String,
    /// `ts_ns` of the session's first and last event (0 when it has none).
    pub first_ns: u64,
    pub last_ns: u64,
    pub events: u64,
    pub llm_calls: u64,
    pub findings: u64,
    /// The argv of the session's first exec, joined with spaces.
    pub agent: Option<String>,
    /// What the capture says it missed: the `loss` events' counts and reasons (the first
    /// [`COVERAGE_SHOWN`]; `lost_events` counts them all). Empty when nothing was lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<String>,
    /// `loss` events in the session.
    pub lost_events: u64,
}

/// Coverage warnings listed per session.
pub const COVERAGE_SHOWN: usize = 20;

/// Documents in the index as of the last commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub events: u64,
    pub findings: u64,
}

/// What this process added since it opened the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub windows: u64,
    pub events_added: u64,
    /// Overlap events skipped because the window before indexed them.
    pub overlap_events_skipped: u64,
    pub findings_added: u64,
    pub commits: u64,
    /// Adds and commits that failed (each one starts a fresh writer at the next commit).
    pub write_failures: u64,
    /// Writers started again after a failure, with the documents since the last commit re-added.
    pub writer_restarts: u64,
}

/// Everything added since the last commit, to add again to a fresh writer after a failure.
#[derive(Debug, Default)]
struct Redo {
    ops: Vec<RedoOp>,
    /// JSON bytes of the documents in `ops`, held under [`MAX_REDO_BYTES`].
    bytes: usize,
    /// `ops` outgrew its cap and was let go until the next commit.
    overflowed: bool,
}

#[derive(Debug)]
enum RedoOp {
    Window(Box<Window>),
    Findings(Vec<Finding>),
    DeleteSession(String),
}

impl Redo {
    fn push(&mut self, op: RedoOp, bytes: usize, cap: usize) {
        if self.overflowed {
            return;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > cap {
            *self = Redo { overflowed: true, ..Redo::default() };
        } else {
            self.ops.push(op);
        }
    }
}

/// The index: one writer (none when opened read-only), a reader reloaded at each commit.
pub struct Index {
    index: tantivy::Index,
    fields: Fields,
    /// How to start a writer; `None` when opened read-only.
    config: Option<IndexConfig>,
    /// `None` when read-only, or when starting one again after a failure failed too.
    writer: Option<IndexWriter>,
    /// An add or a commit failed: the writer's uncommitted documents are not to be trusted.
    failed: bool,
    redo: Redo,
    redo_cap: usize,
    /// Set when documents were lost for good (a failure while `redo` had overflowed): every
    /// later commit carries this payload, the last one that covered every document.
    pinned: Option<String>,
    reader: IndexReader,
    parser: QueryParser,
    payload: Option<String>,
    counts: Counts,
    counters: Counters,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("read_only", &self.config.is_none())
            .field("failed", &self.failed)
            .field("pinned", &self.pinned)
            .field("counts", &self.counts)
            .field("counters", &self.counters)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Creates or opens the index in `dir` with the default [`IndexConfig`].
    pub fn open(dir: &Path) -> Result<Index> {
        IndexConfig::default().open(dir)
    }

    /// A fresh in-memory index with the default [`IndexConfig`].
    pub fn in_ram() -> Result<Index> {
        IndexConfig::default().in_ram()
    }

    /// Opens an existing index in `dir` without a writer, so it works while another process
    /// (`agentsight serve`) holds the writer lock. Writes fail; [`Index::reload`] sees new
    /// commits.
    pub fn open_read_only(dir: &Path) -> Result<Index> {
        let context = || format!("open index in `{}`", dir.display());
        let mut index = tantivy::Index::open_in_dir(dir).map_err(index_error(context()))?;
        index.set_tokenizers(tokenizers());
        let (schema, fields) = doc::schema();
        if index.schema() != schema {
            let e = TantivyError::SchemaError(
                "the index was made by another version of agentsight; open it once for writing \
                 (`agentsight serve` or `agentsight ingest` with this data directory) to rebuild \
                 it with this version's fields"
                    .into(),
            );
            return Err(index_error(context())(e));
        }
        Index::new(index, fields, None)
    }

    fn new(index: tantivy::Index, fields: Fields, config: Option<&IndexConfig>) -> Result<Index> {
        let writer = match config {
            None => None,
            Some(c) => Some(start_writer(&index, c)?),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error("create index reader"))?;
        let mut parser = QueryParser::for_index(&index, fields.text.to_vec());
        // `agentsight search pytest failed` means both words, as in other search tools.
        parser.set_conjunction_by_default();
        let mut index = Index {
            index,
            fields,
            config: config.cloned(),
            writer,
            failed: false,
            redo: Redo::default(),
            redo_cap: MAX_REDO_BYTES,
            pinned: None,
            reader,
            parser,
            payload: None,
            counts: Counts::default(),
            counters: Counters::default(),
        };
        index.reload()?;
        Ok(index)
    }

    /// Adds the window's own events (`events[overlap_events..]`; the overlap was added with the
    /// window before) with their links, replacing what an earlier add of the same `window_id`
    /// put there. Returns the number of event documents added.
    ///
    /// A writer that fails (a full disk) does not fail the add: the window is kept and added
    /// again to a fresh writer by the next add or [`Index::commit`]; the commit reports the
    /// failure while it lasts.
    pub fn add_window(&mut self, w: &Window) -> Result<usize> {
        self.writable("add window")?;
        let docs = self.window_docs(w)?;
        self.restart_if_failed();
        let n = docs.len();
        let bytes = docs.iter().map(|(_, json_len)| json_len).sum();
        self.redo.push(RedoOp::Window(Box::new(w.clone())), bytes, self.redo_cap);
        self.send(Term::from_field_text(self.fields.key, &doc::window_key(&w.window_id)), docs);
        self.counters.windows += 1;
        self.counters.events_added += n as u64;
        self.counters.overlap_events_skipped += w.overlap_events as u64;
        Ok(n)
    }

    /// Adds findings, each replacing an earlier finding with its `finding_id`. A failing writer
    /// is handled as in [`Index::add_window`].
    pub fn add_findings(&mut self, findings: &[Finding]) -> Result<()> {
        self.writable("add findings")?;
        let docs = self.finding_docs(findings)?;
        self.restart_if_failed();
        let bytes = docs.iter().map(|(_, (_, json_len))| json_len).sum();
        self.redo.push(RedoOp::Findings(findings.to_vec()), bytes, self.redo_cap);
        for (key, doc) in docs {
            self.send(key, vec![doc]);
        }
        self.counters.findings_added += findings.len() as u64;
        Ok(())
    }

    /// Deletes every event and finding of `session` (at the next commit). A failing writer is
    /// handled as in [`Index::add_window`].
    pub fn delete_session(&mut self, session: &str) -> Result<()> {
        self.writable("delete session")?;
        self.restart_if_failed();
        self.redo.push(RedoOp::DeleteSession(session.to_owned()), session.len(), self.redo_cap);
        self.send(Term::from_field_text(self.fields.session, session), Vec::new());
        Ok(())
    }

    fn writable(&self, op: &'static str) -> Result<()> {
        match self.config {
            Some(_) => Ok(()),
            None => Err(Error::ReadOnlyIndex(op)),
        }
    }

    /// The window's own event documents with their JSON sizes; nothing is written yet.
    fn window_docs(&self, w: &Window) -> Result<Vec<(TantivyDocument, usize)>> {
        let Some(own) = w.events.get(w.overlap_events..) else {
            return Err(Error::InvalidWindow(format!(
                "`{}` has `overlap_events` {} but {} events",
                w.window_id,
                w.overlap_events,
                w.events.len()
            )));
        };
        let links = LinkTexts::of(&w.links);
        own.iter()
            .map(|ev| {
                let json = serde_json::to_string(ev)
                    .map_err(|source| Error::Json { context: format!("serialise event `{}`", ev.id()), source })?;
                Ok((doc::event_doc(&self.fields, &w.window_id, ev, &json, &links), json.len()))
            })
            .collect()
    }

    /// Each finding's key term and document with its JSON size.
    fn finding_docs(&self, findings: &[Finding]) -> Result<Vec<(Term, (TantivyDocument, usize))>> {
        findings
            .iter()
            .map(|f| {
                let json = serde_json::to_string(f).map_err(|source| Error::Json {
                    context: format!("serialise finding `{}`", f.finding_id),
                    source,
                })?;
                let document = doc::finding_doc(&self.fields, f, &json);
                Ok((Term::from_field_text(self.fields.key, &doc::finding_key(&f.finding_id)), (document, json.len())))
            })
            .collect()
    }

    /// Deletes `key` and adds `docs` in the writer, unless an earlier failure left it suspect
    /// (the next commit adds them from the redo list). A refused document marks the failure.
    fn send(&mut self, key: Term, docs: Vec<(TantivyDocument, usize)>) {
        let Some(writer) = self.writer.as_ref().filter(|_| !self.failed) else {
            return;
        };
        writer.delete_term(key);
        let refused = docs.into_iter().any(|(document, _)| writer.add_document(document).is_err());
        if refused {
            self.fail();
        }
    }

    /// Records a failed add or commit. The documents since the last commit are still in the
    /// redo list, unless it overflowed: then they are lost here and later commits keep the
    /// payload of the last commit that had them all.
    fn fail(&mut self) {
        self.failed = true;
        self.counters.write_failures += 1;
        if self.redo.overflowed && self.pinned.is_none() {
            self.pinned = Some(self.payload.clone().unwrap_or_default());
        }
    }

    /// Before an add: a failed writer is replaced now, so that the add reaches the index even
    /// when the redo list could not keep it. Should that fail, the add is kept (or lost and the
    /// payload pinned, see [`Index::fail`]) and the next commit reports the failure.
    fn restart_if_failed(&mut self) {
        if (self.failed || self.writer.is_none()) && self.restart_writer().is_err() {
            self.fail();
        }
    }

    /// Drops the suspect writer (its threads end, its lock is released), starts a fresh one at
    /// the last commit and adds the redo list to it again.
    fn restart_writer(&mut self) -> Result<()> {
        let Some(config) = self.config.clone() else {
            return Err(Error::ReadOnlyIndex("restart writer"));
        };
        self.writer = None;
        self.failed = true;
        self.writer = Some(start_writer(&self.index, &config)?);
        self.counters.writer_restarts += 1;
        self.failed = false;
        if self.redo.overflowed && self.pinned.is_none() {
            // The failure came before the overflow: what it lost is no longer listed.
            self.pinned = Some(self.payload.clone().unwrap_or_default());
        }
        let ops = std::mem::take(&mut self.redo.ops);
        let mut result = Ok(());
        for op in &ops {
            // Each op serialised when it was first added, so these cannot fail; were one to,
            // the rest are still added and the op kept.
            let sent = match op {
                RedoOp::Window(w) => self.window_docs(w).map(|docs| {
                    let key = Term::from_field_text(self.fields.key, &doc::window_key(&w.window_id));
                    self.send(key, docs);
                }),
                RedoOp::Findings(findings) => self.finding_docs(findings).map(|docs| {
                    for (key, doc) in docs {
                        self.send(key, vec![doc]);
                    }
                }),
                RedoOp::DeleteSession(session) => {
                    self.send(Term::from_field_text(self.fields.session, session), Vec::new());
                    Ok(())
                }
            };
            if sent.is_err() && result.is_ok() {
                result = sent;
            }
        }
        self.redo.ops = ops;
        if result.is_ok() && self.failed {
            result = Err(Error::Index {
                context: "add documents again to a fresh writer".into(),
                source: TantivyError::ErrorInThread("the fresh writer refused a document".into()),
            });
        }
        result
    }

    /// Makes everything added so far durable and visible, with `payload` as the commit's
    /// payload (see [`Index::last_commit_payload`]). After an earlier failure it first starts a
    /// fresh writer with everything since the last commit; a commit that fails leaves the index
    /// at the last commit, and the next one tries again. After documents were lost for good the
    /// payload stays the last good one (see the module's invariants).
    pub fn commit(&mut self, payload: &str) -> Result<()> {
        self.writable("commit")?;
        if self.failed || self.writer.is_none() {
            if let Err(e) = self.restart_writer() {
                self.fail();
                return Err(e);
            }
        }
        let payload = self.pinned.clone().unwrap_or_else(|| payload.to_string());
        let writer = self.writer.as_mut().ok_or(Error::ReadOnlyIndex("commit"))?;
        let committed = writer.prepare_commit().and_then(|mut prepared| {
            prepared.set_payload(&payload);
            prepared.commit()
        });
        if let Err(source) = committed {
            self.fail();
            return Err(Error::Index { context: "commit".into(), source });
        }
        self.redo = Redo::default();
        self.counters.commits += 1;
        self.reload()
    }

    /// Waits for background segment merges and releases the writer lock; for shutdown.
    /// Anything added since the last commit is dropped, so commit first.
    pub fn close(self) -> Result<()> {
        match self.writer {
            Some(writer) => writer.wait_merging_threads().map_err(index_error("finish merges")),
            None => Ok(()),
        }
    }

    /// Re-reads the last commit: documents, counts and payload.
    pub fn reload(&mut self) -> Result<()> {
        self.reader.reload().map_err(index_error("reload reader"))?;
        let searcher = self.reader.searcher();
        let count = |kind: &str| searcher.search(&self.term(self.fields.doc, kind), &Count).map(|n| n as u64);
        self.counts = Counts {
            events: count(DOC_EVENT).map_err(index_error("count events"))?,
            findings: count(DOC_FINDING).map_err(index_error("count findings"))?,
        };
        self.payload = self.index.load_metas().map_err(index_error("read index meta"))?.payload;
        Ok(())
    }

    /// The payload of the last commit, if it had one.
    pub fn last_commit_payload(&self) -> Option<String> {
        self.payload.clone()
    }

    /// Event and finding documents as of the last commit.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// What this process added since it opened the index.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Full-text search with filters; hits by relevance (newest first for an empty query).
    /// A query that does not parse is [`Error::Query`].
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>> {
        check_query_shape(&q.query)?;
        let searcher = self.reader.searcher();
        let user = match q.query.trim() {
            "" => None,
            _ => Some(self.parse(&q.query)?),
        };
        let mut clauses = Vec::new();
        if let Some(s) = &q.session {
            clauses.push(self.term(self.fields.session, s));
        }
        if let Some(k) = &q.kind {
            clauses.push(self.term(self.fields.kind, k));
        }
        if q.since_ns.is_some() || q.until_ns.is_some() {
            let since = q.since_ns.map(|t| Term::from_field_u64(self.fields.ts_ns, t));
            let until = q.until_ns.map(|t| Term::from_field_u64(self.fields.ts_ns, t));
            clauses.push(Box::new(RangeQuery::new(
                since.map_or(Bound::Unbounded, Bound::Included),
                until.map_or(Bound::Unbounded, Bound::Excluded),
            )));
        }
        if let Some(min) = q.min_score {
            clauses.push(self.at_least(self.fields.score, min));
        }
        let limit = capped(q.limit.min(MAX_SEARCH_LIMIT), &searcher);
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Filters score 0 so that they do not change the ranking.
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = clauses
            .into_iter()
            .map(|c| (Occur::Must, Box::new(ConstScoreQuery::new(c, 0.0)) as Box<dyn Query>))
            .collect();
        let top: Vec<(f32, DocAddress)> = match &user {
            Some(user) => {
                clauses.push((Occur::Must, user.box_clone()));
                let query = BooleanQuery::new(clauses);
                searcher
                    .search(&query, &TopDocs::with_limit(limit).order_by_score())
                    .map_err(|e| search_error(&q.query, &self.index.schema(), e))?
            }
            None => {
                clauses.push((Occur::Must, Box::new(AllQuery)));
                let query = BooleanQuery::new(clauses);
                let newest = TopDocs::with_limit(limit).order_by_fast_field::<u64>("ts_ns", Order::Desc);
                let top = searcher.search(&query, &newest).map_err(index_error("search"))?;
                top.into_iter().map(|(_, a)| (0.0, a)).collect()
            }
        };
        let snippets = Snippets::new(&searcher, user.as_deref(), &self.fields)?;
        top.into_iter()
            .map(|(score, address)| {
                let (stored, document) = self.load(&searcher, address)?;
                Ok(match stored {
                    Stored::Event(ev) => {
                        let mut texts = doc::event_texts(&ev);
                        for t in [Text::CausedBy, Text::Causes] {
                            for v in document.get_all(self.fields.text(t)) {
                                if let Some(s) = v.as_str() {
                                    texts.push((t, s.to_string()));
                                }
                            }
                        }
                        let (snippet, highlights) = snippets.best(&texts);
                        Hit {
                            doc: DOC_EVENT.into(),
                            id: ev.id(),
                            session: ev.session.clone(),
                            ts_ns: ev.ts_ns,
                            kind: ev.body.kind().into(),
                            score,
                            snippet,
                            highlights,
                            event: Some(ev),
                            finding: None,
                        }
                    }
                    Stored::Finding(f) => {
                        let (snippet, highlights) = snippets.best(&[(Text::Rationale, doc::finding_rationale(&f))]);
                        Hit {
                            doc: DOC_FINDING.into(),
                            id: f.finding_id.clone(),
                            session: f.session.clone(),
                            ts_ns: f.ts_ns,
                            kind: f.kind.to_string(),
                            score,
                            snippet,
                            highlights,
                            event: None,
                            finding: Some(f),
                        }
                    }
                })
            })
            .collect()
    }

    /// The user's query as tantivy runs it, `a AND NOT b` included (see
    /// [`query::hoist_exclusions`]); a refusal says what is wrong and where.
    fn parse(&self, text: &str) -> Result<Box<dyn Query>> {
        let lead = text.len() - text.trim_start().len();
        let refuse = |e: QueryParserError| Error::Query {
            query: text.to_owned(),
            reason: query::parse_failure(text, lead, &e, &self.index.schema()),
        };
        let trimmed = text.trim();
        let ast = tantivy::query_grammar::parse_query(trimmed)
            .map_err(|_| refuse(QueryParserError::SyntaxError(trimmed.to_owned())))?;
        self.parser.build_query_from_user_input_ast(query::hoist_exclusions(ast)).map_err(refuse)
    }

    /// The first `limit` events of `session` in `ts_ns` order.
    pub fn session_events(&self, session: &str, limit: usize) -> Result<Vec<Event>> {
        let searcher = self.reader.searcher();
        let limit = capped(limit, &searcher);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term(self.fields.doc, DOC_EVENT)),
            (Occur::Must, self.term(self.fields.session, session)),
        ]);
        let oldest = TopDocs::with_limit(limit).order_by_fast_field::<u64>("ts_ns", Order::Asc);
        let top = searcher.search(&query, &oldest).map_err(index_error("read session events"))?;
        top.into_iter()
            .filter_map(|(_, address)| match self.load(&searcher, address) {
                Ok((Stored::Event(ev), _)) => Some(Ok(ev)),
                Ok((Stored::Finding(_), _)) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    /// Every session with its time span and counts, most recently active first.
    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let searcher = self.reader.searcher();
        let mut all: HashMap<String, SessionAgg> = HashMap::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let per_ord = aggregate_segment(segment, segment_ord as u32).map_err(index_error("aggregate sessions"))?;
            for (session, agg) in per_ord {
                all.entry(session).or_default().merge(&agg);
            }
        }
        let mut out = Vec::with_capacity(all.len());
        for (id, agg) in all {
            let agent = match agg.first_exec {
                Some((_, address)) => match self.load(&searcher, address)?.0 {
                    Stored::Event(Event { body: model::EventBody::Exec(e), .. }) => Some(e.argv.join(" ")),
                    _ => None,
                },
                None => None,
            };
            let mut losses = agg.losses.clone();
            losses.sort_unstable();
            let mut coverage = Vec::new();
            for (_, address) in losses.into_iter().take(COVERAGE_SHOWN) {
                if let Stored::Event(Event { body: model::EventBody::Loss(l), .. }) = self.load(&searcher, address)?.0 {
                    coverage.push(format!("{} lost: {}", l.count, l.reason));
                }
            }
            out.push(SessionInfo {
                id,
                first_ns: if agg.events == 0 { 0 } else { agg.first_ns },
                last_ns: agg.last_ns,
                events: agg.events,
                llm_calls: agg.llm_calls,
                findings: agg.findings,
                agent,
                coverage,
                lost_events: agg.lost_events,
            });
        }
        out.sort_by(|a, b| b.last_ns.cmp(&a.last_ns).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Findings matching `f`, highest score first, newest first among equal scores.
    pub fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>> {
        let searcher = self.reader.searcher();
        let limit = capped(f.limit, &searcher);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut clauses = vec![(Occur::Must, self.term(self.fields.doc, DOC_FINDING))];
        if let Some(s) = &f.session {
            clauses.push((Occur::Must, self.term(self.fields.session, s)));
        }
        if let Some(k) = &f.kind {
            clauses.push((Occur::Must, self.term(self.fields.kind, k)));
        }
        if let Some(min) = f.min_score {
            clauses.push((Occur::Must, self.at_least(self.fields.score, min)));
        }
        if let Some(since) = f.since_ns {
            let since = Term::from_field_u64(self.fields.ts_ns, since);
            clauses.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(since), Bound::Unbounded))));
        }
        let order = TopDocs::with_limit(limit).order_by((
            (SortByStaticFastValue::<f64>::for_field("score"), Order::Desc),
            (SortByStaticFastValue::<u64>::for_field("ts_ns"), Order::Desc),
        ));
        let top = searcher.search(&BooleanQuery::new(clauses), &order).map_err(index_error("list findings"))?;
        top.into_iter()
            .filter_map(|(_, address)| match self.load(&searcher, address) {
                Ok((Stored::Finding(f), _)) => Some(Ok(f)),
                Ok((Stored::Event(_), _)) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    /// The event with [`Event::id`] `event_id`.
    pub fn event(&self, event_id: &str) -> Result<Option<Event>> {
        let searcher = self.reader.searcher();
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.term(self.fields.doc, DOC_EVENT)),
            (Occur::Must, self.term(self.fields.id, event_id)),
        ]);
        let top =
            searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).map_err(index_error("look up event"))?;
        match top.first() {
            Some((_, address)) => match self.load(&searcher, *address)?.0 {
                Stored::Event(ev) => Ok(Some(ev)),
                Stored::Finding(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn term(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
    }

    fn at_least(&self, field: Field, min: f64) -> Box<dyn Query> {
        let min = Term::from_field_f64(field, min);
        Box::new(RangeQuery::new(Bound::Included(min), Bound::Unbounded))
    }

    /// The stored object behind `address`, and the stored document for its stored fields.
    fn load(&self, searcher: &Searcher, address: DocAddress) -> Result<(Stored, TantivyDocument)> {
        let document: TantivyDocument = searcher.doc(address).map_err(index_error("read stored document"))?;
        let text = |field| document.get_first(field).and_then(|v| v.as_str()).unwrap_or_default();
        let (kind, json) = (text(self.fields.doc), text(self.fields.json));
        let parse_error = |source| Error::Json { context: format!("parse stored {kind}"), source };
        let stored = if kind == DOC_FINDING {
            Stored::Finding(serde_json::from_str(json).map_err(parse_error)?)
        } else {
            Stored::Event(serde_json::from_str(json).map_err(parse_error)?)
        };
        Ok((stored, document))
    }
}

enum Stored {
    Event(Event),
    Finding(Finding),
}

/// Refuses, before tantivy parses it, a query too long or nested too deep to parse safely
/// (see [`MAX_QUERY_DEPTH`]). The depth is over-estimated, never under: parentheses count even
/// inside quotes, and a run of `NOT`s counts in full.
fn check_query_shape(query: &str) -> Result<()> {
    let refuse = |message: String, position: Option<usize>| {
        // The query itself may be huge: the error repeats only its start.
        let mut shown: String = query.chars().take(80).collect();
        if shown.len() < query.len() {
            shown.push('…');
        }
        let reason = QueryReason { message, position };
        Err(Error::Query { query: shown, reason })
    };
    if query.len() > MAX_QUERY_BYTES {
        return refuse(
            format!("the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted", query.len()),
            None,
        );
    }
    if let Some(byte) = too_deep_at(query) {
        let position = query[..byte].chars().count();
        return refuse(
            format!(
                "the query nests deeper than {MAX_QUERY_DEPTH} levels of parentheses and `NOT` \
                 (character {position})"
            ),
            Some(position),
        );
    }
    Ok(())
}

/// The byte offset where `query` first nests deeper than [`MAX_QUERY_DEPTH`], if it does.
fn too_deep_at(query: &str) -> Option<usize> {
    depth_walk(query, MAX_QUERY_DEPTH).1
}

/// How deep tantivy's parser would recurse on `query`, or more: each `(` opens a level below
/// the `NOT`s waiting in front of it, and each `NOT` in a chain adds one.
#[cfg(test)]
fn query_depth(query: &str) -> usize {
    depth_walk(query, usize::MAX).0
}

/// [`query_depth`], and the byte offset of the `(` or `NOT` that first went past `max`.
fn depth_walk(query: &str, max: usize) -> (usize, Option<usize>) {
    let mut past = None;
    let mut levels: Vec<usize> = Vec::new();
    let (mut level, mut nots, mut deepest) = (0usize, 0usize, 0usize);
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let word_start = i == 0 || !is_word_byte(bytes[i - 1]);
        if word_start && bytes[i..].starts_with(b"NOT") && bytes.get(i + 3).is_none_or(|c| !is_word_byte(*c)) {
            nots += 1;
            i += 3;
        } else {
            match b {
                b'(' => {
                    levels.push(level);
                    level += nots + 1;
                    nots = 0;
                }
                b')' => {
                    level = levels.pop().unwrap_or(0);
                    nots = 0;
                }
                b if b.is_ascii_whitespace() => {}
                _ => nots = 0,
            }
            i += 1;
        }
        if level + nots > max && past.is_none() {
            // `i` is past the `(` or `NOT` that went too deep.
            past = Some(if b == b'(' { i - 1 } else { i - 3 });
        }
        deepest = deepest.max(level + nots);
    }
    (deepest, past)
}

/// Bytes that continue a word: a `NOT` glued to one (`NOTE`, `xNOT`) is a plain term, but one
/// after an occur sign (`+NOT`, `-NOT`) is the operator.
fn is_word_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'+' | b'-'))
}

fn start_writer(index: &tantivy::Index, c: &IndexConfig) -> Result<IndexWriter> {
    let heap = c.writer_heap_mib.saturating_mul(1 << 20);
    let writer =
        if c.writer_threads == 0 { index.writer(heap) } else { index.writer_with_num_threads(c.writer_threads, heap) };
    writer.map_err(index_error("create index writer"))
}

fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(tokenizer::TOKENIZER, tokenizer::analyzer());
    manager.register(tokenizer::KEYWORD, tokenizer::keyword());
    manager
}

/// An error running a parsed user query. `field:*` parses for any field but is checked only
/// when it runs: an unknown field or one that is not a fast field is the query's fault (a 400),
/// not the index's.
fn search_error(query: &str, schema: &tantivy::schema::Schema, e: TantivyError) -> Error {
    match e {
        TantivyError::FieldNotFound(_) | TantivyError::SchemaError(_) => {
            Error::Query { query: query.to_owned(), reason: query::exists_failure(query, schema, &e.to_string()) }
        }
        e => index_error("search")(e),
    }
}

fn index_error(context: impl Into<String>) -> impl FnOnce(TantivyError) -> Error {
    let context = context.into();
    move |source| Error::Index { context, source }
}

/// `limit`, but no more than the documents there are: tantivy allocates room for `limit` hits
/// up front, so a huge limit from an API caller must not reach it.
fn capped(limit: usize, searcher: &Searcher) -> usize {
    limit.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX))
}

/// One generator per text field that the query has terms in, in [`Text::ALL`] order.
struct Snippets {
    generators: Vec<(Text, SnippetGenerator)>,
}

impl Snippets {
    fn new(searcher: &Searcher, query: Option<&dyn Query>, fields: &Fields) -> Result<Self> {
        let Some(query) = query else {
            return Ok(Snippets { generators: Vec::new() });
        };
        let mut with_terms = Vec::new();
        query.query_terms(&mut |term, _| {
            if let Some(t) = fields.text_of(term.field()) {
                with_terms.push(t);
            }
        });
        let mut generators = Vec::new();
        for t in Text::ALL.into_iter().filter(|t| with_terms.contains(t)) {
            let generator = SnippetGenerator::create(searcher, query, fields.text(t))
                .map_err(index_error("create snippet generator"))?;
            generators.push((t, generator));
        }
        Ok(Snippets { generators })
    }

    /// The snippet with the most highlights over the document's texts: its text and its
    /// highlights (see [`highlights`]).
    fn best(&self, texts: &[(Text, String)]) -> (String, Vec<(usize, usize)>) {
        let mut best: Option<Snippet> = None;
        for (t, generator) in &self.generators {
            for (_, text) in texts.iter().filter(|(tt, _)| tt == t) {
                let snippet = generator.snippet(text);
                let more = best.as_ref().is_none_or(|b| snippet.highlighted().len() > b.highlighted().len());
                if !snippet.is_empty() && more {
                    best = Some(snippet);
                }
            }
        }
        best.map(|s| (s.fragment().to_owned(), highlights(s.highlighted()))).unwrap_or_default()
    }
}

/// A snippet's highlighted ranges sorted, with overlapping ones merged (the CJK bigrams of one
/// word overlap) and adjacent ones kept apart: tantivy's own collapsing, the one its HTML uses.
fn highlights(ranges: &[std::ops::Range<usize>]) -> Vec<(usize, usize)> {
    tantivy::snippet::collapse_overlapped_ranges(ranges).into_iter().map(|r| (r.start, r.end)).collect()
}

/// Per-session sums over one segment, or over all.
#[derive(Debug, Clone)]
struct SessionAgg {
    first_ns: u64,
    last_ns: u64,
    events: u64,
    llm_calls: u64,
    findings: u64,
    /// `ts_ns` and address of the earliest exec.
    first_exec: Option<(u64, DocAddress)>,
    /// `ts_ns` and address of the earliest `loss` events (at most [`COVERAGE_SHOWN`]).
    losses: Vec<(u64, DocAddress)>,
    lost_events: u64,
}

impl Default for SessionAgg {
    fn default() -> Self {
        SessionAgg {
            first_ns: u64::MAX,
            last_ns: 0,
            events: 0,
            llm_calls: 0,
            findings: 0,
            first_exec: None,
            losses: Vec::new(),
            lost_events: 0,
        }
    }
}

impl SessionAgg {
    fn merge(&mut self, o: &SessionAgg) {
        self.first_ns = self.first_ns.min(o.first_ns);
        self.last_ns = self.last_ns.max(o.last_ns);
        self.events += o.events;
        self.llm_calls += o.llm_calls;
        self.findings += o.findings;
        if let Some(exec) = o.first_exec {
            if self.first_exec.is_none_or(|mine| exec.0 < mine.0) {
                self.first_exec = Some(exec);
            }
        }
        self.lost_events += o.lost_events;
        self.losses.extend_from_slice(&o.losses);
        self.losses.sort_unstable_by_key(|(t, _)| *t);
        self.losses.truncate(COVERAGE_SHOWN);
    }
}

/// Sums one segment's live documents by session, from fast fields only (no stored documents
/// are read): a pass over 1M documents takes milliseconds.
fn aggregate_segment(segment: &tantivy::SegmentReader, segment_ord: u32) -> tantivy::Result<Vec<(String, SessionAgg)>> {
    let ff = segment.fast_fields();
    let (Some(docs), Some(sessions), Some(kinds)) = (ff.str("doc")?, ff.str("session")?, ff.str("kind")?) else {
        return Ok(Vec::new());
    };
    let ts = ff.u64("ts_ns")?;
    let event = docs.dictionary().term_ord(DOC_EVENT)?;
    let llm_call = kinds.dictionary().term_ord("llm_call")?;
    let exec = kinds.dictionary().term_ord("exec")?;
    let loss = kinds.dictionary().term_ord("loss")?;
    let mut per_ord = vec![SessionAgg::default(); sessions.dictionary().num_terms()];
    for doc_id in segment.doc_ids_alive() {
        let Some(agg) = sessions.ords().first(doc_id).and_then(|o| per_ord.get_mut(o as usize)) else {
            continue;
        };
        if event.is_none() || docs.ords().first(doc_id) != event {
            agg.findings += 1;
            continue;
        }
        let t = ts.first(doc_id).unwrap_or(0);
        agg.events += 1;
        agg.first_ns = agg.first_ns.min(t);
        agg.last_ns = agg.last_ns.max(t);
        let kind = kinds.ords().first(doc_id);
        if kind.is_some() && kind == llm_call {
            agg.llm_calls += 1;
        }
        if kind.is_some() && kind == exec && agg.first_exec.is_none_or(|(first, _)| t < first) {
            agg.first_exec = Some((t, DocAddress::new(segment_ord, doc_id)));
        }
        if kind.is_some() && kind == loss {
            agg.lost_events += 1;
            if agg.losses.len() < COVERAGE_SHOWN {
                agg.losses.push((t, DocAddress::new(segment_ord, doc_id)));
            }
        }
    }
    let mut out = Vec::new();
    let mut name = String::new();
    for (ord, agg) in per_ord.into_iter().enumerate() {
        if agg.events + agg.findings > 0 && sessions.ord_to_str(ord as u64, &mut name)? {
            out.push((name.clone(), agg));
        }
    }
    Ok(out)
}
