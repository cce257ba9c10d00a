//! From kernel records to the events of the model: wall-clock times, absolute paths, readable
//! strings, exit statuses, socket addresses, and write summaries joined with their paths.
//!
//! [`Decoder`] is the pure, synchronous core of the capture stage: it owns no I/O, so every rule
//! here is unit-tested with hand-made records. Its state: the path of each (process, fd) write
//! summary between the kernel's `WRITE_START` and `WRITE_END` records, and the TLS streams
//! (reassembled into HTTP exchanges, decoded into `llm_call` / `http` events), and the path of
//! each directory (or `O_PATH`) fd a process opened, so that `/proc/self/fd/N/name` (how Bun
//! programs such as Claude Code and opencode write files: an `O_PATH` directory fd, then a
//! tmp file and a rename through `/proc/self/fd`) becomes the real path.
//!
//! TCP connections that carry neither plaintext HTTP nor captured TLS are followed by
//! [`NetLedger`] and named in `loss` events with their peers when their process exits.
//!
//! Redaction happens here, before any event leaves: credential headers and secret shapes in
//! bodies are replaced by `[REDACTED:...]` markers before they are decoded, and then every
//! string field of every event this decoder emits (paths, cwd, argv, addresses, LLM text, loss
//! reasons) goes through [`Redactor::event`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use model::{Connect, Event, EventBody, Exec, Exit, FileEvent, FileOp, Fork, Loss};

use crate::clock::Clock;
use crate::http::{Direction, Limits};
use crate::llm::{self, Decoded};
use crate::net::NetLedger;
use crate::raw::{self, trunc, Header, RawRecord, SockClass};
use crate::redact::Redactor;
use crate::text::{absolute, escape_bytes, open_flags_text, result_error, split_argv};
use crate::tls::{Chunk, Finished, Gaps, TlsStreams};

#[derive(Debug)]
struct PendingWrite {
    path: String,
    truncated: Vec<String>,
    non_utf8: bool,
    comm: String,
    ppid: u32,
}

/// Turns [`RawRecord`]s into [`Event`]s for one session.
#[derive(Debug)]
pub(crate) struct Decoder {
    session: String,
    clock: Clock,
    writes: HashMap<(u32, i32), PendingWrite>,
    tls: TlsStreams,
    redactor: Redactor,
    /// comm and ppid of processes seen in TLS records, for the events their exchanges make.
    procs: HashMap<u32, (String, u32)>,
    /// Per process, the path of each directory or `O_PATH` fd it opened (dropped at its exit).
    dir_fds: HashMap<u32, HashMap<i32, String>>,
    /// TCP connections no capture decodes, named at their process's exit.
    net: NetLedger,
    /// `None`: requests are written whole (`CaptureConfig::full_requests`).
    conversations: Option<model::conversation::Conversations>,
}

/// At most this many directory fds are remembered per process (a process that opens more
/// keeps the first ones; a later `/proc/self/fd/N` path of another stays as it is).
const DIR_FDS_PER_PROCESS: usize = 4096;
const O_DIRECTORY: u32 = 0o200000;
const O_PATH: u32 = 0o10000000;

impl Decoder {
    pub(crate) fn new(session: impl Into<String>, clock: Clock, redactor: Redactor) -> Self {
        Decoder {
            session: session.into(),
            clock,
            writes: HashMap::new(),
            tls: TlsStreams::new(Limits::default()),
            redactor,
            procs: HashMap::new(),
            dir_fds: HashMap::new(),
            net: NetLedger::default(),
            conversations: Some(Default::default()),
        }
    }

    /// With `true`, requests are written whole instead of compact.
    pub(crate) fn full_requests(mut self, whole: bool) -> Self {
        self.conversations = (!whole).then(Default::default);
        self
    }

    /// Bytes of TLS streams (or, `plain`, of plaintext HTTP streams) that never arrived
    /// (their records were lost).
    pub(crate) fn stream_gaps(&self, plain: bool) -> Gaps {
        self.tls.gaps_of(plain)
    }

    /// Decode one record into `out` (none, one, or several events: a TLS chunk can complete
    /// exchanges, an exit flushes the process's open connections first).
    pub(crate) fn push(&mut self, record: RawRecord, out: &mut Vec<Event>) {
        let from = out.len();
        self.push_unredacted(record, out);
        self.redact(&mut out[from..]);
    }

