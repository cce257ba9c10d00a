//! HTTP reassembly of captured TLS plaintext: ordered byte streams of one connection, in both
//! directions, become [`Exchange`]s (a request and its response, bodies de-chunked and
//! decompressed). HTTP/1.1 (keep-alive, pipelining) and HTTP/2 (frames, HPACK) are handled.
//!
//! Invariants: any split of the same byte stream into chunks yields the same exchanges; no
//! input panics; memory is bounded by [`Limits`] (a body over its cap is cut and flagged, not
//! kept whole); a connection cut off mid-exchange yields what arrived, marked `incomplete`.
//!
//! [`Conn`] is the entry point: it detects the protocol from the first bytes written (the HTTP/2
//! client preface, else an HTTP/1 request line), hands each direction's bytes to `h1` or `h2`,
//! and stops for good, keeping only the reason, on anything else or on a parse error, so a
//! connection it cannot follow costs nothing more. Bytes read before the request they answer
//! was written (a server speaking first) wait for it, up to `max_header_bytes`. Besides the body
//! and header caps, at most 1024 HTTP/1 requests may await responses and 1024 HTTP/2 streams be
//! open; more is a parse error.

mod body;
mod h1;
mod h2;
mod input;
#[cfg(test)]
mod tests;

use body::Body;
use input::Input;

/// What an HTTP/2 client writes first (RFC 9113 section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
    /// Body bytes as they came over the wire (de-chunked, before decompression), all of them.
    pub wire_bytes: u64,
    pub body_truncated: bool,
    /// When its first byte was written.
    pub start_ns: u64,
    /// When its last byte was written.
    pub end_ns: u64,
    /// 1 for HTTP/1.x, 2 for HTTP/2.
    pub version: u8,
    /// Why `Content-Encoding` could not be undone; `body` then holds the bytes as sent.
    pub decode_error: Option<String>,
}

/// One response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Decoded body (de-chunked, decompressed), at most `max_body_bytes`.
    pub body: Vec<u8>,
    /// Body bytes as they came over the wire (de-chunked, before decompression), all of them.
    pub wire_bytes: u64,
    pub body_truncated: bool,
    /// When its first byte (the status line or HEADERS frame) was read.
    pub start_ns: u64,
    /// When the first body byte was read, if any.
    pub first_body_ns: Option<u64>,
    /// When its last byte was read.
    pub end_ns: u64,
    /// Why `Content-Encoding` could not be undone; `body` then holds the bytes as sent.
    pub decode_error: Option<String>,
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

impl Request {
    /// Sets the body fields from the finished body; `cut` when it ended early.
    fn set_body(&mut self, body: Body, cut: bool) {
        let encoding = self.header("content-encoding").map(str::to_owned);
        let done = body.finish(encoding.as_deref(), cut);
        self.body = done.body;
        self.wire_bytes = done.wire_bytes;
        self.body_truncated = done.truncated;
        self.decode_error = done.decode_error;
    }
}

