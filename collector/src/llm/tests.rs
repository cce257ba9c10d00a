//! Whole exchanges through [`decode`], one realistic fixture per API and shape.

use super::*;
use crate::http::Request;
use model::{Message, ToolCall};
use proptest::prelude::*;
use serde_json::json;

const T0: u64 = 1_700_000_000_000_000_000;

fn exchange(host: &str, path: &str, request: &str, status: u16, content_type: &str, response: &[u8]) -> Exchange {
    Exchange {
        request: Request {
            method: "POST".into(),
            path: path.into(),
            host: Some(host.into()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: request.as_bytes().to_vec(),
            wire_bytes: request.len() as u64,
            body_truncated: false,
            start_ns: T0,
            end_ns: T0 + 2_000_000,
            version: 1,
            ..Request::default()
        },
        response: Some(Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: response.to_vec(),
            wire_bytes: response.len() as u64,
            body_truncated: false,
            start_ns: T0 + 500_000_000,
            first_body_ns: Some(T0 + 502_000_000),
            end_ns: T0 + 1_000_000_000,
            ..Response::default()
        }),
        incomplete: false,
    }
}

fn llm(ex: &Exchange) -> LlmCall {
    match decode(ex) {
        Decoded::Llm(call) => *call,
        Decoded::Http(http) => panic!("expected an llm_call, got {http:?}"),
    }
}

/// An SSE body from `(event name, data)` pairs.
fn sse_body(events: &[(Option<&str>, Value)]) -> String {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

fn call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall { id: id.into(), name: name.into(), arguments }
}

// ---------------------------------------------------------------- OpenAI Chat Completions

const CHAT_REQUEST: &str = r#"{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "developer", "content": [{"type": "text", "text": "Prefer small diffs."}]},
    {"role": "user", "content": [
      {"type": "text", "text": "What is the weather in Paris and Tokyo?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
  "stream": false
}"#;

#[test]
fn chat_json_with_parallel_tool_calls() {
    let response = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}},
                {"id": "call_3", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":\"Asia/Tokyo\"}"}}
            ]}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 41, "total_tokens": 161}
    });
    let ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_REQUEST,
        200,
        "application/json",
        response.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!((c.provider.as_str(), c.api.as_str()), ("openai", "chat"));
    assert_eq!(c.url, "https://api.openai.com/v1/chat/completions");
    assert_eq!(c.model.as_deref(), Some("gpt-4o"));
    assert!(!c.stream);
    assert_eq!(c.status, 200);
    assert_eq!(c.request.system.as_deref(), Some("You are a coding agent.\n\nPrefer small diffs."));
    let m = &c.request.messages;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].role, "user");
    assert_eq!(m[0].content, "What is the weather in Paris and Tokyo?\n[image]");
    assert_eq!(m[1].tool_calls, vec![call("call_1", "get_weather", json!({"city": "Paris"}))]);
    assert_eq!(
        (m[2].role.as_str(), m[2].tool_call_id.as_deref(), m[2].content.as_str()),
        ("tool", Some("call_1"), "18C, cloudy")
    );
    assert_eq!(c.request.tools.len(), 1);
    assert_eq!(c.request.tools[0].name, "get_weather");
    assert_eq!(c.request.tools[0].parameters["required"], json!(["city"]));
    assert_eq!(
        c.response.tool_calls,
        vec![
            call("call_2", "get_weather", json!({"city": "Tokyo"})),
            call("call_3", "get_time", json!({"tz": "Asia/Tokyo"}))
        ]
    );
    assert_eq!(c.response.stop_reason.as_deref(), Some("tool_calls"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 120, output_tokens: 41 }));
    assert_eq!(c.latency_ms, 1000.0);
    assert_eq!(c.ttft_ms, Some(500.0));
    assert!(c.raw.is_none());
    assert!(!c.incomplete);
}

/// A streamed answer with two parallel tool calls, their arguments split over many deltas
/// (mid-token), and usage in the final chunk.
fn chat_stream_body() -> String {
    let chunk = |delta: Value, finish: Value| {
        (
            None,
            json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null}),
        )
    };
    let mut events = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Checking "}), Value::Null),
        chunk(json!({"content": "both."}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\""}}]}),
            Value::Null,
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\": \"Par"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": ": \"Tokyo\"}"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "is\"}"}}]}), Value::Null),
        chunk(json!({}), json!("tool_calls")),
    ];
    events.push((
        None,
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [],
                              "usage": {"prompt_tokens": 80, "completion_tokens": 33, "total_tokens": 113}}),
    ));
    let mut body = sse_body(&events);
    body.push_str("data: [DONE]\n\n");
    body
}

