//! A session as a person reads it: the conversation by turn, with what each tool call caused
//! nested under it, and one rollup line per session.
//!
//! A turn is one `llm_call` and the events until the next one (the windower's turn); events
//! before the first `llm_call` are turn 0 without a call (the agent starting). Under each tool
//! call of a turn's response come the commands, file changes and connections it caused: the
//! events a [`Link`] names (from `model::windower::links`), and every later event of the turn by
//! a process such an exec started, or by its descendants. The rest of the turn is `uncaused`.
//! Noise ([`is_noise`]: read-only opens of libraries and system files, failed lookups, caches)
//! is folded into a count per turn, its events listed only on request.
//!
//! Invariants: every event of the session is in exactly one turn and counted once in that
//! turn's `kinds`; a command is shown once, in the turn of its first exec, with the exit of its
//! process (wherever that exit is); a finding is pinned to every turn holding an event it
//! cites. Pure and synchronous: the service loads the events, this reads them. Building a page
//! costs one pass over the session's events plus the page's own turns, so paging through a
//! 1,000-turn session stays cheap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::{Event, EventBody, FileEvent, FileOp, Finding, Link, LlmCall};
use serde::Serialize;

use crate::detect::view::{basename, canonical_json, display_argv, one_line};
use crate::tree::ProcessTree;

/// Turns in a page when the client does not say.
pub const DEFAULT_TURNS: usize = 50;
/// Turns in a page at most.
pub const MAX_TURNS: usize = 500;

const USER_CHARS: usize = 8_000;
const ASSISTANT_CHARS: usize = 16_000;
const ARGUMENT_CHARS: usize = 4_000;
const RESULT_CHARS: usize = 4_000;

/// Which turns to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub turn_from: usize,
    /// Start at the turn holding this event instead (when the session has it).
    pub at_event: Option<String>,
    /// Turns in the page (capped at [`MAX_TURNS`]).
    pub turns: usize,
    /// List each turn's folded noise events.
    pub noise: bool,
}

impl Default for Page {
    fn default() -> Self {
        Page { turn_from: 0, at_event: None, turns: DEFAULT_TURNS, noise: false }
    }
}

/// One page of a session's turns.
#[derive(Debug, Clone, Serialize)]
pub struct TurnPage {
    pub total_turns: usize,
    pub turn_from: usize,
    pub turns: Vec<TurnView>,
    /// Where the next page starts, when there is one.
    pub next_turn_from: Option<usize>,
    /// Each finding's turns (those holding an event it cites), for findings on any page.
    pub finding_turns: BTreeMap<String, Vec<usize>>,
    /// Findings that cite no event of the session (their evidence was in a window's history).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpinned_findings: Vec<String>,
    /// Event counts by kind over the whole session.
    pub kinds: BTreeMap<&'static str, usize>,
    /// The process tree, with the first page only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_tree: Option<TreeView>,
}

/// One turn.
#[derive(Debug, Clone, Serialize)]
pub struct TurnView {
    pub index: usize,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The `llm_call` that opens it (none for turn 0 when the session starts without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmView>,
    pub tool_calls: Vec<ToolCallView>,
    /// What happened in the turn that no tool call caused.
    pub uncaused: Actions,
    /// Events folded as noise (see [`is_noise`]).
    pub noise: usize,
    /// Those events, when the page was asked for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_events: Option<Vec<Action>>,
    /// Event counts by kind in the turn, noise included.
    pub kinds: BTreeMap<&'static str, usize>,
    pub findings: Vec<Pin>,
}

/// The model exchange that opens a turn.
#[derive(Debug, Clone, Serialize)]
pub struct LlmView {
    pub event: String,
    pub pid: u32,
    pub provider: String,
    pub api: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What the user said new in this request (messages after the last assistant one that are
    /// not tool results), each cut at a cap.
    pub user: Vec<String>,
    pub assistant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    pub status: u16,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// A tool call of a turn's response and what it caused.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallView {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, cut at a cap.
    pub arguments: String,
    /// Its output, from the later request that carried it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub caused: Actions,
}

/// What a tool call (or nothing) caused in a turn.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actions {
    pub commands: Vec<CommandView>,
    pub files: Vec<Action>,
    /// Connections and other HTTPS exchanges.
    pub connections: Vec<Action>,
    /// Losses and anything else.
    pub other: Vec<Action>,
}

/// A process image: its exec (or execs, as `bash -c` becomes the program it runs) and exit.
#[derive(Debug, Clone, Serialize)]
pub struct CommandView {
    /// The first exec's id.
    pub event: String,
    pub ts_ns: u64,
    pub pid: u32,
    pub ppid: u32,
    /// What a person would have typed (the last exec, a shell's script unwrapped), one line.
    pub command: String,
    pub argv: Vec<String>,
    /// Every exec's id, first to last.
    pub execs: Vec<String>,
    /// 0 for a command a tool call (or nothing) started, 1 for its child, ...
    pub depth: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    /// It exited with a code other than 0 (or was killed).
    pub failed: bool,
}

/// Any other event, on one line.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub event: String,
    pub ts_ns: u64,
    pub pid: u32,
    pub comm: String,
    pub kind: &'static str,
    pub text: String,
    pub failed: bool,
}

