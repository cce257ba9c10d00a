use model::testing;
use model::{
    Connect, Event, EventBody, EventKind, Evidence, Exec, FileEvent, FileOp, Finding, Link, LinkBy, LlmCall,
    LlmRequest, Tool, Window,
};
use proptest::prelude::*;

use super::*;

fn ev(session: &str, ts_ns: u64, pid: u32, body: EventBody) -> Event {
    testing::event(session, ts_ns, pid, body)
}

fn exec(session: &str, ts_ns: u64, argv: &[&str]) -> Event {
    let exec = Exec {
        filename: format!("/usr/bin/{}", argv[0]),
        cwd: "/home/u/proj".into(),
        argv_bytes: 10,
        ..testing::exec(argv)
    };
    ev(session, ts_ns, 20, EventBody::Exec(exec))
}

fn llm(session: &str, ts_ns: u64, user: &str, answer: &str) -> Event {
    let request = LlmRequest {
        extends: None,
        system: Some("You are a careful coding agent.".into()),
        messages: vec![testing::message("user", user)],
        tools: vec![Tool { name: "bash".into(), description: None, parameters: serde_json::Value::Null }],
    };
    let call = testing::tool_call("call_1", "bash", serde_json::json!({"command": "pytest -q"}));
    let mut llm = LlmCall {
        model: Some("gpt-4o".into()),
        stream: true,
        latency_ms: 100.0,
        ..testing::llm_call(request, answer, vec![call])
    };
    llm.response.stop_reason = Some("tool_calls".into());
    ev(session, ts_ns, 10, EventBody::LlmCall(Box::new(llm)))
}

fn file(session: &str, ts_ns: u64, path: &str) -> Event {
    ev(session, ts_ns, 20, EventBody::File(FileEvent::new(FileOp::Open, path, 3)))
}

fn connect(session: &str, ts_ns: u64) -> Event {
    let body = EventBody::Connect(Connect {
        family: "inet".into(),
        addr: "10.1.2.3".into(),
        port: 443,
        result: 0,
        error: None,
    });
    ev(session, ts_ns, 10, body)
}

fn exit(session: &str, ts_ns: u64) -> Event {
    ev(session, ts_ns, 20, EventBody::Exit(testing::exit(1, 5)))
}

fn window(session: &str, seq: u64, events: Vec<Event>, overlap_events: usize) -> Window {
    Window { overlap_events, ..testing::window(session, seq, events) }
}

/// A session's first window: bash runs, the model asks (in Chinese and Japanese) for tests,
/// pytest runs because of its tool call, a test file is opened, a connection made, pytest exits.
fn first_window(session: &str, t0: u64) -> Window {
    let call = llm(session, t0 + 2_000, "请运行测试并确认测试通过。テストが通ったか確認して", "I will run pytest now");
    let pytest = exec(session, t0 + 3_000, &["pytest", "-q", "tests/"]);
    let link = Link {
        llm_event: call.id(),
        call_id: "call_1".into(),
        tool: "bash".into(),
        event: pytest.id(),
        by: LinkBy::Argv,
    };
    let mut w = window(
        session,
        0,
        vec![
            exec(session, t0 + 1_000, &["bash", "-lc", "agent --task fix"]),
            call,
            pytest,
            file(session, t0 + 4_000, "/home/u/proj/tests/test_login.py"),
            connect(session, t0 + 5_000),
            exit(session, t0 + 6_000),
        ],
        0,
    );
    w.links = vec![link];
    w
}

fn finding(session: &str, kind: &str, detector: &str, score: f64, ts_ns: u64) -> Finding {
    let window_id = model::window_id(session, 0);
    Finding {
        finding_id: Finding::id_for(&window_id, kind.parse().expect("a finding kind"), detector),
        session: session.into(),
        window_id,
        kind: kind.parse().expect("a finding kind"),
        score,
        detector: detector.into(),
        detectors: Vec::new(),
        rationale: format!("the agent repeated itself ({detector})"),
        evidence: vec![Evidence {
            event: "1-1-exec".into(),
            ts_ns: 1,
            pid: 1,
            kind: EventKind::Exec,
            summary: "pytest exited 1 three times".into(),
        }],
        judge: None,
        ts_ns,
    }
}

fn indexed(windows: &[Window]) -> Index {
    let mut index = Index::in_ram().expect("index");
    for w in windows {
        index.add_window(w).expect("add window");
    }
    index.commit("test").expect("commit");
    index
}

fn search(index: &Index, query: &str) -> Vec<Hit> {
    index.search(&SearchQuery { query: query.into(), ..SearchQuery::default() }).expect("search")
}

fn kinds(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.kind.as_str()).collect()
}

#[test]
fn finds_events_by_each_text_field() {
    let index = indexed(&[first_window("s1", 0)]);
    assert_eq!(kinds(&search(&index, "careful coding")), ["llm_call"], "system prompt");
    assert_eq!(kinds(&search(&index, "response:pytest")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "args:command")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "kind:exec AND argv:pytest")), ["exec"]);
    assert_eq!(kinds(&search(&index, "argv:agent")), ["exec"]);
    assert_eq!(kinds(&search(&index, "path:test_login.py")), ["file"]);
    assert_eq!(kinds(&search(&index, "api.openai.com")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "host:\"10.1.2.3\"")), ["connect"]);
    assert_eq!(kinds(&search(&index, "tool:bash")), ["llm_call"]);
    // Both sides of the link: the exec names the call, the llm_call names the exec.
    let caused = search(&index, "caused_by:call_1");
    assert_eq!(kinds(&caused), ["exec"]);
    let exec_id = caused[0].id.clone();
    assert_eq!(kinds(&search(&index, &format!("causes:\"{exec_id}\""))), ["llm_call"]);
    assert!(search(&index, "nonexistentword").is_empty());
}

#[test]
fn finds_chinese_and_japanese_text() {
    let index = indexed(&[first_window("s1", 0)]);
    assert_eq!(kinds(&search(&index, "测试通过")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "运行测试")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "テスト")), ["llm_call"]);
    assert_eq!(kinds(&search(&index, "確認")), ["llm_call"]);
    // The same characters in another order are not a match: bigrams make a phrase.
    assert!(search(&index, "通过测试").is_empty());
}

