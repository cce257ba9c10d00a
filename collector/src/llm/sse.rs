//! Server-sent events (`text/event-stream`), the framing every streamed LLM API uses.
//!
//! [`SseParser`] is incremental: bytes go in as they come, whole events come out. Lines end in
//! `\n`, `\r\n` or `\r`; a blank line ends an event; `data:` lines are joined with `\n`; `event:`
//! names the event; lines starting with `:` are comments; other fields (`id:`, `retry:`) are
//! skipped because no LLM API needs them. An event is dispatched when it had at least one
//! `data:` line.
//!
//! Invariants: feeding the same bytes in any split yields the same events (a `\r\n` split between
//! two pushes included); no input panics; invalid UTF-8 in a line becomes `\xNN` escapes rather
//! than an error; [`SseParser::finish`] still yields a last event that a cut stream left without
//! its blank line.

use crate::text::escape_bytes;

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// True for OpenAI's end-of-stream sentinel, `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data.trim() == "[DONE]"
    }
}

/// Incremental parser: [`push`](Self::push) bytes, then [`finish`](Self::finish) at the end.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The bytes of the line being read, without its end.
    line: Vec<u8>,
    /// The last byte seen was `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    /// No line has been completed yet (a byte-order mark may open the stream).
    seen_line: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next bytes of the stream; returns the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    self.end_line(&mut out);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(b);
                }
            }
        }
        out
    }

    /// The stream ended: a last line without its end and a last event without its blank line
    /// still count (a cut stream keeps what arrived).
    pub fn finish(mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.dispatch(&mut out);
        out.pop()
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let (text, _) = escape_bytes(&self.line);
        self.line.clear();
        let mut line = text.as_str();
        if !self.seen_line {
            self.seen_line = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if std::mem::take(&mut self.has_data) {
            out.push(SseEvent { event, data: std::mem::take(&mut self.data) });
        }
    }
}

/// All events of a complete (or cut) stream.
pub fn parse(bytes: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events = parser.push(bytes);
    events.extend(parser.finish());
    events
}

/// Whether a body looks like an event stream even without its content type (some servers
/// send `text/plain` or nothing).
pub fn looks_like_sse(body: &[u8]) -> bool {
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    let body = body.get(start..).unwrap_or_default();
    [&b"data:"[..], b"event:", b":", b"id:", b"retry:"].iter().any(|p| body.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned() }
    }

    #[test]
    fn events_are_split_by_blank_lines_and_data_lines_joined() {
        let body = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: one\ndata: two\n\n";
        assert_eq!(parse(body), vec![ev(Some("message_start"), "{\"a\":1}"), ev(None, "one\ntwo")]);
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        assert_eq!(parse(b"data: a\r\n\r\ndata: b\r\rdata:c\n\n"), vec![ev(None, "a"), ev(None, "b"), ev(None, "c")]);
    }

    #[test]
    fn crlf_split_between_pushes_is_one_line_end() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: a\r").is_empty());
        assert_eq!(p.push(b"\n\r"), vec![ev(None, "a")]);
        assert!(p.push(b"\ndata: b\n").is_empty());
        assert_eq!(p.finish(), Some(ev(None, "b")));
    }

    #[test]
    fn cut_stream_keeps_its_last_event() {
        assert_eq!(parse(b"data: a\n\ndata: {\"partial"), vec![ev(None, "a"), ev(None, "{\"partial")]);
    }

    #[test]
    fn comments_unknown_fields_and_dataless_events_yield_nothing() {
        assert!(parse(b": hi\nid: 3\nretry: 10\nevent: ping\n\n\n\n").is_empty());
    }

    #[test]
    fn field_without_colon_and_value_without_space() {
        assert_eq!(parse(b"data\n\ndata:x\n\n"), vec![ev(None, ""), ev(None, "x")]);
    }

    #[test]
    fn done_sentinel_and_bom() {
        let events = parse("\u{feff}data: [DONE]\n\n".as_bytes());
        assert_eq!(events.len(), 1);
        assert!(events[0].is_done());
    }

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(parse(b"data: \xff\n\n"), vec![ev(None, "\\xff")]);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_sse(b"\r\ndata: {}"));
        assert!(looks_like_sse(b"event: x\n"));
        assert!(!looks_like_sse(b"{\"data\": 1}"));
        assert!(!looks_like_sse(b""));
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_events(
            chunks in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '),
                        Just(b'd'), Just(b'a'), Just(b't'), Just(b'e'), Just(0xe4), Just(0xb8),
                        any::<u8>(),
                    ],
                    0..40,
                ),
                0..12,
            ),
            prefix in prop_oneof![Just(&b""[..]), Just(&b"data: "[..]), Just(&b"event: e\ndata: x\n"[..])],
        ) {
            let mut whole = prefix.to_vec();
            for c in &chunks {
                whole.extend_from_slice(c);
            }
            let expected = parse(&whole);
            let mut parser = SseParser::new();
            let mut got = parser.push(prefix);
            for c in &chunks {
                got.extend(parser.push(c));
            }
            got.extend(parser.finish());
            prop_assert_eq!(got, expected);
        }
    }
}
