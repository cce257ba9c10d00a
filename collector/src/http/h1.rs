//! HTTP/1.x reassembly: requests from the written stream, responses from the read stream,
//! matched first in, first out (keep-alive and pipelining).
//!
//! Invariants:
//! - `pending` holds, in order, every request whose head was parsed and whose exchange is not
//!   yet returned; the first `responded` of them have their final response. The request being
//!   read (`ReqState::Body`) is always the last one.
//! - An exchange is returned once both its request and its response have ended, so responses
//!   that arrive early (before the request body ends) still pair with their request.
//! - Buffered but unparsed bytes are bounded by `max_header_bytes`: heads, chunk-size lines and
//!   trailers over it are errors; body bytes are never buffered here.

use std::collections::VecDeque;
use std::mem;

use httparse::Status;

use super::body::Body;
use super::input::Input;
use super::{Exchange, Limits, Request, Response};

/// Room for header lines in one head; more is an error (no client we care for sends that many).
const MAX_HEADERS: usize = 256;
/// Requests awaiting their response; a peer pipelining more is not one we can follow.
const MAX_PENDING: usize = 1024;

#[derive(Debug)]
pub(crate) struct H1 {
    limits: Limits,
    pending: VecDeque<Pending>,
    responded: usize,
    req_state: ReqState,
    resp_state: RespState,
}

#[derive(Debug)]
struct Pending {
    req: Request,
    /// The request's last byte was read.
    done: bool,
    /// The final response, once it ended (or, at close, as far as it came).
    resp: Option<Response>,
    incomplete: bool,
}

#[derive(Debug)]
enum ReqState {
    /// Waiting for a request head; `scanned` bytes were already searched for its end.
    Head {
        scanned: usize,
    },
    Body {
        framing: Framing,
        body: Body,
    },
}

#[derive(Debug)]
enum RespState {
    Head { scanned: usize },
    Body { resp: Response, framing: Framing, body: Body },
}

/// How a body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length`: bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// A response without a length ends when the connection does.
    UntilClose,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    /// The line break that ends a chunk's data.
    DataEnd,
    Trailers,
}

impl H1 {
    pub(crate) fn new(limits: Limits) -> Self {
        H1 {
            limits,
            pending: VecDeque::new(),
            responded: 0,
            req_state: ReqState::Head { scanned: 0 },
            resp_state: RespState::Head { scanned: 0 },
        }
    }

    /// Parses what it can of the written (request) stream.
    pub(crate) fn on_out(&mut self, input: &mut Input, out: &mut Vec<Exchange>) -> Result<(), String> {
        loop {
            match &mut self.req_state {
                ReqState::Head { scanned } => {
                    let Some((req, framing)) = request_head(input, scanned, &self.limits)? else {
                        return Ok(());
                    };
                    if self.pending.len() >= MAX_PENDING {
                        return Err(format!("more than {MAX_PENDING} http/1 requests await a response"));
                    }
                    let done = framing == Framing::Length(0);
                    self.pending.push_back(Pending { req, done, resp: None, incomplete: false });
                    if done {
                        self.drain(out);
                    } else {
                        self.req_state = ReqState::Body { framing, body: Body::new(self.limits.max_body_bytes) };
                    }
                }
                ReqState::Body { framing, body } => {
                    let mut trailers = Vec::new();
                    let done = read_body(input, framing, body, &mut trailers, &self.limits)?;
                    let Some(p) = self.pending.back_mut() else {
                        return Err("http/1 request body without a request".to_owned());
                    };
                    p.req.headers.append(&mut trailers);
                    // The head is consumed, so the last byte consumed is this request's.
                    p.req.end_ns = input.last_ns();
                    if !done {
                        return Ok(());
                    }
                    p.req.set_body(mem::take(body), false);
                    p.done = true;
                    self.req_state = ReqState::Head { scanned: 0 };
                    self.drain(out);
                }
            }
        }
    }

