//! The TLS boundary, end to end: real clients (curl, the Python `openai` and `anthropic` SDKs,
//! Node's fetch, Bun's fetch, Claude Code) talk over real TLS to a local server speaking the
//! OpenAI and Anthropic APIs (`fixtures/llm_server.py`, throwaway CA; over HTTP/2,
//! `fixtures/h2_server.mjs`), under `agentsight record`; the trace must hold one complete
//! `llm_call` per exchange and no credential. The same clients over plaintext HTTP (a local
//! model server's usual base URL) are captured at the kernel boundary, from the socket calls;
//! and a TCP exchange that nothing decodes is named, with its peer, in a `loss` event.
//!
//! Bun and Claude Code are binaries from npm (`AGENTSIGHT_BUN`, `AGENTSIGHT_CLAUDE`, or fetched
//! with `npm pack` into `target/bun` and `target/claude`); a test says SKIPPED and passes when
//! they cannot be had, except under CI (`CI=true`), where it fails.
//!
//! All tests but the one of the skip rule need root and BPF; `.ci/run` runs them with
//! `-- --ignored`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use model::{EventBody, LlmCall};
use tests::{is_root, record, Recording};

const REPLY: &str = "The answer is 42. 答案是四十二。";
const OPENAI_KEY: &str = "sk-proj-Zx81QvM2nB7cK4pL9aW3eR6tY0uI5oP2sD8fG1hJ";
const ANTHROPIC_KEY: &str = "sk-ant-api03-Qw3eRt5yUi7oP9aS1dF3gH5jK7lZ9xC1vB3nM5qW7eR9tY-AbCdEf";
/// Secrets planted in request bodies (a user pasting keys into a prompt).
const BODY_SECRETS: [&str; 3] =
    ["ghp_R4nD0mT0k3nF0rT3st1ngAg3ntS1ghtXy", "AKIAZ7QW3ER5TY6UI8OP", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"];
const TOOL_ARGS: &str = r#"{"path": "/tmp/x.txt", "content": "hello \"world\"\n"}"#;
/// How long a Bun-compiled program waits before its first request: the probes attach when the
/// collector has read the new executable and searched it for BoringSSL (`collector::boring`),
/// ~2.5 s for the 100 MiB `bun` in a debug build (0.15 s optimised), while Bun itself is ready
/// to send within milliseconds. Generous, for a loaded two-core machine.
const BUN_ATTACH_WAIT_MS: u64 = 8000;
/// The same for the 380 MiB `claude` binary (~8 s in a debug build).
const CLAUDE_ATTACH_WAIT_S: u64 = 25;

/// The scripted server on 127.0.0.1 with its CA, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    plain: bool,
}

impl Server {
    /// `fixtures/llm_server.py --plain`: the same over plaintext HTTP.
    fn start_plain() -> Server {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("llm_server.py");
        let mut child = Command::new("python3").arg(fixture).arg("--plain").stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server said {line:?}"));
        Server { child, port, dir: tempfile::tempdir().unwrap(), plain: true }
    }

    /// `fixtures/llm_server.py`: HTTP/1.1, OpenAI and Anthropic.
    fn start() -> Server {
        Server::start_script("python3", "llm_server.py")
    }

