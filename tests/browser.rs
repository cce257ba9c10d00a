//! The web UI in a real browser: Debian's `chromium`, driven by `chromedriver` through the W3C
//! WebDriver protocol (JSON over HTTP; the small client is here), on recorded real Claude Code
//! sessions from `evals/real/` ingested and served by the real `agentsight serve`:
//! `real-claude-code-contra-tests` (the agent ran the tests, `python3 -m unittest` exited 1, and
//! it said they all pass: a contradiction) and `real-claude-code-loop` (the same failing call five
//! times: a loop whose evidence lies inside the tool calls).
//!
//! The tests click as a reviewer does (WebDriver element clicks, typed text) and assert on the
//! DOM: what shows on the first screen, what a click marks or unfolds, what search answers.
//!
//! Every test is `#[ignore]`d: they need the browser (`scripts/test` installs `chromium` and
//! `chromium-driver`) and `.ci/run` runs them with `-- --ignored`. Without the browser a test
//! fails under CI (`CI` set) and elsewhere prints `SKIPPED` and returns. Chromium, chromedriver
//! and `serve` are stopped by drop guards, also when a test fails.
//!
//! `AGENTSIGHT_SCREENSHOTS=DIR` (relative to the workspace root) also saves the screenshots the
//! README shows: `session.png`, `findings.png`, `search.png` (they live in `docs/screenshots/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::bin;

/// The contradiction session: "Make the tests in this repo pass.", one `Bash` call whose
/// `python3 -m unittest -q` exits 1, then "I ran the test suite and all tests pass."
const CONTRA: &str = "real-claude-code-contra-tests.jsonl.gz";
const CONTRA_SESSION: &str = "20261130T210532Z-11603";
/// The loop session: the same `Bash` call five times, each failing the same way.
const LOOP: &str = "real-claude-code-loop.jsonl.gz";
const LOOP_SESSION: &str = "20261130T210556Z-12435";

/// How long the UI may take to show something after a navigation or a click.
const UI_WAIT: Duration = Duration::from_secs(20);

/// Helpers every script gets: whether an element is rendered and inside the viewport (the first
/// screen, when the page has not scrolled), and the first element under a selector with a text.
const PRELUDE: &str = r#"
const shown = (el) => !!el && el.checkVisibility() && el.getClientRects().length > 0;
const inView = (el) => {
  if (!shown(el)) return false;
  const r = el.getBoundingClientRect();
  return r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
};
const byText = (sel, text) => [...document.querySelectorAll(sel)].find((e) => e.textContent.includes(text)) ?? null;
const text = (el) => el ? el.textContent.replace(/\s+/g, " ").trim() : null;
"#;

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
#[ignore = "needs Debian chromium and chromedriver (scripts/test installs them); run by .ci/run with --ignored"]
fn session_list_shows_each_session_with_its_agent_model_and_findings() {
    let Some(ui) = Ui::open(&[CONTRA, LOOP]) else {
        return;
    };
    let b = &ui.browser;
    b.goto(&ui.url("#/sessions"));
    let row = format!(r#"tr[data-session="{CONTRA_SESSION}"]"#);
    b.wait("the contradiction session's row", &format!("return document.querySelector('{row}') != null"));

    // What the API says of the session is what the row shows.
    let api = ui.serve.get_json("/v1/sessions");
    let summary = api
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == CONTRA_SESSION)
        .unwrap_or_else(|| panic!("no session {CONTRA_SESSION} in /v1/sessions: {api}"));
    assert_eq!(summary["agent"], "claude", "{summary}");

    let cells = |session: &str| {
        b.js(&format!(
            r#"const r = document.querySelector('tr[data-session="{session}"]');
               return {{ agent: text(r.querySelector('td.agent')), models: text(r.querySelector('td.models')),
                        findings: text(r.querySelector('td.findings')), all: text(r) }};"#
        ))
    };
    let contra = cells(CONTRA_SESSION);
    assert_eq!(contra["agent"], "claude", "{contra}");
    assert_eq!(contra["models"], "claude-opus-5-5", "{contra}");
    assert_eq!(contra["findings"], "contradiction 1", "{contra}");
    assert!(contra["all"].as_str().unwrap().contains("1 of 1"), "the failed command is counted: {contra}");
    let looped = cells(LOOP_SESSION);
    assert_eq!(looped["agent"], "claude", "{looped}");
    assert_eq!(looped["findings"], "loop 1", "{looped}");

    // A click on the row opens the session.
    let cell = b.element(&format!("{row} td.agent"));
    b.click(&cell);
    b.wait(
        "the session page after a click on its row",
        &format!(
            "return location.hash === '#/session/{CONTRA_SESSION}' && document.querySelector('.turn[data-turn]') != null"
        ),
    );
}