    /// Parses what it can of the read (response) stream.
    pub(crate) fn on_in(&mut self, input: &mut Input, out: &mut Vec<Exchange>) -> Result<(), String> {
        loop {
            match &mut self.resp_state {
                RespState::Head { scanned } => {
                    let Some(p) = self.pending.get(self.responded) else {
                        // Bytes read before their request was seen wait for it, within bounds.
                        if input.len() > self.limits.max_header_bytes {
                            return Err("http/1 response read with no request pending".to_owned());
                        }
                        return Ok(());
                    };
                    let head_only = p.req.method.eq_ignore_ascii_case("HEAD");
                    let Some((resp, framing)) = response_head(input, scanned, head_only, &self.limits)? else {
                        return Ok(());
                    };
                    let status = resp.status;
                    if (100..200).contains(&status) && status != 101 {
                        // Informational (`100 Continue`, `103 Early Hints`): the final one follows.
                        continue;
                    }
                    if framing == Framing::Length(0) {
                        self.respond(resp, out);
                    } else {
                        self.resp_state =
                            RespState::Body { resp, framing, body: Body::new(self.limits.max_body_bytes) };
                    }
                    if status == 101 {
                        return Err("connection switched protocols after `101`, no longer http".to_owned());
                    }
                }
                RespState::Body { resp, framing, body } => {
                    let done = read_body(input, framing, body, &mut resp.headers, &self.limits)?;
                    resp.end_ns = input.last_ns();
                    if !done {
                        return Ok(());
                    }
                    let mut resp = mem::take(resp);
                    resp.first_body_ns = body.first_ns;
                    resp.set_body(mem::take(body), false);
                    self.resp_state = RespState::Head { scanned: 0 };
                    self.respond(resp, out);
                }
            }
        }
    }

    /// The connection ended: everything pending, as far as it came.
    pub(crate) fn close(&mut self) -> Vec<Exchange> {
        if let ReqState::Body { body, .. } = mem::replace(&mut self.req_state, ReqState::Head { scanned: 0 }) {
            if let Some(p) = self.pending.back_mut() {
                p.req.set_body(body, true);
                p.incomplete = true;
            }
        }
        if let RespState::Body { mut resp, framing, body } =
            mem::replace(&mut self.resp_state, RespState::Head { scanned: 0 })
        {
            // A response without a length ends with the connection: it is whole.
            let cut = framing != Framing::UntilClose;
            resp.first_body_ns = body.first_ns;
            resp.set_body(body, cut);
            if let Some(p) = self.pending.get_mut(self.responded) {
                p.resp = Some(resp);
                p.incomplete |= cut;
            }
        }
        self.responded = 0;
        self.pending
            .drain(..)
            .map(|p| Exchange {
                incomplete: p.incomplete || !p.done || p.resp.is_none(),
                request: p.req,
                response: p.resp,
            })
            .collect()
    }

    fn respond(&mut self, resp: Response, out: &mut Vec<Exchange>) {
        if let Some(p) = self.pending.get_mut(self.responded) {
            p.resp = Some(resp);
            self.responded += 1;
        }
        self.drain(out);
    }

    /// Returns the exchanges at the front that have both ended.
    fn drain(&mut self, out: &mut Vec<Exchange>) {
        while self.pending.front().is_some_and(|p| p.done && p.resp.is_some()) {
            if let Some(p) = self.pending.pop_front() {
                self.responded = self.responded.saturating_sub(1);
                out.push(Exchange { request: p.req, response: p.resp, incomplete: false });
            }
        }
    }
}

/// Parses a request head if it is all there, consuming it.
fn request_head(input: &mut Input, scanned: &mut usize, limits: &Limits) -> Result<Option<(Request, Framing)>, String> {
    if !head_may_end(input.bytes(), scanned, limits, "request")? {
        return Ok(None);
    }
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let len = match parsed.parse(input.bytes()) {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("invalid http/1 request head: {e}")),
    };
    check_head_len(len, limits, "request")?;
    let headers = lower_headers(parsed.headers);
    let framing = if let Some(te) = header(&headers, "transfer-encoding") {
        if !ends_chunked(te) {
            return Err(format!("http/1 request with `transfer-encoding: {te}` has no length"));
        }
        Framing::Chunked(Chunk::Size)
    } else {
        Framing::Length(content_length(&headers)?.unwrap_or(0))
    };
    let req = Request {
        method: parsed.method.unwrap_or_default().to_owned(),
        path: parsed.path.unwrap_or_default().to_owned(),
        host: header(&headers, "host").map(str::to_owned),
        start_ns: input.ts_at(0),
        end_ns: input.ts_at(len.saturating_sub(1)),
        version: 1,
        headers,
        ..Request::default()
    };
    input.consume(len);
    *scanned = 0;
    Ok(Some((req, framing)))
}