/// A finding pinned to a turn.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub finding_id: String,
    pub kind: String,
    pub detector: String,
    pub score: f64,
    pub rationale: String,
    /// The events of this turn it cites.
    pub events: Vec<String>,
}

/// The process tree as JSON: nodes in order of first sighting, children as node indices.
#[derive(Debug, Clone, Serialize)]
pub struct TreeView {
    pub roots: Vec<usize>,
    pub nodes: Vec<TreeNode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeNode {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// Its last exec, as [`CommandView::command`]; empty when it never exec'd in the trace.
    pub command: String,
    pub execs: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    pub children: Vec<usize>,
}

impl TreeView {
    pub fn of(tree: &ProcessTree) -> Self {
        let nodes = tree
            .nodes()
            .iter()
            .map(|n| TreeNode {
                pid: n.pid,
                ppid: n.ppid,
                comm: n.comm.clone(),
                command: if n.argv.is_empty() { String::new() } else { display_argv(&n.argv) },
                execs: n.execs,
                exit_code: n.exit_code,
                duration_ns: n.duration_ns,
                children: n.children.clone(),
            })
            .collect();
        TreeView { roots: tree.root_indices().collect(), nodes }
    }
}

/// A session in one line: who ran, with which models, at what cost, how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rollup {
    /// A short name for the agent (`claude`, `gemini`, `python3 agent.py`), from the root
    /// process's command line; served as the session's `agent`.
    #[serde(skip)]
    pub agent: Option<String>,
    /// The root process's command line, on one line and cut.
    pub command: Option<String>,
    pub models: Vec<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub turns: usize,
    /// From the first event to the last.
    pub duration_ns: u64,
    /// The root process's exit code, once it exited.
    pub exit_code: Option<i32>,
    /// Commands that tool calls started (children not counted).
    pub commands: usize,
    /// Those that exited with a code other than 0.
    pub failed_commands: usize,
    pub findings_by_kind: BTreeMap<String, usize>,
    /// A `loss` event says TLS plaintext was not captured for some process: its LLM calls
    /// (if any) are missing.
    pub tls_not_captured: bool,
    /// Records lost, `loss` counts summed.
    pub events_lost: u64,
}

/// Whether an event says nothing a reviewer needs: a read-only open of a library, an
/// interpreter's module, a system or runtime file (`/usr`, `/lib`, `/etc`, `/proc`, `/sys`,
/// `/dev`, `/run`, locale); any read-only open that failed (the lookups programs make along
/// search paths); any open of a terminal or of `/dev/null` (a shell's redirections); anything
/// done to a cache (`__pycache__`, `.pyc`, `.cache`). Writes and successful opens of the
/// project are never noise.
///
/// The live view of `record` folds system reads by the same rule.
pub fn is_noise(ev: &Event) -> bool {
    let EventBody::File(f) = &ev.body else { return false };
    (is_read_only_open(f) && (f.result < 0 || is_system_path(&f.path)))
        || (f.op == FileOp::Open && is_standard_device(&f.path))
        || is_cache(&f.path)
}

/// The devices every shell opens: terminals, `/dev/null`, the standard streams.
fn is_standard_device(path: &str) -> bool {
    const DEVICES: &[&str] = &[
        "/dev/null",
        "/dev/tty",
        "/dev/zero",
        "/dev/urandom",
        "/dev/random",
        "/dev/full",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ];
    DEVICES.contains(&path) || path.starts_with("/dev/pts/") || path.starts_with("/dev/fd/")
}

/// An open that neither writes (`O_WRONLY`, `O_RDWR`) nor creates (`O_CREAT`).
fn is_read_only_open(f: &FileEvent) -> bool {
    const O_ACCMODE: u32 = 3;
    const O_CREAT: u32 = 0o100;
    f.op == FileOp::Open && f.flags.is_some_and(|fl| fl & O_ACCMODE == 0 && fl & O_CREAT == 0)
}

/// System files and installed libraries: what every program reads on its way.
fn is_system_path(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/usr/",
        "/lib/",
        "/lib64/",
        "/etc/",
        "/proc/",
        "/sys/",
        "/dev/",
        "/run/",
        "/var/lib/",
        "/nix/",
        "/snap/",
        "/opt/",
    ];
    const PARTS: &[&str] = &[
        "/node_modules/",
        "/site-packages/",
        "/dist-packages/",
        "/.pyenv/",
        "/.nvm/",
        "/.rustup/",
        "/.cargo/registry/",
        "/.bun/install/",
        "/.venv/lib/",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || PARTS.iter().any(|p| path.contains(p))
}

/// Bytecode and tool caches, written and read wherever programs run.
fn is_cache(path: &str) -> bool {
    const PARTS: &[&str] =
        &["/__pycache__/", "/.pytest_cache/", "/.mypy_cache/", "/.ruff_cache/", "/.cache/", "/node_modules/.cache/"];
    let dir = format!("{path}/");
    PARTS.iter().any(|p| dir.contains(p)) || path.ends_with(".pyc")
}

