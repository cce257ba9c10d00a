//! `agentsight prune`: deletes old sessions from the data directory by age and/or window log
//! size, once, holding the directory's writer lock while it does.

use std::path::Path;

use analyzer::config::Config;
use analyzer::service::Analyzer;
use anyhow::{bail, Result};

use crate::pipeline::runtime;
use crate::pretty::clean;
use crate::render::print_text;

/// `agentsight prune`: deletes sessions by age and/or log size (flags, else the config's
/// `[analyzer.retention]`).
pub(crate) fn prune(
    before_ns: Option<u64>,
    max_log_bytes: Option<u64>,
    dry_run: bool,
    mut config: Config,
    data: &Path,
) -> Result<i32> {
    if before_ns.is_none() && max_log_bytes.is_none() {
        bail!("nothing to prune by: give --older-than DURATION and/or --max-log-size MIB, or set `analyzer.retention.max_age_hours` / `analyzer.retention.max_log_mib` in the config");
    }
    if !data.join("index").exists() {
        bail!("no index in `{}`: nothing to prune", data.display());
    }
    crate::datadir::ensure_free(data)?;
    // This run deletes what it is told, once; the config's own retention task stays off.
    config.retention = Default::default();
    config.export.otlp.clear();
    let runtime = runtime()?;
    let (analyzer, tasks) =
        runtime.block_on(async { Analyzer::start(config, data) }).map_err(|e| crate::datadir::open_error(e, data))?;
    let report = analyzer.prune(before_ns, max_log_bytes, dry_run);
    runtime.block_on(tasks.shutdown(&analyzer))?;
    let report = report?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut text = String::new();
    for s in &report.sessions {
        text.push_str(&format!("{verb} {}\n", clean(s)));
    }
    text.push_str(&format!(
        "agentsight: {verb} {} sessions ({} windows, {:.1} MiB of window log); {} sessions kept ({:.1} MiB)\n",
        report.sessions.len(),
        report.windows,
        report.log_bytes as f64 / (1 << 20) as f64,
        report.sessions_kept,
        report.log_bytes_kept as f64 / (1 << 20) as f64,
    ));
    print_text(&text)?;
    Ok(0)
}
