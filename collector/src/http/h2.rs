//! HTTP/2 reassembly: frames of both directions (after the client preface) become one exchange
//! per stream.
//!
//! Invariants:
//! - Each direction has its own frame reader and its own HPACK decoder, and every header block
//!   (HEADERS, PUSH_PROMISE, with their CONTINUATIONs) is decoded in order, even one we ignore,
//!   because the dynamic table is shared by all blocks of a direction.
//! - DATA payloads stream into bodies as they arrive; only header blocks and small control frames
//!   are buffered whole, bounded by `max_header_bytes`. Other frames are skipped unbuffered.
//! - A stream's exchange is returned when its response ends (END_STREAM), is reset (RST_STREAM),
//!   is refused by a server GOAWAY, or at close; so exchanges come in response order.

use std::collections::BTreeMap;
use std::fmt;

use super::body::Body;
use super::input::Input;
use super::{Direction, Exchange, Limits, Request, Response};

const FRAME_HEAD_LEN: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const PUSH_PROMISE: u8 = 0x5;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Streams open at once; more means a peer we cannot follow within bounded memory.
const MAX_OPEN_STREAMS: usize = 1024;
/// Largest HPACK dynamic table a peer may ask for (the default is 4 KiB, browsers use 64 KiB);
/// it bounds the memory the decoders hold.
const MAX_HPACK_TABLE: usize = 1 << 20;

#[derive(Debug)]
pub(crate) struct H2 {
    limits: Limits,
    out: Side,
    inn: Side,
    streams: Streams,
}

/// One direction's frame reader.
struct Side {
    hpack: loona_hpack::Decoder<'static>,
    state: Frame,
    /// A header block waiting for CONTINUATION frames.
    block: Option<Block>,
}

impl fmt::Debug for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Side").field("state", &self.state).field("block", &self.block).finish_non_exhaustive()
    }
}

/// Where the reader is within the frames.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Head,
    /// A padded DATA frame, before its pad length byte.
    DataPadLen(FrameHead),
    Data {
        stream: u32,
        data_left: usize,
        pad_left: usize,
        end_stream: bool,
    },
    /// A frame read whole before it is handled.
    Whole(FrameHead),
    Skip(usize),
}

#[derive(Debug, Clone, Copy)]
struct FrameHead {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
    start_ns: u64,
}

#[derive(Debug)]
struct Block {
    stream: u32,
    /// The stream a PUSH_PROMISE announces.
    promised: Option<u32>,
    end_stream: bool,
    fragment: Vec<u8>,
    start_ns: u64,
}

#[derive(Debug)]
struct Streams {
    map: BTreeMap<u32, Stream>,
    /// The highest stream a client request opened; ids only grow, so HEADERS on a lower one
    /// that is gone are trailers of an exchange already returned.
    last_opened: u32,
    max_body_bytes: usize,
}

#[derive(Debug)]
struct Stream {
    req: Request,
    req_body: Body,
    req_done: bool,
    resp: Option<Response>,
    resp_body: Body,
}

impl H2 {
    pub(crate) fn new(limits: Limits) -> Self {
        H2 {
            limits,
            out: Side::new(),
            inn: Side::new(),
            streams: Streams { map: BTreeMap::new(), last_opened: 0, max_body_bytes: limits.max_body_bytes },
        }
    }