#[test]
#[ignore = "needs Debian chromium and chromedriver (scripts/test installs them); run by .ci/run with --ignored"]
fn session_page_shows_request_answer_commands_exit_codes_and_findings_on_the_first_screen() {
    let Some(ui) = Ui::open(&[CONTRA]) else {
        return;
    };
    let b = &ui.browser;
    b.goto(&ui.url(&format!("#/session/{CONTRA_SESSION}")));
    b.wait("the session's last turn", "return document.querySelector('.turn[data-turn=\"2\"]') != null");
    // Nothing below may need a scroll: the first screen is what the reviewer sees on opening.
    assert_eq!(b.js("return scrollY"), 0);

    // What the user asked, with Claude Code's system reminders folded away.
    let asked = b.js("const el = document.querySelector('.turn .user pre.request');
         return { text: text(el), inView: inView(el),
                  reminderShown: shown(document.querySelector('.turn .user details.reminder pre')) };");
    assert_eq!(asked["text"], "Make the tests in this repo pass.", "{asked}");
    assert_eq!(asked["inView"], true, "the request is on the first screen: {asked}");
    assert_eq!(asked["reminderShown"], false, "{asked}");

    // What the agent answered.
    let answered = b.js("const el = byText('.turn .assistant pre', 'all tests pass');
         return { text: text(el), inView: inView(el) };");
    assert_eq!(answered["text"], "I ran the test suite and all tests pass. Nothing else to do.", "{answered}");
    assert_eq!(answered["inView"], true, "{answered}");

    // The tool call, the command it ran and its exit code: 1, marked as a failure.
    let call = b.js(
        "const call = document.querySelector('.turn[data-turn=\"1\"] .call');
         const ran = [...call.querySelectorAll('.call-head ul.ran > li')];
         return { name: text(call.querySelector('.name')), inView: inView(call.querySelector('.name')),
                  ran: ran.map((li) => ({ command: text(li.querySelector('.mono')), code: text(li.querySelector('.code')),
                                          bad: li.querySelector('.code').classList.contains('bad'), inView: inView(li) })) };",
    );
    assert_eq!(call["name"], "Bash", "{call}");
    assert_eq!(call["inView"], true, "{call}");
    assert_eq!(
        call["ran"],
        json!([{ "command": "$ python3 -m unittest -q", "code": "1", "bad": true, "inView": true }]),
        "the call shows the command that ran and its exit code: {call}"
    );

    // The finding, pinned to the turns it cites (the test run and the claim) and beside them.
    let pins = b.js(
        "return [...document.querySelectorAll('.turn')].map((t) => ({
           turn: t.dataset.turn,
           pins: [...t.querySelectorAll('.pins .pin')].map((p) => ({ kind: text(p.querySelector('.badge')), inView: inView(p) })) }));",
    );
    assert_eq!(
        pins,
        json!([
            { "turn": "0", "pins": [] },
            { "turn": "1", "pins": [{ "kind": "contradiction", "inView": true }] },
            { "turn": "2", "pins": [{ "kind": "contradiction", "inView": true }] },
        ]),
        "{pins}"
    );
    let side = b.js("const f = document.querySelector('.side .pin[data-f]');
         return { kind: text(f.querySelector('.badge')), inView: inView(f),
                  turns: [...f.querySelectorAll('a')].map(text),
                  evidence: [...f.querySelectorAll('ul.evidence li')].map((li) => text(li).replace(/^\\S+ /, '')) };");
    assert_eq!(side["kind"], "contradiction", "{side}");
    assert_eq!(side["inView"], true, "{side}");
    assert_eq!(side["turns"], json!(["1", "2"]), "{side}");
    assert_eq!(
        side["evidence"],
        json!([
            "llm_call said \"I ran the test suite and all tests pass.\"",
            "exec ran python3 -m unittest -q",
            "exit python3 -m unittest -q exited 1",
        ]),
        "{side}"
    );

    b.screenshot("session.png");
}

