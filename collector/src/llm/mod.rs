//! LLM API decoding: an HTTP [`crate::http::Exchange`] becomes an `llm_call` event when it
//! speaks a known API, else a compact `http` event.
//!
//! [`decode`] recognises the API by method and path (`POST …/chat/completions`, `…/responses`,
//! `…/v1/messages`, `…/models/{model}:generateContent` and `:streamGenerateContent`) and the
//! provider by host (`api.openai.com`, `api.anthropic.com`, `generativelanguage.googleapis.com`;
//! any other host is `unknown` but still decoded, for OpenAI-compatible local servers). The
//! request is flattened to a system prompt, text messages and tools; the response, JSON or a
//! server-sent event stream ([`sse`]), is merged into text, tool calls, a stop reason and usage.
//! Each API lives in its own module ([`openai`], [`anthropic`], [`gemini`]).
//!
//! Invariants:
//! - Pure and total: no I/O, and no input panics.
//! - Nothing vanishes: a body that is not JSON or not the API's known shape is kept, cut at
//!   [`RAW_CAP`] bytes and flagged, in `LlmCall.raw` with the reason, beside whatever could be
//!   read. A stream cut off mid-way yields what arrived (its half-sent last event tolerated) and
//!   is marked `incomplete`.
//! - Credentials in the URL's query (`key`, `api_key`, `access_token`, …) never leave here.
//! - Tool-call arguments are parsed JSON, or the text as sent when it does not parse.

mod anthropic;
mod gemini;
mod openai;
mod parts;
pub mod sse;

use crate::http::{Exchange, Response};
use model::{Http, LlmCall, LlmRequest, LlmResponse, RawBodies, Usage};
use serde_json::Value;

/// The most bytes of a body kept in [`LlmCall::raw`]; more is cut and flagged `truncated`.
pub const RAW_CAP: usize = 64 * 1024;

/// Query parameters whose values are credentials (compared ignoring ASCII case).
const SECRET_PARAMS: &[&str] = &["key", "api_key", "apikey", "api-key", "access_token", "token"];

/// What one exchange became.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A call to a known LLM API.
    Llm(Box<LlmCall>),
    /// Any other HTTPS exchange, in brief.
    Http(Http),
}

/// The LLM APIs decoded here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// OpenAI Chat Completions (and the many servers that copy it).
    Chat,
    /// OpenAI Responses.
    Responses,
    /// Anthropic Messages.
    Messages,
    /// Google Gemini `generateContent` / `streamGenerateContent`.
    Gemini,
}

impl Api {
    /// The `api` field of the event.
    fn as_str(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Responses => "responses",
            Api::Messages => "messages",
            Api::Gemini => "gemini",
        }
    }
}

