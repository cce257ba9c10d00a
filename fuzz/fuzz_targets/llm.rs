//! LLM API decoding (`collector::llm::decode`) of one exchange.
//!
//! Input: two control bytes, then the request body, [`SEP`], the response body. The first byte
//! picks the API path and host (Chat Completions, Responses, Messages, Gemini unary and
//! streamed, an unknown path) and whether a query string with a key is present; the second the
//! response's content type (JSON, event stream, none), its status, whether it is cut off
//! (`incomplete`) or missing. Check: no panic, and no credential from the query string in the
//! decoded URL.
#![no_main]

use agentsight_fuzz::split2;
use collector::http::{Exchange, Request, Response};
use collector::llm::{decode, Decoded};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[(&str, &str)] = &[
    ("api.openai.com", "/v1/chat/completions"),
    ("api.openai.com", "/v1/responses"),
    ("api.anthropic.com", "/v1/messages"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
    ("localhost:8080", "/v1/chat/completions/"),
    ("example.com", "/other"),
    ("api.anthropic.com", "/v1/models/x:y"),
];

const SECRET: &str = "fuzzsecretvalue0123";

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let (req_body, resp_body) = split2(rest);
    let (host, path) = ROUTES[usize::from(a & 7)];
    let mut path = path.to_owned();
    if a & 8 != 0 {
        path.push_str(if a & 16 != 0 { "?alt=sse&key=" } else { "?api_key=" });
        path.push_str(SECRET);
    }
    let request = Request {
        method: if a & 32 == 0 { "POST".into() } else { "post".into() },
        path,
        host: Some(host.into()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: req_body.to_vec(),
        wire_bytes: req_body.len() as u64,
        start_ns: 1,
        end_ns: 2,
        version: 1 + (a >> 7),
        ..Request::default()
    };
    let content_type = match b & 3 {
        0 => Some("application/json"),
        1 => Some("text/event-stream; charset=utf-8"),
        2 => Some("text/plain"),
        _ => None,
    };
    let response = Response {
        status: match (b >> 2) & 3 {
            0 | 1 => 200,
            2 => 400,
            _ => 529,
        },
        headers: content_type.map(|t| ("content-type".into(), t.into())).into_iter().collect(),
        body: resp_body.to_vec(),
        wire_bytes: resp_body.len() as u64,
        start_ns: 3,
        first_body_ns: Some(4),
        end_ns: 5,
        body_truncated: b & 16 != 0,
        ..Response::default()
    };
    let ex = Exchange {
        request,
        response: (b & 32 == 0).then_some(response),
        incomplete: b & 64 != 0,
    };
    match decode(&ex) {
        Decoded::Llm(call) => assert!(!call.url.contains(SECRET), "key leaked in `{}`", call.url),
        Decoded::Http(http) => assert!(!http.path.contains(SECRET), "key leaked in `{}`", http.path),
    }
});
