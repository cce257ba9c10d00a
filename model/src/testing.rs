//! Builders of events and windows for tests and benches, behind the `testsuite` feature (a
//! crate turns it on in its `[dev-dependencies]`; model's own tests always have it).
//!
//! Each builder fills what a test rarely cares about with one fixed value, so a test that needs
//! another says so with struct update syntax: `Exec { cwd: "/work".into(), ..exec(&["ls"]) }`.
//! The values are part of the contract: tests assert on them, so change none without reading
//! every caller.

use crate::{
    window_id, CloseReason, Event, EventBody, Exec, Exit, LlmCall, LlmRequest, LlmResponse, Message, ToolCall, Window,
};

/// An event of `session` at `ts_ns` by the single-threaded process `pid`, a child of pid 1
/// named `agent`.
pub fn event(session: &str, ts_ns: u64, pid: u32, body: EventBody) -> Event {
    Event { ts_ns, session: session.into(), pid, tid: pid, ppid: 1, comm: "agent".into(), body }
}

/// An exec of `argv` as given (`filename` is `argv[0]`), in `/repo` by uid 1000, whole, with
/// `argv_bytes` left at 0 (as in a trace without it).
pub fn exec(argv: &[&str]) -> Exec {
    Exec {
        filename: argv.first().copied().unwrap_or_default().into(),
        argv: argv.iter().map(|a| a.to_string()).collect(),
        cwd: "/repo".into(),
        uid: 1000,
        argv_truncated: false,
        argv_bytes: 0,
        truncated: Vec::new(),
        non_utf8: false,
    }
}

/// An exit with `exit_code`, by itself (no signal, no core), after `duration_ns`.
pub fn exit(exit_code: i32, duration_ns: u64) -> Exit {
    Exit { exit_code, signal: 0, core_dumped: false, duration_ns }
}

/// A complete, unstreamed OpenAI chat call (status 200, no model, usage or timing to first
/// token, 1 ms) that sent `request` and answered `text` with `tool_calls`.
pub fn llm_call(request: LlmRequest, text: &str, tool_calls: Vec<ToolCall>) -> LlmCall {
    LlmCall {
        provider: "openai".into(),
        api: "chat".into(),
        url: "https://api.openai.com/v1/chat/completions".into(),
        model: None,
        request,
        response: LlmResponse { text: text.into(), tool_calls, ..LlmResponse::default() },
        usage: None,
        stream: false,
        status: 200,
        ttft_ms: None,
        latency_ms: 1.0,
        incomplete: false,
        raw: None,
    }
}

/// A message of `role` saying `content`, with no tool calls.
pub fn message(role: &str, content: &str) -> Message {
    Message { role: role.into(), content: content.into(), ..Message::default() }
}

/// Tool call `id` of `name` with `arguments`.
pub fn tool_call(id: &str, name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall { id: id.into(), name: name.into(), arguments }
}

/// Window `seq` of `session` holding `events` (first and last give its span): no overlap,
/// context or links, closed by its turn count.
pub fn window(session: &str, seq: u64, events: Vec<Event>) -> Window {
    Window {
        window_id: window_id(session, seq),
        session: session.into(),
        seq,
        start_ns: events.first().map_or(0, |e| e.ts_ns),
        end_ns: events.last().map_or(0, |e| e.ts_ns),
        events,
        overlap_events: 0,
        context: Default::default(),
        links: Vec::new(),
        closed_by: CloseReason::Turns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_spans_its_events() {
        let events = vec![
            event("s", 5, 20, EventBody::Exec(exec(&["ls", "-l"]))),
            event("s", 9, 20, EventBody::Exit(exit(0, 4))),
        ];
        let w = window("s", 3, events);
        assert_eq!((w.window_id.as_str(), w.start_ns, w.end_ns), ("s:3", 5, 9));
        assert_eq!(w.events[0].id(), "5-20-exec");
        let text = serde_json::to_string(&w).expect("serialise");
        assert_eq!(serde_json::from_str::<Window>(&text).expect("parse"), w);
    }
}
