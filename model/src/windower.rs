//! Cutting sessions into windows: the pure core that turns a stream of events into the
//! [`Window`]s the analyzer judges (`docs/DESIGN.md`, "Windows and findings").
//!
//! Rules (the tests below check each one):
//!
//! - Sessions (keyed by `Event.session`) are independent. A *turn* starts at each `llm_call` and
//!   holds it plus the session's following non-llm events until the next `llm_call`. Events before
//!   the first `llm_call` form a turn of their own (a preamble). Events are expected in time order
//!   per session; one that arrives out of order is kept (appended in push order) and counted.
//! - A window holds up to `max_turns` turns. When a new turn starts and the open window already has
//!   `max_turns` turns ([`CloseReason::Turns`]) or an estimated `max_tokens` tokens
//!   ([`CloseReason::Tokens`]), it closes. It also closes before it would hold more than
//!   `max_events` events (`Tokens`, possibly in the middle of a turn), and when no event came for
//!   longer than `idle_timeout_ns` ([`CloseReason::Idle`]: by [`Windower::tick`], or by
//!   [`Windower::push`] seeing the gap, so a replayed trace is cut as the live one was).
//! - After a close (other than `SessionEnd`) the next window starts with a copy of the last turn of
//!   the closed one, `overlap_events` long. The last turn of a window is the part after its last
//!   turn boundary: its start, the end of its overlap, and every `llm_call`; so a turn cut by a
//!   close goes on as a turn of its own in the next window. The overlap is left out (and counted)
//!   when that turn holds more than `max_events / 2` events: repeating it would crowd out the new
//!   events, and a turn of thousands of events would be repeated window after window.
//! - A window is never emitted empty or with only overlap events; the checks above only close a
//!   window that has new events, so a window of only overlap always takes the next turn in.
//! - `seq` counts from 0 per session and `window_id` is [`window_id`]`(session, seq)`; sessions
//!   keep their state after [`Windower::end_session`], so a late event cannot reuse an id.
//! - Tokens are estimated as characters / 4 of: an `llm_call`'s response text, its tool calls
//!   (name and arguments) and the request messages after the last `assistant` one (earlier ones
//!   repeat earlier turns); an `exec`'s argv; a `file` event's paths.
//! - Context: the persona is read from the session's *main conversation*: the first `llm_call`
//!   that offers tools (agents offer tools in their work; side calls such as a title request do
//!   not), else the first `llm_call`. `system_prompt` is its non-empty `request.system` (or the
//!   content of a first request message with role `system`/`developer`) and `instructions` its
//!   `user` messages, joined and cut at `instructions_chars` (a quarter of it per message). `agent` and `cwd` are the argv and cwd
//!   of the session's first `exec`; `turns_before` counts its `llm_call`s before the window's
//!   first new event; `earlier_claims` are the non-empty response texts of its `llm_call`s
//!   before the window's first event, the `max_claims` most recent, each cut at `claim_chars`
//!   characters.
//! - History: the `history_turns` turns before the window's first event, compacted: an
//!   `llm_call` keeps the request messages after its last `assistant` one (the tool results and
//!   user words it brought), its tools' names and its response, without system prompt, every
//!   text cut at
//!   `history_chars` characters ([`clip_text`], [`clip_value`]); of the rest only `exec`, `exit`
//!   and file events that change something (writes, creates, renames, deletes, failed creates)
//!   are kept. Over `history_events` events, every `llm_call` stays and the oldest other
//!   events go first.
//! - Links: see `links` below. A tool call is linked only to exec and file events after its
//!   `llm_call` and before the next one, within the window.
//!
//! No I/O and no clocks: time comes only from events and from `tick`'s argument.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::window::{window_id, Claim, CloseReason, Link, LinkBy, Window, WindowContext};
use crate::{Event, EventBody, Exec, FileEvent, LlmCall, ToolCall};

/// How windows are cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowerConfig {
    /// Turns per window, the overlap turn included.
    pub max_turns: usize,
    /// Estimated tokens (characters / 4) at which a window closes when the next turn starts.
    pub max_tokens: usize,
    /// Most events in a window; a window this full closes before the next event. High, because
    /// every interpreter start opens hundreds of files: a turn that runs `python3` a few times
    /// must stay in one window, or a loop over it is cut into pieces no detector sees whole.
    pub max_events: usize,
    /// A window with no event for longer than this closes.
    pub idle_timeout_ns: u64,
    /// Earlier claims carried in each window's context.
    pub max_claims: usize,
    /// Characters kept of each earlier claim.
    pub claim_chars: usize,
    /// Characters kept of the persona's first user message.
    pub instructions_chars: usize,
    /// Turns before the window carried (compacted) in its context, so a loop or claim across
    /// a window boundary is seen whole.
    pub history_turns: usize,
    /// Most events in that history.
    pub history_events: usize,
    /// Characters kept of each text in the history.
    pub history_chars: usize,
}

impl Default for WindowerConfig {
    fn default() -> Self {
        WindowerConfig {
            max_turns: 4,
            max_tokens: 12_000,
            max_events: 20_000,
            idle_timeout_ns: 120_000_000_000,
            max_claims: 8,
            claim_chars: 400,
            instructions_chars: 16_000,
            history_turns: 6,
            history_events: 400,
            history_chars: 2_000,
        }
    }
}

impl WindowerConfig {
    /// Every value is usable as it is (zeros give windows of one turn or one event), so there is
    /// nothing to reject.
    pub fn build(self) -> Windower {
        Windower { config: self, sessions: BTreeMap::new(), counters: WindowerCounters::default() }
    }
}

/// What the windower saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WindowerCounters {
    /// Events pushed.
    pub events: u64,
    /// Events older than an earlier event of their session (kept, in push order).
    pub out_of_order: u64,
    pub closed_turns: u64,
    pub closed_tokens: u64,
    pub closed_idle: u64,
    pub closed_session_end: u64,
    /// Windows that started without the overlap turn because it was too long.
    pub overlap_skipped: u64,
}

/// Cuts the events of many sessions into windows; see the module doc.
#[derive(Debug)]
pub struct Windower {
    config: WindowerConfig,
    sessions: BTreeMap<String, Session>,
    counters: WindowerCounters,
}

impl Windower {
    /// Adds `ev` to its session; returns the window it closed, if any.
    pub fn push(&mut self, ev: Event) -> Vec<Window> {
        self.counters.events += 1;
        let cfg = &self.config;
        let session = self.sessions.entry(ev.session.clone()).or_default();
        if session.max_ts.is_some_and(|ts| ev.ts_ns < ts) {
            self.counters.out_of_order += 1;
        }
        session.max_ts = session.max_ts.max(Some(ev.ts_ns));
        let closed = match session.close_reason(&ev, cfg) {
            Some(reason) => session.close(&ev.session, reason, cfg, &mut self.counters),
            None => None,
        };
        let mut ev = ev;
        // Each message once: a request continuing an earlier one of its conversation keeps
        // what is new (see `conversation`); one already compact is left as it is.
        session.conversations.compact(&mut ev);
        session.append(ev, cfg);
        closed.into_iter().collect()
    }

    /// Closes the windows whose last event is more than the idle timeout before `now_ns`.
    pub fn tick(&mut self, now_ns: u64) -> Vec<Window> {
        let cfg = &self.config;
        let mut closed = Vec::new();
        for (name, session) in &mut self.sessions {
            let idle = session
                .open
                .as_ref()
                .is_some_and(|w| w.has_new() && now_ns.saturating_sub(w.max_ts) > cfg.idle_timeout_ns);
            if idle {
                closed.extend(session.close(name, CloseReason::Idle, cfg, &mut self.counters));
            }
        }
        closed
    }

    /// Closes the open window of `session`, if it has new events. The session's numbering and
    /// context stay, so events that arrive later continue it.
    pub fn end_session(&mut self, session: &str) -> Vec<Window> {
        let Some(state) = self.sessions.get_mut(session) else {
            return Vec::new();
        };
        state.close(session, CloseReason::SessionEnd, &self.config, &mut self.counters).into_iter().collect()
    }