    /// The last steps before an event leaves the collector: credentials redacted, then each
    /// `llm_call`'s request made compact (each message once per conversation, see
    /// `model::conversation`), so neither the trace nor the shipped windows repeat a history.
    fn redact(&mut self, events: &mut [Event]) {
        for ev in events {
            self.redactor.event(ev);
            if let Some(c) = self.conversations.as_mut() {
                c.compact(ev);
            }
        }
    }

    fn push_unredacted(&mut self, record: RawRecord, out: &mut Vec<Event>) {
        match record {
            RawRecord::TlsData { hdr, plain, ssl, dir, offset, call_start, data } => {
                self.procs.insert(hdr.pid, (escape_bytes(&hdr.comm).0, hdr.ppid));
                if !plain {
                    self.net.tls_plaintext(hdr.pid, hdr.ts_boot_ns);
                }
                let dir = if dir == 0 { Direction::Out } else { Direction::In };
                let ts_ns = hdr.ts_boot_ns;
                let chunk =
                    Chunk { pid: hdr.pid, tid: hdr.tid, ssl, plain, dir, offset, ts_ns, call_start, data: &data };
                let done = self.tls.push(chunk);
                self.exchanges(done, out);
            }
            RawRecord::TlsClose { hdr, ssl } => {
                let done = self.tls.close(hdr.pid, ssl, hdr.ts_boot_ns);
                self.exchanges(done, out);
            }
            RawRecord::SockInfo { hdr, sk, class, peer, .. } => {
                self.net.info(hdr.pid, sk, class, peer, &escape_bytes(&hdr.comm).0, hdr.ts_boot_ns);
            }
            RawRecord::SockClose { hdr, sk, class, flags, bytes_out, bytes_in } => {
                if class == SockClass::Http {
                    let done = self.tls.close(hdr.pid, sk, hdr.ts_boot_ns);
                    self.exchanges(done, out);
                }
                self.net.close(hdr.pid, sk, flags & raw::SOCK_TLS_HOOKED != 0, bytes_out, bytes_in);
            }
            record => {
                if let RawRecord::Exit { hdr, .. } = &record {
                    let done = self.tls.close_pid(hdr.pid, hdr.ts_boot_ns);
                    self.exchanges(done, out);
                    self.procs.remove(&hdr.pid);
                    for u in self.net.exit(hdr.pid) {
                        out.push(self.loss(hdr.ts_boot_ns, "net", u.connections, &u.reason()));
                    }
                }
                if let Some(ev) = self.decode(record) {
                    out.push(ev);
                }
            }
        }
    }

    /// Capture stops: flush every open connection (their exchanges are marked incomplete).
    pub(crate) fn finish(&mut self, now_boot_ns: u64, out: &mut Vec<Event>) {
        let from = out.len();
        let done = self.tls.close_all(now_boot_ns);
        self.exchanges(done, out);
        for u in self.net.finish() {
            out.push(self.loss(now_boot_ns, "net", u.connections, &u.reason()));
        }
        if self.net.untracked > 0 {
            let n = std::mem::take(&mut self.net.untracked);
            out.push(self.loss(now_boot_ns, "net", n, "TCP connections not followed (too many open at once)"));
        }
        self.redact(&mut out[from..]);
    }

    fn exchanges(&mut self, done: Vec<Finished>, out: &mut Vec<Event>) {
        for f in done {
            out.push(self.exchange_event(f));
        }
    }

    fn exchange_event(&self, f: Finished) -> Event {
        let mut ex = f.exchange;
        let r = &self.redactor;
        r.headers(&mut ex.request.headers);
        r.bytes(&mut ex.request.body);
        ex.request.path = r.text(&ex.request.path).0.into_owned();
        if let Some(resp) = ex.response.as_mut() {
            r.headers(&mut resp.headers);
            r.bytes(&mut resp.body);
        }
        let body = match llm::decode(&ex) {
            Decoded::Llm(mut call) => {
                if f.plain {
                    call.url = call.url.replacen("https://", "http://", 1);
                }
                EventBody::LlmCall(call)
            }
            Decoded::Http(http) => EventBody::Http(http),
        };
        let (comm, ppid) = self.procs.get(&f.pid).cloned().unwrap_or_default();
        Event {
            ts_ns: self.clock.to_wall_ns(ex.request.start_ns),
            session: self.session.clone(),
            pid: f.pid,
            tid: f.tid,
            ppid,
            comm,
            body,
        }
    }

