//! OpenTelemetry export: a recorded session as OTLP spans, after the OpenTelemetry GenAI
//! semantic conventions, sent over OTLP/HTTP (protobuf) to any receiver — Arize Phoenix, the
//! OpenTelemetry Collector, Jaeger, Tempo.
//!
//! Why spans from the outside: SDK tracers only see what the agent's own code reports; these
//! spans come from the TLS and kernel record, so a tool call's span holds the commands it really
//! ran (with exit codes), and a subprocess the agent never mentioned still appears.
//!
//! The shape, one trace per session:
//! - `invoke_agent {agent}`: the session (first to last event), with token totals, the root
//!   process's exit code and the capture's coverage warnings;
//! - `chat {model}` under it for each `llm_call` (model, provider, token usage, finish reason,
//!   and with `content` the turn's new user input and the answer as `gen_ai.*.messages`);
//! - `execute_tool {name}` under it for each tool call of a response, from the end of that
//!   response to the end of the last command it caused, with those commands as `exec` child
//!   spans (`process.exit.code`, ERROR status when they failed) and the files and connections
//!   it caused as span events (named by kind, `agentsight.action` saying what was done);
//! - `exec` spans under the session for commands no tool call caused;
//! - each finding as a `gen_ai.evaluation.result` event on the `chat` span of the first turn
//!   it cites (the session span when it cites none).
//!
//! Trace and span ids are hashes of the session id and the event they stand for, so exporting
//! a session again sends the same ids: a receiver that keys spans by id (Phoenix does) keeps one
//! copy. The core ([`session_spans`]) is pure; [`Exporter`] only encodes and posts.

use std::collections::BTreeMap;
use std::time::Duration;

use model::Finding;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::service::SessionSummary;
use crate::view::{Action, CommandView, ToolCallView, TurnView};
use crate::{Error, Result};

/// Spans in one OTLP request at most; a longer session is sent in several.
pub const SPANS_PER_REQUEST: usize = 512;
/// Span events (files, connections) kept per tool call; the rest are counted in an attribute.
const EVENTS_PER_SPAN: usize = 64;
/// Characters of a message, argument or result kept in a `content` attribute.
const CONTENT_CHARS: usize = 8_000;

/// Where and how sessions are exported (`[analyzer.export]` in the config; `agentsight export`
/// takes the same from flags).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// The OTLP/HTTP endpoint: `http://host:4318/v1/traces`, or a base URL to which
    /// `/v1/traces` is added. Empty: `serve` exports nothing.
    pub otlp: String,
    /// Sent as the resource's `openinference.project.name` (the Phoenix project).
    pub project: String,
    /// Include the prompts, answers, tool arguments and results (redacted at capture) as
    /// `gen_ai.input.messages`, `gen_ai.output.messages` and `gen_ai.tool.call.*` attributes.
    pub content: bool,
    /// `serve`: a session is exported once it has had no new events or findings for this long,
    /// and again whenever it changes after that.
    pub idle_secs: u64,
    /// `serve`: how often to look for sessions to export.
    pub interval_secs: u64,
    /// Per request.
    pub timeout_secs: u64,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            otlp: String::new(),
            project: "agentsight".into(),
            content: true,
            idle_secs: 30,
            interval_secs: 10,
            timeout_secs: 30,
        }
    }
}

impl ExportConfig {
    pub fn validate(&self) -> Result<()> {
        if !self.otlp.is_empty() {
            traces_url(&self.otlp)?;
        }
        if self.interval_secs == 0 {
            return Err(Error::Config("`export.interval_secs` must be at least 1".into()));
        }
        if self.timeout_secs == 0 {
            return Err(Error::Config("`export.timeout_secs` must be at least 1".into()));
        }
        Ok(())
    }
}

/// The traces endpoint for `url`: as given when it has a path, else `{url}/v1/traces` (the
/// OTLP convention for a base endpoint).
pub fn traces_url(url: &str) -> Result<String> {
    let bad = |why: &str| Error::Config(format!("OTLP endpoint `{url}`: {why}"));
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    match rest.find('/') {
        None => Ok(format!("{url}/v1/traces")),
        Some(i) if rest[i..] == *"/" => Ok(format!("{}v1/traces", url)),
        Some(0) => Err(bad("no host")),
        Some(_) => Ok(url.to_owned()),
    }
}

