//! `agentsight sessions` and `agentsight show SESSION`: the session list with its rollups and
//! one session's turns, as `GET /v1/sessions` and `GET /v1/sessions/{id}` serve them, drawn for
//! a terminal.
//!
//! Both read the index read-only (beside a running `serve`) through the analyzer's own
//! functions (`analyzer::service::session_summaries`, `session_page`), so the terminal, the API
//! and the web UI show the same turns, rollups and folded noise; `--json` prints those values
//! as the API does. Every string from the trace passes through [`clean`]: the only escapes
//! reaching the terminal are our colours, and only when stdout is a terminal without
//! `NO_COLOR`.

use std::fmt::Write as _;
use std::path::Path;

use analyzer::index::Index;
use analyzer::service::{self, SessionPage, SessionSummary};
use analyzer::tree::human_duration;
use analyzer::view::{Action, Actions, CommandView, Page, TurnView};
use anyhow::{bail, Result};

use crate::pretty::{clean, stdout_color, Pretty, BOLD, CYAN, DIM, GREEN, MAGENTA, RED, YELLOW};

/// Without `--turns`, a session of fewer turns than this is shown whole...
const ALL_TURNS_BELOW: usize = 200;
/// ...and a longer one from its first this many.
const FIRST_TURNS: usize = 50;
/// User input and assistant text are cut at this many characters...
const TEXT_CHARS: usize = 800;
/// ...or this many lines, whichever comes first.
const TEXT_LINES: usize = 15;
/// Tool arguments, results and finding rationales: one line, cut here.
const LINE_CHARS: usize = 200;

/// `agentsight sessions`.
pub(crate) fn list(data: &Path, json: bool) -> Result<i32> {
    let index = crate::datadir::open_index(data)?;
    let sessions = service::session_summaries(&index)?;
    if json {
        crate::render::print_json(&sessions)?;
        return Ok(0);
    }
    if sessions.is_empty() {
        eprintln!("agentsight: no sessions in `{}`", data.display());
        return Ok(0);
    }
    crate::render::print_text(&list_text(&sessions, &Pretty::new(stdout_color())))?;
    Ok(0)
}

