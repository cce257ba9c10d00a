//! `agentsight search QUERY`: full-text search of the index, read-only (beside a running
//! `serve`), as text or JSON.

use std::path::Path;

use analyzer::index::SearchQuery;
use anyhow::Result;

use crate::datadir::open_index;
use crate::render::{print_json, print_text};

/// `agentsight search QUERY`.
pub fn search(q: SearchQuery, data: &Path, json: bool) -> Result<i32> {
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
        let when = jiff::Timestamp::from_nanosecond(h.ts_ns as i128).map(|t| t.strftime("%F %T").to_string()).unwrap_or_default();
        let snippet = if tty { h.snippet.replace("<b>", "\x1b[1m").replace("</b>", "\x1b[0m") } else { strip_tags(&h.snippet) };
        out.push_str(&format!("{when}  {:<8} {:<10} {}  {}\n    {}\n", h.doc, h.kind, h.session, h.id, unescape(&snippet)));
    }
    print_text(&out)?;
    Ok(0)
}

fn strip_tags(s: &str) -> String {
    s.replace("<b>", "").replace("</b>", "")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'").replace("&#39;", "'").replace("&amp;", "&")
}