    /// `PROGRAM fixtures/SCRIPT CERT KEY`, a server that prints its port on its first line.
    fn start_script(program: &str, script: &str) -> Server {
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
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(script);
        let mut child = Command::new(program)
            .arg(fixture)
            .arg(d.join("srv.pem"))
            .arg(d.join("srv.key"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server said {line:?}"));
        Server { child, port, dir, plain: false }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn url(&self, path: &str) -> String {
        if self.plain {
            return format!("http://127.0.0.1:{}{path}", self.port);
        }
        format!("https://localhost:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn llm_calls(rec: &Recording) -> Vec<&LlmCall> {
    rec.events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::LlmCall(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect()
}

fn no_secrets(rec: &Recording, trace_text: &str) {
    for secret in [OPENAI_KEY, ANTHROPIC_KEY].iter().chain(&BODY_SECRETS) {
        assert!(!trace_text.contains(secret), "a credential reached the trace");
        assert!(!rec.stderr.contains(secret), "a credential reached the summary");
    }
}

/// No TCP exchange of the recording went uncaptured (no `net` loss event).
fn all_tcp_captured(rec: &Recording) {
    let losses = net_losses(rec);
    assert!(losses.is_empty(), "TCP exchanges named as not captured: {losses:?}");
}

fn trace_text(rec: &Recording) -> String {
    rec.events.iter().map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>().join("\n")
}

fn root() {
    assert!(is_root(), "this test needs root: run it as root with `-- --ignored`");
}

#[test]
#[ignore = "needs root and BPF"]
fn curl_streamed_chat_with_tool_call_is_one_complete_llm_call() {
    root();
    let server = Server::start();
    let body = r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the answer? 请回答。"}],"tools":[{"type":"function","function":{"name":"write_file","description":"Write a file","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}}]}"#;
    let ca = server.ca();
    let auth = format!("Authorization: Bearer {OPENAI_KEY}");
    let url = server.url("/v1/chat/completions");
    let rec = record(
        &["-q"],
        &[
            "curl",
            "-sS",
            "--cacert",
            ca.to_str().unwrap(),
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            body,
            &url,
        ],
    );
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "one exchange, one llm_call: {calls:?}");
    let c = calls[0];
    assert_eq!((c.api.as_str(), c.model.as_deref(), c.status, c.stream), ("chat", Some("gpt-4o"), 200, true));
    assert_eq!(c.request.system.as_deref(), Some("You are terse."));
    assert_eq!(c.request.messages.last().map(|m| m.content.as_str()), Some("What is the answer? 请回答。"));
    assert_eq!(c.request.tools.first().map(|t| t.name.as_str()), Some("write_file"));
    assert_eq!(c.response.text, REPLY, "the streamed reply, merged byte-exact");
    assert_eq!(c.response.tool_calls.len(), 1);
    assert_eq!(c.response.tool_calls[0].name, "write_file");
    assert_eq!(
        c.response.tool_calls[0].arguments,
        serde_json::json!({"path": "/tmp/x.txt", "content": "hello \"world\"\n"})
    );
    assert_eq!(c.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((11, 7)));
    assert!(!c.incomplete);
    assert!(c.latency_ms > 0.0);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn anthropic_stream_gzip_big_body_and_abort_over_curl() {
    root();
    let server = Server::start();
    let ca = server.ca();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let filler = "x".repeat(2 << 20);
    std::fs::write(
        &big,
        format!(r#"{{"model":"claude-x","max_tokens":5,"messages":[{{"role":"user","content":"{filler}"}}]}}"#),
    )
    .unwrap();
    let key = format!("x-api-key: {ANTHROPIC_KEY}");
    let script = format!(
        "set -e; c='curl -sS --cacert {ca} -H content-type:application/json -H {key:?}'; \
         $c -d '{{\"model\":\"claude-x\",\"stream\":true,\"system\":\"Be brief.\",\"max_tokens\":9,\"tools\":[{{\"name\":\"write_file\",\"input_schema\":{{\"type\":\"object\"}}}}],\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}' {u}/v1/messages > /dev/null; \
         $c --compressed -d '{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"zip\"}}]}}' '{u}/v1/chat/completions?encoding=gzip' > /dev/null; \
         $c --data-binary @{big} {u}/v1/messages > /dev/null; \
         $c -d '{{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"cut\"}}]}}' '{u}/v1/chat/completions?abort=4' > /dev/null || true",
        ca = ca.display(),
        u = server.url(""),
        big = big.display()
    );
    let rec = record(&["-q"], &["bash", "-c", &script]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 4, "{calls:#?}");

    let anthropic = calls.iter().find(|c| c.api == "messages" && c.stream).expect("anthropic stream");
    assert_eq!(anthropic.request.system.as_deref(), Some("Be brief."));
    assert_eq!(anthropic.response.text, REPLY);
    assert_eq!(
        anthropic.response.tool_calls[0].arguments["content"], "hello \"world\"\n",
        "input_json_delta assembled"
    );
    assert_eq!(anthropic.response.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(anthropic.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((13, 9)));

    let gzip =
        calls.iter().find(|c| c.request.messages.first().is_some_and(|m| m.content == "zip")).expect("gzip call");
    assert_eq!(gzip.response.text, REPLY, "gzip body decoded");

    let big_call = calls.iter().find(|c| c.api == "messages" && !c.stream).expect("2 MiB request");
    assert_eq!(big_call.request.messages[0].content.len(), 2 << 20, "the 2 MiB prompt arrives whole");
    assert_eq!(big_call.response.text, REPLY);

    let cut =
        calls.iter().find(|c| c.request.messages.first().is_some_and(|m| m.content == "cut")).expect("aborted call");
    assert!(cut.incomplete, "an aborted stream is marked incomplete");
    assert!(
        REPLY.starts_with(&cut.response.text) && cut.response.text.len() < REPLY.len(),
        "partial text: {:?}",
        cut.response.text
    );
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success())
}

#[test]
#[ignore = "needs root and BPF"]
fn python_openai_sdk_three_calls_on_one_connection_then_a_stream() {
    root();
    assert!(
        python_has("openai"),
        "the `openai` package is missing: `python3 -m pip install openai` (scripts/test does)"
    );
    let server = Server::start();
    let code = format!(
        "import openai\nc = openai.OpenAI(base_url='{}', api_key='{OPENAI_KEY}')\nfor i in range(3):\n    \
         print(c.chat.completions.create(model='gpt-4o-mini', messages=[{{'role': 'user', 'content': f'question {{i}}'}}]).choices[0].message.content)\n\
         s = c.chat.completions.create(model='gpt-4o-mini', messages=[{{'role': 'user', 'content': 'question 3'}}], stream=True)\n\
         print(''.join(ch.choices[0].delta.content or '' for ch in s if ch.choices))\n",
        server.url("/v1")
    );
    let rec =
        tests::record_env(&["-q"], &["python3", "-c", &code], &[("SSL_CERT_FILE", server.ca().to_str().unwrap())]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    let questions: Vec<&str> =
        calls.iter().filter_map(|c| c.request.messages.first().map(|m| m.content.as_str())).collect();
    assert_eq!(questions, ["question 0", "question 1", "question 2", "question 3"]);
    for c in &calls {
        assert_eq!((c.response.text.as_str(), c.status, c.incomplete), (REPLY, 200, false), "{c:#?}");
    }
    assert_eq!(calls.iter().filter(|c| c.stream).count(), 1);
    // the SDK keeps one connection for the three calls; the stream may reuse it or not
    let connects = rec.connects().filter(|(_, c)| c.port == server.port).count();
    assert!((1..=2).contains(&connects), "{connects} connections for four calls");
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn node_fetch_is_captured() {
    root();
    let server = Server::start();
    let code = format!(
        "const r = await fetch('{}', {{method: 'POST', headers: {{'content-type': 'application/json', authorization: 'Bearer {OPENAI_KEY}'}}, \
         body: JSON.stringify({{model: 'gpt-4o', messages: [{{role: 'user', content: 'from node'}}]}})}}); console.log((await r.json()).choices[0].message.content);",
        server.url("/v1/chat/completions")
    );
    let rec = tests::record_env(
        &["-q"],
        &["node", "--input-type=module", "-e", &code],
        &[("NODE_EXTRA_CA_CERTS", server.ca().to_str().unwrap())],
    );
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY));
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].request.messages[0].content, "from node");
    assert_eq!(calls[0].response.text, REPLY);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn tls_the_probes_cannot_see_is_named_not_missed() {
    root();
    let dir = tempfile::tempdir().unwrap();
    // an executable that carries rustls (real ones hold its crate paths in panic locations)
    let fake = dir.path().join("rusty-agent");
    let mut bytes = std::fs::read("/bin/true").unwrap();
    bytes.extend_from_slice(b"/cargo/registry/src/rustls-0.23.12/src/conn.rs");
    std::fs::write(&fake, bytes).unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let rec = record(&["-q"], &[fake.to_str().unwrap()]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let warning = rec.events.iter().find_map(|e| match &e.body {
        EventBody::Loss(l) if l.source == "tls" => Some(l.reason.clone()),
        _ => None,
    });
    let warning = warning.expect("a `tls` loss event names the process");
    assert!(warning.contains("`rusty-agent`") && warning.contains("TLS via rustls, not captured"), "{warning}");
}

fn tool_args() -> serde_json::Value {
    serde_json::from_str(TOOL_ARGS).unwrap()
}

fn python_code(code: &str, server: &Server) -> Recording {
    tests::record_env(&["-q"], &["python3", "-c", code], &[("SSL_CERT_FILE", server.ca().to_str().unwrap())])
}

#[test]
#[ignore = "needs root and BPF"]
fn python_anthropic_sdk_tool_use_streamed_and_not() {
    root();
    assert!(
        python_has("anthropic"),
        "the `anthropic` package is missing: `python3 -m pip install anthropic` (scripts/setup does)"
    );
    let server = Server::start();
    let [ghp, aws, _] = BODY_SECRETS;
    let code = format!(
        "import anthropic, json\n\
         c = anthropic.Anthropic(base_url='{url}', api_key='{ANTHROPIC_KEY}')\n\
         tools = [{{'name': 'write_file', 'description': 'Write a file', 'input_schema': {{'type': 'object', 'properties': {{'path': {{'type': 'string'}}}}}}}}]\n\
         m = c.messages.create(model='claude-sonnet-4-5', max_tokens=64, system='You are terse.', tools=tools, messages=[\n    \
             {{'role': 'user', 'content': 'Write the file, 请。'}}, {{'role': 'assistant', 'content': 'Which keys?'}},\n    \
             {{'role': 'user', 'content': 'Use {ghp} and {aws}.'}}])\n\
         print(json.dumps(m.content[1].input), m.usage.input_tokens, m.usage.output_tokens)\n\
         with c.messages.stream(model='claude-haiku-4-5', max_tokens=64, tools=tools, messages=[{{'role': 'user', 'content': 'Stream it.'}}]) as s:\n    \
             text = ''.join(s.text_stream)\n    \
             final = s.get_final_message()\n\
         print(text)\n\
         print(json.dumps(final.content[-1].input))\n",
        url = server.url(""),
    );
    let rec = python_code(&code, &server);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY) && rec.stdout.contains(TOOL_ARGS), "what the SDK got: {}", rec.stdout);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for c in &calls {
        assert_eq!((c.api.as_str(), c.status, c.incomplete), ("messages", 200, false), "{c:#?}");
        assert_eq!(c.response.text, REPLY, "the reply, byte-exact (streamed: merged)");
        assert_eq!(c.response.tool_calls.len(), 1, "{c:#?}");
        assert_eq!(c.response.tool_calls[0].name, "write_file");
        assert_eq!(
            c.response.tool_calls[0].arguments,
            tool_args(),
            "tool input (streamed: assembled from input_json_delta)"
        );
        assert_eq!(c.response.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(c.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((13, 9)));
        assert_eq!(c.request.tools.first().map(|t| t.name.as_str()), Some("write_file"));
    }
    let plain = calls.iter().find(|c| !c.stream).expect("the non-streamed call");
    assert_eq!(plain.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(plain.request.system.as_deref(), Some("You are terse."));
    assert_eq!(plain.request.messages[0].content, "Write the file, 请。");
    assert_eq!(plain.request.messages[1].content, "Which keys?");
    let streamed = calls.iter().find(|c| c.stream).expect("the streamed call");
    assert_eq!(streamed.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(streamed.request.messages[0].content, "Stream it.");
    assert!(streamed.ttft_ms.is_some());
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn brotli_response_is_decoded() {
    root();
    let server = Server::start();
    let ca = server.ca();
    let auth = format!("Authorization: Bearer {OPENAI_KEY}");
    let url = server.url("/v1/chat/completions?encoding=br");
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"squeeze"}]}"#;
    // no --compressed: curl stores the brotli bytes as they came; the collector decodes them
    let rec = record(
        &["-q"],
        &[
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "--cacert",
            ca.to_str().unwrap(),
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            body,
            &url,
        ],
    );
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].request.messages[0].content, "squeeze");
    assert_eq!(calls[0].response.text, REPLY, "br body decoded");
    assert_eq!(calls[0].usage.map(|u| (u.input_tokens, u.output_tokens)), Some((11, 7)));
    assert!(calls[0].raw.is_none(), "decoded, not kept raw: {:?}", calls[0].raw);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn three_exchanges_on_one_keep_alive_connection_in_order() {
    root();
    let server = Server::start();
    let ca = server.ca();
    let url = server.url("/v1/chat/completions");
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into(), "--http1.1".into()];
    for i in 0..3 {
        if i > 0 {
            argv.push("--next".into()); // the same connection, new options
        }
        let stream = if i == 1 { r#","stream":true"# } else { "" };
        argv.extend([
            "-o".into(),
            "/dev/null".into(),
            "--cacert".into(),
            ca.display().to_string(),
            "-H".into(),
            format!("Authorization: Bearer {OPENAI_KEY}"),
            "-H".into(),
            "content-type: application/json".into(),
            "-d".into(),
            format!(r#"{{"model":"gpt-4o"{stream},"messages":[{{"role":"user","content":"exchange {i}"}}]}}"#),
            url.clone(),
        ]);
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let rec = record(&["-q"], &argv);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let connects = rec.connects().filter(|(_, c)| c.port == server.port).count();
    assert_eq!(connects, 1, "curl reuses its connection");
    let calls = llm_calls(&rec);
    let prompts: Vec<&str> = calls.iter().map(|c| c.request.messages[0].content.as_str()).collect();
    assert_eq!(prompts, ["exchange 0", "exchange 1", "exchange 2"], "all three, in order");
    for c in &calls {
        assert_eq!((c.response.text.as_str(), c.status, c.incomplete), (REPLY, 200, false), "{c:#?}");
    }
    assert_eq!(calls.iter().map(|c| c.stream).collect::<Vec<_>>(), [false, true, false]);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

fn curl_has_http2() -> bool {
    Command::new("curl").arg("-V").output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("Features:") && l.split_whitespace().any(|f| f == "HTTP2"))
    })
}

/// curl's options for one chat completion over HTTP/2 to `server` (`-w` prints the version used).
fn curl_h2_args(server: &Server, body: &str) -> Vec<String> {
    [
        "--http2",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version}\n",
        "--cacert",
        server.ca().to_str().unwrap(),
        "-H",
        &format!("Authorization: Bearer {OPENAI_KEY}"),
        "-H",
        "content-type: application/json",
        "-d",
        body,
        &server.url("/v1/chat/completions"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// HTTP/2 from a real client (curl's nghttp2) to a real server (Node's), neither of them the
/// HPACK and frame code the collector decodes with.
#[test]
#[ignore = "needs root and BPF"]
fn curl_http2_streamed_chat_is_one_complete_llm_call() {
    root();
    assert!(curl_has_http2(), "this curl lacks the HTTP2 feature (`curl -V`); Debian's has it");
    let server = Server::start_script("node", "h2_server.mjs");
    let body = r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Over h2? 请回答。"}],"tools":[{"type":"function","function":{"name":"write_file","parameters":{"type":"object"}}}]}"#;
    let mut argv = vec!["curl".to_owned()];
    argv.extend(curl_h2_args(&server, body));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let rec = record(&["-q"], &argv);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert_eq!(rec.stdout.trim(), "2", "curl spoke HTTP/2 (the server speaks nothing else)");
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "one exchange, one llm_call: {calls:#?}");
    let c = calls[0];
    assert_eq!(
        (c.api.as_str(), c.model.as_deref(), c.status, c.stream, c.incomplete),
        ("chat", Some("gpt-4o"), 200, true, false)
    );
    assert_eq!(c.request.system.as_deref(), Some("You are terse."));
    assert_eq!(c.request.messages.last().map(|m| m.content.as_str()), Some("Over h2? 请回答。"));
    assert_eq!(c.response.text, REPLY, "the streamed reply, merged byte-exact from DATA frames");
    assert_eq!(c.response.tool_calls.len(), 1);
    assert_eq!(c.response.tool_calls[0].name, "write_file");
    assert_eq!(c.response.tool_calls[0].arguments, tool_args());
    assert_eq!(c.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((11, 7)));
    assert!(c.url.ends_with("/v1/chat/completions"), "{}", c.url);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

/// Two requests multiplexed as two streams of one HTTP/2 connection: each is its own call.
#[test]
#[ignore = "needs root and BPF"]
fn curl_http2_multiplexed_streams_are_separate_llm_calls() {
    root();
    assert!(curl_has_http2(), "this curl lacks the HTTP2 feature (`curl -V`); Debian's has it");
    let server = Server::start_script("node", "h2_server.mjs");
    let mut argv = vec!["curl".to_owned(), "--parallel".to_owned()];
    argv.extend(curl_h2_args(
        &server,
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream one"}]}"#,
    ));
    argv.push("--next".to_owned());
    argv.extend(curl_h2_args(&server, r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"plain two"}]}"#));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let rec = record(&["-q"], &argv);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert_eq!(rec.stdout.split_whitespace().collect::<Vec<_>>(), ["2", "2"], "both over HTTP/2");
    let connects = rec.connects().filter(|(_, c)| c.port == server.port).count();
    assert_eq!(connects, 1, "curl multiplexed both on one connection");
    let mut calls = llm_calls(&rec);
    calls.sort_by_key(|c| c.request.messages[0].content.clone());
    let got: Vec<(&str, Option<&str>, bool, &str, bool)> = calls
        .iter()
        .map(|c| {
            (
                c.request.messages[0].content.as_str(),
                c.model.as_deref(),
                c.stream,
                c.response.text.as_str(),
                c.incomplete,
            )
        })
        .collect();
    assert_eq!(
        got,
        [("plain two", Some("gpt-4o-mini"), false, REPLY, false), ("stream one", Some("gpt-4o"), true, REPLY, false)]
    );
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

/// Whether `CI`'s value means a CI run: anything but unset, empty, `0` or `false` (CI services
/// set `CI=true`).
fn ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !["", "0", "false"].contains(&v.trim().to_ascii_lowercase().as_str()))
}

/// A test that cannot run: it says SKIPPED and passes, but fails under CI, which installs what
/// every test needs (scripts/setup), so that a skip there cannot pass a test never run.
fn skip<T>(why: &str, ci: bool) -> Option<T> {
    assert!(!ci, "{why}; under CI (`CI` is set) a test that cannot run fails");
    eprintln!("SKIPPED: {why}");
    None
}

#[test]
fn a_skip_passes_but_fails_under_ci() {
    for (value, is_ci) in
        [(None, false), (Some(""), false), (Some("0"), false), (Some("false"), false), (Some("FALSE"), false)]
    {
        assert_eq!(ci(value), is_ci, "CI={value:?}");
    }
    for value in ["true", "1", "yes", "True"] {
        assert!(ci(Some(value)), "CI={value}");
    }
    assert_eq!(skip::<PathBuf>("no claude", false), None);
    let under_ci = std::panic::catch_unwind(|| skip::<PathBuf>("no claude", true));
    assert!(under_ci.is_err(), "a skip under CI must fail the test");
}

/// An npm package's executable: `env` names it, or it is unpacked into `target/<dir>` with
/// `npm pack` (once; later runs reuse it). `None`, said on stderr, when it cannot be had, and
/// a failure under CI.
fn npm_binary(env: &str, dir: &str, package: &str, inside: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let target = tests::bin().parent().and_then(Path::parent).unwrap().join(dir);
    let exe = target.join(inside);
    if !exe.is_file() {
        std::fs::create_dir_all(&target).unwrap();
        let script = format!("set -e; t=$(npm pack --silent {package} | tail -1); tar -xzf \"$t\"; rm -f \"$t\"");
        let ok = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&target)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !exe.is_file() {
            let why = format!(
                "`{package}` could not be had with `npm pack` (set {env} to its executable, or see scripts/setup)"
            );
            return skip(&why, ci(std::env::var("CI").ok().as_deref()));
        }
    }
    Some(exe)
}