/// The coverage cell: what the capture missed, or empty.
fn coverage_cell(s: &SessionSummary) -> String {
    let mut parts = Vec::new();
    if s.rollup.tls_not_captured {
        parts.push("TLS not captured".to_string());
    }
    if s.rollup.events_lost > 0 {
        parts.push(format!("{} events lost", s.rollup.events_lost));
    }
    parts.join(", ")
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

fn findings_by_kind(s: &SessionSummary) -> String {
    s.rollup.findings_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn list_text(sessions: &[SessionSummary], p: &Pretty) -> String {
    const HEADER: [&str; 10] =
        ["COVERAGE", "SESSION", "AGENT", "MODELS", "TOKENS IN/OUT", "DURATION", "TURNS", "EXIT", "FAILED", "FINDINGS"];
    let rows: Vec<[String; 10]> = sessions
        .iter()
        .map(|s| {
            let r = &s.rollup;
            [
                or_dash(coverage_cell(s)),
                clean(&s.info.id).into_owned(),
                clean(r.agent.as_deref().unwrap_or("-")).into_owned(),
                or_dash(clean(&r.models.join(",")).into_owned()),
                format!("{}/{}", r.input_tokens, r.output_tokens),
                human_duration(r.duration_ns),
                r.turns.to_string(),
                r.exit_code.map_or("-".into(), |c| c.to_string()),
                format!("{} of {}", r.failed_commands, r.commands),
                or_dash(clean(&findings_by_kind(s)).into_owned()),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 10], colors: [Option<&str>; 10]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = if i + 1 == cells.len() { 0 } else { widths[i] - cell.chars().count() + 2 };
            let text = match colors[i] {
                Some(c) => p.paint(c, cell),
                None => cell.to_string(),
            };
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(HEADER, [Some(BOLD); 10]);
    for (s, row) in sessions.iter().zip(&rows) {
        let mut colors = [None; 10];
        if !coverage_cell(s).is_empty() {
            colors[0] = Some(RED);
        }
        if s.rollup.failed_commands > 0 {
            colors[8] = Some(RED);
        }
        if s.rollup.exit_code.is_some_and(|c| c != 0) {
            colors[7] = Some(RED);
        }
        if !s.rollup.findings_by_kind.is_empty() {
            colors[9] = Some(YELLOW);
        }
        out.push_str(&line(row.each_ref().map(String::as_str), colors));
    }
    out
}

/// What `agentsight show` was asked.
#[derive(Debug)]
pub(crate) struct ShowArgs {
    pub session: String,
    pub turn: usize,
    pub turns: Option<usize>,
    pub noise: bool,
    pub json: bool,
}

/// `agentsight show SESSION`.
pub(crate) fn show(args: ShowArgs, data: &Path) -> Result<i32> {
    let index = crate::datadir::open_index(data)?;
    let id = resolve(&index, &args.session, data)?;
    let asked = args.turns.unwrap_or(ALL_TURNS_BELOW);
    let page = Page { turn_from: args.turn, at_event: None, turns: asked, noise: args.noise };
    let Some(mut page) = service::session_page(&index, &id, page, None)? else {
        bail!("no session `{}` in `{}`: `agentsight sessions` lists them", args.session, data.display());
    };
    let total = page.view.total_turns;
    if args.turn > 0 && args.turn >= total {
        bail!(
            "session `{id}` has {total} turns (0 to {}): `--turn {}` is past the last",
            total.saturating_sub(1),
            args.turn
        );
    }
    // A long session without `--turns`: its first turns, and how to see the rest.
    if args.turns.is_none() && total >= ALL_TURNS_BELOW && page.view.turns.len() > FIRST_TURNS {
        page.view.turns.truncate(FIRST_TURNS);
        page.view.next_turn_from = Some(args.turn + FIRST_TURNS);
    }
    if args.json {
        crate::render::print_json(&page)?;
        return Ok(0);
    }
    crate::render::print_text(&show_text(&page, &Pretty::new(stdout_color()), args.noise))?;
    Ok(0)
}

/// The session `id` names: itself, or the one session it is the start of.
pub(crate) fn resolve(index: &Index, id: &str, data: &Path) -> Result<String> {
    let sessions = index.sessions()?;
    if sessions.iter().any(|s| s.id == id) {
        return Ok(id.to_string());
    }
    let starting: Vec<&str> =
        sessions.iter().map(|s| s.id.as_str()).filter(|s| !id.is_empty() && s.starts_with(id)).collect();
    match starting.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => bail!("no session `{id}` in `{}`: `agentsight sessions` lists them", data.display()),
        many => bail!("`{id}` is the start of {} sessions ({}): give more of the id", many.len(), many.join(", ")),
    }
}

fn show_text(page: &SessionPage, p: &Pretty, with_noise: bool) -> String {
    let mut out = String::new();
    let r = &page.summary.rollup;
    let _ = writeln!(out, "{} {}", p.paint(BOLD, "session"), p.paint(BOLD, &clean(&page.session)));
    // What the capture missed comes first: it says what the rest cannot show.
    if r.tls_not_captured {
        let _ = writeln!(
            out,
            "{}",
            p.paint(RED, "! TLS plaintext was not captured for a process: its LLM calls are missing")
        );
    }
    for c in &page.coverage {
        let _ = writeln!(out, "{}", p.paint(RED, &format!("! {}", clean(c))));
    }
    if page.lost_events as usize > page.coverage.len() {
        let _ = writeln!(out, "{}", p.paint(RED, &format!("! … {} loss events in all", page.lost_events)));
    }
    if page.events_cut {
        let _ = writeln!(out, "{}", p.paint(RED, "! the session has more events than are read: the view stops there"));
    }
    if let Some(agent) = &r.agent {
        let command =
            r.command.as_deref().map(|c| format!("  {}", p.paint(DIM, &format!("({})", clean(c))))).unwrap_or_default();
        let _ = writeln!(out, "agent {}{command}", clean(agent));
    }
    let mut facts = vec![
        format!("models {}", or_dash(clean(&r.models.join(", ")).into_owned())),
        format!("tokens {} in / {} out", r.input_tokens, r.output_tokens),
        format!("{} turns", page.view.total_turns),
        human_duration(r.duration_ns),
    ];
    if let Some(code) = r.exit_code {
        facts.push(if code == 0 { "exit 0".into() } else { p.paint(RED, &format!("exit {code}")) });
    }
    let failed = format!("{} commands, {} failed", r.commands, r.failed_commands);
    facts.push(if r.failed_commands > 0 { p.paint(RED, &failed) } else { failed });
    if !r.findings_by_kind.is_empty() {
        facts.push(p.paint(YELLOW, &format!("findings: {}", clean(&findings_by_kind(&page.summary)))));
    }
    let _ = writeln!(out, "{}", facts.join(" · "));
    for id in &page.view.unpinned_findings {
        if let Some(f) = page.findings.iter().find(|f| &f.finding_id == id) {
            let _ = writeln!(
                out,
                "{}",
                pin_line(p, f.kind.as_str(), f.score, &f.detector, &f.rationale, "(cites no event of this session)")
            );
        }
    }
    for t in &page.view.turns {
        out.push('\n');
        turn_text(&mut out, t, p, with_noise);
    }
    let shown = &page.view.turns;
    if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
        if first.index > 0 || page.view.next_turn_from.is_some() {
            let _ = write!(
                out,
                "\n{}",
                p.paint(DIM, &format!("turns {} to {} of {} shown", first.index, last.index, page.view.total_turns))
            );
            match page.view.next_turn_from {
                Some(next) => {
                    let cmd = format!("agentsight show {} --turn {next}", page.session);
                    let _ =
                        writeln!(out, "{}", p.paint(DIM, &format!("; more with `{}` (and `--turns M`)", clean(&cmd))));
                }
                None => out.push('\n'),
            }
        }
    }
    out
}

fn pin_line(p: &Pretty, kind: &str, score: f64, detector: &str, rationale: &str, note: &str) -> String {
    let text = format!(
        "◆ finding {} {score:.2} [{}] {}{}",
        clean(kind),
        clean(detector),
        cut_line(rationale, LINE_CHARS),
        if note.is_empty() { String::new() } else { format!(" {note}") }
    );
    p.paint(YELLOW, &text)
}

fn turn_text(out: &mut String, t: &TurnView, p: &Pretty, with_noise: bool) {
    let mut head = format!("── turn {}  {}", t.index, p.time(t.start_ns));
    match &t.llm {
        Some(l) => {
            let _ =
                write!(head, "  {}/{} {}", clean(&l.provider), clean(&l.api), clean(l.model.as_deref().unwrap_or("?")));
            if let (Some(i), Some(o)) = (l.input_tokens, l.output_tokens) {
                let _ = write!(head, "  {i}→{o} tokens");
            }
            let _ = write!(head, "  {:.1} s", l.latency_ms / 1000.0);
        }
        None => head.push_str("  start-up, before the first LLM call"),
    }
    let _ = writeln!(out, "{}", p.paint(BOLD, &format!("{head} ──")));
    if let Some(l) = &t.llm {
        for u in &l.user {
            text_block(out, p, "user", u, CYAN);
        }
        if l.status >= 400 || l.status == 0 || l.error.is_some() {
            let why = l.error.as_deref().map(|e| format!(": {}", cut_line(e, LINE_CHARS))).unwrap_or_default();
            let _ = writeln!(out, "  {}", p.paint(RED, &format!("status {}{why}", l.status)));
        }
        if l.incomplete {
            let _ = writeln!(out, "  {}", p.paint(RED, "(the exchange was not captured whole)"));
        }
        if !l.assistant.trim().is_empty() {
            text_block(out, p, "assistant", &l.assistant, MAGENTA);
        }
    }
    for call in &t.tool_calls {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            p.paint(GREEN, "→"),
            p.paint(BOLD, &clean(&call.name)),
            p.paint(DIM, &cut_line(&call.arguments, LINE_CHARS))
        );
        actions_text(out, &call.caused, p, 6);
        if let Some(result) = &call.result {
            let _ = writeln!(out, "      {} {}", p.paint(DIM, "result:"), p.paint(DIM, &cut_line(result, LINE_CHARS)));
        }
    }
    if !is_empty(&t.uncaused) {
        let _ = writeln!(out, "  {}", p.paint(DIM, "not caused by a tool call:"));
        actions_text(out, &t.uncaused, p, 6);
    }
    if t.noise > 0 {
        match (&t.noise_events, with_noise) {
            (Some(events), true) => {
                let _ = writeln!(out, "  {}", p.paint(DIM, &format!("noise ({} events):", t.noise)));
                for a in events {
                    action_line(out, a, p, 6, true);
                }
            }
            _ => {
                let _ = writeln!(out, "  {}", p.paint(DIM, &format!("· {} noise events folded (library and system reads, failed lookups, caches; --noise lists them)", t.noise)));
            }
        }
    }
    for pin in &t.findings {
        let _ = writeln!(out, "  {}", pin_line(p, &pin.kind, pin.score, &pin.detector, &pin.rationale, ""));
    }
}

fn is_empty(a: &Actions) -> bool {
    a.commands.is_empty() && a.files.is_empty() && a.connections.is_empty() && a.other.is_empty()
}

fn actions_text(out: &mut String, a: &Actions, p: &Pretty, indent: usize) {
    for c in &a.commands {
        command_line(out, c, p, indent);
    }
    for x in a.files.iter().chain(&a.connections).chain(&a.other) {
        action_line(out, x, p, indent, false);
    }
}

fn command_line(out: &mut String, c: &CommandView, p: &Pretty, indent: usize) {
    let pad = " ".repeat(indent + 2 * c.depth as usize);
    let status = match (c.exit_code, c.signal) {
        (_, Some(sig)) if sig != 0 => p.paint(RED, &format!("killed by signal {sig} ✗")),
        (Some(0), _) => p.paint(DIM, "exit 0"),
        (Some(code), _) => p.paint(RED, &format!("exit {code} ✗")),
        (None, _) => p.paint(DIM, "no exit seen"),
    };
    let took = c.duration_ns.map(|d| format!("  {}", p.paint(DIM, &human_duration(d)))).unwrap_or_default();
    let _ = writeln!(out, "{pad}$ {}  {status}{took}", clean(&c.command));
}

fn action_line(out: &mut String, a: &Action, p: &Pretty, indent: usize, dim: bool) {
    let text = cut_line(&a.text, LINE_CHARS);
    let text = if a.failed {
        p.paint(RED, &text)
    } else if dim {
        p.paint(DIM, &text)
    } else {
        text
    };
    let _ = writeln!(out, "{}{text}  {}", " ".repeat(indent), p.paint(DIM, &format!("{}[{}]", clean(&a.comm), a.pid)));
}

/// A labelled block of text (user input, assistant text), cut to a readable length with a note
/// of what was cut; each line cleaned.
fn text_block(out: &mut String, p: &Pretty, label: &str, text: &str, color: &str) {
    let text = text.trim();
    let total_chars = text.chars().count();
    let mut kept = String::new();
    for (n, line) in text.lines().take(TEXT_LINES).enumerate() {
        let room = TEXT_CHARS.saturating_sub(kept.chars().count());
        if room == 0 {
            break;
        }
        if n > 0 {
            kept.push('\n');
        }
        kept.extend(line.chars().take(room));
    }
    let width = label.chars().count() + 2;
    for (i, line) in kept.lines().enumerate() {
        let head = if i == 0 { format!("{}  ", p.paint(color, label)) } else { " ".repeat(width) };
        let _ = writeln!(out, "  {head}{}", clean(line));
    }
    // Characters dropped, newlines included: the whole text less what was kept.
    let cut = total_chars.saturating_sub(kept.chars().count());
    if cut > 0 {
        let _ = writeln!(
            out,
            "  {}{}",
            " ".repeat(width),
            p.paint(DIM, &format!("… {cut} more characters cut (--json has the text)"))
        );
    }
}

/// `s` on one line, cleaned and cut at `max` characters.
fn cut_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = flat.chars().count();
    let mut kept: String = flat.chars().take(max).collect();
    if n > max {
        kept.push('…');
    }
    clean(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_with_a_note_of_how_much() {
        let p = Pretty::new(false);
        let mut out = String::new();
        text_block(&mut out, &p, "assistant", &"x".repeat(TEXT_CHARS + 100), MAGENTA);
        assert!(out.contains("… 100 more characters cut"), "{out}");
        let mut out = String::new();
        let many: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
        text_block(&mut out, &p, "user", &many.join("\n"), CYAN);
        assert_eq!(out.lines().count(), TEXT_LINES + 1, "{out}");
        assert!(out.contains("line 14") && !out.contains("line 15"), "{out}");
        let mut out = String::new();
        text_block(&mut out, &p, "user", "short", CYAN);
        assert_eq!(out, "  user  short\n");
    }

    #[test]
    fn trace_text_cannot_reach_the_terminal_raw() {
        let p = Pretty::new(false);
        let mut out = String::new();
        text_block(&mut out, &p, "user", "hi\u{1b}]0;pwned\u{7}\nnext\u{1b}[2J", CYAN);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert_eq!(cut_line("a\n\tb\u{1b}c", 10), r"a b\x1bc");
        assert_eq!(cut_line("abcdef", 3), "abc…");
    }
}
