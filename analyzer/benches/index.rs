//! Index benchmark: ingest rate and search latency on synthetic agent traces.
//!
//! `cargo bench -p analyzer --bench index` (set `AS_BENCH_EVENTS`, default 1,000,000).
//! Sessions of 20 windows of ~200 events; each turn is an `llm_call` (system prompt, a user
//! message and a reply of a few hundred characters drawn from a skewed word list, one of them
//! Chinese, and a `bash` tool call) followed by execs, file operations, a connect and exits.
//! Ingest commits every 50,000 events in a temporary directory and counts only the index's
//! time; then 200 searches (limit 20, snippets included) of five kinds report p50/p99.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use analyzer::index::{Index, SearchQuery};
use model::testing;
use model::{
    Connect, Event, EventBody, Exec, FileEvent, FileOp, Link, LinkBy, LlmCall, LlmRequest, LlmResponse, Message, Tool,
    ToolCall, Window,
};

const COMMIT_EVERY: usize = 50_000;
const WINDOWS_PER_SESSION: u64 = 20;
const TURNS_PER_WINDOW: usize = 20;
const QUERIES: usize = 200;

const WORDS: &[&str] = &[
    "the",
    "test",
    "file",
    "function",
    "error",
    "run",
    "fix",
    "build",
    "import",
    "module",
    "return",
    "value",
    "config",
    "request",
    "response",
    "user",
    "login",
    "token",
    "session",
    "cache",
    "database",
    "query",
    "index",
    "search",
    "parse",
    "json",
    "http",
    "server",
    "client",
    "timeout",
    "retry",
    "failed",
    "passed",
    "assert",
    "expected",
    "actual",
    "null",
    "string",
    "integer",
    "list",
    "map",
    "struct",
    "class",
    "method",
    "interface",
    "trait",
    "async",
    "await",
    "thread",
    "lock",
    "mutex",
    "channel",
    "queue",
    "buffer",
    "stream",
    "socket",
    "connect",
    "read",
    "write",
    "open",
    "close",
    "path",
    "directory",
    "permission",
    "denied",
    "memory",
    "leak",
    "panic",
    "exception",
    "traceback",
    "stack",
    "frame",
    "debug",
    "release",
    "version",
    "dependency",
    "package",
    "install",
    "upgrade",
    "migrate",
    "schema",
    "table",
    "column",
    "row",
    "commit",
    "branch",
    "merge",
    "rebase",
    "conflict",
    "diff",
    "patch",
    "review",
    "comment",
    "docs",
    "readme",
    "example",
    "benchmark",
    "profile",
    "latency",
    "throughput",
    "metrics",
    "logging",
    "tracing",
    "span",
    "event",
    "window",
    "finding",
    "judge",
    "prompt",
    "model",
    "agent",
    "tool",
    "bash",
    "pytest",
    "cargo",
    "npm",
    "docker",
    "kubernetes",
    "deploy",
    "rollback",
    "password",
    "secret",
    "credential",
    "redact",
    "encrypt",
    "certificate",
    "handshake",
    "unicode",
    "encoding",
    "utf8",
    "newline",
    "whitespace",
    "regex",
    "pattern",
    "match",
    "refactor",
    "rename",
    "extract",
    "inline",
    "delete",
    "remove",
    "add",
    "update",
    "create",
    "validate",
    "sanitize",
    "escape",
    "render",
    "template",
    "component",
    "router",
    "handler",
    "middleware",
    "auth",
    "oauth",
    "jwt",
    "cookie",
    "header",
    "body",
    "status",
    "redirect",
    "测试",
    "通过",
    "失败",
    "修复",
    "错误",
    "文件",
    "运行",
    "构建",
    "テスト",
    "確認",
];

/// splitmix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word, common ones far more often than rare ones (roughly Zipf-like).
    fn word(&mut self) -> &'static str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        WORDS[((u * u * u) * WORDS.len() as f64) as usize % WORDS.len()]
    }

    fn text(&mut self, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            if i > 0 {
                s.push(if i % 12 == 0 { '.' } else { ' ' });
            }
            s.push_str(self.word());
        }
        s
    }
}