#[test]
#[ignore = "needs root and BPF"]
fn bun_fetch_through_stripped_boringssl_is_captured() {
    root();
    let Some(bun) = npm_binary("AGENTSIGHT_BUN", "bun", "@oven/bun-linux-x64", "package/bin/bun") else { return };
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("agent.js");
    let [_, _, google] = BODY_SECRETS;
    std::fs::write(
        &script,
        format!(
            "await Bun.sleep({BUN_ATTACH_WAIT_MS});\n\
             const post = (path, body) => fetch('{url}' + path, {{method: 'POST', body: JSON.stringify(body),\n  \
               headers: {{'content-type': 'application/json', 'x-api-key': '{ANTHROPIC_KEY}', authorization: 'Bearer {OPENAI_KEY}'}}}});\n\
             const r = await post('/v1/messages', {{model: 'claude-x', stream: true, max_tokens: 9, system: 'Bun system.',\n  \
               messages: [{{role: 'user', content: 'from bun 🥟 ({google})'}}]}});\n\
             console.log((await r.text()).length);\n\
             const c = await post('/v1/chat/completions', {{model: 'gpt-4o', messages: [{{role: 'user', content: 'again from bun'}}]}});\n\
             console.log((await c.json()).choices[0].message.content);\n",
            url = server.url(""),
        ),
    )
    .unwrap();
    let rec = tests::record_env(
        &["-q"],
        &[bun.to_str().unwrap(), script.to_str().unwrap()],
        &[("NODE_EXTRA_CA_CERTS", server.ca().to_str().unwrap())],
    );
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY), "{}", rec.stdout);
    assert_eq!(rec.lost("TLS via"), 0, "the BoringSSL in bun was found");
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let (stream, chat) = (calls[0], calls[1]);
    assert_eq!((stream.api.as_str(), stream.stream, stream.incomplete), ("messages", true, false));
    assert_eq!(stream.request.system.as_deref(), Some("Bun system."));
    assert!(stream.request.messages[0].content.starts_with("from bun 🥟 ("), "{:?}", stream.request.messages);
    assert_eq!(stream.response.text, REPLY, "the streamed reply, merged");
    assert_eq!(stream.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((13, 9)));
    assert_eq!(
        (chat.api.as_str(), chat.request.messages[0].content.as_str(), chat.response.text.as_str()),
        ("chat", "again from bun", REPLY)
    );
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn claude_code_print_mode_is_captured() {
    root();
    let Some(claude) =
        npm_binary("AGENTSIGHT_CLAUDE", "claude", "@anthropic-ai/claude-code-linux-x64", "package/claude")
    else {
        return;
    };
    let server = Server::start();
    let home = tempfile::tempdir().unwrap();
    let ca = server.ca();
    let base = server.url("/text-only"); // claude offers tools; a scripted tool call would loop
                                         // the first run only makes the collector search `claude`; the second talks to the server
    let script = format!(
        "{c} --version >/dev/null; sleep {CLAUDE_ATTACH_WAIT_S}; {c} -p 'Say the magic word: 7f3a9.'",
        c = claude.display()
    );
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("ANTHROPIC_BASE_URL", base.as_str()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("NODE_EXTRA_CA_CERTS", ca.to_str().unwrap()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
    ];
    let rec = tests::record_env(&["-q"], &["bash", "-c", &script], &env);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY), "claude printed the reply: {}", rec.stdout);
    let calls = llm_calls(&rec);
    let asked: Vec<&&LlmCall> = calls
        .iter()
        .filter(|c| c.request.messages.iter().any(|m| m.content.contains("Say the magic word: 7f3a9.")))
        .collect();
    assert!(!asked.is_empty(), "the prompt was captured: {calls:#?}");
    for c in asked {
        assert_eq!((c.api.as_str(), c.stream, c.status, c.incomplete), ("messages", true, 200, false), "{c:#?}");
        assert_eq!(c.response.text, REPLY);
        assert!(
            c.request.system.as_deref().is_some_and(|s| s.contains("Claude")),
            "claude's system prompt: {:?}",
            c.request.system
        );
        assert!(!c.request.tools.is_empty(), "claude's tools");
    }
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