    /// Closes every open window, sorted by (session, seq).
    pub fn finish(&mut self) -> Vec<Window> {
        let cfg = &self.config;
        let mut closed = Vec::new();
        for (name, session) in &mut self.sessions {
            closed.extend(session.close(name, CloseReason::SessionEnd, cfg, &mut self.counters));
        }
        closed
    }

    /// The counts so far.
    pub fn counters(&self) -> &WindowerCounters {
        &self.counters
    }
}

/// What the windower keeps of one session.
#[derive(Debug, Default)]
struct Session {
    /// What each request of the session continues (each message kept once).
    conversations: crate::conversation::Conversations,
    next_seq: u64,
    /// `llm_call`s pushed so far.
    llm_calls: u64,
    /// The latest `ts_ns` pushed, to count events out of order.
    max_ts: Option<u64>,
    system_prompt: Option<String>,
    instructions: Option<String>,
    /// The persona was read from a call that offered tools (the main conversation).
    persona_from_tools: bool,
    agent: Option<String>,
    cwd: Option<String>,
    /// Events appended so far; an event's number is the count before it.
    appended: u64,
    /// Compacted recent events with their numbers, for the history of the next windows.
    recent: VecDeque<(u64, Event)>,
    /// The most recent claims, one more than `max_claims`: the overlap turn's own claim is the
    /// last one, and it must be left out of the next window's context.
    claims: VecDeque<Claim>,
    open: Option<OpenWindow>,
}

#[derive(Debug)]
struct OpenWindow {
    events: Vec<Event>,
    /// The number of `events[0]` (see `Session::appended`); `events[i]` is number `first_n + i`.
    first_n: u64,
    overlap_events: usize,
    /// Where the last turn starts in `events`.
    last_turn_start: usize,
    turns: usize,
    chars: usize,
    max_ts: u64,
    turns_before: u64,
    earlier_claims: Vec<Claim>,
}

impl OpenWindow {
    fn new(overlap: Vec<Event>, first_n: u64, earlier_claims: Vec<Claim>) -> Self {
        OpenWindow {
            first_n,
            overlap_events: overlap.len(),
            last_turn_start: 0,
            turns: usize::from(!overlap.is_empty()),
            chars: overlap.iter().map(text_chars).sum(),
            max_ts: overlap.iter().map(|e| e.ts_ns).max().unwrap_or(0),
            turns_before: 0,
            earlier_claims,
            events: overlap,
        }
    }

    fn has_new(&self) -> bool {
        self.events.len() > self.overlap_events
    }
}

impl Session {
    /// Why the open window must close before `ev` joins it, if it must.
    fn close_reason(&self, ev: &Event, cfg: &WindowerConfig) -> Option<CloseReason> {
        let open = self.open.as_ref().filter(|w| w.has_new())?;
        if ev.ts_ns.saturating_sub(open.max_ts) > cfg.idle_timeout_ns {
            return Some(CloseReason::Idle);
        }
        if matches!(ev.body, EventBody::LlmCall(_)) {
            if open.turns >= cfg.max_turns {
                return Some(CloseReason::Turns);
            }
            if open.chars / 4 >= cfg.max_tokens {
                return Some(CloseReason::Tokens);
            }
        }
        if open.events.len() >= cfg.max_events {
            return Some(CloseReason::Tokens);
        }
        None
    }

    /// Closes the open window; one without new events is dropped instead. Unless the session
    /// ends, the next window opens with the overlap turn.
    fn close(
        &mut self,
        name: &str,
        reason: CloseReason,
        cfg: &WindowerConfig,
        counters: &mut WindowerCounters,
    ) -> Option<Window> {
        let open = self.open.take().filter(OpenWindow::has_new)?;
        match reason {
            CloseReason::Turns => counters.closed_turns += 1,
            CloseReason::Tokens => counters.closed_tokens += 1,
            CloseReason::Idle => counters.closed_idle += 1,
            CloseReason::SessionEnd => counters.closed_session_end += 1,
        }
        if reason != CloseReason::SessionEnd {
            let last_turn = &open.events[open.last_turn_start..];
            if last_turn.len() <= cfg.max_events / 2 {
                // A turn holds at most one `llm_call`, at its start; its claim is the newest.
                let own_claim = last_turn.first().and_then(|e| claim_of(e, cfg.claim_chars)).is_some();
                let earlier = recent_claims(&self.claims, usize::from(own_claim), cfg.max_claims);
                let first_n = open.first_n + open.last_turn_start as u64;
                self.open = Some(OpenWindow::new(last_turn.to_vec(), first_n, earlier));
            } else {
                counters.overlap_skipped += 1;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Window {
            window_id: window_id(name, seq),
            session: name.to_string(),
            seq,
            start_ns: open.events.iter().map(|e| e.ts_ns).min().unwrap_or(0),
            end_ns: open.max_ts,
            links: links(&open.events),
            overlap_events: open.overlap_events,
            context: WindowContext {
                system_prompt: self.system_prompt.clone(),
                earlier_claims: open.earlier_claims,
                agent: self.agent.clone(),
                turns_before: open.turns_before,
                instructions: self.instructions.clone(),
                cwd: self.cwd.clone(),
                history: history(&self.recent, open.first_n, cfg),
            },
            events: open.events,
            closed_by: reason,
        })
    }

    fn append(&mut self, ev: Event, cfg: &WindowerConfig) {
        // After the close checks: a window closed by `ev` knows only what came before it.
        match &ev.body {
            EventBody::LlmCall(call) => {
                let offers_tools = call.request.offers_tools();
                let first = self.system_prompt.is_none() && self.instructions.is_none();
                if first || (offers_tools && !self.persona_from_tools) {
                    self.system_prompt = system_prompt_of(call);
                    self.instructions = first_user_message(call, cfg.instructions_chars);
                    self.persona_from_tools = offers_tools;
                }
            }
            EventBody::Exec(exec) if self.agent.is_none() => {
                self.agent = Some(command_line(exec));
                self.cwd = Some(exec.cwd.clone());
            }
            _ => {}
        }
        let n = self.appended;
        self.appended += 1;
        if let Some(compact) = compact(&ev, cfg.history_chars) {
            self.recent.push_back((n, compact));
            // Enough for the next window's history whatever its overlap: the windows of a
            // session hold at most `max_turns` turns and `max_events` events.
            let keep = (cfg.history_events + cfg.max_events.min(4 * cfg.history_events)).max(1);
            while self.recent.len() > keep {
                self.recent.pop_front();
            }
        }
        let is_llm = matches!(ev.body, EventBody::LlmCall(_));
        let open = self
            .open
            .get_or_insert_with(|| OpenWindow::new(Vec::new(), n, recent_claims(&self.claims, 0, cfg.max_claims)));
        if !open.has_new() {
            open.turns_before = self.llm_calls;
        }
        if is_llm || !open.has_new() {
            open.last_turn_start = open.events.len();
            open.turns += 1;
        }
        open.chars += text_chars(&ev);
        open.max_ts = open.max_ts.max(ev.ts_ns);
        if let Some(claim) = claim_of(&ev, cfg.claim_chars) {
            self.claims.push_back(claim);
            if self.claims.len() > cfg.max_claims + 1 {
                self.claims.pop_front();
            }
        }
        if is_llm {
            self.llm_calls += 1;
        }
        open.events.push(ev);
    }
}

/// The `max` claims before the last `skip_last` ones.
fn recent_claims(claims: &VecDeque<Claim>, skip_last: usize, max: usize) -> Vec<Claim> {
    let end = claims.len().saturating_sub(skip_last);
    claims.range(end.saturating_sub(max)..end).cloned().collect()
}

/// The claim an `llm_call` makes: its response text, trimmed and cut; `None` when empty.
fn claim_of(ev: &Event, claim_chars: usize) -> Option<Claim> {
    let EventBody::LlmCall(call) = &ev.body else {
        return None;
    };
    let text = call.response.text.trim();
    if text.is_empty() {
        return None;
    }
    Some(Claim { ts_ns: ev.ts_ns, event: ev.id(), text: cut_chars(text, claim_chars).to_string() })
}

/// The first `n` characters of `s` (never splits a character).
fn cut_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn system_prompt_of(call: &LlmCall) -> Option<String> {
    let request = &call.request;
    if let Some(system) = request.system.as_ref().filter(|s| !s.trim().is_empty()) {
        return Some(system.clone());
    }
    request.messages.first().filter(|m| m.role == "system" || m.role == "developer").map(|m| m.content.clone())
}

/// The `user` messages of a request, joined by blank lines and cut at `max` characters (a
/// quarter of it per message, so one long file does not crowd out the rest); `None` when
/// empty. Agents put project instructions there (CLAUDE.md in a `<system-reminder>`,
/// OpenHands' repository instructions, aider's read-only conventions files).
fn first_user_message(call: &LlmCall, max: usize) -> Option<String> {
    let texts: Vec<String> = call
        .request
        .messages
        .iter()
        .filter(|m| m.role == "user" && !m.content.trim().is_empty())
        .map(|m| clip_text(m.content.trim(), max / 4 + 1))
        .collect();
    (!texts.is_empty()).then(|| clip_text(&texts.join("\n\n"), max))
}

/// `text` cut at `max` characters, with `…` when cut.
pub fn clip_text(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// `value` with every string in it cut at `max` characters ([`clip_text`]). Detectors that
/// compare tool-call arguments clip both sides alike, so a call in the history equals the same
/// call in a window.
pub fn clip_value(value: &serde_json::Value, max: usize) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(clip_text(s, max)),
        Value::Array(items) => Value::Array(items.iter().map(|v| clip_value(v, max)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), clip_value(v, max))).collect()),
        other => other.clone(),
    }
}