#[test]
fn filters_reduce_results() {
    let mut index = indexed(&[first_window("s1", 0), first_window("s2", 1_000_000)]);
    index.add_findings(&[finding("s1", "loop", "exact_repeat", 0.8, 10)]).expect("findings");
    index.commit("f").expect("commit");
    let q = |f: &dyn Fn(&mut SearchQuery)| {
        let mut q = SearchQuery { query: "pytest".into(), ..SearchQuery::default() };
        f(&mut q);
        index.search(&q).expect("search")
    };
    // Per session an exec (argv) and an llm_call (response, args); the finding (evidence).
    assert_eq!(q(&|_| {}).len(), 5);
    let s2 = q(&|q| q.session = Some("s2".into()));
    assert_eq!(s2.len(), 2);
    assert!(s2.iter().all(|h| h.session == "s2"));
    assert_eq!(kinds(&q(&|q| q.kind = Some("exec".into()))), ["exec", "exec"]);
    let late = q(&|q| q.since_ns = Some(1_000_000));
    assert!(late.len() == 2 && late.iter().all(|h| h.session == "s2"));
    let early = q(&|q| {
        q.since_ns = Some(2_000);
        q.until_ns = Some(3_000);
    });
    assert_eq!(kinds(&early), ["llm_call"], "until is exclusive");
    assert_eq!(kinds(&q(&|q| q.min_score = Some(0.5))), ["loop"]);
    assert!(q(&|q| q.min_score = Some(0.9)).is_empty());
    assert_eq!(q(&|q| q.limit = 2).len(), 2);
}

#[test]
fn a_resent_window_does_not_double() {
    let w = first_window("s1", 0);
    let mut index = indexed(std::slice::from_ref(&w));
    assert_eq!(index.counts(), Counts { events: 6, findings: 0 });
    assert_eq!(index.add_window(&w).expect("resend"), 6);
    index.commit("again").expect("commit");
    assert_eq!(index.counts(), Counts { events: 6, findings: 0 });
    assert_eq!(search(&index, "argv:pytest").len(), 1);
}

#[test]
fn overlap_events_are_indexed_once() {
    let first = first_window("s1", 0);
    let mut events = first.events[4..].to_vec();
    events.push(llm("s1", 7_000, "now fix the login bug", "done"));
    events.push(exec("s1", 8_000, &["git", "commit"]));
    let second = window("s1", 1, events, 2);
    let mut index = Index::in_ram().expect("index");
    assert_eq!(index.add_window(&first).expect("add"), 6);
    assert_eq!(index.add_window(&second).expect("add"), 2);
    index.commit("two").expect("commit");
    assert_eq!(index.counts().events, 8);
    assert_eq!(search(&index, "host:\"10.1.2.3\"").len(), 1);
    assert_eq!(index.counters().overlap_events_skipped, 2);
    assert_eq!(index.counters().events_added, 8);
}

#[test]
fn an_overlap_longer_than_the_window_is_rejected() {
    let mut w = first_window("s1", 0);
    w.overlap_events = 7;
    let mut index = Index::in_ram().expect("index");
    assert!(matches!(index.add_window(&w), Err(Error::InvalidWindow(_))));
}

#[test]
fn findings_replace_by_id_and_sort_by_score_then_newest() {
    let mut index = indexed(&[first_window("s1", 0)]);
    let a = finding("s1", "loop", "exact_repeat", 0.5, 1);
    let b = finding("s1", "contradiction", "claim_vs_record", 0.9, 2);
    let c = finding("s1", "persona_drift", "judge", 0.9, 3);
    index.add_findings(&[a.clone(), b.clone(), c.clone()]).expect("add");
    index.commit("1").expect("commit");
    let a2 = Finding { score: 0.95, ..a.clone() };
    index.add_findings(std::slice::from_ref(&a2)).expect("replace");
    index.commit("2").expect("commit");
    assert_eq!(index.counts().findings, 3);
    let all = index.findings(&FindingFilter::default()).expect("findings");
    assert_eq!(all, vec![a2.clone(), c.clone(), b.clone()]);
    let strong = FindingFilter { min_score: Some(0.92), ..FindingFilter::default() };
    assert_eq!(index.findings(&strong).expect("findings"), vec![a2]);
    let by_kind = FindingFilter { kind: Some("contradiction".into()), ..FindingFilter::default() };
    assert_eq!(index.findings(&by_kind).expect("findings"), vec![b.clone()]);
    let since = FindingFilter { since_ns: Some(2), limit: 1, ..FindingFilter::default() };
    assert_eq!(index.findings(&since).expect("findings"), vec![c]);
    let other = FindingFilter { session: Some("s2".into()), ..FindingFilter::default() };
    assert!(index.findings(&other).expect("findings").is_empty());
}

#[test]
fn resending_a_window_keeps_its_findings() {
    let w = first_window("s1", 0);
    let mut index = indexed(std::slice::from_ref(&w));
    index.add_findings(&[finding("s1", "loop", "exact_repeat", 0.5, 1)]).expect("add");
    index.commit("f").expect("commit");
    index.add_window(&w).expect("resend");
    index.commit("w").expect("commit");
    assert_eq!(index.counts(), Counts { events: 6, findings: 1 });
}