const CHAT_STREAM_REQUEST: &str = r#"{"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
  "messages": [{"role": "user", "content": "Weather in Paris and Tokyo?"}]}"#;

#[test]
fn chat_stream_assembles_parallel_tool_calls_split_over_deltas() {
    let ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_STREAM_REQUEST,
        200,
        "text/event-stream; charset=utf-8",
        chat_stream_body().as_bytes(),
    );
    let c = llm(&ex);
    assert!(c.stream);
    assert_eq!(c.response.text, "Checking both.");
    assert_eq!(
        c.response.tool_calls,
        vec![
            call("call_a", "get_weather", json!({"city": "Paris"})),
            call("call_b", "get_weather", json!({"city": "Tokyo"}))
        ]
    );
    assert_eq!(c.response.stop_reason.as_deref(), Some("tool_calls"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 80, output_tokens: 33 }));
    assert!(c.raw.is_none(), "{:?}", c.raw);
}

#[test]
fn chat_stream_cut_mid_way_keeps_what_arrived() {
    let body = chat_stream_body();
    let cut = body.find("ty\\\": \\\"Par").expect("fixture") + 5;
    let mut ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_STREAM_REQUEST,
        200,
        "text/event-stream",
        &body.as_bytes()[..cut],
    );
    ex.incomplete = true;
    let c = llm(&ex);
    assert!(c.incomplete);
    assert_eq!(c.response.text, "Checking both.");
    assert_eq!(c.response.tool_calls.len(), 2);
    assert_eq!(c.response.tool_calls[0].arguments, json!("{\"ci"), "unparsable arguments stay text");
    assert_eq!(c.response.tool_calls[1].arguments, json!("{\"city\""));
    assert_eq!(c.response.stop_reason, None);
    assert_eq!(c.usage, None);
    assert!(c.raw.is_none(), "a half-sent last event of a cut stream is expected: {:?}", c.raw);
}

#[test]
fn chinese_text_round_trips() {
    let request = json!({"model": "qwen2.5", "stream": true, "messages": [
        {"role": "system", "content": "你是一个乐于助人的助手。"},
        {"role": "user", "content": "用一句话介绍北京。"}]});
    let body = sse_body(&[
        (None, json!({"choices": [{"index": 0, "delta": {"content": "北京是中国的"}}]})),
        (None, json!({"choices": [{"index": 0, "delta": {"content": "首都，历史悠久。"}, "finish_reason": "stop"}]})),
    ]);
    let ex = exchange(
        "localhost:8000",
        "/v1/chat/completions",
        &request.to_string(),
        200,
        "text/event-stream",
        body.as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.provider, "unknown", "an OpenAI-compatible server elsewhere is not OpenAI");
    assert_eq!(c.url, "https://localhost:8000/v1/chat/completions");
    assert_eq!(c.request.system.as_deref(), Some("你是一个乐于助人的助手。"));
    assert_eq!(c.request.messages[0].content, "用一句话介绍北京。");
    assert_eq!(c.response.text, "北京是中国的首都，历史悠久。");
    let back: LlmCall = serde_json::from_str(&serde_json::to_string(&c).expect("serialise")).expect("parse");
    assert_eq!(back, c);
}

#[test]
fn error_429_keeps_the_api_message() {
    let body = json!({"error": {"message": "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000.",
                                "type": "tokens", "param": null, "code": "rate_limit_exceeded"}});
    let ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_STREAM_REQUEST,
        429,
        "application/json",
        body.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.status, 429);
    assert!(c.response.error.as_deref().is_some_and(|e| e.starts_with("Rate limit reached for gpt-4o")));
    assert!(c.stream, "the request asked for a stream");
    assert!(c.raw.is_none());
}

#[test]
fn error_without_a_message_keeps_the_body() {
    let ex =
        exchange("api.openai.com", "/v1/chat/completions", CHAT_REQUEST, 502, "text/html", b"<html>Bad gateway</html>");
    let c = llm(&ex);
    assert_eq!(c.response.error.as_deref(), Some("HTTP 502"));
    let raw = c.raw.expect("raw kept");
    assert_eq!(raw.response.as_deref(), Some("<html>Bad gateway</html>"));
    assert_eq!(raw.reason, "response body is not JSON");
}

