//! The analysis path, end to end, through the real `agentsight` binary: `ingest`, `findings`,
//! `search`, `report` on a recorded trace (`fixtures/demo-trace.jsonl`, the demo agent looping on
//! a failing build and claiming failed tests pass); `serve` and its HTTP API; and, as root, the
//! demo and the whole shipping path (`collect --ship` -> `serve` killed and restarted mid-run ->
//! an LLM judge stand-in -> a signed webhook).
//!
//! The hermetic tests need no root and run by default; the privileged ones are `#[ignore]`d and
//! run with `-- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{bin, is_root, read_trace};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-trace.jsonl")
}

fn agentsight(args: &[&str]) -> Output {
    Command::new(bin()).args(args).env_remove("AGENTSIGHT_CONFIG").env_remove("AGENTSIGHT_JUDGE_URL").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `agentsight ARGS --json` and parses its stdout.
fn json(args: &[&str]) -> Vec<Value> {
    let out = agentsight(args);
    assert!(out.status.success(), "agentsight {args:?} failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not a JSON array ({e}): {}", text(&out.stdout)))
}

/// A fresh data directory with the fixture ingested.
fn ingested() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let out = agentsight(&["ingest", fixture().to_str().unwrap(), "--data", data.path().to_str().unwrap()]);
    assert!(out.status.success(), "ingest failed: {}", text(&out.stderr));
    data
}

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn of_kind<'a>(findings: &'a [Value], kind: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["kind"] == kind).collect()
}