/// Why a body could not be read; the text becomes [`RawBodies::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unreadable {
    #[error("empty request body")]
    EmptyRequest,
    #[error("request body is not JSON")]
    RequestNotJson,
    #[error("unknown `{api}` request shape")]
    RequestShape { api: &'static str },
    #[error("response body is not JSON")]
    ResponseNotJson,
    #[error("unknown `{api}` response shape")]
    ResponseShape { api: &'static str },
    #[error("error response without a message")]
    ErrorShape,
    #[error("{bad} of {total} stream events are not JSON")]
    StreamNotJson { bad: usize, total: usize },
    #[error("no known `{api}` events in the stream")]
    StreamShape { api: &'static str },
    /// The body could not be decompressed, so it is still in its `Content-Encoding`.
    #[error("{why}")]
    Encoded { why: String },
}

/// What a request body said.
#[derive(Debug, Default)]
struct RequestParts {
    request: LlmRequest,
    model: Option<String>,
    stream: bool,
}

/// What a response body said.
#[derive(Debug, Default)]
struct ResponseParts {
    response: LlmResponse,
    usage: Option<Usage>,
    /// The model the server says answered (often more precise than the one asked for).
    model: Option<String>,
}

/// Decode one exchange. Never panics; a body of unknown shape is kept raw (see the module
/// docs) rather than dropped.
pub fn decode(ex: &Exchange) -> Decoded {
    let req = &ex.request;
    let target = req.path.split_once('?').map_or(req.path.as_str(), |(p, _)| p);
    match route(&req.method, target) {
        Some(route) => Decoded::Llm(Box::new(decode_llm(ex, route))),
        None => Decoded::Http(summary(ex)),
    }
}

/// Which API a request speaks, from its method and path (query removed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    api: Api,
    /// Gemini names the model in the path.
    model: Option<String>,
    /// Gemini's `streamGenerateContent` streams whatever the body says.
    stream: bool,
}

fn route(method: &str, path: &str) -> Option<Route> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let path = path.trim_end_matches('/');
    let simple = |api| Some(Route { api, model: None, stream: false });
    if path.ends_with("/chat/completions") {
        return simple(Api::Chat);
    }
    if path.ends_with("/responses") {
        return simple(Api::Responses);
    }
    if path.ends_with("/v1/messages") {
        return simple(Api::Messages);
    }
    let (_, rest) = path.rsplit_once("/models/")?;
    let (model, verb) = rest.split_once(':')?;
    let stream = match verb {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    if model.is_empty() || model.contains('/') {
        return None;
    }
    Some(Route { api: Api::Gemini, model: Some(model.to_owned()), stream })
}

/// The provider, from the host alone: a copy of an API on another host is `unknown`.
fn provider(host: &str) -> &'static str {
    let name = host.split(':').next().unwrap_or(host).trim_end_matches('.').to_ascii_lowercase();
    match name.as_str() {
        "api.openai.com" => "openai",
        "api.anthropic.com" => "anthropic",
        "generativelanguage.googleapis.com" => "google",
        n if n.ends_with("aiplatform.googleapis.com") => "google",
        _ => "unknown",
    }
}

/// The request target with the values of credential query parameters replaced.
fn redact_query(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                format!("{name}=[REDACTED]")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// First byte of the request to last byte of the response; 0 without a response.
fn latency_ms(ex: &Exchange) -> f64 {
    ex.response.as_ref().map_or(0.0, |r| ms(r.end_ns.saturating_sub(ex.request.start_ns)))
}

fn summary(ex: &Exchange) -> Http {
    let req = &ex.request;
    let resp = ex.response.as_ref();
    Http {
        method: req.method.clone(),
        host: req.host.clone().unwrap_or_default(),
        path: redact_query(&req.path),
        status: resp.map_or(0, |r| r.status),
        request_bytes: req.wire_bytes,
        response_bytes: resp.map_or(0, |r| r.wire_bytes),
        content_type: resp.and_then(|r| r.header("content-type")).map(str::to_owned),
        latency_ms: latency_ms(ex),
        incomplete: ex.incomplete,
    }
}

fn decode_llm(ex: &Exchange, route: Route) -> LlmCall {
    let req = &ex.request;
    let host = req.host.as_deref().unwrap_or_default();
    let resp = ex.response.as_ref();
    let mut raw = RawKeeper::default();

    let parsed = decode_request(route.api, &req.body);
    let request_whole = parsed.is_ok();
    let request = match parsed {
        Ok(parts) => parts,
        Err(reason) => {
            let reason = encoded(req.decode_error.as_deref()).unwrap_or(reason);
            raw.keep_request(reason, &req.body, req.body_truncated);
            RequestParts::default()
        }
    };

    let mut response = ResponseParts::default();
    let mut streamed = false;
    if let Some(r) = resp {
        let cut = ex.incomplete || r.body_truncated;
        let outcome = decode_response(route.api, r, cut);
        response = outcome.parts;
        streamed = outcome.streamed;
        if let Some(reason) = outcome.unreadable {
            let reason = encoded(r.decode_error.as_deref()).unwrap_or(reason);
            raw.keep_response(reason, &r.body, r.body_truncated);
        }
        if r.status >= 400 && response.response.error.is_none() {
            response.response.error = Some(format!("HTTP {}", r.status));
        }
    }

    // A reply that reached its stop reason is whole even if the HTTP exchange was not: clients
    // (httpx after `[DONE]`) often stop reading before the final chunk and drop the connection.
    // That excuses a cut response only: a request that did not parse was cut itself.
    let finished = response.response.stop_reason.is_some() && request_whole;
    LlmCall {
        provider: provider(host).to_owned(),
        api: route.api.as_str().to_owned(),
        url: format!("https://{host}{}", redact_query(&req.path)),
        model: route.model.or(request.model).or(response.model),
        request: request.request,
        response: response.response,
        usage: response.usage,
        stream: route.stream || request.stream || streamed,
        status: resp.map_or(0, |r| r.status),
        ttft_ms: resp.and_then(|r| r.first_body_ns).map(|first| ms(first.saturating_sub(req.end_ns))),
        latency_ms: latency_ms(ex),
        incomplete: ex.incomplete && !finished,
        raw: raw.finish(),
    }
}

/// A failed decompression explains an unreadable body better than its bytes do.
fn encoded(decode_error: Option<&str>) -> Option<Unreadable> {
    decode_error.map(|why| Unreadable::Encoded { why: why.to_owned() })
}

fn decode_request(api: Api, body: &[u8]) -> Result<RequestParts, Unreadable> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Unreadable::EmptyRequest);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| Unreadable::RequestNotJson)?;
    let parts = match api {
        Api::Chat => openai::chat_request(&v),
        Api::Responses => openai::responses_request(&v),
        Api::Messages => anthropic::request(&v),
        Api::Gemini => gemini::request(&v),
    };
    parts.ok_or(Unreadable::RequestShape { api: api.as_str() })
}

