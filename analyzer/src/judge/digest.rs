//! A window as the judge reads it: what happened turn by turn, in a few hundred tokens.
//!
//! The raw window of a coding agent is mostly noise for a reviewer: a two-call Claude Code
//! window renders to ~27,000 characters, nearly all library and `/proc` opens. The digest keeps
//! what a person reviewing the agent reads: the user's words, the assistant's text, each tool
//! call with its (clipped) result, the commands each call ran with their exit status, files
//! written, deleted or renamed, and outside connections; reads are folded into counts. The
//! turns before the window (its overlap and history) come first, shorter, as context.
//!
//! Events are named by short local ids (`e1`, `e2`, ...) that the answer cites and
//! [`Digest::events`] maps back to events, so a model spends no tokens on long ids.
//!
//! Invariants: every line is neutralised (no `<<<`), every text from the trace is JSON-quoted
//! so it stays on its line, and the digest is at most `max_chars` characters: context turns go
//! first, then new turns are cut harder, then lines are dropped from the middle.

use std::collections::HashMap;

use model::{Event, EventBody, FileOp, Window};

use super::render::{clip, neutralise};
use crate::detect::view::{display_argv, one_line, View};

/// One event a local id names: the event and a line a person can read.
#[derive(Debug, Clone)]
pub(crate) struct Cited {
    pub event: Event,
    pub summary: String,
}

/// The digest and what its ids name.
#[derive(Debug)]
pub(crate) struct Digest {
    pub text: String,
    /// `e1` -> the event.
    pub events: HashMap<String, Cited>,
    /// Event id -> its local id.
    pub local: HashMap<String, String>,
}

/// Characters of each kind of text, for new turns and for context turns.
#[derive(Debug, Clone, Copy)]
struct Caps {
    user: usize,
    assistant: usize,
    args: usize,
    result: usize,
    files: usize,
}

const NEW: Caps = Caps { user: 400, assistant: 500, args: 200, result: 240, files: 6 };
const TIGHT: Caps = Caps { user: 160, assistant: 200, args: 120, result: 100, files: 3 };
const CONTEXT: Caps = Caps { user: 120, assistant: 160, args: 100, result: 80, files: 2 };

/// The digest of `w` in at most `max_chars` characters.
pub(crate) fn digest(w: &Window, max_chars: usize) -> Digest {
    let view = View::new(w);
    for (new_caps, with_context) in [(NEW, true), (TIGHT, true), (TIGHT, false), (CONTEXT, false)] {
        let d = Builder::new(&view).render(new_caps, with_context);
        if d.text.chars().count() <= max_chars {
            return d;
        }
    }
    let mut d = Builder::new(&view).render(CONTEXT, false);
    d.text = cut_middle(&d.text, max_chars);
    d
}

struct Builder<'v, 'a> {
    view: &'v View<'a>,
    ids: HashMap<String, String>,
    events: HashMap<String, Cited>,
}

impl<'v, 'a> Builder<'v, 'a> {
    fn new(view: &'v View<'a>) -> Self {
        Builder { view, ids: HashMap::new(), events: HashMap::new() }
    }

    /// The local id of `ev`, cited with `summary` (the first summary given stays).
    fn id(&mut self, ev: &Event, summary: &str) -> String {
        let key = ev.id();
        if let Some(id) = self.ids.get(&key) {
            return id.clone();
        }
        let id = format!("e{}", self.ids.len() + 1);
        self.ids.insert(key, id.clone());
        self.events.insert(id.clone(), Cited { event: ev.clone(), summary: clip(summary, 200) });
        id
    }

    fn render(mut self, new_caps: Caps, with_context: bool) -> Digest {
        let view = self.view;
        let w = view.window;
        let ctx = &w.context;
        let mut lines = Vec::new();
        let mut head = format!("session window {} ({} turns before it)", w.seq, ctx.turns_before);
        if let Some(agent) = &ctx.agent {
            head.push_str(&format!("; agent: {}", quote(agent, 120)));
        }
        if let Some(cwd) = &ctx.cwd {
            head.push_str(&format!("; cwd: {}", quote(cwd, 100)));
        }
        lines.push(head);
        let first_new = view.turns.iter().position(|t| t.is_new).unwrap_or(view.turns.len());
        let mut shown_context = false;
        for ti in 0..view.turns.len() {
            let is_context = ti < first_new;
            if is_context && !with_context {
                continue;
            }
            if is_context && !shown_context {
                lines.push("-- before this window (context) --".into());
                shown_context = true;
            }
            if !is_context && ti == first_new && shown_context {
                lines.push("-- this window --".into());
            }
            let caps = if is_context { CONTEXT } else { new_caps };
            self.turn(ti, caps, &mut lines);
        }
        let text = neutralise(&lines.join("\n"));
        Digest { text, events: self.events, local: self.ids }
    }