/// A session to export: its rollup, every turn, and its findings.
#[derive(Debug, Clone, Copy)]
pub struct SessionExport<'a> {
    pub summary: &'a SessionSummary,
    /// All turns in order (pages joined), and which turns each finding cites.
    pub turns: &'a [TurnView],
    pub finding_turns: &'a BTreeMap<String, Vec<usize>>,
    pub findings: &'a [Finding],
}

/// How many spans and evaluations a session became.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub spans: usize,
    pub evaluations: usize,
}

impl std::ops::AddAssign for Exported {
    fn add_assign(&mut self, o: Exported) {
        self.spans += o.spans;
        self.evaluations += o.evaluations;
    }
}

/// The session's spans, in order (the session span first).
pub fn session_spans(s: &SessionExport<'_>, content: bool) -> Vec<Span> {
    let info = &s.summary.info;
    let rollup = &s.summary.rollup;
    let ids = Ids::new(&info.id);
    let root_id = ids.span("session");
    let agent = rollup.agent.clone().unwrap_or_else(|| "agent".into());
    let mut spans = Vec::new();

    let mut root = span_named(
        &ids,
        root_id,
        Vec::new(),
        format!("invoke_agent {agent}"),
        span::SpanKind::Internal,
        info.first_ns,
        info.last_ns,
    );
    let mut attrs = vec![
        kv("gen_ai.operation.name", "invoke_agent"),
        kv("gen_ai.agent.name", agent.as_str()),
        kv("gen_ai.conversation.id", info.id.as_str()),
        kv_i("gen_ai.usage.input_tokens", rollup.input_tokens),
        kv_i("gen_ai.usage.output_tokens", rollup.output_tokens),
        kv("openinference.span.kind", "AGENT"),
        kv("agentsight.session", info.id.as_str()),
        kv_i("agentsight.turns", rollup.turns as u64),
        kv_i("agentsight.commands", rollup.commands as u64),
        kv_i("agentsight.failed_commands", rollup.failed_commands as u64),
        kv_i("agentsight.events_lost", info.lost_events),
    ];
    if let Some(m) = rollup.models.first() {
        attrs.push(kv("gen_ai.request.model", m.as_str()));
    }
    if !rollup.models.is_empty() {
        attrs.push(kv_list("agentsight.models", &rollup.models));
    }
    if let Some(c) = &rollup.command {
        attrs.push(kv("process.command_line", c.as_str()));
    }
    if let Some(code) = rollup.exit_code {
        attrs.push(kv_int("process.exit.code", i64::from(code)));
        if code != 0 {
            root.status = Some(error_status(&format!("the agent exited with {code}")));
        }
    }
    if !info.coverage.is_empty() {
        attrs.push(kv_list("agentsight.coverage", &info.coverage));
    }
    if rollup.tls_not_captured {
        attrs.push(kv_bool("agentsight.tls_not_captured", true));
    }
    root.attributes = attrs;

    // Which span each turn's findings go on: its chat span.
    let mut chat_of_turn: BTreeMap<usize, usize> = BTreeMap::new();
    for turn in s.turns {
        if let Some(llm) = &turn.llm {
            chat_of_turn.insert(turn.index, spans.len() + 1);
            spans.push(chat_span(&ids, root_id, turn, llm, content));
            let chat_end = spans.last().map_or(turn.start_ns, |s: &Span| s.end_time_unix_nano);
            for call in &turn.tool_calls {
                tool_spans(&ids, root_id, call, chat_end, content, &mut spans);
            }
        }
        for c in &turn.uncaused.commands {
            spans.push(command_span(&ids, root_id, c));
        }
    }

    let mut spans_out = Vec::with_capacity(spans.len() + 1);
    spans_out.push(root);
    spans_out.extend(spans);
    for f in s.findings {
        let turn = s.finding_turns.get(&f.finding_id).and_then(|t| t.first().copied());
        let (at, time) = match turn.and_then(|t| chat_of_turn.get(&t).map(|&i| (i, t))) {
            Some((i, _)) => (i, spans_out[i].end_time_unix_nano),
            None => (0, s.turns.iter().find(|t| Some(t.index) == turn).map_or(info.last_ns, |t| t.end_ns)),
        };
        spans_out[at].events.push(evaluation(f, time));
    }
    spans_out
}