    /// Parses what it can of one direction (the preface already consumed).
    pub(crate) fn on_data(&mut self, dir: Direction, input: &mut Input, out: &mut Vec<Exchange>) -> Result<(), String> {
        let side = match dir {
            Direction::Out => &mut self.out,
            Direction::In => &mut self.inn,
        };
        let streams = &mut self.streams;
        let limits = &self.limits;
        loop {
            match side.state {
                Frame::Head => {
                    let Some(head) = input.bytes().get(..FRAME_HEAD_LEN) else {
                        return Ok(());
                    };
                    let head = frame_head(head, input.ts_at(0));
                    input.consume(FRAME_HEAD_LEN);
                    side.state = side.next_state(head, limits)?;
                }
                Frame::DataPadLen(head) => {
                    let Some(&pad) = input.bytes().first() else {
                        return Ok(());
                    };
                    input.consume(1);
                    let Some(data_left) = head.len.saturating_sub(1).checked_sub(usize::from(pad)) else {
                        return Err(format!("http/2 `DATA` padding exceeds its frame on stream {}", head.stream));
                    };
                    let end_stream = head.flags & END_STREAM != 0;
                    side.state = Frame::Data { stream: head.stream, data_left, pad_left: usize::from(pad), end_stream };
                }
                Frame::Data { stream, mut data_left, mut pad_left, end_stream } => {
                    let n = data_left.min(input.len());
                    if n > 0 {
                        let data = input.bytes().get(..n).unwrap_or_default();
                        streams.data(dir, stream, input.ts_at(0), input.ts_at(n - 1), data);
                        input.consume(n);
                        data_left -= n;
                    }
                    if data_left == 0 {
                        let n = pad_left.min(input.len());
                        input.consume(n);
                        pad_left -= n;
                    }
                    if data_left > 0 || pad_left > 0 {
                        side.state = Frame::Data { stream, data_left, pad_left, end_stream };
                        return Ok(());
                    }
                    side.state = Frame::Head;
                    if end_stream {
                        streams.end(dir, stream, input.last_ns(), out);
                    }
                }
                Frame::Whole(head) => {
                    let Some(payload) = input.bytes().get(..head.len) else {
                        return Ok(());
                    };
                    let end_ns = match head.len {
                        0 => input.last_ns(),
                        len => input.ts_at(len - 1),
                    };
                    side.state = Frame::Head;
                    side.handle(dir, head, payload, end_ns, streams, limits, out)?;
                    input.consume(head.len);
                }
                Frame::Skip(left) => {
                    let n = left.min(input.len());
                    input.consume(n);
                    if left > n {
                        side.state = Frame::Skip(left - n);
                        return Ok(());
                    }
                    side.state = Frame::Head;
                }
            }
        }
    }

    /// The connection ended: every open stream, as far as it came.
    pub(crate) fn close(&mut self) -> Vec<Exchange> {
        let map = std::mem::take(&mut self.streams.map);
        map.into_values().map(|s| s.into_exchange(false)).collect()
    }
}

fn frame_head(b: &[u8], start_ns: u64) -> FrameHead {
    let byte = |i: usize| b.get(i).copied().unwrap_or_default();
    FrameHead {
        len: usize::from(byte(0)) << 16 | usize::from(byte(1)) << 8 | usize::from(byte(2)),
        kind: byte(3),
        flags: byte(4),
        stream: u32::from_be_bytes([byte(5), byte(6), byte(7), byte(8)]) & 0x7fff_ffff,
        start_ns,
    }
}

impl Side {
    fn new() -> Self {
        let mut hpack = loona_hpack::Decoder::new();
        hpack.set_max_allowed_table_size(MAX_HPACK_TABLE);
        Side { hpack, state: Frame::Head, block: None }
    }

    /// What to do with the payload of a frame whose head was just read.
    fn next_state(&self, head: FrameHead, limits: &Limits) -> Result<Frame, String> {
        if let Some(block) = &self.block {
            if head.kind != CONTINUATION || head.stream != block.stream {
                return Err(format!(
                    "http/2 frame of type {} on stream {} interrupts a header block on stream {}",
                    head.kind, head.stream, block.stream
                ));
            }
        }
        Ok(match head.kind {
            DATA if head.flags & PADDED != 0 => {
                if head.len == 0 {
                    return Err(format!("padded http/2 `DATA` frame without padding on stream {}", head.stream));
                }
                Frame::DataPadLen(head)
            }
            DATA => Frame::Data {
                stream: head.stream,
                data_left: head.len,
                pad_left: 0,
                end_stream: head.flags & END_STREAM != 0,
            },
            HEADERS | PUSH_PROMISE | CONTINUATION if head.len > limits.max_header_bytes => {
                return Err(header_block_too_long(limits));
            }
            HEADERS | PUSH_PROMISE | CONTINUATION => Frame::Whole(head),
            RST_STREAM | GOAWAY if head.len <= limits.max_header_bytes => Frame::Whole(head),
            // SETTINGS, PING, PRIORITY, WINDOW_UPDATE, extensions: nothing we report.
            _ => Frame::Skip(head.len),
        })
    }

