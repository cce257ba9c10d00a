//! The body of `POST /v1/windows`: inflated and deserialised on the blocking pool, under a cap
//! on decompressed bytes that holds however many bodies arrive at once.
//!
//! Why: a 31 KB gzip body inflates to 32 MiB of `[0,0,…]`; parsed into a `serde_json::Value` on
//! an async worker it cost ~570 MiB, and eight at once stalled `/healthz` for 2.5 s. Now:
//! - the body is read as sent (compressed), at most `max_body_bytes` of it;
//! - it is inflated on the blocking pool and inflation stops at `max_body_bytes` + 1 bytes (413);
//! - it is deserialised straight into [`Window`]s, so a body that is not windows fails at its
//!   first wrong value, and one that is costs about what its windows cost;
//! - the caller holds one of a few decode slots across inflate, parse and ingest (see
//!   `post_windows`), so the decompressed bytes in flight are at most slots × `max_body_bytes`
//!   while other requests wait holding only their compressed bytes.

use std::io::Read;

use axum::http::{header, HeaderMap};
use model::Window;
use serde_json::error::Category;

use super::ApiError;

/// How the body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    /// From `Content-Encoding`: none, `identity`, `gzip` (the collector's shipper sends gzip).
    pub(super) fn from_headers(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let mut values = headers.get_all(header::CONTENT_ENCODING).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Ok(Encoding::Identity);
        };
        let value = value.to_str().unwrap_or("").trim();
        if value.is_empty() || value.eq_ignore_ascii_case("identity") {
            Ok(Encoding::Identity)
        } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Ok(Encoding::Gzip)
        } else {
            Err(ApiError::UnsupportedMediaType(format!(
                "unsupported content-encoding `{}`: send JSON as is or gzip",
                value.escape_debug()
            )))
        }
    }
}

pub(super) fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("request body over {limit} bytes (`max_body_bytes`, after decompression)"))
}

/// Inflates (if need be) and deserialises one window or an array of windows. Blocking: CPU
/// and up to `limit` bytes of memory.
pub(super) fn decode_windows(raw: &[u8], encoding: Encoding, limit: usize) -> Result<Vec<Window>, ApiError> {
    match encoding {
        Encoding::Identity if raw.len() > limit => Err(too_large(limit)),
        Encoding::Identity => parse_windows(raw),
        Encoding::Gzip => parse_windows(&gunzip(raw, limit)?),
    }
}

/// At most `limit` bytes of the inflated body; more is a 413, whatever the rest would be.
fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(raw)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

/// Parses strictly, straight into the window type (never an intermediate `Value`): an array
/// when the body starts with `[`, else one window. Serde's message names the field and the
/// place; a syntax error is a 400, JSON that is not windows a 422.
fn parse_windows(json: &[u8]) -> Result<Vec<Window>, ApiError> {
    let first = json.iter().find(|b| !b.is_ascii_whitespace());
    let windows = if first == Some(&b'[') {
        serde_json::from_slice::<Vec<Window>>(json)
    } else {
        serde_json::from_slice::<Window>(json).map(|w| vec![w])
    };
    windows.map_err(|e| match e.classify() {
        Category::Data => ApiError::Unprocessable(format!("not a window: {e}")),
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest(format!("body is not JSON: {e}")),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn status(r: Result<Vec<Window>, ApiError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => axum::response::IntoResponse::into_response(e).status().as_u16(),
        }
    }

    #[test]
    fn encodings() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_ENCODING, v.parse().unwrap());
            Encoding::from_headers(&h).map_err(|e| format!("{e:?}"))
        };
        assert_eq!(Encoding::from_headers(&HeaderMap::new()).unwrap(), Encoding::Identity);
        assert_eq!(with("identity").unwrap(), Encoding::Identity);
        assert_eq!(with("gzip").unwrap(), Encoding::Gzip);
        assert_eq!(with("GZIP").unwrap(), Encoding::Gzip);
        assert!(with("br").unwrap_err().contains("unsupported content-encoding `br`"));
        assert!(with("gzip, gzip").is_err());
    }

    #[test]
    fn inflation_stops_at_the_limit() {
        let json = vec![b' '; 1 << 20];
        assert_eq!(status(decode_windows(&gzip(&json), Encoding::Gzip, 1000)), 413);
        assert_eq!(status(decode_windows(&json, Encoding::Identity, 1000)), 413);
        assert_eq!(status(decode_windows(b"\x1f\x8b junk", Encoding::Gzip, 1000)), 400);
    }

    #[test]
    fn json_that_is_not_windows_fails_at_its_first_value() {
        // The shape that cost ~570 MiB as a `Value`: now refused at its first element.
        let mut bomb = b"[".to_vec();
        bomb.extend("0,".repeat(1 << 20).bytes());
        bomb.extend(b"0]");
        let err = parse_windows(&bomb).unwrap_err();
        assert!(matches!(&err, ApiError::Unprocessable(m) if m.contains("line 1 column 2")), "{err:?}");
        assert_eq!(status(parse_windows(b"{\"window_id\": ")), 400);
        assert_eq!(status(parse_windows(b"")), 400);
        assert_eq!(status(parse_windows(b"  {\"window_id\": 1}")), 422);
    }
}