/// The request for one or more sessions' spans.
pub fn request(spans: Vec<Span>, project: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "agentsight"),
                    kv("service.version", env!("CARGO_PKG_VERSION")),
                    kv("openinference.project.name", project),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "agentsight".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Counts what `spans` hold.
pub fn counted(spans: &[Span]) -> Exported {
    Exported {
        spans: spans.len(),
        evaluations: spans.iter().flat_map(|s| &s.events).filter(|e| e.name == "gen_ai.evaluation.result").count(),
    }
}

fn chat_span(ids: &Ids, parent: [u8; 8], turn: &TurnView, llm: &crate::view::LlmView, content: bool) -> Span {
    let model = llm.model.as_deref();
    let name = model.map_or_else(|| "chat".to_owned(), |m| format!("chat {m}"));
    let end = turn.start_ns.saturating_add((llm.latency_ms.max(0.0) * 1e6) as u64);
    let mut s =
        span_named(ids, ids.span(&llm.event), parent.to_vec(), name, span::SpanKind::Client, turn.start_ns, end);
    let mut a = vec![
        kv(
            "gen_ai.operation.name",
            if llm.api == "chat" || llm.api == "messages" || llm.api == "gemini" { "chat" } else { "generate_content" },
        ),
        kv("gen_ai.provider.name", provider(&llm.provider)),
        kv("openinference.span.kind", "LLM"),
        kv("agentsight.event", llm.event.as_str()),
        kv("agentsight.api", llm.api.as_str()),
        kv_i("agentsight.turn", turn.index as u64),
        kv_i("process.pid", u64::from(llm.pid)),
    ];
    if let Some(m) = model {
        a.push(kv("gen_ai.request.model", m));
        a.push(kv("gen_ai.response.model", m));
    }
    if let Some(n) = llm.input_tokens {
        a.push(kv_i("gen_ai.usage.input_tokens", n));
    }
    if let Some(n) = llm.output_tokens {
        a.push(kv_i("gen_ai.usage.output_tokens", n));
    }
    if let Some(r) = &llm.stop_reason {
        a.push(kv_list("gen_ai.response.finish_reasons", std::slice::from_ref(r)));
    }
    if llm.status != 0 {
        a.push(kv_i("http.response.status_code", u64::from(llm.status)));
    }
    if llm.incomplete {
        a.push(kv_bool("agentsight.incomplete", true));
    }
    if let Some(e) = &llm.error {
        a.push(kv("error.type", e.as_str()));
        s.status = Some(error_status(e));
    } else if llm.status >= 400 || (llm.status == 0 && !llm.incomplete) {
        a.push(kv("error.type", llm.status.to_string().as_str()));
        s.status = Some(error_status(&format!("HTTP status {}", llm.status)));
    }
    if content {
        let input: Vec<_> = llm
            .user
            .iter()
            .map(|t| serde_json::json!({"role": "user", "parts": [{"type": "text", "content": cut(t)}]}))
            .collect();
        a.push(kv("gen_ai.input.messages", serde_json::Value::Array(input).to_string().as_str()));
        let mut parts = Vec::new();
        if !llm.assistant.is_empty() {
            parts.push(serde_json::json!({"type": "text", "content": cut(&llm.assistant)}));
        }
        for c in &turn.tool_calls {
            parts.push(
                serde_json::json!({"type": "tool_call", "id": c.id, "name": c.name, "arguments": cut(&c.arguments)}),
            );
        }
        let mut out = serde_json::json!({"role": "assistant", "parts": parts});
        if let Some(r) = &llm.stop_reason {
            out["finish_reason"] = r.clone().into();
        }
        a.push(kv("gen_ai.output.messages", serde_json::json!([out]).to_string().as_str()));
    }
    s.attributes = a;
    s
}