/// Parses a response head if it is all there, consuming it.
fn response_head(
    input: &mut Input,
    scanned: &mut usize,
    head_only: bool,
    limits: &Limits,
) -> Result<Option<(Response, Framing)>, String> {
    if !head_may_end(input.bytes(), scanned, limits, "response")? {
        return Ok(None);
    }
    let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    // Servers are less careful than clients; accept what browsers accept.
    let result = httparse::ParserConfig::default()
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .parse_response(&mut parsed, input.bytes());
    let len = match result {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("invalid http/1 response head: {e}")),
    };
    check_head_len(len, limits, "response")?;
    let status = parsed.code.unwrap_or_default();
    let headers = lower_headers(parsed.headers);
    let framing = if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Length(0)
    } else if let Some(te) = header(&headers, "transfer-encoding") {
        // Any other transfer coding is delimited by the connection closing.
        if ends_chunked(te) {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::UntilClose
        }
    } else {
        content_length(&headers)?.map_or(Framing::UntilClose, Framing::Length)
    };
    let resp = Response {
        status,
        start_ns: input.ts_at(0),
        end_ns: input.ts_at(len.saturating_sub(1)),
        headers,
        ..Response::default()
    };
    input.consume(len);
    *scanned = 0;
    Ok(Some((resp, framing)))
}

/// Whether the buffer holds an empty line (a head can only end at one), searching only the bytes
/// not searched before so a head arriving in many small chunks is scanned once. Errors once the
/// buffer exceeds `max_header_bytes` with no end in sight.
///
/// Line breaks before the head are not its end: httparse skips them, so an empty line among
/// them would make it parse a head not yet whole (`Partial`) while the scan moved past that
/// line, and whether the head was ever parsed would depend on how the bytes were split.
fn head_may_end(buf: &[u8], scanned: &mut usize, limits: &Limits, what: &str) -> Result<bool, String> {
    let head_start = buf.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(buf.len());
    // The line break that ends the head may straddle the previous end of the buffer.
    let tail = buf.get(scanned.saturating_sub(2).max(head_start)..).unwrap_or_default();
    let found = tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
    *scanned = buf.len();
    if !found && buf.len() > limits.max_header_bytes {
        return Err(too_long(what, limits));
    }
    Ok(found)
}

fn check_head_len(len: usize, limits: &Limits, what: &str) -> Result<(), String> {
    if len > limits.max_header_bytes {
        return Err(too_long(what, limits));
    }
    Ok(())
}

fn too_long(what: &str, limits: &Limits) -> String {
    format!("http/1 {what} head exceeds `max_header_bytes` ({})", limits.max_header_bytes)
}

/// Reads body bytes as far as the input goes; `Ok(true)` once the body ended. Trailers of a
/// chunked body are appended to `trailers`.
fn read_body(
    input: &mut Input,
    framing: &mut Framing,
    body: &mut Body,
    trailers: &mut Vec<(String, String)>,
    limits: &Limits,
) -> Result<bool, String> {
    loop {
        match framing {
            Framing::Length(left) => {
                take(input, body, left);
                return Ok(*left == 0);
            }
            Framing::UntilClose => {
                let mut all = u64::MAX;
                take(input, body, &mut all);
                return Ok(false);
            }
            Framing::Chunked(chunk) => match chunk {
                Chunk::Size => match httparse::parse_chunk_size(input.bytes()) {
                    // Capped whole as in pieces, so the split of the bytes does not decide.
                    Ok(Status::Complete((used, _))) if used > limits.max_header_bytes => {
                        return Err(too_long("chunk size line", limits));
                    }
                    Ok(Status::Complete((used, size))) => {
                        input.consume(used);
                        *chunk = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                    }
                    Ok(Status::Partial) if input.len() > limits.max_header_bytes => {
                        return Err(too_long("chunk size line", limits));
                    }
                    Ok(Status::Partial) => return Ok(false),
                    Err(_) => return Err("invalid http/1 chunk size line".to_owned()),
                },
                Chunk::Data(left) => {
                    take(input, body, left);
                    if *left > 0 {
                        return Ok(false);
                    }
                    *chunk = Chunk::DataEnd;
                }
                Chunk::DataEnd => match input.bytes() {
                    [b'\r', b'\n', ..] => {
                        input.consume(2);
                        *chunk = Chunk::Size;
                    }
                    // Tolerate a bare line feed, as httparse does in heads.
                    [b'\n', ..] => {
                        input.consume(1);
                        *chunk = Chunk::Size;
                    }
                    [] | [b'\r'] => return Ok(false),
                    _ => return Err("missing line break after http/1 chunk data".to_owned()),
                },
                Chunk::Trailers => {
                    let mut slots = [httparse::EMPTY_HEADER; 64];
                    match httparse::parse_headers(input.bytes(), &mut slots) {
                        Ok(Status::Complete((used, _))) if used > limits.max_header_bytes => {
                            return Err(too_long("trailer", limits));
                        }
                        Ok(Status::Complete((used, fields))) => {
                            trailers.extend(lower_headers(fields));
                            input.consume(used);
                            return Ok(true);
                        }
                        Ok(Status::Partial) if input.len() > limits.max_header_bytes => {
                            return Err(too_long("trailer", limits));
                        }
                        Ok(Status::Partial) => return Ok(false),
                        Err(e) => return Err(format!("invalid http/1 chunk trailers: {e}")),
                    }
                }
            },
        }
    }
}