/// The `net` loss events of a recording.
fn net_losses(rec: &Recording) -> Vec<String> {
    rec.events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Loss(l) if l.source == "net" => Some(l.reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "needs root and BPF"]
fn plain_http_curl_streamed_and_not_are_byte_exact_llm_calls() {
    root();
    let server = Server::start_plain();
    let url = server.url("/v1/chat/completions");
    let body = |stream: bool, q: &str| {
        serde_json::json!({"model": "llama3", "stream": stream, "messages": [{"role": "user", "content": q}]})
            .to_string()
    };
    let script = format!(
        "curl -sf {url} -H 'content-type: application/json' -H 'authorization: Bearer {OPENAI_KEY}' -d '{}' >/dev/null && \
         curl -sfN {url} -H 'content-type: application/json' -d '{}' >/dev/null",
        body(false, "plain question ü"),
        body(true, "plain stream 答")
    );
    let rec = record(&["-q"], &["bash", "-c", &script]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for (c, (q, stream)) in calls.iter().zip([("plain question ü", false), ("plain stream 答", true)]) {
        assert_eq!(c.url, url, "{c:#?}");
        assert_eq!(c.request.messages[0].content, q);
        assert_eq!((c.response.text.as_str(), c.stream, c.status, c.incomplete), (REPLY, stream, 200, false), "{c:#?}");
    }
    assert!(net_losses(&rec).is_empty(), "{:?}", net_losses(&rec));
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn plain_http_python_openai_sdk_and_node_fetch_are_captured() {
    root();
    assert!(
        python_has("openai"),
        "the `openai` package is missing: `python3 -m pip install openai` (scripts/test does)"
    );
    let server = Server::start_plain();
    let py = format!(
        "import openai\nc = openai.OpenAI(base_url='{}', api_key='{OPENAI_KEY}')\nfor i in range(3):\n    \
         c.chat.completions.create(model='m', messages=[{{'role': 'user', 'content': f'question {{i}}'}}])\n\
         s = c.chat.completions.create(model='m', messages=[{{'role': 'user', 'content': 'question 3'}}], stream=True)\n\
         print(''.join(ch.choices[0].delta.content or '' for ch in s if ch.choices))\n",
        server.url("/v1")
    );
    let node = format!(
        "const r = await fetch('{}', {{method: 'POST', headers: {{'content-type': 'application/json', authorization: 'Bearer {OPENAI_KEY}'}}, \
         body: JSON.stringify({{model: 'm', messages: [{{role: 'user', content: 'from node'}}]}})}}); console.log((await r.json()).choices[0].message.content);",
        server.url("/v1/chat/completions")
    );
    let dir = tempfile::tempdir().unwrap();
    let (py_file, node_file) = (dir.path().join("a.py"), dir.path().join("a.mjs"));
    std::fs::write(&py_file, py).unwrap();
    std::fs::write(&node_file, node).unwrap();
    let script = format!("python3 {} && node {}", py_file.display(), node_file.display());
    let rec = record(&["-q"], &["bash", "-c", &script]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    let asked: Vec<&str> =
        calls.iter().filter_map(|c| c.request.messages.first().map(|m| m.content.as_str())).collect();
    assert_eq!(asked, ["question 0", "question 1", "question 2", "question 3", "from node"]);
    for c in &calls {
        assert!(c.url.starts_with("http://127.0.0.1:"), "{}", c.url);
        assert_eq!((c.response.text.as_str(), c.status, c.incomplete), (REPLY, 200, false), "{c:#?}");
    }
    assert_eq!(calls.iter().filter(|c| c.stream).count(), 1);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn plain_http_claude_code_is_captured_without_tls_probes() {
    root();
    let Some(claude) =
        npm_binary("AGENTSIGHT_CLAUDE", "claude", "@anthropic-ai/claude-code-linux-x64", "package/claude")
    else {
        return;
    };
    let server = Server::start_plain();
    let home = tempfile::tempdir().unwrap();
    let base = server.url("/text-only");
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("ANTHROPIC_BASE_URL", base.as_str()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
    ];
    // no wait for the probes: plaintext is read at the socket, from the first request on
    let rec = tests::record_env(&["-q"], &[claude.to_str().unwrap(), "-p", "Say the magic word: 7f3a9."], &env);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY), "claude printed the reply: {}", rec.stdout);
    let calls = llm_calls(&rec);
    let asked: Vec<&&LlmCall> = calls
        .iter()
        .filter(|c| c.request.messages.iter().any(|m| m.content.contains("Say the magic word: 7f3a9.")))
        .collect();
    assert!(!asked.is_empty(), "the prompt was captured: {calls:#?}");
    for c in asked {
        assert!(c.url.starts_with("http://127.0.0.1:"), "{}", c.url);
        assert_eq!((c.api.as_str(), c.stream, c.status, c.incomplete), ("messages", true, 200, false), "{c:#?}");
        assert_eq!(c.response.text, REPLY);
        assert!(!c.request.tools.is_empty(), "claude's tools");
    }
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn tcp_that_nothing_decodes_is_named_with_its_peer() {
    root();
    // a listener that reads what comes and answers with a banner
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in listener.incoming().take(2) {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        }
    });
    // TLS records written by no library the probes know (as a static Go or rustls program
    // would), then a protocol that is neither HTTP nor TLS
    let code = format!(
        "import socket\n\
         s = socket.create_connection(('127.0.0.1', {port})); s.sendall(bytes([22, 3, 1, 0, 5]) + b'hello'); s.recv(64); s.close()\n\
         s = socket.create_connection(('127.0.0.1', {port})); s.sendall(b'SSH-2.0-client\\r\\n'); s.recv(64); s.close()\n"
    );
    let rec = record(&["-q"], &["python3", "-c", &code]);
    accept.join().unwrap();
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let losses = net_losses(&rec);
    assert_eq!(losses.len(), 2, "{losses:?}");
    let peer = format!("to 127.0.0.1:{port} not captured");
    assert!(
        losses
            .iter()
            .any(|l| l.contains(&peer) && l.contains("TLS whose plaintext no probe saw") && l.contains("10 B out")),
        "{losses:?}"
    );
    assert!(losses.iter().any(|l| l.contains(&peer) && l.contains("neither HTTP nor TLS")), "{losses:?}");
    assert!(losses.iter().all(|l| l.contains("`python3`")), "{losses:?}");
}

#[test]
#[ignore = "needs root and BPF"]
fn a_libssl_loaded_at_run_time_from_elsewhere_is_found_and_captured() {
    root();
    let server = Server::start();
    // a copy of the system's OpenSSL (another inode: the probes attached at start miss it),
    // loaded by `import ssl` through LD_LIBRARY_PATH, as a bundled or vendored libssl is
    let libs = tempfile::tempdir().unwrap();
    let system = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"]
        .iter()
        .map(Path::new)
        .find(|d| d.join("libssl.so.3").exists())
        .expect("the system's libssl.so.3");
    for lib in ["libssl.so.3", "libcrypto.so.3"] {
        std::fs::copy(system.join(lib), libs.path().join(lib)).unwrap();
    }
    let code = format!(
        "import time, json, urllib.request, ssl\n\
         time.sleep(3)  # the collector reads the new library and attaches\n\
         ctx = ssl.create_default_context(cafile='{ca}')\n\
         body = json.dumps({{'model': 'm', 'messages': [{{'role': 'user', 'content': 'via a vendored libssl'}}]}}).encode()\n\
         req = urllib.request.Request('{url}', body, {{'content-type': 'application/json', 'authorization': 'Bearer {OPENAI_KEY}'}})\n\
         print(json.load(urllib.request.urlopen(req, context=ctx))['choices'][0]['message']['content'])\n",
        ca = server.ca().display(),
        url = server.url("/v1/chat/completions")
    );
    let rec =
        tests::record_env(&["-q"], &["python3", "-c", &code], &[("LD_LIBRARY_PATH", libs.path().to_str().unwrap())]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY), "{}", rec.stdout);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].request.messages[0].content, "via a vendored libssl");
    assert_eq!(calls[0].response.text, REPLY);
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