#[test]
fn unknown_json_shape_is_kept_raw() {
    let request = r#"{"prompt": "hello", "model": "x"}"#;
    let response = r#"{"result": {"generated": "hi"}}"#;
    let ex = exchange("api.openai.com", "/v1/chat/completions", request, 200, "application/json", response.as_bytes());
    let c = llm(&ex);
    assert_eq!(c.model, None);
    let raw = c.raw.expect("raw kept");
    assert_eq!(raw.request.as_deref(), Some(request));
    assert_eq!(raw.response.as_deref(), Some(response));
    assert_eq!(raw.reason, "unknown `chat` request shape; unknown `chat` response shape");
    assert!(!raw.truncated);
}

#[test]
fn body_left_compressed_says_why() {
    let mut ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_REQUEST,
        200,
        "application/json",
        b"\x1f\x8b\x08garbage",
    );
    if let Some(r) = ex.response.as_mut() {
        r.decode_error = Some("failed to decode `gzip` body: corrupt deflate stream".into());
    }
    let c = llm(&ex);
    assert_eq!(c.request.messages.len(), 3);
    let raw = c.raw.expect("raw kept");
    assert_eq!(raw.reason, "failed to decode `gzip` body: corrupt deflate stream");
    assert_eq!(raw.response.as_deref(), Some("\u{1f}\\x8b\u{8}garbage"));
}

#[test]
fn raw_bodies_are_capped_and_flagged() {
    let big = format!("not json {}", "漢".repeat(RAW_CAP));
    let ex = exchange("api.openai.com", "/v1/chat/completions", &big, 200, "application/json", b"");
    let c = llm(&ex);
    let raw = c.raw.expect("raw kept");
    let kept = raw.request.expect("request kept");
    assert!(kept.len() <= RAW_CAP && kept.len() > RAW_CAP - 4);
    assert!(kept.ends_with('漢'), "cut on a character boundary");
    assert!(raw.truncated);
    assert_eq!(raw.response, None);
}

#[test]
fn stream_of_unknown_events_is_kept_raw() {
    let body = "data: {\"foo\": 1}\n\ndata: not json\n\n";
    let ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_STREAM_REQUEST,
        200,
        "text/event-stream",
        body.as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.raw.expect("raw").reason, "no known `chat` events in the stream");
}

// ---------------------------------------------------------------- OpenAI Responses

#[test]
fn responses_json_with_function_call() {
    let request = json!({
        "model": "gpt-4.1", "instructions": "Be terse.",
        "input": [
            {"role": "developer", "content": "Repo is at /src."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List files"}, {"type": "input_image", "image_url": "https://x/y.png"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "id": "fc_1", "call_id": "call_ls", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "call_ls", "output": "a.rs\nb.rs"}
        ],
        "tools": [{"type": "function", "name": "shell", "description": "Run a command", "parameters": {"type": "object"}}, {"type": "web_search"}]
    });
    let response = json!({
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1-2025-04-14",
        "output": [
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Two files. Reading a.rs.", "annotations": []}]},
            {"type": "function_call", "id": "fc_2", "call_id": "call_cat", "name": "shell", "arguments": "{\"cmd\":\"cat a.rs\"}", "status": "completed"}
        ],
        "usage": {"input_tokens": 310, "output_tokens": 25, "total_tokens": 335}, "error": null, "incomplete_details": null
    });
    let ex = exchange(
        "api.openai.com",
        "/v1/responses",
        &request.to_string(),
        200,
        "application/json",
        response.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.api, "responses");
    assert_eq!(c.request.system.as_deref(), Some("Be terse.\n\nRepo is at /src."));
    let m = &c.request.messages;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].content, "List files\n[image]");
    assert_eq!(
        (m[1].role.as_str(), m[1].tool_calls.clone()),
        ("assistant", vec![call("call_ls", "shell", json!({"cmd": "ls"}))])
    );
    assert_eq!(
        (m[2].role.as_str(), m[2].tool_call_id.as_deref(), m[2].content.as_str()),
        ("tool", Some("call_ls"), "a.rs\nb.rs")
    );
    let names: Vec<_> = c.request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["shell", "web_search"]);
    assert_eq!(c.response.text, "Two files. Reading a.rs.");
    assert_eq!(c.response.tool_calls, vec![call("call_cat", "shell", json!({"cmd": "cat a.rs"}))]);
    assert_eq!(c.response.stop_reason.as_deref(), Some("completed"));
    assert_eq!(c.response.error, None);
    assert_eq!(c.usage, Some(Usage { input_tokens: 310, output_tokens: 25 }));
    assert!(c.raw.is_none());
}