/// A short, readable name for an agent from its command line: the program's name, and for
/// an interpreter (`python3`, `node`, `env`, a shell) the script it runs, named after the
/// agent package when it is one (`node …/@anthropic-ai/claude-code/cli.js` is `claude`).
pub fn agent_name(argv: &[String]) -> Option<String> {
    const INTERPRETERS: &[&str] = &[
        "python", "node", "bun", "deno", "ruby", "perl", "sh", "bash", "zsh", "dash", "npx", "uv", "uvx", "pipx", "tsx",
    ];
    const AGENTS: &[(&str, &str)] = &[
        ("claude-code", "claude"),
        ("gemini-cli", "gemini"),
        ("@openai/codex", "codex"),
        ("opencode", "opencode"),
        ("aider", "aider"),
    ];
    // `env [-i] [VAR=value]... program args`
    let mut args = argv.iter().map(String::as_str).peekable();
    if args.peek().is_some_and(|a| basename(a) == "env") {
        args.next();
        while args.peek().is_some_and(|a| a.starts_with('-') || a.contains('=')) {
            args.next();
        }
    }
    let program = basename(args.next()?);
    if program.is_empty() {
        return None;
    }
    let is_interpreter = INTERPRETERS
        .iter()
        .any(|i| program.strip_prefix(i).is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.')));
    if !is_interpreter {
        return Some(one_line(program, 40));
    }
    let mut script = None;
    while let Some(a) = args.next() {
        if a == "-m" || a == "-c" {
            script = args.next().filter(|_| a == "-m");
            break;
        }
        if !a.starts_with('-') {
            script = Some(a);
            break;
        }
    }
    let Some(script) = script else { return Some(program.to_string()) };
    if let Some((_, agent)) = AGENTS.iter().find(|(package, _)| script.contains(package)) {
        return Some((*agent).to_string());
    }
    Some(one_line(&format!("{program} {}", basename(script)), 40))
}

/// The session's events read once: turns, ids, causes and commands.
struct Prepared<'a> {
    events: &'a [Event],
    ids: Vec<String>,
    /// Index of each turn's first event; turn `k` is `starts[k]..starts[k + 1]`.
    starts: Vec<usize>,
    /// The tool call (index in its turn's response) that caused each event.
    owner: Vec<Option<usize>>,
    /// Commands by their first exec's index.
    commands: BTreeMap<usize, Command>,
    /// For an exec that is not a command's first: the command it belongs to.
    exec_of: HashMap<usize, usize>,
}

#[derive(Debug, Default)]
struct Command {
    execs: Vec<usize>,
    exit: Option<usize>,
    depth: u32,
}