/// `record` with only CAP_BPF and CAP_PERFMON (and file access), as a least-privilege
/// deployment runs it; `multi`: whether uprobe_multi links may be used.
fn record_with_bpf_caps_only(server_plain: &Server, server_tls: &Server, multi: bool) -> Recording {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let body = r#"{"model":"m","messages":[{"role":"user","content":"least privilege"}]}"#;
    let script = format!(
        "curl -sf {} -d '{body}' >/dev/null && curl -sf --cacert {} {} -d '{body}' >/dev/null",
        server_plain.url("/v1/chat/completions"),
        server_tls.ca().display(),
        server_tls.url("/v1/chat/completions")
    );
    let out = Command::new("setpriv")
        .args(["--bounding-set", "-all,+bpf,+perfmon,+dac_override,+dac_read_search", "--inh-caps", "-all", "--"])
        .arg(tests::bin())
        .args(["record", "-o"])
        .arg(&trace)
        .args(["--", "bash", "-c", &script])
        .env("AGENTSIGHT_UPROBE_MULTI", if multi { "1" } else { "0" })
        .output()
        .expect("setpriv (util-linux) runs agentsight");
    tests::finish(out, &trace)
}

#[test]
#[ignore = "needs root and BPF"]
fn with_cap_bpf_and_perfmon_only_nothing_is_missed_in_silence() {
    root();
    let (plain, tls) = (Server::start_plain(), Server::start());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = kernel.trim().split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
    let multi_works = (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 6);
    for multi in [false, true] {
        let rec = record_with_bpf_caps_only(&plain, &tls, multi);
        assert_eq!(rec.code, Some(0), "multi {multi}: {}", rec.stderr);
        assert!(
            rec.execs().any(|(_, x)| x.argv.first().is_some_and(|a| a == "curl")),
            "the kernel boundary is recorded"
        );
        let calls = llm_calls(&rec);
        let plain_calls = calls.iter().filter(|c| c.url.starts_with("http://")).count();
        assert_eq!(plain_calls, 1, "plaintext HTTP needs no uprobes (multi {multi}): {calls:#?}");
        let tls_calls = calls.iter().filter(|c| c.url.starts_with("https://")).count();
        if tls_calls == 0 {
            // classic uprobes need CAP_SYS_ADMIN on patched kernels: said once, and the
            // connection named
            let said = rec.lost("TLS plaintext not captured");
            assert_eq!(said, 1, "one line says why TLS is not captured: {}", rec.stderr);
            assert!(rec.stderr.contains("CAP_SYS_ADMIN"), "{}", rec.stderr);
            let named = net_losses(&rec);
            assert!(named.iter().any(|l| l.contains(&format!("127.0.0.1:{}", tls.port))), "{named:?}");
            assert!(!multi || !multi_works, "uprobe_multi links need only CAP_BPF and CAP_PERFMON");
        } else {
            assert_eq!(tls_calls, 1);
            all_tcp_captured(&rec);
        }
    }
}

