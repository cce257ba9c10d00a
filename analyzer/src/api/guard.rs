//! What every request must satisfy before any route sees it, and the shape of every refusal.
//!
//! A local API (listening on loopback, or without a token) trusts that only this machine can
//! reach it. A web page in the user's browser runs on this machine too: it can send a CORS
//! "simple" request cross-site (a `text/plain` POST, no preflight), and through DNS rebinding
//! (its own name re-resolved to 127.0.0.1) it can read answers as if it were same-origin, such
//! as the prompts in `/v1/sessions`. So:
//! - on a local API, the `Host` (and an absolute request URI's authority) must be a loopback
//!   name: `127.0.0.1` (any `127.x.y.z`), `localhost` or `[::1]`, with any port. A rebinding
//!   page's requests carry its own name. 403 otherwise;
//! - on a local API, an `Origin`, when sent, must be a loopback origin. Browsers send one on
//!   every cross-origin request and on same-origin writes. 403 otherwise (`null` included);
//! - always, a write (any method but GET, HEAD, OPTIONS) must be `Content-Type:
//!   application/json`, gzip'd or not (`Content-Encoding`); a page can send that cross-site
//!   only after a CORS preflight, and this API answers none. 415 otherwise.
//!
//! [`json_errors`] turns any error reply that is not JSON (axum's plain-text rejections, an
//! unknown route, a wrong method) into `{"error": "..."}`, so clients parse one shape.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::ApiError;

/// The policy [`guard`] applies.
#[derive(Debug, Clone, Copy)]
pub(super) struct Guard {
    pub(super) local_only: bool,
}

pub(super) async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    match check(g, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(g: Guard, req: &Request) -> Result<(), ApiError> {
    let headers = req.headers();
    if g.local_only {
        let hosts = headers.get_all(header::HOST).iter().map(|v| v.to_str().unwrap_or("\u{fffd}"));
        if let Some(host) = hosts.chain(req.uri().authority().map(|a| a.as_str())).find(|h| !is_loopback_authority(h)) {
            return Err(ApiError::Forbidden(format!(
                "host `{}` is not a loopback name: this API answers only to 127.0.0.1, localhost and [::1]",
                host.escape_debug()
            )));
        }
        if let Some(origin) =
            headers.get_all(header::ORIGIN).iter().find(|o| !is_loopback_origin(o.to_str().unwrap_or("")))
        {
            return Err(ApiError::Forbidden(format!(
                "origin `{}` may not use this API: only pages served from a loopback address may",
                origin.to_str().unwrap_or("?").escape_debug()
            )));
        }
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) && !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType(
            "a write must be `Content-Type: application/json` (gzip as `Content-Encoding`)".into(),
        ));
    }
    Ok(())
}

/// `application/json`, with parameters (`; charset=utf-8`) or not.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// `host[:port]` where host is `localhost`, a 127/8 address or `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) => (v6, port),
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, _)) => (host, &authority[host.len()..]),
            None => (authority, ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if authority.starts_with('[') {
        host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
    } else {
        host.eq_ignore_ascii_case("localhost") || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    };
    port_ok && host_ok
}

/// `http://` or `https://` and a loopback authority, nothing after it.
fn is_loopback_origin(origin: &str) -> bool {
    let origin = origin.trim();
    ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            origin.get(..scheme.len()).filter(|s| s.eq_ignore_ascii_case(scheme)).map(|s| &origin[s.len()..])
        })
        .is_some_and(is_loopback_authority)
}

/// Any error reply that is not JSON becomes `{"error": <its text, or the status's reason>}`,
/// keeping its status and other headers (`Allow` of a 405).
pub(super) async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let mut out = Json(serde_json::json!({ "error": message })).into_response();
    *out.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn loopback_authorities() {
        for ok in ["127.0.0.1", "127.0.0.1:7395", "localhost", "LocalHost:80", "[::1]", "[::1]:7395", "127.1.2.3:1"] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:7395",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:7395",
            "0.0.0.0:7395",
            "[::2]:1",
            "[::1",
            "::1",
            "localhost:",
            "localhost:http",
            "localhost:123456",
            "127.0.0.1:80:80",
            "user@127.0.0.1",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_origins() {
        for ok in ["http://127.0.0.1:7395", "https://localhost", "http://[::1]:8080"] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "null",
            "",
            "http://evil.example",
            "file://",
            "http://127.0.0.1:7395/x",
            "ftp://localhost",
            "http://localhost.evil.example",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn json_content_types() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(!with("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn a_plain_text_rejection_becomes_json() {
        let resp =
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")], Body::empty()).into_response();
        let resp = json_errors(resp).await;
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET");
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"error": "method not allowed"})
        );
    }
}
