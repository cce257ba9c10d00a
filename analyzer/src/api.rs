//! The HTTP API: a thin adapter over [`Analyzer`]. Each handler extracts, calls one domain
//! function, serialises. [`ApiError`] maps error kinds to status codes and never shows
//! internals (paths, tantivy messages) to the client; those go to the server's log.
//!
//! Routes: `POST /v1/windows` (one window or an array; gzip accepted), `GET /v1/sessions`,
//! `GET /v1/sessions/{id}`, `GET /v1/search`, `GET /v1/findings`, `GET /healthz`, `GET /metrics`,
//! and the web UI at `/`. With a token configured every route but `/` and `/healthz` needs
//! `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{Finding, Window};
use serde::{Deserialize, Serialize};
use tower_http::decompression::RequestDecompressionLayer;

use crate::index::{FindingFilter, SearchQuery, SessionInfo};
use crate::service::{Analyzer, IngestReport};
use crate::Error;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub analyzer: Arc<Analyzer>,
    /// Required bearer token, if any.
    pub token: Option<String>,
}

/// The whole API.
pub fn router(state: ApiState) -> Router {
    let limit = state.analyzer.config().max_body_bytes;
    Router::new()
        .route("/v1/windows", post(post_windows))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{id}", get(session))
        .route("/v1/search", get(search))
        .route("/v1/findings", get(findings))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        // The page itself holds no data; its requests carry the token the user types in.
        .route("/", get(ui))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(RequestDecompressionLayer::new())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// An error as the client sees it: a status and a message without internals.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    NotFound,
    PayloadTooLarge,
    Unprocessable(String),
    Internal,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Query { query, reason } => ApiError::BadRequest(format!("invalid query `{query}`: {reason}")),
            Error::InvalidWindow(msg) => ApiError::Unprocessable(format!("invalid window: {msg}")),
            other => {
                // The detail stays in the server's log.
                eprintln!("agentsight serve: {other}");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "no such session".into()),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large".into()),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".into()),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

async fn auth(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = &state.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn post_windows(State(state): State<ApiState>, body: Result<Bytes, axum::extract::rejection::BytesRejection>) -> Result<Json<IngestReport>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let windows = parse_windows(&body)?;
    let analyzer = state.analyzer.clone();
    let report = tokio::task::spawn_blocking(move || analyzer.ingest(&windows))
        .await
        .map_err(|_| ApiError::Internal)??;
    Ok(Json(report))
}

/// Parses the body strictly: serde's message names the field and the place.
fn parse_windows(body: &[u8]) -> Result<Vec<Window>, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("body is not JSON: {e}")))?;
    let windows = if value.is_array() {
        serde_json::from_value::<Vec<Window>>(value)
    } else {
        serde_json::from_value::<Window>(value).map(|w| vec![w])
    };
    windows.map_err(|e| ApiError::Unprocessable(format!("not a window: {e}")))
}

/// A query string that does not fit (unknown parameter, wrong type) is a 400 with a JSON
/// `{error}` like every other refusal, not axum's plain-text rejection.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn sessions(State(state): State<ApiState>) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(blocking(state, |a| a.sessions()).await?))
}

#[derive(Serialize)]
struct SessionView {
    session: String,
    events: Vec<model::Event>,
    findings: Vec<Finding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    #[serde(default = "default_timeline")]
    limit: usize,
}

fn default_timeline() -> usize {
    10_000
}

async fn session(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    limit: Result<Query<Limit>, QueryRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let limit = query(limit)?;
    let view = blocking(state, move |a| {
        let events = a.session_events(&id, limit.limit)?;
        let findings = a.findings(&FindingFilter { session: Some(id.clone()), limit: 1000, ..Default::default() })?;
        Ok(SessionView { session: id, events, findings })
    })
    .await?;
    if view.events.is_empty() && view.findings.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(view))
}

async fn search(State(state): State<ApiState>, q: Result<Query<SearchQuery>, QueryRejection>) -> Result<Response, ApiError> {
    let q = query(q)?;
    let hits = blocking(state, move |a| a.search(&q)).await?;
    Ok(Json(hits).into_response())
}

async fn findings(State(state): State<ApiState>, f: Result<Query<FindingFilter>, QueryRejection>) -> Result<Json<Vec<Finding>>, ApiError> {
    let f = query(f)?;
    Ok(Json(blocking(state, move |a| a.findings(&f)).await?))
}

async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.analyzer.metrics())
}

async fn ui() -> Html<&'static str> {
    Html(include_str!("../../web/index.html"))
}

/// Runs a synchronous domain call off the async workers.
async fn blocking<T: Send + 'static>(
    state: ApiState,
    f: impl FnOnce(&Analyzer) -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let analyzer = state.analyzer.clone();
    tokio::task::spawn_blocking(move || f(&analyzer)).await.map_err(|_| ApiError::Internal)?.map_err(ApiError::from)
}