/// What the history keeps of `ev` (see the module doc), or `None`.
fn compact(ev: &Event, max: usize) -> Option<Event> {
    let body = match &ev.body {
        EventBody::LlmCall(call) => {
            let clip_message = |m: &crate::Message| crate::Message {
                content: clip_text(&m.content, max),
                tool_calls: m.tool_calls.iter().map(|tc| clip_call(tc, max)).collect(),
                ..m.clone()
            };
            let mut call = LlmCall {
                request: crate::LlmRequest {
                    // Cut: not for putting the request back together, but it still says
                    // whether the call offered tools.
                    extends: call.request.extends.clone(),
                    system: None,
                    messages: call.request.new_messages().iter().map(clip_message).collect(),
                    // Names only: which calls offered tools tells the main conversation apart.
                    tools: call
                        .request
                        .tools
                        .iter()
                        .map(|t| crate::Tool {
                            name: t.name.clone(),
                            description: None,
                            parameters: serde_json::Value::Null,
                        })
                        .collect(),
                },
                response: crate::LlmResponse {
                    text: clip_text(&call.response.text, max),
                    tool_calls: call.response.tool_calls.iter().map(|tc| clip_call(tc, max)).collect(),
                    ..call.response.clone()
                },
                raw: None,
                ..(**call).clone()
            };
            call.raw = None;
            EventBody::LlmCall(Box::new(call))
        }
        EventBody::Exec(_) | EventBody::Exit(_) => ev.body.clone(),
        EventBody::File(f) if changes_something(f) => ev.body.clone(),
        _ => return None,
    };
    Some(Event { body, ..ev.clone() })
}

fn clip_call(tc: &ToolCall, max: usize) -> ToolCall {
    ToolCall { arguments: clip_value(&tc.arguments, max), ..tc.clone() }
}

/// A file event that changes the file system or tried to: not a read-only open.
fn changes_something(f: &FileEvent) -> bool {
    const O_ACCMODE: u32 = 3;
    const O_CREAT: u32 = 0o100;
    const O_TRUNC: u32 = 0o1000;
    match f.op {
        crate::FileOp::Open => f.flags.is_some_and(|fl| fl & O_ACCMODE != 0 || fl & (O_CREAT | O_TRUNC) != 0),
        _ => true,
    }
}

/// The history of a window whose first event is number `first_n`: the compacted events
/// before it, from the start of the `history_turns`-th last turn. Over `history_events`, every
/// `llm_call` of those turns stays (the conversation is what loops and claims are read from)
/// and of the other events the latest that fit: an agent whose every step writes its own
/// state files (opencode) must not push its earlier turns out.
fn history(recent: &VecDeque<(u64, Event)>, first_n: u64, cfg: &WindowerConfig) -> Vec<Event> {
    if cfg.history_turns == 0 || cfg.history_events == 0 {
        return Vec::new();
    }
    let before: Vec<&Event> = recent.iter().take_while(|(n, _)| *n < first_n).map(|(_, e)| e).collect();
    let starts: Vec<usize> =
        before.iter().enumerate().filter(|(_, e)| matches!(e.body, EventBody::LlmCall(_))).map(|(i, _)| i).collect();
    let Some(&from) = starts.get(starts.len().saturating_sub(cfg.history_turns)) else {
        return Vec::new();
    };
    let span = &before[from..];
    if span.len() <= cfg.history_events {
        return span.iter().map(|e| (*e).clone()).collect();
    }
    let calls = span.iter().filter(|e| matches!(e.body, EventBody::LlmCall(_))).count();
    let mut calls_room = calls.min(cfg.history_events);
    let mut room = cfg.history_events - calls_room;
    let mut kept: Vec<Event> = Vec::with_capacity(cfg.history_events);
    for e in span.iter().rev() {
        if matches!(e.body, EventBody::LlmCall(_)) {
            if calls_room > 0 {
                calls_room -= 1;
                kept.push((*e).clone());
            }
        } else if room > 0 {
            room -= 1;
            kept.push((*e).clone());
        }
    }
    kept.reverse();
    kept
}

fn command_line(exec: &Exec) -> String {
    if exec.argv.is_empty() {
        exec.filename.clone()
    } else {
        exec.argv.join(" ")
    }
}

/// The characters the token estimate counts for `ev` (see the module doc).
fn text_chars(ev: &Event) -> usize {
    let n = |s: &str| s.chars().count();
    match &ev.body {
        EventBody::LlmCall(call) => {
            let input: usize = call.request.new_messages().iter().map(|m| n(&m.content)).sum();
            let calls: usize = call
                .response
                .tool_calls
                .iter()
                .map(|tc| {
                    n(&tc.name)
                        + match &tc.arguments {
                            serde_json::Value::String(s) => n(s),
                            other => n(&other.to_string()),
                        }
                })
                .sum();
            input + n(&call.response.text) + calls
        }
        EventBody::Exec(exec) => exec.argv.iter().map(|a| n(a) + 1).sum(),
        // Read-only opens are hundreds per interpreter start and say little: they do not fill
        // the budget (they still count towards `max_events`).
        EventBody::File(file) if file.op == crate::FileOp::Open && file.flags.is_some_and(|f| f & 3 == 0) => 0,
        EventBody::File(file) => n(&file.path) + file.new_path.as_deref().map_or(0, n),
        _ => 0,
    }
}

