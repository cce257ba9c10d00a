//! TLS plaintext streams: chunks from `tls.bpf.c` back in order, per connection and direction,
//! fed to the HTTP reassembler. Plaintext HTTP read off TCP sockets (`process.bpf.c`) arrives
//! in the same chunks, its connection the kernel's socket, and takes the same path.
//!
//! A connection is (pid, `SSL*`). Each chunk carries its offset in its direction's stream; chunks
//! of concurrent calls may arrive out of order (different CPUs), so each direction keeps the
//! chunks that came early until the gap before them fills. A gap that never fills (a lost
//! record, already counted by the kernel) is given up on once `MAX_EARLY_BYTES` wait behind it
//! or the connection ends. Then the exchange it cut is flushed as incomplete, and the
//! connection is parsed afresh from the next SSL call that writes (a request starts at a call
//! boundary), so one lost chunk costs one exchange, not the rest of the connection. Memory per
//! connection is bounded by that cap and by `http::Limits`.

use std::collections::{BTreeMap, HashMap};

use crate::http::{Conn, Direction, Exchange, Limits};

/// Bytes held out of order per direction before a gap is declared lost.
const MAX_EARLY_BYTES: usize = 4 << 20;

/// One chunk of plaintext, as the kernel sent it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub pid: u32,
    pub tid: u32,
    pub ssl: u64,
    /// Plaintext HTTP read from a TCP socket (`ssl` is the kernel socket), not TLS.
    pub plain: bool,
    pub dir: Direction,
    /// Position in the (pid, ssl, dir) stream.
    pub offset: u64,
    pub ts_ns: u64,
    /// The first chunk of an SSL call.
    pub call_start: bool,
    pub data: &'a [u8],
}

/// A chunk that is next in its stream's order.
struct Ready {
    ts_ns: u64,
    call_start: bool,
    data: Vec<u8>,
}

/// One direction of a connection: the next expected offset and chunks that came early.
#[derive(Debug, Default)]
struct Stream {
    next: u64,
    early: BTreeMap<u64, (u64, bool, Vec<u8>)>,
    early_bytes: usize,
}

impl Stream {
    /// Take `chunk` and every early chunk it makes contiguous; `gap` is set when bytes before
    /// a chunk had to be given up on (too much waiting behind them, or `force`).
    fn accept(&mut self, chunk: &Chunk<'_>, force: bool, gaps: &mut Gaps) -> (Vec<Ready>, bool) {
        let mut ready = Vec::new();
        let end = chunk.offset + chunk.data.len() as u64;
        if end > self.next && !chunk.data.is_empty() {
            if chunk.offset > self.next {
                self.early_bytes += chunk.data.len();
                self.early.insert(chunk.offset, (chunk.ts_ns, chunk.call_start, chunk.data.to_vec()));
            } else {
                let skip = (self.next - chunk.offset) as usize;
                ready.push(Ready {
                    ts_ns: chunk.ts_ns,
                    call_start: chunk.call_start && skip == 0,
                    data: chunk.data[skip..].to_vec(),
                });
                self.next = end;
            }
        }
        let mut gap = false;
        while let Some((&first, _)) = self.early.iter().next() {
            if first > self.next {
                if self.early_bytes <= MAX_EARLY_BYTES && !force {
                    break;
                }
                gaps.count += 1;
                gaps.bytes += first - self.next;
                gap = true;
                self.next = first;
            }
            let Some((off, (ts_ns, call_start, data))) = self.early.pop_first() else { break };
            self.early_bytes -= data.len();
            let end = off + data.len() as u64;
            if end > self.next {
                let skip = (self.next - off) as usize;
                ready.push(Ready { ts_ns, call_start: call_start && skip == 0, data: data[skip..].to_vec() });
                self.next = end;
            }
        }
        (ready, gap)
    }
}

#[derive(Debug)]
struct Connection {
    http: Conn,
    out: Stream,
    inbound: Stream,
    last_tid: u32,
    plain: bool,
    /// After a gap: bytes are dropped until the process starts writing a new SSL call.
    resync: bool,
    limits: Limits,
}

/// An exchange with the process that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub pid: u32,
    /// The thread that moved the exchange's last bytes.
    pub tid: u32,
    /// It went over plaintext HTTP, not TLS.
    pub plain: bool,
    pub exchange: Exchange,
}

/// What was skipped: gaps in streams (bytes never received), and bytes dropped while waiting
/// for the next message boundary after a gap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gaps {
    pub count: u64,
    pub bytes: u64,
    pub resync_dropped_bytes: u64,
}