fn responses_stream_events() -> Vec<(Option<&'static str>, Value)> {
    let e = |name: &'static str, mut data: Value| {
        data["type"] = json!(name);
        (Some(name), data)
    };
    vec![
        e(
            "response.created",
            json!({"response": {"id": "resp_2", "status": "in_progress", "model": "gpt-4.1", "output": []}}),
        ),
        e(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        ),
        e(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Let me "}),
        ),
        e(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "check."}),
        ),
        e(
            "response.output_item.added",
            json!({"output_index": 1, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file", "arguments": ""}}),
        ),
        e(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 1, "delta": "{\"path\":"}),
        ),
        e(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 1, "delta": "\"src/main.rs\"}"}),
        ),
        e(
            "response.function_call_arguments.done",
            json!({"item_id": "fc_1", "output_index": 1, "arguments": "{\"path\":\"src/main.rs\"}"}),
        ),
        e(
            "response.output_item.done",
            json!({"output_index": 1, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"}}),
        ),
        e(
            "response.completed",
            json!({"response": {"id": "resp_2", "status": "completed", "model": "gpt-4.1-2025-04-14",
            "output": [
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"}],
            "usage": {"input_tokens": 50, "output_tokens": 12}}}),
        ),
    ]
}

#[test]
fn responses_stream_with_function_call() {
    let body = sse_body(&responses_stream_events());
    let request = r#"{"model": "gpt-4.1", "input": "Open main.rs", "stream": true}"#;
    let ex = exchange("api.openai.com", "/v1/responses", request, 200, "text/event-stream", body.as_bytes());
    let c = llm(&ex);
    assert!(c.stream);
    assert_eq!(
        c.request.messages,
        vec![Message { role: "user".into(), content: "Open main.rs".into(), ..Default::default() }]
    );
    assert_eq!(c.response.text, "Let me check.");
    assert_eq!(c.response.tool_calls, vec![call("call_1", "read_file", json!({"path": "src/main.rs"}))]);
    assert_eq!(c.response.stop_reason.as_deref(), Some("completed"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 50, output_tokens: 12 }));
    assert_eq!(c.model.as_deref(), Some("gpt-4.1"));
    assert!(c.raw.is_none(), "{:?}", c.raw);
}

#[test]
fn responses_stream_cut_before_completed_is_assembled_from_deltas() {
    let mut events = responses_stream_events();
    events.truncate(7);
    let body = sse_body(&events);
    let mut ex = exchange(
        "api.openai.com",
        "/v1/responses",
        r#"{"model": "gpt-4.1", "input": "x", "stream": true}"#,
        200,
        "text/event-stream",
        body.as_bytes(),
    );
    ex.incomplete = true;
    let c = llm(&ex);
    assert!(c.incomplete);
    assert_eq!(c.response.text, "Let me check.");
    assert_eq!(c.response.tool_calls, vec![call("call_1", "read_file", json!({"path": "src/main.rs"}))]);
    assert_eq!(c.usage, None);
}

#[test]
fn responses_stream_failure_reports_its_error() {
    let body = sse_body(&[(
        Some("response.failed"),
        json!({"type": "response.failed", "response": {"status": "failed", "output": [],
            "error": {"code": "server_error", "message": "The server had an error"}}}),
    )]);
    let ex = exchange(
        "api.openai.com",
        "/v1/responses",
        r#"{"model": "o3", "input": "x", "stream": true}"#,
        200,
        "text/event-stream",
        body.as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.response.error.as_deref(), Some("The server had an error"));
    assert_eq!(c.response.stop_reason.as_deref(), Some("failed"));
}

// ---------------------------------------------------------------- Anthropic Messages