/// The causal links of a window: each tool call of an `llm_call` to the exec and file events
/// after it and before the session's next `llm_call` that it plausibly caused. The strings of a
/// call are every string in its `arguments` (recursively; an array of strings also joined by
/// spaces, as `["bash", "-lc", "ls"]` spells a command), with whitespace normalised.
///
/// An exec matches (`by: "argv"`) when, at word boundaries (so `ls` is not found in `tools`):
/// - its argv joined by spaces, or with `argv[0]` replaced by its basename, is in a string;
/// - a command of a string (split into shell words and at `;`, `&`, `|`) has the basename of
///   `argv[0]` as first word and all its other words in argv;
/// - it is a shell running a `-c` script and the script contains a string (agents run their
///   commands as `bash -c "<command>"`, often wrapped).
///
/// A file event matches (`by: "path"`) when a string equals its path (or new path) or is the
/// path's tail after a `/` (a relative path). Each (call, event) pair is linked once; a call
/// without an id is named by its tool name.
pub fn links(events: &[Event]) -> Vec<Link> {
    let mut links = Vec::new();
    let mut seen = HashSet::new();
    let mut current: Option<(String, Vec<CallMatcher>)> = None;
    for ev in events {
        if let EventBody::LlmCall(call) = &ev.body {
            current = Some((ev.id(), call.response.tool_calls.iter().map(CallMatcher::new).collect()));
            continue;
        }
        let Some((llm_event, calls)) = &current else {
            continue;
        };
        for call in calls {
            let by = match &ev.body {
                EventBody::Exec(exec) if call.matches_exec(exec) => LinkBy::Argv,
                EventBody::File(file) if call.matches_file(file) => LinkBy::Path,
                _ => continue,
            };
            let event = ev.id();
            if seen.insert((llm_event.clone(), call.id.clone(), event.clone())) {
                links.push(Link {
                    llm_event: llm_event.clone(),
                    call_id: call.id.clone(),
                    tool: call.tool.clone(),
                    event,
                    by,
                });
            }
        }
    }
    links
}

/// One tool call, prepared for matching.
struct CallMatcher {
    id: String,
    tool: String,
    /// The argument strings, trimmed (for paths).
    raw: Vec<String>,
    /// The argument strings with whitespace normalised.
    normalised: Vec<String>,
    /// The commands in the strings, as shell words.
    commands: Vec<Vec<String>>,
}

impl CallMatcher {
    fn new(call: &ToolCall) -> Self {
        let mut raw = Vec::new();
        collect_strings(&call.arguments, &mut raw);
        raw.retain(|s| !s.trim().is_empty());
        let normalised: Vec<String> = raw.iter().map(|s| normalise(s)).collect();
        let commands = raw.iter().flat_map(|s| shell_commands(s)).collect();
        let id = if call.id.is_empty() { call.name.clone() } else { call.id.clone() };
        CallMatcher {
            id,
            tool: call.name.clone(),
            raw: raw.iter().map(|s| s.trim().to_string()).collect(),
            normalised,
            commands,
        }
    }

    fn matches_exec(&self, exec: &Exec) -> bool {
        let Some(argv0) = exec.argv.first() else {
            return false;
        };
        let base = basename(argv0);
        let joined = normalise(&exec.argv.join(" "));
        let base_joined = normalise(&format!("{base} {}", exec.argv[1..].join(" ")));
        let script = shell_script(exec).map(normalise);
        let in_string = self.normalised.iter().any(|s| {
            contains_word(s, &joined)
                || contains_word(s, &base_joined)
                || script
                    .as_deref()
                    .is_some_and(|script| s.chars().any(char::is_alphanumeric) && contains_word(script, s))
        });
        in_string
            || self.commands.iter().any(|words| {
                words.first().is_some_and(|first| basename(first) == base)
                    && words[1..].iter().all(|w| exec.argv.contains(w))
            })
    }

    fn matches_file(&self, file: &FileEvent) -> bool {
        let paths = || std::iter::once(file.path.as_str()).chain(file.new_path.as_deref());
        self.raw.iter().any(|s| {
            let s = s.strip_prefix("./").unwrap_or(s);
            !s.is_empty() && paths().any(|p| p == s || p.strip_suffix(s).is_some_and(|head| head.ends_with('/')))
        })
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => {
            let words: Vec<&str> = items.iter().filter_map(serde_json::Value::as_str).collect();
            if words.len() > 1 && words.len() == items.len() {
                out.push(words.join(" "));
            }
            items.iter().for_each(|v| collect_strings(v, out));
        }
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `needle` occurs in `hay` without a word character glued to either end.
fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let starts_word = needle.chars().next().is_some_and(is_word_char);
    let ends_word = needle.chars().next_back().is_some_and(is_word_char);
    hay.match_indices(needle).any(|(at, _)| {
        let glued_before = starts_word && hay[..at].chars().next_back().is_some_and(is_word_char);
        let glued_after = ends_word && hay[at + needle.len()..].chars().next().is_some_and(is_word_char);
        !glued_before && !glued_after
    })
}

/// The script of `sh -c SCRIPT` (also `bash -lc`, `bash -c -l`, ...).
fn shell_script(exec: &Exec) -> Option<&str> {
    const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "dash", "ksh", "fish"];
    let argv = &exec.argv;
    if !SHELLS.contains(&basename(argv.first()?)) {
        return None;
    }
    let is_short_opt = |a: &String| a.starts_with('-') && !a.starts_with("--");
    let c_at = argv.iter().position(|a| is_short_opt(a) && a.contains('c'))?;
    argv[c_at + 1..].iter().find(|a| !is_short_opt(a)).map(String::as_str)
}