    pub(crate) fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn event(&self, hdr: &Header, body: EventBody) -> Event {
        Event {
            ts_ns: self.clock.to_wall_ns(hdr.ts_boot_ns),
            session: self.session.clone(),
            pid: hdr.pid,
            tid: hdr.tid,
            ppid: hdr.ppid,
            comm: escape_bytes(&hdr.comm).0,
            body,
        }
    }

    /// An event saying that `count` things were lost at `source` for `reason`.
    pub(crate) fn loss(&self, boot_ns: u64, source: &str, count: u64, reason: &str) -> Event {
        // a reason can name a traced program's path
        let mut ev = Event {
            ts_ns: self.clock.to_wall_ns(boot_ns),
            session: self.session.clone(),
            pid: 0,
            tid: 0,
            ppid: 0,
            comm: "[agentsight]".into(),
            body: EventBody::Loss(Loss { source: source.into(), count, reason: reason.into() }),
        };
        self.redactor.event(&mut ev);
        ev
    }

    /// Decode one kernel-boundary record. `None` when the record only feeds state (a write
    /// summary's start) or belongs to the TLS streams (see [`Decoder::push`]).
    fn decode(&mut self, record: RawRecord) -> Option<Event> {
        let body = match &record {
            RawRecord::Exec { hdr, filename, cwd, argv, argv_full_bytes, trunc } => {
                let (cwd, bad_cwd) = escape_bytes(cwd);
                let (filename, bad_file) = escape_bytes(filename);
                let (argv, bad_argv) = split_argv(argv);
                EventBody::Exec(Exec {
                    filename: absolute(&cwd, &filename),
                    argv,
                    cwd,
                    uid: hdr.uid,
                    argv_truncated: trunc & trunc::ARGV != 0,
                    argv_bytes: *argv_full_bytes,
                    truncated: trunc::names(*trunc),
                    non_utf8: bad_cwd || bad_file || bad_argv,
                })
            }
            RawRecord::Fork { child_pid, .. } => EventBody::Fork(Fork { child_pid: *child_pid }),
            RawRecord::Exit { hdr, exit_code, duration_ns } => {
                self.dir_fds.remove(&hdr.pid);
                EventBody::Exit(exit_status(*exit_code, *duration_ns))
            }
            RawRecord::File { hdr, op, flags, result, path, base, new_path, new_base, trunc, .. } => {
                let (path, bad_path) = escape_bytes(path);
                let (base, bad_base) = escape_bytes(base);
                let (new_path, bad_new) = escape_bytes(new_path);
                let (new_base, bad_new_base) = escape_bytes(new_base);
                let op = match *op {
                    raw::FILE_OP_OPEN => FileOp::Open,
                    raw::FILE_OP_UNLINK => FileOp::Unlink,
                    raw::FILE_OP_RMDIR => FileOp::Rmdir,
                    raw::FILE_OP_RENAME => FileOp::Rename,
                    raw::FILE_OP_MKDIR => FileOp::Mkdir,
                    _ => return None,
                };
                let is_rename = op == FileOp::Rename;
                let path = self.through_fd(hdr.pid, absolute(&base, &path));
                let new_path = is_rename.then(|| self.through_fd(hdr.pid, absolute(&new_base, &new_path)));
                if op == FileOp::Open && *result >= 0 && flags & (O_DIRECTORY | O_PATH) != 0 {
                    let fds = self.dir_fds.entry(hdr.pid).or_default();
                    if fds.len() < DIR_FDS_PER_PROCESS || fds.contains_key(&(*result as i32)) {
                        fds.insert(*result as i32, path.clone());
                    }
                }
                EventBody::File(FileEvent {
                    op,
                    path,
                    new_path,
                    flags: matches!(op, FileOp::Open | FileOp::Rename | FileOp::Unlink | FileOp::Rmdir)
                        .then_some(*flags)
                        .filter(|f| op == FileOp::Open || *f != 0),
                    flags_text: (op == FileOp::Open).then(|| open_flags_text(*flags)),
                    bytes: None,
                    writes: None,
                    fd: (op == FileOp::Open && *result >= 0).then_some(*result as i32),
                    result: *result,
                    error: result_error(*result),
                    truncated: trunc::names(*trunc),
                    non_utf8: bad_path || bad_base || bad_new || bad_new_base,
                })
            }
            RawRecord::Connect { result, sockaddr, sockaddr_len, .. } => {
                let (family, addr, port) = sockaddr_text(sockaddr, *sockaddr_len);
                EventBody::Connect(Connect { family, addr, port, result: *result, error: result_error(*result) })
            }
            RawRecord::WriteStart { hdr, fd, path, trunc } => {
                let (path, non_utf8) = escape_bytes(path);
                let pending = PendingWrite {
                    path,
                    truncated: trunc::names(*trunc),
                    non_utf8,
                    comm: escape_bytes(&hdr.comm).0,
                    ppid: hdr.ppid,
                };
                self.writes.insert((hdr.pid, *fd), pending);
                return None;
            }
            // see `push`
            RawRecord::TlsData { .. } | RawRecord::TlsClose { .. } => return None,
            RawRecord::SockInfo { .. } | RawRecord::SockClose { .. } => return None,
            RawRecord::ExecMap { .. } => return None, // offered to the TLS probes by the capture
            RawRecord::WriteEnd { hdr, fd, bytes, writes, .. } => {
                let pending = self.writes.remove(&(hdr.pid, *fd));
                let body = EventBody::File(FileEvent {
                    op: FileOp::Write,
                    // the start record was lost (its loss is counted): say which fd it was
                    path: pending.as_ref().map_or_else(|| format!("fd:{fd}"), |p| p.path.clone()),
                    new_path: None,
                    flags: None,
                    flags_text: None,
                    bytes: Some(*bytes),
                    writes: Some(*writes),
                    fd: Some(*fd),
                    result: 0,
                    error: None,
                    truncated: pending.as_ref().map(|p| p.truncated.clone()).unwrap_or_default(),
                    non_utf8: pending.as_ref().is_some_and(|p| p.non_utf8),
                });
                let mut event = self.event(hdr, body);
                // the end may come from the exit path or the final sweep, without a comm
                if let Some(p) = pending {
                    if event.comm.is_empty() {
                        event.comm = p.comm;
                        event.ppid = p.ppid;
                    }
                }
                return Some(event);
            }
        };
        let hdr = record.header();
        Some(self.event(hdr, body))
    }
}

