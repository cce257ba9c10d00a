//! The live, readable stream: one line per event, coloured on a terminal.
//!
//! `14:03:07.512  python3[4242]      open     /etc/hosts O_RDONLY|O_CLOEXEC = 3`
//!
//! Every string from the trace (names, argv, paths, replies, hosts) is untrusted: a traced
//! command may hold `\e]0;…\a` (retitle), `\e[2J` (clear) or a newline that forges a line.
//! Each passes through [`clean`] before it is painted, so the only escape sequences reaching the
//! terminal are this module's colours, and an event is one line.

use std::borrow::Cow;
use std::fmt::Write as _;

use analyzer::tree::{human_duration, quote_argv};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use model::{Event, EventBody, FileOp};

pub(crate) const RESET: &str = "\x1b[0m";
pub(crate) const DIM: &str = "\x1b[2m";
pub(crate) const RED: &str = "\x1b[31m";
pub(crate) const GREEN: &str = "\x1b[32m";
pub(crate) const YELLOW: &str = "\x1b[33m";
pub(crate) const BLUE: &str = "\x1b[34m";
pub(crate) const MAGENTA: &str = "\x1b[35m";
pub(crate) const CYAN: &str = "\x1b[36m";
pub(crate) const BOLD: &str = "\x1b[1m";

/// Formats events as lines.
#[derive(Debug)]
pub(crate) struct Pretty {
    color: bool,
    tz: TimeZone,
}

impl Pretty {
    pub(crate) fn new(color: bool) -> Self {
        Pretty { color, tz: TimeZone::system() }
    }

    pub(crate) fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn time(&self, ts_ns: u64) -> String {
        Timestamp::from_nanosecond(i128::from(ts_ns))
            .map(|t| t.to_zoned(self.tz.clone()).strftime("%H:%M:%S%.3f").to_string())
            .unwrap_or_else(|_| ts_ns.to_string())
    }

    fn result(&self, result: i64, error: &Option<String>) -> String {
        match error {
            Some(e) => self.paint(RED, &clean(e)),
            None => result.to_string(),
        }
    }