#[test]
#[ignore = "needs root and BPF"]
fn copilot_cli_through_its_addons_static_openssl_is_captured() {
    root();
    // the platform package holds the Node single executable; its Rust addon (reqwest with
    // native-tls on a statically linked, stripped OpenSSL 3) is unpacked on first run into
    // $HOME/.cache and loaded with dlopen: found by following the mapping (`ossl::find`)
    let Some(copilot) = npm_binary("AGENTSIGHT_COPILOT", "copilot", "@github/copilot-linux-x64", "package/copilot")
    else {
        return;
    };
    let server = Server::start();
    let home = tempfile::tempdir().unwrap();
    let base = server.url("/text-only/v1");
    let ca = server.ca();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("COPILOT_OFFLINE", "true"),
        ("COPILOT_PROVIDER_BASE_URL", base.as_str()),
        ("COPILOT_PROVIDER_TYPE", "openai"),
        ("COPILOT_PROVIDER_API_KEY", OPENAI_KEY),
        ("COPILOT_MODEL", "gpt-4o"),
        ("SSL_CERT_FILE", ca.to_str().unwrap()),
    ];
    let argv = [copilot.to_str().unwrap(), "-p", "Say the magic word: 7f3a9.", "--allow-all-tools"];
    let rec = tests::record_env(&["-q"], &argv, &env);
    assert_eq!(rec.code, Some(0), "{}\n{}", rec.stdout, rec.stderr);
    let calls = llm_calls(&rec);
    assert!(!calls.is_empty(), "copilot's model calls were captured: {}", rec.stderr);
    for c in &calls {
        assert!(c.url.starts_with(&base), "{}", c.url);
        assert!(c.request.messages.iter().any(|m| m.content.contains("Say the magic word: 7f3a9.")), "{c:#?}");
        assert_eq!((c.response.text.as_str(), c.status, c.incomplete), (REPLY, 200, false), "{c:#?}");
        assert!(c.request.system.as_deref().is_some_and(|s| s.contains("Copilot")), "copilot's system prompt");
        assert!(!c.request.tools.is_empty(), "copilot's tools");
    }
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

