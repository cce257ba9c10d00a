//! The review report (`agentsight report`): what the agents did in a period and what looked
//! wrong, for a person reading it the next morning. Markdown or a self-contained HTML page.
//!
//! Built from the index alone: sessions active in the period, and findings made in it, worst
//! first, each with its evidence. Both formats are written from one document of blocks (headings,
//! paragraphs, tables, lists) whose text is data, plain or code: the HTML escapes every piece,
//! so what the agent wrote is never read as markup (a backtick in it stays a backtick).

use std::collections::BTreeMap;
use std::fmt::Write;

use model::Finding;

use crate::index::{FindingFilter, Index, SessionInfo};
use crate::Result;

/// The report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// Findings shown in full; the rest are counted.
const MAX_FINDINGS: usize = 200;

/// The report for `since_ns..=until_ns`.
pub fn build(index: &Index, since_ns: u64, until_ns: u64, format: Format) -> Result<String> {
    let sessions: Vec<SessionInfo> =
        index.sessions()?.into_iter().filter(|s| s.last_ns >= since_ns && s.first_ns <= until_ns).collect();
    let findings =
        index.findings(&FindingFilter { since_ns: Some(since_ns), limit: MAX_FINDINGS, ..Default::default() })?;
    Ok(render(&sessions, &findings, since_ns, until_ns, format))
}

/// Pure rendering, tested without an index.
pub fn render(sessions: &[SessionInfo], findings: &[Finding], since_ns: u64, until_ns: u64, format: Format) -> String {
    let doc = document(sessions, findings, since_ns, until_ns);
    match format {
        Format::Markdown => markdown(&doc),
        Format::Html => html(&doc),
    }
}

/// Inline text: each piece is data, plain or code, and each format writes it its own way (HTML
/// escapes every piece), so nothing from the trace is ever read as markup.
#[derive(Debug, Default)]
struct Line(Vec<(Style, String)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Code,
}

impl Line {
    fn text(mut self, s: impl Into<String>) -> Self {
        self.0.push((Style::Plain, s.into()));
        self
    }

    fn code(mut self, s: impl Into<String>) -> Self {
        self.0.push((Style::Code, s.into()));
        self
    }
}

fn text(s: impl Into<String>) -> Line {
    Line::default().text(s)
}

fn code(s: impl Into<String>) -> Line {
    Line::default().code(s)
}

/// The report's parts, in order.
#[derive(Debug)]
enum Block {
    Heading(u8, Line),
    Paragraph(Line),
    Table { head: &'static [&'static str], rows: Vec<Vec<Line>> },
    List(Vec<Line>),
}

/// The report as data: what is in it, before any format.
fn document(sessions: &[SessionInfo], findings: &[Finding], since_ns: u64, until_ns: u64) -> Vec<Block> {
    let mut doc = vec![Block::Heading(1, text(format!("AgentSight review: {} to {}", when(since_ns), when(until_ns))))];
    let events: u64 = sessions.iter().map(|s| s.events).sum();
    let calls: u64 = sessions.iter().map(|s| s.llm_calls).sum();
    doc.push(Block::Paragraph(text(format!(
        "{} sessions, {} events, {} LLM calls, {} findings.",
        sessions.len(),
        events,
        calls,
        findings.len()
    ))));
    let mut by_kind: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for f in findings {
        let e = by_kind.entry(f.kind.as_str()).or_default();
        e.0 += 1;
        e.1 = e.1.max(f.score);
    }
    if !by_kind.is_empty() {
        let rows = by_kind
            .iter()
            .map(|(kind, (n, worst))| vec![text(*kind), text(n.to_string()), text(format!("{worst:.2}"))]);
        doc.push(Block::Table { head: &["kind", "findings", "worst score"], rows: rows.collect() });
    }
    doc.push(Block::Heading(2, text("Findings, worst first")));
    if findings.is_empty() {
        doc.push(Block::Paragraph(text("None.")));
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.ts_ns.cmp(&b.ts_ns)));
    for f in sorted {
        let heading = text(format!("{} {:.2} in session ", f.kind, f.score)).code(&f.session);
        doc.push(Block::Heading(3, heading));
        let line = text(format!("{} — ", one_line(&f.rationale)));
        let line = match &f.judge {
            Some(j) => line.text("judge ").code(&j.model).text(format!(" ({})", j.prompt_id)),
            None => line.text("detector ").code(&f.detector),
        };
        doc.push(Block::Paragraph(line.text(", window ").code(&f.window_id).text(format!(", {}", when(f.ts_ns)))));
        let evidence = f.evidence.iter().map(|e| {
            text(format!("{} — pid {}, ", one_line(&e.summary), e.pid))
                .code(&e.event)
                .text(format!(" ({})", when(e.ts_ns)))
        });
        doc.push(Block::List(evidence.collect()));
    }
    let gaps: Vec<&SessionInfo> = sessions.iter().filter(|s| s.lost_events > 0).collect();
    if !gaps.is_empty() {
        // before the sessions: a finding cannot be trusted further than what was captured
        doc.push(Block::Heading(2, text("Coverage warnings")));
        doc.push(Block::Paragraph(text("What the capture says it did not record, by session.")));
        for s in gaps {
            doc.push(Block::Heading(3, text("Session ").code(&s.id).text(format!(": {} loss events", s.lost_events))));
            let mut items: Vec<Line> = s.coverage.iter().map(|w| text(one_line(w))).collect();
            if s.lost_events > s.coverage.len() as u64 {
                items.push(text(format!("… and {} more", s.lost_events - s.coverage.len() as u64)));
            }
            doc.push(Block::List(items));
        }
    }
    doc.push(Block::Heading(2, text("Sessions")));
    if sessions.is_empty() {
        doc.push(Block::Paragraph(text("None.")));
    } else {
        let rows = sessions.iter().map(|s| {
            let agent = s.agent.as_deref().map(one_line).unwrap_or_default();
            let numbers = [s.events, s.llm_calls, s.findings, s.lost_events].map(|n| text(n.to_string()));
            [code(&s.id), text(agent), text(when(s.first_ns)), text(when(s.last_ns))]
                .into_iter()
                .chain(numbers)
                .collect()
        });
        doc.push(Block::Table {
            head: &["session", "agent", "from", "to", "events", "LLM calls", "findings", "loss events"],
            rows: rows.collect(),
        });
    }
    doc
}