    pub(crate) fn line(&self, ev: &Event) -> String {
        let who = format!("{}[{}]", clean(&ev.comm), ev.pid);
        let (color, kind, detail) = match &ev.body {
            EventBody::Exec(e) => {
                let mut d = clean(&quote_argv(&e.argv)).into_owned();
                if e.argv_truncated {
                    d.push_str(&format!(" … ({} bytes of arguments, cut)", e.argv_bytes));
                }
                if e.filename != e.argv.first().map(String::as_str).unwrap_or("") {
                    d = format!("{d}  {}", self.paint(DIM, &format!("({})", clean(&e.filename))));
                }
                (GREEN, "exec", format!("{d}  {}", self.paint(DIM, &format!("cwd={}", clean(&e.cwd)))))
            }
            EventBody::Fork(f) => (BLUE, "fork", format!("child {}", f.child_pid)),
            EventBody::Exit(x) => {
                let status = if x.signal != 0 {
                    self.paint(
                        RED,
                        &format!("killed by signal {}{}", x.signal, if x.core_dumped { " (core dumped)" } else { "" }),
                    )
                } else if x.exit_code != 0 {
                    self.paint(RED, &x.exit_code.to_string())
                } else {
                    "0".to_string()
                };
                (
                    BLUE,
                    "exit",
                    format!("{status}  {}", self.paint(DIM, &format!("after {}", human_duration(x.duration_ns)))),
                )
            }
            EventBody::File(f) => {
                let path = clean(&f.path);
                let detail = match f.op {
                    FileOp::Open => format!(
                        "{} {} = {}",
                        path,
                        self.paint(DIM, &clean(f.flags_text.as_deref().unwrap_or(""))),
                        self.result(f.result, &f.error)
                    ),
                    FileOp::Write => format!(
                        "{} {} bytes in {} write{}",
                        path,
                        f.bytes.unwrap_or(0),
                        f.writes.unwrap_or(0),
                        if f.writes == Some(1) { "" } else { "s" }
                    ),
                    FileOp::Rename => format!(
                        "{} -> {} = {}",
                        path,
                        clean(f.new_path.as_deref().unwrap_or("?")),
                        self.result(f.result, &f.error)
                    ),
                    _ => format!("{} = {}", path, self.result(f.result, &f.error)),
                };
                let color = if f.op == FileOp::Open { CYAN } else { YELLOW };
                (color, f.op.as_str(), detail)
            }
            EventBody::Connect(c) => {
                let addr = clean(&c.addr);
                let target = match c.family.as_str() {
                    "inet6" => format!("[{addr}]:{}", c.port),
                    "unix" => addr.into_owned(),
                    _ => format!("{addr}:{}", c.port),
                };
                (MAGENTA, "connect", format!("{target} = {}", self.result(c.result, &c.error)))
            }
            EventBody::LlmCall(c) => {
                let mut d =
                    format!("{}/{} {}", clean(&c.provider), clean(&c.api), clean(c.model.as_deref().unwrap_or("?")));
                if c.status >= 400 || c.status == 0 {
                    d.push_str(&format!(" = {}", self.paint(RED, &c.status.to_string())));
                }
                let text = c.response.text.replace('\n', " ");
                if !text.is_empty() {
                    let cut: String = text.chars().take(80).collect();
                    d.push_str(&format!(" \"{}{}\"", clean(&cut), if cut.len() < text.len() { "…" } else { "" }));
                }
                for call in &c.response.tool_calls {
                    d.push_str(&format!(" → {}()", clean(&call.name)));
                }
                if let Some(u) = c.usage {
                    d.push_str(&self.paint(DIM, &format!("  {}→{} tokens", u.input_tokens, u.output_tokens)));
                }
                d.push_str(&self.paint(DIM, &format!("  {:.0} ms", c.latency_ms)));
                if c.incomplete {
                    d.push_str(&self.paint(RED, "  (incomplete)"));
                }
                (MAGENTA, "llm", d)
            }
            EventBody::Http(h) => {
                let status = if h.status >= 400 || h.status == 0 {
                    self.paint(RED, &h.status.to_string())
                } else {
                    h.status.to_string()
                };
                (
                    MAGENTA,
                    "https",
                    format!(
                        "{} {}{} = {status} ({} bytes)",
                        clean(&h.method),
                        clean(&h.host),
                        clean(&h.path),
                        h.response_bytes
                    ),
                )
            }
            EventBody::Loss(l) => (RED, "LOSS", format!("{} {}: {}", l.count, clean(&l.source), clean(&l.reason))),
        };
        format!(
            "{}  {} {} {}",
            self.paint(DIM, &self.time(ev.ts_ns)),
            self.paint(BOLD, &format!("{who:<22}")),
            self.paint(color, &format!("{kind:<7}")),
            detail
        )
    }
}

/// Colour on stdout: only a terminal gets it, and not when `NO_COLOR` is set.
pub(crate) fn stdout_color() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none()
}