#[test]
fn session_events_come_in_time_order() {
    let mut w = first_window("s1", 0);
    w.events.reverse();
    let index = indexed(&[w, first_window("s2", 0)]);
    let events = index.session_events("s1", 100).expect("timeline");
    let ts: Vec<u64> = events.iter().map(|e| e.ts_ns).collect();
    assert_eq!(ts, [1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    assert!(events.iter().all(|e| e.session == "s1"));
    assert_eq!(index.session_events("s1", 2).expect("timeline").len(), 2);
    assert!(index.session_events("nope", 10).expect("timeline").is_empty());
    assert_eq!(index.session_events("s1", usize::MAX).expect("huge limit").len(), 6);
}

#[test]
fn sessions_aggregate_counts_spans_and_agent() {
    let mut index = indexed(&[first_window("s1", 0), first_window("s2", 1_000_000)]);
    index.add_findings(&[finding("s1", "loop", "exact_repeat", 0.5, 99_999_999)]).expect("add");
    index.commit("f").expect("commit");
    // A second commit puts s1's later events in another segment.
    index.add_window(&window("s1", 1, vec![exec("s1", 9_000, &["make"])], 0)).expect("add");
    index.commit("w").expect("commit");
    let sessions = index.sessions().expect("sessions");
    assert_eq!(
        sessions,
        vec![
            SessionInfo {
                id: "s2".into(),
                first_ns: 1_001_000,
                last_ns: 1_006_000,
                events: 6,
                llm_calls: 1,
                findings: 0,
                agent: Some("bash -lc agent --task fix".into()),
                coverage: Vec::new(),
                lost_events: 0,
            },
            SessionInfo {
                id: "s1".into(),
                first_ns: 1_000,
                last_ns: 9_000,
                events: 7,
                llm_calls: 1,
                findings: 1,
                agent: Some("bash -lc agent --task fix".into()),
                coverage: Vec::new(),
                lost_events: 0,
            },
        ]
    );
}

#[test]
fn sessions_carry_their_coverage_warnings_across_segments() {
    let loss = |ts: u64, reason: &str| {
        let l = model::Loss { source: "net".into(), count: 1, reason: reason.into() };
        ev("s1", ts, 0, EventBody::Loss(l))
    };
    let mut index = indexed(&[window("s1", 0, vec![exec("s1", 1_000, &["agent"]), loss(3_000, "second")], 0)]);
    index.add_window(&window("s1", 1, vec![loss(2_000, "first")], 0)).expect("add");
    index.commit("w").expect("commit");
    let mut index2 = indexed(&[first_window("s2", 0)]);
    index2.commit("w").expect("commit");
    let s = index.sessions().expect("sessions");
    assert_eq!(s[0].lost_events, 2);
    assert_eq!(s[0].coverage, ["1 lost: first", "1 lost: second"], "earliest first");
    let clean = index2.sessions().expect("sessions");
    assert_eq!((clean[0].lost_events, clean[0].coverage.len()), (0, 0));
}

#[test]
fn a_bad_query_is_a_query_error() {
    let index = indexed(&[first_window("s1", 0)]);
    for bad in ["argv:(pytest", "nosuchfield:x", "pytest AND"] {
        let result = index.search(&SearchQuery { query: bad.into(), ..SearchQuery::default() });
        assert!(matches!(&result, Err(Error::Query { query, .. }) if query == bad), "{bad}: {result:?}");
    }
}

/// Found by `fuzz/fuzz_targets/search.rs`: `field:*` parses for any field and failed only when
/// it ran, as an index error (a 500 from `serve`).
#[test]
fn exists_query_on_an_unknown_or_slow_field_is_a_query_error() {
    let index = indexed(&[first_window("s1", 0)]);
    for bad in ["v:*", "argv:*", "pytest AND nosuchfield:*"] {
        let result = index.search(&SearchQuery { query: bad.into(), ..SearchQuery::default() });
        assert!(matches!(&result, Err(Error::Query { query, .. }) if query == bad), "{bad}: {result:?}");
    }
}

#[test]
fn commit_payload_and_documents_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut index = Index::open(dir.path()).expect("open");
        assert_eq!(index.last_commit_payload(), None);
        index.add_window(&first_window("s1", 0)).expect("add");
        index.commit("log:42").expect("commit");
        assert_eq!(index.last_commit_payload().as_deref(), Some("log:42"));
        // Not committed: lost with the process, to be replayed from the store's log.
        index.add_window(&first_window("s2", 0)).expect("add");
    }
    let index = Index::open(dir.path()).expect("reopen");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log:42"));
    assert_eq!(index.counts().events, 6);
    // The tokenizer is registered again on reopen.
    assert_eq!(kinds(&search(&index, "测试通过")), ["llm_call"]);
}

/// A RAM directory that refuses new files while `full` is set, as a full disk does.
#[derive(Debug, Clone, Default)]
struct FillableDir {
    inner: tantivy::directory::RamDirectory,
    full: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FillableDir {
    fn set_full(&self, full: bool) {
        self.full.store(full, std::sync::atomic::Ordering::SeqCst);
    }

    fn no_space(&self) -> Option<std::io::Error> {
        let full = self.full.load(std::sync::atomic::Ordering::SeqCst);
        full.then(|| std::io::Error::from(std::io::ErrorKind::StorageFull))
    }
}

impl Directory for FillableDir {
    fn get_file_handle(
        &self,
        path: &Path,
    ) -> Result<std::sync::Arc<dyn tantivy::directory::FileHandle>, tantivy::directory::error::OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), tantivy::directory::error::DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, tantivy::directory::error::OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(
        &self,
        path: &Path,
    ) -> Result<tantivy::directory::WritePtr, tantivy::directory::error::OpenWriteError> {
        match self.no_space() {
            Some(e) => Err(tantivy::directory::error::OpenWriteError::wrap_io_error(e, path.to_path_buf())),
            None => self.inner.open_write(path),
        }
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, tantivy::directory::error::OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        match self.no_space() {
            Some(e) => Err(e),
            None => self.inner.atomic_write(path, data),
        }
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(
        &self,
        lock: &tantivy::directory::Lock,
    ) -> Result<tantivy::directory::DirectoryLock, tantivy::directory::error::LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, callback: tantivy::directory::WatchCallback) -> tantivy::Result<tantivy::directory::WatchHandle> {
        self.inner.watch(callback)
    }
}

fn on_fillable(dir: &FillableDir) -> Index {
    IndexConfig::default().open_in(dir.clone(), "open test index".into()).expect("index")
}

/// Regression: after ENOSPC the writer's threads died and it took no more documents, while
/// later commits still recorded a log offset past them. Documents added while the disk is full
/// are kept and committed, all of them, once there is room; no commit claims them before.
#[test]
fn documents_added_while_the_disk_is_full_are_committed_once_there_is_room() {
    let dir = FillableDir::default();
    let mut index = on_fillable(&dir);
    index.add_window(&first_window("s0", 0)).expect("add");
    index.commit("log_offset=1").expect("commit");

    dir.set_full(true);
    index.add_window(&first_window("s1", 100_000)).expect("a full disk does not fail the add");
    index.add_findings(&[finding("s1", "loop", "exact", 0.9, 1)]).expect("add findings");
    assert!(matches!(index.commit("log_offset=2"), Err(Error::Index { .. })));
    index.add_window(&first_window("s2", 200_000)).expect("add while failed");
    assert!(index.commit("log_offset=3").is_err(), "still full");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=1"));
    assert_eq!(index.counts().events, 6);

    dir.set_full(false);
    index.add_window(&first_window("s3", 300_000)).expect("add");
    index.commit("log_offset=4").expect("commit with room again");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=4"));
    assert_eq!(index.counts(), Counts { events: 24, findings: 1 });
    let sessions: Vec<String> = index.sessions().expect("sessions").into_iter().map(|s| s.id).collect();
    assert_eq!(sessions.len(), 4, "{sessions:?}");
    let c = index.counters();
    assert!(c.write_failures >= 2 && c.writer_restarts >= 1, "{c:?}");

    // And the index goes on as usual.
    index.add_window(&first_window("s4", 400_000)).expect("add");
    index.commit("log_offset=5").expect("commit");
    assert_eq!(index.counts().events, 30);
}

