//! `agentsight export --otlp URL`: recorded sessions as OpenTelemetry spans (GenAI semantic
//! conventions, see `analyzer::otlp`) sent to an OTLP/HTTP receiver, once. `serve` does the same
//! continuously when `analyzer.export.otlp` is configured.
//!
//! Reads the index read-only, so it runs beside a `serve`. Each session is built and sent on its
//! own (progress on stderr), and the first failure stops the command with the receiver's
//! answer: a receiver that refuses one session refuses the rest.

use std::path::Path;

use analyzer::otlp::{ExportConfig, Exported, Exporter};
use analyzer::service;
use anyhow::{Context, Result};

/// What `export` was told beyond the config file (`--otlp`, `--project` and `--no-content` are
/// in its `[analyzer.export]` already).
#[derive(Debug)]
pub(crate) struct ExportArgs {
    /// Sessions (ids or their starts); empty: all.
    pub sessions: Vec<String>,
}

/// `agentsight export`.
pub(crate) fn run(args: ExportArgs, config: ExportConfig, data: &Path) -> Result<i32> {
    if config.otlp.is_empty() {
        anyhow::bail!("no OTLP endpoint: give --otlp URL (e.g. http://127.0.0.1:6006/v1/traces) or set `analyzer.export.otlp` in the config");
    }
    let exporter = Exporter::new(&config)?;
    let index = crate::datadir::open_index(data)?;
    let all = index.sessions()?;
    let wanted: Vec<String> =
        args.sessions.iter().map(|s| crate::commands::sessions::resolve(&index, s, data)).collect::<Result<_>>()?;
    let sessions: Vec<_> = all.into_iter().filter(|s| wanted.is_empty() || wanted.contains(&s.id)).collect();
    if sessions.is_empty() {
        eprintln!("agentsight: no sessions in `{}`: nothing to export", data.display());
        return Ok(0);
    }
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("failed to start the runtime")?;
    let mut total = Exported::default();
    for (n, info) in sessions.iter().enumerate() {
        let spans = service::session_spans(&index, info, config.content)?;
        let sent = rt.block_on(exporter.send(spans)).with_context(|| format!("session `{}` not exported", info.id))?;
        eprintln!(
            "agentsight: [{}/{}] {}: {} spans, {} evaluations",
            n + 1,
            sessions.len(),
            info.id,
            sent.spans,
            sent.evaluations
        );
        total += sent;
    }
    crate::render::print_text(&format!(
        "exported {} sessions ({} spans, {} evaluations) to {}\n",
        sessions.len(),
        total.spans,
        total.evaluations,
        exporter.url()
    ))?;
    Ok(0)
}
