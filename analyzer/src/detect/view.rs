//! A window read once into the shapes the detectors need: the LLM turns with the tool calls
//! they made and the results the following requests carried back, and the commands (each
//! `exec` paired with the `exit` of its process).
//!
//! The events read are the window's history (its context: the compacted turns before it)
//! followed by its own events; only those after the history and the overlap are new.
//!
//! Invariants: `turns`, `uses` and `commands` are in event order; a command's events are in
//! `events` (an exit whose exec is not is only counted); a command's result is `None` until
//! its exit is seen. Nothing here judges: the detectors do.

use std::collections::{HashMap, HashSet};

use model::{Event, EventBody, Link, LlmCall, ToolCall, Window};
use serde_json::Value;

use super::Counters;

/// One `llm_call` of the window.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    /// Index of the event in `View::events`.
    pub idx: usize,
    pub event: &'a Event,
    pub call: &'a LlmCall,
    /// Not part of the overlap with the window before, so it is new evidence.
    pub is_new: bool,
    /// A side call, not the agent speaking in its conversation: a request without tools when
    /// the agent's other requests offer them (a title or summary request), or a response that
    /// is a JSON object (a structured check such as Gemini's next-speaker question).
    pub side: bool,
}

/// One tool call made in a turn's response.
#[derive(Debug)]
pub(crate) struct ToolUse<'a> {
    /// Index into `View::turns`.
    pub turn: usize,
    pub call: &'a ToolCall,
    /// The arguments as canonical JSON.
    pub args: String,
    /// `name(args)`: equal keys are the same call.
    pub key: String,
    /// The tool's output, from the first later request that carries it back.
    pub result: Option<&'a str>,
}

/// One process image: an `exec` (or several by one pid, e.g. `bash -c` replaced by the
/// program it runs) and the `exit` that ended it.
#[derive(Debug)]
pub(crate) struct Command<'a> {
    /// Event indices of the execs of this pid, first to last; the last one names the command.
    pub execs: Vec<usize>,
    pub argv: &'a [String],
    /// Event index of the exit, when it is in the window.
    pub exit: Option<usize>,
    /// `(exit_code, signal)` of that exit.
    pub status: Option<(i32, u32)>,
    /// Index into `View::turns` of the turn it ran after (`None`: before the first turn).
    pub turn: Option<usize>,
    /// Index into `View::commands` of its outermost ancestor started in the same turn (itself
    /// when it is top-level): the process a tool call started.
    pub root: usize,
    /// Index into `View::uses` of the tool call that caused it, when one is known.
    pub tool_use: Option<usize>,
    /// `tool_use` comes from `Window::links` (not from the turn having one tool call).
    pub linked: bool,
}

impl Command<'_> {
    pub(crate) fn last_exec(&self) -> usize {
        self.execs.last().copied().unwrap_or_default()
    }

    /// Event index of the last thing known about it: its exit, else its last exec.
    pub(crate) fn last_idx(&self) -> usize {
        self.exit.unwrap_or_else(|| self.last_exec())
    }

    pub(crate) fn is_top(&self, own_index: usize) -> bool {
        self.root == own_index
    }

    /// Whether it failed: `None` while its exit is unknown. A signal is a failure; exit 1 of a
    /// predicate program (`grep` found nothing, `diff` found differences) is an answer, not one.
    pub(crate) fn failed(&self) -> Option<bool> {
        let (code, signal) = self.status?;
        if signal != 0 {
            return Some(true);
        }
        Some(match code {
            0 => false,
            1 => !is_predicate(effective_program(self.argv)),
            _ => true,
        })
    }

    /// `pytest -q exited 1`, `sleep 100 killed by signal 9`, `make is still running`.
    pub(crate) fn outcome_line(&self) -> String {
        let shown = display_argv(self.argv);
        match self.status {
            Some((_, signal)) if signal != 0 => format!("{shown} killed by signal {signal}"),
            Some((code, _)) => format!("{shown} exited {code}"),
            None => format!("{shown} has no exit in this window"),
        }
    }
}

