//! `agentsight report`: the review report of a period (`analyzer::report`), Markdown or HTML, on
//! stdout or into a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::datadir::open_index;
use crate::render::print_text;

/// `agentsight report`.
pub(crate) fn report(
    since: Duration,
    format: analyzer::report::Format,
    out: Option<PathBuf>,
    data: &Path,
) -> Result<i32> {
    let index = open_index(data)?;
    let now = jiff::Timestamp::now().as_nanosecond().max(0) as u64;
    let since_ns = now.saturating_sub(since.as_nanos() as u64);
    let text = analyzer::report::build(&index, since_ns, now, format)?;
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))?;
            eprintln!("agentsight: report written to {}", path.display());
        }
        None => print_text(&text)?,
    }
    Ok(0)
}