fn tool_spans(ids: &Ids, parent: [u8; 8], call: &ToolCallView, start: u64, content: bool, out: &mut Vec<Span>) {
    let id = ids.span(&format!("tool/{}", call.id));
    let caused = &call.caused;
    let end = caused
        .commands
        .iter()
        .map(command_end)
        .chain(caused.files.iter().chain(&caused.connections).chain(&caused.other).map(|a| a.ts_ns))
        .fold(start, u64::max);
    let mut s = span_named(
        ids,
        id,
        parent.to_vec(),
        format!("execute_tool {}", call.name),
        span::SpanKind::Internal,
        start,
        end,
    );
    let failed = caused.commands.iter().filter(|c| c.failed).count();
    let mut a = vec![
        kv("gen_ai.operation.name", "execute_tool"),
        kv("gen_ai.tool.name", call.name.as_str()),
        kv("gen_ai.tool.call.id", call.id.as_str()),
        kv("gen_ai.tool.type", "function"),
        kv("openinference.span.kind", "TOOL"),
        kv_i("agentsight.commands", caused.commands.len() as u64),
        kv_i("agentsight.failed_commands", failed as u64),
    ];
    if content {
        a.push(kv("gen_ai.tool.call.arguments", cut(&call.arguments).as_str()));
        if let Some(r) = &call.result {
            a.push(kv("gen_ai.tool.call.result", cut(r).as_str()));
        }
    }
    if failed > 0 {
        s.status = Some(error_status(&format!("{failed} of the commands it ran failed")));
    }
    let actions: Vec<&Action> = caused.files.iter().chain(&caused.connections).chain(&caused.other).collect();
    if actions.len() > EVENTS_PER_SPAN {
        a.push(kv_i("agentsight.events_not_listed", (actions.len() - EVENTS_PER_SPAN) as u64));
    }
    s.events = actions.iter().take(EVENTS_PER_SPAN).map(|x| action_event(x)).collect();
    s.attributes = a;
    out.push(s);
    for c in &caused.commands {
        out.push(command_span(ids, id, c));
    }
}

fn command_span(ids: &Ids, parent: [u8; 8], c: &CommandView) -> Span {
    let exe = c.argv.first().map_or(c.command.as_str(), |a| a.rsplit('/').next().unwrap_or(a));
    let mut s = span_named(
        ids,
        ids.span(&c.event),
        parent.to_vec(),
        format!("exec {exe}"),
        span::SpanKind::Internal,
        c.ts_ns,
        command_end(c),
    );
    let mut a = vec![
        kv("process.command_line", c.command.as_str()),
        kv("process.executable.name", exe),
        kv_i("process.pid", u64::from(c.pid)),
        kv_i("process.parent_pid", u64::from(c.ppid)),
        kv("openinference.span.kind", "CHAIN"),
        kv("agentsight.event", c.event.as_str()),
    ];
    if c.execs.len() > 1 {
        a.push(kv_list("agentsight.execs", &c.execs));
    }
    if let Some(code) = c.exit_code {
        a.push(kv_int("process.exit.code", i64::from(code)));
    }
    if let Some(sig) = c.signal {
        a.push(kv_i("agentsight.signal", u64::from(sig)));
    }
    if c.failed {
        s.status = Some(error_status(&match (c.exit_code, c.signal) {
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(code), None) => format!("exited with {code}"),
            (None, None) => "failed".into(),
        }));
    }
    s.attributes = a;
    s
}

fn command_end(c: &CommandView) -> u64 {
    c.ts_ns.saturating_add(c.duration_ns.unwrap_or(0))
}

fn action_event(a: &Action) -> span::Event {
    let mut attributes = vec![kv("agentsight.event", a.event.as_str()), kv_i("process.pid", u64::from(a.pid))];
    attributes.push(kv("agentsight.action", a.text.as_str()));
    if a.failed {
        attributes.push(kv_bool("agentsight.failed", true));
    }
    span::Event { time_unix_nano: a.ts_ns, name: a.kind.to_owned(), attributes, ..Default::default() }
}

fn evaluation(f: &Finding, time: u64) -> span::Event {
    let evidence: Vec<String> = f.evidence.iter().map(|e| e.event.clone()).collect();
    let mut attributes = vec![
        kv("gen_ai.evaluation.name", f.kind.as_str()),
        kv_f("gen_ai.evaluation.score.value", f.score),
        kv("gen_ai.evaluation.score.label", "fail"),
        kv("gen_ai.evaluation.explanation", f.rationale.as_str()),
        kv("agentsight.finding.id", f.finding_id.as_str()),
        kv("agentsight.finding.detector", f.detector.as_str()),
        kv("agentsight.finding.window", f.window_id.as_str()),
    ];
    if !evidence.is_empty() {
        attributes.push(kv_list("agentsight.finding.evidence", &evidence));
    }
    span::Event { time_unix_nano: time, name: "gen_ai.evaluation.result".into(), attributes, ..Default::default() }
}