/// A response body, read.
#[derive(Debug, Default)]
struct ResponseOutcome {
    parts: ResponseParts,
    /// The body was a stream (events, or Gemini's JSON array of chunks).
    streamed: bool,
    unreadable: Option<Unreadable>,
}

/// `cut`: the body is known to end early, so a half-sent last event is expected.
fn decode_response(api: Api, resp: &Response, cut: bool) -> ResponseOutcome {
    let body = resp.body.as_slice();
    let is_error = resp.status >= 400;
    let event_stream = resp.header("content-type").is_some_and(|ct| ct.contains("text/event-stream"));
    if event_stream || sse::looks_like_sse(body) {
        let (parts, unreadable) = merge_stream(api, &sse::parse(body), cut);
        return ResponseOutcome { parts, streamed: true, unreadable };
    }
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return ResponseOutcome::default();
    };
    if api == Api::Gemini && body.get(start) == Some(&b'[') {
        return gemini_array(body, cut);
    }
    let mut outcome = ResponseOutcome::default();
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            outcome.unreadable = Some(Unreadable::ResponseNotJson);
            return outcome;
        }
    };
    if let Some(message) = parts::error_message(&v, is_error) {
        outcome.parts.response.error = Some(message);
        return outcome;
    }
    if is_error {
        outcome.unreadable = Some(Unreadable::ErrorShape);
        return outcome;
    }
    let parts = match api {
        Api::Chat => openai::chat_response(&v),
        Api::Responses => openai::responses_response(&v),
        Api::Messages => anthropic::response(&v),
        Api::Gemini => {
            let mut merger = gemini::Stream::default();
            merger.push(&v).then(|| merger.finish())
        }
    };
    match parts {
        Some(parts) => outcome.parts = parts,
        None => outcome.unreadable = Some(Unreadable::ResponseShape { api: api.as_str() }),
    }
    outcome
}

/// One stream merger per API.
#[derive(Debug)]
enum Merger {
    Chat(openai::ChatStream),
    Responses(openai::ResponsesStream),
    Messages(anthropic::Stream),
    Gemini(gemini::Stream),
}

impl Merger {
    fn new(api: Api) -> Self {
        match api {
            Api::Chat => Merger::Chat(Default::default()),
            Api::Responses => Merger::Responses(Default::default()),
            Api::Messages => Merger::Messages(Default::default()),
            Api::Gemini => Merger::Gemini(Default::default()),
        }
    }

    /// Returns whether the event was one this API sends.
    fn push(&mut self, event: Option<&str>, data: &Value) -> bool {
        match self {
            Merger::Chat(m) => m.push(data),
            Merger::Responses(m) => m.push(event, data),
            Merger::Messages(m) => m.push(event, data),
            Merger::Gemini(m) => m.push(data),
        }
    }

    fn finish(self) -> ResponseParts {
        match self {
            Merger::Chat(m) => m.finish(),
            Merger::Responses(m) => m.finish(),
            Merger::Messages(m) => m.finish(),
            Merger::Gemini(m) => m.finish(),
        }
    }
}