impl Response {
    /// Sets the body fields from the finished body; `cut` when it ended early.
    fn set_body(&mut self, body: Body, cut: bool) {
        let encoding = self.header("content-encoding").map(str::to_owned);
        let done = body.finish(encoding.as_deref(), cut);
        self.body = done.body;
        self.wire_bytes = done.wire_bytes;
        self.body_truncated = done.truncated;
        self.decode_error = done.decode_error;
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

/// One connection's reassembly: feed it both directions' bytes in order, get [`Exchange`]s.
#[derive(Debug)]
pub struct Conn {
    limits: Limits,
    out: Input,
    inn: Input,
    proto: Proto,
}

#[derive(Debug)]
enum Proto {
    /// Not enough written yet to tell.
    Detecting,
    H1(Box<h1::H1>),
    H2(Box<h2::H2>),
    /// Not parsed (not HTTP, or a parse error), and why; further bytes are dropped unread.
    Failed(String),
    /// `close` was called; further bytes are dropped unread.
    Closed,
}

/// What the first bytes written say.
#[derive(Debug, PartialEq, Eq)]
enum Detected {
    H1,
    H2,
    NeedMore,
    NotHttp(String),
}

impl Conn {
    pub fn new(limits: Limits) -> Self {
        Conn { limits, out: Input::default(), inn: Input::default(), proto: Proto::Detecting }
    }

    /// Feed bytes of one direction in order; returns exchanges completed by them.
    pub fn push(&mut self, dir: Direction, ts_ns: u64, data: &[u8]) -> Vec<Exchange> {
        if matches!(self.proto, Proto::Failed(_) | Proto::Closed) {
            return Vec::new();
        }
        match dir {
            Direction::Out => self.out.push(ts_ns, data),
            Direction::In => self.inn.push(ts_ns, data),
        }
        if matches!(self.proto, Proto::Detecting) {
            self.detect();
        }
        let mut done = Vec::new();
        // Both directions, because one may be waiting on the other (a response on its request).
        let result = match &mut self.proto {
            Proto::H1(p) => p.on_out(&mut self.out, &mut done).and_then(|()| p.on_in(&mut self.inn, &mut done)),
            Proto::H2(p) => p
                .on_data(Direction::Out, &mut self.out, &mut done)
                .and_then(|()| p.on_data(Direction::In, &mut self.inn, &mut done)),
            Proto::Detecting | Proto::Failed(_) | Proto::Closed => Ok(()),
        };
        if let Err(reason) = result {
            // What was under way is returned as it stands; nothing after the error is trusted.
            done.extend(self.close_parser());
            self.fail(reason);
        }
        done
    }

    /// The connection closed or capture stopped: flush what is pending as incomplete exchanges
    /// (a request without response -> response None, incomplete=true; a response cut mid-body ->
    /// incomplete=true with the body received so far). A response delimited by the close is
    /// whole. Timestamps stay those of the bytes, so `_ts_ns` is not recorded.
    pub fn close(&mut self, _ts_ns: u64) -> Vec<Exchange> {
        let done = self.close_parser();
        if !matches!(self.proto, Proto::Failed(_)) {
            self.proto = Proto::Closed;
        }
        self.out.clear();
        self.inn.clear();
        done
    }

    /// Why this connection is not being parsed (not HTTP, or a parse error), if it isn't.
    pub fn error(&self) -> Option<&str> {
        match &self.proto {
            Proto::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    fn close_parser(&mut self) -> Vec<Exchange> {
        match &mut self.proto {
            Proto::H1(p) => p.close(),
            Proto::H2(p) => p.close(),
            Proto::Detecting | Proto::Failed(_) | Proto::Closed => Vec::new(),
        }
    }

    fn fail(&mut self, reason: String) {
        self.proto = Proto::Failed(reason);
        self.out.clear();
        self.inn.clear();
    }

    fn detect(&mut self) {
        match detect(self.out.bytes(), self.limits.max_header_bytes) {
            Detected::H2 => {
                self.out.consume(PREFACE.len());
                self.proto = Proto::H2(Box::new(h2::H2::new(self.limits)));
            }
            Detected::H1 => self.proto = Proto::H1(Box::new(h1::H1::new(self.limits))),
            Detected::NotHttp(reason) => self.fail(reason),
            // A server may speak first (HTTP/2 SETTINGS); wait for the client, within bounds.
            Detected::NeedMore if self.inn.len() > self.limits.max_header_bytes => {
                self.fail(format!("not http: read {} bytes before any request was written", self.inn.len()));
            }
            Detected::NeedMore => {}
        }
    }
}

/// Tells the protocol from the first bytes written.
fn detect(first: &[u8], max_header_bytes: usize) -> Detected {
    if first.starts_with(PREFACE) {
        return Detected::H2;
    }
    if PREFACE.starts_with(first) {
        return Detected::NeedMore;
    }
    // No header slots: the request line is all that is needed, and a header line then reads as
    // `TooManyHeaders`, which proves the line before it parsed.
    let mut req = httparse::Request::new(&mut []);
    match req.parse(first) {
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => Detected::H1,
        Ok(httparse::Status::Partial) if req.version.is_some() => Detected::H1,
        Ok(httparse::Status::Partial) if first.len() <= max_header_bytes => Detected::NeedMore,
        Ok(httparse::Status::Partial) => {
            Detected::NotHttp(format!("not http: no request line in the first {} bytes written", first.len()))
        }
        Err(e) => Detected::NotHttp(format!(
            "not http: first bytes written are neither an http/1 request line ({e}) nor the http/2 preface"
        )),
    }
}
