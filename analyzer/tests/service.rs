//! Component tests of the analyzer service: the HTTP API (`api::router`) over a real
//! [`Analyzer`] in a temporary data directory, fed the windows of the recorded demo trace
//! (`tests/fixtures/demo-trace.jsonl`). The judge and the webhook receiver are real HTTP servers
//! on loopback ports, so the whole path (request, retries, signature) is exercised.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use analyzer::api::{router, ApiState};
use analyzer::config::Config;
use analyzer::service::{Analyzer, Tasks};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use model::windower::WindowerConfig;
use model::{Event, Window};
use serde_json::{json, Value};
use tower::ServiceExt;

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
    assert!(windows.len() >= 2, "the demo trace makes several windows");
    windows
}

fn start(config: Config, dir: &Path) -> (Arc<Analyzer>, Tasks, Router) {
    let (analyzer, tasks) = Analyzer::start(config, dir).expect("start analyzer");
    let app = router(ApiState { analyzer: analyzer.clone(), token: None });
    (analyzer, tasks, app)
}

/// A configuration whose periodic commit never fires during a test: tests commit explicitly.
fn quiet_config() -> Config {
    Config { commit_interval_ms: 3_600_000, ..Config::default() }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.expect("router answers");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, body.to_vec())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = send(app, Request::get(uri).body(Body::empty()).expect("request")).await;
    let value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    (status, value)
}

async fn get_text(app: &Router, uri: &str) -> String {
    let (status, body) = send(app, Request::get(uri).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "GET {uri}");
    String::from_utf8(body).expect("utf-8")
}

async fn post_json(app: &Router, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post("/v1/windows")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let (status, body) = send(app, req).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// The value of an unlabelled or labelled sample in Prometheus text, e.g.
/// `agentsight_index_documents{doc="event"}`.
fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample `{sample}` in:\n{text}"))
        .trim()
        .parse()
        .expect("integer sample")
}

/// (event documents, finding documents) committed, and the size of the window log.
async fn stored(app: &Router, dir: &Path) -> (u64, u64, u64) {
    let text = get_text(app, "/metrics").await;
    let log = std::fs::metadata(dir.join("windows.log")).map(|m| m.len()).unwrap_or(0);
    (
        metric(&text, "agentsight_index_documents{doc=\"event\"}"),
        metric(&text, "agentsight_index_documents{doc=\"finding\"}"),
        log,
    )
}