fn merge_stream(api: Api, events: &[sse::SseEvent], cut: bool) -> (ResponseParts, Option<Unreadable>) {
    let mut merger = Merger::new(api);
    let mut error = None;
    let (mut total, mut bad, mut known) = (0, 0, 0);
    let mut last_bad = false;
    for (i, ev) in events.iter().enumerate() {
        if ev.is_done() || ev.data.trim().is_empty() {
            continue;
        }
        total += 1;
        let Ok(data) = serde_json::from_str::<Value>(&ev.data) else {
            bad += 1;
            last_bad = i + 1 == events.len();
            continue;
        };
        if let Some(message) = parts::error_message(&data, false) {
            error = Some(message);
            known += 1;
        } else if merger.push(ev.event.as_deref(), &data) {
            known += 1;
        }
    }
    let mut parts = merger.finish();
    if error.is_some() {
        parts.response.error = error;
    }
    let unreadable = if total > 0 && known == 0 {
        Some(Unreadable::StreamShape { api: api.as_str() })
    } else if bad > 0 && !(cut && bad == 1 && last_bad) {
        Some(Unreadable::StreamNotJson { bad, total })
    } else {
        None
    };
    (parts, unreadable)
}

/// Gemini's `streamGenerateContent` without `alt=sse`: one JSON array of chunks, arriving
/// piece by piece, so a cut one is read up to its last whole chunk.
fn gemini_array(body: &[u8], cut: bool) -> ResponseOutcome {
    let (chunks, complete) = gemini::array_chunks(body);
    let mut merger = gemini::Stream::default();
    let mut error = None;
    let mut known = false;
    for chunk in &chunks {
        if let Some(message) = parts::error_message(chunk, false) {
            error = Some(message);
            known = true;
        } else {
            known |= merger.push(chunk);
        }
    }
    let mut parts = merger.finish();
    if error.is_some() {
        parts.response.error = error;
    }
    let unreadable = if !known && !chunks.is_empty() {
        Some(Unreadable::ResponseShape { api: Api::Gemini.as_str() })
    } else if !complete && !cut {
        Some(Unreadable::ResponseNotJson)
    } else {
        None
    };
    ResponseOutcome { parts, streamed: true, unreadable }
}

/// Collects the bodies that could not be read, each cut at [`RAW_CAP`].
#[derive(Debug, Default)]
struct RawKeeper {
    raw: Option<RawBodies>,
}

impl RawKeeper {
    fn keep_request(&mut self, reason: Unreadable, body: &[u8], body_truncated: bool) {
        let text = self.note(reason, body, body_truncated);
        if let Some(raw) = &mut self.raw {
            raw.request = text;
        }
    }

    fn keep_response(&mut self, reason: Unreadable, body: &[u8], body_truncated: bool) {
        let text = self.note(reason, body, body_truncated);
        if let Some(raw) = &mut self.raw {
            raw.response = text;
        }
    }

    /// Record the reason and return the capped body (`None` when empty).
    fn note(&mut self, reason: Unreadable, body: &[u8], body_truncated: bool) -> Option<String> {
        let (text, cut) = capped(body);
        let raw = self.raw.get_or_insert_with(RawBodies::default);
        if !raw.reason.is_empty() {
            raw.reason.push_str("; ");
        }
        raw.reason.push_str(&reason.to_string());
        raw.truncated |= cut || body_truncated;
        Some(text).filter(|t| !t.is_empty())
    }

    fn finish(self) -> Option<RawBodies> {
        self.raw
    }
}

/// The body as text (invalid UTF-8 as `\xNN`), at most [`RAW_CAP`] bytes; whether it was cut.
fn capped(body: &[u8]) -> (String, bool) {
    let mut end = body.len().min(RAW_CAP);
    // back off to the start of a character the cap would split
    let floor = end.saturating_sub(3);
    while end < body.len() && end > floor && body.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
        end -= 1;
    }
    let head = body.get(..end).unwrap_or(body);
    let (mut text, _) = crate::text::escape_bytes(head);
    let mut cut = head.len() < body.len();
    if text.len() > RAW_CAP {
        let mut end = RAW_CAP;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    (text, cut)
}

#[cfg(test)]
mod tests;