/// Splits `s` into commands of shell words: quotes and backslashes as a shell reads them;
/// `;`, `&`, `|` and newlines end a command. Enough to read a command line, not a script.
fn shell_commands(s: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() || matches!(c, ';' | '&' | '|') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                let ends_command = !c.is_whitespace() || c == '\n';
                if ends_command && !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testing, FileOp, LlmRequest, Message};
    use proptest::prelude::*;
    use serde_json::json;

    const SEC: u64 = 1_000_000_000;

    fn event(session: &str, ts_ns: u64, body: EventBody) -> Event {
        testing::event(session, ts_ns, 100, body)
    }

    fn call(text: &str, tool_calls: Vec<ToolCall>, request: LlmRequest) -> EventBody {
        EventBody::LlmCall(Box::new(testing::llm_call(request, text, tool_calls)))
    }

    fn llm(session: &str, ts_ns: u64, text: &str) -> Event {
        event(session, ts_ns, call(text, Vec::new(), LlmRequest::default()))
    }

    fn llm_calling(session: &str, ts_ns: u64, tool_calls: Vec<ToolCall>) -> Event {
        event(session, ts_ns, call("", tool_calls, LlmRequest::default()))
    }

    fn tool(id: &str, name: &str, arguments: serde_json::Value) -> ToolCall {
        testing::tool_call(id, name, arguments)
    }

    fn exec(session: &str, ts_ns: u64, argv: &[&str]) -> Event {
        event(session, ts_ns, EventBody::Exec(testing::exec(argv)))
    }

    fn file(session: &str, ts_ns: u64, path: &str) -> Event {
        event(session, ts_ns, EventBody::File(FileEvent::new(FileOp::Open, path, 3)))
    }

    fn exit(session: &str, ts_ns: u64) -> Event {
        event(session, ts_ns, EventBody::Exit(testing::exit(0, 1)))
    }

    fn windower(edit: impl FnOnce(&mut WindowerConfig)) -> Windower {
        let mut cfg = WindowerConfig::default();
        edit(&mut cfg);
        cfg.build()
    }

    fn push_all(w: &mut Windower, events: Vec<Event>) -> Vec<Window> {
        events.into_iter().flat_map(|ev| w.push(ev)).collect()
    }

    fn stamps(window: &Window) -> Vec<u64> {
        window.events.iter().map(|e| e.ts_ns).collect()
    }

    /// The links of a single window made of `events`, as (call id, event ts, by).
    fn linked(events: Vec<Event>) -> Vec<(String, u64, String)> {
        let mut w = windower(|_| {});
        assert!(push_all(&mut w, events).is_empty());
        let windows = w.finish();
        assert_eq!(windows.len(), 1);
        let ts_of = |id: &str| windows[0].events.iter().find(|e| e.id() == id).map(|e| e.ts_ns);
        windows[0]
            .links
            .iter()
            .map(|l| (l.call_id.clone(), ts_of(&l.event).expect("linked event is in the window"), l.by.to_string()))
            .collect()
    }

    #[test]
    fn turns_close_at_max_turns_with_one_turn_of_overlap() {
        let mut w = windower(|c| c.max_turns = 2);
        let s = "s";
        assert!(push_all(&mut w, vec![llm(s, 1, "a"), exec(s, 2, &["ls"]), llm(s, 3, "b"), exit(s, 4)]).is_empty());
        let closed = w.push(llm(s, 5, "c"));
        assert_eq!(closed.len(), 1);
        let first = &closed[0];
        assert_eq!((first.window_id.as_str(), first.seq, first.closed_by), ("s:0", 0, CloseReason::Turns));
        assert_eq!(stamps(first), [1, 2, 3, 4]);
        assert_eq!((first.overlap_events, first.start_ns, first.end_ns), (0, 1, 4));

        let last = w.finish();
        assert_eq!(last.len(), 1);
        assert_eq!((last[0].window_id.as_str(), last[0].closed_by), ("s:1", CloseReason::SessionEnd));
        assert_eq!(stamps(&last[0]), [3, 4, 5]);
        assert_eq!((last[0].overlap_events, last[0].start_ns, last[0].end_ns), (2, 3, 5));
        let c = w.counters();
        assert_eq!((c.events, c.closed_turns, c.closed_session_end), (5, 1, 1));
    }

    #[test]
    fn events_before_the_first_llm_call_form_a_turn() {
        let mut w = windower(|c| c.max_turns = 1);
        let s = "s";
        let mut closed =
            push_all(&mut w, vec![exec(s, 1, &["claude"]), file(s, 2, "/repo/a"), llm(s, 3, "a"), llm(s, 4, "b")]);
        closed.extend(w.finish());
        let seen: Vec<_> = closed.iter().map(|w| (stamps(w), w.overlap_events, w.context.turns_before)).collect();
        assert_eq!(seen, [(vec![1, 2], 0, 0), (vec![1, 2, 3], 2, 0), (vec![3, 4], 1, 1)]);
    }

    #[test]
    fn idle_tick_closes_and_the_next_window_starts_with_the_overlap() {
        let mut w = windower(|_| {});
        let s = "s";
        assert!(push_all(&mut w, vec![llm(s, SEC, "a"), exec(s, 2 * SEC, &["make"])]).is_empty());
        assert!(w.tick(122 * SEC).is_empty(), "idle for exactly the timeout is not longer");
        let idle = w.tick(122 * SEC + 1);
        assert_eq!(idle.len(), 1);
        assert_eq!((stamps(&idle[0]), idle[0].closed_by), (vec![SEC, 2 * SEC], CloseReason::Idle));
        assert!(w.tick(1000 * SEC).is_empty(), "a window of only overlap never closes");

        assert!(w.push(exit(s, 300 * SEC)).is_empty());
        let last = w.finish();
        assert_eq!(stamps(&last[0]), [SEC, 2 * SEC, 300 * SEC]);
        assert_eq!((last[0].seq, last[0].overlap_events), (1, 2));
        assert_eq!(w.counters().closed_idle, 1);
    }

    #[test]
    fn a_session_ending_right_after_a_close_emits_nothing_more() {
        let mut w = windower(|_| {});
        assert!(push_all(&mut w, vec![llm("s", SEC, "a"), exec("s", 2 * SEC, &["ls"])]).is_empty());
        assert_eq!(w.tick(1000 * SEC).len(), 1);
        assert!(w.end_session("s").is_empty());
        assert!(w.finish().is_empty());
        assert_eq!(w.counters().closed_session_end, 0);
    }

    #[test]
    fn a_gap_longer_than_the_timeout_closes_on_push() {
        let mut w = windower(|_| {});
        let closed = push_all(&mut w, vec![llm("s", 0, "a"), exec("s", SEC, &["ls"]), llm("s", 200 * SEC, "b")]);
        assert_eq!(closed.len(), 1);
        assert_eq!((stamps(&closed[0]), closed[0].closed_by), (vec![0, SEC], CloseReason::Idle));
    }

    #[test]
    fn token_budget_closes_when_the_next_turn_starts() {
        // 400 characters of response text are 100 tokens.
        let long = "x".repeat(400);
        for (max_tokens, closes) in [(100, true), (101, false)] {
            let mut w = windower(|c| c.max_tokens = max_tokens);
            assert!(w.push(llm("s", 1, &long)).is_empty());
            assert!(w.push(exit("s", 2)).is_empty(), "tokens are checked only at a new turn");
            let closed = w.push(llm("s", 3, "b"));
            assert_eq!(closed.len(), usize::from(closes), "max_tokens {max_tokens}");
            if closes {
                assert_eq!((stamps(&closed[0]), closed[0].closed_by), (vec![1, 2], CloseReason::Tokens));
            }
        }
    }

    #[test]
    fn token_estimate_counts_new_messages_tool_calls_argv_and_paths() {
        let request = LlmRequest {
            extends: None,
            system: Some("ignored: it is context".into()),
            messages: vec![
                Message { role: "user".into(), content: "old".into(), ..Message::default() },
                Message { role: "assistant".into(), content: "old".into(), ..Message::default() },
                Message { role: "tool".into(), content: "12345".into(), ..Message::default() },
            ],
            tools: Vec::new(),
        };
        let with_call = event("s", 1, call("ab", vec![tool("c", "sh", json!("ls"))], request));
        assert_eq!(text_chars(&with_call), 5 + 2 + 2 + 2);
        assert_eq!(text_chars(&exec("s", 1, &["ls", "-l"])), 3 + 3);
        assert_eq!(text_chars(&file("s", 1, "/a/b")), 4);
        assert_eq!(text_chars(&exit("s", 1)), 0);
    }

    #[test]
    fn max_events_closes_mid_turn_and_skips_a_long_overlap() {
        let mut w = windower(|c| c.max_events = 4);
        let s = "s";
        let events = vec![llm(s, 1, "a"), exec(s, 2, &["a"]), exec(s, 3, &["b"]), exec(s, 4, &["c"])];
        assert!(push_all(&mut w, events).is_empty());
        let closed = w.push(exec(s, 5, &["d"]));
        assert_eq!((stamps(&closed[0]), closed[0].closed_by), (vec![1, 2, 3, 4], CloseReason::Tokens));
        let last = w.finish();
        assert_eq!((stamps(&last[0]), last[0].overlap_events, last[0].seq), (vec![5], 0, 1));
        assert_eq!(w.counters().overlap_skipped, 1);
    }

    #[test]
    fn max_events_keeps_a_short_overlap() {
        let mut w = windower(|c| c.max_events = 4);
        let s = "s";
        let events = vec![llm(s, 1, "a"), exec(s, 2, &["a"]), llm(s, 3, "b"), exec(s, 4, &["c"]), exec(s, 5, &["d"])];
        let closed = push_all(&mut w, events);
        assert_eq!(stamps(&closed[0]), [1, 2, 3, 4]);
        let last = w.finish();
        assert_eq!((stamps(&last[0]), last[0].overlap_events), (vec![3, 4, 5], 2));
        assert_eq!(w.counters().overlap_skipped, 0);
    }

    #[test]
    fn context_has_the_first_system_prompt_the_first_exec_and_turns_before() {
        let mut w = windower(|c| c.max_turns = 2);
        let s = "s";
        let developer = LlmRequest {
            extends: None,
            system: Some("  ".into()),
            messages: vec![Message { role: "developer".into(), content: "be careful".into(), ..Message::default() }],
            tools: Vec::new(),
        };
        let later = LlmRequest { system: Some("other".into()), ..LlmRequest::default() };
        let events = vec![
            exec(s, 1, &["claude", "-p", "fix it"]),
            event(s, 2, call("a", Vec::new(), developer)),
            exec(s, 3, &["ls"]),
            event(s, 4, call("b", Vec::new(), later)),
        ];
        let mut closed = push_all(&mut w, events);
        closed.extend(w.finish());
        let contexts: Vec<_> = closed.iter().map(|w| w.context.clone()).collect();
        assert_eq!(contexts.len(), 2);
        for ctx in &contexts {
            assert_eq!(ctx.system_prompt.as_deref(), Some("be careful"));
            assert_eq!(ctx.agent.as_deref(), Some("claude -p fix it"));
        }
        assert_eq!((contexts[0].turns_before, contexts[1].turns_before), (0, 1));
    }

    #[test]
    fn persona_comes_from_the_main_conversation_not_a_side_call() {
        let mut w = windower(|_| {});
        let s = "s";
        let side = LlmRequest {
            extends: None,
            system: Some("Generate a short title.".into()),
            messages: vec![Message { role: "user".into(), content: "title please".into(), ..Message::default() }],
            tools: Vec::new(),
        };
        let main = LlmRequest {
            extends: None,
            system: Some("You are a read-only reviewer.".into()),
            messages: vec![Message {
                role: "user".into(),
                content: "<AGENTS.md>no network</AGENTS.md> review".into(),
                ..Message::default()
            }],
            tools: vec![crate::Tool { name: "bash".into(), description: None, parameters: serde_json::Value::Null }],
        };
        let later_side = LlmRequest { system: Some("Summarise.".into()), ..LlmRequest::default() };
        let events = vec![
            exec(s, 1, &["claude"]),
            event(s, 2, call("Fix bug", Vec::new(), side)),
            event(s, 3, call("a", Vec::new(), main)),
            event(s, 4, call("b", Vec::new(), later_side)),
        ];
        assert!(push_all(&mut w, events).is_empty());
        let ctx = &w.finish()[0].context;
        assert_eq!(ctx.system_prompt.as_deref(), Some("You are a read-only reviewer."));
        assert_eq!(ctx.instructions.as_deref(), Some("<AGENTS.md>no network</AGENTS.md> review"));
        assert_eq!(ctx.cwd.as_deref(), Some("/repo"));
    }

    #[test]
    fn history_carries_the_turns_before_the_window_compacted() {
        let mut w = windower(|c| {
            c.max_turns = 2;
            c.history_turns = 2;
            c.history_chars = 5;
        });
        let s = "s";
        let read = |path: &str| FileEvent::new(FileOp::Open, path, 3);
        let write = |path: &str| FileEvent { flags: Some(577), ..FileEvent::new(FileOp::Open, path, 3) };
        let mut events = Vec::new();
        for t in 0..5u64 {
            let ts = 10 * t;
            let request = LlmRequest {
                extends: None,
                system: Some("persona".into()),
                messages: vec![
                    Message { role: "user".into(), content: "old".into(), ..Message::default() },
                    Message { role: "assistant".into(), content: "old".into(), ..Message::default() },
                    Message {
                        role: "tool".into(),
                        content: "result text".into(),
                        tool_call_id: Some("c".into()),
                        ..Message::default()
                    },
                ],
                tools: Vec::new(),
            };
            events.push(event(
                s,
                ts + 1,
                call("response text", vec![tool("c", "bash", json!({"command": "pytest -q"}))], request),
            ));
            events.push(exec(s, ts + 2, &["pytest", "-q"]));
            events.push(event(s, ts + 3, EventBody::File(read("/usr/lib/x.so"))));
            events.push(event(s, ts + 4, EventBody::File(write("/repo/out.txt"))));
            events.push(exit(s, ts + 5));
        }
        let mut windows = push_all(&mut w, events);
        windows.extend(w.finish());
        let stamps_of = |evs: &[Event]| evs.iter().map(|e| e.ts_ns).collect::<Vec<_>>();
        assert!(windows[0].context.history.is_empty());
        // Window 2 starts with the overlap turn 3 (ts 21..25): history is turns 1 and 2.
        assert_eq!(stamps(&windows[2])[0], 21);
        assert_eq!(stamps_of(&windows[2].context.history), vec![1, 2, 4, 5, 11, 12, 14, 15]);
        let EventBody::LlmCall(call) = &windows[2].context.history[0].body else { panic!("llm first") };
        assert_eq!(call.request.system, None);
        assert_eq!(call.request.messages.len(), 1, "only what is new to the request");
        assert_eq!(call.request.messages[0].content, "resul…");
        assert_eq!(call.response.text, "respo…");
        assert_eq!(call.response.tool_calls[0].arguments, json!({"command": "pytes…"}));

        // Over the cap on events, every call stays and the oldest other events go.
        let mut w = windower(|c| {
            c.max_turns = 2;
            c.history_turns = 3;
            c.history_events = 5;
        });
        let mut events = Vec::new();
        for t in 0..5u64 {
            events.push(llm(s, 10 * t + 1, "x"));
            events.push(exec(s, 10 * t + 2, &["ls"]));
            events.push(exit(s, 10 * t + 3));
        }
        let windows = push_all(&mut w, events);
        assert_eq!(stamps_of(&windows[2].context.history), vec![1, 3, 11, 12, 13]);
    }

    #[test]
    fn clip_value_cuts_every_string() {
        let v = json!({"a": "abcdef", "b": ["xyz123", 4], "c": {"d": "ab"}});
        assert_eq!(clip_value(&v, 3), json!({"a": "abc…", "b": ["xyz…", 4], "c": {"d": "ab"}}));
        assert_eq!(clip_text("日本語テキスト", 3), "日本語…");
    }

    #[test]
    fn earlier_claims_are_recent_bounded_and_cut_on_char_boundaries() {
        let mut w = windower(|c| {
            c.max_turns = 1;
            c.max_claims = 2;
            c.claim_chars = 5;
        });
        let s = "s";
        let texts = ["第一个回答很长", "", "  three  ", "four!!", "five", "six"];
        let calls: Vec<Event> = texts.iter().zip(1..).map(|(t, ts)| llm(s, ts, t)).collect();
        let ids: Vec<String> = calls.iter().map(Event::id).collect();
        let mut closed = push_all(&mut w, calls);
        closed.extend(w.finish());
        let claims: Vec<Vec<(u64, &str)>> = closed
            .iter()
            .map(|w| w.context.earlier_claims.iter().map(|c| (c.ts_ns, c.text.as_str())).collect())
            .collect();
        let first = (1, "第一个回答");
        assert_eq!(
            claims,
            [vec![], vec![], vec![first], vec![first], vec![first, (3, "three")], vec![(3, "three"), (4, "four!")]]
        );
        assert_eq!(closed[5].context.earlier_claims[0].event, ids[2]);
    }

    #[test]
    fn cut_chars_never_splits_a_character() {
        assert_eq!(cut_chars("第一个", 2), "第一");
        assert_eq!(cut_chars("ab", 5), "ab");
        assert_eq!(cut_chars("ab", 0), "");
    }

    #[test]
    fn links_match_argv_and_argv_with_a_basename() {
        let s = "s";
        let links = linked(vec![
            llm_calling(s, 1, vec![tool("c1", "shell", json!({"command": "pytest -q", "timeout": 5}))]),
            exec(s, 2, &["pytest", "-q"]),
            exec(s, 3, &["/usr/bin/pytest", "-q"]),
            exec(s, 4, &["pytest", "-x"]),
        ]);
        assert_eq!(links, [("c1".into(), 2, "argv".into()), ("c1".into(), 3, "argv".into())]);
    }

    #[test]
    fn links_follow_bash_c_to_the_shell_and_its_child() {
        let s = "s";
        let links = linked(vec![
            llm_calling(s, 1, vec![tool("c1", "shell", json!({"command": "bash -c \"pytest -q\""}))]),
            exec(s, 2, &["/bin/bash", "-c", "pytest -q"]),
            exec(s, 3, &["pytest", "-q"]),
        ]);
        let stamps: Vec<u64> = links.iter().map(|l| l.1).collect();
        assert_eq!(stamps, [2, 3]);
    }

    #[test]
    fn links_find_commands_in_wrapped_shell_scripts_and_compound_commands() {
        let s = "s";
        let links = linked(vec![
            llm_calling(s, 1, vec![tool("c1", "Bash", json!({"command": "cd /repo && cargo test"}))]),
            exec(s, 2, &["/bin/bash", "-c", "-l", "eval 'cd /repo && cargo test' < /dev/null"]),
            exec(s, 3, &["cargo", "test", "--workspace"]),
            exec(s, 4, &["cargo", "build"]),
            exec(s, 5, &["/bin/bash", "-c", "cargo testing"]),
        ]);
        let stamps: Vec<u64> = links.iter().map(|l| l.1).collect();
        assert_eq!(stamps, [2, 3]);
    }

    #[test]
    fn links_read_a_command_given_as_an_array() {
        let s = "s";
        let links = linked(vec![
            llm_calling(s, 1, vec![tool("c1", "shell", json!({"command": ["bash", "-lc", "ls -la"]}))]),
            exec(s, 2, &["bash", "-lc", "ls -la"]),
            exec(s, 3, &["ls", "-la"]),
        ]);
        let stamps: Vec<u64> = links.iter().map(|l| l.1).collect();
        assert_eq!(stamps, [2, 3]);
    }

    #[test]
    fn links_match_absolute_and_relative_paths() {
        let s = "s";
        let links = linked(vec![
            llm_calling(
                s,
                1,
                vec![
                    tool("c1", "edit", json!({"path": "src/main.rs"})),
                    tool("c2", "read", json!({"file_path": "/abs/a.txt", "other": "./lib.rs"})),
                ],
            ),
            file(s, 2, "/repo/src/main.rs"),
            file(s, 3, "/repo/xsrc/main.rs"),
            file(s, 4, "/repo/src/main.rsx"),
            file(s, 5, "/abs/a.txt"),
            file(s, 6, "/repo/lib.rs"),
        ]);
        assert_eq!(
            links,
            [("c1".into(), 2, "path".into()), ("c2".into(), 5, "path".into()), ("c2".into(), 6, "path".into())]
        );
    }

    #[test]
    fn no_link_before_the_call_or_after_the_next_call() {
        let s = "s";
        let links = linked(vec![
            exec(s, 1, &["pytest", "-q"]),
            llm_calling(s, 2, vec![tool("c1", "shell", json!("pytest -q"))]),
            exec(s, 3, &["pytest", "-q"]),
            llm(s, 4, "done"),
            exec(s, 5, &["pytest", "-q"]),
        ]);
        assert_eq!(links, [("c1".into(), 3, "argv".into())]);
    }

    #[test]
    fn links_need_word_boundaries() {
        let s = "s";
        let links = linked(vec![
            llm_calling(s, 1, vec![tool("c1", "shell", json!({"command": "cat tools.txt"}))]),
            exec(s, 2, &["ls"]),
            exec(s, 3, &["cat", "tools.txt"]),
        ]);
        assert_eq!(links, [("c1".into(), 3, "argv".into())]);
    }

    #[test]
    fn each_call_and_event_pair_is_linked_once_and_calls_without_id_use_the_tool() {
        let s = "s";
        let mut w = windower(|_| {});
        let events = vec![
            llm_calling(
                s,
                1,
                vec![
                    tool("", "shell", json!({"a": "pytest -q", "b": "pytest -q"})),
                    tool("c2", "run", json!("pytest")),
                ],
            ),
            exec(s, 2, &["pytest", "-q"]),
        ];
        assert!(push_all(&mut w, events).is_empty());
        let window = w.finish().remove(0);
        let got: Vec<(&str, &str)> = window.links.iter().map(|l| (l.call_id.as_str(), l.tool.as_str())).collect();
        assert_eq!(got, [("shell", "shell"), ("c2", "run")]);
        assert!(window.links.iter().all(|l| l.llm_event == window.events[0].id() && l.event == window.events[1].id()));
    }

    #[test]
    fn the_overlap_turn_links_its_calls_to_actions_in_the_next_window() {
        let mut w = windower(|_| {});
        let s = "s";
        let events = vec![llm_calling(s, SEC, vec![tool("c1", "shell", json!("make"))]), exec(s, 2 * SEC, &["make"])];
        assert!(push_all(&mut w, events).is_empty());
        assert_eq!(w.tick(1000 * SEC)[0].links.len(), 1);
        assert!(w.push(exec(s, 1001 * SEC, &["make"])).is_empty());
        let last = w.finish().remove(0);
        let linked: Vec<&str> = last.links.iter().map(|l| l.event.as_str()).collect();
        assert_eq!(linked, [last.events[1].id(), last.events[2].id()]);
    }

    #[test]
    fn sessions_are_independent() {
        let mut w = windower(|c| c.max_turns = 1);
        let mut closed = push_all(
            &mut w,
            vec![llm("a", 1, "x"), llm("b", 2, "y"), exec("b", 3, &["ls"]), llm("a", 4, "z"), llm("b", 5, "w")],
        );
        assert_eq!(closed.iter().map(|w| w.window_id.as_str()).collect::<Vec<_>>(), ["a:0", "b:0"]);
        assert_eq!(stamps(&closed[1]), [2, 3]);
        let ended = w.end_session("a");
        assert_eq!(ended.iter().map(|w| w.window_id.as_str()).collect::<Vec<_>>(), ["a:1"]);
        closed.extend(ended);
        closed.extend(w.finish());
        assert_eq!(closed.last().map(|w| w.window_id.as_str()), Some("b:1"));
        for window in &closed {
            assert!(window.events.iter().all(|e| e.session == window.session));
        }
    }

    #[test]
    fn finish_sorts_by_session_and_late_events_do_not_reuse_ids() {
        let mut w = windower(|_| {});
        for (ts, s) in [(1, "b"), (2, "c"), (3, "a")] {
            assert!(w.push(llm(s, ts, "x")).is_empty());
        }
        let sessions: Vec<String> = w.finish().into_iter().map(|w| w.session).collect();
        assert_eq!(sessions, ["a", "b", "c"]);
        assert!(w.push(llm("a", 4, "late")).is_empty());
        assert_eq!(w.end_session("a")[0].window_id, "a:1");
        assert!(w.end_session("nobody").is_empty());
    }

    #[test]
    fn out_of_order_events_are_kept_and_counted() {
        let mut w = windower(|_| {});
        assert!(push_all(&mut w, vec![llm("s", 10, "a"), exec("s", 5, &["ls"])]).is_empty());
        let window = w.finish().remove(0);
        assert_eq!((stamps(&window), window.start_ns, window.end_ns), (vec![10, 5], 5, 10));
        assert_eq!(w.counters().out_of_order, 1);
    }

    #[test]
    fn config_fills_defaults_and_rejects_unknown_keys() {
        let cfg: WindowerConfig = serde_json::from_str(r#"{"max_turns": 2}"#).expect("parse");
        assert_eq!(cfg, WindowerConfig { max_turns: 2, ..WindowerConfig::default() });
        let d = WindowerConfig::default();
        assert_eq!((d.max_turns, d.max_tokens, d.max_events), (4, 12_000, 20_000));
        assert_eq!((d.idle_timeout_ns, d.max_claims, d.claim_chars), (120 * SEC, 8, 400));
        assert!(serde_json::from_str::<WindowerConfig>(r#"{"max_turn": 2}"#).is_err());
    }

    #[test]
    fn shell_commands_split_words_and_commands() {
        let words = |cmds: Vec<Vec<String>>| -> Vec<Vec<String>> { cmds };
        let expect = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter().map(|c| c.iter().map(|w| w.to_string()).collect()).collect()
        };
        assert_eq!(
            words(shell_commands(r#"cd "/my dir" && echo 'a b'|wc -l; x\ y"#)),
            expect(&[&["cd", "/my dir"], &["echo", "a b"], &["wc", "-l"], &["x y"]])
        );
        assert_eq!(shell_commands("a\nb"), expect(&[&["a"], &["b"]]));
    }

    #[test]
    fn contains_word_respects_word_boundaries() {
        assert!(contains_word("ls -la", "ls"));
        assert!(contains_word("/bin/ls", "ls"));
        assert!(!contains_word("tools", "ls"));
        assert!(!contains_word("lsof", "ls"));
        assert!(contains_word("run(x)y", "(x)"));
        assert!(!contains_word("abc", ""));
    }

    // Random sessions: the invariants of the module doc.

    #[derive(Debug, Clone)]
    enum Op {
        Push { session: usize, kind: u8, variant: usize, dt_s: u64, back: bool },
        Tick { dt_s: u64 },
        End { session: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => (0..3usize, 0..4u8, 0..3usize, 0..200u64, prop::bool::weighted(0.1))
                .prop_map(|(session, kind, variant, dt_s, back)| {
                    Op::Push { session, kind, variant, dt_s, back }
                }),
            2 => (0..300u64).prop_map(|dt_s| Op::Tick { dt_s }),
            1 => (0..3usize).prop_map(|session| Op::End { session }),
        ]
    }

    fn config() -> impl Strategy<Value = WindowerConfig> {
        (0..5usize, 0..40usize, 0..9usize, 1..200u64, 0..3usize, 0..6usize).prop_map(
            |(max_turns, max_tokens, max_events, idle_s, max_claims, claim_chars)| WindowerConfig {
                max_turns,
                max_tokens,
                max_events,
                idle_timeout_ns: idle_s * SEC,
                max_claims,
                claim_chars,
                history_turns: max_claims,
                history_events: claim_chars,
                ..WindowerConfig::default()
            },
        )
    }

    fn random_event(session: &str, ts_ns: u64, kind: u8, variant: usize, pid: u32) -> Event {
        let argv: [&[&str]; 3] = [&["pytest", "-q"], &["bash", "-c", "pytest -q"], &["ls"]];
        let mut ev = match kind {
            0 => {
                let text = ["", "done", "测试都通过了"][variant];
                let calls =
                    if variant == 1 { vec![tool("c", "shell", json!({"command": "pytest -q"}))] } else { Vec::new() };
                event(session, ts_ns, call(text, calls, LlmRequest::default()))
            }
            1 => exec(session, ts_ns, argv[variant]),
            2 => exit(session, ts_ns),
            _ => file(session, ts_ns, ["/repo/a.py", "/repo/b.py", "/tmp/x"][variant]),
        };
        // A unique pid and tid name each event (and make its id unique).
        ev.pid = pid;
        ev.tid = pid;
        ev
    }

    /// The last turn of a window: from its last turn boundary (start, end of overlap, llm_call).
    fn last_turn(w: &Window) -> &[Event] {
        let llm_at = w.events.iter().rposition(|e| matches!(e.body, EventBody::LlmCall(_))).unwrap_or(0);
        &w.events[llm_at.max(w.overlap_events)..]
    }

    fn turn_count(w: &Window) -> usize {
        let llm_turns = w.events[w.overlap_events..].iter().filter(|e| matches!(e.body, EventBody::LlmCall(_))).count();
        let starts_with_llm = matches!(w.events[w.overlap_events].body, EventBody::LlmCall(_));
        usize::from(w.overlap_events > 0) + llm_turns + usize::from(!starts_with_llm)
    }

    /// What the random run saw, in order: windows, and the sessions it ended.
    #[derive(Debug)]
    #[allow(clippy::large_enum_variant)] // a test's record, built once per window
    enum Seen {
        Window(Window),
        Ended(String),
    }

    fn check(cfg: &WindowerConfig, pushed: &BTreeMap<String, Vec<u32>>, seen: &[Seen]) -> Result<(), TestCaseError> {
        let mut new_pids: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut previous: BTreeMap<&str, &Window> = BTreeMap::new();
        // The window whose last turn the session's next window repeats; none after an end.
        let mut overlap_from: BTreeMap<&str, &Window> = BTreeMap::new();
        for item in seen {
            let w = match item {
                Seen::Window(w) => w,
                Seen::Ended(session) => {
                    overlap_from.remove(session.as_str());
                    continue;
                }
            };
            let prev = previous.insert(&w.session, w);
            let source = overlap_from.insert(&w.session, w);
            prop_assert_eq!(w.seq, prev.map_or(0, |p| p.seq + 1), "seq contiguous from 0");
            prop_assert_eq!(&w.window_id, &window_id(&w.session, w.seq));
            prop_assert!(w.overlap_events < w.events.len(), "window {} has no new events", w.window_id);
            prop_assert!(w.events.len() <= cfg.max_events.max(1));
            prop_assert!(turn_count(w) <= cfg.max_turns.max(2));
            prop_assert!(w.events.iter().all(|e| e.session == w.session));
            // History: of the session, before the window's events, bounded, starting at a turn.
            let h = &w.context.history;
            prop_assert!(h.len() <= cfg.history_events);
            prop_assert!(h.iter().all(|e| e.session == w.session));
            if let (Some(first), Some(last)) = (w.events.first(), h.last()) {
                // The pids of random events count pushes.
                prop_assert!(last.pid < first.pid, "history after the window");
            }
            prop_assert!(h.first().is_none_or(|e| matches!(e.body, EventBody::LlmCall(_))));
            prop_assert_eq!(w.start_ns, w.events.iter().map(|e| e.ts_ns).min().unwrap_or(0));
            prop_assert_eq!(w.end_ns, w.events.iter().map(|e| e.ts_ns).max().unwrap_or(0));
            let expected: &[Event] = match source {
                Some(p) if p.closed_by != CloseReason::SessionEnd && last_turn(p).len() <= cfg.max_events / 2 => {
                    last_turn(p)
                }
                _ => &[],
            };
            prop_assert_eq!(&w.events[..w.overlap_events], expected, "overlap of {}", w.window_id);
            let ids: Vec<String> = w.events.iter().map(Event::id).collect();
            for link in &w.links {
                let llm_at = ids.iter().position(|id| *id == link.llm_event);
                let ev_at = ids.iter().position(|id| *id == link.event);
                prop_assert!(matches!((llm_at, ev_at), (Some(a), Some(b)) if a < b), "link {:?}", link);
            }
            prop_assert!(w.context.earlier_claims.len() <= cfg.max_claims);
            prop_assert!(w.context.earlier_claims.iter().all(|c| c.text.chars().count() <= cfg.claim_chars));
            new_pids.entry(&w.session).or_default().extend(w.events[w.overlap_events..].iter().map(|e| e.pid));
        }
        let pushed: BTreeMap<&str, Vec<u32>> = pushed.iter().map(|(s, p)| (s.as_str(), p.clone())).collect();
        prop_assert_eq!(new_pids, pushed, "every event exactly once, in push order");
        Ok(())
    }

    proptest! {
        #[test]
        fn every_event_is_in_exactly_one_window_and_overlaps_repeat_the_last_turn(
            cfg in config(),
            ops in prop::collection::vec(op(), 0..80),
        ) {
            let mut w = cfg.clone().build();
            let mut clock = 1_000 * SEC;
            let mut pushed: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            let mut seen = Vec::new();
            for (pid, op) in (1..).zip(ops) {
                match op {
                    Op::Push { session, kind, variant, dt_s, back } => {
                        let ts = if back {
                            clock.saturating_sub(dt_s * SEC)
                        } else {
                            clock += dt_s * SEC;
                            clock
                        };
                        let name = format!("s{session}");
                        pushed.entry(name.clone()).or_default().push(pid);
                        let closed = w.push(random_event(&name, ts, kind, variant, pid));
                        seen.extend(closed.into_iter().map(Seen::Window));
                    }
                    Op::Tick { dt_s } => {
                        clock += dt_s * SEC;
                        seen.extend(w.tick(clock).into_iter().map(Seen::Window));
                    }
                    Op::End { session } => {
                        let name = format!("s{session}");
                        seen.extend(w.end_session(&name).into_iter().map(Seen::Window));
                        seen.push(Seen::Ended(name));
                    }
                }
            }
            seen.extend(w.finish().into_iter().map(Seen::Window));
            check(&cfg, &pushed, &seen)?;
            let windows = seen.iter().filter(|s| matches!(s, Seen::Window(_))).count();
            let c = w.counters();
            let total: usize = pushed.values().map(Vec::len).sum();
            prop_assert_eq!(c.events, total as u64);
            let closed = c.closed_turns + c.closed_tokens + c.closed_idle + c.closed_session_end;
            prop_assert_eq!(closed, windows as u64);
        }
    }
}