struct Generator {
    rng: Rng,
    ts_ns: u64,
    events: usize,
}

impl Generator {
    fn event(&mut self, session: &str, pid: u32, body: EventBody) -> Event {
        self.ts_ns += 1_000 + self.rng.below(1_000_000) as u64;
        self.events += 1;
        testing::event(session, self.ts_ns, pid, body)
    }

    fn exec(&mut self, session: &str, pid: u32, argv: Vec<String>) -> Event {
        let filename = format!("/usr/bin/{}", argv[0]);
        let argv_bytes = argv.iter().map(|a| a.len() as u32 + 1).sum();
        let body = EventBody::Exec(Exec {
            filename,
            argv,
            cwd: "/home/dev/project".into(),
            uid: 1000,
            argv_truncated: false,
            argv_bytes,
            truncated: Vec::new(),
            non_utf8: false,
        });
        self.event(session, pid, body)
    }

    /// One turn: an `llm_call` and about nine system events, with the link of its tool call.
    fn turn(&mut self, session: &str, out: &mut Vec<Event>, links: &mut Vec<Link>) {
        let command = format!("pytest -q tests/test_{}.py", self.rng.word());
        let llm = LlmCall {
            provider: "openai".into(),
            api: "chat".into(),
            url: "https://api.openai.com/v1/chat/completions".into(),
            model: Some("gpt-4o".into()),
            request: LlmRequest {
                extends: None,
                system: Some("You are a careful coding agent. Run the tests before you claim success.".into()),
                messages: vec![Message { role: "user".into(), content: self.rng.text(50), ..Message::default() }],
                tools: vec![Tool { name: "bash".into(), description: None, parameters: serde_json::Value::Null }],
            },
            response: LlmResponse {
                text: self.rng.text(30),
                tool_calls: vec![ToolCall {
                    id: format!("call_{}", self.rng.next() % 1_000_000),
                    name: "bash".into(),
                    arguments: serde_json::json!({ "command": command }),
                }],
                stop_reason: Some("tool_calls".into()),
                error: None,
            },
            usage: None,
            stream: true,
            status: 200,
            ttft_ms: Some(300.0),
            latency_ms: 2000.0,
            incomplete: false,
            raw: None,
        };
        let tool_call = llm.response.tool_calls[0].id.clone();
        let llm = self.event(session, 100, EventBody::LlmCall(Box::new(llm)));
        let pid = 200 + self.rng.below(30_000) as u32;
        let argv = command.split(' ').map(String::from).collect();
        let exec = self.exec(session, pid, argv);
        links.push(Link {
            llm_event: llm.id(),
            call_id: tool_call,
            tool: "bash".into(),
            event: exec.id(),
            by: LinkBy::Argv,
        });
        out.push(llm);
        out.push(exec);
        let git = vec!["git".into(), "diff".into(), format!("src/{}.rs", self.rng.word())];
        out.push(self.exec(session, pid + 1, git));
        for _ in 0..4 {
            let path = format!("/home/dev/project/src/{}/{}.rs", self.rng.word(), self.rng.word());
            let op = if self.rng.below(4) == 0 { FileOp::Write } else { FileOp::Open };
            let e = self.event(session, pid, EventBody::File(FileEvent::new(op, path, 3)));
            out.push(e);
        }
        let connect = Connect {
            family: "inet".into(),
            addr: format!("10.0.{}.{}", self.rng.below(256), self.rng.below(256)),
            port: 443,
            result: 0,
            error: None,
        };
        out.push(self.event(session, 100, EventBody::Connect(connect)));
        for p in [pid, pid + 1] {
            let exit = testing::exit(self.rng.below(2) as i32, 1_000_000);
            out.push(self.event(session, p, EventBody::Exit(exit)));
        }
    }