fn committed(analyzer: &Analyzer) {
    analyzer.commit().expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_posted_one_by_array_and_gzip_are_searchable_with_their_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks, app) = start(quiet_config(), dir.path());
    let windows = demo_windows();
    let session = windows[0].session.clone();

    // One window on its own.
    let (status, report) = post_json(&app, serde_json::to_vec(&windows[0]).expect("json")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["duplicates"], 0);
    assert!(report["events"].as_u64().expect("events") > 0, "{report}");
    assert!(report.get("findings").is_some_and(Value::is_u64), "{report}");

    // Half of the rest as an array, the other half gzip-compressed.
    let rest = &windows[1..];
    let (array, zipped) = rest.split_at(rest.len() / 2);
    let (status, report) = post_json(&app, serde_json::to_vec(array).expect("json")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], array.len());
    let req = Request::post("/v1/windows")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(&serde_json::to_vec(zipped).expect("json"))))
        .expect("request");
    let (status, body) = send(&app, req).await;
    let report: Value = serde_json::from_slice(&body).expect("json report");
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], zipped.len());
    assert_eq!(report["duplicates"], 0);

    committed(&analyzer);

    let (status, hits) = get(&app, "/v1/search?query=build.py").await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    let hits = hits.as_array().expect("hits array");
    assert!(!hits.is_empty(), "build.py is in the demo trace");
    assert!(hits.iter().all(|h| h["session"] == session.as_str()));
    assert!(hits.iter().any(|h| h["doc"] == "event"));

    let (status, sessions) = get(&app, "/v1/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let sessions = sessions.as_array().expect("sessions array");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["id"], session.as_str());
    assert!(sessions[0]["events"].as_u64().expect("events") > 0);

    let (status, view) = get(&app, &format!("/v1/sessions/{session}?events=true")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let events = view["events"].as_array().expect("timeline");
    let unique_events = DEMO_TRACE.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(events.len(), unique_events, "each event of the trace once in the timeline");
    let ts: Vec<u64> = events.iter().map(|e| e["ts_ns"].as_u64().expect("ts_ns")).collect();
    assert!(ts.windows(2).all(|p| p[0] <= p[1]), "timeline in ts order");
    assert!(!view["findings"].as_array().expect("findings").is_empty(), "{view}");

    let (status, findings) = get(&app, "/v1/findings?min_score=0.5").await;
    assert_eq!(status, StatusCode::OK, "{findings}");
    let findings = findings.as_array().expect("findings array");
    for kind in ["loop", "contradiction"] {
        let f =
            findings.iter().find(|f| f["kind"] == kind).unwrap_or_else(|| panic!("a `{kind}` finding in {findings:?}"));
        assert!(f["score"].as_f64().expect("score") >= 0.5);
        assert!(!f["evidence"].as_array().expect("evidence").is_empty(), "{f}");
    }
    assert!(findings.iter().all(|f| f["score"].as_f64().expect("score") >= 0.5));

    tasks.shutdown(&analyzer).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_the_same_windows_twice_counts_duplicates_and_stores_them_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks, app) = start(quiet_config(), dir.path());
    let windows = demo_windows();
    let body = serde_json::to_vec(&windows).expect("json");

    let (status, first) = post_json(&app, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["duplicates"], 0);
    committed(&analyzer);
    let (events, findings, _) = stored(&app, dir.path()).await;
    assert!(events > 0 && findings > 0, "events {events}, findings {findings}");

    let (status, second) = post_json(&app, body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["accepted"], windows.len());
    assert_eq!(second["duplicates"], windows.len());
    committed(&analyzer);
    assert_eq!(stored(&app, dir.path()).await.0, events, "events stored once");
    assert_eq!(stored(&app, dir.path()).await.1, findings, "findings stored once");
    let metrics = get_text(&app, "/metrics").await;
    assert_eq!(metric(&metrics, "agentsight_windows_duplicate_total"), windows.len() as u64);
    assert_eq!(metric(&metrics, "agentsight_windows_received_total"), 2 * windows.len() as u64);

    tasks.shutdown(&analyzer).await.expect("shutdown");
}