/// Trace text as the terminal may show it: control characters (C0, DEL, C1) and the
/// bidirectional controls that reorder what follows are written as visible escapes (`\x1b`,
/// `\n`, `\u{202e}`); everything else, other scripts included, is kept.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Connect, FileEvent};

    fn ev(body: EventBody) -> Event {
        Event {
            ts_ns: 1_700_000_000_123_000_000,
            session: "s".into(),
            pid: 42,
            tid: 42,
            ppid: 1,
            comm: "python3".into(),
            body,
        }
    }

    #[test]
    fn plain_lines_carry_the_facts() {
        let p = Pretty { color: false, tz: TimeZone::UTC };
        let open = ev(EventBody::File(FileEvent {
            flags: Some(0),
            flags_text: Some("O_RDONLY".into()),
            error: Some("ENOENT".into()),
            ..FileEvent::new(FileOp::Open, "/nope", -2)
        }));
        assert_eq!(p.line(&open), "22:13:20.123  python3[42]            open    /nope O_RDONLY = ENOENT");
        let conn = ev(EventBody::Connect(Connect {
            family: "inet".into(),
            addr: "127.0.0.1".into(),
            port: 8080,
            result: 0,
            error: None,
        }));
        assert!(p.line(&conn).ends_with("connect 127.0.0.1:8080 = 0"));
    }

    /// What a hostile traced command may print or name things with: an OSC retitle, a screen
    /// clear, a red that never resets, a forged next line, a C1 CSI and a right-to-left override.
    const EVIL: &str =
        "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31m\r\n14:00:00.000  sudo[1]  exec  rm -rf /\u{9b}2J\u{202e}";

    /// The same events with every string field that can hold text (each one the model lets be
    /// any string, found by trying) ending in [`EVIL`].
    fn poisoned(ev: &Event) -> Event {
        let mut v = serde_json::to_value(ev).expect("event to JSON");
        let mut leaves = Vec::new();
        fn walk(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(_) | serde_json::Value::Null => out.push(at),
                serde_json::Value::Array(a) => {
                    a.iter().enumerate().for_each(|(i, x)| walk(x, format!("{at}/{i}"), out))
                }
                serde_json::Value::Object(o) => o
                    .iter()
                    .for_each(|(k, x)| walk(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
                _ => {}
            }
        }
        walk(&v, String::new(), &mut leaves);
        for at in leaves {
            let Some(leaf) = v.pointer_mut(&at) else { continue };
            let old = leaf.clone();
            *leaf = serde_json::Value::String(format!("{}{EVIL}", old.as_str().unwrap_or("")));
            if serde_json::from_value::<Event>(v.clone()).is_err() {
                if let Some(leaf) = v.pointer_mut(&at) {
                    *leaf = old;
                }
            }
        }
        serde_json::from_value(v).expect("poisoned event")
    }

    fn events() -> Vec<Event> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Event> = include_str!("../../tests/fixtures/demo-trace.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Event>(l).expect("fixture event"))
            .filter(|e| {
                seen.insert(format!(
                    "{}{:?}",
                    e.body.kind(),
                    if let EventBody::File(f) = &e.body { Some(f.op) } else { None }
                ))
            })
            .collect();
        for extra in [
            r#"{"ts_ns":1,"session":"s","pid":1,"tid":1,"ppid":0,"comm":"c","kind":"http","method":"GET","host":"h","path":"/p","status":500,"request_bytes":1,"response_bytes":2,"content_type":"text/html","latency_ms":1.0}"#,
            r#"{"ts_ns":1,"session":"s","pid":1,"tid":1,"ppid":0,"comm":"c","kind":"loss","source":"decode","count":3,"reason":"r"}"#,
            r#"{"ts_ns":1,"session":"s","pid":1,"tid":1,"ppid":0,"comm":"c","kind":"connect","family":"unix","addr":"/run/x.sock","port":0,"result":-2,"error":"ENOENT"}"#,
            r#"{"ts_ns":1,"session":"s","pid":1,"tid":1,"ppid":0,"comm":"c","kind":"connect","family":"inet6","addr":"::1","port":443,"result":0}"#,
        ] {
            out.push(serde_json::from_str(extra).expect("extra event"));
        }
        let mut open_failed = FileEvent {
            error: Some("ENOENT".into()),
            flags_text: Some("O_RDONLY".into()),
            ..FileEvent::new(FileOp::Open, "/x", -2)
        };
        open_failed.flags = Some(0);
        out.push(ev(EventBody::File(open_failed)));
        out.push(ev(EventBody::File(FileEvent {
            new_path: Some("/y".into()),
            ..FileEvent::new(FileOp::Rename, "/x", 0)
        })));
        out.push(ev(EventBody::File(FileEvent::new(FileOp::Unlink, "/x", 0))));
        out
    }

    #[test]
    fn control_characters_are_sanitised_in_live_view() {
        let kinds: std::collections::HashSet<_> = events().iter().map(|e| e.body.kind()).collect();
        assert_eq!(kinds.len(), 8, "every kind of event is tried: {kinds:?}");
        for color in [false, true] {
            let p = Pretty { color, tz: TimeZone::UTC };
            for ev in events().iter().map(poisoned) {
                let line = p.line(&ev);
                // Only this module's own colours may remain.
                let mut bare = line.clone();
                for code in [RESET, DIM, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, BOLD] {
                    bare = bare.replace(code, "");
                }
                assert!(
                    !bare.chars().any(needs_escape),
                    "{} event leaks a control character: {line:?}",
                    ev.body.kind()
                );
                assert!(line.contains(r"\x1b]0;pwned\x07\x1b[2J"), "{} event: {line:?}", ev.body.kind());
                assert!(line.contains(r"\x9b2J\u{202e}"), "{line:?}");
            }
        }
    }

    #[test]
    fn clean_escapes_only_controls() {
        assert!(matches!(clean("plain /tmp/x 日本語 émoji 🙂"), Cow::Borrowed(_)));
        assert_eq!(clean("a\tb\nc\r\u{0}\u{7f}\u{85}\u{2067}"), r"a\tb\nc\r\x00\x7f\x85\u{2067}");
    }
}