/// The window, read once.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub window: &'a Window,
    /// The history, then the window's events.
    pub events: Vec<&'a Event>,
    /// Index in `events` of the first new event (after the history and the overlap).
    pub new_from: usize,
    pub turns: Vec<Turn<'a>>,
    pub uses: Vec<ToolUse<'a>>,
    pub commands: Vec<Command<'a>>,
    pub counters: Counters,
    /// Whether any turn offers tools: the agent acts through tool calls.
    offers_tools: bool,
}

impl<'a> View<'a> {
    pub(crate) fn new(window: &'a Window) -> Self {
        let history = &window.context.history;
        let events: Vec<&'a Event> = history.iter().chain(&window.events).collect();
        let new_from = history.len() + window.overlap_events;
        let mut counters = Counters::default();
        let mut turns = Vec::new();
        let mut commands: Vec<Command<'a>> = Vec::new();
        // pid -> the command whose process runs now (its exit not seen yet)
        let mut running: HashMap<u32, usize> = HashMap::new();
        // pid -> latest command of that pid, for finding parents
        let mut by_pid: HashMap<u32, usize> = HashMap::new();

        for (idx, event) in events.iter().copied().enumerate() {
            match &event.body {
                EventBody::LlmCall(call) => {
                    if call.raw.is_some() {
                        counters.undecoded_llm_calls += 1;
                    }
                    let text = call.response.text.trim();
                    let structured =
                        text.starts_with('{') && serde_json::from_str::<serde_json::Map<String, Value>>(text).is_ok();
                    turns.push(Turn { idx, event, call, is_new: idx >= new_from, side: structured });
                }
                EventBody::Exec(exec) => {
                    if let Some(&c) = running.get(&event.pid) {
                        commands[c].execs.push(idx);
                        commands[c].argv = &exec.argv;
                        continue;
                    }
                    let own = commands.len();
                    let turn = turns.len().checked_sub(1);
                    let root = by_pid
                        .get(&event.ppid)
                        .map(|&p| &commands[p])
                        .filter(|parent| parent.turn == turn)
                        .map_or(own, |parent| parent.root);
                    commands.push(Command {
                        execs: vec![idx],
                        argv: &exec.argv,
                        exit: None,
                        status: None,
                        turn,
                        root,
                        tool_use: None,
                        linked: false,
                    });
                    running.insert(event.pid, own);
                    by_pid.insert(event.pid, own);
                }
                EventBody::Exit(exit) => match running.remove(&event.pid) {
                    Some(c) => {
                        commands[c].exit = Some(idx);
                        commands[c].status = Some((exit.exit_code, exit.signal));
                    }
                    // Forks that never exec'd, or processes exec'd before the window.
                    None => counters.exits_unmatched += 1,
                },
                _ => {}
            }
        }
        counters.commands_without_exit = commands.iter().filter(|c| c.exit.is_none()).count();
        let offers_tools = turns.iter().any(|t| t.call.request.offers_tools());
        if offers_tools {
            for t in &mut turns {
                t.side |= !t.call.request.offers_tools();
            }
        }

        let uses = tool_uses(&turns, &mut counters);
        let mut links = model::windower::links(history);
        links.extend(window.links.iter().cloned());
        attach_tool_uses(&events, &links, &turns, &uses, &mut commands);
        View { window, events, new_from, turns, uses, commands, counters, offers_tools }
    }

    pub(crate) fn is_new(&self, event_idx: usize) -> bool {
        event_idx >= self.new_from
    }

    /// Whether a command is the agent's own housekeeping rather than an action it chose: in a
    /// session whose agent acts through tools, a command the record ties to no tool call
    /// (opencode's `git --git-dir …/snapshot add` after every step, a file watcher). A
    /// tool-less agent (aider) runs its commands itself, so none of them is housekeeping.
    pub(crate) fn is_housekeeping(&self, c: &Command<'_>) -> bool {
        !c.linked && !self.commands[c.root].linked && self.offers_tools
    }