#[test]
#[ignore = "needs Debian chromium and chromedriver (scripts/test installs them); run by .ci/run with --ignored"]
fn clicking_a_findings_evidence_marks_the_event_it_cites() {
    let Some(ui) = Ui::open(&[CONTRA, LOOP]) else {
        return;
    };
    let b = &ui.browser;
    let focused = "const f = [...document.querySelectorAll('.turns .focus')];
         return f.length ? f.map((el) => ({ tag: el.tagName, cls: el.className, turn: el.closest('.turn')?.dataset.turn,
                                            text: text(el), evs: el.dataset.evs ?? null, inView: inView(el) })) : null;";

    // On the session page: the evidence "exited 1" marks the command in the tool call.
    b.goto(&ui.url(&format!("#/session/{CONTRA_SESSION}")));
    b.wait("the finding's evidence", "return document.querySelectorAll('.side ul.evidence button.cite').length === 3");
    assert_eq!(b.js("return document.querySelectorAll('.turns .focus').length"), 0);
    let exit_ev = b.js("return byText('.side ul.evidence li', 'exited 1').querySelector('button.cite')");
    let exit_id = b.js_with("return arguments[0].dataset.ev", json!([exit_ev]));
    b.click(&exit_ev);
    let marked = b.wait("the cited command to be marked", focused);
    let marked = &marked[0];
    assert_eq!(marked["tag"], "LI", "{marked}");
    assert_eq!(marked["turn"], "1", "{marked}");
    assert!(marked["text"].as_str().unwrap().ends_with("$ python3 -m unittest -q"), "{marked}");
    let key = ref_key(exit_id.as_str().unwrap());
    assert!(
        marked["evs"].as_str().unwrap().split(' ').any(|k| k == key),
        "the marked element stands for the cited event {key}: {marked}"
    );
    assert_eq!(marked["inView"], true, "{marked}");

    // The claim: the mark moves to the assistant's reply in turn 2.
    let said = b.js("return byText('.side ul.evidence li', 'said').querySelector('button.cite')");
    b.click(&said);
    let marked = b.wait(
        "the cited reply to be marked",
        &format!("const m = (() => {{ {focused} }})(); return m && m[0].turn === '2' ? m : null;"),
    );
    assert_eq!(marked.as_array().unwrap().len(), 1, "one mark at a time: {marked}");
    assert!(marked[0]["cls"].as_str().unwrap().contains("llm"), "{marked}");
    assert!(marked[0]["text"].as_str().unwrap().contains("I ran the test suite and all tests pass."), "{marked}");
    assert_eq!(marked[0]["inView"], true, "{marked}");

    // In the loop session the evidence cites the shell wrapper of a call, folded away until
    // then: the click unfolds that call and marks it.
    b.goto(&ui.url(&format!("#/session/{LOOP_SESSION}")));
    b.wait(
        "the loop session's turns",
        &format!(
            "return document.querySelector('h2')?.textContent.includes('{LOOP_SESSION}') && document.querySelector('.turn[data-turn=\"6\"]') != null"
        ),
    );
    let wrapper = b.js(
        "const btn = byText('.side ul.evidence li', 'ran source').querySelector('button.cite');
         const key = btn.dataset.ev.split('-').slice(0, 3).join('-');
         const els = [...document.querySelectorAll('.turns [data-evs]')].filter((el) => el.dataset.evs.split(' ').includes(key));
         return { btn, count: els.length, shown: els.some(shown), call: els[0]?.closest('.call')?.classList.contains('open') };",
    );
    assert_eq!(wrapper["count"], 1, "{wrapper}");
    assert_eq!(wrapper["shown"], false, "the wrapper is folded before the click: {wrapper}");
    assert_eq!(wrapper["call"], false, "{wrapper}");
    b.click(&wrapper["btn"]);
    let marked = b.wait("the folded wrapper to be unfolded and marked", focused);
    assert_eq!(marked.as_array().unwrap().len(), 1, "{marked}");
    assert!(marked[0]["text"].as_str().unwrap().contains("$ source /tmp/"), "{marked}");
    assert_eq!(marked[0]["inView"], true, "{marked}");
    assert_eq!(
        b.js("return document.querySelector('.turns .focus').closest('.call').querySelector('.call-head').getAttribute('aria-expanded')"),
        "true"
    );

    // From the findings page: the evidence link opens the session on the cited event.
    b.goto(&ui.url("#/findings"));
    b.wait("the findings table", "return document.querySelectorAll('tr[data-f]').length === 2");
    b.screenshot("findings.png");
    let link = b.js("return byText('tr[data-f] ul.evidence li', 'unittest -q exited 1').querySelector('a.cite')");
    b.click(&link);
    let marked = b.wait(
        "the session page opened on the cited exit",
        &format!(
            "return location.hash.startsWith('#/session/{CONTRA_SESSION}?ev=') ? (() => {{ {focused} }})() : null"
        ),
    );
    assert!(marked[0]["text"].as_str().unwrap().ends_with("$ python3 -m unittest -q"), "{marked}");
    assert_eq!(marked[0]["inView"], true, "{marked}");
}