/// `gen_ai.provider.name` values for the providers the collector names.
fn provider(p: &str) -> &str {
    match p {
        "google" => "gcp.gemini",
        other => other,
    }
}

fn error_status(message: &str) -> Status {
    Status { message: message.to_owned(), code: status::StatusCode::Error as i32 }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(CONTENT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn span_named(
    ids: &Ids,
    id: [u8; 8],
    parent: Vec<u8>,
    name: String,
    kind: span::SpanKind,
    start: u64,
    end: u64,
) -> Span {
    Span {
        trace_id: ids.trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent,
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end.max(start),
        ..Default::default()
    }
}

/// Deterministic ids: the trace from the session, each span from the session and what it
/// stands for (an event id, a tool call id).
struct Ids {
    session: String,
    trace: [u8; 16],
}

impl Ids {
    fn new(session: &str) -> Self {
        let h = Sha256::digest(format!("agentsight trace\0{session}"));
        let mut trace = [0u8; 16];
        trace.copy_from_slice(&h[..16]);
        Ids { session: session.to_owned(), trace }
    }

    fn span(&self, key: &str) -> [u8; 8] {
        let h = Sha256::digest(format!("agentsight span\0{}\0{key}", self.session));
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[..8]);
        if id == [0; 8] {
            id[7] = 1; // all-zero ids are invalid in OTLP
        }
        id
    }
}

fn attr(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn kv(key: &str, v: &str) -> KeyValue {
    attr(key, any_value::Value::StringValue(v.into()))
}

fn kv_i(key: &str, v: u64) -> KeyValue {
    kv_int(key, i64::try_from(v).unwrap_or(i64::MAX))
}

fn kv_int(key: &str, v: i64) -> KeyValue {
    attr(key, any_value::Value::IntValue(v))
}

fn kv_f(key: &str, v: f64) -> KeyValue {
    attr(key, any_value::Value::DoubleValue(v))
}

fn kv_bool(key: &str, v: bool) -> KeyValue {
    attr(key, any_value::Value::BoolValue(v))
}

fn kv_list(key: &str, v: &[String]) -> KeyValue {
    let values = v.iter().map(|s| AnyValue { value: Some(any_value::Value::StringValue(s.clone())) }).collect();
    attr(key, any_value::Value::ArrayValue(ArrayValue { values }))
}

/// Posts export requests to one OTLP/HTTP endpoint.
#[derive(Debug, Clone)]
pub struct Exporter {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
    project: String,
}

impl Exporter {
    /// An exporter for `config.otlp`, with the headers of `OTEL_EXPORTER_OTLP_HEADERS` (or
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`): `key=value` pairs separated by commas.
    pub fn new(config: &ExportConfig) -> Result<Exporter> {
        config.validate()?;
        let url = traces_url(&config.otlp)?;
        let headers = ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"]
            .iter()
            .find_map(|k| std::env::var(k).ok())
            .map(|v| parse_headers(&v))
            .transpose()?
            .unwrap_or_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .map_err(|e| Error::Export { url: url.clone(), reason: format!("cannot build an HTTP client: {e}") })?;
        Ok(Exporter { client, url, headers, project: config.project.clone() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `spans` in requests of at most [`SPANS_PER_REQUEST`]; an error names the endpoint
    /// and what it answered. Spans the receiver reports as rejected (a partial success) are an
    /// error too.
    pub async fn send(&self, spans: Vec<Span>) -> Result<Exported> {
        let total = counted(&spans);
        let mut spans = spans;
        while !spans.is_empty() {
            let rest = spans.split_off(spans.len().min(SPANS_PER_REQUEST));
            self.post(request(std::mem::replace(&mut spans, rest), &self.project)).await?;
        }
        Ok(total)
    }

    async fn post(&self, req: ExportTraceServiceRequest) -> Result<()> {
        let err = |reason: String| Error::Export { url: self.url.clone(), reason };
        let mut b = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(req.encode_to_vec());
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let resp = b.send().await.map_err(|e| err(format!("cannot send: {}", error_chain(&e))))?;
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(err(format!("answered {status}: {}", text.trim())));
        }
        // A 2xx may still carry a partial success naming rejected spans.
        if let Ok(r) = ExportTraceServiceResponse::decode(body.as_ref()) {
            if let Some(p) = r.partial_success.filter(|p| p.rejected_spans > 0) {
                return Err(err(format!("rejected {} spans: {}", p.rejected_spans, p.error_message)));
            }
        }
        Ok(())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `k1=v1,k2=v2` (values may be percent-encoded, as the OTLP exporter spec allows).
fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("OTLP header `{}` is not key=value", p.trim())))?;
            Ok((k.trim().to_owned(), percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy().into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    use super::*;

    #[test]
    fn an_endpoint_is_a_traces_url_or_a_base_one() {
        assert_eq!(traces_url("http://127.0.0.1:6006").unwrap(), "http://127.0.0.1:6006/v1/traces");
        assert_eq!(traces_url("http://h:4318/").unwrap(), "http://h:4318/v1/traces");
        assert_eq!(traces_url("https://h/custom/path").unwrap(), "https://h/custom/path");
        for bad in ["127.0.0.1:6006", "ftp://h", "http:///v1/traces"] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_key_value_pairs_with_percent_escapes() {
        let h = parse_headers("api_key=a%3Db, x-team = ops,").unwrap();
        assert_eq!(h, vec![("api_key".into(), "a=b".into()), ("x-team".into(), "ops".into())]);
        assert!(parse_headers("novalue").is_err());
        assert_eq!(parse_headers("k=%e2%82%ac%zz%").unwrap(), vec![("k".into(), "€%zz%".into())]);
    }

    fn one_span() -> Vec<Span> {
        let ids = Ids::new("s");
        vec![span_named(&ids, ids.span("session"), Vec::new(), "invoke_agent a".into(), span::SpanKind::Internal, 1, 2)]
    }

    /// A receiver on 127.0.0.1 answering `status` with `body`; what it got is kept.
    async fn receiver(status: StatusCode, body: Vec<u8>) -> (String, Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, req: axum::body::Bytes| {
                let kept = kept.clone();
                let body = body.clone();
                async move {
                    kept.lock().unwrap().push((headers, req.to_vec()));
                    (status, body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, got)
    }

    #[tokio::test]
    async fn spans_go_as_protobuf_in_bounded_requests() {
        let (url, got) = receiver(StatusCode::OK, Vec::new()).await;
        let exporter = Exporter::new(&ExportConfig { otlp: url, ..ExportConfig::default() }).unwrap();
        let many: Vec<Span> = (0..SPANS_PER_REQUEST + 3)
            .map(|i| {
                let mut s = one_span().remove(0);
                s.span_id = (i as u64 + 1).to_be_bytes().to_vec();
                s
            })
            .collect();
        let sent = exporter.send(many).await.unwrap();
        assert_eq!(sent.spans, SPANS_PER_REQUEST + 3);
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2, "split at {SPANS_PER_REQUEST} spans");
        let (headers, body) = &got[0];
        assert_eq!(headers["content-type"], "application/x-protobuf");
        let req = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let rs = &req.resource_spans[0];
        assert_eq!(rs.scope_spans[0].spans.len(), SPANS_PER_REQUEST);
        let project =
            rs.resource.as_ref().unwrap().attributes.iter().find(|a| a.key == "openinference.project.name").unwrap();
        assert_eq!(project.value.clone().unwrap().value, Some(any_value::Value::StringValue("agentsight".into())));
    }

    #[tokio::test]
    async fn a_refusal_or_a_partial_success_is_an_error_naming_the_endpoint() {
        let (url, _) = receiver(StatusCode::UNSUPPORTED_MEDIA_TYPE, b"Unsupported content type".to_vec()).await;
        let err = Exporter::new(&ExportConfig { otlp: url.clone(), ..ExportConfig::default() })
            .unwrap()
            .send(one_span())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&url) && err.contains("415") && err.contains("Unsupported content type"), "{err}");

        let partial = ExportTraceServiceResponse {
            partial_success: Some(opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: "bad span".into(),
            }),
        };
        let (url, _) = receiver(StatusCode::OK, partial.encode_to_vec()).await;
        let err = Exporter::new(&ExportConfig { otlp: url, ..ExportConfig::default() })
            .unwrap()
            .send(one_span())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("rejected 1 spans: bad span"), "{err}");

        let dead = format!("http://127.0.0.1:{}", {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        });
        let err = Exporter::new(&ExportConfig { otlp: dead, ..ExportConfig::default() })
            .unwrap()
            .send(one_span())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot send"), "{err}");
    }
}