const ANTHROPIC_REQUEST: &str = r#"{
  "model": "claude-sonnet-4-20250514", "max_tokens": 4096, "stream": true,
  "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
             {"type": "text", "text": "Work in /repo."}],
  "messages": [
    {"role": "user", "content": "Fix the failing test."},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "hmm", "signature": "x"},
      {"type": "text", "text": "Running the tests."},
      {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "cargo test"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "1 failed"}], "is_error": false},
      {"type": "text", "text": "Go on."}]}
  ],
  "tools": [{"name": "Bash", "description": "Run a shell command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]
}"#;

#[test]
fn anthropic_request_flattens_blocks_tool_uses_and_results() {
    let response = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": "Reading the test."},
                    {"type": "tool_use", "id": "toolu_02", "name": "Read", "input": {"file_path": "/repo/tests/a.rs"}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 1200, "output_tokens": 64, "cache_read_input_tokens": 9000}});
    let ex = exchange(
        "api.anthropic.com",
        "/v1/messages?beta=true",
        ANTHROPIC_REQUEST,
        200,
        "application/json",
        response.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!((c.provider.as_str(), c.api.as_str()), ("anthropic", "messages"));
    assert_eq!(c.url, "https://api.anthropic.com/v1/messages?beta=true");
    assert!(c.stream, "the request said stream even though a JSON body came back");
    assert_eq!(c.request.system.as_deref(), Some("You are Claude Code.\n\nWork in /repo."));
    let m = &c.request.messages;
    assert_eq!(m.len(), 4);
    assert_eq!((m[1].role.as_str(), m[1].content.as_str()), ("assistant", "Running the tests."));
    assert_eq!(m[1].tool_calls, vec![call("toolu_01", "Bash", json!({"command": "cargo test"}))]);
    assert_eq!(
        (m[2].role.as_str(), m[2].tool_call_id.as_deref(), m[2].content.as_str()),
        ("tool", Some("toolu_01"), "1 failed")
    );
    assert_eq!((m[3].role.as_str(), m[3].content.as_str()), ("user", "Go on."));
    assert_eq!(c.request.tools[0].parameters["properties"]["command"]["type"], "string");
    assert_eq!(c.response.text, "Reading the test.");
    assert_eq!(c.response.tool_calls, vec![call("toolu_02", "Read", json!({"file_path": "/repo/tests/a.rs"}))]);
    assert_eq!(c.response.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 1200, output_tokens: 64 }));
}

fn anthropic_stream_body() -> String {
    let e = |name: &'static str, mut data: Value| {
        data["type"] = json!(name);
        (Some(name), data)
    };
    sse_body(&[
        e(
            "message_start",
            json!({"message": {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
            "content": [], "stop_reason": null, "usage": {"input_tokens": 472, "output_tokens": 2}}}),
        ),
        e("content_block_start", json!({"index": 0, "content_block": {"type": "text", "text": ""}})),
        e("ping", json!({})),
        e("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "I'll edit "}})),
        e("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "the file."}})),
        e("content_block_stop", json!({"index": 0})),
        e(
            "content_block_start",
            json!({"index": 1, "content_block": {"type": "tool_use", "id": "toolu_03", "name": "Edit", "input": {}}}),
        ),
        e("content_block_delta", json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})),
        e(
            "content_block_delta",
            json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"file_pa"}}),
        ),
        e(
            "content_block_delta",
            json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "th\": \"/repo/a.rs\", \"old\": \"fo"}}),
        ),
        e(
            "content_block_delta",
            json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "o\", \"new\": \"bar\"}"}}),
        ),
        e("content_block_stop", json!({"index": 1})),
        e(
            "message_delta",
            json!({"delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        ),
        e("message_stop", json!({})),
    ])
}

#[test]
fn anthropic_stream_with_input_json_split_mid_token() {
    let body = anthropic_stream_body();
    let ex =
        exchange("api.anthropic.com", "/v1/messages", ANTHROPIC_REQUEST, 200, "text/event-stream", body.as_bytes());
    let c = llm(&ex);
    assert_eq!(c.response.text, "I'll edit the file.");
    assert_eq!(
        c.response.tool_calls,
        vec![call("toolu_03", "Edit", json!({"file_path": "/repo/a.rs", "old": "foo", "new": "bar"}))]
    );
    assert_eq!(c.response.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 472, output_tokens: 89 }));
    assert_eq!(c.model.as_deref(), Some("claude-sonnet-4-20250514"));
    assert!(c.raw.is_none(), "{:?}", c.raw);
}

#[test]
fn anthropic_aborted_stream_is_incomplete_with_the_text_so_far() {
    let body = anthropic_stream_body();
    let cut = body.find("th\\\": \\\"/repo").expect("fixture") + 12;
    let mut ex = exchange(
        "api.anthropic.com",
        "/v1/messages",
        ANTHROPIC_REQUEST,
        200,
        "text/event-stream",
        &body.as_bytes()[..cut],
    );
    ex.incomplete = true;
    let c = llm(&ex);
    assert!(c.incomplete);
    assert_eq!(c.response.text, "I'll edit the file.");
    assert_eq!(c.response.tool_calls, vec![call("toolu_03", "Edit", json!("{\"file_pa"))]);
    assert_eq!(c.response.stop_reason, None);
    assert_eq!(c.usage, Some(Usage { input_tokens: 472, output_tokens: 2 }));
    assert!(c.raw.is_none());
}

#[test]
fn anthropic_overloaded_error_mid_stream() {
    let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-opus-4\",\"usage\":{\"input_tokens\":9}}}\n\n\
                event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let ex =
        exchange("api.anthropic.com", "/v1/messages", ANTHROPIC_REQUEST, 200, "text/event-stream", body.as_bytes());
    let c = llm(&ex);
    assert_eq!(c.response.error.as_deref(), Some("Overloaded"));
    assert!(c.raw.is_none());
}