#[test]
#[ignore = "needs Debian chromium and chromedriver (scripts/test installs them); run by .ci/run with --ignored"]
fn clicking_a_tool_call_shows_every_command_it_caused() {
    let Some(ui) = Ui::open(&[CONTRA]) else {
        return;
    };
    let b = &ui.browser;
    b.goto(&ui.url(&format!("#/session/{CONTRA_SESSION}")));
    b.wait("the tool call", "return document.querySelector('.turn[data-turn=\"1\"] .call .call-head') != null");
    // What the call caused beyond the command shown: Claude Code's shell wrapper (it exited 1
    // too), the files the tests read, and the call's result.
    let state = "const call = document.querySelector('.turn[data-turn=\"1\"] .call');
         const wrapper = byText('.call-body li.cmd', '$ source /tmp/');
         return { expanded: call.querySelector('.call-head').getAttribute('aria-expanded'),
                  wrapper: shown(wrapper), wrapperCode: text(wrapper?.querySelector('.code')),
                  testFile: shown(byText('.call-body li', 'read /tmp/agentsight-eval-cbmku5n0/ws/test_calc.py')),
                  result: shown(byText('.call-body pre.result', 'ERROR: test_mean_empty')) };";
    let before = b.js(state);
    assert_eq!(
        before,
        json!({ "expanded": "false", "wrapper": false, "wrapperCode": "1", "testFile": false, "result": false }),
        "folded before the click"
    );
    let head = b.element(".turn[data-turn=\"1\"] .call .call-head");
    b.click(&head);
    let after = b.wait(
        "the tool call to unfold",
        &format!("const s = (() => {{ {state} }})(); return s.expanded === 'true' ? s : null;"),
    );
    assert_eq!(
        after,
        json!({ "expanded": "true", "wrapper": true, "wrapperCode": "1", "testFile": true, "result": true }),
        "unfolded after the click"
    );
    // A second click folds it again.
    b.click(&head);
    b.wait(
        "the tool call to fold again",
        &format!("const s = (() => {{ {state} }})(); return s.expanded === 'false' && !s.wrapper;"),
    );
}