impl<'a> Prepared<'a> {
    fn new(events: &'a [Event], links: &[Link]) -> Self {
        let ids: Vec<String> = events.iter().map(Event::id).collect();
        let mut starts: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.body, EventBody::LlmCall(_)))
            .map(|(i, _)| i)
            .collect();
        if starts.first() != Some(&0) && !events.is_empty() {
            starts.insert(0, 0);
        }

        // Commands: an exec opens one for its pid unless one is open; the pid's exit closes it.
        let mut commands: BTreeMap<usize, Command> = BTreeMap::new();
        let mut exec_of = HashMap::new();
        let mut open: HashMap<u32, usize> = HashMap::new();
        for (i, ev) in events.iter().enumerate() {
            match &ev.body {
                EventBody::Exec(_) => match open.get(&ev.pid) {
                    Some(&first) => {
                        exec_of.insert(i, first);
                        if let Some(c) = commands.get_mut(&first) {
                            c.execs.push(i);
                        }
                    }
                    None => {
                        open.insert(ev.pid, i);
                        commands.insert(i, Command { execs: vec![i], ..Command::default() });
                    }
                },
                EventBody::Exit(_) => {
                    if let Some(first) = open.remove(&ev.pid) {
                        if let Some(c) = commands.get_mut(&first) {
                            c.exit = Some(i);
                        }
                    }
                }
                _ => {}
            }
        }

        // Causes, turn by turn: linked events, then whatever the processes they started do.
        let linked: HashMap<(&str, &str), &str> =
            links.iter().map(|l| ((l.event.as_str(), l.llm_event.as_str()), l.call_id.as_str())).collect();
        let mut owner = vec![None; events.len()];
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(events.len());
            let EventBody::LlmCall(call) = &events[start].body else { continue };
            let llm_id = ids[start].as_str();
            let tool_of = |i: usize| {
                let call_id = linked.get(&(ids[i].as_str(), llm_id))?;
                call.response.tool_calls.iter().position(|c| c.id == *call_id || c.name == *call_id)
            };
            let mut owned: HashMap<u32, (usize, u32)> = HashMap::new(); // pid -> (tool, depth)
            for i in start + 1..end {
                let ev = &events[i];
                let inherited = owned
                    .get(&ev.pid)
                    .or_else(|| owned.get(&ev.ppid).filter(|_| matches!(ev.body, EventBody::Exec(_))));
                let by_link = tool_of(i);
                owner[i] = by_link.or(inherited.map(|o| o.0));
                match &ev.body {
                    EventBody::Exec(_) => {
                        let depth = match (owned.get(&ev.pid), owned.get(&ev.ppid)) {
                            (Some(&(_, d)), _) => d,
                            (None, Some(&(_, d))) => d + 1,
                            (None, None) => 0,
                        };
                        if let Some(tool) = owner[i] {
                            owned.insert(ev.pid, (tool, depth));
                            if let Some(c) = commands.get_mut(&i) {
                                c.depth = depth;
                            }
                        }
                    }
                    EventBody::Fork(f) => {
                        if let Some(&(tool, depth)) = owned.get(&ev.pid) {
                            owned.insert(f.child_pid, (tool, depth + 1));
                        }
                    }
                    _ => {}
                }
            }
        }
        // A command belongs to its first exec's tool call, or to the first of its later execs
        // that a link names (`bash -c` unlinked, the program it becomes linked).
        for (&first, c) in &commands {
            if owner[first].is_none() {
                if let Some(tool) = c.execs.iter().find_map(|&e| owner[e].filter(|_| same_turn(&starts, first, e))) {
                    owner[first] = Some(tool);
                }
            }
        }
        Prepared { events, ids, starts, owner, commands, exec_of }
    }

    fn turns(&self) -> usize {
        self.starts.len()
    }

    fn range(&self, k: usize) -> std::ops::Range<usize> {
        self.starts[k]..self.starts.get(k + 1).copied().unwrap_or(self.events.len())
    }

    fn turn_of(&self, i: usize) -> usize {
        self.starts.partition_point(|&s| s <= i).saturating_sub(1)
    }

    fn llm(&self, k: usize) -> Option<&'a LlmCall> {
        match &self.events.get(self.starts[k])?.body {
            EventBody::LlmCall(c) => Some(c),
            _ => None,
        }
    }

    fn command(&self, first: usize, c: &Command) -> CommandView {
        let ev = &self.events[first];
        let last = &self.events[c.execs.last().copied().unwrap_or(first)];
        let argv = match &last.body {
            EventBody::Exec(e) => e.argv.clone(),
            _ => Vec::new(),
        };
        let exit = c.exit.and_then(|x| match &self.events[x].body {
            EventBody::Exit(e) => Some((x, e)),
            _ => None,
        });
        CommandView {
            event: self.ids[first].clone(),
            ts_ns: ev.ts_ns,
            pid: ev.pid,
            ppid: ev.ppid,
            command: display_argv(&argv),
            argv,
            execs: c.execs.iter().map(|&e| self.ids[e].clone()).collect(),
            depth: c.depth,
            exit_code: exit.map(|(_, e)| e.exit_code),
            signal: exit.map(|(_, e)| e.signal).filter(|&s| s != 0),
            exit_event: exit.map(|(x, _)| self.ids[x].clone()),
            duration_ns: exit.map(|(_, e)| e.duration_ns),
            failed: exit.is_some_and(|(_, e)| e.exit_code != 0 || e.signal != 0),
        }
    }

    fn action(&self, i: usize) -> Action {
        let ev = &self.events[i];
        let (text, failed) = describe(&ev.body);
        Action {
            event: self.ids[i].clone(),
            ts_ns: ev.ts_ns,
            pid: ev.pid,
            comm: ev.comm.clone(),
            kind: ev.body.kind(),
            text,
            failed,
        }
    }

    /// Puts event `i` where it shows: a command, a file, a connection, or nothing (forks,
    /// exits and later execs show through their command).
    fn place(&self, i: usize, into: &mut Actions) {
        match &self.events[i].body {
            EventBody::Exec(_) => {
                if let Some(c) = self.commands.get(&i) {
                    into.commands.push(self.command(i, c));
                }
            }
            EventBody::Fork(_) | EventBody::Exit(_) | EventBody::LlmCall(_) => {}
            EventBody::File(_) => into.files.push(self.action(i)),
            EventBody::Connect(_) | EventBody::Http(_) => into.connections.push(self.action(i)),
            EventBody::Loss(_) => into.other.push(self.action(i)),
        }
    }
}

fn same_turn(starts: &[usize], a: usize, b: usize) -> bool {
    starts.partition_point(|&s| s <= a) == starts.partition_point(|&s| s <= b)
}

/// One line for an event that is not a command, and whether it failed.
fn describe(body: &EventBody) -> (String, bool) {
    match body {
        EventBody::File(f) => {
            let path = one_line(&f.path, 300);
            let what = match f.op {
                FileOp::Open if is_read_only_open(f) => format!("read {path}"),
                FileOp::Open => format!("open {path} {}", f.flags_text.as_deref().unwrap_or("")).trim_end().to_string(),
                FileOp::Write => format!("wrote {path} ({} bytes)", f.bytes.unwrap_or(0)),
                FileOp::Unlink => format!("deleted {path}"),
                FileOp::Rmdir => format!("removed the directory {path}"),
                FileOp::Mkdir => format!("created the directory {path}"),
                FileOp::Rename => format!("renamed {path} → {}", one_line(f.new_path.as_deref().unwrap_or("?"), 300)),
            };
            match (&f.error, f.result < 0) {
                (Some(e), _) => (format!("{what} = {e}"), true),
                (None, true) => (format!("{what} = {}", f.result), true),
                _ => (what, false),
            }
        }
        EventBody::Connect(c) => {
            let target = match c.family.as_str() {
                "inet6" => format!("[{}]:{}", c.addr, c.port),
                "unix" => c.addr.clone(),
                _ => format!("{}:{}", c.addr, c.port),
            };
            // EINPROGRESS is a non-blocking connect under way, not a failure.
            let failed = c.result < 0 && c.result != -115;
            match (&c.error, failed) {
                (Some(e), true) => (format!("connect {target} = {e}"), true),
                _ => (format!("connect {target}"), failed),
            }
        }
        EventBody::Http(h) => (
            format!("{} {}{} → {} ({} bytes)", h.method, h.host, one_line(&h.path, 200), h.status, h.response_bytes),
            h.status == 0 || h.status >= 400,
        ),
        EventBody::Loss(l) => (format!("{} lost ({}): {}", l.count, l.source, l.reason), true),
        EventBody::LlmCall(c) => (format!("{} {}", c.provider, c.model.as_deref().unwrap_or("?")), c.status >= 400),
        EventBody::Exec(e) => (display_argv(&e.argv), false),
        EventBody::Fork(f) => (format!("fork {}", f.child_pid), false),
        EventBody::Exit(x) => (format!("exit {}", x.exit_code), x.exit_code != 0),
    }
}