    /// The argv of every exec of a command, first to last (`sh -c "npm install x"`, then
    /// `node /usr/bin/npm install x`).
    pub(crate) fn argvs<'c>(&'c self, c: &'c Command<'_>) -> impl Iterator<Item = &'a [String]> + 'c {
        c.execs.iter().filter_map(|&e| match &self.events[e].body {
            EventBody::Exec(exec) => Some(exec.argv.as_slice()),
            _ => None,
        })
    }

    /// The tool output a command produced, when the tool call that ran it is known.
    pub(crate) fn command_output(&self, c: &Command<'_>) -> Option<&'a str> {
        c.tool_use.and_then(|u| self.uses[u].result)
    }
}

/// The tool calls of every turn with their results: a call's result is the last `tool`
/// message with its id in the first later request that has one. A call without an id
/// (Gemini's) is answered by name and order: the n-th call of a name in a turn gets the n-th
/// `tool` message of that name among the messages new to the first later request that has
/// one (the messages after its last `assistant` one).
fn tool_uses<'a>(turns: &[Turn<'a>], counters: &mut Counters) -> Vec<ToolUse<'a>> {
    let by_name: Vec<HashMap<&'a str, Vec<&'a str>>> = turns
        .iter()
        .map(|t| {
            let mut map: HashMap<&'a str, Vec<&'a str>> = HashMap::new();
            for m in t.call.request.new_messages() {
                if let Some(name) = m.tool_call_id.as_deref().filter(|id| !id.is_empty()) {
                    map.entry(name).or_default().push(m.content.as_str());
                }
            }
            map
        })
        .collect();
    let results: Vec<HashMap<&'a str, &'a str>> = turns
        .iter()
        .map(|t| {
            t.call
                .request
                .messages
                .iter()
                .filter_map(|m| {
                    let id = m.tool_call_id.as_deref().filter(|id| !id.is_empty())?;
                    Some((id, m.content.as_str()))
                })
                .collect()
        })
        .collect();

    let mut uses = Vec::new();
    let mut answered: HashSet<&str> = HashSet::new();
    for (t, turn) in turns.iter().enumerate() {
        let mut nth_of_name: HashMap<&str, usize> = HashMap::new();
        for call in &turn.call.response.tool_calls {
            let result = if call.id.is_empty() {
                let nth = nth_of_name.entry(call.name.as_str()).or_default();
                *nth += 1;
                answered.insert(call.name.as_str());
                by_name[t + 1..]
                    .iter()
                    .find_map(|r| r.get(call.name.as_str()))
                    .and_then(|found| found.get(*nth - 1))
                    .copied()
            } else {
                answered.insert(call.id.as_str());
                results[t + 1..].iter().find_map(|r| r.get(call.id.as_str())).copied()
            };
            let args = canonical_json(&model::windower::clip_value(&call.arguments, CLIP_CHARS));
            let what = canonical_json(&without_remarks(&model::windower::clip_value(&call.arguments, CLIP_CHARS)));
            uses.push(ToolUse { turn: t, call, key: format!("{}({})", call.name, mask_ids(&what)), args, result });
        }
    }
    let mut unanswered: HashSet<&str> = HashSet::new();
    for r in &results {
        unanswered.extend(r.keys().filter(|id| !answered.contains(*id)));
    }
    counters.tool_results_unmatched = unanswered.len();
    uses
}

