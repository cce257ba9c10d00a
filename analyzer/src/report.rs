//! The review report (`agentsight report`): what the agents did in a period and what looked
//! wrong, for a person reading it the next morning. Markdown or a self-contained HTML page.
//!
//! Built from the index alone: sessions active in the period, and findings made in it, worst
//! first, each with its evidence.

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
    let findings = index.findings(&FindingFilter { since_ns: Some(since_ns), limit: MAX_FINDINGS, ..Default::default() })?;
    Ok(render(&sessions, &findings, since_ns, until_ns, format))
}

/// Pure rendering, tested without an index.
pub fn render(sessions: &[SessionInfo], findings: &[Finding], since_ns: u64, until_ns: u64, format: Format) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# AgentSight review: {} to {}\n", when(since_ns), when(until_ns));
    let events: u64 = sessions.iter().map(|s| s.events).sum();
    let calls: u64 = sessions.iter().map(|s| s.llm_calls).sum();
    let _ = writeln!(
        md,
        "{} sessions, {} events, {} LLM calls, {} findings.\n",
        sessions.len(),
        events,
        calls,
        findings.len()
    );
    let mut by_kind: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for f in findings {
        let e = by_kind.entry(f.kind.as_str()).or_default();
        e.0 += 1;
        e.1 = e.1.max(f.score);
    }
    if !by_kind.is_empty() {
        md.push_str("| kind | findings | worst score |\n|---|---|---|\n");
        for (kind, (n, worst)) in &by_kind {
            let _ = writeln!(md, "| {kind} | {n} | {worst:.2} |");
        }
        md.push('\n');
    }
    md.push_str("## Findings, worst first\n\n");
    if findings.is_empty() {
        md.push_str("None.\n\n");
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.ts_ns.cmp(&b.ts_ns)));
    for f in sorted {
        let by = match &f.judge {
            Some(j) => format!("judge `{}` ({})", j.model, j.prompt_id),
            None => format!("detector `{}`", f.detector),
        };
        let _ = writeln!(md, "### {} {:.2} in session `{}`\n", f.kind, f.score, f.session);
        let _ = writeln!(md, "{} — {}, window `{}`, {}\n", one_line(&f.rationale), by, f.window_id, when(f.ts_ns));
        for e in &f.evidence {
            let _ = writeln!(md, "- {} — pid {}, `{}` ({})", one_line(&e.summary), e.pid, e.event, when(e.ts_ns));
        }
        md.push('\n');
    }
    let gaps: Vec<&SessionInfo> = sessions.iter().filter(|s| s.lost_events > 0).collect();
    if !gaps.is_empty() {
        // before the sessions: a finding cannot be trusted further than what was captured
        md.push_str("## Coverage warnings\n\nWhat the capture says it did not record, by session.\n\n");
        for s in gaps {
            let _ = writeln!(md, "### Session `{}`: {} loss events\n", s.id, s.lost_events);
            for w in &s.coverage {
                let _ = writeln!(md, "- {}", one_line(w));
            }
            if s.lost_events > s.coverage.len() as u64 {
                let _ = writeln!(md, "- … and {} more", s.lost_events - s.coverage.len() as u64);
            }
            md.push('\n');
        }
    }
    md.push_str("## Sessions\n\n");
    if sessions.is_empty() {
        md.push_str("None.\n");
    } else {
        md.push_str(
            "| session | agent | from | to | events | LLM calls | findings | loss events |\n|---|---|---|---|---|---|---|---|\n",
        );
        for s in sessions {
            let agent = s.agent.as_deref().map(one_line).unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
                s.id,
                agent.replace('|', "\\|"),
                when(s.first_ns),
                when(s.last_ns),
                s.events,
                s.llm_calls,
                s.findings,
                s.lost_events
            );
        }
    }
    match format {
        Format::Markdown => md,
        Format::Html => html(&md),
    }
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

/// The Markdown above as a small HTML page: headings, tables, lists and `code`; everything from
/// the trace is escaped (it is untrusted agent output).
fn html(md: &str) -> String {
    let mut out = String::from(
        "<!doctype html><meta charset=utf-8><title>AgentSight review</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #8884;padding:.2em .5em;text-align:left}code{background:#8882;padding:0 .2em}</style>\n",
    );
    let inline = |s: &str| {
        let mut o = String::new();
        for (i, part) in escape(s).split('`').enumerate() {
            if i % 2 == 1 {
                let _ = write!(o, "<code>{part}</code>");
            } else {
                o.push_str(part);
            }
        }
        o
    };
    let mut in_list = false;
    let mut in_table = false;
    for line in md.lines() {
        if in_list && !line.starts_with("- ") {
            out.push_str("</ul>\n");
            in_list = false;
        }
        if in_table && !line.starts_with('|') {
            out.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("### ") {
            let _ = writeln!(out, "<h3>{}</h3>", inline(h));
        } else if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", inline(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(h));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                out.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(out, "<li>{}</li>", inline(item));
        } else if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| format!("<{tag}>{}</{tag}>", inline(c.trim().replace("\\|", "|").as_str())))
                .collect();
            let _ = writeln!(out, "<tr>{}</tr>", cells.concat());
        } else if !line.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(line));
        }
    }
    if in_list {
        out.push_str("</ul>\n");
    }
    if in_table {
        out.push_str("</table>\n");
    }
    out
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
        let page = render(&[session()], &[finding("contradiction", 0.9, "<script>alert(1)</script>")], 0, 1, Format::Html);
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
            "1 lost: pid 7 `codex`: 1 TCP connection to 10.0.0.1:443 not captured: TLS whose plaintext no probe saw".into(),
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
}
