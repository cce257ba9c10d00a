//! The analyzer's one error type. Messages are lowercase with identifiers in backticks; HTTP
//! handlers map these to status codes without leaking internals (see `api`).

use std::path::PathBuf;

/// Everything that can go wrong in the analyzer library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {op} `{}`: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("index: {context}: {source}")]
    Index {
        context: String,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("invalid query `{query}`: {reason}")]
    Query { query: String, reason: String },
    #[error("invalid window: {0}")]
    InvalidWindow(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("judge: {0}")]
    Judge(String),
    #[error("webhook `{url}`: {reason}")]
    Webhook { url: String, reason: String },
    #[error("failed to {context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot {0}: the index is open read-only")]
    ReadOnlyIndex(&'static str),
    #[error("internal lock `{0}` poisoned by a panic")]
    Poisoned(&'static str),
    // new variants above this line
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