/// Each bad request is a 4xx with a JSON `{"error": "..."}` and leaves index and log untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_clear_4xx_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { max_body_bytes: 64 * 1024, ..quiet_config() };
    let (analyzer, tasks, app) = start(config, dir.path());
    let windows = demo_windows();
    // Something stored already, so "unchanged" is not trivially zero.
    let (status, _) = post_json(&app, serde_json::to_vec(&windows[0]).expect("json")).await;
    assert_eq!(status, StatusCode::OK);
    committed(&analyzer);
    let before = stored(&app, dir.path()).await;
    assert!(before.0 > 0 && before.2 > 0, "{before:?}");

    let good = serde_json::to_value(&windows[1]).expect("json");
    let small = |w: &Value| {
        // A window with its events cut, so that only the mutation under test is wrong.
        let mut w = w.clone();
        w["events"] = json!([]);
        w["overlap_events"] = json!(0);
        w
    };
    let with = |field: &str, value: Value| {
        let mut w = good.clone();
        w[field] = value;
        serde_json::to_vec(&w).expect("json")
    };
    let mut bad_seq = small(&good);
    bad_seq["seq"] = json!(99);
    let big: Vec<Window> = windows.iter().cycle().take(40).cloned().collect();
    let big = serde_json::to_vec(&big).expect("json");
    assert!(big.len() > 64 * 1024);

    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("malformed JSON", b"{\"window_id\": ".to_vec(), StatusCode::BAD_REQUEST),
        ("body over max_body_bytes", big.clone(), StatusCode::PAYLOAD_TOO_LARGE),
        ("unknown field", with("colour", json!("blue")), StatusCode::UNPROCESSABLE_ENTITY),
        ("wrong type", with("seq", json!("one")), StatusCode::UNPROCESSABLE_ENTITY),
        ("window_id not session:seq", with("window_id", json!("someone-else:7")), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "one good and one bad window",
            serde_json::to_vec(&json!([good, bad_seq])).expect("json"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (what, body, want) in cases {
        let (status, err) = post_json(&app, body).await;
        assert_eq!(status, want, "{what}: {err}");
        let message = err["error"].as_str().unwrap_or_else(|| panic!("{what}: no JSON error: {err}"));
        assert!(!message.is_empty(), "{what}");
        committed(&analyzer);
        assert_eq!(stored(&app, dir.path()).await, before, "{what}: nothing stored");
    }

    // A gzip body that is small on the wire but over the limit once decompressed.
    let req = Request::post("/v1/windows")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(&big)))
        .expect("request");
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&body));
    committed(&analyzer);
    assert_eq!(stored(&app, dir.path()).await, before, "gzip bomb: nothing stored");

    for (uri, want) in [
        ("/v1/search?query=kind:exec%20AND%20(", StatusCode::BAD_REQUEST),
        ("/v1/search?query=pytest&colour=blue", StatusCode::BAD_REQUEST),
        ("/v1/findings?min_score=high", StatusCode::BAD_REQUEST),
        ("/v1/sessions/nope?limit=many", StatusCode::BAD_REQUEST),
        ("/v1/sessions/nope", StatusCode::NOT_FOUND),
    ] {
        let (status, err) = get(&app, uri).await;
        assert_eq!(status, want, "{uri}: {err}");
        assert!(err["error"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: no JSON error: {err}");
    }
    let metrics = get_text(&app, "/metrics").await;
    assert!(metric(&metrics, "agentsight_dropped_total{reason=\"window_rejected\"}") >= 2);

    tasks.shutdown(&analyzer).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_guards_every_data_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks) = Analyzer::start(quiet_config(), dir.path()).expect("start");
    let app = router(ApiState { analyzer: analyzer.clone(), token: Some("t".into()) });
    let window = serde_json::to_vec(&demo_windows()[0]).expect("json");

    let request = |method: &str, uri: &str, auth: Option<&str>| {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        let body = if method == "POST" { Body::from(window.clone()) } else { Body::empty() };
        b.header(header::CONTENT_TYPE, "application/json").body(body).expect("request")
    };
    for (method, uri) in [
        ("POST", "/v1/windows"),
        ("GET", "/v1/sessions"),
        ("GET", "/v1/search?query=x"),
        ("GET", "/v1/findings"),
        ("GET", "/metrics"),
    ] {
        for auth in [None, Some("Bearer wrong"), Some("Bearer tt"), Some("t"), Some("Basic dDp0")] {
            let (status, body) = send(&app, request(method, uri, auth)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} with {auth:?}");
            let err: Value = serde_json::from_slice(&body).expect("JSON error");
            assert!(err["error"].is_string());
        }
        let (status, body) = send(&app, request(method, uri, Some("Bearer t"))).await;
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {}", String::from_utf8_lossy(&body));
    }
    // Only the authorised POST stored anything.
    let metrics = analyzer.metrics();
    assert_eq!(metric(&metrics, "agentsight_windows_received_total"), 1);
    for uri in ["/healthz", "/"] {
        let (status, _) = send(&app, request("GET", uri, None)).await;
        assert_eq!(status, StatusCode::OK, "{uri} is open");
    }
    tasks.shutdown(&analyzer).await.expect("shutdown");
}