/// When the documents since the last commit were too many to keep, a failure loses them: later
/// commits keep the last good payload, so a restart replays them from the log.
#[test]
fn a_failure_past_the_redo_cap_pins_the_last_good_payload() {
    let dir = FillableDir::default();
    let mut index = on_fillable(&dir);
    index.redo_cap = 1;
    index.add_window(&first_window("s0", 0)).expect("add");
    index.commit("log_offset=1").expect("an overflow alone changes nothing");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=1"));

    dir.set_full(true);
    index.add_window(&first_window("s1", 100_000)).expect("add");
    assert!(index.commit("log_offset=2").is_err());
    dir.set_full(false);
    index.add_window(&first_window("s2", 200_000)).expect("add");
    index.commit("log_offset=3").expect("commit");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=1"));
    assert_eq!(index.counts().events, 12, "s1 is lost until the replay");
    index.add_window(&first_window("s1", 100_000)).expect("replayed");
    index.commit("log_offset=4").expect("commit");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=1"), "pinned for good");
    assert_eq!(index.counts().events, 18);
}

#[test]
fn a_read_only_index_reads_beside_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = Index::open(dir.path()).expect("open");
    writer.add_window(&first_window("s1", 0)).expect("add");
    writer.commit("1").expect("commit");
    let mut reader = Index::open_read_only(dir.path()).expect("read-only");
    assert_eq!(reader.counts().events, 6);
    assert_eq!(reader.last_commit_payload().as_deref(), Some("1"));
    assert!(matches!(reader.add_window(&first_window("s2", 0)), Err(Error::ReadOnlyIndex(_))));
    assert!(matches!(reader.commit("x"), Err(Error::ReadOnlyIndex(_))));
    writer.add_window(&first_window("s2", 0)).expect("add");
    writer.commit("2").expect("commit");
    reader.reload().expect("reload");
    assert_eq!(reader.counts().events, 12);
}

#[test]
fn uncommitted_documents_are_invisible() {
    let mut index = Index::in_ram().expect("index");
    index.add_window(&first_window("s1", 0)).expect("add");
    assert!(search(&index, "pytest").is_empty());
    assert_eq!(index.counts().events, 0);
}

/// A hit's snippet with each highlight in brackets, for assertions that read like the text.
fn marked(hit: &Hit) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &(start, end) in &hit.highlights {
        out.push_str(&hit.snippet[at..start]);
        out.push('[');
        out.push_str(&hit.snippet[start..end]);
        out.push(']');
        at = end;
    }
    out.push_str(&hit.snippet[at..]);
    out
}

#[test]
fn snippets_highlight_matches() {
    let index = indexed(&[first_window("s1", 0)]);
    let hits = search(&index, "response:pytest");
    assert_eq!(hits[0].snippet, "I will run pytest now");
    assert_eq!(hits[0].highlights, [(11, 17)]);
    // The CJK bigrams of one word overlap: one range, in bytes.
    let hits = search(&index, "测试通过");
    assert!(marked(&hits[0]).contains("[测试通过]"), "{}", marked(&hits[0]));
    let hits = search(&index, "kind:exec AND argv:pytest");
    assert!(marked(&hits[0]).starts_with("[pytest] -q tests"), "{}", marked(&hits[0]));
    // No text field in the query: no snippet.
    let exit = &search(&index, "kind:exit")[0];
    assert_eq!((exit.snippet.as_str(), exit.highlights.as_slice()), ("", &[][..]));
}

#[test]
fn snippets_are_plain_text_whatever_the_agent_wrote() {
    let w = window("s1", 0, vec![llm("s1", 1_000, "hi", "run <b>pytest</b> & \"done\" now")], 0);
    let index = indexed(&[w]);
    let hits = search(&index, "response:pytest");
    assert_eq!(hits[0].snippet, "run <b>pytest</b> & \"done\" now");
    assert_eq!(marked(&hits[0]), "run <b>[pytest]</b> & \"done\" now");
}

#[test]
fn highlight_ranges_are_sorted_and_merged_only_where_they_overlap() {
    assert_eq!(highlights(&[6..9, 0..3, 1..4, 3..5, 0..3]), [(0, 5), (6, 9)]);
    assert_eq!(highlights(&[2..4, 0..2]), [(0, 2), (2, 4)], "adjacent matches stay two");
    assert_eq!(highlights(&[]), []);
}

#[test]
fn hits_carry_the_whole_object() {
    let w = first_window("s1", 0);
    let mut index = indexed(std::slice::from_ref(&w));
    let f = finding("s1", "loop", "exact_repeat", 0.5, 1);
    index.add_findings(std::slice::from_ref(&f)).expect("add");
    index.commit("f").expect("commit");
    let hits = search(&index, "path:test_login");
    assert_eq!(hits[0].event.as_ref(), Some(&w.events[3]));
    assert_eq!((hits[0].doc.as_str(), hits[0].id.clone()), ("event", w.events[3].id()));
    let hits = search(&index, "repeated");
    assert_eq!(hits[0].finding.as_ref(), Some(&f));
    assert!(marked(&hits[0]).contains("[repeated]"), "{}", marked(&hits[0]));
    assert_eq!(index.event(&w.events[1].id()).expect("event"), Some(w.events[1].clone()));
    assert_eq!(index.event("0-0-exec").expect("event"), None);
}

#[test]
fn an_empty_query_lists_newest_first() {
    let index = indexed(&[first_window("s1", 0)]);
    let q = SearchQuery { kind: Some("exec".into()), ..SearchQuery::default() };
    let ts: Vec<u64> = index.search(&q).expect("search").iter().map(|h| h.ts_ns).collect();
    assert_eq!(ts, [3_000, 1_000]);
}