/// Ties each command to the tool call that caused it: through the links (the command or its
/// top-level ancestor), else the only tool call of the turn it ran in.
fn attach_tool_uses(
    events: &[&Event],
    links: &[Link],
    turns: &[Turn<'_>],
    uses: &[ToolUse<'_>],
    commands: &mut [Command<'_>],
) {
    // A call without an id (Gemini) is linked by its tool name (`model::windower::links`); of
    // several such calls in one turn, the first takes the links.
    let mut use_index: HashMap<(String, &str), usize> = HashMap::new();
    for (u, tu) in uses.iter().enumerate() {
        let id = if tu.call.id.is_empty() { tu.call.name.as_str() } else { tu.call.id.as_str() };
        use_index.entry((turns[tu.turn].event.id(), id)).or_insert(u);
    }
    let linked: HashMap<&str, usize> = links
        .iter()
        .filter_map(|l| {
            let u = use_index.get(&(l.llm_event.clone(), l.call_id.as_str()))?;
            Some((l.event.as_str(), *u))
        })
        .collect();
    let link_of = |c: &Command<'_>| c.execs.iter().find_map(|&e| linked.get(events[e].id().as_str()).copied());
    let found: Vec<(Option<usize>, bool)> = commands
        .iter()
        .map(|c| match link_of(c).or_else(|| link_of(&commands[c.root])) {
            Some(u) => (Some(u), true),
            None => {
                let only = c.turn.and_then(|t| {
                    let mut of_turn = uses.iter().enumerate().filter(|(_, u)| u.turn == t);
                    match (of_turn.next(), of_turn.next()) {
                        (Some((u, _)), None) => Some(u),
                        _ => None,
                    }
                });
                (only, false)
            }
        })
        .collect();
    for (c, (u, linked)) in commands.iter_mut().zip(found) {
        c.tool_use = u;
        c.linked = linked;
    }
}

/// Texts are compared up to this many characters: the history's texts are cut there (the
/// windower's default `history_chars`), so a call or result in the history equals the same one
/// in a window.
pub(crate) const CLIP_CHARS: usize = 2_000;

/// Arguments without the free text a model writes about a call (`description`, `reason`, ...):
/// two calls that do the same thing are the same call whatever they say about it.
fn without_remarks(v: &Value) -> Value {
    const REMARKS: &[&str] = &[
        "description",
        "explanation",
        "reason",
        "reasoning",
        "thought",
        "thoughts",
        "rationale",
        "why",
        "justification",
        "intent",
        "purpose",
        "comment",
        "note",
    ];
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !REMARKS.contains(&k.to_lowercase().as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ Value::Object(_)) => without_remarks(&inner),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// `text` with the parts that differ on every run of the same thing masked: names under
/// `/tmp/` as `T`, uuids, long hex runs (8+) and random-looking tokens (6+ characters with 2+
/// digits and 2+ letters, like `tmp8f3kq2` or `x7k2q9`) as `~`. Ordinary words, numbers and
/// versions stay.
pub(crate) fn mask_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut last_masked_end: Option<usize> = None;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 5)].iter().collect();
        if rest == "/tmp/" {
            out.push_str("/tmp/T");
            i += 5;
            while i < bytes.len() && !matches!(bytes[i], '/' | ' ' | '"' | '\'' | '\n' | '\\' | ',' | ';' | ')') {
                i += 1;
            }
            continue;
        }
        if bytes[i].is_ascii_alphanumeric() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let token: String = bytes[start..i].iter().collect();
            let digits = token.chars().filter(char::is_ascii_digit).count();
            let letters = token.len() - digits;
            let hex = token.chars().all(|c| c.is_ascii_hexdigit());
            let random = (token.len() >= 8 && hex && digits > 0)
                || (token.len() >= 6 && digits >= 2 && letters >= 2)
                // the 4-hex middle parts of a uuid, after a masked part and a `-`
                || (hex && last_masked_end == Some(start.saturating_sub(1)) && start > 0 && bytes[start - 1] == '-');
            if random {
                out.push('~');
                last_masked_end = Some(i);
            } else {
                out.push_str(&token);
            }
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// JSON with object keys sorted, so equal arguments give equal text whatever their order.
/// Arguments that arrived as a string holding JSON are read as that JSON.
pub(crate) fn canonical_json(v: &Value) -> String {
    if let Value::String(s) = v {
        if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(s) {
            return canonical_json(&inner);
        }
    }
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ash", "ksh", "fish"];

/// The script of `bash -c SCRIPT` (any shell, `-c` possibly combined as `-lc`), if it is one.
pub(crate) fn shell_script(argv: &[String]) -> Option<&str> {
    let program = basename(argv.first()?);
    if !SHELLS.contains(&program) {
        return None;
    }
    let is_short_opt = |a: &String| a.starts_with('-') && !a.starts_with("--");
    let c = argv[1..].iter().position(|a| is_short_opt(a) && a.contains('c'))? + 1;
    // `bash -c -l SCRIPT`: the script is the first word after `-c` that is no option.
    argv[c + 1..].iter().find(|a| !is_short_opt(a)).map(String::as_str)
}

/// The command a person would have typed: the script of a shell wrapper, else argv joined
/// (arguments with spaces quoted), on one line and cut to a readable length.
pub(crate) fn display_argv(argv: &[String]) -> String {
    let text = match shell_script(argv) {
        Some(script) => unwrapped(script).to_string(),
        None => argv
            .iter()
            .map(|a| if a.is_empty() || a.contains(char::is_whitespace) { format!("'{a}'") } else { a.clone() })
            .collect::<Vec<_>>()
            .join(" "),
    };
    one_line(&text, 120)
}

/// The agent's command inside the wrapper script an agent runs it in: Gemini CLI's
/// `shopt -u …; _bgpids_file=…\n(\n  trap '…' EXIT\nCOMMAND\n)\n__code=$?…` is COMMAND.
fn unwrapped(script: &str) -> &str {
    let inner = script
        .starts_with("shopt -u ")
        .then(|| script.split_once("' EXIT\n")?.1.rsplit_once("\n)\n__code=$?").map(|(cmd, _)| cmd.trim()))
        .flatten();
    inner.filter(|c| !c.is_empty()).unwrap_or(script)
}

/// The program whose exit status a command reports: for a shell wrapper, the first word of
/// the script's last `;`/`&&`/`||` part (`cd x && grep y` is `grep`).
pub(crate) fn effective_program(argv: &[String]) -> &str {
    match shell_script(argv) {
        Some(script) => {
            let last = script.rsplit([';', '&', '|', '\n']).find(|part| !part.trim().is_empty()).unwrap_or(script);
            last.split_whitespace().next().map_or("", basename)
        }
        None => argv.first().map_or("", |a| basename(a)),
    }
}

/// Programs whose exit 1 means "no" or "not found", not an error.
fn is_predicate(program: &str) -> bool {
    const PREDICATES: &[&str] =
        &["grep", "egrep", "fgrep", "rg", "ag", "ack", "diff", "cmp", "test", "[", "which", "pgrep"];
    PREDICATES.contains(&program)
}

pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `text` on one line (runs of whitespace as one space), cut at `max` characters with `…`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::WindowBuilder;
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn canonical_json_sorts_keys_and_reads_json_strings() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
        assert_eq!(canonical_json(&json!("{\"b\":1,\"a\":2}")), r#"{"a":2,"b":1}"#);
        assert_eq!(canonical_json(&json!("not json")), r#""not json""#);
    }

    #[test]
    fn exec_pairs_with_the_exit_of_its_pid_and_a_re_exec_is_one_command() {
        let mut b = WindowBuilder::new();
        let pid = b.exec(&["bash", "-c", "pytest -q"], 1);
        b.exec(&["ls"], 1);
        b.exec_as(pid, 1, &["pytest", "-q"]);
        b.exit(pid, 2);
        b.exit(999, 0);
        let w = b.build();
        let v = View::new(&w);
        assert_eq!(v.commands.len(), 2);
        let pytest = &v.commands[0];
        assert_eq!(pytest.argv, argv(&["pytest", "-q"]).as_slice());
        assert_eq!(pytest.execs.len(), 2);
        assert_eq!(pytest.status, Some((2, 0)));
        assert_eq!(v.commands[1].status, None, "ls never exited");
        assert_eq!(v.counters.exits_unmatched, 1);
        assert_eq!(v.counters.commands_without_exit, 1);
    }

    #[test]
    fn children_in_the_same_turn_share_their_top_level_root() {
        let mut b = WindowBuilder::new();
        b.llm("", &[("bash", json!({"command": "make"}))]);
        let shell = b.exec(&["bash", "-c", "make"], 1);
        let make = b.exec(&["make"], shell);
        b.exec(&["cc", "-c", "a.c"], make);
        b.llm("", &[]);
        b.exec(&["cc", "-c", "a.c"], make);
        let w = b.build();
        let v = View::new(&w);
        let roots: Vec<usize> = v.commands.iter().map(|c| c.root).collect();
        assert_eq!(roots, vec![0, 0, 0, 3], "a later turn starts a new tree");
        assert_eq!(v.commands[2].tool_use, Some(0), "the turn's only tool call");
        assert_eq!(v.commands[3].tool_use, None, "the second turn made no tool call");
    }

    #[test]
    fn tool_results_come_from_the_first_later_request() {
        let mut b = WindowBuilder::new();
        b.llm("", &[("read", json!({"path": "a"})), ("read", json!({"path": "b"}))]);
        b.result("A");
        b.llm("", &[("read", json!({"path": "a"}))]);
        b.result("B");
        b.result("A2");
        b.llm("", &[]);
        b.orphan_result("old", "from an earlier window");
        b.llm("", &[("read", json!({"path": "c"}))]);
        let w = b.build();
        let v = View::new(&w);
        let results: Vec<Option<&str>> = v.uses.iter().map(|u| u.result).collect();
        assert_eq!(results, vec![Some("A"), Some("B"), Some("A2"), None]);
        assert_eq!(v.uses[0].key, r#"read({"path":"a"})"#);
        assert_eq!(v.counters.tool_results_unmatched, 1);
    }

    #[test]
    fn links_tie_commands_to_their_tool_call() {
        let mut b = WindowBuilder::new();
        b.llm("", &[("bash", json!({"command": "ls"})), ("bash", json!({"command": "pwd"}))]);
        let pwd = b.exec(&["pwd"], 1);
        b.link_last_exec(1);
        b.exit(pwd, 0);
        b.exec(&["ls"], 1);
        let w = b.build();
        let v = View::new(&w);
        assert_eq!((v.commands[0].tool_use, v.commands[0].linked), (Some(1), true));
        assert_eq!(v.commands[1].tool_use, None, "two tool calls and no link: unknown");
    }

    #[test]
    fn failure_reads_signals_and_predicate_programs() {
        let mut b = WindowBuilder::new();
        b.cmd(&["grep", "x", "f"], 1);
        b.cmd(&["bash", "-lc", "cd /x && grep -r y ."], 1);
        b.cmd(&["grep", "x", "f"], 2);
        b.cmd(&["cargo", "build"], 101);
        let pid = b.exec(&["sleep", "9"], 1);
        b.kill(pid, 9);
        let w = b.build();
        let v = View::new(&w);
        let failed: Vec<Option<bool>> = v.commands.iter().map(Command::failed).collect();
        assert_eq!(failed, vec![Some(false), Some(false), Some(true), Some(true), Some(true)]);
        assert_eq!(v.commands[4].outcome_line(), "sleep 9 killed by signal 9");
        assert_eq!(v.commands[1].outcome_line(), "cd /x && grep -r y . exited 1");
    }

    #[test]
    fn display_shows_the_command_inside_gemini_clis_wrapper() {
        let script = "shopt -u promptvars nullglob extglob nocaseglob dotglob; _bgpids_file=/tmp/gemini-shell-jran6u/bgpids.tmp\n(\n  trap 'jobs -p > \"$_bgpids_file\"' EXIT\ngit push -q origin HEAD\n)\n__code=$?\nexit $__code";
        assert_eq!(display_argv(&argv(&["/usr/bin/bash", "-c", script])), "git push -q origin HEAD");
        assert_eq!(display_argv(&argv(&["bash", "-c", "shopt -u x; ls"])), "shopt -u x; ls");
    }

    #[test]
    fn display_quotes_and_cuts() {
        assert_eq!(display_argv(&argv(&["echo", "a b", ""])), "echo 'a b' ''");
        let long = "x".repeat(300);
        assert_eq!(display_argv(&argv(&["echo", &long])).chars().count(), 120);
        assert_eq!(effective_program(&argv(&["/usr/bin/rg", "x"])), "rg");
    }
}
