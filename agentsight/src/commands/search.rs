//! `agentsight search QUERY`: full-text search of the index, read-only (beside a running
//! `serve`), as text or JSON.

use std::path::Path;

use analyzer::index::SearchQuery;
use anyhow::Result;

use crate::datadir::open_index;
use crate::render::{print_json, print_text};

/// `agentsight search QUERY`.
pub(crate) fn search(q: SearchQuery, data: &Path, json: bool) -> Result<i32> {
    let index = open_index(data)?;
    let hits = index.search(&q)?;
    if json {
        print_json(&hits)?;
        return Ok(0);
    }
    if hits.is_empty() {
        // Nothing found is an answer, not a failure (see README, "Exit codes").
        eprintln!("agentsight: nothing matches `{}`", q.query);
        return Ok(0);
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut out = String::new();
    for h in &hits {
        let when = jiff::Timestamp::from_nanosecond(h.ts_ns as i128)
            .map(|t| t.strftime("%F %T").to_string())
            .unwrap_or_default();
        let snippet = if tty { bold(&h.snippet, &h.highlights) } else { h.snippet.clone() };
        out.push_str(&format!("{when}  {:<8} {:<10} {}  {}\n    {}\n", h.doc, h.kind, h.session, h.id, snippet));
    }
    print_text(&out)?;
    Ok(0)
}

/// `text` with its highlighted byte ranges in bold (ANSI), for a terminal.
fn bold(text: &str, highlights: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len() + highlights.len() * 8);
    let mut at = 0;
    for &(start, end) in highlights {
        // Ranges come from the index, sorted and on char boundaries; a bad one is left plain.
        let (Some(before), Some(word)) = (text.get(at..start), text.get(start..end)) else { continue };
        out.push_str(before);
        out.push_str("\x1b[1m");
        out.push_str(word);
        out.push_str("\x1b[0m");
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_marks_the_ranges_and_nothing_else() {
        assert_eq!(bold("run <b>pytest</b> now", &[(7, 13)]), "run <b>\x1b[1mpytest\x1b[0m</b> now");
        assert_eq!(bold("测试通过 ok", &[(0, 12), (13, 15)]), "\x1b[1m测试通过\x1b[0m \x1b[1mok\x1b[0m");
        assert_eq!(bold("plain", &[]), "plain");
        assert_eq!(bold("abc", &[(1, 9)]), "abc", "a range past the end is left plain");
    }
}