/// `text` cut at `max` characters with a note of how much was left out.
fn clip(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push_str(&format!("… [{} more characters]", total - max));
    cut
}

/// One page of the session's turns. `events` in time order; `links` and `findings` as the
/// windows and detectors made them.
pub fn page(events: &[Event], links: &[Link], findings: &[Finding], page: Page) -> TurnPage {
    let p = Prepared::new(events, links);
    let total = p.turns();
    let at = page.at_event.as_deref().and_then(|id| p.ids.iter().position(|i| i == id)).map(|i| p.turn_of(i));
    let from = at.unwrap_or(page.turn_from).min(total);
    let to = from.saturating_add(page.turns.min(MAX_TURNS)).min(total);

    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for ev in events {
        *kinds.entry(ev.body.kind()).or_default() += 1;
    }

    // Findings by turn.
    let index_of: HashMap<&str, usize> = p.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut finding_turns = BTreeMap::new();
    let mut pins: BTreeMap<usize, Vec<Pin>> = BTreeMap::new();
    let mut unpinned_findings = Vec::new();
    for f in findings {
        let mut by_turn: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for e in &f.evidence {
            if let Some(&i) = index_of.get(e.event.as_str()) {
                by_turn.entry(p.turn_of(i)).or_default().push(e.event.clone());
            }
        }
        if by_turn.is_empty() {
            unpinned_findings.push(f.finding_id.clone());
            continue;
        }
        finding_turns.insert(f.finding_id.clone(), by_turn.keys().copied().collect());
        for (turn, cited) in by_turn.into_iter().filter(|(t, _)| (from..to).contains(t)) {
            pins.entry(turn).or_default().push(Pin {
                finding_id: f.finding_id.clone(),
                kind: f.kind.to_string(),
                detector: f.detector.clone(),
                score: f.score,
                rationale: one_line(&f.rationale, 400),
                events: cited,
            });
        }
    }

    let results = tool_results(&p, to);
    let turns = (from..to).map(|k| turn(&p, k, &results, pins.remove(&k).unwrap_or_default(), page.noise)).collect();
    TurnPage {
        total_turns: total,
        turn_from: from,
        turns,
        next_turn_from: (to < total).then_some(to),
        finding_turns,
        unpinned_findings,
        kinds,
        process_tree: (from == 0).then(|| TreeView::of(&ProcessTree::from_events(events))),
    }
}

/// Tool results by call id (first answer kept), from the requests up to a few turns after
/// turn `upto`: a call is answered by the next request, or soon after for background tools.
fn tool_results<'a>(p: &Prepared<'a>, upto: usize) -> HashMap<&'a str, &'a str> {
    let mut out = HashMap::new();
    for call in (0..p.turns().min(upto.saturating_add(8))).filter_map(|k| p.llm(k)) {
        for m in call.request.new_messages() {
            if let Some(id) = &m.tool_call_id {
                out.entry(id.as_str()).or_insert(m.content.as_str());
            }
        }
    }
    out
}