impl Decoder {
    /// `/proc/self/fd/N/rest` (also `/proc/thread-self/…` and `/proc/<own pid>/…`) as the
    /// path of the directory the process opened as fd N, joined with `rest`; any other path,
    /// or an fd not known, as it is.
    fn through_fd(&self, pid: u32, path: String) -> String {
        let Some(after) = path.strip_prefix("/proc/") else { return path };
        let Some((who, after)) = after.split_once('/') else { return path };
        let own = who == "self" || who == "thread-self" || who.parse::<u32>().is_ok_and(|p| p == pid);
        let Some(after) = after.strip_prefix("fd/").filter(|_| own) else { return path };
        let (fd, rest) = after.split_once('/').unwrap_or((after, ""));
        let dir = fd.parse::<i32>().ok().and_then(|fd| self.dir_fds.get(&pid)?.get(&fd));
        match dir {
            Some(dir) if rest.is_empty() => dir.clone(),
            Some(dir) => format!("{}/{rest}", dir.trim_end_matches('/')),
            None => path,
        }
    }
}

/// The kernel's raw `task->exit_code`: `(status << 8) | termsig | 0x80 if core dumped`.
fn exit_status(code: u32, duration_ns: u64) -> Exit {
    let signal = code & 0x7f;
    let core_dumped = code & 0x80 != 0;
    let exit_code = if signal != 0 { 128 + signal as i32 } else { ((code >> 8) & 0xff) as i32 };
    Exit { exit_code, signal, core_dumped, duration_ns }
}