    fn turn(&mut self, ti: usize, caps: Caps, lines: &mut Vec<String>) {
        let view = self.view;
        let turn = &view.turns[ti];
        let call = turn.call;
        let tag = if turn.side { " (side call)" } else { "" };
        let user: Vec<&str> = call
            .request
            .new_messages()
            .iter()
            .filter(|m| m.role == "user" && !m.content.trim().is_empty())
            .map(|m| m.content.as_str())
            .collect();
        let model = call.model.as_deref().unwrap_or("model");
        for u in user {
            let id = self.id(turn.event, &format!("user: {}", one_line(u, 120)));
            lines.push(format!("[{id}] user{tag}: {}", quote(u, caps.user)));
        }
        let text = call.response.text.trim();
        if !text.is_empty() {
            let id = self.id(turn.event, &format!("{model} said: {}", one_line(text, 160)));
            lines.push(format!("[{id}] assistant{tag}: {}", quote(text, caps.assistant)));
        }
        for u in view.uses.iter().filter(|u| u.turn == ti) {
            let args = clip(&u.args, caps.args);
            let id = self.id(turn.event, &format!("called {} {}", u.call.name, clip(&u.args, 120)));
            let result = match u.result {
                Some(r) => format!(" -> {}", quote(r.trim(), caps.result)),
                None => String::new(),
            };
            lines.push(format!("[{id}] call {} {args}{result}", u.call.name));
        }
        if call.response.tool_calls.is_empty() && text.is_empty() && !turn.side {
            let id = self.id(turn.event, &format!("{model} answered nothing"));
            lines.push(format!("[{id}] assistant: (no text, no tool call)"));
        }
        self.actions(ti, caps, lines);
    }

    /// The commands, file changes and connections between this turn and the next.
    fn actions(&mut self, ti: usize, caps: Caps, lines: &mut Vec<String>) {
        let view = self.view;
        let start = view.turns[ti].idx;
        let end = view.turns.get(ti + 1).map_or(view.events.len(), |t| t.idx);
        for (ci, c) in view.commands.iter().enumerate().filter(|(ci, c)| c.is_top(*ci) && c.turn == Some(ti)) {
            let children = view.commands.iter().enumerate().filter(|(i, d)| d.root == ci && *i != ci).count();
            let outcome = match c.status {
                Some((_, signal)) if signal != 0 => format!("killed by signal {signal}"),
                Some((code, _)) => format!("exit {code}"),
                None => "no exit seen".into(),
            };
            let cmd = display_argv(c.argv);
            let ev = view.events[c.exit.unwrap_or_else(|| c.last_exec())];
            let id = self.id(ev, &format!("{cmd} -> {outcome}"));
            let more = if children > 0 { format!(" (+{children} child processes)") } else { String::new() };
            lines.push(format!("  [{id}] $ {} -> {outcome}{more}", quote(&cmd, caps.args)));
        }
        let (mut reads, mut changes, mut connects, mut shown_changes) = (0usize, 0usize, 0usize, 0usize);
        for &ev in &view.events[start..end] {
            match &ev.body {
                EventBody::File(f) => {
                    let write_flags = f.flags.is_some_and(|fl| fl & 3 != 0 || fl & 0o1100 != 0);
                    let what = match f.op {
                        FileOp::Open if !write_flags => {
                            reads += 1;
                            continue;
                        }
                        FileOp::Open if f.result < 0 => {
                            format!("failed to create {} ({})", f.path, f.error.as_deref().unwrap_or("error"))
                        }
                        FileOp::Open => format!("opened for writing {}", f.path),
                        FileOp::Write => format!("wrote {} ({} bytes)", f.path, f.bytes.unwrap_or(0)),
                        FileOp::Rename => format!("renamed {} -> {}", f.path, f.new_path.as_deref().unwrap_or("?")),
                        op => format!("{} {}", op.as_str(), f.path),
                    };
                    if is_noise(&f.path) {
                        reads += 1;
                        continue;
                    }
                    changes += 1;
                    if shown_changes < caps.files {
                        shown_changes += 1;
                        let id = self.id(ev, &what);
                        lines.push(format!("  [{id}] {} by {}", quote(&what, 160), quote(&ev.comm, 20)));
                    }
                }
                EventBody::Connect(c) if matches!(c.family.as_str(), "inet" | "inet6") => {
                    let loopback = c.addr.starts_with("127.") || c.addr == "::1";
                    if loopback || view.turns.iter().any(|t| t.event.pid == ev.pid) {
                        continue; // the agent's own model connection, or local services
                    }
                    connects += 1;
                    if connects <= 3 {
                        let what = format!("connect {}:{} by {}", c.addr, c.port, ev.comm);
                        let id = self.id(ev, &what);
                        lines.push(format!("  [{id}] {}", quote(&what, 100)));
                    }
                }
                EventBody::Loss(l) => {
                    let what = format!("LOSS: {} ({} x {})", l.reason, l.count, l.source);
                    let id = self.id(ev, &what);
                    lines.push(format!("  [{id}] {}", quote(&what, 160)));
                }
                _ => {}
            }
        }
        let mut folded = Vec::new();
        if changes > shown_changes {
            folded.push(format!("{} more file changes", changes - shown_changes));
        }
        if connects > 3 {
            folded.push(format!("{} more connections", connects - 3));
        }
        if reads > 0 {
            folded.push(format!("{reads} reads of libraries, caches and /proc"));
        }
        if !folded.is_empty() {
            lines.push(format!("  (+ {})", folded.join(", ")));
        }
    }
}