/// A kill -9 after ingest and before any commit: the windows are in the synced log, and the next
/// start replays them into the index.
///
/// The first analyzer runs on a runtime of its own: dropping that runtime ends its background
/// tasks (which hold `Arc<Analyzer>`), so the last `Arc` goes and with it tantivy's writer lock,
/// as the death of the process would. Nothing is shut down or committed.
#[test]
fn windows_ingested_before_a_crash_are_replayed_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let windows = demo_windows();
    let runtime =
        || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    let first = runtime();
    let ingested = first.block_on(async {
        let (analyzer, tasks) = Analyzer::start(quiet_config(), dir.path()).expect("start");
        let report = analyzer.ingest(&windows).expect("ingest");
        assert!(analyzer.search(&Default::default()).expect("search").is_empty(), "nothing committed yet");
        // "kill -9": no shutdown, no commit; the tasks are leaked, never told to stop.
        std::mem::forget(tasks);
        report
    });
    drop(first);
    assert!(ingested.events > 0);

    let second = runtime();
    second.block_on(async {
        let (analyzer, tasks, app) = start(quiet_config(), dir.path());
        let replayed = analyzer.counters.windows_replayed.load(Relaxed);
        assert_eq!(replayed, windows.len() as u64);
        let (status, hits) = get(&app, "/v1/search?query=build.py").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!hits.as_array().expect("hits").is_empty(), "replayed windows are searchable");
        let (events, findings, _) = stored(&app, dir.path()).await;
        assert!(events > 0 && findings > 0);
        tasks.shutdown(&analyzer).await.expect("shutdown");
        drop(app);
        drop(analyzer);
        // The replay was committed with its log offset: a third start replays nothing.
        let (analyzer, tasks, app) = start(quiet_config(), dir.path());
        assert_eq!(analyzer.counters.windows_replayed.load(Relaxed), 0);
        assert_eq!(stored(&app, dir.path()).await.0, events);
        tasks.shutdown(&analyzer).await.expect("shutdown");
    });
}

