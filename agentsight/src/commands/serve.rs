//! `agentsight serve`: the analyzer service (`analyzer::api`) on the data directory until
//! Ctrl-C or SIGTERM, which stop it cleanly: the judge queue and the webhooks drained and the
//! index committed.

use std::net::SocketAddr;
use std::path::Path;

use analyzer::config::Config;
use analyzer::service::Analyzer;
use anyhow::{bail, Context, Result};

use crate::pipeline::runtime;
use crate::render::judge_line;

/// `agentsight serve` (`--listen` is in `config.listen` already).
pub(crate) fn serve(config: Config, data: &Path) -> Result<i32> {
    let addr: SocketAddr =
        config.listen.parse().with_context(|| format!("`{}` is not an address:port", config.listen))?;
    let token = std::env::var(&config.token_env).ok().filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        bail!(
            "refusing to listen on {addr} without a token: set {} to a secret bearer token (or listen on 127.0.0.1)",
            config.token_env
        );
    }
    crate::datadir::ensure_free(data)?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        let (analyzer, tasks) = Analyzer::start(config, data).map_err(|e| crate::datadir::open_error(e, data))?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("failed to listen on {addr}"))?;
        let _marker = listener.local_addr().ok().and_then(|a| crate::datadir::ServeMarker::write(data, a));
        eprintln!(
            "agentsight: serving {} on http://{addr} (web UI at /, API at /v1, metrics at /metrics){}",
            data.display(),
            if token.is_some() { "; bearer token required" } else { "" }
        );
        eprintln!("{}", judge_line(&analyzer));
        let state = analyzer::api::ApiState { analyzer: analyzer.clone(), token };
        analyzer::api::serve(listener, state, stop_requested()).await.context("the server failed")?;
        eprintln!("agentsight: stopping; finishing queued judge requests and webhooks");
        tasks.shutdown(&analyzer).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// Ctrl-C or SIGTERM (`systemctl stop`, `docker stop`): either stops `serve` cleanly, with the
/// judge queue and the webhooks drained and the index committed.
async fn stop_requested() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            // Without a handler SIGTERM keeps its default action; Ctrl-C still works.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
