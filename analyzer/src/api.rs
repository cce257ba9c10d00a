//! The HTTP API: a thin adapter over [`Analyzer`]. Each handler extracts, calls one domain
//! function, serialises. [`ApiError`] maps error kinds to status codes and never shows
//! internals (paths, tantivy messages) to the client; those go to the server's log.
//!
//! Routes: `POST /v1/windows` (one window or an array; gzip accepted), `GET /v1/sessions`,
//! `GET /v1/sessions/{id}`, `GET /v1/search`, `GET /v1/findings`, `GET /healthz`, `GET /metrics`,
//! and the web UI at `/`. With a token configured every route but `/` and `/healthz` needs
//! `Authorization: Bearer <token>`.
//!
//! Invariants, each held by a module of its own:
//! - every refusal is JSON `{"error": "..."}`, axum's own rejections included ([`guard`]);
//! - a local API (on loopback, or without a token) answers only requests addressed to a
//!   loopback name and not sent by another site's page; every write is JSON ([`guard`]);
//! - request bodies are inflated and deserialised on the blocking pool, at most
//!   [`ApiOptions::decode_slots`] at once, each capped at `max_body_bytes` ([`body`]);
//! - no connection is held by a client that does not send: headers and bodies have deadlines
//!   ([`serve()`], [`ApiOptions`]).

mod body;
mod guard;
mod serve;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::Finding;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::index::{FindingFilter, SearchQuery};
use crate::service::{Analyzer, IngestReport, SessionPage, SessionSummary};
use crate::view;
use crate::Error;

pub use serve::{serve, serve_with};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub analyzer: Arc<Analyzer>,
    /// Required bearer token, if any.
    pub token: Option<String>,
}

/// How the API treats its clients; [`ApiOptions::listening_on`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiOptions {
    /// Answer only requests addressed to a loopback name (`Host`) from no foreign `Origin`
    /// (see [`guard`]).
    pub local_only: bool,
    /// Request line and headers must arrive within this, counted from the first byte awaited
    /// (which also ends idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// A request body must arrive whole within this.
    pub body_read_timeout: Duration,
    /// Bodies inflated, deserialised and ingested at once; the decompressed bytes in flight are
    /// at most this many times `max_body_bytes`.
    pub decode_slots: usize,
}

impl ApiOptions {
    /// The defaults for a server listening on `local`: local-only when it listens on loopback or
    /// needs no token (which `serve` allows only on loopback).
    pub fn listening_on(local: SocketAddr, state: &ApiState) -> ApiOptions {
        ApiOptions { local_only: local.ip().is_loopback() || state.token.is_none(), ..ApiOptions::for_state(state) }
    }

    /// The defaults when no socket is known ([`router`] in tests): local-only without a token.
    fn for_state(state: &ApiState) -> ApiOptions {
        ApiOptions {
            local_only: state.token.is_none(),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            decode_slots: 2,
        }
    }
}

/// The router's own state: what callers give, and what the API adds.
#[derive(Debug, Clone)]
struct Ctx {
    api: ApiState,
    options: ApiOptions,
    /// One permit per body being inflated, deserialised and ingested.
    decode_slots: Arc<Semaphore>,
}

/// The whole API with the default options for a server without a known socket.
pub fn router(state: ApiState) -> Router {
    let options = ApiOptions::for_state(&state);
    router_with(state, options)
}

/// The whole API.
pub fn router_with(state: ApiState, options: ApiOptions) -> Router {
    let limit = state.analyzer.config().max_body_bytes;
    let guard = guard::Guard { local_only: options.local_only };
    let ctx = Ctx { decode_slots: Arc::new(Semaphore::new(options.decode_slots.max(1))), api: state, options };
    Router::new()
        .route("/v1/windows", post(post_windows))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{id}", get(session))
        .route("/v1/search", get(search))
        .route("/v1/search/fields", get(|| async { Json(crate::index::search_fields()) }))
        .route("/v1/findings", get(findings))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), auth))
        // The page itself holds no data; its requests carry the token the user types in.
        .route("/", get(ui))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { ApiError::NotFound("no such route") })
        // Applies to the compressed body; the decompressed one is capped in `body`.
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        .layer(axum::middleware::map_response(guard::json_errors))
        .with_state(ctx)
}