    fn window(&mut self, session: &str, seq: u64) -> Window {
        let (mut events, mut links) = (Vec::new(), Vec::new());
        for _ in 0..TURNS_PER_WINDOW {
            self.turn(session, &mut events, &mut links);
        }
        Window { links, ..testing::window(session, seq, events) }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn Error>> {
    let target: usize = match std::env::var("AS_BENCH_EVENTS") {
        Ok(v) => v.replace('_', "").parse()?,
        Err(_) => 1_000_000,
    };
    let dir = tempfile::tempdir()?;
    let mut index = Index::open(dir.path())?;
    let mut g = Generator { rng: Rng(42), ts_ns: 1_700_000_000_000_000_000, events: 0 };

    // Windows are generated a commit's worth at a time and indexed after, so that the time
    // measured (add_window calls and the commit) is the index's alone: the writer's threads
    // index in the background and would otherwise get the generator's time for free.
    let (mut indexing, mut sessions, mut seq) = (Duration::ZERO, 0u64, WINDOWS_PER_SESSION);
    while g.events < target {
        let mut batch = Vec::new();
        let batch_end = (g.events + COMMIT_EVERY).min(target);
        while g.events < batch_end {
            if seq == WINDOWS_PER_SESSION {
                (sessions, seq) = (sessions + 1, 0);
            }
            batch.push(g.window(&format!("session-{:04}", sessions - 1), seq));
            seq += 1;
        }
        let start = Instant::now();
        for w in &batch {
            index.add_window(w)?;
        }
        index.commit(&g.events.to_string())?;
        indexing += start.elapsed();
    }
    let events = index.counts().events;
    println!(
        "ingest: {events} events in {sessions} sessions, {:.1} s, {:.0} events/s, index {:.0} MiB",
        indexing.as_secs_f64(),
        events as f64 / indexing.as_secs_f64(),
        dir_bytes(dir.path()) as f64 / f64::from(1 << 20),
    );

    // Searches run on the index as a server holds it once merges have settled.
    let start = Instant::now();
    index.close()?;
    let index = Index::open(dir.path())?;
    println!(
        "merges finished {:.1} s after the last commit, index {:.0} MiB",
        start.elapsed().as_secs_f64(),
        dir_bytes(dir.path()) as f64 / f64::from(1 << 20),
    );

    let mut rng = Rng(7);
    let kinds = ["one word", "two words", "phrase", "kind + word", "session + word"];
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    let mut hits = vec![0usize; kinds.len()];
    for i in 0..QUERIES {
        let k = i % kinds.len();
        let q = match k {
            0 => SearchQuery { query: rng.word().into(), ..SearchQuery::default() },
            1 => SearchQuery { query: format!("{} {}", rng.word(), rng.word()), ..SearchQuery::default() },
            2 => SearchQuery { query: format!("\"{} {}\"", rng.word(), rng.word()), ..SearchQuery::default() },
            3 => SearchQuery { query: rng.word().into(), kind: Some("llm_call".into()), ..SearchQuery::default() },
            _ => SearchQuery {
                query: rng.word().into(),
                session: Some(format!("session-{:04}", rng.below(sessions as usize))),
                ..SearchQuery::default()
            },
        };
        let start = Instant::now();
        let found = index.search(&q)?;
        latencies[k].push(start.elapsed());
        hits[k] += found.len();
    }
    println!("\n{:<16} {:>8} {:>9} {:>9} {:>9}", "search (limit 20)", "queries", "avg hits", "p50 ms", "p99 ms");
    let mut all = Vec::new();
    for (k, name) in kinds.iter().enumerate() {
        let mut l = latencies[k].clone();
        l.sort();
        println!(
            "{:<16} {:>8} {:>9.1} {:>9.2} {:>9.2}",
            name,
            l.len(),
            hits[k] as f64 / l.len() as f64,
            percentile(&l, 0.5),
            percentile(&l, 0.99)
        );
        all.extend(l);
    }
    all.sort();
    println!("{:<16} {:>8} {:>9} {:>9.2} {:>9.2}", "all", all.len(), "", percentile(&all, 0.5), percentile(&all, 0.99));

    let start = Instant::now();
    let listed = index.sessions()?;
    println!("\nsessions(): {} sessions in {:.1} ms", listed.len(), start.elapsed().as_secs_f64() * 1e3);
    let start = Instant::now();
    let timeline = index.session_events("session-0000", 1000)?;
    println!("session_events(limit 1000): {} events in {:.1} ms", timeline.len(), start.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