#[test]
fn search_query_rejects_unknown_keys_and_defaults_limit() {
    let q: SearchQuery = serde_json::from_str(r#"{"query":"x"}"#).expect("parse");
    assert_eq!(q.limit, 20);
    assert!(serde_json::from_str::<SearchQuery>(r#"{"qeury":"x"}"#).is_err());
    assert!(serde_json::from_str::<IndexConfig>(r#"{"heap":1}"#).is_err());
}

/// Regression: a query nested ~2,200 parentheses deep overflowed the stack in tantivy's parser
/// and aborted `serve` and the `search` CLI. Deep or long queries are refused before parsing;
/// the deepest and longest accepted ones parse on a thread with the 2 MiB stack of tokio's
/// blocking pool, where the API runs searches.
#[test]
fn deeply_nested_query_is_refused_not_a_crash() {
    let index = indexed(&[first_window("s1", 0)]);
    let refused = |query: String, needle: &str| {
        let result = index.search(&SearchQuery { query: query.clone(), ..SearchQuery::default() });
        match &result {
            Err(Error::Query { query: shown, reason }) => {
                assert!(reason.message.contains(needle), "{reason}");
                assert!(shown.chars().count() <= 81, "the error repeats only the query's start");
            }
            other => panic!("{}…: {other:?}", &query[..20]),
        }
    };
    let nested = |n: usize| format!("{}pytest{}", "(".repeat(n), ")".repeat(n));
    refused(nested(2500), "nests deeper than 32");
    refused(format!("{}pytest", "NOT ".repeat(1500)), "nests deeper");
    refused(format!("{}pytest{}", "(+NOT ".repeat(20), ")".repeat(20)), "nests deeper");
    refused(format!("{}a{}", "(".repeat(5000), ")".repeat(5000)), "bytes long");
    refused("pytest ".repeat(MAX_QUERY_BYTES / 7 + 1), "bytes long");
    // Unbalanced parentheses are counted too: tantivy recurses before it sees the end.
    refused("(".repeat(40), "nests deeper");

    let accepted = [
        nested(MAX_QUERY_DEPTH),
        format!("pytest AND {}failed", "NOT ".repeat(MAX_QUERY_DEPTH)),
        format!("{}pytest{}", "(+".repeat(MAX_QUERY_DEPTH), ")".repeat(MAX_QUERY_DEPTH)),
        "pytest OR ".repeat(MAX_QUERY_BYTES / 10 - 1) + "pytest",
        "NOTE NOTICE (pytest) ".repeat(MAX_QUERY_BYTES / 21),
    ];
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn_scoped(scope, || {
                for q in &accepted {
                    assert!(q.len() <= MAX_QUERY_BYTES, "{}", q.len());
                    assert!(query_depth(q) <= MAX_QUERY_DEPTH, "{}", &q[..40]);
                    index
                        .search(&SearchQuery { query: q.clone(), ..SearchQuery::default() })
                        .unwrap_or_else(|e| panic!("{}…: {e}", &q[..40]));
                }
            })
            .expect("spawn");
        thread.join().expect("the deepest accepted queries parse on a 2 MiB stack");
    });
}

#[test]
fn query_depth_counts_groups_and_not_chains() {
    assert_eq!(query_depth(""), 0);
    assert_eq!(query_depth("pytest failed"), 0);
    assert_eq!(query_depth("(a) (b) (c)"), 1);
    assert_eq!(query_depth("((a) OR (b))"), 2);
    assert_eq!(query_depth("NOT a NOT b"), 1);
    assert_eq!(query_depth("NOT NOT NOT a"), 3);
    assert_eq!(query_depth("NOT (NOT (a))"), 4);
    assert_eq!(query_depth("NOTE xNOT NOTNOT"), 0);
    assert_eq!(query_depth("(+NOT (a))"), 3);
    assert_eq!(query_depth("\"(((\""), 3, "quotes do not hide parentheses");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// However a session is cut into windows with overlaps and however often windows are
    /// resent, every event is indexed exactly once.
    #[test]
    fn every_event_is_indexed_once(
        sizes in proptest::collection::vec((1usize..6, 0usize..3), 1..6),
        resends in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut windows = Vec::new();
        let (mut ts, mut previous): (u64, Vec<Event>) = (1, Vec::new());
        for (seq, (own, overlap)) in sizes.into_iter().enumerate() {
            let overlap = overlap.min(previous.len());
            let mut events = previous[previous.len() - overlap..].to_vec();
            for _ in 0..own {
                events.push(exec("s", ts, &["true"]));
                ts += 1;
            }
            previous = events.clone();
            windows.push(window("s", seq as u64, events, overlap));
        }
        let mut index = Index::in_ram().expect("index");
        for w in &windows {
            index.add_window(w).expect("add");
        }
        for r in &resends {
            index.add_window(r.get(&windows)).expect("resend");
        }
        index.commit("p").expect("commit");
        prop_assert_eq!(index.counts().events, ts - 1);
        prop_assert_eq!(index.session_events("s", 1000).expect("timeline").len() as u64, ts - 1);
    }
}

/// An `llm_call` of `provider` at `url` with `model`.
fn call_to(session: &str, ts_ns: u64, provider: &str, url: &str, model: &str) -> Event {
    let mut e = llm(session, ts_ns, "hello", "hi");
    if let EventBody::LlmCall(c) = &mut e.body {
        c.provider = provider.into();
        c.url = url.into();
        c.model = Some(model.into());
    }
    e
}

fn exit_with(session: &str, ts_ns: u64, pid: u32, code: i32) -> Event {
    let mut e = exit(session, ts_ns);
    e.pid = pid;
    e.tid = pid;
    if let EventBody::Exit(x) = &mut e.body {
        x.exit_code = code;
    }
    e
}

/// Calls to four providers, exits with 0, 1 and 137, a judge finding and a merged one.
fn fields_fixture() -> Index {
    let s = "fx";
    let w = window(
        s,
        0,
        vec![
            call_to(s, 1, "openai", "https://api.openai.com/v1/chat/completions", "gpt-4o-mini"),
            call_to(s, 2, "anthropic", "https://api.anthropic.com/v1/messages", "claude-sonnet-4-5-20250929"),
            call_to(
                s,
                3,
                "google",
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent",
                "gemini-2.5-pro",
            ),
            call_to(s, 4, "unknown", "https://openrouter.ai/api/v1/chat/completions", "qwen/qwen3-coder"),
            call_to(s, 5, "unknown", "http://127.0.0.1:11434/v1/chat/completions", "llama3"),
            exit_with(s, 6, 30, 0),
            exit_with(s, 7, 31, 1),
            exit_with(s, 8, 32, 137),
        ],
        0,
    );
    let mut index = indexed(&[w]);
    let judge = finding(s, "contradiction", "judge", 0.9, 10);
    let mut merged = finding(s, "loop", "exact_repeat", 0.7, 11);
    merged.detectors = vec!["exact_repeat".into(), "cycle".into()];
    index.add_findings(&[judge, merged]).expect("add");
    index.commit("f").expect("commit");
    index
}

/// `(ts_ns of each hit)`, sorted, to compare hit sets.
fn times(index: &Index, query: &str) -> Vec<u64> {
    let mut ts: Vec<u64> = search(index, query).iter().map(|h| h.ts_ns).collect();
    ts.sort_unstable();
    ts
}

#[test]
fn model_is_searchable_by_its_words_but_not_by_default() {
    let index = fields_fixture();
    assert_eq!(times(&index, "model:claude"), [2]);
    assert_eq!(times(&index, "model:claude-sonnet-4-5"), [2]);
    assert_eq!(times(&index, "model:gpt-4o"), [1], "a prefix phrase of `gpt-4o-mini`");
    assert_eq!(times(&index, "model:\"gemini-2.5-pro\""), [3]);
    assert_eq!(times(&index, "model:GPT"), [1], "lowercased like the text fields");
    // Not a default field: a bare word keeps matching what it matched before.
    assert_eq!(times(&index, "sonnet"), Vec::<u64>::new());
}

#[test]
fn provider_is_the_recorded_one_and_the_names_it_goes_by() {
    let index = fields_fixture();
    assert_eq!(times(&index, "provider:openai"), [1]);
    assert_eq!(times(&index, "provider:OpenAI"), [1], "case does not matter");
    assert_eq!(times(&index, "provider:anthropic"), [2]);
    assert_eq!(times(&index, "provider:google"), [3]);
    assert_eq!(times(&index, "provider:gemini"), [3]);
    assert_eq!(times(&index, "provider:unknown"), [4, 5]);
    assert_eq!(times(&index, "provider:openrouter"), [4]);
    assert_eq!(times(&index, "provider:ollama"), [5]);
    assert_eq!(times(&index, "provider:open"), Vec::<u64>::new(), "keywords match whole");
    assert_eq!(times(&index, "kind:llm_call AND NOT provider:unknown"), [1, 2, 3]);
}

#[test]
fn exit_code_takes_terms_ranges_and_comparisons() {
    let index = fields_fixture();
    assert_eq!(times(&index, "exit_code:1"), [7]);
    assert_eq!(times(&index, "exit_code:0"), [6]);
    assert_eq!(times(&index, "exit_code:[1 TO 255]"), [7, 8]);
    assert_eq!(times(&index, "exit_code:>0"), [7, 8]);
    assert_eq!(times(&index, "exit_code:>=128"), [8]);
    assert_eq!(times(&index, "exit_code:*"), [6, 7, 8], "only exits have one");
    assert_eq!(times(&index, "kind:exit AND NOT exit_code:0"), [7, 8]);
    assert_eq!(times(&index, "exit_code:1 OR exit_code:137"), [7, 8]);
    // A query that only excludes is refused, and the refusal says what to write instead.
    match index.search(&SearchQuery { query: "NOT exit_code:0".into(), ..SearchQuery::default() }) {
        Err(Error::Query { reason, .. }) => {
            assert!(reason.message.contains("kind:exit AND NOT exit_code:0"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn detector_matches_every_detector_that_agreed_and_the_judge() {
    let index = fields_fixture();
    assert_eq!(times(&index, "detector:judge"), [10]);
    assert_eq!(times(&index, "detector:JUDGE"), [10]);
    assert_eq!(times(&index, "detector:exact_repeat"), [11]);
    assert_eq!(times(&index, "detector:cycle"), [11], "a merged detector counts");
    assert_eq!(times(&index, "doc:finding AND NOT detector:judge"), [11]);
}

#[test]
fn hit_json_has_ts_ns_as_a_string_with_every_digit() {
    // Above 2^53: a JSON number would come back as ...830256 in JavaScript and jq 1.6.
    let ts = 1_772_534_193_514_830_257_u64;
    let w = window("s1", 0, vec![exit_with("s1", ts, 9, 2)], 0);
    let mut index = indexed(&[w]);
    index.add_findings(&[finding("s1", "loop", "cycle", 0.5, ts + 1)]).expect("add");
    index.commit("f").expect("commit");
    let hits = serde_json::to_value(search(&index, "exit_code:2 OR detector:cycle")).expect("json");
    let hits = hits.as_array().expect("array");
    assert_eq!(hits.len(), 2);
    let mut got: Vec<(&str, &str)> = hits
        .iter()
        .map(|h| (h["ts_ns"].as_str().expect("ts_ns is a string"), h["id"].as_str().expect("id is a string")))
        .collect();
    got.sort_unstable();
    assert_eq!(got[0], ("1772534193514830257", "1772534193514830257-9-exit"));
    assert_eq!(got[1].0, "1772534193514830258");
}

/// The type each schema field has in the reference.
fn reference_type(entry: &tantivy::schema::FieldEntry) -> &'static str {
    use tantivy::schema::FieldType;
    match entry.field_type() {
        FieldType::Str(o) => match o.get_indexing_options().map(|i| i.tokenizer()) {
            Some(tokenizer::TOKENIZER) => "text",
            _ => "keyword",
        },
        FieldType::U64(_) | FieldType::I64(_) => "integer",
        FieldType::F64(_) => "number",
        _ => "other",
    }
}

#[test]
fn the_field_reference_lists_every_searchable_field_and_its_examples_run() {
    let (schema, _) = doc::schema();
    let reference = search_fields();
    let mut listed: Vec<&str> = reference.iter().map(|f| f.name).collect();
    listed.sort_unstable();
    let mut searchable: Vec<&str> =
        schema.fields().filter(|(_, e)| e.is_indexed() && e.name() != "key").map(|(_, e)| e.name()).collect();
    searchable.sort_unstable();
    assert_eq!(listed, searchable, "the reference and the schema disagree");
    let index = fields_fixture();
    for f in reference {
        let entry = schema.get_field_entry(schema.get_field(f.name).expect("field"));
        assert_eq!(f.kind, reference_type(entry), "{}", f.name);
        assert_eq!(f.default, Text::ALL.iter().any(|t| t.name() == f.name), "{}", f.name);
        assert!(["event", "finding", "both"].contains(&f.on), "{}", f.name);
        assert!(f.example.contains(&format!("{}:", f.name)), "{}: {}", f.name, f.example);
        assert!(!f.description.is_empty() && !f.description.ends_with('.'), "{}", f.name);
        let run = index.search(&SearchQuery { query: f.example.into(), ..SearchQuery::default() });
        assert!(run.is_ok(), "{}: {run:?}", f.example);
    }
    // What the API serves: `type` as the key.
    let json = serde_json::to_value(reference).expect("json");
    assert_eq!(json[0]["type"], "text");
    assert_eq!(json[0]["name"], "prompt");
}

/// The reason `query` is refused; panics when it is not refused as a query error.
fn refusal(index: &Index, query: &str) -> crate::error::QueryReason {
    match index.search(&SearchQuery { query: query.into(), ..SearchQuery::default() }) {
        Err(Error::Query { query: shown, reason }) => {
            assert_eq!(shown, query);
            reason
        }
        other => panic!("{query}: {other:?}"),
    }
}

#[test]
fn a_bad_query_says_what_is_wrong_and_where() {
    let index = fields_fixture();
    // (query, position in characters, words the message must have)
    let cases: &[(&str, Option<usize>, &str)] = &[
        ("argv:(pytest", Some(5), "`(` is never closed"),
        ("kind:exec)", Some(9), "unexpected `)`"),
        ("argv:\"pytest -q", Some(5), "`\"` is never closed"),
        ("pytest AND", Some(7), "`AND` with nothing after it"),
        ("AND pytest", Some(0), "`AND` with nothing before it"),
        ("pytest OR OR x", Some(7), "`OR` with nothing after it"),
        ("a AND (OR b)", Some(7), "`OR` with nothing before it"),
        ("nosuchfield:x", Some(0), "unknown field `nosuchfield`"),
        ("kind:exec AND nosuchfield:x", Some(14), "unknown field `nosuchfield`"),
        ("exit_code:abc", Some(10), "field `exit_code` takes a whole number, not `abc`"),
        ("exit_code:[1 TO x]", Some(16), "not `x`"),
        ("score:>high", Some(7), "field `score` takes a number, not `high`"),
        ("json:x", Some(0), "`json` is not searchable"),
        ("argv:*", Some(0), "`argv:*` is not supported"),
        ("a ^ b", Some(2), "unexpected `^`"),
        // Leading spaces count, and positions are in characters, not bytes.
        ("  kind:exec)", Some(11), "unexpected `)`"),
        ("测试通过 AND", Some(5), "`AND` with nothing after it"),
        ("-kind:exec", None, "only excludes"),
    ];
    for &(query, position, needle) in cases {
        let reason = refusal(&index, query);
        assert_eq!(reason.position, position, "{query}: {reason}");
        assert!(reason.message.contains(needle), "{query}: {reason}");
        if let Some(p) = position {
            assert!(reason.message.contains(&format!("(character {p})")), "{query}: {reason}");
        }
    }
    // The unknown-field message lists the fields there are.
    assert!(refusal(&index, "nosuchfield:x").message.contains("`exit_code`"));
    // What the API sends: `{message, position}`; Display is the message.
    let reason = refusal(&index, "kind:exec)");
    assert_eq!(
        serde_json::to_value(&reason).expect("json"),
        serde_json::json!({"message": "unexpected `)` (character 9)", "position": 9})
    );
    let error = Error::Query { query: "kind:exec)".into(), reason };
    assert_eq!(error.to_string(), "invalid query `kind:exec)`: unexpected `)` (character 9)");
}

#[test]
fn a_query_nested_too_deep_is_refused_where_it_goes_too_deep() {
    let index = indexed(&[first_window("s1", 0)]);
    let query = format!("x {}pytest{}", "(".repeat(MAX_QUERY_DEPTH + 5), ")".repeat(MAX_QUERY_DEPTH + 5));
    match index.search(&SearchQuery { query, ..SearchQuery::default() }) {
        Err(Error::Query { reason, .. }) => {
            // The 33rd `(`, after `x `.
            assert_eq!(reason.position, Some(2 + MAX_QUERY_DEPTH), "{reason}");
            assert!(reason.message.contains("nests deeper"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// The schema before `model`, `provider` and `exit_code` (and with `detector` a plain
/// string), as indexes made until then have it.
fn first_schema() -> tantivy::schema::Schema {
    use tantivy::schema::{NumericOptions, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING};
    let mut b = tantivy::schema::Schema::builder();
    let string_fast = STRING | FAST;
    b.add_text_field("doc", string_fast.clone() | STORED);
    b.add_text_field("id", STRING);
    b.add_text_field("key", STRING);
    b.add_text_field("session", string_fast.clone());
    b.add_text_field("window_id", STRING);
    b.add_text_field("kind", string_fast);
    b.add_text_field("detector", STRING);
    b.add_text_field("comm", STRING);
    b.add_u64_field("pid", INDEXED);
    let numeric_fast: NumericOptions = (INDEXED | FAST).into();
    b.add_u64_field("ts_ns", numeric_fast.clone());
    b.add_f64_field("score", numeric_fast);
    b.add_text_field("json", STORED);
    for t in Text::ALL {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer::TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let mut options = TextOptions::default().set_indexing_options(indexing);
        if matches!(t, Text::CausedBy | Text::Causes) {
            options = options.set_stored();
        }
        b.add_text_field(t.name(), options);
    }
    b.build()
}

/// Writes `w`'s events and `findings` into a first-schema index in `dir`, committed with
/// `payload`, as the first versions did.
fn write_first_schema_index(dir: &Path, w: &Window, findings: &[Finding], payload: &str) {
    let schema = first_schema();
    let index =
        tantivy::Index::builder().schema(schema.clone()).tokenizers(tokenizers()).create_in_dir(dir).expect("create");
    let mut writer: IndexWriter = index.writer(15 << 20).expect("writer");
    let f = |name: &str| schema.get_field(name).expect("field");
    let links = LinkTexts::of(&w.links);
    let _ = &links;
    for ev in &w.events {
        let json = serde_json::to_string(ev).expect("json");
        let mut d = TantivyDocument::new();
        d.add_text(f("doc"), DOC_EVENT);
        d.add_text(f("key"), doc::window_key(&w.window_id));
        d.add_text(f("session"), &ev.session);
        d.add_text(f("window_id"), &w.window_id);
        d.add_text(f("kind"), ev.body.kind());
        d.add_text(f("comm"), &ev.comm);
        d.add_u64(f("pid"), u64::from(ev.pid));
        d.add_u64(f("ts_ns"), ev.ts_ns);
        d.add_text(f("json"), &json);
        for (t, text) in doc::event_texts(ev) {
            d.add_text(f(t.name()), text);
        }
        for l in &w.links {
            if l.event == ev.id() {
                d.add_text(f("caused_by"), format!("{} {}", l.call_id, l.tool));
            }
            if l.llm_event == ev.id() {
                d.add_text(f("causes"), &l.event);
            }
        }
        d.add_text(f("id"), ev.id());
        writer.add_document(d).expect("add");
    }
    for finding in findings {
        let json = serde_json::to_string(finding).expect("json");
        let mut d = TantivyDocument::new();
        d.add_text(f("doc"), DOC_FINDING);
        d.add_text(f("id"), &finding.finding_id);
        d.add_text(f("key"), doc::finding_key(&finding.finding_id));
        d.add_text(f("session"), &finding.session);
        d.add_text(f("window_id"), &finding.window_id);
        d.add_text(f("kind"), finding.kind.as_str());
        d.add_text(f("detector"), &finding.detector);
        d.add_u64(f("ts_ns"), finding.ts_ns);
        d.add_f64(f("score"), finding.score);
        d.add_text(f("json"), &json);
        d.add_text(f("rationale"), doc::finding_rationale(finding));
        writer.add_document(d).expect("add");
    }
    let mut prepared = writer.prepare_commit().expect("prepare");
    prepared.set_payload(payload);
    prepared.commit().expect("commit");
    writer.wait_merging_threads().expect("merge");
}

/// An index made before `model`, `provider` and `exit_code` is rebuilt by the first writable
/// open, keeping its documents (the judge's findings are in no log), its links and its commit
/// payload; a read-only open refuses it with what to do.
#[test]
fn an_index_made_with_the_first_schema_is_rebuilt_at_open() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().join("index");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let w = first_window("s1", 0);
    let judged = finding("s1", "contradiction", "judge", 0.9, 7_000);
    write_first_schema_index(&dir, &w, std::slice::from_ref(&judged), "log_offset=42");

    let refused = Index::open_read_only(&dir).expect_err("an old index read-only");
    assert!(refused.to_string().contains("agentsight serve"), "{refused}");

    let mut index = Index::open(&dir).expect("open and upgrade");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=42"));
    assert_eq!(index.counts(), Counts { events: 6, findings: 1 });
    assert_eq!(times(&index, "exit_code:1"), [6_000], "the new fields are filled");
    assert_eq!(times(&index, "model:gpt-4o"), [2_000]);
    assert_eq!(times(&index, "provider:openai"), [2_000]);
    assert_eq!(times(&index, "detector:judge"), [7_000]);
    assert_eq!(times(&index, "caused_by:call_1"), [3_000], "stored links carried over");
    assert_eq!(times(&index, "causes:exec"), [2_000]);
    assert_eq!(index.findings(&FindingFilter::default()).expect("findings"), [judged]);
    // The window key came along: the window sent again replaces itself.
    index.add_window(&w).expect("add");
    index.commit("log_offset=43").expect("commit");
    assert_eq!(index.counts(), Counts { events: 6, findings: 1 });
    index.close().expect("close");
    let names: Vec<String> = std::fs::read_dir(data.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["index"], "nothing left beside the index");

    // Upgraded once: it now opens read-only, and for writing without another rebuild.
    let read = Index::open_read_only(&dir).expect("read-only");
    assert_eq!(read.last_commit_payload().as_deref(), Some("log_offset=43"));
    drop(read);
    let again = Index::open(&dir).expect("open");
    assert_eq!(again.counts(), Counts { events: 6, findings: 1 });
}

/// A crash between the upgrade's two renames leaves `index.old` and `index.rebuild` and no
/// `index`: the next open finishes the move instead of starting an empty index.
#[test]
fn an_upgrade_cut_between_its_renames_is_finished_at_open() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().join("index");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write_first_schema_index(&dir, &first_window("s1", 0), &[], "log_offset=9");
    Index::open(&dir).expect("upgrade").close().expect("close");
    std::fs::rename(&dir, data.path().join("index.rebuild")).expect("mv");
    std::fs::create_dir_all(data.path().join("index.old")).expect("mkdir");

    let index = Index::open(&dir).expect("open");
    assert_eq!(index.last_commit_payload().as_deref(), Some("log_offset=9"));
    assert_eq!(index.counts().events, 6);
    assert!(!data.path().join("index.old").exists());
    assert!(!data.path().join("index.rebuild").exists());
}

/// Regression: tantivy reads `a AND NOT b` as `+a +(-b)`, a required group that matches
/// nothing, so `kind:exec AND NOT argv:pytest` found no exec at all.
#[test]
fn a_and_not_b_excludes_b_instead_of_matching_nothing() {
    let index = indexed(&[first_window("s1", 0)]);
    for query in [
        "kind:exec AND NOT argv:pytest",
        "NOT argv:pytest AND kind:exec",
        "kind:exec AND (NOT argv:pytest)",
        "kind:exec -argv:pytest",
        "kind:exec NOT argv:pytest",
    ] {
        assert_eq!(times(&index, query), [1_000], "{query}");
    }
    assert_eq!(times(&index, "kind:exec AND NOT argv:pytest AND NOT argv:bash"), Vec::<u64>::new());
    assert_eq!(times(&index, "(kind:exec AND NOT argv:pytest) OR kind:exit"), [1_000, 6_000]);
    // Only exclusions, even grouped, is still refused rather than matching everything.
    assert_eq!(refusal(&index, "(NOT argv:pytest)").position, None);
}