/// All TLS connections of a session.
#[derive(Debug, Default)]
pub(crate) struct TlsStreams {
    conns: HashMap<(u32, u64), Connection>,
    limits: Limits,
    /// Of TLS streams `[0]` and of plaintext HTTP streams `[1]`.
    gaps: [Gaps; 2],
}

impl TlsStreams {
    pub(crate) fn new(limits: Limits) -> Self {
        TlsStreams { conns: HashMap::new(), limits, gaps: [Gaps::default(); 2] }
    }

    /// Gaps skipped so far in all streams.
    #[cfg(test)]
    pub(crate) fn gaps(&self) -> Gaps {
        let [tls, plain] = self.gaps;
        Gaps {
            count: tls.count + plain.count,
            bytes: tls.bytes + plain.bytes,
            resync_dropped_bytes: tls.resync_dropped_bytes + plain.resync_dropped_bytes,
        }
    }

    /// Gaps skipped so far in plaintext HTTP streams (`plain`) or in TLS streams.
    pub(crate) fn gaps_of(&self, plain: bool) -> Gaps {
        self.gaps[usize::from(plain)]
    }

    /// Take a chunk; returns the exchanges it completed.
    pub(crate) fn push(&mut self, chunk: Chunk<'_>) -> Vec<Finished> {
        let limits = self.limits;
        let conn = self.conns.entry((chunk.pid, chunk.ssl)).or_insert_with(|| Connection {
            http: Conn::new(limits),
            out: Stream::default(),
            inbound: Stream::default(),
            last_tid: chunk.tid,
            plain: chunk.plain,
            resync: false,
            limits,
        });
        conn.last_tid = chunk.tid;
        let stream = match chunk.dir {
            Direction::Out => &mut conn.out,
            Direction::In => &mut conn.inbound,
        };
        let gaps = &mut self.gaps[usize::from(conn.plain)];
        let (ready, gap) = stream.accept(&chunk, false, gaps);
        let mut done = Vec::new();
        feed(conn, chunk.pid, chunk.dir, ready, gap, gaps, &mut done);
        done
    }

    /// The connection ended (`SSL_free`): flush it.
    pub(crate) fn close(&mut self, pid: u32, ssl: u64, ts_ns: u64) -> Vec<Finished> {
        match self.conns.remove(&(pid, ssl)) {
            Some(conn) => self.finish(pid, conn, ts_ns),
            None => Vec::new(),
        }
    }

    /// The process exited: flush all its connections.
    pub(crate) fn close_pid(&mut self, pid: u32, ts_ns: u64) -> Vec<Finished> {
        let keys: Vec<(u32, u64)> = self.conns.keys().filter(|(p, _)| *p == pid).copied().collect();
        let conns: Vec<Connection> = keys.iter().filter_map(|k| self.conns.remove(k)).collect();
        conns.into_iter().flat_map(|conn| self.finish(pid, conn, ts_ns)).collect()
    }

    /// Capture stops: flush everything.
    pub(crate) fn close_all(&mut self, ts_ns: u64) -> Vec<Finished> {
        let conns: Vec<((u32, u64), Connection)> = self.conns.drain().collect();
        conns.into_iter().flat_map(|((pid, _), conn)| self.finish(pid, conn, ts_ns)).collect()
    }

    fn finish(&mut self, pid: u32, mut conn: Connection, ts_ns: u64) -> Vec<Finished> {
        let mut done = Vec::new();
        // what came early is delivered after the gaps before it, which are lost
        for dir in [Direction::Out, Direction::In] {
            let stream = match dir {
                Direction::Out => &mut conn.out,
                Direction::In => &mut conn.inbound,
            };
            let nothing =
                Chunk { pid, tid: 0, ssl: 0, plain: conn.plain, dir, offset: 0, ts_ns, call_start: false, data: &[] };
            let gaps = &mut self.gaps[usize::from(conn.plain)];
            let (ready, gap) = stream.accept(&nothing, true, gaps);
            feed(&mut conn, pid, dir, ready, gap, gaps, &mut done);
        }
        let (tid, plain) = (conn.last_tid, conn.plain);
        done.extend(conn.http.close(ts_ns).into_iter().map(|exchange| Finished { pid, tid, plain, exchange }));
        done
    }
}