/// A stand-in for an OpenAI-compatible server: answers every chat completion with `status` and
/// `body`, and counts the requests.
async fn stand_in(status: StatusCode, body: Value) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(req): axum::Json<Value>| {
            let log = log.clone();
            let body = body.clone();
            async move {
                log.lock().expect("lock").push(req);
                (status, axum::Json(body))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

fn judge_config(base_url: &str) -> Config {
    Config::parse(&format!(
        "commit_interval_ms = 3600000\n[judge]\nbase_url = \"{base_url}\"\nmodel = \"stand-in\"\napi_key_env = \"AGENTSIGHT_TEST_NO_SUCH_KEY\"\ntimeout_s = 5\nmax_attempts = 2\nbackoff_ms = 1\n"
    ))
    .expect("judge config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_adds_findings_from_an_openai_compatible_stand_in() {
    let answer = json!({
        "choices": [{"message": {"role": "assistant", "content": "{\"score\":0.8,\"rationale\":\"r\",\"evidence\":[]}"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    });
    let (url, requests) = stand_in(StatusCode::OK, answer).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks, app) = start(judge_config(&url), dir.path());
    analyzer.ingest(&demo_windows()).expect("ingest");
    tasks.shutdown(&analyzer).await.expect("shutdown");

    let asked = requests.lock().expect("lock").len();
    assert!(asked > 0, "the judge asked the stand-in");
    assert!(requests.lock().expect("lock").iter().all(|r| r["model"] == "stand-in"));
    let (status, findings) = get(&app, "/v1/findings?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let judged: Vec<&Value> =
        findings.as_array().expect("findings").iter().filter(|f| f["detector"] == "judge").collect();
    assert!(!judged.is_empty(), "judge findings in {findings}");
    for f in &judged {
        assert_eq!(f["judge"]["model"], "stand-in", "{f}");
        assert_eq!(f["score"], 0.8);
        assert_eq!(f["rationale"], "r");
    }
    assert!(analyzer.judge_errors().is_empty());
    let metrics = get_text(&app, "/metrics").await;
    assert_eq!(metric(&metrics, "agentsight_judge_requests_total"), asked as u64);
    assert_eq!(metric(&metrics, "agentsight_judge_verdicts_total"), judged.len() as u64);
    assert!(metric(&metrics, "agentsight_windows_judged_total") > 0);
    assert_eq!(metric(&metrics, "agentsight_judge_errors_total"), 0);
    assert_eq!(
        metric(&metrics, "agentsight_findings_total{kind=\"loop\",detector=\"judge\"}"),
        judged.iter().filter(|f| f["kind"] == "loop").count() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_that_always_fails_leaves_judge_errors_and_no_judge_finding() {
    let (url, requests) = stand_in(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": {"message": "down"}})).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks, app) = start(judge_config(&url), dir.path());
    analyzer.ingest(&demo_windows()).expect("ingest");
    tasks.shutdown(&analyzer).await.expect("shutdown");

    let asked = requests.lock().expect("lock").len() as u64;
    let errors = analyzer.judge_errors();
    assert!(!errors.is_empty(), "judge errors recorded");
    assert!(errors.iter().all(|e| e.attempts == 2 && e.error.contains("500")), "{errors:?}");
    assert_eq!(asked, 2 * errors.len() as u64, "every prompt tried max_attempts times");
    let (_, findings) = get(&app, "/v1/findings?limit=1000").await;
    assert!(findings.as_array().expect("findings").iter().all(|f| f["detector"] != "judge"), "{findings}");
    let metrics = get_text(&app, "/metrics").await;
    assert_eq!(metric(&metrics, "agentsight_judge_errors_total"), errors.len() as u64);
    assert_eq!(metric(&metrics, "agentsight_judge_gave_up_total"), errors.len() as u64);
    assert_eq!(metric(&metrics, "agentsight_judge_failed_attempts_total{reason=\"http_5xx\"}"), asked);
    assert_eq!(metric(&metrics, "agentsight_judge_retries_total"), errors.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_finding_is_delivered_signed_once_per_cooldown() {
    use hmac::Mac;
    type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let log = received.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                log.lock().expect("lock").push((headers, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A variable no other test uses, so setting it cannot race another test's reads.
    let var = "AGENTSIGHT_TEST_SERVICE_WEBHOOK_SECRET";
    let secret = "s3cret-for-the-service-test";
    std::env::set_var(var, secret);
    let config = Config::parse(&format!(
        "commit_interval_ms = 3600000\n[webhooks]\nbackoff_ms = 1\ntimeout_s = 5\n[[webhooks.rules]]\nname = \"loops\"\nurl = \"http://{addr}/hook\"\nkind = \"loop\"\nmin_score = 0.5\nsecret_env = \"{var}\"\n"
    ))
    .expect("webhook config");
    let dir = tempfile::tempdir().expect("tempdir");
    let (analyzer, tasks, app) = start(config, dir.path());
    let windows = demo_windows();
    // Twice: the second round makes the same loop findings again, inside the cool-down.
    analyzer.ingest(&windows).expect("ingest");
    analyzer.ingest(&windows).expect("ingest again");
    tasks.shutdown(&analyzer).await.expect("shutdown");

    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "one delivery per (rule, session, kind) per cool-down");
    let (headers, body) = &received[0];
    let signature = headers
        .get("x-agentsight-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .expect("signature header");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    assert_eq!(signature, hex::encode(mac.finalize().into_bytes()), "HMAC of the exact body");
    let json: Value = serde_json::from_slice(body).expect("JSON body");
    assert!(json["text"].as_str().is_some_and(|t| t.contains("loop")), "{json}");
    assert_eq!(json["finding"]["kind"], "loop");
    assert!(json["finding"]["score"].as_f64().expect("score") >= 0.5);
    assert_eq!(json["rule"], "loops");

    let metrics = get_text(&app, "/metrics").await;
    assert_eq!(metric(&metrics, "agentsight_webhook_deliveries_total{outcome=\"delivered\"}"), 1);
    assert!(metric(&metrics, "agentsight_webhook_deliveries_total{outcome=\"deduped\"}") >= 1);
    assert_eq!(metric(&metrics, "agentsight_webhook_deliveries_total{outcome=\"failed\"}"), 0);
}