fn turn(p: &Prepared<'_>, k: usize, results: &HashMap<&str, &str>, findings: Vec<Pin>, with_noise: bool) -> TurnView {
    let range = p.range(k);
    let (start_ns, end_ns) = (p.events[range.start].ts_ns, p.events[range.end - 1].ts_ns);
    let llm = p.llm(k);
    let mut tool_calls: Vec<ToolCallView> = llm
        .map(|c| {
            c.response
                .tool_calls
                .iter()
                .map(|t| ToolCallView {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    arguments: clip(&canonical_json(&t.arguments), ARGUMENT_CHARS),
                    result: results.get(t.id.as_str()).filter(|_| !t.id.is_empty()).map(|r| clip(r, RESULT_CHARS)),
                    caused: Actions::default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut uncaused = Actions::default();
    let mut noise = 0;
    let mut noise_events = with_noise.then(Vec::new);
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for i in range.clone() {
        let ev = &p.events[i];
        *kinds.entry(ev.body.kind()).or_default() += 1;
        if i == range.start && llm.is_some() {
            continue;
        }
        if is_noise(ev) {
            noise += 1;
            if let Some(list) = noise_events.as_mut() {
                list.push(p.action(i));
            }
            continue;
        }
        if p.exec_of.contains_key(&i) {
            continue; // shown with its command
        }
        let into = match p.owner[i].and_then(|t| tool_calls.get_mut(t)) {
            Some(call) => &mut call.caused,
            None => &mut uncaused,
        };
        p.place(i, into);
    }
    let llm = llm.map(|c| {
        let ev = &p.events[range.start];
        LlmView {
            event: p.ids[range.start].clone(),
            pid: ev.pid,
            provider: c.provider.clone(),
            api: c.api.clone(),
            model: c.model.clone(),
            user: c
                .request
                .new_messages()
                .iter()
                .filter(|m| m.role == "user" && m.tool_call_id.is_none() && !m.content.trim().is_empty())
                .map(|m| clip(&m.content, USER_CHARS))
                .collect(),
            assistant: clip(&c.response.text, ASSISTANT_CHARS),
            input_tokens: c.usage.map(|u| u.input_tokens),
            output_tokens: c.usage.map(|u| u.output_tokens),
            status: c.status,
            latency_ms: c.latency_ms,
            stop_reason: c.response.stop_reason.clone(),
            error: c.response.error.clone(),
            incomplete: c.incomplete,
        }
    });
    TurnView { index: k, start_ns, end_ns, llm, tool_calls, uncaused, noise, noise_events, kinds, findings }
}

/// The session's rollup.
pub fn rollup(events: &[Event], links: &[Link], findings: &[Finding]) -> Rollup {
    let p = Prepared::new(events, links);
    let mut r = Rollup { turns: p.turns(), ..Rollup::default() };
    let mut models = BTreeSet::new();
    for ev in events {
        match &ev.body {
            EventBody::LlmCall(c) => {
                if let Some(m) = &c.model {
                    models.insert(m.clone());
                }
                if let Some(u) = c.usage {
                    r.input_tokens += u.input_tokens;
                    r.output_tokens += u.output_tokens;
                }
            }
            EventBody::Loss(l) => {
                r.events_lost += l.count;
                r.tls_not_captured |=
                    l.source == "tls" || (l.reason.contains("TLS") && l.reason.contains("not captured"));
            }
            _ => {}
        }
    }
    r.models = models.into_iter().collect();
    if let (Some(first), Some(last)) = (events.iter().map(|e| e.ts_ns).min(), events.iter().map(|e| e.ts_ns).max()) {
        r.duration_ns = last - first;
    }
    for (&first, c) in &p.commands {
        if p.owner[first].is_some() && c.depth == 0 {
            r.commands += 1;
            let failed = c
                .exit
                .is_some_and(|x| matches!(&events[x].body, EventBody::Exit(e) if e.exit_code != 0 || e.signal != 0));
            r.failed_commands += usize::from(failed);
        }
    }
    for f in findings {
        *r.findings_by_kind.entry(f.kind.to_string()).or_default() += 1;
    }
    let tree = ProcessTree::from_events(events);
    if let Some(root) = tree.roots().find(|n| n.execs > 0) {
        r.agent = agent_name(&root.argv);
        r.command = Some(display_argv(&root.argv));
        r.exit_code = root.exit_code;
    }
    r
}

#[cfg(test)]
mod tests {
    use model::{Evidence, FileEvent, Fork, Loss, Usage};
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::WindowBuilder;

    fn file(op: FileOp, path: &str, flags: Option<u32>, result: i64) -> EventBody {
        EventBody::File(FileEvent { flags, ..FileEvent::new(op, path, result) })
    }

    fn finding(id: &str, kind: &str, cited: &[&Event]) -> Finding {
        Finding {
            finding_id: id.into(),
            session: "s1".into(),
            window_id: "s1:1".into(),
            kind: kind.parse().expect("a finding kind"),
            score: 0.9,
            detector: "exact_repeat".into(),
            detectors: Vec::new(),
            rationale: "the same failing command, again".into(),
            evidence: cited.iter().map(|e| Evidence::of(e, "x")).collect(),
            judge: None,
            ts_ns: 0,
        }
    }

    /// Two turns: the first runs `bash -c 'pytest -q'` (which forks pytest, which writes a
    /// report and reads libraries), then writes a file through a second call; the second
    /// turn answers.
    fn two_turns() -> WindowBuilder {
        let mut b = WindowBuilder::new();
        b.exec_as(10, 1, &["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"]);
        b.push_event(10, file(FileOp::Open, "/usr/lib/libssl.so.3", Some(0), 3));
        b.llm(
            "I will run the tests.",
            &[("Bash", json!({"command": "pytest -q"})), ("Write", json!({"file_path": "/work/notes.md"}))],
        );
        let sh = b.exec(&["bash", "-c", "pytest -q"], 10);
        b.link_last_exec(0);
        b.push_event(sh, EventBody::Fork(Fork { child_pid: 500 }));
        b.exec_as(500, sh, &["pytest", "-q"]);
        b.push_event(500, file(FileOp::Open, "/usr/lib/python3.12/os.py", Some(0), 3));
        b.push_event(500, file(FileOp::Open, "/work/__pycache__/t.cpython-312.pyc", Some(0o1101), 4));
        b.push_event(500, file(FileOp::Write, "/work/report.xml", None, 0));
        b.exit(500, 1);
        b.exit(sh, 1);
        b.push_event(10, file(FileOp::Write, "/work/notes.md", None, 0));
        b.push_event(77, file(FileOp::Unlink, "/tmp/other", None, 0));
        b.result("1 failed").result("written");
        b.llm("One test fails.", &[]);
        b.exit(10, 0);
        b
    }

    fn links_of(b: &WindowBuilder) -> (Vec<Event>, Vec<Link>) {
        let w = b.build();
        let mut links = w.links.clone();
        // The write of notes.md matches the Write call by path, as the windower links it.
        links.extend(model::windower::links(&w.events).into_iter().filter(|l| l.by == "path"));
        (w.events, links)
    }

    #[test]
    fn a_tool_call_holds_the_commands_and_files_it_caused() {
        let (events, links) = links_of(&two_turns());
        let page = page(&events, &links, &[], Page::default());
        assert_eq!(page.total_turns, 3, "start-up, then two llm calls");
        let t = &page.turns[1];
        let llm = t.llm.as_ref().expect("turn 1 is an llm call");
        assert_eq!(llm.user, ["fix the failing tests"]);
        assert_eq!(llm.assistant, "I will run the tests.");
        let bash = &t.tool_calls[0];
        assert_eq!(bash.result.as_deref(), Some("1 failed"), "the result comes from the next request");
        let commands: Vec<(&str, Option<i32>, u32)> =
            bash.caused.commands.iter().map(|c| (c.command.as_str(), c.exit_code, c.depth)).collect();
        assert_eq!(commands, [("pytest -q", Some(1), 0), ("pytest -q", Some(1), 1)]);
        assert!(bash.caused.commands.iter().all(|c| c.failed));
        let files: Vec<&str> = bash.caused.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            files,
            ["wrote /work/report.xml (0 bytes)"],
            "the child's write is the call's; library reads are noise"
        );
        let write: Vec<&str> = t.tool_calls[1].caused.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(write, ["wrote /work/notes.md (0 bytes)"]);
        let other: Vec<&str> = t.uncaused.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(other, ["deleted /tmp/other"]);
        assert_eq!(t.noise, 2, "the library read and the bytecode cache");
        assert!(t.noise_events.is_none(), "noise is listed only on request");
        assert_eq!(
            page.turns[2].llm.as_ref().map(|l| l.user.len()),
            Some(0),
            "a request of tool results has no user input"
        );
    }

    #[test]
    fn every_event_is_counted_in_exactly_one_turn() {
        let (events, links) = links_of(&two_turns());
        let page = page(&events, &links, &[], Page::default());
        let counted: usize = page.turns.iter().flat_map(|t| t.kinds.values()).sum();
        assert_eq!(counted, events.len());
        assert_eq!(page.kinds.values().sum::<usize>(), events.len());
    }

    #[test]
    fn noise_is_listed_on_request() {
        let (events, links) = links_of(&two_turns());
        let page = page(&events, &links, &[], Page { noise: true, ..Page::default() });
        let noise: Vec<&str> = page.turns[1].noise_events.iter().flatten().map(|a| a.text.as_str()).collect();
        assert_eq!(noise, ["read /usr/lib/python3.12/os.py", "open /work/__pycache__/t.cpython-312.pyc"]);
        assert_eq!(page.turns[0].noise, 1, "the start-up's library read");
    }

    #[test]
    fn findings_are_pinned_to_the_turns_they_cite() {
        let (events, links) = links_of(&two_turns());
        let exec =
            events.iter().find(|e| matches!(&e.body, EventBody::Exec(x) if x.argv[0] == "pytest")).expect("pytest");
        let last = events.last().expect("events");
        let mut history = events[0].clone();
        history.ts_ns = 1; // an event the session's events do not have
        let findings = [finding("f1", "loop", &[exec, last]), finding("f2", "persona_drift", &[&history])];
        let page = page(&events, &links, &findings, Page { turn_from: 1, turns: 1, ..Page::default() });
        assert_eq!(page.turns.len(), 1);
        let pins = &page.turns[0].findings;
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].events, [exec.id()]);
        assert_eq!(page.finding_turns["f1"], [1, 2]);
        assert_eq!(page.unpinned_findings, ["f2"]);
        assert!(page.process_tree.is_none(), "the tree comes with the first page");
        assert_eq!(page.next_turn_from, Some(2));
        let at =
            super::page(&events, &links, &findings, Page { at_event: Some(last.id()), turns: 1, ..Page::default() });
        assert_eq!(at.turn_from, 2, "a page may start at the turn of an event");
    }

    #[test]
    fn a_thousand_turns_are_paged() {
        let mut b = WindowBuilder::new();
        for n in 0..1000 {
            b.llm("running", &[("Bash", json!({"command": format!("make step{n}")}))]);
            b.cmd(&["make", &format!("step{n}")], i32::from(n % 10 == 0));
            b.link_last_exec(0);
            b.result("done");
        }
        let w = b.build();
        let started = std::time::Instant::now();
        let page = page(&w.events, &w.links, &[], Page { turn_from: 990, turns: 50, ..Page::default() });
        let took = started.elapsed();
        assert_eq!(page.total_turns, 1000);
        assert_eq!(page.turns.len(), 10, "the last page is short");
        assert_eq!(page.turns[0].index, 990);
        assert_eq!(page.next_turn_from, None);
        let first = &page.turns[0].tool_calls[0].caused.commands;
        assert_eq!((first[0].command.as_str(), first[0].exit_code), ("make step990", Some(1)));
        assert!(took < std::time::Duration::from_secs(2), "a page of a 1,000-turn session took {took:?}");
        let r = rollup(&w.events, &w.links, &[]);
        assert_eq!((r.turns, r.commands, r.failed_commands), (1000, 1000, 100));
    }

    #[test]
    fn the_rollup_says_who_ran_what_it_cost_and_how_it_ended() {
        let mut b = two_turns();
        b.push_event(
            10,
            EventBody::Loss(Loss {
                source: "tls".into(),
                count: 1,
                reason: "pid 9 `codex`: TLS via go, not captured".into(),
            }),
        );
        let (mut events, links) = links_of(&b);
        for ev in &mut events {
            if let EventBody::LlmCall(c) = &mut ev.body {
                c.usage = Some(Usage { input_tokens: 100, output_tokens: 7 });
            }
        }
        let f = finding("f1", "loop", &[&events[0]]);
        let r = rollup(&events, &links, &[f.clone(), finding("f2", "loop", &[]), finding("f3", "contradiction", &[])]);
        assert_eq!(r.agent.as_deref(), Some("claude"));
        assert_eq!(r.models, ["gpt-test"]);
        assert_eq!((r.input_tokens, r.output_tokens), (200, 14));
        assert_eq!(r.exit_code, Some(0));
        assert_eq!(
            (r.commands, r.failed_commands),
            (1, 1),
            "bash -c 'pytest -q' failed; its child is not counted again"
        );
        assert_eq!(r.findings_by_kind, BTreeMap::from([("contradiction".to_string(), 1), ("loop".to_string(), 2)]));
        assert!(r.tls_not_captured);
        assert_eq!(r.events_lost, 1);
        assert_eq!(r.duration_ns, events.last().map_or(0, |e| e.ts_ns) - events[0].ts_ns);
    }

    #[test]
    fn agent_names_are_short() {
        let name = |argv: &[&str]| agent_name(&argv.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(name(&["/usr/local/bin/claude", "--dangerously-skip-permissions"]).as_deref(), Some("claude"));
        assert_eq!(name(&["gemini", "-p", "fix it"]).as_deref(), Some("gemini"));
        assert_eq!(
            name(&["env", "SSL_CERT_FILE=/tmp/ca.pem", "python3", "agent.py", "https://x/v1"]).as_deref(),
            Some("python3 agent.py")
        );
        assert_eq!(
            name(&["/root/.pyenv/versions/3.11.7/bin/python3.11", "/src/agent.py"]).as_deref(),
            Some("python3.11 agent.py")
        );
        assert_eq!(name(&["python3", "-m", "aider", "--yes"]).as_deref(), Some("aider"));
        assert_eq!(
            name(&["node", "/usr/lib/node_modules/@google/gemini-cli/dist/index.js"]).as_deref(),
            Some("gemini")
        );
        assert_eq!(name(&["bash", "-c", "echo hi"]).as_deref(), Some("bash"));
        assert_eq!(name(&[]), None);
    }

    #[test]
    fn noise_is_reads_of_system_files_failed_lookups_and_caches() {
        let ev = |body| Event { ts_ns: 1, session: "s".into(), pid: 1, tid: 1, ppid: 0, comm: "c".into(), body };
        assert!(is_noise(&ev(file(FileOp::Open, "/usr/lib/x86_64-linux-gnu/libc.so.6", Some(0o2000000), 3))));
        assert!(is_noise(&ev(file(FileOp::Open, "/proc/self/status", Some(0), 3))));
        assert!(is_noise(&ev(file(FileOp::Open, "/work/node_modules/lodash/index.js", Some(0), 3))));
        assert!(is_noise(&ev(file(FileOp::Open, "/work/package.json", Some(0), -2))), "a failed lookup");
        assert!(is_noise(&ev(file(FileOp::Write, "/work/__pycache__/m.cpython-312.pyc", None, 0))));
        assert!(
            !is_noise(&ev(file(FileOp::Open, "/work/src/main.rs", Some(0), 3))),
            "the project's files are read for a reason"
        );
        assert!(!is_noise(&ev(file(FileOp::Open, "/etc/hosts", Some(0o1101), 3))), "a write to /etc is never noise");
        assert!(is_noise(&ev(file(FileOp::Open, "/dev/null", Some(0o1101), 3))), "a shell's `> /dev/null`");
        assert!(is_noise(&ev(file(FileOp::Open, "/dev/tty", Some(0o4002), -6))));
        assert!(!is_noise(&ev(file(FileOp::Open, "/dev/sda", Some(1), 3))), "a write to a disk is never noise");
        assert!(!is_noise(&ev(file(FileOp::Unlink, "/usr/lib/x", None, 0))));
    }
}