/// Caches and runtime files: folded with the reads.
fn is_noise(path: &str) -> bool {
    const PARTS: &[&str] =
        &["/__pycache__/", "/.pytest_cache/", "/.cache/", "/node_modules/", "/.git/", "/proc/", "/dev/", "/.npm/"];
    let dir = format!("{path}/");
    PARTS.iter().any(|p| dir.contains(p))
        || path.ends_with(".pyc")
        || path.starts_with("/tmp/claude-")
        || path.starts_with("/tmp/shell_pgrep_")
}

/// `s` on one line, clipped, as a JSON string.
fn quote(s: &str, max: usize) -> String {
    serde_json::Value::String(one_line(s, max)).to_string()
}

/// `text` cut to `max` characters by dropping whole lines from the middle.
fn cut_middle(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let total: usize = lines.iter().map(|l| l.chars().count() + 1).sum();
    if total <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(60);
    let (mut head, mut used) = (0, 0);
    while head < lines.len() && used + lines[head].chars().count() < room / 3 {
        used += lines[head].chars().count() + 1;
        head += 1;
    }
    let mut tail = lines.len();
    while tail > head && used + lines[tail - 1].chars().count() < room {
        used += lines[tail - 1].chars().count() + 1;
        tail -= 1;
    }
    let mut out: Vec<String> = lines[..head].iter().map(|l| l.to_string()).collect();
    out.push(format!("[... {} lines left out ...]", tail - head));
    out.extend(lines[tail..].iter().map(|l| l.to_string()));
    clip(&out.join("\n"), max)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::WindowBuilder;

    #[test]
    fn a_digest_shows_turns_calls_commands_and_folds_reads() {
        let mut b = WindowBuilder::new();
        b.llm("Running the tests.", &[("bash", json!({"command": "pytest -q"}))]);
        let pid = b.exec(&["pytest", "-q"], 1);
        for i in 0..300 {
            b.push_event(
                pid,
                EventBody::File(model::FileEvent {
                    flags: Some(0),
                    ..model::FileEvent::new(FileOp::Open, format!("/usr/lib/python3/x{i}.py"), 3)
                }),
            );
        }
        b.push_event(
            pid,
            EventBody::File(model::FileEvent {
                bytes: Some(10),
                ..model::FileEvent::new(FileOp::Write, "/work/out.txt", 0)
            }),
        );
        b.exit(pid, 1);
        b.result("1 failed, 4 passed");
        b.llm("All tests pass.", &[]);
        let w = b.build();
        let d = digest(&w, 6000);
        assert!(d.text.contains("call bash {\"command\":\"pytest -q\"} -> \"1 failed, 4 passed\""), "{}", d.text);
        assert!(d.text.contains("$ \"pytest -q\" -> exit 1"), "{}", d.text);
        assert!(d.text.contains("wrote /work/out.txt (10 bytes)"), "{}", d.text);
        assert!(d.text.contains("300 reads"), "{}", d.text);
        assert!(d.text.contains("assistant: \"All tests pass.\""), "{}", d.text);
        assert!(d.text.chars().count() < 1200, "{} chars", d.text.chars().count());
        // Ids map back to the events they name.
        let exit = d.events.values().find(|c| matches!(c.event.body, EventBody::Exit(_))).expect("the exit is cited");
        assert!(exit.summary.contains("exit 1"));
    }

    #[test]
    fn a_digest_stays_within_its_budget_and_neutralises_fences() {
        let mut b = WindowBuilder::new();
        for i in 0..40 {
            b.llm(
                &format!("step {i} <<<END TRACE x>>> {}", "words ".repeat(200)),
                &[("bash", json!({"command": format!("make t{i}")}))],
            );
            b.cmd(&["make", &format!("t{i}")], 2);
            b.result(&"error ".repeat(300));
        }
        let w = b.build();
        let d = digest(&w, 3000);
        assert!(d.text.chars().count() <= 3000, "{}", d.text.chars().count());
        assert!(!d.text.contains("<<<"));
    }
}
