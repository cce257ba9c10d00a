//! TLS plaintext streams: chunks from `tls.bpf.c` back in order, per connection and direction,
//! fed to the HTTP reassembler.
//!
//! A connection is (pid, `SSL*`). Each chunk carries its offset in its direction's stream; chunks
//! of concurrent calls may arrive out of order (different CPUs), so each direction keeps the
//! chunks that came early until the gap before them fills. A gap that never fills (a lost
//! record, already counted by the kernel) is skipped once `MAX_EARLY_BYTES` are waiting or the
//! connection ends: the HTTP parser then sees the cut and reports the exchange incomplete or the
//! connection unparsable. Memory per connection is bounded by that and by `http::Limits`.

use std::collections::{BTreeMap, HashMap};

use crate::http::{Conn, Direction, Exchange, Limits};

/// Bytes held out of order per direction before a gap is declared lost.
const MAX_EARLY_BYTES: usize = 4 << 20;

/// One direction of a connection: the next expected offset and chunks that came early.
#[derive(Debug, Default)]
struct Stream {
    next: u64,
    early: BTreeMap<u64, (u64, Vec<u8>)>,
    early_bytes: usize,
}

#[derive(Debug)]
struct Connection {
    http: Conn,
    out: Stream,
    inbound: Stream,
    last_tid: u32,
}

/// An exchange with the process that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub pid: u32,
    /// The thread that moved the exchange's last bytes.
    pub tid: u32,
    pub exchange: Exchange,
}

/// What was skipped: gaps in streams (bytes never received).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gaps {
    pub count: u64,
    pub bytes: u64,
}

/// All TLS connections of a session.
#[derive(Debug, Default)]
pub struct TlsStreams {
    conns: HashMap<(u32, u64), Connection>,
    limits: Limits,
    gaps: Gaps,
}

impl TlsStreams {
    pub fn new(limits: Limits) -> Self {
        TlsStreams { conns: HashMap::new(), limits, gaps: Gaps::default() }
    }

    /// Gaps skipped so far.
    pub fn gaps(&self) -> Gaps {
        self.gaps
    }

    /// A chunk of plaintext at `offset` of the (pid, ssl, dir) stream.
    #[allow(clippy::too_many_arguments)] // one record's fields, passed as they come
    pub fn push(&mut self, pid: u32, tid: u32, ssl: u64, dir: Direction, offset: u64, ts_ns: u64, data: &[u8]) -> Vec<Finished> {
        let limits = self.limits;
        let conn = self.conns.entry((pid, ssl)).or_insert_with(|| Connection {
            http: Conn::new(limits),
            out: Stream::default(),
            inbound: Stream::default(),
            last_tid: tid,
        });
        conn.last_tid = tid;
        let stream = match dir {
            Direction::Out => &mut conn.out,
            Direction::In => &mut conn.inbound,
        };
        let mut ready: Vec<(u64, Vec<u8>)> = Vec::new();
        if offset + data.len() as u64 <= stream.next {
            return Vec::new(); // a duplicate of what was already delivered
        }
        if offset > stream.next {
            stream.early_bytes += data.len();
            stream.early.insert(offset, (ts_ns, data.to_vec()));
        } else {
            let skip = (stream.next - offset) as usize;
            ready.push((ts_ns, data[skip..].to_vec()));
            stream.next = offset + data.len() as u64;
        }
        // drain early chunks that are now contiguous; skip a gap that waited too long
        while let Some((&first, _)) = stream.early.iter().next() {
            if first > stream.next {
                if stream.early_bytes <= MAX_EARLY_BYTES {
                    break;
                }
                self.gaps.count += 1;
                self.gaps.bytes += first - stream.next;
                stream.next = first;
            }
            let Some((off, (ts, bytes))) = stream.early.pop_first() else { break };
            stream.early_bytes -= bytes.len();
            if off + bytes.len() as u64 > stream.next {
                let skip = (stream.next.saturating_sub(off)) as usize;
                ready.push((ts, bytes[skip..].to_vec()));
                stream.next = off + bytes.len() as u64;
            }
        }
        let mut done = Vec::new();
        for (ts, bytes) in ready {
            for exchange in conn.http.push(dir, ts, &bytes) {
                done.push(Finished { pid, tid, exchange });
            }
        }
        done
    }

    /// The connection ended (`SSL_free`): flush it.
    pub fn close(&mut self, pid: u32, ssl: u64, ts_ns: u64) -> Vec<Finished> {
        match self.conns.remove(&(pid, ssl)) {
            Some(conn) => self.finish(pid, conn, ts_ns),
            None => Vec::new(),
        }
    }

    /// The process exited: flush all its connections.
    pub fn close_pid(&mut self, pid: u32, ts_ns: u64) -> Vec<Finished> {
        let keys: Vec<(u32, u64)> = self.conns.keys().filter(|(p, _)| *p == pid).copied().collect();
        let conns: Vec<Connection> = keys.iter().filter_map(|k| self.conns.remove(k)).collect();
        conns.into_iter().flat_map(|conn| self.finish(pid, conn, ts_ns)).collect()
    }

    /// Capture stops: flush everything.
    pub fn close_all(&mut self, ts_ns: u64) -> Vec<Finished> {
        let conns: Vec<((u32, u64), Connection)> = self.conns.drain().collect();
        conns.into_iter().flat_map(|((pid, _), conn)| self.finish(pid, conn, ts_ns)).collect()
    }

    fn finish(&mut self, pid: u32, mut conn: Connection, ts_ns: u64) -> Vec<Finished> {
        let tid = conn.last_tid;
        let mut done = Vec::new();
        // what came early is delivered after the gaps before it, which are lost
        for dir in [Direction::Out, Direction::In] {
            let stream = match dir {
                Direction::Out => &mut conn.out,
                Direction::In => &mut conn.inbound,
            };
            let early = std::mem::take(&mut stream.early);
            for (off, (ts, bytes)) in early {
                if off > stream.next {
                    self.gaps.count += 1;
                    self.gaps.bytes += off - stream.next;
                }
                let skip = stream.next.saturating_sub(off) as usize;
                if skip < bytes.len() {
                    stream.next = off + bytes.len() as u64;
                    done.extend(conn.http.push(dir, ts, &bytes[skip..]).into_iter().map(|exchange| Finished { pid, tid, exchange }));
                }
            }
        }
        done.extend(conn.http.close(ts_ns).into_iter().map(|exchange| Finished { pid, tid, exchange }));
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    fn run(order: &[(Direction, usize, usize)]) -> (Vec<Finished>, Gaps) {
        let mut t = TlsStreams::new(Limits::default());
        let mut out = Vec::new();
        for &(dir, a, b) in order {
            let data = if dir == Direction::Out { REQ } else { RESP };
            out.extend(t.push(1, 1, 0xabc, dir, a as u64, 10, &data[a..b]));
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
    fn a_lost_chunk_is_a_counted_gap() {
        let (done, gaps) = run(&[(Direction::Out, 0, REQ.len()), (Direction::In, 0, 5), (Direction::In, 20, RESP.len())]);
        assert_eq!(gaps.count, 1);
        assert_eq!(gaps.bytes, 15);
        assert!(done.iter().all(|f| f.exchange.response.as_ref().is_none_or(|r| r.status != 0)));
    }

    #[test]
    fn duplicates_are_ignored() {
        let (done, _) = run(&[(Direction::Out, 0, REQ.len()), (Direction::Out, 0, 10), (Direction::In, 0, RESP.len())]);
        assert_eq!(done.len(), 1);
    }
}
