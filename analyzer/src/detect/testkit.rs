//! Hand-made windows for the detector tests: LLM turns with tool calls and results carried by
//! the next request (as real conversations do), and exec/exit pairs.

use std::collections::VecDeque;

use model::testing;
use model::{Event, EventBody, Exec, Exit, Link, LinkBy, LlmCall, LlmRequest, Message, ToolCall, Window};
use serde_json::Value;

/// Builds a window one event at a time; timestamps advance by 1 ms per event.
#[derive(Debug)]
pub(crate) struct WindowBuilder {
    session: String,
    context: model::WindowContext,
    events: Vec<Event>,
    overlap: usize,
    links: Vec<Link>,
    /// The conversation so far, sent as every request's messages.
    history: Vec<Message>,
    /// Tool call ids made and not yet answered, oldest first.
    pending: VecDeque<String>,
    next_call: usize,
    next_pid: u32,
}

impl WindowBuilder {
    pub(crate) fn new() -> Self {
        WindowBuilder {
            session: "s1".into(),
            context: model::WindowContext::default(),
            events: Vec::new(),
            overlap: 0,
            links: Vec::new(),
            history: vec![Message {
                role: "user".into(),
                content: "fix the failing tests".into(),
                ..Message::default()
            }],
            pending: VecDeque::new(),
            next_call: 0,
            next_pid: 100,
        }
    }

    /// The session's persona: its system prompt and first user messages, and its cwd.
    pub(crate) fn persona(&mut self, system: &str, instructions: &str, cwd: &str) -> &mut Self {
        self.context.system_prompt = Some(system.into());
        self.context.instructions = (!instructions.is_empty()).then(|| instructions.into());
        self.context.cwd = Some(cwd.into());
        self
    }

    pub(crate) fn session(&mut self, name: &str) -> &mut Self {
        self.session = name.into();
        self
    }

    /// Any event by `pid`.
    pub(crate) fn push_event(&mut self, pid: u32, body: EventBody) -> &mut Self {
        self.push(pid, 1, "tool", body);
        self
    }

    fn push(&mut self, pid: u32, ppid: u32, comm: &str, body: EventBody) {
        let ts_ns = 1_700_000_000_000_000_000 + self.events.len() as u64 * 1_000_000;
        self.events.push(Event {
            ppid,
            comm: comm.chars().take(15).collect(),
            ..testing::event(&self.session, ts_ns, pid, body)
        });
    }

    /// An `llm_call` whose response says `text` and makes `calls` (name, arguments); their ids
    /// are answered in order by [`Self::result`].
    pub(crate) fn llm(&mut self, text: &str, calls: &[(&str, Value)]) -> &mut Self {
        let tool_calls: Vec<ToolCall> = calls
            .iter()
            .map(|(name, arguments)| {
                self.next_call += 1;
                ToolCall { id: format!("call_{}", self.next_call), name: (*name).into(), arguments: arguments.clone() }
            })
            .collect();
        let request = LlmRequest {
            system: Some("You are a coding agent.".into()),
            messages: self.history.clone(),
            ..LlmRequest::default()
        };
        let call = LlmCall {
            model: Some("gpt-test".into()),
            latency_ms: 10.0,
            ..testing::llm_call(request, text, tool_calls.clone())
        };
        self.pending.extend(tool_calls.iter().map(|c| c.id.clone()));
        self.history.push(Message { role: "assistant".into(), content: text.into(), tool_calls, tool_call_id: None });
        self.push(10, 1, "agent", EventBody::LlmCall(Box::new(call)));
        self
    }

    /// The result of the oldest unanswered tool call, carried by the next request.
    pub(crate) fn result(&mut self, content: &str) -> &mut Self {
        let id = self.pending.pop_front().unwrap_or_default();
        self.orphan_result(&id, content)
    }

    /// A tool result with any id (e.g. answering a call made before the window).
    pub(crate) fn orphan_result(&mut self, id: &str, content: &str) -> &mut Self {
        self.history.push(Message {
            role: "tool".into(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(id.into()),
        });
        self
    }

    /// An exec of a new process, child of `ppid`; returns its pid.
    pub(crate) fn exec(&mut self, argv: &[&str], ppid: u32) -> u32 {
        self.next_pid += 1;
        let pid = self.next_pid;
        self.exec_as(pid, ppid, argv);
        pid
    }

    /// An exec by an existing `pid` (a new program image in the same process).
    pub(crate) fn exec_as(&mut self, pid: u32, ppid: u32, argv: &[&str]) -> &mut Self {
        let comm = argv.first().map(|a| super::view::basename(a).to_string()).unwrap_or_default();
        let exec = Exec {
            argv_bytes: argv.iter().map(|a| a.len() as u32 + 1).sum(),
            cwd: "/work".into(),
            ..testing::exec(argv)
        };
        self.push(pid, ppid, &comm, EventBody::Exec(exec));
        self
    }

    pub(crate) fn exit(&mut self, pid: u32, code: i32) -> &mut Self {
        self.exit_with(pid, code, 0)
    }

    pub(crate) fn kill(&mut self, pid: u32, signal: u32) -> &mut Self {
        self.exit_with(pid, 128 + signal as i32, signal)
    }

    fn exit_with(&mut self, pid: u32, exit_code: i32, signal: u32) -> &mut Self {
        let exit = Exit { signal, ..testing::exit(exit_code, 1_000) };
        self.push(pid, 1, "", EventBody::Exit(exit));
        self
    }

    /// A command that ran and exited with `code`; returns its pid.
    pub(crate) fn cmd(&mut self, argv: &[&str], code: i32) -> u32 {
        let pid = self.exec(argv, 1);
        self.exit(pid, code);
        pid
    }

    /// Events so far.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Links the last exec to tool call `nth` (0-based) of the last `llm_call`.
    pub(crate) fn link_last_exec(&mut self, nth: usize) -> &mut Self {
        match self.events.iter().rposition(|e| matches!(e.body, EventBody::Exec(_))) {
            Some(exec) => self.link_exec(exec, nth),
            None => self,
        }
    }

    /// Links the exec at event index `exec` to tool call `nth` of the last `llm_call`; does
    /// nothing when there is no such call.
    pub(crate) fn link_exec(&mut self, exec: usize, nth: usize) -> &mut Self {
        let llm = self.events.iter().rev().find_map(|e| match &e.body {
            EventBody::LlmCall(call) => Some((e.id(), call)),
            _ => None,
        });
        if let Some((llm_event, call)) = llm {
            if let Some(tool) = call.response.tool_calls.get(nth) {
                self.links.push(Link {
                    llm_event,
                    call_id: tool.id.clone(),
                    tool: tool.name.clone(),
                    event: self.events[exec].id(),
                    by: LinkBy::Argv,
                });
            }
        }
        self
    }

    /// Everything so far was in the window before.
    pub(crate) fn mark_overlap(&mut self) -> &mut Self {
        self.overlap = self.events.len();
        self
    }

    pub(crate) fn build(&self) -> Window {
        Window {
            overlap_events: self.overlap,
            context: self.context.clone(),
            links: self.links.clone(),
            ..testing::window(&self.session, 1, self.events.clone())
        }
    }
}