/// Markdown: blocks apart by a blank line; text as it is, but a `|` in a table cell is `\|`.
fn markdown(doc: &[Block]) -> String {
    let inline = |line: &Line, cell: bool| {
        let mut o = String::new();
        for (style, s) in &line.0 {
            match style {
                Style::Plain if cell => o.push_str(&s.replace('|', "\\|")),
                Style::Plain => o.push_str(s),
                Style::Code => {
                    let _ = write!(o, "`{s}`");
                }
            }
        }
        o
    };
    let mut blocks = Vec::with_capacity(doc.len());
    for block in doc {
        let mut md = String::new();
        match block {
            Block::Heading(level, line) => {
                let _ = writeln!(md, "{} {}", "#".repeat(usize::from(*level)), inline(line, false));
            }
            Block::Paragraph(line) => {
                let _ = writeln!(md, "{}", inline(line, false));
            }
            Block::Table { head, rows } => {
                let _ = writeln!(md, "| {} |\n|{}", head.join(" | "), "---|".repeat(head.len()));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| inline(c, true)).collect();
                    let _ = writeln!(md, "| {} |", cells.join(" | "));
                }
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(md, "- {}", inline(item, false));
                }
            }
        }
        blocks.push(md);
    }
    blocks.join("\n")
}

/// A small self-contained HTML page. Tags are fixed strings; text enters only through
/// [`escape`] (everything from the trace is untrusted agent output).
fn html(doc: &[Block]) -> String {
    let mut out = String::from(
        "<!doctype html><meta charset=utf-8><title>AgentSight review</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #8884;padding:.2em .5em;text-align:left}code{background:#8882;padding:0 .2em}</style>\n",
    );
    let inline = |out: &mut String, tag: &str, line: &Line| {
        let _ = write!(out, "<{tag}>");
        for (style, s) in &line.0 {
            match style {
                Style::Plain => out.push_str(&escape(s)),
                Style::Code => {
                    let _ = write!(out, "<code>{}</code>", escape(s));
                }
            }
        }
        let _ = write!(out, "</{tag}>");
    };
    for block in doc {
        match block {
            Block::Heading(level, line) => {
                let tag = match level {
                    1 => "h1",
                    2 => "h2",
                    _ => "h3",
                };
                inline(&mut out, tag, line);
                out.push('\n');
            }
            Block::Paragraph(line) => {
                inline(&mut out, "p", line);
                out.push('\n');
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<tr>");
                for h in *head {
                    let _ = write!(out, "<th>{}</th>", escape(h));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        inline(&mut out, "td", cell);
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::List(items) if items.is_empty() => {}
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    inline(&mut out, "li", item);
                    out.push('\n');
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out
}

fn when(ns: u64) -> String {
    jiff::Timestamp::from_nanosecond(ns as i128)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ns.to_string())
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        flat.chars().take(300).collect::<String>() + "…"
    } else {
        flat
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{EventKind, Evidence};

    fn finding(kind: &str, score: f64, rationale: &str) -> Finding {
        let kind = kind.parse().expect("a finding kind");
        Finding {
            finding_id: Finding::id_for("s:0", kind, "d"),
            session: "s".into(),
            window_id: "s:0".into(),
            kind,
            score,
            detector: "d".into(),
            detectors: Vec::new(),
            rationale: rationale.into(),
            evidence: vec![Evidence {
                event: "1-2-exec".into(),
                ts_ns: 1,
                pid: 2,
                kind: EventKind::Exec,
                summary: "python3 build.py exited 2".into(),
            }],
            judge: None,
            ts_ns: 1_700_000_000_000_000_000,
        }
    }

    fn session() -> SessionInfo {
        SessionInfo {
            id: "s".into(),
            first_ns: 1_700_000_000_000_000_000,
            last_ns: 1_700_000_100_000_000_000,
            events: 120,
            llm_calls: 9,
            findings: 2,
            agent: Some("python3 agent.py".into()),
            coverage: Vec::new(),
            lost_events: 0,
        }
    }

    #[test]
    fn markdown_lists_findings_worst_first_with_evidence() {
        let md = render(
            &[session()],
            &[finding("loop", 0.6, "retried"), finding("contradiction", 0.9, "claimed <b>pass</b>")],
            0,
            u64::MAX / 2,
            Format::Markdown,
        );
        let contradiction = md.find("### contradiction 0.90").expect("contradiction heading");
        let lp = md.find("### loop 0.60").expect("loop heading");
        assert!(contradiction < lp, "worst first:\n{md}");
        assert!(md.contains("python3 build.py exited 2"));
        assert!(md.contains("1 sessions, 120 events, 9 LLM calls, 2 findings."));
        assert!(md.contains("| loop | 1 | 0.60 |"));
    }

    #[test]
    fn html_escapes_what_the_agent_wrote() {
        let page =
            render(&[session()], &[finding("contradiction", 0.9, "<script>alert(1)</script>")], 0, 1, Format::Html);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("<table>") && page.contains("<li>"));
    }

    #[test]
    fn coverage_warnings_come_before_the_sessions_and_name_what_was_lost() {
        let mut gap = session();
        gap.id = "g".into();
        gap.lost_events = 3;
        gap.coverage = vec![
            "1 lost: pid 7 `codex`: 1 TCP connection to 10.0.0.1:443 not captured: TLS whose plaintext no probe saw"
                .into(),
            "2 lost: ring buffer full (exec)".into(),
        ];
        let md = render(&[session(), gap], &[], 0, 1, Format::Markdown);
        let warnings = md.find("## Coverage warnings").expect("a coverage section");
        assert!(warnings < md.find("## Sessions").expect("sessions"), "{md}");
        assert!(md.contains("### Session `g`: 3 loss events"), "{md}");
        assert!(md.contains("- 1 lost: pid 7 `codex`: 1 TCP connection to 10.0.0.1:443 not captured"), "{md}");
        assert!(md.contains("- … and 1 more"), "{md}");
        assert!(!md.contains("Session `s`:"), "a session without losses has no warning:\n{md}");
        assert!(md.contains("| 9 | 2 | 3 |"), "the sessions table counts loss events:\n{md}");
    }

    #[test]
    fn an_empty_period_says_so() {
        let md = render(&[], &[], 0, 1, Format::Markdown);
        assert!(md.contains("0 sessions") && md.contains("None."));
    }

    #[test]
    fn html_reads_no_markup_in_what_the_agent_wrote() {
        let mut s = session();
        s.agent = Some("a | b `c`".into());
        let page = render(&[s], &[finding("loop", 0.5, "ran `rm -rf` & **left**")], 0, 1, Format::Html);
        assert!(
            page.contains("<p>ran `rm -rf` &amp; **left** — detector <code>d</code>, window <code>s:0</code>"),
            "{page}"
        );
        assert!(page.contains("<tr><td><code>s</code></td><td>a | b `c`</td>"), "{page}");
        let md = render(&[session()], &[finding("loop", 0.5, "ran `rm -rf`")], 0, 1, Format::Markdown);
        assert!(md.contains("ran `rm -rf` — detector `d`, window `s:0`"), "Markdown keeps the text as it is:\n{md}");
    }
}