    /// Acts on a frame read whole; `end_ns` is the timestamp of its last byte.
    #[allow(clippy::too_many_arguments)]
    fn handle(
        &mut self,
        dir: Direction,
        head: FrameHead,
        payload: &[u8],
        end_ns: u64,
        streams: &mut Streams,
        limits: &Limits,
        out: &mut Vec<Exchange>,
    ) -> Result<(), String> {
        match head.kind {
            HEADERS | PUSH_PROMISE => {
                if head.stream == 0 {
                    return Err("http/2 header block on stream 0".to_owned());
                }
                let mut fragment = unpad(payload, head)?;
                let mut promised = None;
                if head.kind == PUSH_PROMISE {
                    let Some((id, rest)) = fragment.split_first_chunk::<4>() else {
                        return Err(format!("http/2 `PUSH_PROMISE` too short on stream {}", head.stream));
                    };
                    promised = Some(u32::from_be_bytes(*id) & 0x7fff_ffff);
                    fragment = rest;
                } else if head.flags & PRIORITY != 0 {
                    // Stream dependency (4 bytes) and weight (1 byte), not reported.
                    fragment = fragment
                        .get(5..)
                        .ok_or_else(|| format!("http/2 `HEADERS` too short on stream {}", head.stream))?;
                }
                let block = Block {
                    stream: head.stream,
                    promised,
                    end_stream: head.kind == HEADERS && head.flags & END_STREAM != 0,
                    fragment: fragment.to_vec(),
                    start_ns: head.start_ns,
                };
                self.block = Some(block);
            }
            CONTINUATION => match &mut self.block {
                Some(block) if block.fragment.len() + payload.len() <= limits.max_header_bytes => {
                    block.fragment.extend_from_slice(payload);
                }
                Some(_) => return Err(header_block_too_long(limits)),
                None => return Err(format!("http/2 `CONTINUATION` without a header block on stream {}", head.stream)),
            },
            RST_STREAM => {
                streams.reset(head.stream, out);
                return Ok(());
            }
            GOAWAY => {
                // A server's GOAWAY names the last client stream it will answer; later ones die.
                if let (Direction::In, Some(last)) = (dir, payload.first_chunk::<4>()) {
                    let last = u32::from_be_bytes(*last) & 0x7fff_ffff;
                    streams.refused_after(last, out);
                }
                return Ok(());
            }
            _ => return Ok(()),
        }
        if head.flags & END_HEADERS != 0 {
            if let Some(block) = self.block.take() {
                let fields = self.decode(&block, limits)?;
                streams.headers(dir, block, fields, end_ns, out)?;
            }
        }
        Ok(())
    }

    fn decode(&mut self, block: &Block, limits: &Limits) -> Result<Vec<(String, String)>, String> {
        let mut fields = Vec::new();
        // Indexed fields can expand a small block enormously; stop keeping them past the limit.
        let mut size = 0usize;
        let result = self.hpack.decode_with_cb(&block.fragment, |name, value| {
            size = size.saturating_add(name.len() + value.len());
            if size <= limits.max_header_bytes {
                let name = String::from_utf8_lossy(&name).to_ascii_lowercase();
                fields.push((name, String::from_utf8_lossy(&value).into_owned()));
            }
        });
        result.map_err(|e| format!("failed to decode http/2 header block on stream {}: {e}", block.stream))?;
        if size > limits.max_header_bytes {
            return Err(format!(
                "decoded http/2 header block on stream {} exceeds `max_header_bytes` ({})",
                block.stream, limits.max_header_bytes
            ));
        }
        Ok(fields)
    }
}

fn header_block_too_long(limits: &Limits) -> String {
    format!("http/2 header block exceeds `max_header_bytes` ({})", limits.max_header_bytes)
}

/// The payload of a HEADERS or PUSH_PROMISE frame without its padding.
fn unpad(payload: &[u8], head: FrameHead) -> Result<&[u8], String> {
    if head.flags & PADDED == 0 {
        return Ok(payload);
    }
    let bad = || format!("http/2 padding exceeds its frame on stream {}", head.stream);
    let (&pad, rest) = payload.split_first().ok_or_else(bad)?;
    let len = rest.len().checked_sub(usize::from(pad)).ok_or_else(bad)?;
    Ok(rest.get(..len).unwrap_or_default())
}