/// `(family, address, port)` of a raw `struct sockaddr_*`.
fn sockaddr_text(sa: &[u8], len: u32) -> (String, String, u16) {
    let family = sa.get(..2).map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]));
    let port = sa.get(2..4).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    match family {
        2 => {
            let ip = sa.get(4..8).map_or(Ipv4Addr::UNSPECIFIED, |b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            ("inet".into(), ip.to_string(), port)
        }
        10 => {
            let ip =
                sa.get(8..24).and_then(|b| <[u8; 16]>::try_from(b).ok()).map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from);
            ("inet6".into(), ip.to_string(), port)
        }
        1 => {
            let path = sa.get(2..).unwrap_or_default();
            let path_len = (len as usize).saturating_sub(2).min(path.len());
            let text = match path.first() {
                // abstract socket: a leading NUL, then exactly the bytes addrlen covers
                Some(0) => format!("@{}", escape_bytes(&path[1..path_len.max(1)]).0),
                _ => {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    escape_bytes(&path[..end]).0
                }
            };
            ("unix".into(), text, 0)
        }
        other => (format!("af{other}"), String::new(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{build, parse};

    fn decoder() -> Decoder {
        let redactor = crate::redact::RedactConfig::default().build().expect("built-in patterns compile");
        Decoder::new("s1", Clock::with_offset(1_000_000), redactor)
    }

    fn decode_bytes(d: &mut Decoder, bytes: &[u8]) -> Option<Event> {
        let mut out = Vec::new();
        d.push(parse(bytes).expect("valid record"), &mut out);
        out.pop()
    }

    #[test]
    fn exec_becomes_event_with_wall_time_and_absolute_filename() {
        let mut d = decoder();
        let ev = decode_bytes(&mut d, &build::exec(9, "./run.sh", "/home/a", b"./run.sh\0x\0", 0)).expect("event");
        assert_eq!(ev.ts_ns, 1_001_000);
        assert_eq!(ev.session, "s1");
        let EventBody::Exec(exec) = ev.body else { panic!("exec") };
        assert_eq!(exec.filename, "/home/a/run.sh");
        assert_eq!(exec.argv, ["./run.sh", "x"]);
        assert!(!exec.argv_truncated);
    }

    #[test]
    fn truncated_argv_is_flagged() {
        let mut d = decoder();
        let ev = decode_bytes(&mut d, &build::exec(9, "/bin/echo", "/", b"echo\0aaa", trunc::ARGV)).expect("event");
        let EventBody::Exec(exec) = ev.body else { panic!("exec") };
        assert!(exec.argv_truncated);
        assert_eq!(exec.truncated, ["argv"]);
    }

    #[test]
    fn rename_resolves_both_paths() {
        let mut d = decoder();
        let bytes = build::file(3, raw::FILE_OP_RENAME, "a", "/tmp/x", ("../y/b", "/tmp/x"), 0);
        let EventBody::File(f) = decode_bytes(&mut d, &bytes).expect("event").body else { panic!("file") };
        assert_eq!(f.op, FileOp::Rename);
        assert_eq!(f.path, "/tmp/x/a");
        assert_eq!(f.new_path.as_deref(), Some("/tmp/y/b"));
        assert_eq!(f.error, None);
    }

    #[test]
    fn proc_self_fd_paths_become_the_directory_the_fd_names() {
        // Bun (Claude Code, opencode): an O_PATH directory fd, then a tmp file and a rename
        // through /proc/self/fd/N
        let mut d = decoder();
        let file = |d: &mut Decoder, bytes: &[u8]| match decode_bytes(d, bytes).expect("event").body {
            EventBody::File(f) => f,
            other => panic!("{other:?}"),
        };
        file(&mut d, &build::open(3, "/work/app", O_DIRECTORY | O_PATH, 13));
        let tmp = file(&mut d, &build::open(3, "/proc/self/fd/13/calc.py.tmp.1.ab", 0o301, 14));
        assert_eq!(tmp.path, "/work/app/calc.py.tmp.1.ab");
        let mv = file(
            &mut d,
            &build::file(
                3,
                raw::FILE_OP_RENAME,
                "/proc/self/fd/13/calc.py.tmp.1.ab",
                "",
                ("/proc/3/fd/13/calc.py", ""),
                0,
            ),
        );
        assert_eq!(
            (mv.path.as_str(), mv.new_path.as_deref()),
            ("/work/app/calc.py.tmp.1.ab", Some("/work/app/calc.py"))
        );
        // another process's fd 13, an unknown fd and a non-directory open stay as they are
        let other = file(&mut d, &build::open(4, "/proc/self/fd/13/x", 0, 5));
        assert_eq!(other.path, "/proc/self/fd/13/x");
        file(&mut d, &build::open(3, "/work/app/notes.txt", 0, 15));
        assert_eq!(file(&mut d, &build::open(3, "/proc/self/fd/15/y", 0, 16)).path, "/proc/self/fd/15/y");
        assert_eq!(file(&mut d, &build::open(3, "/proc/self/fd/13", 0, 17)).path, "/work/app");
    }

    #[test]
    fn failed_open_names_its_errno() {
        let mut d = decoder();
        let bytes = build::file(3, raw::FILE_OP_OPEN, "/nonexistent", "", ("", ""), -2);
        let EventBody::File(f) = decode_bytes(&mut d, &bytes).expect("event").body else { panic!("file") };
        assert_eq!((f.result, f.error.as_deref(), f.fd), (-2, Some("ENOENT"), None));
        assert_eq!(f.flags_text.as_deref(), Some("O_RDONLY"));
    }

    #[test]
    fn write_summary_joins_start_and_end() {
        let mut d = decoder();
        let hdr = |kind| Header { kind, ts_boot_ns: 5, pid: 4, tid: 4, ppid: 1, uid: 0, comm: b"bash".to_vec() };
        let start =
            RawRecord::WriteStart { hdr: hdr(raw::EVENT_WRITE_START), fd: 1, path: b"/tmp/x/a".to_vec(), trunc: 0 };
        assert!(d.decode(start).is_none());
        let end = RawRecord::WriteEnd { hdr: hdr(raw::EVENT_WRITE_END), fd: 1, bytes: 3, writes: 1, first_ts_ns: 5 };
        let ev = d.decode(end.clone()).expect("event");
        let EventBody::File(f) = ev.body else { panic!("file") };
        assert_eq!((f.op, f.path.as_str(), f.bytes, f.writes), (FileOp::Write, "/tmp/x/a", Some(3), Some(1)));
        // a second end without a start: the fd is named instead of a path
        let EventBody::File(f) = d.decode(end).expect("event").body else { panic!("file") };
        assert_eq!(f.path, "fd:1");
    }

    #[test]
    fn redacts_secrets_in_paths_cwd_and_filename() {
        // put together at run time so that no secret scanner flags this file
        let key = ["sk-ant-api03-", "6yYTWmE4lBYOvfZ8UzDzV8fUkkibjL5DZPjN0MEQ7wjJ"].concat();
        let aws = ["AKIA", "IOSFODNN7EXAMPLE"].concat();
        let gh = ["ghp_", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"].concat();
        let mut d = decoder();
        let mut out = Vec::new();
        let cwd = format!("/home/a/x_{key}");
        let exec = build::exec(9, &format!("./id1{aws}.sh"), &cwd, format!("run\0%3D{gh}\0").as_bytes(), 0);
        d.push(parse(&exec).expect("exec"), &mut out);
        let rename = build::file(3, raw::FILE_OP_RENAME, &format!("k_{gh}"), "/tmp", (&format!("{aws}/b"), "/tmp"), 0);
        d.push(parse(&rename).expect("rename"), &mut out);
        let hdr = |kind| Header { kind, ts_boot_ns: 5, pid: 4, tid: 4, ppid: 1, uid: 0, comm: b"bash".to_vec() };
        let path = format!("/tmp/{key}.txt").into_bytes();
        d.push(RawRecord::WriteStart { hdr: hdr(raw::EVENT_WRITE_START), fd: 1, path, trunc: 0 }, &mut out);
        d.push(
            RawRecord::WriteEnd { hdr: hdr(raw::EVENT_WRITE_END), fd: 1, bytes: 3, writes: 1, first_ts_ns: 5 },
            &mut out,
        );
        let mut un = vec![1, 0];
        un.extend_from_slice(format!("/run/{gh}.sock\0").as_bytes());
        let connect =
            RawRecord::Connect { hdr: hdr(raw::EVENT_CONNECT), result: 0, fd: 3, sockaddr: un, sockaddr_len: 64 };
        d.push(connect, &mut out);
        out.push(d.loss(5, "tls", 1, &format!("pid 9 `x` (/opt/{key}/node): TLS via go, not captured")));

        assert_eq!(out.len(), 5);
        let json = serde_json::to_string(&out).expect("json");
        for secret in [&key, &aws, &gh] {
            assert!(!json.contains(secret.as_str()), "`{secret}` left in {json}");
        }
        let EventBody::Exec(exec) = &out[0].body else { panic!("exec") };
        assert_eq!(exec.cwd, "/home/a/x_[REDACTED:anthropic-key]");
        assert_eq!(exec.filename, "/home/a/x_[REDACTED:anthropic-key]/id1[REDACTED:aws-access-key].sh");
        assert_eq!(exec.argv, ["run", "%3D[REDACTED:github-token]"]);
        let EventBody::File(f) = &out[2].body else { panic!("write") };
        assert_eq!(f.path, "/tmp/[REDACTED:anthropic-key].txt");
    }

    #[test]
    fn plaintext_http_on_a_socket_is_an_llm_call_and_other_tcp_is_named_at_exit() {
        let mut d = decoder();
        let mut out = Vec::new();
        let hdr = |kind, pid| Header { kind, ts_boot_ns: 5, pid, tid: pid, ppid: 1, uid: 0, comm: b"aider".to_vec() };
        let peer: std::net::SocketAddr = "127.0.0.1:11434".parse().expect("addr");
        let sk = 0xffff_8880_0000_1000;
        d.push(
            RawRecord::SockInfo { hdr: hdr(raw::EVENT_SOCK_INFO, 3), sk, fd: 5, class: SockClass::Http, peer },
            &mut out,
        );
        let body = br#"{"model":"llama3","messages":[{"role":"user","content":"hi"}]}"#;
        let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nContent-Type: application/json";
        let mut req = format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        req.extend_from_slice(body);
        let reply =
            br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}"#;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json";
        let mut resp = format!("{head}\r\nContent-Length: {}\r\n\r\n", reply.len()).into_bytes();
        resp.extend_from_slice(reply);
        for (dir, data) in [(0, req), (1, resp)] {
            let hdr = hdr(raw::EVENT_SOCK_DATA, 3);
            d.push(RawRecord::TlsData { hdr, plain: true, ssl: sk, dir, offset: 0, call_start: true, data }, &mut out);
        }
        let hdr_close = hdr(raw::EVENT_SOCK_CLOSE, 3);
        let close =
            RawRecord::SockClose { hdr: hdr_close, sk, class: SockClass::Http, flags: 0, bytes_out: 1, bytes_in: 1 };
        d.push(close, &mut out);
        let EventBody::LlmCall(call) = &out.last().expect("an exchange").body else {
            panic!("not an llm_call: {out:?}")
        };
        assert_eq!(call.url, "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(call.response.text, "hello");

        // TLS that no probe saw, and SSH, from another process: named when it exits
        let ssh: std::net::SocketAddr = "10.0.0.2:22".parse().expect("addr");
        d.push(
            RawRecord::SockInfo { hdr: hdr(raw::EVENT_SOCK_INFO, 4), sk: 1, fd: 3, class: SockClass::Tls, peer },
            &mut out,
        );
        let other =
            RawRecord::SockInfo { hdr: hdr(raw::EVENT_SOCK_INFO, 4), sk: 2, fd: 4, class: SockClass::Other, peer: ssh };
        d.push(other, &mut out);
        let before = out.len();
        d.push(RawRecord::Exit { hdr: hdr(raw::EVENT_EXIT, 4), exit_code: 0, duration_ns: 1 }, &mut out);
        let losses: Vec<&Loss> = out[before..]
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Loss(l) => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(losses.len(), 2, "{out:?}");
        assert!(losses.iter().all(|l| l.source == "net" && l.count == 1));
        assert!(losses.iter().any(|l| l.reason.contains("127.0.0.1:11434") && l.reason.contains("TLS")));
        assert!(losses.iter().any(|l| l.reason.contains("10.0.0.2:22") && l.reason.contains("neither HTTP nor TLS")));
    }

    #[test]
    fn exit_codes_and_signals() {
        assert_eq!(exit_status(3 << 8, 1).exit_code, 3);
        let killed = exit_status(9, 1);
        assert_eq!((killed.exit_code, killed.signal, killed.core_dumped), (137, 9, false));
        let core = exit_status(0x80 | 11, 1);
        assert_eq!((core.exit_code, core.core_dumped), (139, true));
    }

    #[test]
    fn socket_addresses() {
        let mut v4 = vec![2, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.resize(16, 0);
        assert_eq!(sockaddr_text(&v4, 16), ("inet".into(), "127.0.0.1".into(), 8080));
        let mut v6 = vec![10, 0, 0, 80, 0, 0, 0, 0];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(sockaddr_text(&v6, 28), ("inet6".into(), "::1".into(), 80));
        let mut un = vec![1, 0];
        un.extend_from_slice(b"/run/docker.sock\0");
        assert_eq!(sockaddr_text(&un, 19).1, "/run/docker.sock");
        let mut abs = vec![1, 0, 0];
        abs.extend_from_slice(b"name");
        assert_eq!(sockaddr_text(&abs, 7).1, "@name");
        assert_eq!(sockaddr_text(&[], 0).0, "af0");
    }
}