#[test]
#[ignore = "needs Debian chromium and chromedriver (scripts/test installs them); run by .ci/run with --ignored"]
fn search_lists_hits_and_says_beside_the_form_what_is_wrong_with_a_query() {
    let Some(ui) = Ui::open(&[CONTRA, LOOP]) else {
        return;
    };
    let b = &ui.browser;
    b.goto(&ui.url("#/search"));
    b.wait(
        "the search form",
        "return document.querySelector('form input[name=q]') != null && document.querySelector('details.fieldref table.fields') != null",
    );
    let q = b.element("form input[name=q]");
    b.type_text(&q, "comm:python3 AND argv:unittest");
    b.click(&b.element("form button[type=submit]"));
    let hits = b.wait(
        "search hits",
        "const li = [...document.querySelectorAll('ul.hits > li')];
         return li.length ? { count: text(document.querySelector('ul.hits').previousElementSibling), hits: li.map(text),
                              links: li.map((l) => l.querySelector('a')?.getAttribute('href')) } : null;",
    );
    let list: Vec<&str> = hits["hits"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    // Six runs of `python3 -m unittest -q`: one in the contradiction session, five in the loop.
    assert_eq!(list.len(), 6, "{hits}");
    assert_eq!(hits["count"], "6 hits", "{hits}");
    assert!(list.iter().all(|h| h.contains("python3 -m unittest -q")), "{hits}");
    assert_eq!(list.iter().filter(|h| h.contains(CONTRA_SESSION)).count(), 1, "{hits}");
    assert!(
        hits["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l.as_str().unwrap().starts_with("#/session/") && l.as_str().unwrap().contains("?ev=")),
        "every hit links to its event in its session: {hits}"
    );
    b.screenshot("search.png");

    // A hit opens its session on the event, marked.
    let link = b.js(&format!("return byText('ul.hits > li', '{CONTRA_SESSION}').querySelector('a')"));
    b.click(&link);
    let marked = b.wait(
        "the session page opened on the hit",
        "const f = document.querySelector('.turns li.focus');
         return f && location.hash.includes('?ev=') ? { text: text(f), inView: inView(f) } : null;",
    );
    assert!(marked["text"].as_str().unwrap().ends_with("$ python3 -m unittest -q"), "{marked}");
    assert_eq!(marked["inView"], true, "{marked}");
    b.goto(&ui.url("#/search"));
    b.wait("the search form again", "return document.querySelector('form input[name=q]') != null");

    // A query that does not parse: the error shows right under the form, which keeps the query.
    let q = b.element("form input[name=q]");
    b.type_text(&q, "argv:(");
    b.click(&b.element("form button[type=submit]"));
    let err = b.wait(
        "the query's error",
        "const e = document.querySelector('.qerr');
         if (!e) return null;
         const form = document.querySelector('form.bar');
         return { text: text(e.firstChild), mark: text(e.querySelector('mark.at')), inView: inView(e),
                  below: Math.round(e.getBoundingClientRect().top - form.getBoundingClientRect().bottom),
                  value: form.querySelector('input[name=q]').value, hits: document.querySelectorAll('ul.hits > li').length,
                  page: !!document.querySelector('.msg.err') };",
    );
    assert!(err["text"].as_str().unwrap().contains("never closed"), "the error says what is wrong: {err}");
    assert_eq!(err["mark"], "(", "and marks where: {err}");
    assert_eq!(err["value"], "argv:(", "the form keeps the query: {err}");
    assert_eq!(err["inView"], true, "{err}");
    let below = err["below"].as_i64().unwrap();
    assert!((-20..=20).contains(&below), "the error is beside the form ({below} px below it): {err}");
    assert_eq!(err["hits"], 0, "{err}");
    assert_eq!(err["page"], false, "the form is not replaced by a page error: {err}");

    // Editing the query clears the error (the view was drawn anew: find the box again).
    let q = b.element("form input[name=q]");
    b.type_text(&q, "x");
    b.wait(
        "the error to go once the query is edited",
        "return document.querySelector('.qerr') == null || document.querySelector('#qerr').childElementCount === 0",
    );
}

// ---------------------------------------------------------------------------------------------
// The fixture: a data directory with the sessions ingested, `serve` on it, and a browser

/// `ts_ns-tid-kind`: how the UI matches an event id (loss events add a suffix).
fn ref_key(id: &str) -> String {
    id.split('-').take(3).collect::<Vec<_>>().join("-")
}

struct Ui {
    // Declared in the order they are dropped: the browser, then the server, then the data.
    browser: Browser,
    serve: Serve,
    _data: tempfile::TempDir,
}

impl Ui {
    /// Ingests `traces` (from `evals/real/`) into a fresh data directory, starts `serve` on it and
    /// a headless browser; `None` (after saying so) when the browser is missing outside CI.
    fn open(traces: &[&str]) -> Option<Ui> {
        let (chromium, driver) = browser_tools()?;
        let data = tempfile::tempdir().unwrap();
        let store = data.path().join("data");
        for name in traces {
            let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../evals/real").join(name);
            let out = Command::new(bin())
                .args(["ingest", "-q", "--data"])
                .arg(&store)
                .arg(&trace)
                .env_remove("AGENTSIGHT_CONFIG")
                .env_remove("AGENTSIGHT_JUDGE_URL")
                .output()
                .unwrap();
            assert!(out.status.success(), "ingest {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let serve = Serve::start(&store);
        let browser = Browser::start(&chromium, &driver);
        Some(Ui { browser, serve, _data: data })
    }

    fn url(&self, fragment: &str) -> String {
        format!("http://127.0.0.1:{}/{fragment}", self.serve.port)
    }
}

/// `chromium` and `chromedriver` from `PATH`. Missing: a failure under CI, else `None`.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join(name)).find(|p| p.is_file())
    };
    let chromium = find("chromium").or_else(|| find("chromium-browser"));
    let driver = find("chromedriver");
    if let (Some(c), Some(d)) = (&chromium, &driver) {
        return Some((c.clone(), d.clone()));
    }
    let missing = [("chromium", chromium.is_none()), ("chromedriver", driver.is_none())]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(" and ");
    let why = format!(
        "{missing} not found in PATH (Debian: apt-get install chromium chromium-driver; scripts/test installs them)"
    );
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(!ci, "the browser tests cannot run under CI: {why}");
    eprintln!("SKIPPED: {why}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 request on a fresh connection: the status and the body. Enough for `serve` and
/// chromedriver, which both answer with a `Content-Length` or close the connection.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let (head_len, length) = loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::other("the connection closed before the headers ended"));
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            assert!(!head.contains("transfer-encoding: chunked"), "chunked answers are not read here: {head}");
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            break (end + 4, length);
        }
    };
    match length {
        Some(len) => {
            while raw.len() < head_len + len {
                let n = conn.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            conn.read_to_end(&mut raw)?;
        }
    }
    let head = String::from_utf8_lossy(&raw[..head_len]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, String::from_utf8_lossy(&raw[head_len..]).into_owned()))
}

/// Polls `f` every 100 ms until it returns `Some`, or panics with `what` after `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `agentsight serve` on a free loopback port, killed on drop; its stderr goes to a log file.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start(data: &Path) -> Serve {
        let port = free_port();
        let log = data.with_extension("serve.log");
        let child = Command::new(bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env_remove("AGENTSIGHT_TOKEN")
            .env_remove("AGENTSIGHT_CONFIG")
            .env_remove("AGENTSIGHT_JUDGE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut serve = Serve { child, port, log };
        wait_for(Duration::from_secs(60), "serve to answer /healthz", || {
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("serve exited with {status}: {}", std::fs::read_to_string(&serve.log).unwrap_or_default());
            }
            http(port, "GET", "/healthz", None).ok().filter(|(s, _)| *s == 200)
        });
        serve
    }

    fn get_json(&self, path: &str) -> Value {
        let (status, body) = http(self.port, "GET", path, None).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A WebDriver client: the few W3C commands these tests use

/// The key of an element reference in WebDriver JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver (in a process group of its own, with the chromium it starts) and one headless
/// session. Drop ends the session (chromium quits), then kills the group, whatever is left.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    log: tempfile::NamedTempFile,
}

impl Browser {
    fn start(chromium: &Path, driver: &Path) -> Browser {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
        let mut browser = Browser { driver: child, port, session: String::new(), log };
        wait_for(Duration::from_secs(30), "chromedriver to answer /status", || {
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited with {status}: {}", browser.log_text());
            }
            http(port, "GET", "/status", None).ok().filter(|(s, _)| *s == 200)
        });
        // We run as root in CI, where chromium's sandbox cannot start.
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                         "--disable-dev-shm-usage", "--force-color-profile=srgb", "--hide-scrollbars",
                         "--lang=en-US", "--no-first-run", "--no-default-browser-check"],
            },
        } } });
        let session = browser.command("POST", "/session", Some(&caps));
        browser.session = session["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// One WebDriver command; its `value`. A WebDriver error panics with its message.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).or_else(|| (method == "POST").then(|| "{}".to_owned()));
        let (status, text) = http(self.port, method, path, body.as_deref())
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}; chromedriver said: {}", self.log_text()));
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON ({e}): {text}"));
        let value = answer["value"].clone();
        assert!(
            status == 200,
            "WebDriver {method} {path} -> {status} {}: {}",
            value["error"],
            value["message"].as_str().unwrap_or(&text)
        );
        value
    }

    fn session_command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (a function body, with [`PRELUDE`]'s helpers) in the page; what it returns.
    fn js(&self, script: &str) -> Value {
        self.js_with(script, json!([]))
    }

    fn js_with(&self, script: &str, args: Value) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": format!("{PRELUDE}\n{script}"), "args": args })),
        )
    }

    /// Polls `script` until it returns something other than `null` or `false`; that value.
    fn wait(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script);
            if !v.is_null() && v != false {
                return v;
            }
            if start.elapsed() > UI_WAIT {
                let page = self.js("return location.href + '\\n' + document.body.innerText.slice(0, 3000)");
                panic!(
                    "timed out after {UI_WAIT:?} waiting for {what}; the page:\n{}",
                    page.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element `css` selects (a WebDriver reference).
    fn element(&self, css: &str) -> Value {
        self.session_command("POST", "/element", Some(&json!({ "using": "css selector", "value": css })))
    }

    fn element_id(element: &Value) -> &str {
        element[ELEMENT].as_str().unwrap_or_else(|| panic!("not an element reference: {element}"))
    }

    /// A real click: WebDriver scrolls the element into view and clicks its centre, and fails if
    /// something else is on top of it.
    fn click(&self, element: &Value) {
        let id = Self::element_id(element);
        self.session_command("POST", &format!("/element/{id}/click"), None);
    }

    /// Types `text` into the element, as keystrokes.
    fn type_text(&self, element: &Value, text: &str) {
        let id = Self::element_id(element);
        self.session_command("POST", &format!("/element/{id}/value"), Some(&json!({ "text": text })));
    }

    /// Saves a PNG of the viewport as `name` in `$AGENTSIGHT_SCREENSHOTS`, when that is set.
    fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("AGENTSIGHT_SCREENSHOTS").filter(|d| !d.is_empty()) else {
            return;
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        // No caret blinking or hover state in the picture.
        self.js("document.activeElement?.blur()");
        let png = base64_decode(self.session_command("GET", "/screenshot", None).as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::write(dir.join(name), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
        }
        // chromium outlives a killed chromedriver; the group (see `start`) holds them both.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (WebDriver's screenshots), padding and line breaks allowed.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c:?}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_webdriver_sends() {
    assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    assert_eq!(base64_decode("YWJj"), b"abc");
    assert_eq!(base64_decode("YWI="), b"ab");
    assert_eq!(base64_decode("YQ=="), b"a");
    assert_eq!(base64_decode("YWJj\nZGVm"), b"abcdef");
}

#[test]
fn ref_key_drops_what_follows_the_kind() {
    assert_eq!(ref_key("1796072738092808597-11809-exit"), "1796072738092808597-11809-exit");
    assert_eq!(ref_key("1796072738092808597-11809-loss-2"), "1796072738092808597-11809-loss");
}