/// Hand in-order bytes to the HTTP parser. After a gap the exchange in flight is flushed
/// (incomplete) and parsing restarts at the next written SSL call.
fn feed(
    conn: &mut Connection,
    pid: u32,
    dir: Direction,
    ready: Vec<Ready>,
    gap: bool,
    gaps: &mut Gaps,
    done: &mut Vec<Finished>,
) {
    let (tid, plain) = (conn.last_tid, conn.plain);
    if gap {
        let mut cut = std::mem::replace(&mut conn.http, Conn::new(conn.limits));
        let last = ready.first().map_or(0, |r| r.ts_ns);
        for mut exchange in cut.close(last) {
            exchange.incomplete = true;
            done.push(Finished { pid, tid, plain, exchange });
        }
        conn.resync = true;
    }
    for r in ready {
        if conn.resync {
            if dir == Direction::Out && r.call_start {
                conn.resync = false;
            } else {
                gaps.resync_dropped_bytes += r.data.len() as u64;
                continue;
            }
        }
        for exchange in conn.http.push(dir, r.ts_ns, &r.data) {
            done.push(Finished { pid, tid, plain, exchange });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    fn chunk(dir: Direction, offset: usize, data: &[u8], call_start: bool) -> Chunk<'_> {
        Chunk { pid: 1, tid: 1, ssl: 0xabc, plain: false, dir, offset: offset as u64, ts_ns: 10, call_start, data }
    }

    fn run(order: &[(Direction, usize, usize)]) -> (Vec<Finished>, Gaps) {
        let mut t = TlsStreams::new(Limits::default());
        let mut out = Vec::new();
        for &(dir, a, b) in order {
            let data = if dir == Direction::Out { REQ } else { RESP };
            out.extend(t.push(chunk(dir, a, &data[a..b], a == 0)));
        }
        out.extend(t.close_all(20));
        (out, t.gaps())
    }

    #[test]
    fn in_order_chunks_make_an_exchange() {
        let (done, gaps) = run(&[(Direction::Out, 0, REQ.len()), (Direction::In, 0, RESP.len())]);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].exchange.request.body, b"hello");
        assert_eq!(done[0].exchange.response.as_ref().map(|r| r.status), Some(200));
        assert_eq!(gaps, Gaps::default());
    }

    #[test]
    fn out_of_order_chunks_are_reordered() {
        let (done, gaps) = run(&[
            (Direction::Out, 20, REQ.len()),
            (Direction::Out, 0, 20),
            (Direction::In, 10, RESP.len()),
            (Direction::In, 0, 10),
        ]);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].exchange.request.body, b"hello");
        assert!(!done[0].exchange.incomplete);
        assert_eq!(gaps, Gaps::default());
    }

    #[test]
    fn a_lost_chunk_is_a_counted_gap_and_an_incomplete_exchange() {
        let (done, gaps) =
            run(&[(Direction::Out, 0, REQ.len()), (Direction::In, 0, 5), (Direction::In, 20, RESP.len())]);
        assert_eq!((gaps.count, gaps.bytes), (1, 15));
        assert_eq!(done.len(), 1);
        assert!(done[0].exchange.incomplete, "the exchange the gap cut is marked");
    }

    /// A gap in a plaintext HTTP stream is counted as such, not as a TLS gap.
    #[test]
    fn gaps_are_counted_by_kind_of_stream() {
        let mut t = TlsStreams::new(Limits::default());
        for (ssl, plain) in [(1, true), (2, false), (3, true)] {
            let cut = |offset: usize, data| Chunk { ssl, plain, ..chunk(Direction::In, offset, data, offset == 0) };
            t.push(Chunk { ssl, plain, ..chunk(Direction::Out, 0, REQ, true) });
            t.push(cut(0, &RESP[..5]));
            t.push(cut(20, &RESP[20..]));
        }
        t.close_all(20);
        assert_eq!((t.gaps_of(true).count, t.gaps_of(false).count, t.gaps().count), (2, 1, 3));
    }

    #[test]
    fn after_a_gap_the_next_request_is_parsed_again() {
        let mut t = TlsStreams::new(Limits::default());
        let mut done = Vec::new();
        // request 1 loses its middle (offsets 10..20); request 2 is a new SSL call after it
        done.extend(t.push(chunk(Direction::Out, 0, &REQ[..10], true)));
        done.extend(t.push(chunk(Direction::Out, 20, &REQ[20..], false)));
        done.extend(t.push(chunk(Direction::Out, REQ.len(), REQ, true)));
        done.extend(t.close_all(30));
        assert_eq!(t.gaps().count, 1);
        assert_eq!(t.gaps().resync_dropped_bytes, (REQ.len() - 20) as u64, "the rest of request 1 is dropped");
        let second: Vec<&Finished> = done.iter().filter(|f| f.exchange.request.body == b"hello").collect();
        assert_eq!(second.len(), 1, "request 2 parses: {done:#?}");
        assert_eq!(second[0].exchange.request.path, "/v1/x");
    }

    #[test]
    fn duplicates_are_ignored() {
        let (done, _) = run(&[(Direction::Out, 0, REQ.len()), (Direction::Out, 0, 10), (Direction::In, 0, RESP.len())]);
        assert_eq!(done.len(), 1);
    }
}