/// The Go client of `fixtures/go_client` built static and stripped (`CGO_ENABLED=0`,
/// `-ldflags=-s -w`, as Go programs are released) into `dir` with the `go` on PATH (Debian's
/// `golang-go`, scripts/setup); `None`, said, without one, and a failure under CI.
fn go_client(dir: &Path) -> Option<PathBuf> {
    let ci = ci(std::env::var("CI").ok().as_deref());
    let Ok(version) = Command::new("go").arg("version").output() else {
        return skip("no `go` to build the Go client with (apt-get install golang-go; scripts/setup does)", ci);
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("go_client").join("main.go");
    let exe = dir.join("go-agent");
    let cache = tests::bin().parent().and_then(Path::parent).unwrap().join("go-cache");
    let out = Command::new("go")
        .args(["build", "-ldflags=-s -w", "-o"])
        .arg(&exe)
        .arg(&src)
        .env("GOCACHE", std::env::var_os("GOCACHE").map_or(cache, PathBuf::from))
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "go build failed: {}", String::from_utf8_lossy(&out.stderr));
    println!("built with {}", String::from_utf8_lossy(&version.stdout).trim());
    Some(exe)
}

/// A stripped Go program's crypto/tls: probes at the entries and at every `RET` of
/// `(*Conn).Write` and `Read` (found in the Go function table, arguments in Go's registers),
/// through uprobe_multi and through one classic uprobe per site, plain and streamed.
#[test]
#[ignore = "needs root and BPF"]
fn go_crypto_tls_of_a_stripped_binary_is_captured() {
    root();
    let dir = tempfile::tempdir().unwrap();
    let Some(client) = go_client(dir.path()) else { return };
    let server = Server::start();
    let url = server.url("/v1/chat/completions");
    let ca = server.ca();
    for (multi, stream) in [("1", false), ("0", true)] {
        let prompt = format!("from go, multi={multi} ü");
        let mut argv = vec![client.to_str().unwrap(), &url, &prompt];
        if stream {
            argv.push("stream");
        }
        let env = [
            ("SSL_CERT_FILE", ca.to_str().unwrap()),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("AGENTSIGHT_UPROBE_MULTI", multi),
        ];
        let rec = tests::record_env(&["-q"], &argv, &env);
        assert_eq!(rec.code, Some(0), "{}", rec.stderr);
        let tls_warnings: Vec<_> = rec
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Loss(l) if l.source == "tls" => Some(l.reason.clone()),
                _ => None,
            })
            .collect();
        assert!(tls_warnings.is_empty(), "Go's TLS named as not captured: {tls_warnings:?}");
        if !stream {
            assert_eq!(rec.stdout.trim(), REPLY);
        }
        let calls = llm_calls(&rec);
        assert_eq!(calls.len(), 1, "multi={multi}: {calls:#?}");
        let c = calls[0];
        assert_eq!(c.url, url);
        assert_eq!(
            (c.api.as_str(), c.model.as_deref(), c.status, c.stream, c.incomplete),
            ("chat", Some("gpt-4o"), 200, stream, false),
            "{c:#?}"
        );
        assert_eq!(c.request.messages.last().map(|m| m.content.as_str()), Some(prompt.as_str()));
        assert_eq!(c.response.text, REPLY, "the reply, byte-exact");
        no_secrets(&rec, &trace_text(&rec));
        all_tcp_captured(&rec);
    }
}