#[test]
fn anthropic_529_error_body() {
    let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
    let ex = exchange("api.anthropic.com", "/v1/messages", ANTHROPIC_REQUEST, 529, "application/json", body.as_bytes());
    let c = llm(&ex);
    assert_eq!(c.status, 529);
    assert_eq!(c.response.error.as_deref(), Some("Overloaded"));
}

// ---------------------------------------------------------------- Gemini

const GEMINI_REQUEST: &str = r#"{
  "systemInstruction": {"parts": [{"text": "You are a travel agent."}]},
  "contents": [
    {"role": "user", "parts": [{"text": "Book me a flight to Rome."}, {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}}]},
    {"role": "model", "parts": [{"functionCall": {"name": "search_flights", "args": {"to": "FCO"}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "search_flights", "response": {"flights": ["AZ 611"]}}}]}
  ],
  "tools": [{"functionDeclarations": [{"name": "book_flight", "description": "Book a flight",
             "parameters": {"type": "OBJECT", "properties": {"flight": {"type": "STRING"}}}}]}, {"googleSearch": {}}],
  "generationConfig": {"temperature": 0.2}
}"#;

#[test]
fn gemini_json_with_function_call_and_key_redacted() {
    let response = json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Booking AZ 611."},
            {"functionCall": {"name": "book_flight", "args": {"flight": "AZ 611"}}}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 95, "candidatesTokenCount": 14, "totalTokenCount": 109},
        "modelVersion": "gemini-2.5-flash"
    });
    let ex = exchange(
        "generativelanguage.googleapis.com",
        "/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaSySECRET&foo=1",
        GEMINI_REQUEST,
        200,
        "application/json; charset=UTF-8",
        response.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!((c.provider.as_str(), c.api.as_str()), ("google", "gemini"));
    assert_eq!(
        c.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key=[REDACTED]&foo=1"
    );
    assert!(!c.url.contains("SECRET"));
    assert_eq!(c.model.as_deref(), Some("gemini-2.5-flash"));
    assert!(!c.stream);
    assert_eq!(c.request.system.as_deref(), Some("You are a travel agent."));
    let m = &c.request.messages;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].content, "Book me a flight to Rome.\n[image]");
    assert_eq!(
        (m[1].role.as_str(), m[1].tool_calls.clone()),
        ("assistant", vec![call("", "search_flights", json!({"to": "FCO"}))])
    );
    assert_eq!((m[2].role.as_str(), m[2].tool_call_id.as_deref()), ("tool", Some("search_flights")));
    assert_eq!(serde_json::from_str::<Value>(&m[2].content).expect("json"), json!({"flights": ["AZ 611"]}));
    let names: Vec<_> = c.request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["book_flight", "googleSearch"]);
    assert_eq!(c.response.text, "Booking AZ 611.");
    assert_eq!(c.response.tool_calls, vec![call("", "book_flight", json!({"flight": "AZ 611"}))]);
    assert_eq!(c.response.stop_reason.as_deref(), Some("STOP"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 95, output_tokens: 14 }));
}

#[test]
fn gemini_sse_stream_merges_chunks() {
    let chunk = |parts: Value, finish: Option<&str>, out: u64| {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = json!(f);
        }
        (
            None,
            json!({"candidates": [cand], "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": out}, "modelVersion": "gemini-2.5-pro"}),
        )
    };
    let body = sse_body(&[
        chunk(json!([{"text": "thinking...", "thought": true}]), None, 0),
        chunk(json!([{"text": "Rome is "}]), None, 3),
        chunk(json!([{"text": "lovely in May."}]), None, 8),
        chunk(
            json!([{"functionCall": {"id": "fc-1", "name": "get_weather", "args": {"city": "Rome"}}}]),
            Some("STOP"),
            15,
        ),
    ])
    .replace("\n\n", "\r\n\r\n");
    let ex = exchange(
        "generativelanguage.googleapis.com",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=SECRET",
        GEMINI_REQUEST,
        200,
        "text/event-stream",
        body.as_bytes(),
    );
    let c = llm(&ex);
    assert!(c.stream);
    assert!(c.url.ends_with("?alt=sse&key=[REDACTED]"));
    assert_eq!(c.response.text, "Rome is lovely in May.");
    assert_eq!(c.response.tool_calls, vec![call("fc-1", "get_weather", json!({"city": "Rome"}))]);
    assert_eq!(c.response.stop_reason.as_deref(), Some("STOP"));
    assert_eq!(c.usage, Some(Usage { input_tokens: 40, output_tokens: 15 }));
    assert!(c.raw.is_none(), "{:?}", c.raw);
}

