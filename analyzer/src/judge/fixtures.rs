//! Windows, events and findings for the judge's tests.

use model::testing;
pub(crate) use model::FileOp;
use model::{Event, EventBody, FileEvent, Finding, LlmCall, LlmRequest, Message, ToolCall, Window};

pub(crate) fn ev(ts_ns: u64, pid: u32, body: EventBody) -> Event {
    testing::event("s1", ts_ns, pid, body)
}

pub(crate) fn msg(role: &str, content: &str, tool_call_id: Option<&str>) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: tool_call_id.map(str::to_string),
    }
}

/// An llm turn (pid 10) with `messages` (role, text) sent, `text` answered and tool `calls`
/// (name, JSON arguments) made.
pub(crate) fn llm(ts_ns: u64, messages: &[(&str, &str)], text: &str, calls: &[(&str, &str)]) -> Event {
    let tool_calls = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| ToolCall {
            id: format!("call_{ts_ns}_{i}"),
            name: name.to_string(),
            arguments: serde_json::from_str(args).unwrap_or_else(|_| serde_json::Value::String(args.to_string())),
        })
        .collect();
    let request =
        LlmRequest { messages: messages.iter().map(|(r, c)| msg(r, c, None)).collect(), ..LlmRequest::default() };
    let call =
        LlmCall { model: Some("gpt-4o".into()), latency_ms: 10.0, ..testing::llm_call(request, text, tool_calls) };
    ev(ts_ns, 10, EventBody::LlmCall(Box::new(call)))
}

pub(crate) fn exec(ts_ns: u64, pid: u32, argv: &[&str]) -> Event {
    ev(ts_ns, pid, EventBody::Exec(testing::exec(argv)))
}

pub(crate) fn exit(ts_ns: u64, pid: u32, exit_code: i32) -> Event {
    ev(ts_ns, pid, EventBody::Exit(testing::exit(exit_code, 1_500_000_000)))
}

fn errno(result: i64) -> Option<String> {
    match result {
        -2 => Some("ENOENT".into()),
        -13 => Some("EACCES".into()),
        -111 => Some("ECONNREFUSED".into()),
        r if r < 0 => Some(format!("E{}", -r)),
        _ => None,
    }
}

pub(crate) fn file(ts_ns: u64, pid: u32, op: FileOp, path: &str, result: i64) -> Event {
    ev(ts_ns, pid, EventBody::File(FileEvent { error: errno(result), ..FileEvent::new(op, path, result) }))
}

/// Window 0 of session `s1` holding `events`.
pub(crate) fn window(events: Vec<Event>) -> Window {
    testing::window("s1", 0, events)
}

/// A deterministic finding of `kind` in `w`, citing its first event.
pub(crate) fn finding(w: &Window, kind: &str, score: f64) -> Finding {
    let kind = kind.parse().expect("a finding kind");
    Finding {
        finding_id: Finding::id_for(&w.window_id, kind, "exact_repeat"),
        session: w.session.clone(),
        window_id: w.window_id.clone(),
        kind,
        score,
        detector: "exact_repeat".into(),
        detectors: Vec::new(),
        rationale: "the same command ran twice".into(),
        evidence: w.events.first().map(|e| model::Evidence::of(e, "first")).into_iter().collect(),
        judge: None,
        ts_ns: 0,
    }
}

/// The text of `message` outside every `<<<TRACE nonce>>>` ... `<<<END TRACE nonce>>>` pair
/// (an unclosed fence hides the rest).
pub(crate) fn outside_fences(message: &str, nonce: &str) -> String {
    let open = format!("<<<TRACE {nonce}>>>");
    let close = format!("<<<END TRACE {nonce}>>>");
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(&open) {
        out.push_str(&rest[..i]);
        match rest[i..].find(&close) {
            Some(j) => rest = &rest[i + j + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}
