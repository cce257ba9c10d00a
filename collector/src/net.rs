//! The TCP connections of the traced tree whose exchanges nothing decodes, so that each is
//! named in a `loss` event instead of being missed in silence.
//!
//! The kernel classifies every TCP connection of a traced process by its first bytes
//! (`bpf/process.h`, `enum sock_class`): plaintext HTTP from the client side is streamed and
//! decoded like TLS plaintext; an HTTP server's side is the peer's business; TLS and everything
//! else are only counted. This ledger decides which of the counted ones were captured after all:
//!
//! - a TLS connection is covered when its bytes moved inside a probed `SSL_write`/`SSL_read` on
//!   the same thread (OpenSSL with a socket BIO: curl, Python), or when the same process had TLS
//!   plaintext captured after the connection's first bytes (a memory BIO: Node, Bun, whose SSL
//!   calls and socket writes happen apart). The second rule can excuse an uncaptured connection
//!   of a process whose other connections were captured in the same span; it never names a
//!   captured one.
//! - any other protocol (SSH, a database, an HTTP `CONNECT` tunnel) is never decoded.
//!
//! What is left is reported once per (process, peer, kind) with the number of connections and
//! their bytes, when the process exits or capture stops. Pure: records in, reports out.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::raw::SockClass;

/// Connections followed at once; beyond this, new ones are counted in [`NetLedger::untracked`].
const MAX_OPEN: usize = 65536;

#[derive(Debug)]
struct Open {
    class: SockClass,
    peer: SocketAddr,
    comm: String,
    first_ts_ns: u64,
}

/// Uncaptured connections of one process to one peer, of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uncaptured {
    pub pid: u32,
    pub comm: String,
    pub peer: SocketAddr,
    /// TLS (else: a protocol that is neither HTTP nor TLS).
    pub tls: bool,
    pub connections: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Connections still open when their process exited or capture stopped (bytes unknown).
    pub open_at_end: u64,
}