#[test]
fn gemini_json_array_stream_cut_mid_chunk() {
    let body = r#"[{"candidates": [{"content": {"role": "model", "parts": [{"text": "Ciao"}]}}]}
,
{"candidates": [{"content": {"role": "model", "parts": [{"text": ", Roma!"}]}}]}
,
{"candidates": [{"content": {"role": "model", "parts": [{"text": " Lo"#;
    let mut ex = exchange(
        "generativelanguage.googleapis.com",
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        GEMINI_REQUEST,
        200,
        "application/json",
        body.as_bytes(),
    );
    ex.incomplete = true;
    let c = llm(&ex);
    assert!(c.stream && c.incomplete);
    assert_eq!(c.response.text, "Ciao, Roma!");
    assert!(c.raw.is_none());
}

#[test]
fn gemini_429_error_body() {
    let body = json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}});
    let ex = exchange(
        "generativelanguage.googleapis.com",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        GEMINI_REQUEST,
        429,
        "application/json",
        body.to_string().as_bytes(),
    );
    let c = llm(&ex);
    assert_eq!(c.response.error.as_deref(), Some("Resource has been exhausted (e.g. check quota)."));
    assert!(c.raw.is_none());
}

// ---------------------------------------------------------------- routing and other traffic

#[test]
fn other_traffic_is_a_compact_http_event() {
    let mut ex = exchange(
        "api.github.com",
        "/repos/a/b/pulls?access_token=ghp_x&state=open",
        "{}",
        200,
        "application/json",
        b"[]",
    );
    ex.request.method = "GET".into();
    let Decoded::Http(h) = decode(&ex) else { panic!("expected http") };
    assert_eq!(h.method, "GET");
    assert_eq!(h.host, "api.github.com");
    assert_eq!(h.path, "/repos/a/b/pulls?access_token=[REDACTED]&state=open");
    assert_eq!((h.status, h.request_bytes, h.response_bytes), (200, 2, 2));
    assert_eq!(h.content_type.as_deref(), Some("application/json"));
    assert_eq!(h.latency_ms, 1000.0);
    assert!(!h.incomplete);
}

#[test]
fn routes() {
    let r = |m: &str, p: &str| route(m, p).map(|r| (r.api, r.model, r.stream));
    assert_eq!(r("POST", "/v1/chat/completions"), Some((Api::Chat, None, false)));
    assert_eq!(r("POST", "/openai/deployments/gpt4/chat/completions"), Some((Api::Chat, None, false)));
    assert_eq!(r("POST", "/v1/responses"), Some((Api::Responses, None, false)));
    assert_eq!(r("POST", "/v1/messages"), Some((Api::Messages, None, false)));
    assert_eq!(
        r("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
        Some((Api::Gemini, Some("gemini-2.5-pro".into()), true))
    );
    assert_eq!(
        r("POST", "/v1/projects/p/locations/us/publishers/google/models/gemini-2.0-flash:generateContent"),
        Some((Api::Gemini, Some("gemini-2.0-flash".into()), false))
    );
    assert_eq!(r("GET", "/v1/chat/completions"), None);
    assert_eq!(r("POST", "/v1/messages/count_tokens"), None);
    assert_eq!(r("POST", "/v1beta/models/gemini-2.5-pro:countTokens"), None);
    assert_eq!(r("POST", "/v1/embeddings"), None);
}

#[test]
fn providers_by_host() {
    assert_eq!(provider("api.openai.com"), "openai");
    assert_eq!(provider("API.Anthropic.com:443"), "anthropic");
    assert_eq!(provider("generativelanguage.googleapis.com"), "google");
    assert_eq!(provider("us-central1-aiplatform.googleapis.com"), "google");
    assert_eq!(provider("openrouter.ai"), "unknown");
    assert_eq!(provider("127.0.0.1:11434"), "unknown");
}

#[test]
fn query_redaction() {
    assert_eq!(
        redact_query("/a?key=s&KEY=t&api_key=u&x=1&access_token=v&key"),
        "/a?key=[REDACTED]&KEY=[REDACTED]&api_key=[REDACTED]&x=1&access_token=[REDACTED]&key"
    );
    assert_eq!(redact_query("/a"), "/a");
    assert_eq!(redact_query("/a?"), "/a?");
}

#[test]
fn no_response_yet() {
    let mut ex = exchange("api.openai.com", "/v1/chat/completions", CHAT_REQUEST, 200, "", b"");
    ex.response = None;
    ex.incomplete = true;
    let c = llm(&ex);
    assert_eq!((c.status, c.latency_ms, c.ttft_ms), (0, 0.0, None));
    assert!(c.incomplete);
    assert_eq!(c.request.messages.len(), 3);
    assert!(c.raw.is_none());
}

#[test]
fn serialised_event_follows_the_design_contract() {
    let ex = exchange(
        "api.openai.com",
        "/v1/chat/completions",
        CHAT_STREAM_REQUEST,
        200,
        "text/event-stream",
        chat_stream_body().as_bytes(),
    );
    let v = serde_json::to_value(llm(&ex)).expect("serialise");
    for key in
        ["provider", "api", "url", "model", "request", "response", "usage", "stream", "status", "ttft_ms", "latency_ms"]
    {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["response"]["tool_calls"][0]["arguments"], json!({"city": "Paris"}));
    assert!(v.get("raw").is_none() && v.get("incomplete").is_none());
}

fn fixtures() -> Vec<(&'static str, &'static str, String, Vec<u8>)> {
    vec![
        ("api.openai.com", "/v1/chat/completions", CHAT_STREAM_REQUEST.into(), chat_stream_body().into_bytes()),
        (
            "api.openai.com",
            "/v1/responses",
            r#"{"model":"m","input":"x","stream":true}"#.into(),
            sse_body(&responses_stream_events()).into_bytes(),
        ),
        ("api.anthropic.com", "/v1/messages", ANTHROPIC_REQUEST.into(), anthropic_stream_body().into_bytes()),
        (
            "generativelanguage.googleapis.com",
            "/v1beta/models/g:streamGenerateContent?alt=sse",
            GEMINI_REQUEST.into(),
            br#"data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#.to_vec(),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bodies_never_panic(
        which in 0usize..5,
        request in proptest::collection::vec(any::<u8>(), 0..300),
        response in proptest::collection::vec(any::<u8>(), 0..300),
        status in prop_oneof![Just(200u16), Just(429u16), any::<u16>()],
    ) {
        let paths = ["/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1beta/models/g:streamGenerateContent", "/x"];
        let mut ex = exchange("h", paths[which], "", status, "text/event-stream", &response);
        ex.request.body = request;
        let _ = decode(&ex);
        if let Some(r) = ex.response.as_mut() {
            r.headers.clear();
        }
        let _ = decode(&ex);
    }

    #[test]
    fn streams_cut_anywhere_never_panic_and_keep_a_prefix_of_the_text(which in 0usize..4, at in 0.0f64..1.0) {
        let fixtures = fixtures();
        let (host, path, request, body) = &fixtures[which];
        let full = llm(&exchange(host, path, request, 200, "text/event-stream", body));
        let cut = (body.len() as f64 * at) as usize;
        let mut ex = exchange(host, path, request, 200, "text/event-stream", &body[..cut]);
        ex.incomplete = true;
        let part = llm(&ex);
        prop_assert!(full.response.text.starts_with(&part.response.text), "{:?} vs {:?}", part.response.text, full.response.text);
        prop_assert!(part.response.tool_calls.len() <= full.response.tool_calls.len());
    }

    #[test]
    fn json_values_of_any_shape_never_panic(which in 0usize..4, v in arb_json()) {
        let (host, path, _, _) = fixtures()[which].clone();
        let text = v.to_string();
        let _ = decode(&exchange(host, path, &text, 200, "application/json", text.as_bytes()));
        let _ = decode(&exchange(host, path, &text, 200, "text/event-stream", format!("data: {text}\n\n").as_bytes()));
    }
}

/// JSON values built from the keys the decoders look at, so the wrong types land where they
/// are read.
fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("messages"),
        Just("content"),
        Just("role"),
        Just("type"),
        Just("text"),
        Just("tool_calls"),
        Just("function"),
        Just("arguments"),
        Just("index"),
        Just("choices"),
        Just("delta"),
        Just("input"),
        Just("output"),
        Just("contents"),
        Just("parts"),
        Just("functionCall"),
        Just("candidates"),
        Just("system"),
        Just("tools"),
        Just("usage"),
        Just("error"),
        Just("item"),
        Just("output_index"),
        Just("partial_json"),
        Just("content_block"),
        Just("response"),
        Just("name"),
        Just("message"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            Just("tool_use"),
            Just("text_delta"),
            Just("input_json_delta"),
            Just("function_call"),
            Just("message"),
            Just("tool_result"),
            Just("response.completed"),
            Just("content_block_delta"),
            Just("{\"a"),
            Just("user")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((keys.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