/// Go copies a goroutine's stack to grow it, here inside dozens of `tls.Conn.Write` calls (a
/// return probe's rewritten return address would go with it): every call on the connection is
/// still captured, in order, once.
#[test]
#[ignore = "needs root and BPF"]
fn go_crypto_tls_is_captured_when_the_stack_moves_inside_a_write() {
    root();
    let dir = tempfile::tempdir().unwrap();
    let Some(client) = go_client(dir.path()) else { return };
    let server = Server::start();
    let url = server.url("/v1/chat/completions");
    let ca = server.ca();
    let env = [("SSL_CERT_FILE", ca.to_str().unwrap()), ("OPENAI_API_KEY", OPENAI_KEY)];
    let rec = tests::record_env(&["-q"], &[client.to_str().unwrap(), &url, "moving", "moves"], &env);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains("the stack moved inside"), "{}", rec.stdout);
    let calls = llm_calls(&rec);
    let asked: Vec<&str> = calls.iter().filter_map(|c| c.request.messages.last().map(|m| m.content.as_str())).collect();
    let want: Vec<String> = (0..150).map(|k| format!("moving {k}")).collect();
    assert_eq!(asked, want, "{}", rec.stdout);
    assert!(calls.iter().all(|c| c.response.text == REPLY && !c.incomplete && c.status == 200));
    no_secrets(&rec, &trace_text(&rec));
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn https_through_a_connect_proxy_is_captured_and_not_named_as_a_gap() {
    root();
    let server = Server::start();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("connect_proxy.py");
    let mut proxy = Command::new("python3").arg(fixture).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", line.trim());
    let body = r#"{"model":"m","messages":[{"role":"user","content":"through the proxy"}]}"#;
    let url = server.url("/v1/chat/completions");
    let ca = server.ca();
    let argv = ["curl", "-sf", "--cacert", ca.to_str().unwrap(), "-x", &proxy_url, &url, "-d", body];
    let rec = record(&["-q"], &argv);
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        (calls[0].request.messages[0].content.as_str(), calls[0].response.text.as_str()),
        ("through the proxy", REPLY)
    );
    // the tunnel's socket carries the TLS whose plaintext the probes saw
    all_tcp_captured(&rec);
}

#[test]
#[ignore = "needs root and BPF"]
fn classic_uprobes_capture_tls_where_uprobe_multi_is_not_used() {
    root();
    let server = Server::start();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"one uprobe per function"}]}"#;
    let (url, ca) = (server.url("/v1/chat/completions"), server.ca());
    let argv = ["curl", "-sf", "--cacert", ca.to_str().unwrap(), &url, "-d", body];
    let rec = tests::record_env(&["-q"], &argv, &[("AGENTSIGHT_UPROBE_MULTI", "0")]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        (calls[0].request.messages[0].content.as_str(), calls[0].response.text.as_str()),
        ("one uprobe per function", REPLY)
    );
    all_tcp_captured(&rec);
}

/// A real multi-turn Claude Code run (the eval recorder's loop scenario: Claude Code runs the
/// failing tests five times against the scripted model) recorded with whole requests into the
/// trace and analysed at once: every request put back together from the compact requests the
/// data directory stores is exactly the request the trace recorded.
#[test]
#[ignore = "needs root and BPF"]
fn a_real_claude_code_run_is_rebuilt_exactly_from_the_stored_deltas() {
    root();
    let Some(claude) =
        npm_binary("AGENTSIGHT_CLAUDE", "claude", "@anthropic-ai/claude-code-linux-x64", "package/claude")
    else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let data = out.path().join("data");
    let recorder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../evals/real/record.py");
    let run = Command::new("python3")
        .arg(&recorder)
        .args(["--agents", "claude-code", "--only", "loop", "--out"])
        .arg(out.path())
        .arg("--bin")
        .arg(tests::bin())
        .arg("--record-args")
        .arg(format!("--full-requests --analyze --data {}", data.display()))
        .env("AGENTSIGHT_CLAUDE", &claude)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    let trace = out.path().join("real-claude-code-loop.jsonl.gz");
    assert!(trace.exists(), "the recorder kept no trace: {said}");
    let sent = tests::read_gz_trace(&trace);
    let stored = tests::stored_llm_calls(&data);
    assert!(stored.len() >= 5, "{} llm_calls: {said}", stored.len());
    let (stored_messages, sent_messages) = tests::assert_requests_rebuilt("claude-code loop", &sent, &stored);
    assert!(stored_messages * 2 < sent_messages, "{stored_messages} messages stored of {sent_messages} sent");
}