impl Uncaptured {
    /// The words of the `loss` event.
    pub(crate) fn reason(&self) -> String {
        let what = if self.tls {
            "TLS whose plaintext no probe saw (a TLS library AgentSight cannot hook, or probes not attached)"
        } else {
            "a protocol that is neither HTTP nor TLS, not decoded"
        };
        let n = self.connections;
        let mut bytes = format!("{} out, {} in", human(self.bytes_out), human(self.bytes_in));
        if self.open_at_end > 0 {
            bytes.push_str(&format!("; {} still open, not counted", self.open_at_end));
        }
        format!(
            "pid {} `{}`: {n} TCP connection{} to {} not captured: {what} ({bytes})",
            self.pid,
            self.comm,
            if n == 1 { "" } else { "s" },
            self.peer
        )
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct NetLedger {
    open: HashMap<(u32, u64), Open>,
    /// Per process, the time of the last TLS plaintext captured.
    last_tls: HashMap<u32, u64>,
    pending: BTreeMap<(u32, SocketAddr, bool), Uncaptured>,
    /// Connections not followed because [`MAX_OPEN`] were open.
    pub untracked: u64,
}

impl NetLedger {
    /// A connection's first bytes (`EVENT_SOCK_INFO`).
    pub(crate) fn info(&mut self, pid: u32, sk: u64, class: SockClass, peer: SocketAddr, comm: &str, ts_ns: u64) {
        if !matches!(class, SockClass::Tls | SockClass::Other) {
            return;
        }
        if self.open.len() >= MAX_OPEN && !self.open.contains_key(&(pid, sk)) {
            self.untracked += 1;
            return;
        }
        self.open.insert((pid, sk), Open { class, peer, comm: comm.to_owned(), first_ts_ns: ts_ns });
    }

    /// TLS plaintext of `pid` was captured at `ts_ns`.
    pub(crate) fn tls_plaintext(&mut self, pid: u32, ts_ns: u64) {
        let last = self.last_tls.entry(pid).or_default();
        *last = (*last).max(ts_ns);
    }

    /// The connection's fd was closed (`EVENT_SOCK_CLOSE`); `hooked`: its bytes moved inside a
    /// probed SSL call.
    pub(crate) fn close(&mut self, pid: u32, sk: u64, hooked: bool, bytes_out: u64, bytes_in: u64) {
        if let Some(open) = self.open.remove(&(pid, sk)) {
            self.settle(pid, open, hooked, Some((bytes_out, bytes_in)));
        }
    }

    /// The process exited: settle its open connections and hand over its reports.
    pub(crate) fn exit(&mut self, pid: u32) -> Vec<Uncaptured> {
        let keys: Vec<(u32, u64)> = self.open.keys().filter(|(p, _)| *p == pid).copied().collect();
        for key in keys {
            if let Some(open) = self.open.remove(&key) {
                self.settle(pid, open, false, None);
            }
        }
        self.last_tls.remove(&pid);
        let keys: Vec<_> =
            self.pending.range((pid, min_addr(), false)..).take_while(|(k, _)| k.0 == pid).map(|(k, _)| *k).collect();
        keys.iter().filter_map(|k| self.pending.remove(k)).collect()
    }

    /// Capture stops: everything still open or pending.
    pub(crate) fn finish(&mut self) -> Vec<Uncaptured> {
        let open: Vec<((u32, u64), Open)> = self.open.drain().collect();
        for ((pid, _), o) in open {
            self.settle(pid, o, false, None);
        }
        self.last_tls.clear();
        std::mem::take(&mut self.pending).into_values().collect()
    }

    fn settle(&mut self, pid: u32, open: Open, hooked: bool, bytes: Option<(u64, u64)>) {
        let tls = open.class == SockClass::Tls;
        if tls && (hooked || self.last_tls.get(&pid).is_some_and(|&t| t >= open.first_ts_ns)) {
            return;
        }
        if bytes == Some((0, 0)) {
            return;
        }
        let entry = self.pending.entry((pid, open.peer, tls)).or_insert_with(|| Uncaptured {
            pid,
            comm: open.comm.clone(),
            peer: open.peer,
            tls,
            connections: 0,
            bytes_out: 0,
            bytes_in: 0,
            open_at_end: 0,
        });
        entry.connections += 1;
        match bytes {
            Some((out, inn)) => {
                entry.bytes_out += out;
                entry.bytes_in += inn;
            }
            None => entry.open_at_end += 1,
        }
    }
}

fn min_addr() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn uncaptured_tls_is_reported_at_exit_with_its_peer_and_bytes() {
        let mut n = NetLedger::default();
        n.info(7, 0xa, SockClass::Tls, peer(443), "codex", 10);
        n.info(7, 0xb, SockClass::Tls, peer(443), "codex", 11);
        n.close(7, 0xa, false, 1000, 5000);
        let r = n.exit(7);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].connections, r[0].bytes_out, r[0].bytes_in, r[0].open_at_end), (2, 1000, 5000, 1));
        let reason = r[0].reason();
        assert!(reason.contains("pid 7 `codex`: 2 TCP connections to 127.0.0.1:443 not captured: TLS"), "{reason}");
        assert!(reason.contains("1000 B out, 4.9 KiB in; 1 still open"), "{reason}");
        assert!(n.exit(7).is_empty(), "reported once");
    }

    #[test]
    fn hooked_or_later_plaintext_covers_a_tls_connection() {
        let mut n = NetLedger::default();
        n.info(1, 0xa, SockClass::Tls, peer(443), "curl", 10);
        n.close(1, 0xa, true, 10, 10);
        n.info(2, 0xb, SockClass::Tls, peer(443), "node", 10);
        n.tls_plaintext(2, 12);
        n.close(2, 0xb, false, 10, 10);
        // plaintext of the same process, but before the connection began, does not cover it
        n.info(3, 0xc, SockClass::Tls, peer(8443), "node", 20);
        n.tls_plaintext(3, 15);
        n.close(3, 0xc, false, 10, 10);
        assert!(n.exit(1).is_empty());
        assert!(n.exit(2).is_empty());
        assert_eq!(n.exit(3).len(), 1);
    }

    #[test]
    fn other_protocols_are_reported_http_and_silent_sockets_are_not() {
        let mut n = NetLedger::default();
        n.info(4, 0xa, SockClass::Other, peer(22), "ssh", 1);
        n.info(4, 0xb, SockClass::Http, peer(80), "curl", 1);
        n.info(4, 0xc, SockClass::HttpServer, peer(5000), "py", 1);
        n.info(4, 0xd, SockClass::Other, peer(5432), "psql", 1);
        n.close(4, 0xd, false, 0, 0);
        n.tls_plaintext(4, 100); // never excuses a protocol that is not TLS
        let r = n.finish();
        assert_eq!(r.len(), 1);
        assert!(!r[0].tls && r[0].peer == peer(22));
        assert!(r[0].reason().contains("neither HTTP nor TLS"));
    }
}