/// An error as the client sees it: a status and a message without internals.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    /// A search query that does not parse: the message and, where one part is at fault, its
    /// position (in characters from the start of the query), so a form can point at it.
    BadQuery {
        message: String,
        position: Option<usize>,
    },
    Unauthorized,
    /// A request this API never answers (a foreign `Host` or `Origin`).
    Forbidden(String),
    NotFound(&'static str),
    /// The body did not arrive in time.
    Timeout,
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    Unprocessable(String),
    Internal,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Query { query, reason } => {
                ApiError::BadQuery { message: format!("invalid query `{query}`: {reason}"), position: reason.position }
            }
            Error::InvalidWindow(msg) => ApiError::Unprocessable(format!("invalid window: {msg}")),
            other => {
                // The detail stays in the server's log.
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::BadQuery { message, position } = self {
            let body = match position {
                Some(position) => serde_json::json!({ "error": message, "position": position }),
                None => serde_json::json!({ "error": message }),
            };
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        let (status, message) = match self {
            ApiError::BadQuery { message, .. } | ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, what.into()),
            ApiError::Timeout => (StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time".into()),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".into()),
        };
        let mut resp = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: do not read it as the next request.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

async fn auth(State(ctx): State<Ctx>, headers: HeaderMap, req: Request, next: axum::middleware::Next) -> Response {
    if let Some(token) = &ctx.api.token {
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn post_windows(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    req: Request,
) -> Result<Json<IngestReport>, ApiError> {
    let encoding = body::Encoding::from_headers(&headers)?;
    let raw = match tokio::time::timeout(ctx.options.body_read_timeout, Bytes::from_request(req, &())).await {
        Err(_) => return Err(ApiError::Timeout),
        Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(body::too_large(ctx.limit())),
        Ok(Err(e)) => return Err(ApiError::BadRequest(e.body_text())),
        Ok(Ok(raw)) => raw,
    };
    // Waiting here holds only the compressed bytes; the slot bounds what inflating costs.
    let slot = ctx.decode_slots.clone().acquire_owned().await.map_err(|_| ApiError::Internal)?;
    let analyzer = ctx.api.analyzer.clone();
    let limit = ctx.limit();
    let report = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let windows = body::decode_windows(&raw, encoding, limit)?;
        drop(raw);
        analyzer.ingest(&windows).map_err(ApiError::from)
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    Ok(Json(report))
}

impl Ctx {
    fn limit(&self) -> usize {
        self.api.analyzer.config().max_body_bytes
    }
}

/// A query string that does not fit (unknown parameter, wrong type) is a 400 with a JSON
/// `{error}` like every other refusal, not axum's plain-text rejection.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn sessions(State(ctx): State<Ctx>) -> Result<Json<Vec<SessionSummary>>, ApiError> {
    Ok(Json(blocking(ctx, |a| a.session_summaries()).await?))
}

/// `GET /v1/sessions/{id}?turn_from=N&turns=M&noise=true&events=true&limit=L`: a page of turns
/// (see [`crate::view`]); `event=ID` starts the page at the turn holding that event instead of
/// `turn_from`; `noise` lists each turn's folded events, `events` adds the first `limit` raw
/// events.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionQuery {
    #[serde(default)]
    turn_from: usize,
    event: Option<String>,
    #[serde(default = "default_turns")]
    turns: usize,
    #[serde(default)]
    noise: bool,
    #[serde(default)]
    events: bool,
    #[serde(default = "default_timeline")]
    limit: usize,
}

fn default_turns() -> usize {
    view::DEFAULT_TURNS
}

fn default_timeline() -> usize {
    10_000
}

async fn session(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    q: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<SessionPage>, ApiError> {
    let q = query(q)?;
    let page = view::Page { turn_from: q.turn_from, at_event: q.event, turns: q.turns, noise: q.noise };
    let events = q.events.then_some(q.limit);
    match blocking(ctx, move |a| a.session_page(&id, page, events)).await? {
        Some(view) => Ok(Json(view)),
        None => Err(ApiError::NotFound("no such session")),
    }
}

async fn search(State(ctx): State<Ctx>, q: Result<Query<SearchQuery>, QueryRejection>) -> Result<Response, ApiError> {
    let q = query(q)?;
    let hits = blocking(ctx, move |a| a.search(&q)).await?;
    Ok(Json(hits).into_response())
}

async fn findings(
    State(ctx): State<Ctx>,
    f: Result<Query<FindingFilter>, QueryRejection>,
) -> Result<Json<Vec<Finding>>, ApiError> {
    let f = query(f)?;
    Ok(Json(blocking(ctx, move |a| a.findings(&f)).await?))
}

async fn metrics(State(ctx): State<Ctx>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], ctx.api.analyzer.metrics())
}

async fn ui() -> Html<&'static str> {
    Html(include_str!("../../web/index.html"))
}

/// Runs a synchronous domain call off the async workers.
async fn blocking<T: Send + 'static>(
    ctx: Ctx,
    f: impl FnOnce(&Analyzer) -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let analyzer = ctx.api.analyzer.clone();
    tokio::task::spawn_blocking(move || f(&analyzer)).await.map_err(|_| ApiError::Internal)?.map_err(ApiError::from)
}
