//! The live, readable stream: one line per event, coloured on a terminal.
//!
//! `14:03:07.512  python3[4242]      open     /etc/hosts O_RDONLY|O_CLOEXEC = 3`

use analyzer::tree::{human_duration, quote_argv};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use model::{Event, EventBody, FileOp};

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";

/// Formats events as lines.
#[derive(Debug)]
pub struct Pretty {
    color: bool,
    tz: TimeZone,
}

impl Pretty {
    pub fn new(color: bool) -> Self {
        Pretty { color, tz: TimeZone::system() }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn time(&self, ts_ns: u64) -> String {
        Timestamp::from_nanosecond(i128::from(ts_ns))
            .map(|t| t.to_zoned(self.tz.clone()).strftime("%H:%M:%S%.3f").to_string())
            .unwrap_or_else(|_| ts_ns.to_string())
    }

    fn result(&self, result: i64, error: &Option<String>) -> String {
        match error {
            Some(e) => self.paint(RED, e),
            None => result.to_string(),
        }
    }

    pub fn line(&self, ev: &Event) -> String {
        let who = format!("{}[{}]", ev.comm, ev.pid);
        let (color, kind, detail) = match &ev.body {
            EventBody::Exec(e) => {
                let mut d = quote_argv(&e.argv);
                if e.argv_truncated {
                    d.push_str(&format!(" … ({} bytes of arguments, cut)", e.argv_bytes));
                }
                if e.filename != e.argv.first().map(String::as_str).unwrap_or("") {
                    d = format!("{d}  {}", self.paint(DIM, &format!("({})", e.filename)));
                }
                (GREEN, "exec", format!("{d}  {}", self.paint(DIM, &format!("cwd={}", e.cwd))))
            }
            EventBody::Fork(f) => (BLUE, "fork", format!("child {}", f.child_pid)),
            EventBody::Exit(x) => {
                let status = if x.signal != 0 {
                    self.paint(RED, &format!("killed by signal {}{}", x.signal, if x.core_dumped { " (core dumped)" } else { "" }))
                } else if x.exit_code != 0 {
                    self.paint(RED, &x.exit_code.to_string())
                } else {
                    "0".to_string()
                };
                (BLUE, "exit", format!("{status}  {}", self.paint(DIM, &format!("after {}", human_duration(x.duration_ns)))))
            }
            EventBody::File(f) => {
                let detail = match f.op {
                    FileOp::Open => format!(
                        "{} {} = {}",
                        f.path,
                        self.paint(DIM, f.flags_text.as_deref().unwrap_or("")),
                        self.result(f.result, &f.error)
                    ),
                    FileOp::Write => format!(
                        "{} {} bytes in {} write{}",
                        f.path,
                        f.bytes.unwrap_or(0),
                        f.writes.unwrap_or(0),
                        if f.writes == Some(1) { "" } else { "s" }
                    ),
                    FileOp::Rename => format!(
                        "{} -> {} = {}",
                        f.path,
                        f.new_path.as_deref().unwrap_or("?"),
                        self.result(f.result, &f.error)
                    ),
                    _ => format!("{} = {}", f.path, self.result(f.result, &f.error)),
                };
                let color = if f.op == FileOp::Open { CYAN } else { YELLOW };
                (color, f.op.as_str(), detail)
            }
            EventBody::Connect(c) => {
                let target = match c.family.as_str() {
                    "inet6" => format!("[{}]:{}", c.addr, c.port),
                    "unix" => c.addr.clone(),
                    _ => format!("{}:{}", c.addr, c.port),
                };
                (MAGENTA, "connect", format!("{target} = {}", self.result(c.result, &c.error)))
            }
            EventBody::LlmCall(c) => {
                let mut d = format!("{}/{} {}", c.provider, c.api, c.model.as_deref().unwrap_or("?"));
                if c.status >= 400 || c.status == 0 {
                    d.push_str(&format!(" = {}", self.paint(RED, &c.status.to_string())));
                }
                let text = c.response.text.replace('\n', " ");
                if !text.is_empty() {
                    let cut: String = text.chars().take(80).collect();
                    d.push_str(&format!(" \"{cut}{}\"", if cut.len() < text.len() { "…" } else { "" }));
                }
                for call in &c.response.tool_calls {
                    d.push_str(&format!(" → {}()", call.name));
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
                let status = if h.status >= 400 || h.status == 0 { self.paint(RED, &h.status.to_string()) } else { h.status.to_string() };
                (MAGENTA, "https", format!("{} {}{} = {status} ({} bytes)", h.method, h.host, h.path, h.response_bytes))
            }
            EventBody::Loss(l) => (RED, "LOSS", format!("{} {}: {}", l.count, l.source, l.reason)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Connect, FileEvent};

    fn ev(body: EventBody) -> Event {
        Event { ts_ns: 1_700_000_000_123_000_000, session: "s".into(), pid: 42, tid: 42, ppid: 1, comm: "python3".into(), body }
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
}