/// Exec event ids of the fixture (or any trace), by session.
fn exec_ids(trace: &Path, session: Option<&str>) -> HashSet<String> {
    read_trace(trace)
        .iter()
        .filter(|e| matches!(e.body, model::EventBody::Exec(_)) && session.is_none_or(|s| e.session == s))
        .map(|e| format!("{}-{}-exec", e.ts_ns, e.pid))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A. ingest, findings, search, report

#[test]
fn ingest_finds_the_build_loop_and_the_false_claim() {
    let data = ingested();
    let d = data.path().to_str().unwrap();
    let findings = json(&["findings", "--json", "--data", d]);

    let loops = of_kind(&findings, "loop");
    assert!(!loops.is_empty(), "no loop finding: {findings:#?}");
    assert!(
        loops.iter().any(|f| s(f, "rationale").contains("python3 build.py")
            || f["evidence"].as_array().unwrap().iter().any(|e| s(e, "summary").contains("python3 build.py"))),
        "no loop finding points at `python3 build.py`: {loops:#?}"
    );
    let contradictions = of_kind(&findings, "contradiction");
    assert!(!contradictions.is_empty(), "no contradiction finding: {findings:#?}");
    let c = contradictions[0];
    assert!(s(c, "rationale").contains("unittest"), "the rationale does not name the test run: {c:#}");
    assert!(s(c, "rationale").contains("exited 1"), "{c:#}");

    for f in &findings {
        let score = f["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "score out of range: {f:#}");
        assert!(f["judge"].is_null(), "no judge was configured, yet: {f:#}");
        assert!(!f["evidence"].as_array().unwrap().is_empty(), "a finding without evidence: {f:#}");
    }
    // Worst first.
    let scores: Vec<f64> = findings.iter().map(|f| f["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "not sorted by score: {scores:?}");

    // The filters narrow.
    let only = json(&["findings", "--json", "--kind", "contradiction", "--data", d]);
    assert_eq!(only.len(), contradictions.len());
    // The highest score as the floor keeps the findings with it and drops the rest.
    let top = scores[0];
    assert!(scores.iter().any(|&x| x < top), "all scores equal: {scores:?}");
    let high = json(&["findings", "--json", "--min-score", &top.to_string(), "--data", d]);
    assert!(high.iter().all(|f| f["score"].as_f64().unwrap() >= top) && high.len() < findings.len(), "{high:#?}");
}

#[test]
fn ingest_says_plainly_that_only_deterministic_detectors_ran() {
    let data = tempfile::tempdir().unwrap();
    let out = agentsight(&["ingest", fixture().to_str().unwrap(), "--data", data.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("deterministic detectors only"), "{err}");
    assert!(err.contains("loop") && err.contains("contradiction"), "{err}");
}

#[test]
fn search_finds_the_build_commands() {
    let data = ingested();
    let d = data.path().to_str().unwrap();
    let hits = json(&["search", "build.py", "--json", "--limit", "100", "--data", d]);
    let exec = hits
        .iter()
        .find(|h| {
            h["kind"] == "exec" && h["event"]["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == "build.py"))
        })
        .unwrap_or_else(|| panic!("no exec of build.py among the hits: {hits:#?}"));
    assert_eq!(exec["doc"], "event");
    // The snippet is plain text and `highlights` the byte ranges of the matches in it.
    let snippet = s(exec, "snippet");
    let highlighted: Vec<&str> = exec["highlights"]
        .as_array()
        .unwrap_or_else(|| panic!("no highlights: {exec:#}"))
        .iter()
        .map(|r| &snippet[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize])
        .collect();
    assert!(
        !highlighted.is_empty() && highlighted.iter().all(|w| w.contains("build") || w.contains("py")),
        "no highlighted match in the snippet: {exec:#}"
    );
    assert!(!snippet.contains("<b>"), "{exec:#}");

    // `--kind` keeps to one kind; the exec hits are exactly the fixture's build.py execs.
    let execs = json(&["search", "build.py", "--kind", "exec", "--json", "--limit", "100", "--data", d]);
    assert!(execs.iter().all(|h| h["kind"] == "exec"));
    let want = read_trace(&fixture())
        .iter()
        .filter(|e| matches!(&e.body, model::EventBody::Exec(x) if x.argv.iter().any(|a| a.contains("build.py"))))
        .count();
    assert_eq!(execs.len(), want, "{execs:#?}");

    // A phrase from the agent's false claim finds its llm_call.
    let claim = json(&["search", "\"tests pass\"", "--kind", "llm_call", "--json", "--data", d]);
    assert!(!claim.is_empty(), "the claim is not searchable");

    // Nothing matches: an empty array with --json, a note for a person; exit 0 either way
    // (README, "Exit codes": finding nothing is not a failure).
    assert!(json(&["search", "zzzqqqxxx", "--json", "--data", d]).is_empty());
    let out = agentsight(&["search", "zzzqqqxxx", "--data", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing matches"), "{}", text(&out.stderr));
}

#[test]
fn ingesting_the_same_trace_twice_doubles_nothing() {
    let data = ingested();
    let d = data.path().to_str().unwrap();
    let before = json(&["findings", "--json", "--data", d]).len();
    let out = agentsight(&["ingest", "-q", fixture().to_str().unwrap(), "--data", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&["findings", "--json", "--data", d]).len(), before, "findings doubled");
    let execs = json(&["search", "", "--kind", "exec", "--json", "--limit", "1000", "--data", d]);
    let ids: HashSet<String> = execs.iter().map(|h| s(h, "id")).collect();
    assert_eq!(execs.len(), ids.len(), "an exec event is in the index twice");
    assert_eq!(ids, exec_ids(&fixture(), None), "the indexed execs are not the trace's");
}

#[test]
fn report_holds_the_findings() {
    let data = ingested();
    let d = data.path().to_str().unwrap();
    // the fixture's day, not a span back from now: that would run out one day
    let out = agentsight(&["report", "--since", "2026-11-24", "--data", d]);
    let md = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in ["loop", "contradiction", "python3 build.py", "20261124T013903Z-23803"] {
        assert!(md.contains(needle), "the report lacks `{needle}`:\n{md}");
    }
    let html = tempfile::NamedTempFile::new().unwrap();
    let out = agentsight(&[
        "report",
        "--since",
        "2026-11-24T00:00:00Z",
        "--format",
        "html",
        "-o",
        html.path().to_str().unwrap(),
        "--data",
        d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(html.path()).unwrap();
    assert!(page.to_lowercase().starts_with("<!doctype html") && page.contains("<td>contradiction</td>"), "{page}");
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();

    let out = agentsight(&["ingest", "/nonexistent/trace.jsonl", "--data", d]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("failed to open") && err.contains("/nonexistent/trace.jsonl"), "{err}");

    let garbage = data.path().join("garbage.jsonl");
    std::fs::write(&garbage, "not json\n{\"kind\":\"exec\"}\n\n[1,2]\n").unwrap();
    let out = agentsight(&["ingest", garbage.to_str().unwrap(), "--data", d]);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("3 lines were not events"), "{err}");
    assert!(err.contains("holds no events"), "{err}");

    // Good lines among bad ones are kept, and the bad ones counted.
    let mixed = data.path().join("mixed.jsonl");
    let mut body = std::fs::read_to_string(fixture()).unwrap();
    body.push_str("garbage\n");
    std::fs::write(&mixed, body).unwrap();
    let out = agentsight(&["ingest", mixed.to_str().unwrap(), "--data", d]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 lines were not events"), "{err}");

    let out = agentsight(&["search", "foo:(", "--data", d]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("invalid query"), "{}", text(&out.stderr));

    let empty = tempfile::tempdir().unwrap();
    let out = agentsight(&["findings", "--data", empty.path().to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("no index"), "{}", text(&out.stderr));
}

// ---------------------------------------------------------------------------------------------
// B. serve and its HTTP API

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A response: status and body.
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); enough for these tests.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> std::io::Result<Resp> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    conn.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let raw = text(&raw);
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_string() };
    Ok(Resp { status, body })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn get(port: u16, path: &str) -> Resp {
    http(port, "GET", path, None, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `agentsight serve`, killed (SIGKILL) on drop; its stderr goes to a log file.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve --data DATA --listen LISTEN [--config C]` and waits for `/healthz`.
    fn start(data: &Path, listen: &str, config: Option<&Path>, env: &[(&str, &str)]) -> Serve {
        let mut s = Serve::spawn(data, listen, config, env);
        let port = s.port;
        wait_for(Duration::from_secs(60), "serve to answer /healthz", || {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("serve exited with {status}: {}", s.log_text());
            }
            http(port, "GET", "/healthz", None, None).ok().filter(|r| r.status == 200)
        });
        s
    }

    fn spawn(data: &Path, listen: &str, config: Option<&Path>, env: &[(&str, &str)]) -> Serve {
        let port = listen.rsplit(':').next().unwrap().parse().unwrap();
        let log = data.with_extension(format!("serve-{port}-{}.log", std::process::id()));
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--data", data.to_str().unwrap(), "--listen", listen])
            .env_remove("AGENTSIGHT_TOKEN")
            .env_remove("AGENTSIGHT_CONFIG")
            .env_remove("AGENTSIGHT_JUDGE_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        Serve { child: cmd.spawn().unwrap(), port, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A counter or gauge from `/metrics` (the first line that starts with `name`).
    fn metric(&self, name: &str) -> Option<f64> {
        let r = http(self.port, "GET", "/metrics", None, None).ok()?;
        r.body.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The fixture cut into windows as a collector cuts them (default windowing).
fn fixture_windows() -> Vec<model::Window> {
    let mut w = model::windower::WindowerConfig::default().build();
    let mut out = Vec::new();
    for ev in read_trace(&fixture()) {
        out.extend(w.push(ev));
    }
    out.extend(w.finish());
    out
}

#[test]
fn serve_answers_health_ui_metrics_and_takes_windows_idempotently() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("store");
    let port = free_port();
    let serve = Serve::start(&store, &format!("127.0.0.1:{port}"), None, &[]);
    assert!(serve.log_text().contains("deterministic detectors only"), "{}", serve.log_text());

    assert_eq!(get(port, "/healthz").body.trim(), "ok");
    let ui = get(port, "/");
    assert_eq!(ui.status, 200);
    assert!(ui.body.to_lowercase().contains("<html"), "{}", &ui.body[..ui.body.len().min(300)]);
    let m = get(port, "/metrics");
    assert_eq!(m.status, 200);
    assert!(m.body.contains("agentsight_windows_received_total 0"), "{}", m.body);

    // The fixture's windows, posted twice (a collector resending after a lost answer).
    let windows = fixture_windows();
    assert!(windows.len() >= 3, "{} windows", windows.len());
    let body = serde_json::to_string(&windows).unwrap();
    let first = http(port, "POST", "/v1/windows", None, Some(&body)).unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["accepted"], windows.len());
    let again = http(port, "POST", "/v1/windows", None, Some(&body)).unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["duplicates"], windows.len(), "{}", again.body);
    assert_eq!(serve.metric("agentsight_windows_received_total"), Some((2 * windows.len()) as f64));
    // One registry: the version, and each POST's ingest time in a histogram in seconds.
    let m = get(port, "/metrics").body;
    assert!(m.contains(&format!("agentsight_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{m}");
    assert!(m.contains("# TYPE agentsight_ingest_seconds histogram"), "{m}");
    assert_eq!(serve.metric("agentsight_ingest_seconds_count"), Some(2.0), "{m}");
    assert!(m.contains("agentsight_webhook_delivery_seconds_bucket{le=\"1\"} 0"), "{m}");

    // Searchable after the commit interval; every exec once.
    let session = windows[0].session.clone();
    let want = exec_ids(&fixture(), Some(&session));
    let path = format!("/v1/search?query=&kind=exec&session={session}&limit=1000");
    let ids = wait_for(Duration::from_secs(10), "the windows to be searchable", || {
        let hits = get(port, &path).json();
        let hits = hits.as_array().unwrap().clone();
        let ids: Vec<String> = hits.iter().map(|h| s(h, "id")).collect();
        (ids.len() >= want.len()).then_some(ids)
    });
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len(), "an exec is indexed twice");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), want);

    let findings = get(port, &format!("/v1/findings?session={session}&limit=1000")).json();
    let findings = findings.as_array().unwrap();
    assert!(!of_kind(findings, "loop").is_empty() && !of_kind(findings, "contradiction").is_empty(), "{findings:#?}");
    let ids: HashSet<String> = findings.iter().map(|f| s(f, "finding_id")).collect();
    assert_eq!(ids.len(), findings.len(), "a finding is stored twice");

    // Bad bodies are refused with a reason, and counted nowhere as windows.
    let bad = http(port, "POST", "/v1/windows", None, Some("{not json")).unwrap();
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = http(port, "POST", "/v1/windows", None, Some(r#"{"window_id":1}"#)).unwrap();
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("not a window"), "{}", bad.body);
    assert_eq!(get(port, "/v1/sessions/no-such-session").status, 404);
}

#[test]
fn serve_off_loopback_needs_a_token_and_then_requires_it() {
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("store");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");

    let mut refused = Serve::spawn(&store, &listen, None, &[]);
    let status = refused.child.wait().unwrap();
    let log = refused.log_text();
    assert!(!status.success(), "serve listened on {listen} without a token: {log}");
    assert!(log.contains("refusing to listen") && log.contains("AGENTSIGHT_TOKEN"), "{log}");

    let serve = Serve::start(&store, &listen, None, &[("AGENTSIGHT_TOKEN", "x")]);
    assert!(serve.log_text().contains("bearer token required"), "{}", serve.log_text());
    assert_eq!(get(port, "/healthz").status, 200, "health checks need no token");
    assert_eq!(get(port, "/metrics").status, 401);
    assert_eq!(get(port, "/v1/findings").status, 401);
    let wrong = http(port, "GET", "/v1/findings", Some("y"), None).unwrap();
    assert_eq!(wrong.status, 401);
    let body = serde_json::to_string(&fixture_windows()).unwrap();
    assert_eq!(http(port, "POST", "/v1/windows", None, Some(&body)).unwrap().status, 401);
    assert_eq!(http(port, "GET", "/metrics", Some("x"), None).unwrap().status, 200);
    let ok = http(port, "POST", "/v1/windows", Some("x"), Some(&body)).unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// `agentsight eval` on a small labelled set made of the recorded demo: the scores, the JSON
/// report, and floors that pass and that fail.
#[test]
fn eval_scores_a_labelled_set_and_its_floors_can_fail() {
    let set = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(), set.path().join("demo.jsonl")).unwrap();
    let labels = |extra: &str| {
        format!(
            r#"{{"file":"demo.jsonl","agent":"openai-chat","clean":false,"labels":[{{"kind":"loop","turns":[1,13],"note":"build loop"}},{{"kind":"contradiction","turns":[1,13],"note":"tests pass"}}{extra}]}}"#
        ) + "\n"
    };
    std::fs::write(set.path().join("labels.jsonl"), labels("")).unwrap();
    let floors = set.path().join("floors.toml");
    std::fs::write(&floors, "max_false_alarm_rate = 0.0\n[f1]\nloop = 0.9\ncontradiction = 0.9\npersona_drift = 0.5\n")
        .unwrap();
    let dir = set.path().to_str().unwrap();
    let out = agentsight(&["eval", dir, "--floors", floors.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("1 sessions (0 clean)"), "{table}");

    let out = agentsight(&["eval", dir, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kinds"]["loop"]["true_positives"], 1, "{report:#}");
    assert_eq!(report["kinds"]["contradiction"]["f1"], 1.0, "{report:#}");

    // A label the detectors cannot find: persona drift scores 0 and the gate fails.
    std::fs::write(
        set.path().join("labels.jsonl"),
        labels(r#",{"kind":"persona_drift","turns":[1,2],"note":"none here"}"#),
    )
    .unwrap();
    let out = agentsight(&["eval", dir, "--floors", floors.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("persona_drift: F1 0.000 is below its floor 0.500"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("missed:"), "{}", text(&out.stdout));

    // Bad input is a clear error.
    std::fs::write(set.path().join("labels.jsonl"), "{not json\n").unwrap();
    let out = agentsight(&["eval", dir]);
    assert_eq!(out.status.code(), Some(2), "2: the set could not be evaluated");
    assert!(text(&out.stderr).contains("labels.jsonl"), "{}", text(&out.stderr));
}

/// The judge installed by `scripts/judge-setup` (llama-server and a small GGUF), if any.
fn local_judge() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("AGENTSIGHT_JUDGE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share/agentsight/judge")
    });
    let server = dir.join("llama-server");
    let model = ["qwen2.5-coder-0.5b-instruct.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]
        .iter()
        .map(|m| dir.join(m))
        .find(|m| m.is_file())?;
    server.is_file().then_some((server, model))
}

/// The whole judge path with a real model: `agentsight` starts llama.cpp's `llama-server` on a
/// loopback port, asks it about the recorded demo's windows under strict JSON schemas, and
/// stops it. Every gated question ends as a finding (with the model's name, the prompt and
/// the tokens) or as a recorded judge error, never silently.
#[test]
#[ignore = "needs llama-server and a GGUF model: scripts/judge-setup --model 0.5b (scripts/test runs it)"]
fn ingest_with_a_local_llama_server_judge() {
    let (server, model) = local_judge().expect("no local judge: run scripts/judge-setup --model 0.5b");
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[judge]\n[judge.local]\nserver = {:?}\nmodel = {:?}\n",
            server.display().to_string(),
            model.display().to_string()
        ),
    )
    .unwrap();
    let d = data.path().join("data");
    let started = Instant::now();
    let out = agentsight(&[
        "ingest",
        fixture().to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    eprintln!("ingest with a local judge took {:?}", started.elapsed());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let findings = json(&["findings", "--json", "--data", d.to_str().unwrap()]);
    let judged: Vec<&Value> = findings.iter().filter(|f| f["detector"] == "judge").collect();
    let errors = std::fs::read_to_string(d.join("judge_errors.jsonl")).unwrap_or_default();
    assert!(!judged.is_empty() || !errors.is_empty(), "the judge said nothing: {findings:#?}");
    let stem = model.file_stem().unwrap().to_string_lossy().to_string();
    for f in &judged {
        let j = &f["judge"];
        assert_eq!(j["model"], stem.as_str(), "{f:#}");
        assert!(s(j, "prompt_id").ends_with(".v2"), "{f:#}");
        assert!(j["input_tokens"].as_u64().unwrap() > 0, "{f:#}");
        let score = f["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{f:#}");
    }
    // The deterministic findings are all still there.
    assert!(!of_kind(&findings, "loop").is_empty() && !of_kind(&findings, "contradiction").is_empty());
    // No server is left running.
    let left = Command::new("pgrep").args(["-f", &model.display().to_string()]).output().unwrap();
    assert!(left.stdout.is_empty(), "llama-server still runs: {}", text(&left.stdout));
}

// ---------------------------------------------------------------------------------------------
// C. as root: the demo, and the whole shipping path with a judge and a webhook

fn root() {
    assert!(is_root(), "this test needs root: run it as root with `-- --ignored`");
}

#[test]
#[ignore = "needs root and BPF"]
fn demo_finds_the_loop_the_false_claim_and_the_persona_drift() {
    root();
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let started = Instant::now();
    let out = agentsight(&["demo", "--data", d]);
    let err = text(&out.stderr);
    eprintln!("demo took {:?}", started.elapsed());
    assert!(out.status.success(), "{err}");
    assert!(err.contains("only the deterministic detectors ran"), "{err}");
    let listed = err.split("findings:").nth(1).unwrap_or_else(|| panic!("no findings printed: {err}"));
    assert!(listed.contains("loop") && listed.contains("contradiction") && listed.contains("persona_drift"), "{err}");

    let findings = json(&["findings", "--json", "--data", d]);
    assert!(!of_kind(&findings, "loop").is_empty(), "{findings:#?}");
    assert!(!of_kind(&findings, "contradiction").is_empty(), "{findings:#?}");
    let drift = of_kind(&findings, "persona_drift");
    assert_eq!(drift.len(), 1, "{findings:#?}");
    let evidence = drift[0]["evidence"].to_string();
    assert!(evidence.contains("test_calc.py"), "the edit of the forbidden file is cited: {evidence}");
}

/// The demo's scripted model (`agentsight/demo/model.py`) over HTTPS with a throwaway CA.
struct Model {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Model {
    fn start() -> Model {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            let ok = Command::new("bash")
                .arg("-c")
                .arg(script)
                .current_dir(d)
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "openssl failed: {script}");
        };
        sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=agentsight test CA'");
        sh("openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost'");
        sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext");
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../agentsight/demo");
        let mut child = Command::new("python3")
            .arg(demo.join("model.py"))
            .arg(d.join("srv.pem"))
            .arg(d.join("srv.key"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("model said {line:?}"));
        std::fs::create_dir(d.join("scratch")).unwrap();
        Model { child, port, dir }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A webhook delivery as the receiver saw it.
#[derive(Clone)]
struct Hook {
    at_ns: u64,
    signature: Option<String>,
    body: Vec<u8>,
}

/// The judge stand-in (OpenAI chat completions, always the same verdict) and the webhook
/// receiver, on 127.0.0.1 in a runtime of the test's own.
struct Stubs {
    _runtime: tokio::runtime::Runtime,
    judge_port: u16,
    hook_port: u16,
    judge_calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
    hooks: std::sync::Arc<std::sync::Mutex<Vec<Hook>>>,
}

impl Stubs {
    fn start() -> Stubs {
        use axum::routing::post;
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let judge_calls = Arc::new(AtomicU64::new(0));
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let calls = judge_calls.clone();
        let judge = axum::Router::new().route(
            "/v1/chat/completions",
            post(move |axum::Json(req): axum::Json<Value>| {
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::Relaxed);
                    let verdict = r#"{"score":0.85,"rationale":"stand-in verdict","evidence":[]}"#;
                    axum::Json(serde_json::json!({
                        "id": "chatcmpl-standin", "object": "chat.completion", "created": 1,
                        "model": req["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": verdict}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    }))
                }
            }),
        );
        let got = hooks.clone();
        let hook = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let got = got.clone();
                async move {
                    let signature =
                        headers.get("x-agentsight-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    got.lock().unwrap().push(Hook { at_ns: now_ns(), signature, body: body.to_vec() });
                    "ok"
                }
            }),
        );
        let (judge_port, hook_port) = runtime.block_on(async {
            let mut ports = Vec::new();
            for app in [judge, hook] {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                ports.push(l.local_addr().unwrap().port());
                tokio::spawn(async move { axum::serve(l, app).await });
            }
            (ports[0], ports[1])
        });
        Stubs { _runtime: runtime, judge_port, hook_port, judge_calls, hooks }
    }

    fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }
}

fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn spool_files(spool: &Path) -> usize {
    fn count(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
            .unwrap_or(0)
    }
    count(spool)
}

#[test]
#[ignore = "needs root and BPF"]
fn collect_ships_through_a_killed_analyzer_to_the_judge_and_a_signed_webhook() {
    root();
    let stubs = Stubs::start();
    let model = Model::start();
    let tmp = tempfile::tempdir().unwrap();
    let (store, spool, trace) = (tmp.path().join("store"), tmp.path().join("spool"), tmp.path().join("trace.jsonl"));
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "commit_interval_ms = 200\n\
             [judge]\nbase_url = \"http://127.0.0.1:{}/v1\"\nmodel = \"stand-in\"\nbackoff_ms = 50\n\
             [webhooks]\nbackoff_ms = 50\n\
             [[webhooks.rules]]\nname = \"t\"\nurl = \"http://127.0.0.1:{}/hook\"\nkind = \"loop\"\nmin_score = 0.5\nsecret_env = \"AS_TEST_SECRET\"\n",
            stubs.judge_port, stubs.hook_port
        ),
    )
    .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = [("AS_TEST_SECRET", "s")];
    let mut serve = Serve::start(&store, &listen, Some(&config), &env);
    assert!(serve.log_text().contains("LLM judge `stand-in`"), "{}", serve.log_text());

    let collect_log = tmp.path().join("collect.log");
    let started = Instant::now();
    let mut collect = Command::new(bin())
        .args(["collect", "--ship", &format!("http://127.0.0.1:{port}"), "--spool", spool.to_str().unwrap()])
        .args(["-o", trace.to_str().unwrap(), "--"])
        .arg("env")
        .arg(format!("SSL_CERT_FILE={}", model.dir.path().join("ca.pem").display()))
        .arg("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../agentsight/demo/agent.py"))
        .arg(format!("https://localhost:{}/v1", model.port))
        .arg(model.dir.path().join("scratch"))
        .env_remove("AGENTSIGHT_TOKEN")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&collect_log).unwrap())
        .spawn()
        .unwrap();

    // Kill the analyzer as soon as it has acknowledged a window, and bring it back a second later.
    let log = || std::fs::read_to_string(&collect_log).unwrap_or_default();
    wait_for(Duration::from_secs(120), "the first window at the analyzer", || {
        serve.metric("agentsight_windows_received_total").filter(|n| *n >= 1.0)
    });
    let killed_at = started.elapsed();
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let restarted = Serve::start(&store, &listen, Some(&config), &env);
    drop(std::mem::replace(&mut serve, restarted));
    eprintln!("analyzer killed {killed_at:?} after collect started; restarted");

    let status = wait_for(Duration::from_secs(180), "collect to finish", || collect.try_wait().unwrap());
    let collect_took = started.elapsed();
    assert!(status.success(), "collect: {status}: {}", log());
    wait_for(Duration::from_secs(60), "the spool to empty", || (spool_files(&spool) == 0).then_some(()));
    let received = serve.metric("agentsight_windows_received_total").unwrap_or(0.0);
    assert!(received >= 1.0, "the restarted analyzer received no window; collect said: {}", log());

    let events = read_trace(&trace);
    let session = events.first().expect("an empty trace").session.clone();
    let findings = wait_for(Duration::from_secs(60), "deterministic and judge findings", || {
        let r = http(port, "GET", &format!("/v1/findings?session={session}&limit=1000"), None, None).ok()?;
        let all = r.json().as_array()?.clone();
        let has =
            |kind: &str, judge: bool| all.iter().any(|f| f["kind"] == kind && (f["detector"] == "judge") == judge);
        (has("loop", false) && has("contradiction", false) && has("loop", true)).then_some(all)
    });
    let judged: Vec<&Value> = findings.iter().filter(|f| f["detector"] == "judge").collect();
    for f in &judged {
        assert_eq!(f["judge"]["model"], "stand-in", "{f:#}");
        assert_eq!(f["score"].as_f64(), Some(0.85), "{f:#}");
        assert_eq!(f["rationale"], "stand-in verdict", "{f:#}");
    }
    assert!(stubs.judge_calls.load(std::sync::atomic::Ordering::Relaxed) >= judged.len() as u64);

    // The webhook: a loop finding, signed over the exact body.
    let hooks = wait_for(Duration::from_secs(30), "a webhook delivery", || {
        let h = stubs.hooks();
        (!h.is_empty()).then_some(h)
    });
    for h in &hooks {
        let body: Value = serde_json::from_slice(&h.body).unwrap();
        assert_eq!(body["finding"]["kind"], "loop", "{body:#}");
        assert_eq!(body["rule"], "t");
        let sig = h.signature.as_deref().unwrap_or_else(|| panic!("unsigned delivery: {body:#}"));
        assert!(verify_signature(b"s", &h.body, sig), "bad signature `{sig}`");
        assert!(!verify_signature(b"not-s", &h.body, sig));
    }

    // No event doubled, though windows overlap and some were sent twice around the kill.
    let hits = get(port, &format!("/v1/search?query=&kind=exec&session={session}&limit=1000")).json();
    let hits = hits.as_array().unwrap();
    let ids: HashSet<String> = hits.iter().map(|h| s(h, "id")).collect();
    assert_eq!(hits.len(), ids.len(), "an exec event is indexed twice");
    assert_eq!(ids, exec_ids(&trace, Some(&session)), "the indexed execs are not the recorded ones");

    // Latency for the benchmark note: window end (last event of the finding's window) to delivery.
    let mut windower = model::windower::WindowerConfig::default().build();
    let mut ends = std::collections::HashMap::new();
    for ev in events {
        for w in windower.push(ev) {
            ends.insert(w.window_id.clone(), w.end_ns);
        }
    }
    for w in windower.finish() {
        ends.insert(w.window_id.clone(), w.end_ns);
    }
    for h in &hooks {
        let body: Value = serde_json::from_slice(&h.body).unwrap();
        let f = &body["finding"];
        let made = f["ts_ns"].as_u64().unwrap_or(0);
        match ends.get(f["window_id"].as_str().unwrap_or_default()) {
            Some(end) => eprintln!(
                "webhook latency: {} ({}): window end -> delivered {:.0} ms; finding made -> delivered {:.0} ms",
                f["finding_id"].as_str().unwrap_or_default(),
                f["detector"].as_str().unwrap_or_default(),
                h.at_ns.saturating_sub(*end) as f64 / 1e6,
                h.at_ns.saturating_sub(made) as f64 / 1e6,
            ),
            None => eprintln!("webhook latency: window {} not recomputed", f["window_id"]),
        }
    }
    eprintln!(
        "collect ran {collect_took:?}; {} findings ({} by the judge), {} judge calls, {} webhook deliveries",
        findings.len(),
        judged.len(),
        stubs.judge_calls.load(std::sync::atomic::Ordering::Relaxed),
        hooks.len()
    );
}

// ---------------------------------------------------------------------------------------------
// D. hardening: hostile queries, a full disk, damaged traces

/// The fixture with `edit` applied to its lines (one `String` per line, newline included).
fn fixture_with(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> PathBuf {
    let mut lines: Vec<Vec<u8>> =
        std::fs::read(fixture()).unwrap().split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    edit(&mut lines);
    let path = dir.join(name);
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// Every event id the index of `data` holds (at most 1000).
fn indexed_event_ids(data: &str) -> HashSet<String> {
    json(&["search", "", "--json", "--limit", "1000", "--data", data])
        .iter()
        .filter(|h| h["doc"] == "event")
        .map(|h| s(h, "id"))
        .collect()
}

/// The ids of the fixture's events.
fn fixture_event_ids() -> HashSet<String> {
    read_trace(&fixture()).iter().map(model::Event::id).collect()
}

#[test]
fn ingest_skips_invalid_utf8_line_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_with(dir.path(), "utf8.jsonl", |lines| {
        lines.insert(100, b"{\"ts_ns\":1,\"comm\":\"\xff\xfe\"}\n".to_vec());
    });
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", d]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("line 101 is not valid UTF-8"), "{err}");
    assert!(err.contains("1 lines were not valid UTF-8 and were skipped"), "{err}");
    // Every event, the ones after the bad line too, reached the index.
    assert_eq!(indexed_event_ids(d), fixture_event_ids());
}

#[test]
fn ingest_skips_overlong_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_with(dir.path(), "long.jsonl", |lines| {
        let mut long = b"{\"ts_ns\":1,\"comm\":\"".to_vec();
        long.resize(long.len() + (3 << 20), b'x');
        long.extend_from_slice(b"\"}\n");
        lines.insert(50, long);
    });
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--max-line-bytes", "1048576", "--data", d]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("line 51 is 3145750 bytes long, over the 1048576-byte cap"), "{err}");
    assert!(err.contains("1 lines were longer than 1048576 bytes and were skipped"), "{err}");
    assert_eq!(indexed_event_ids(d), fixture_event_ids());
}

/// `argv_bytes` is derived and not in the event contract; a trace without it is ingested whole.
#[test]
fn exec_without_argv_bytes_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut stripped = 0;
    let trace = fixture_with(dir.path(), "no-argv-bytes.jsonl", |lines| {
        for line in lines.iter_mut() {
            let mut ev: Value = serde_json::from_slice(line).unwrap();
            if ev["kind"] == "exec" && ev.as_object_mut().unwrap().remove("argv_bytes").is_some() {
                stripped += 1;
                *line = serde_json::to_vec(&ev).unwrap();
                line.push(b'\n');
            }
        }
    });
    assert!(stripped > 5, "{stripped}");
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", d]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("skipped"), "{err}");
    assert_eq!(indexed_event_ids(d), fixture_event_ids());
    let findings = json(&["findings", "--json", "--data", d]);
    assert!(!of_kind(&findings, "loop").is_empty(), "{findings:#?}");
    // The derived field is filled in from argv.
    let execs = json(&["search", "build.py", "--kind", "exec", "--json", "--data", d]);
    let argv_bytes = execs[0]["event"]["argv_bytes"].as_u64().unwrap_or_default();
    assert!(argv_bytes > 0, "{:#}", execs[0]);
}

#[test]
fn ingest_of_nothing_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let ingest = |name: &str, body: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = agentsight(&["ingest", path.to_str().unwrap(), "--data", d]);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{name}: {err}");
        err
    };
    assert!(ingest("empty.jsonl", b"").contains("holds no events"));
    assert!(ingest("blank.jsonl", b"\n\n  \n").contains("holds no events"));
    let err = ingest("bytes.jsonl", b"\xff\xfe\n");
    assert!(err.contains("1 lines were not valid UTF-8") && err.contains("holds no events"), "{err}");
    // Events, but every window is refused (no session): nothing was ingested.
    let orphans: Vec<u8> = std::fs::read(fixture())
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|l| {
            let mut ev: Value = serde_json::from_slice(l).unwrap();
            ev["session"] = Value::from("");
            let mut line = serde_json::to_vec(&ev).unwrap();
            line.push(b'\n');
            line
        })
        .collect();
    let err = ingest("orphans.jsonl", &orphans);
    assert!(err.contains("nothing from") && err.contains("was ingested"), "{err}");
}

/// Regression: a query nested ~2,200 parentheses deep overflowed the stack in tantivy's
/// parser; `serve` and the `search` CLI aborted. Both refuse it with a clear message.
#[test]
fn deeply_nested_query_is_refused_not_a_crash() {
    let data = ingested();
    let d = data.path().to_str().unwrap();
    let nested = format!("{}a{}", "(".repeat(2500), ")".repeat(2500));
    let out = agentsight(&["search", &nested, "--data", d]);
    let err = text(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c != 0), "fails, not killed by a signal: {err}");
    assert!(err.contains("invalid query") && err.contains("nests deeper than 32"), "{err}");

    let port = free_port();
    let _serve = Serve::start(data.path(), &format!("127.0.0.1:{port}"), None, &[]);
    let encoded = nested.replace('(', "%28").replace(')', "%29");
    let r = get(port, &format!("/v1/search?query={encoded}"));
    assert_eq!(r.status, 400, "{}", r.body);
    let message = s(&r.json(), "error");
    assert!(message.contains("nests deeper than 32"), "{message}");
    assert!(message.len() < 400, "the query is not echoed whole: {message}");
    let long = format!("/v1/search?query={}", "a%20".repeat(10_000));
    assert_eq!(get(port, &long).status, 400);
    assert_eq!(get(port, "/healthz").status, 200, "serve is still up");
    assert_eq!(get(port, "/v1/search?query=build.py").status, 200);
}

/// `mount -t tmpfs` of `size` at `at`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A fixture window as if it came from session `session`.
fn rekeyed(w: &model::Window, session: &str) -> model::Window {
    let mut w = w.clone();
    w.session = session.to_string();
    w.window_id = model::window_id(session, w.seq);
    for ev in w.events.iter_mut().chain(w.context.history.iter_mut()) {
        ev.session = session.to_string();
    }
    w
}

/// Regression: a failed append left partial bytes that the next acknowledged window was glued
/// to (dropped at replay), and after ENOSPC the index stopped taking documents while later
/// commits recorded a log offset past them. On a small tmpfs: fill it, post until refused,
/// free it, post more, kill and restart `serve`: every acknowledged window is in the log and in
/// the index, and nothing refused was kept.
#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn a_full_disk_loses_no_acknowledged_window() {
    root();
    let base = tempfile::tempdir().unwrap();
    let disk = base.path().join("disk");
    let _tmpfs = Tmpfs::mount(&disk, "4m");
    let config = base.path().join("config.toml");
    std::fs::write(&config, "commit_interval_ms = 50\n").unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serve = Serve::start(&disk, &listen, Some(&config), &[]);

    // Leave a little room: some windows fit, then appends and index commits fail.
    let filler = disk.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 << 10];
    for _ in 0..(3 << 20) / chunk.len() + 4 {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    drop(f);

    let windows = fixture_windows();
    let (mut acked, mut refused, mut n) = (Vec::new(), 0, 0);
    let post = |n: &mut usize| {
        let w = rekeyed(&windows[*n % windows.len()], &format!("disk-{n}"));
        *n += 1;
        let r = http(port, "POST", "/v1/windows", None, Some(&serde_json::to_string(&w).unwrap())).unwrap();
        (w, r)
    };
    while refused < 30 && n < 3000 {
        let (w, r) = post(&mut n);
        match r.status {
            200 => acked.push(w),
            s if s >= 500 => {
                refused += 1;
                // Give the committer time to try (and fail) while the disk is full.
                std::thread::sleep(Duration::from_millis(20));
            }
            s => panic!("{s}: {}", r.body),
        }
    }
    let acked_while_filling = acked.len();
    assert!(refused > 0, "the disk never filled: {acked_while_filling} windows taken");

    std::fs::remove_file(&filler).unwrap();
    for _ in 0..40 {
        let (w, r) = post(&mut n);
        assert_eq!(r.status, 200, "with room again: {}", r.body);
        acked.push(w);
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(serve);

    let serve = Serve::start(&disk, &listen, Some(&config), &[]);
    let logged: Vec<Value> = std::fs::read_to_string(disk.join("windows.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a damaged line ({e}): {l:.200}")))
        .collect();
    // A line is a window, or `{"window", "texts"}` when its long texts are in texts.log.
    let logged: Vec<String> = logged.iter().map(|w| s(w.get("window").unwrap_or(w), "window_id")).collect();
    let want: Vec<String> = acked.iter().map(|w| w.window_id.clone()).collect();
    assert_eq!(logged, want, "the log holds exactly the acknowledged windows, in order");
    assert_eq!(serve.metric("agentsight_dropped_total{reason=\"log_bad_line\"}"), Some(0.0));

    let sessions = get(port, "/v1/sessions").json();
    let events: std::collections::HashMap<String, u64> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s["events"].as_u64().unwrap()))
        .collect();
    let missing: Vec<&str> = acked
        .iter()
        .filter(|w| events.get(&w.session).copied() != Some((w.events.len() - w.overlap_events) as u64))
        .map(|w| w.window_id.as_str())
        .collect();
    assert!(missing.is_empty(), "acknowledged but not (wholly) indexed: {missing:?}");
    assert_eq!(events.len(), acked.len(), "a refused window was indexed: {events:?}");
    println!(
        "full disk: {acked_while_filling} windows acknowledged before the disk filled, {refused} refused \
         (5xx), {} acknowledged after it was freed; after the restart {} in the log and {} in the index",
        acked.len() - acked_while_filling,
        logged.len(),
        events.len()
    );
}

// ---------------------------------------------------------------------------------------------
// E. promises of the README: a webhook's saved search, `report --since`

#[test]
fn webhook_saved_search_fires_only_for_findings_whose_window_matches() {
    let stubs = Stubs::start();
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = (tmp.path().join("data"), tmp.path().join("config.toml"));
    let hook = format!("http://127.0.0.1:{}/hook", stubs.hook_port);
    // Any kind and score, no cool-down: only the saved search tells the rules apart.
    std::fs::write(
        &config,
        format!(
            "[webhooks]\nbackoff_ms = 50\n\
             [[webhooks.rules]]\nname = \"builds\"\nurl = \"{hook}\"\nquery = \"argv:build.py\"\ncooldown_s = 0\n\
             [[webhooks.rules]]\nname = \"nothing\"\nurl = \"{hook}\"\nquery = \"argv:no_such_program_7f3a9\"\ncooldown_s = 0\n\
             [[webhooks.rules]]\nname = \"all\"\nurl = \"{hook}\"\ncooldown_s = 0\n"
        ),
    )
    .unwrap();
    let (d, c) = (data.to_str().unwrap(), config.to_str().unwrap());
    let out = agentsight(&["ingest", "-q", fixture().to_str().unwrap(), "--data", d, "--config", c]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let findings = json(&["findings", "--json", "--data", d]);
    assert!(findings.len() >= 2, "the fixture's loop and false claim: {findings:#?}");

    // What the search must pick, worked out from the trace itself: findings whose window (its
    // own events, not the turn it repeats from the window before) runs `build.py`.
    let windows = fixture_windows();
    let runs_build = |window_id: &str| {
        let w = windows.iter().find(|w| w.window_id == window_id).unwrap_or_else(|| panic!("no window `{window_id}`"));
        w.events[w.overlap_events..]
            .iter()
            .any(|e| matches!(&e.body, model::EventBody::Exec(x) if x.argv.iter().any(|a| a.ends_with("build.py"))))
    };
    let ids = |pick: &dyn Fn(&Value) -> bool| -> Vec<String> {
        let mut v: Vec<String> = findings.iter().filter(|f| pick(f)).map(|f| s(f, "finding_id")).collect();
        v.sort();
        v
    };
    let want_all = ids(&|_| true);
    let want_builds = ids(&|f| runs_build(&s(f, "window_id")));
    assert!(
        !want_builds.is_empty() && want_builds.len() < want_all.len(),
        "the fixture no longer tells the rules apart: {want_builds:?} of {want_all:?}"
    );

    // `ingest` sends its deliveries before it exits; wait a little for any stray one all the same.
    std::thread::sleep(Duration::from_millis(300));
    let mut got: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for h in stubs.hooks() {
        let body: Value = serde_json::from_slice(&h.body).unwrap();
        got.entry(s(&body, "rule")).or_default().push(s(&body["finding"], "finding_id"));
    }
    for v in got.values_mut() {
        v.sort();
    }
    assert_eq!(got.get("all"), Some(&want_all), "the rule without a search: every finding, once");
    assert_eq!(got.get("builds"), Some(&want_builds), "the saved search: exactly the findings of matching windows");
    assert_eq!(got.get("nothing"), None, "a search that matches no window sends nothing");
}

/// The fixture with every timestamp moved so that it starts `ago` before now.
fn fixture_moved_to(dir: &Path, ago: Duration) -> PathBuf {
    let events: Vec<Value> =
        std::fs::read_to_string(fixture()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let first = events.iter().filter_map(|e| e["ts_ns"].as_u64()).min().unwrap();
    let shift = now_ns() - ago.as_nanos() as u64 - first;
    let mut out = String::new();
    for mut e in events {
        e["ts_ns"] = (e["ts_ns"].as_u64().unwrap() + shift).into();
        out.push_str(&e.to_string());
        out.push('\n');
    }
    let path = dir.join("moved.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

/// `report --since SINCE`: its sessions and findings counts, and the Markdown.
fn report_counts(data: &str, since: &str) -> (u64, u64, String) {
    let out = agentsight(&["report", "--since", since, "--data", data]);
    let md = text(&out.stdout);
    assert!(out.status.success(), "--since {since}: {}", text(&out.stderr));
    let line = md.lines().find(|l| l.contains(" sessions, ")).unwrap_or_else(|| panic!("no counts:\n{md}"));
    let count = |what: &str| -> u64 {
        let before = line.split(&format!(" {what}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("`{what}` in `{line}`"))
    };
    (count("sessions"), count("findings"), md)
}

#[test]
fn report_since_a_duration_keeps_only_the_period() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = fixture_moved_to(tmp.path(), Duration::from_secs(2 * 3600));
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let out = agentsight(&["ingest", "-q", trace.to_str().unwrap(), "--data", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = json(&["findings", "--json", "--data", d]).len() as u64;
    assert!(all >= 2);
    for (since, sessions, findings) in
        [("3h", 1, all), ("1d", 1, all), ("180m", 1, all), ("1h", 0, 0), ("30m", 0, 0), ("3600s", 0, 0)]
    {
        let (s, f, md) = report_counts(d, since);
        assert_eq!((s, f), (sessions, findings), "--since {since}:\n{md}");
        assert_eq!(md.contains("20261124T013903Z-23803"), sessions == 1, "--since {since}:\n{md}");
    }
    let out = agentsight(&["report", "--since", "2 hours", "--data", d]);
    assert_eq!(out.status.code(), Some(2), "a bad duration is a usage error");
    let err = text(&out.stderr);
    assert!(err.contains("`2 hours`: the unit must be s, m, h or d"), "{err}");
}

#[test]
fn report_since_a_time_keeps_only_what_follows_it() {
    // The fixture's session runs from 2026-11-24T01:39:04Z; its loop is found at 01:39:05.9 and
    // its false claim at 01:39:06.35.
    let data = ingested();
    let d = data.path().to_str().unwrap();
    let all = json(&["findings", "--json", "--data", d]);
    let after = |ts: u64| all.iter().filter(|f| f["ts_ns"].as_u64().unwrap() >= ts).count() as u64;
    let cases = [
        ("2026-11-24", 1, all.len() as u64),
        ("2026-11-24T00:00:00Z", 1, all.len() as u64),
        ("2026-11-24T02:39:00+01:00", 1, all.len() as u64),
        ("2026-11-24T01:39:06Z", 1, after(1_795_484_346_000_000_000)),
        ("2026-11-24T01:40:00Z", 0, 0),
        ("2026-11-25", 0, 0),
    ];
    for (since, sessions, findings) in cases {
        let (s, f, md) = report_counts(d, since);
        assert_eq!((s, f), (sessions, findings), "--since {since}:\n{md}");
    }
    let mid = after(1_795_484_346_000_000_000);
    assert!(0 < mid && mid < all.len() as u64, "01:39:06 falls between the fixture's findings: {all:#?}");
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry export to a real receiver: Arize Phoenix from PyPI.

/// `phoenix serve` from the virtualenv `scripts/test` installs it in, on free ports and a fresh
/// working directory; killed on drop.
struct Phoenix {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Phoenix {
    /// `None` (SKIPPED) when Phoenix is not installed, except under CI, where that fails.
    fn start() -> Option<Phoenix> {
        let venv = std::env::var_os("AGENTSIGHT_PHOENIX_VENV").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share/agentsight/phoenix")
        });
        let exe = venv.join("bin/phoenix");
        if !exe.exists() {
            assert!(
                std::env::var("CI").is_err(),
                "Arize Phoenix is not installed in {} (scripts/test installs it)",
                venv.display()
            );
            eprintln!("SKIPPED: Arize Phoenix is not installed in {} (scripts/test installs it)", venv.display());
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("phoenix.log")).unwrap();
        let child = Command::new(exe)
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", dir.path().join("wd"))
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", free_port().to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut p = Phoenix { child, port, _dir: dir };
        wait_for(Duration::from_secs(120), "Phoenix to answer /healthz", || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("phoenix exited with {status}: {}", p.log());
            }
            http(port, "GET", "/healthz", None, None).ok().filter(|r| r.status == 200)
        });
        Some(p)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("phoenix.log")).unwrap_or_default()
    }

    /// The spans of `project` as Phoenix's REST API returns them (inserted asynchronously:
    /// polled until `want` returns true).
    fn spans(&self, project: &str, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let path = format!("/v1/projects/{project}/spans?limit=1000");
        wait_for(Duration::from_secs(60), &format!("the spans of `{project}` in Phoenix"), || {
            // 404 until the first span of the project is inserted.
            let r = http(self.port, "GET", &path, None, None).ok().filter(|r| r.status == 200)?;
            let spans = r.json().get("data")?.as_array()?.clone();
            want(&spans).then_some(spans)
        })
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    &span["attributes"][key]
}

fn real_trace(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../evals/real").join(name)
}

/// A recorded Claude Code session (it ran the tests, they failed, it said they pass) exported
/// with `agentsight export` and read back from Phoenix's API: one trace whose root is the
/// `invoke_agent` span, `chat` spans with model and token usage, the `Bash` tool call as an
/// `execute_tool` span with the failing test run as an ERROR child carrying its exit code, and
/// the contradiction as a `gen_ai.evaluation.result` event. Sent again, nothing doubles. Then
/// `serve` with `[export]` sends a second session (a loop) on its own.
#[test]
#[ignore = "needs Arize Phoenix from PyPI (scripts/test installs it); run by .ci/run with --ignored"]
fn sessions_reach_arize_phoenix_as_genai_spans_with_evaluations() {
    let Some(phoenix) = Phoenix::start() else { return };
    let url = format!("http://127.0.0.1:{}", phoenix.port);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_s = data.to_str().unwrap();
    let trace = real_trace("real-claude-code-contra-tests.jsonl.gz");
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", data_s, "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = agentsight(&["export", "--otlp", &url, "--project", "cli", "--data", data_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let n: usize = said
        .strip_prefix("exported 1 sessions (")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(said.contains(", 1 evaluations)"), "{said}");
    let spans = phoenix.spans("cli", |s| s.len() >= n);
    assert_eq!(spans.len(), n, "every span arrived once");

    let by_op = |op: &str| -> Vec<&Value> { spans.iter().filter(|s| attr(s, "gen_ai.operation.name") == op).collect() };
    let roots = by_op("invoke_agent");
    assert_eq!(roots.len(), 1, "{spans:#?}");
    let root = roots[0];
    let root_id = root["context"]["span_id"].as_str().unwrap();
    let trace_id = root["context"]["trace_id"].as_str().unwrap();
    assert!(root["parent_id"].is_null());
    assert_eq!(attr(root, "gen_ai.agent.name"), "claude");
    assert!(attr(root, "gen_ai.conversation.id").as_str().is_some_and(|s| !s.is_empty()));
    assert!(spans.iter().all(|s| s["context"]["trace_id"] == trace_id), "one trace");

    let chats = by_op("chat");
    assert!(chats.len() >= 2, "{chats:#?}");
    for c in &chats {
        assert_eq!(c["parent_id"], root_id);
        assert!(attr(c, "gen_ai.request.model").as_str().is_some_and(|m| m.starts_with("claude")), "{c:#}");
        assert!(attr(c, "gen_ai.usage.input_tokens").as_u64().is_some_and(|t| t > 0), "{c:#}");
        assert!(attr(c, "gen_ai.usage.output_tokens").as_u64().is_some_and(|t| t > 0), "{c:#}");
    }

    let tools = by_op("execute_tool");
    let bash = tools.iter().find(|t| attr(t, "gen_ai.tool.name") == "Bash").unwrap_or_else(|| panic!("{tools:#?}"));
    assert_eq!(bash["status_code"], "ERROR", "{bash:#}");
    let bash_id = bash["context"]["span_id"].as_str().unwrap();
    let test_run = spans
        .iter()
        .find(|s| {
            s["parent_id"] == bash_id
                && attr(s, "process.command_line").as_str().is_some_and(|c| c.contains("unittest"))
        })
        .unwrap_or_else(|| panic!("no test run under the Bash call: {spans:#?}"));
    assert_eq!(attr(test_run, "process.exit.code"), 1);
    assert_eq!(test_run["status_code"], "ERROR");

    let evaluations: Vec<&Value> = spans
        .iter()
        .flat_map(|s| s["events"].as_array().into_iter().flatten())
        .filter(|e| e["name"] == "gen_ai.evaluation.result")
        .collect();
    assert_eq!(evaluations.len(), 1, "{evaluations:#?}");
    let e = &evaluations[0]["attributes"];
    assert_eq!(e["gen_ai.evaluation.name"], "contradiction");
    assert!(e["gen_ai.evaluation.score.value"].as_f64().is_some_and(|v| v >= 0.5), "{e:#}");
    assert!(e["gen_ai.evaluation.explanation"].as_str().is_some_and(|x| x.contains("exited 1")), "{e:#}");

    // Sent again: the same ids, so Phoenix keeps one copy.
    let out = agentsight(&["export", "--otlp", &url, "--project", "cli", "--data", data_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phoenix.spans("cli", |_| true).len(), n, "a second export doubled nothing");

    // serve with [export]: the loop session goes out on its own once quiet.
    let served = tmp.path().join("served");
    let trace = real_trace("real-claude-code-loop.jsonl.gz");
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", served.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[export]\notlp = \"{url}/v1/traces\"\nproject = \"served\"\nidle_secs = 0\ninterval_secs = 1\n"),
    )
    .unwrap();
    let serve = Serve::start(&served, &format!("127.0.0.1:{}", free_port()), Some(&config), &[]);
    let spans = phoenix.spans("served", |s| {
        s.iter().any(|s| {
            s["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["attributes"]["gen_ai.evaluation.name"] == "loop"))
        })
    });
    assert!(spans.iter().any(|s| attr(s, "gen_ai.operation.name") == "invoke_agent"));
    wait_for(Duration::from_secs(10), "the export counted", || {
        serve.metric("agentsight_otlp_sessions_exported_total").filter(|n| *n >= 1.0)
    });
    assert_eq!(serve.metric("agentsight_otlp_export_failures_total"), Some(0.0), "{}", serve.log_text());
}

/// `findings` says first what the capture missed: a session whose TLS was not captured has no
/// findings about its LLM calls, and must not read as a clean one.
#[test]
fn findings_lists_coverage_warnings_first() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_with(dir.path(), "lossy.jsonl", |lines| {
        let first: Value = serde_json::from_slice(&lines[0]).unwrap();
        let loss = serde_json::json!({
            "ts_ns": first["ts_ns"].as_u64().unwrap() + 1,
            "session": first["session"],
            "pid": 4242, "tid": 4242, "ppid": 1, "comm": "codex",
            "kind": "loss", "source": "tls", "count": 1,
            "reason": "pid 4242 `codex`: TLS via rustls, not captured",
        });
        lines.insert(1, format!("{loss}\n").into_bytes());
    });
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", data, "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = agentsight(&["findings", "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let (head, rest) = said.split_once("\n\n").unwrap_or_else(|| panic!("{said}"));
    assert!(head.starts_with("! session ") && head.contains("TLS via rustls, not captured"), "{said}");
    assert!(rest.contains("contradiction"), "the findings follow: {said}");
    // Another session's filter shows none of it.
    let out = agentsight(&["findings", "--data", data, "--session", "no-such-session"]);
    assert!(!text(&out.stdout).contains("rustls"), "{}", text(&out.stdout));
}

/// Each line of `data/windows.log` as the window JSON it holds (a long line is stored
/// compressed: `{"window_id", "session", "zlib"}`, zlib in base64).
fn windows_log(data: &Path) -> Vec<String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let log = std::fs::read_to_string(data.join("windows.log")).unwrap();
    log.lines()
        .map(|line| {
            match serde_json::from_str::<Value>(line).ok().and_then(|v| v["zlib"].as_str().map(str::to_owned)) {
                Some(z) => {
                    let deflated = base64::engine::general_purpose::STANDARD.decode(z).expect("base64");
                    let mut json = String::new();
                    flate2::read::ZlibDecoder::new(deflated.as_slice()).read_to_string(&mut json).expect("zlib");
                    json
                }
                None => line.to_owned(),
            }
        })
        .collect()
}

/// A 40-turn conversation recorded in full (every request resends the history, as agents do,
/// and as traces made before compaction hold them): after `ingest`, a message is found once,
/// in the call that first sent it, and the stored requests say what they continue.
#[test]
fn ingest_keeps_each_message_once_and_search_finds_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("long.jsonl");
    let t0 = 1_800_000_000_000_000_000u64;
    let mut lines = Vec::new();
    let mut messages = vec![serde_json::json!({"role": "user", "content": "please fix the zanzibar parser"})];
    let tools = serde_json::json!([{"name": "Bash", "description": "run a command", "parameters": {"type": "object"}}]);
    for t in 0..40u64 {
        let call = serde_json::json!({
            "ts_ns": t0 + t * 1_000_000_000, "session": "long-1", "pid": 10, "tid": 10, "ppid": 1, "comm": "agent",
            "kind": "llm_call", "provider": "anthropic", "api": "messages", "url": "https://api.anthropic.com/v1/messages",
            "model": "claude-x", "request": {"system": "You are a coding agent.", "messages": messages.clone(), "tools": tools},
            "response": {"text": format!("step {t}"), "tool_calls": [{"id": format!("c{t}"), "name": "Bash", "arguments": {"command": format!("make step{t}")}}]},
            "stream": false, "status": 200, "latency_ms": 5.0,
        });
        lines.push(call.to_string());
        messages.push(serde_json::json!({"role": "assistant", "content": format!("step {t}"),
            "tool_calls": [{"id": format!("c{t}"), "name": "Bash", "arguments": {"command": format!("make step{t}")}}]}));
        messages.push(serde_json::json!({"role": "tool", "tool_call_id": format!("c{t}"), "content": format!("output of quokka{t}")}));
    }
    std::fs::write(&trace, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", data_s, "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let hits = json(&["search", "zanzibar", "--data", data_s, "--limit", "100", "--json"]);
    assert_eq!(hits.len(), 1, "the first message, once: {hits:#?}");
    assert_eq!(hits[0]["event"]["ts_ns"].as_u64(), Some(t0), "in the call that first sent it");
    let hits = json(&["search", "quokka7", "--data", data_s, "--limit", "100", "--json"]);
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(
        hits[0]["event"]["ts_ns"].as_u64(),
        Some(t0 + 8 * 1_000_000_000),
        "the result of turn 7 is new in request 8"
    );
    let later = &hits[0]["event"]["request"];
    assert_eq!(later["extends"]["messages"], 15, "{later:#}");
    assert!(later["system"].is_null() && later["tools"].is_null(), "inherited, not stored again: {later:#}");
    assert_eq!(later["messages"].as_array().map(Vec::len), Some(2), "{later:#}");

    // The log holds the first message in its call, and in each window's context (the
    // instructions, capped), not once per request.
    let log = windows_log(&data).join("\n");
    let sizes: Vec<usize> = log.lines().map(str::len).collect();
    assert!(log.matches("zanzibar").count() <= 2 * sizes.len(), "windows.log repeats the history");
    assert!(log.matches("output of quokka3\"").count() <= 3, "in its call, the next window's overlap and history");
    // A window costs the same late in the session as early: nothing grows with the history.
    let (early, last) = (sizes[3], sizes[sizes.len() - 1]);
    assert!(last < early * 3 / 2, "window sizes {sizes:?}");
}

/// Real multi-turn runs of four agent CLIs (recorded whole, before compaction): after `ingest`,
/// every request is stored compact, and put back together from the stored events it is exactly
/// the request the agent sent.
#[test]
fn real_agents_requests_come_back_exactly_from_the_stored_deltas() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "real-claude-code-loop.jsonl.gz",
        "real-gemini-cli-loop.jsonl.gz",
        "real-opencode-loop.jsonl.gz",
        "real-aider-contra-tests.jsonl.gz",
    ] {
        let trace = real_trace(name);
        let sent = tests::read_gz_trace(&trace);
        let calls = sent.iter().filter(|e| matches!(e.body, model::EventBody::LlmCall(_))).count();
        assert!(calls >= 2, "{name}: {calls} llm_calls");
        let data = dir.path().join(name);
        let data_s = data.to_str().unwrap();
        let out = agentsight(&["ingest", trace.to_str().unwrap(), "--data", data_s, "--quiet"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stored = tests::stored_llm_calls(&data);
        let (stored_messages, sent_messages) = tests::assert_requests_rebuilt(name, &sent, &stored);
        // Aider rewrites its first message (the files it shows the model) between requests:
        // only the system prompt is shared. The others resend their history.
        if !name.contains("aider") {
            let compact = stored
                .iter()
                .filter(|e| matches!(&e.body, model::EventBody::LlmCall(c) if c.request.extends.is_some()))
                .count();
            assert!(compact + 1 >= stored.len() / 2, "{name}: only {compact} of {} requests compact", stored.len());
            assert!(
                stored_messages * 2 < sent_messages,
                "{name}: {stored_messages} messages stored of {sent_messages} sent"
            );
        }
    }
}

/// `prune`: a dry run lists, a run deletes from the index and the log, a young session stays,
/// and with nothing to prune by it says so (exit 2).
#[test]
fn prune_deletes_sessions_older_than_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let young_text: String = std::fs::read_to_string(fixture_moved_to(dir.path(), Duration::from_secs(3_600)))
        .unwrap()
        .lines()
        .map(|l| {
            let mut ev: Value = serde_json::from_str(l).unwrap();
            ev["session"] = "young-session".into();
            format!("{ev}\n")
        })
        .collect();
    let young = dir.path().join("young.jsonl");
    std::fs::write(&young, young_text).unwrap();
    let old = fixture_moved_to(dir.path(), Duration::from_secs(3 * 86_400));
    for t in [&old, &young] {
        let out = agentsight(&["ingest", t.to_str().unwrap(), "--data", data_s, "--quiet"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let sessions = |data: &str| -> Vec<String> {
        json(&["sessions", "--json", "--data", data]).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    let before = sessions(data_s);
    assert_eq!(before.len(), 2, "{before:?}");
    let old_id = before.iter().find(|s| *s != "young-session").unwrap().clone();

    let out = agentsight(&["prune", "--older-than", "2d", "--dry-run", "--data", data_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("would delete {old_id}")), "{}", text(&out.stdout));
    assert_eq!(sessions(data_s).len(), 2, "a dry run deletes nothing");

    let out = agentsight(&["prune", "--older-than", "2d", "--data", data_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("deleted 1 sessions"), "{}", text(&out.stdout));
    assert_eq!(sessions(data_s), vec!["young-session".to_string()]);
    let log = std::fs::read_to_string(data.join("windows.log")).unwrap();
    assert!(!log.contains(&old_id) && log.contains("young-session"));
    let hits = json(&["search", "", "--session", &old_id, "--json", "--data", data_s]);
    assert!(hits.is_empty(), "{hits:#?}");

    let out = agentsight(&["prune", "--data", data_s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nothing to prune by"), "{}", text(&out.stderr));
}
