//! Windows, events and findings for the judge's tests.

pub(crate) use model::FileOp;
use model::{
    Connect, Event, EventBody, Exec, Exit, FileEvent, Finding, Fork, LlmCall, LlmRequest,
    LlmResponse, Message, ToolCall, Window,
};

pub(crate) fn ev(ts_ns: u64, pid: u32, body: EventBody) -> Event {
    Event {
        ts_ns,
        session: "s1".into(),
        pid,
        tid: pid,
        ppid: 1,
        comm: "agent".into(),
        body,
    }
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
pub(crate) fn llm(
    ts_ns: u64,
    messages: &[(&str, &str)],
    text: &str,
    calls: &[(&str, &str)],
) -> Event {
    let tool_calls = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| ToolCall {
            id: format!("call_{ts_ns}_{i}"),
            name: name.to_string(),
            arguments: serde_json::from_str(args)
                .unwrap_or_else(|_| serde_json::Value::String(args.to_string())),
        })
        .collect();
    ev(
        ts_ns,
        10,
        EventBody::LlmCall(Box::new(LlmCall {
            provider: "openai".into(),
            api: "chat".into(),
            url: "https://api.openai.com/v1/chat/completions".into(),
            model: Some("gpt-4o".into()),
            request: LlmRequest {
                extends: None,
                system: None,
                messages: messages.iter().map(|(r, c)| msg(r, c, None)).collect(),
                tools: Vec::new(),
            },
            response: LlmResponse {
                text: text.into(),
                tool_calls,
                stop_reason: None,
                error: None,
            },
            usage: None,
            stream: false,
            status: 200,
            ttft_ms: None,
            latency_ms: 10.0,
            incomplete: false,
            raw: None,
        })),
    )
}

pub(crate) fn exec(ts_ns: u64, pid: u32, argv: &[&str]) -> Event {
    ev(
        ts_ns,
        pid,
        EventBody::Exec(Exec {
            filename: argv.first().map(|a| a.to_string()).unwrap_or_default(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            cwd: "/repo".into(),
            uid: 1000,
            argv_truncated: false,
            argv_bytes: 0,
            truncated: Vec::new(),
            non_utf8: false,
        }),
    )
}

pub(crate) fn exit(ts_ns: u64, pid: u32, exit_code: i32) -> Event {
    ev(
        ts_ns,
        pid,
        EventBody::Exit(Exit {
            exit_code,
            signal: 0,
            core_dumped: false,
            duration_ns: 1_500_000_000,
        }),
    )
}

pub(crate) fn fork(ts_ns: u64, pid: u32, child_pid: u32) -> Event {
    ev(ts_ns, pid, EventBody::Fork(Fork { child_pid }))
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
    ev(
        ts_ns,
        pid,
        EventBody::File(FileEvent {
            error: errno(result),
            ..FileEvent::new(op, path, result)
        }),
    )
}

pub(crate) fn connect(ts_ns: u64, pid: u32, addr: &str, port: u16, result: i64) -> Event {
    ev(
        ts_ns,
        pid,
        EventBody::Connect(Connect {
            family: "inet".into(),
            addr: addr.into(),
            port,
            result,
            error: errno(result),
        }),
    )
}

/// Window 0 of session `s1` holding `events`.
pub(crate) fn window(events: Vec<Event>) -> Window {
    Window {
        window_id: model::window_id("s1", 0),
        session: "s1".into(),
        seq: 0,
        start_ns: events.first().map_or(0, |e| e.ts_ns),
        end_ns: events.last().map_or(0, |e| e.ts_ns),
        events,
        overlap_events: 0,
        context: Default::default(),
        links: Vec::new(),
        closed_by: model::CloseReason::Turns,
    }
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
        evidence: w
            .events
            .first()
            .map(|e| model::Evidence::of(e, "first"))
            .into_iter()
            .collect(),
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
