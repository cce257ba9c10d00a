//! The TLS boundary, end to end: real clients (curl, the Python `openai` SDK, Node's fetch)
//! talk over real TLS to a local server speaking the OpenAI and Anthropic APIs
//! (`fixtures/llm_server.py`, throwaway CA), under `agentsight record`; the trace must hold one
//! complete `llm_call` per exchange and no credential.
//!
//! All tests need root and BPF; `.ci/run` runs them with `-- --ignored`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use model::{EventBody, LlmCall};
use tests::{is_root, record, Recording};

const REPLY: &str = "The answer is 42. 答案是四十二。";
const OPENAI_KEY: &str = "sk-proj-Zx81QvM2nB7cK4pL9aW3eR6tY0uI5oP2sD8fG1hJ";
const ANTHROPIC_KEY: &str = "sk-ant-api03-Qw3eRt5yUi7oP9aS1dF3gH5jK7lZ9xC1vB3nM5qW7eR9tY-AbCdEf";

/// The scripted server on 127.0.0.1 with its CA, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            let ok = Command::new("bash").arg("-c").arg(script).current_dir(d).stderr(Stdio::null()).status().unwrap().success();
            assert!(ok, "openssl failed: {script}");
        };
        sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=agentsight test CA'");
        sh("openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost'");
        sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/llm_server.py");
        let mut child = Command::new("python3").arg(fixture).arg(d.join("srv.pem")).arg(d.join("srv.key")).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server said {line:?}"));
        Server { child, port, dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn url(&self, path: &str) -> String {
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
    for secret in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!trace_text.contains(secret), "a credential reached the trace");
        assert!(!rec.stderr.contains(secret), "a credential reached the summary");
    }
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
    let rec = record(&["-q"], &["curl", "-sS", "--cacert", ca.to_str().unwrap(), "-H", &auth, "-H", "content-type: application/json", "-d", body, &url]);
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
    assert_eq!(c.response.tool_calls[0].arguments, serde_json::json!({"path": "/tmp/x.txt", "content": "hello \"world\"\n"}));
    assert_eq!(c.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((11, 7)));
    assert!(!c.incomplete);
    assert!(c.latency_ms > 0.0);
    no_secrets(&rec, &trace_text(&rec));
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
    std::fs::write(&big, format!(r#"{{"model":"claude-x","max_tokens":5,"messages":[{{"role":"user","content":"{filler}"}}]}}"#)).unwrap();
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
    assert_eq!(anthropic.response.tool_calls[0].arguments["content"], "hello \"world\"\n", "input_json_delta assembled");
    assert_eq!(anthropic.response.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(anthropic.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((13, 9)));

    let gzip = calls.iter().find(|c| c.request.messages.first().is_some_and(|m| m.content == "zip")).expect("gzip call");
    assert_eq!(gzip.response.text, REPLY, "gzip body decoded");

    let big_call = calls.iter().find(|c| c.api == "messages" && !c.stream).expect("2 MiB request");
    assert_eq!(big_call.request.messages[0].content.len(), 2 << 20, "the 2 MiB prompt arrives whole");
    assert_eq!(big_call.response.text, REPLY);

    let cut = calls.iter().find(|c| c.request.messages.first().is_some_and(|m| m.content == "cut")).expect("aborted call");
    assert!(cut.incomplete, "an aborted stream is marked incomplete");
    assert!(REPLY.starts_with(&cut.response.text) && cut.response.text.len() < REPLY.len(), "partial text: {:?}", cut.response.text);
    no_secrets(&rec, &trace_text(&rec));
}

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success())
}

#[test]
#[ignore = "needs root and BPF"]
fn python_openai_sdk_three_calls_on_one_connection_then_a_stream() {
    root();
    assert!(python_has("openai"), "the `openai` package is missing: `python3 -m pip install openai` (scripts/test does)");
    let server = Server::start();
    let code = format!(
        "import openai\nc = openai.OpenAI(base_url='{}', api_key='{OPENAI_KEY}')\nfor i in range(3):\n    \
         print(c.chat.completions.create(model='gpt-4o-mini', messages=[{{'role': 'user', 'content': f'question {{i}}'}}]).choices[0].message.content)\n\
         s = c.chat.completions.create(model='gpt-4o-mini', messages=[{{'role': 'user', 'content': 'question 3'}}], stream=True)\n\
         print(''.join(ch.choices[0].delta.content or '' for ch in s if ch.choices))\n",
        server.url("/v1")
    );
    let rec = tests::record_env(&["-q"], &["python3", "-c", &code], &[("SSL_CERT_FILE", server.ca().to_str().unwrap())]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    let calls = llm_calls(&rec);
    let questions: Vec<&str> = calls.iter().filter_map(|c| c.request.messages.first().map(|m| m.content.as_str())).collect();
    assert_eq!(questions, ["question 0", "question 1", "question 2", "question 3"]);
    for c in &calls {
        assert_eq!((c.response.text.as_str(), c.status, c.incomplete), (REPLY, 200, false), "{c:#?}");
    }
    assert_eq!(calls.iter().filter(|c| c.stream).count(), 1);
    // the SDK keeps one connection for the three calls; the stream may reuse it or not
    let connects = rec.connects().filter(|(_, c)| c.port == server.port).count();
    assert!((1..=2).contains(&connects), "{connects} connections for four calls");
    no_secrets(&rec, &trace_text(&rec));
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
    let rec = tests::record_env(&["-q"], &["node", "--input-type=module", "-e", &code], &[("NODE_EXTRA_CA_CERTS", server.ca().to_str().unwrap())]);
    assert_eq!(rec.code, Some(0), "{}", rec.stderr);
    assert!(rec.stdout.contains(REPLY));
    let calls = llm_calls(&rec);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].request.messages[0].content, "from node");
    assert_eq!(calls[0].response.text, REPLY);
    no_secrets(&rec, &trace_text(&rec));
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
