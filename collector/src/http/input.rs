//! The bytes of one direction that arrived but are not yet consumed by a parser.
//!
//! Each byte keeps the timestamp of the chunk it came in, so a message spanning chunks is stamped
//! with the times of its own first and last bytes, however the stream was split. Parsers only
//! leave unconsumed what they cannot act on yet (a partial header block, a partial frame header),
//! and each bounds that, so this buffer stays small.

use std::collections::VecDeque;

/// A buffer larger than this is released once empty, so one large chunk does not pin memory for
/// the life of the connection.
const KEEP_CAPACITY: usize = 64 << 10;

#[derive(Debug, Default)]
pub(crate) struct Input {
    buf: Vec<u8>,
    /// How many bytes at the front of `buf` are consumed. They are dropped lazily (when they are
    /// at least half of `buf`), so many small consumes stay linear.
    head: usize,
    /// Stream offset of `buf[head]`.
    pos: u64,
    /// `(stream offset just past the chunk, ts_ns)` for each chunk with bytes not yet consumed.
    marks: VecDeque<(u64, u64)>,
    /// Timestamp of the last consumed byte.
    last_ns: u64,
}

impl Input {
    pub(crate) fn push(&mut self, ts_ns: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.head > 0 && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
        let end = self.pos + self.len() as u64;
        self.marks.push_back((end, ts_ns));
    }

    /// The unconsumed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(self.head..).unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.head)
    }

    /// Timestamp of the chunk that brought unconsumed byte `i`.
    pub(crate) fn ts_at(&self, i: usize) -> u64 {
        let at = self.pos + i as u64;
        self.marks.iter().find(|&&(end, _)| end > at).map_or(self.last_ns, |&(_, ts)| ts)
    }

    /// Timestamp of the last consumed byte.
    pub(crate) fn last_ns(&self) -> u64 {
        self.last_ns
    }

    /// Drops the first `n` unconsumed bytes (at most all of them).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        if n == 0 {
            return;
        }
        self.last_ns = self.ts_at(n - 1);
        self.head += n;
        self.pos += n as u64;
        while self.marks.front().is_some_and(|&(end, _)| end <= self.pos) {
            self.marks.pop_front();
        }
        if self.head == self.buf.len() {
            self.head = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }

    /// Forgets everything buffered and releases its memory.
    pub(crate) fn clear(&mut self) {
        *self = Input { last_ns: self.last_ns, ..Input::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_keep_the_timestamp_of_their_chunk() {
        let mut input = Input::default();
        input.push(10, b"ab");
        input.push(20, b"");
        input.push(30, b"cde");
        assert_eq!(input.bytes(), b"abcde");
        assert_eq!((input.ts_at(0), input.ts_at(1), input.ts_at(2), input.ts_at(4)), (10, 10, 30, 30));
        input.consume(3);
        assert_eq!(input.last_ns(), 30);
        assert_eq!(input.bytes(), b"de");
        assert_eq!(input.ts_at(0), 30);
        input.push(40, b"f");
        assert_eq!(input.bytes(), b"def");
        assert_eq!(input.ts_at(2), 40);
        input.consume(99);
        assert_eq!((input.len(), input.last_ns()), (0, 40));
    }
}