impl Streams {
    fn headers(
        &mut self,
        dir: Direction,
        block: Block,
        fields: Vec<(String, String)>,
        end_ns: u64,
        out: &mut Vec<Exchange>,
    ) -> Result<(), String> {
        if let Some(promised) = block.promised {
            // A server push: the promise carries the request the server answers on `promised`.
            let mut req = request_from(fields);
            (req.start_ns, req.end_ns) = (block.start_ns, end_ns);
            return self.open(promised, req, true);
        }
        match dir {
            Direction::Out => match self.map.get_mut(&block.stream) {
                None if block.stream <= self.last_opened => {}
                None => {
                    self.last_opened = block.stream;
                    let mut req = request_from(fields);
                    (req.start_ns, req.end_ns) = (block.start_ns, end_ns);
                    self.open(block.stream, req, block.end_stream)?;
                }
                Some(s) => {
                    // Trailers.
                    s.req.headers.extend(fields.into_iter().filter(|(n, _)| !n.starts_with(':')));
                    s.req.end_ns = end_ns;
                    s.req_done |= block.end_stream;
                }
            },
            Direction::In => {
                // A response to a request we did not see (or already reported) is dropped.
                let Some(s) = self.map.get_mut(&block.stream) else {
                    return Ok(());
                };
                match &mut s.resp {
                    None => {
                        let status = fields.iter().find(|(n, _)| n == ":status").and_then(|(_, v)| v.parse().ok());
                        let Some(status) = status else {
                            return Err(format!(
                                "http/2 response without a valid `:status` on stream {}",
                                block.stream
                            ));
                        };
                        if (100..200).contains(&status) {
                            // Informational; the final response follows.
                            return Ok(());
                        }
                        s.resp = Some(Response {
                            status,
                            headers: regular(fields),
                            start_ns: block.start_ns,
                            end_ns,
                            ..Response::default()
                        });
                    }
                    Some(resp) => {
                        resp.headers.extend(regular(fields));
                        resp.end_ns = end_ns;
                    }
                }
                if block.end_stream {
                    self.complete(block.stream, out);
                }
            }
        }
        Ok(())
    }

    fn open(&mut self, id: u32, req: Request, req_done: bool) -> Result<(), String> {
        if self.map.len() >= MAX_OPEN_STREAMS && !self.map.contains_key(&id) {
            return Err(format!("more than {MAX_OPEN_STREAMS} http/2 streams open"));
        }
        let stream = Stream {
            req,
            req_body: Body::new(self.max_body_bytes),
            req_done,
            resp: None,
            resp_body: Body::new(self.max_body_bytes),
        };
        self.map.insert(id, stream);
        Ok(())
    }

    /// DATA bytes whose first came at `first_ns` and last at `last_ns`.
    fn data(&mut self, dir: Direction, id: u32, first_ns: u64, last_ns: u64, data: &[u8]) {
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        match dir {
            Direction::Out if !s.req_done => {
                s.req_body.push(first_ns, data);
                s.req.end_ns = last_ns;
            }
            Direction::In => {
                if let Some(resp) = &mut s.resp {
                    s.resp_body.push(first_ns, data);
                    resp.end_ns = last_ns;
                }
            }
            Direction::Out => {}
        }
    }

    /// END_STREAM on a DATA frame whose last byte came at `end_ns`.
    fn end(&mut self, dir: Direction, id: u32, end_ns: u64, out: &mut Vec<Exchange>) {
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        match dir {
            Direction::Out => {
                s.req_done = true;
                s.req.end_ns = end_ns;
            }
            Direction::In => {
                if let Some(resp) = &mut s.resp {
                    resp.end_ns = end_ns;
                    self.complete(id, out);
                }
            }
        }
    }

    fn complete(&mut self, id: u32, out: &mut Vec<Exchange>) {
        if let Some(s) = self.map.remove(&id) {
            out.push(s.into_exchange(true));
        }
    }

    fn reset(&mut self, id: u32, out: &mut Vec<Exchange>) {
        if let Some(s) = self.map.remove(&id) {
            out.push(s.into_exchange(false));
        }
    }

    /// Client streams after `last` that a server's GOAWAY says it will not answer.
    fn refused_after(&mut self, last: u32, out: &mut Vec<Exchange>) {
        let refused = self.map.split_off(&last.saturating_add(1));
        for (id, s) in refused {
            if id % 2 == 1 {
                out.push(s.into_exchange(false));
            } else {
                self.map.insert(id, s);
            }
        }
    }
}

impl Stream {
    /// The exchange so far; it is whole when both the request and the response ended.
    fn into_exchange(self, resp_ended: bool) -> Exchange {
        let Stream { mut req, req_body, req_done, resp, resp_body } = self;
        req.set_body(req_body, !req_done);
        let response = resp.map(|mut resp| {
            resp.first_body_ns = resp_body.first_ns;
            resp.set_body(resp_body, !resp_ended);
            resp
        });
        let incomplete = !(req_done && resp_ended && response.is_some());
        Exchange { request: req, response, incomplete }
    }
}

fn request_from(fields: Vec<(String, String)>) -> Request {
    let pseudo = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let method = pseudo(":method").unwrap_or_default();
    let path = pseudo(":path").unwrap_or_default();
    let host = pseudo(":authority").or_else(|| pseudo("host"));
    Request { method, path, host, headers: regular(fields), version: 2, ..Request::default() }
}

/// The fields that are headers, not pseudo-headers.
fn regular(fields: Vec<(String, String)>) -> Vec<(String, String)> {
    fields.into_iter().filter(|(n, _)| !n.starts_with(':')).collect()
}
