//! `agentsight findings`: findings worst first, after what the capture missed (a session without
//! findings may be one whose LLM calls were never seen).

use std::path::Path;

use analyzer::index::FindingFilter;
use anyhow::Result;

use crate::datadir::open_index;
use crate::render::{coverage_text, finding_text, print_json, print_text};

/// `agentsight findings`.
pub(crate) fn findings(filter: FindingFilter, data: &Path, json: bool) -> Result<i32> {
    let index = open_index(data)?;
    let findings = index.findings(&filter)?;
    if json {
        print_json(&findings)?;
        return Ok(0);
    }
    // What the capture missed comes first: a session without findings may be one whose LLM
    // calls were never seen.
    let mut text = coverage_text(&index.sessions()?, filter.session.as_deref());
    if findings.is_empty() {
        print_text(&text)?;
        eprintln!("agentsight: no findings");
        return Ok(0);
    }
    text.extend(findings.iter().map(finding_text));
    print_text(&text)?;
    Ok(0)
}
