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
    Query { query: String, reason: QueryReason },
    #[error("invalid window: {0}")]
    InvalidWindow(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("judge: {0}")]
    Judge(String),
    #[error("webhook `{url}`: {reason}")]
    Webhook { url: String, reason: String },
    #[error("OpenTelemetry export to `{url}`: {reason}")]
    Export { url: String, reason: String },
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

/// Why a search query was refused, and where: what an API answers with 400.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueryReason {
    /// What is wrong, naming the offending token or field, with its position in words.
    pub message: String,
    /// Where the problem starts: an offset in characters (Unicode scalar values, from 0) into
    /// the query as given; `None` when it is the query as a whole (too long, only exclusions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl std::fmt::Display for QueryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