/// Moves up to `left` bytes from the input into the body.
fn take(input: &mut Input, body: &mut Body, left: &mut u64) {
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
    if n == 0 {
        return;
    }
    body.push(input.ts_at(0), input.bytes().get(..n).unwrap_or_default());
    input.consume(n);
    *left -= n as u64;
}

fn lower_headers(fields: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    fields.iter().map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned())).collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    super::header(headers, name)
}

/// Whether the last transfer coding is `chunked` (only then is the body self-delimiting).
fn ends_chunked(te: &str) -> bool {
    te.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
}

/// The body length from `Content-Length`, which may repeat (`5, 5`) but must agree.
fn content_length(headers: &[(String, String)]) -> Result<Option<u64>, String> {
    let mut length = None;
    for value in headers.iter().filter(|(n, _)| n == "content-length").flat_map(|(_, v)| v.split(',')) {
        let value = value.trim();
        let n: u64 = value.parse().map_err(|_| format!("invalid http/1 `content-length: {value}`"))?;
        if length.is_some_and(|l| l != n) {
            return Err("conflicting http/1 `content-length` values".to_owned());
        }
        length = Some(n);
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_is_recognised_only_as_the_last_coding() {
        assert!(ends_chunked("chunked"));
        assert!(ends_chunked("gzip, Chunked"));
        assert!(!ends_chunked("chunked, gzip"));
    }

    #[test]
    fn content_length_must_agree_and_be_a_number() {
        let h = |v: &str| vec![("content-length".to_owned(), v.to_owned())];
        assert_eq!(content_length(&h("5, 5")), Ok(Some(5)));
        assert!(content_length(&h("5, 6")).is_err());
        assert!(content_length(&h("-1")).is_err());
        assert_eq!(content_length(&[]), Ok(None));
    }

    /// Found by `fuzz/fuzz_targets/http.rs`: the empty line in `\r\n\n` before a head was taken
    /// for its end, and the bytes after it were never searched again.
    #[test]
    fn blank_lines_before_a_head_are_not_its_end() {
        let limits = Limits::default();
        let mut scanned = 0;
        assert_eq!(head_may_end(b"\r\n\n-", &mut scanned, &limits, "request"), Ok(false));
        assert_eq!(head_may_end(b"\n\r\n", &mut scanned, &limits, "request"), Ok(false));
        assert_eq!(head_may_end(b"\r\n\nGET / HTTP/1.1\r\n\r\n", &mut scanned, &limits, "request"), Ok(true));
    }

    #[test]
    fn head_end_is_found_across_pushes() {
        let limits = Limits::default();
        let mut scanned = 0;
        assert_eq!(head_may_end(b"GET / HTTP/1.1\r\nA: b\r", &mut scanned, &limits, "request"), Ok(false));
        assert_eq!(head_may_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\n", &mut scanned, &limits, "request"), Ok(true));
    }
}
