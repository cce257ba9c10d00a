//! What the commands print, as text: JSON and text on stdout (a reader that went away is not
//! an error), findings, coverage warnings and the judge's line. The live event lines and their
//! colours are `pretty`'s; a recording's closing summary is the writer's own
//! (`pipeline::Written::report`), the session list and turns `commands::sessions`'s.

use std::io::{self, Write};

use analyzer::service::Analyzer;
use anyhow::{Context, Result};
use model::Finding;

use crate::pretty::clean;

/// Prints a value as pretty JSON on stdout (`--json`).
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("failed to serialise JSON")?;
    text.push('\n');
    print_text(&text)
}

/// Prints text on stdout; a reader that went away (`| head`) is not an error.
pub(crate) fn print_text(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("failed to write to stdout"),
        _ => Ok(()),
    }
}

/// Whether a judge runs, and which: said by `serve` at its start and `record --analyze` at its end.
pub(crate) fn judge_line(analyzer: &Analyzer) -> String {
    match analyzer.judge_summary() {
        None => "agentsight: no LLM judge configured: deterministic detectors only (set AGENTSIGHT_JUDGE_URL and AGENTSIGHT_JUDGE_MODEL, or an [analyzer.judge] section in the config, to add one)".into(),
        Some(summary) => format!("agentsight: {summary}"),
    }
}

/// A finding as a person reads it.
pub(crate) fn finding_text(f: &Finding) -> String {
    let by = match &f.judge {
        Some(j) => format!("judge {} ({})", j.model, j.prompt_id),
        None => f.detector.clone(),
    };
    let mut out = format!("  {:<14} {:.2}  {}  [{}]\n      {}\n", f.kind, f.score, f.window_id, by, f.rationale);
    for e in &f.evidence {
        out.push_str(&format!("      - {} ({})\n", e.summary, e.event));
    }
    out
}

/// Sessions listed with their coverage warnings in `findings` at most.
const COVERAGE_SESSIONS: usize = 10;

/// One block per session whose capture missed something (of `session` only, when given):
/// `! session ID: N coverage warnings` and the first lines.
pub(crate) fn coverage_text(sessions: &[analyzer::index::SessionInfo], session: Option<&str>) -> String {
    let missed: Vec<_> =
        sessions.iter().filter(|s| !s.coverage.is_empty() && session.is_none_or(|id| s.id == id)).collect();
    let mut out = String::new();
    for s in missed.iter().take(COVERAGE_SESSIONS) {
        out.push_str(&format!(
            "! session {}: what the capture missed ({} loss events):\n",
            clean(&s.id),
            s.lost_events
        ));
        for line in s.coverage.iter().take(3) {
            out.push_str(&format!("    {}\n", clean(line)));
        }
        if s.coverage.len() > 3 {
            out.push_str(&format!("    … `agentsight show {}` lists all\n", clean(&s.id)));
        }
    }
    if missed.len() > COVERAGE_SESSIONS {
        out.push_str(&format!(
            "! … {} more sessions with coverage warnings: `agentsight sessions`\n",
            missed.len() - COVERAGE_SESSIONS
        ));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
