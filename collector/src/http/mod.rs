//! HTTP reassembly of captured TLS plaintext: ordered byte streams of one connection, in both
//! directions, become [`Exchange`]s (a request and its response, bodies de-chunked and
//! decompressed). HTTP/1.1 (keep-alive, pipelining) and HTTP/2 (frames, HPACK) are handled.
//!
//! Invariants: any split of the same byte stream into chunks yields the same exchanges; no
//! input panics; memory is bounded by [`Limits`] (a body over its cap is cut and flagged, not
//! kept whole); a connection cut off mid-exchange yields what arrived, marked `incomplete`.

/// Which way bytes went, from the traced process's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by the process (`SSL_write`): requests.
    Out,
    /// Read by the process (`SSL_read`): responses.
    In,
}

/// Caps that bound memory per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decoded body kept, per request or response; more is counted, not kept.
    pub max_body_bytes: usize,
    /// Largest header block accepted before the stream is declared unparsable.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 32 << 20, max_header_bytes: 256 << 10 }
    }
}

/// One request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    pub host: Option<String>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Decoded body (de-chunked, decompressed), at most `max_body_bytes`.
    pub body: Vec<u8>,
    /// Body bytes as they came over the wire (before decompression), all of them.
    pub wire_bytes: u64,
    pub body_truncated: bool,
    /// When its first byte was written.
    pub start_ns: u64,
    /// When its last byte was written.
    pub end_ns: u64,
    /// 1 for HTTP/1.x, 2 for HTTP/2.
    pub version: u8,
}

/// One response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Decoded body (de-chunked, decompressed), at most `max_body_bytes`.
    pub body: Vec<u8>,
    pub wire_bytes: u64,
    pub body_truncated: bool,
    /// When its first byte (the status line or HEADERS frame) was read.
    pub start_ns: u64,
    /// When the first body byte was read, if any.
    pub first_body_ns: Option<u64>,
    /// When its last byte was read.
    pub end_ns: u64,
}

impl Request {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl Response {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A request with its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request: Request,
    /// `None` when the connection ended (or capture stopped) before a response began.
    pub response: Option<Response>,
    /// The request or response was cut off before its end.
    pub incomplete: bool,
}
