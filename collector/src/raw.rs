//! The one module that reads raw ring-buffer records (`bpf/process.h`) and turns them into owned
//! Rust values at once. Everything downstream works on [`RawRecord`], never on C structs.
//!
//! Invariant: any byte slice, however short or garbled, yields a record or a [`RawError`];
//! lengths inside a record are checked against the record's size before any slice is taken.

use crate::bpf::process::types;
use crate::bpf::tls::types as tls_types;

/// Event kinds as numbered in `enum event_kind`.
pub(crate) const EVENT_EXEC: u32 = 1;
pub(crate) const EVENT_FORK: u32 = 2;
pub(crate) const EVENT_EXIT: u32 = 3;
pub(crate) const EVENT_FILE: u32 = 4;
pub(crate) const EVENT_CONNECT: u32 = 5;
pub(crate) const EVENT_WRITE_START: u32 = 6;
pub(crate) const EVENT_WRITE_END: u32 = 7;
pub(crate) const EVENT_TLS_DATA: u32 = 8;
pub(crate) const EVENT_TLS_CLOSE: u32 = 9;
pub(crate) const EVENT_SOCK_DATA: u32 = 10;
pub(crate) const EVENT_SOCK_INFO: u32 = 11;
pub(crate) const EVENT_SOCK_CLOSE: u32 = 12;
pub(crate) const EVENT_EXEC_MAP: u32 = 13;
/// `enum tls_chunk_flag`.
const TLS_CHUNK_CALL_START: u32 = 1 << 0;
/// Names of the event kinds, for loss reports.
pub(crate) const EVENT_KIND_NAMES: [&str; 14] = [
    "unknown",
    "exec",
    "fork",
    "exit",
    "file",
    "connect",
    "write start",
    "write end",
    "tls data",
    "tls close",
    "socket data",
    "socket info",
    "socket close",
    "exec map",
];

/// `enum sock_class`: what a TCP connection carries, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SockClass {
    /// Neither HTTP nor TLS.
    Other,
    /// The process sent an HTTP request first: its bytes arrive as `TlsData { plain: true }`.
    Http,
    /// TLS, or an HTTP `CONNECT` tunnel (TLS inside).
    Tls,
    /// The process received an HTTP request first: it is the server.
    HttpServer,
}

impl SockClass {
    fn from_raw(class: u32) -> SockClass {
        match class {
            1 => SockClass::Http,
            2 => SockClass::Tls,
            3 => SockClass::HttpServer,
            _ => SockClass::Other,
        }
    }
}

/// `enum sock_flag`: the socket's bytes moved inside a probed SSL call.
pub(crate) const SOCK_TLS_HOOKED: u32 = 1 << 0;

/// `enum trunc_flag` bits.
pub(crate) mod trunc {
    pub(crate) const FILENAME: u32 = 1 << 0;
    pub(crate) const ARGV: u32 = 1 << 1;
    pub(crate) const CWD: u32 = 1 << 2;
    pub(crate) const PATH: u32 = 1 << 3;
    pub(crate) const BASE: u32 = 1 << 4;
    pub(crate) const NEW_PATH: u32 = 1 << 5;
    pub(crate) const NEW_BASE: u32 = 1 << 6;
    pub(crate) const UNREADABLE_PATH: u32 = 1 << 7;
    pub(crate) const UNREADABLE_NEW_PATH: u32 = 1 << 8;
    pub(crate) const UNREADABLE_ARGV: u32 = 1 << 9;

    /// The field names behind the bits set in `flags`.
    pub(crate) fn names(flags: u32) -> Vec<String> {
        const NAMES: &[(u32, &str)] = &[
            (FILENAME, "filename"),
            (ARGV, "argv"),
            (CWD, "cwd"),
            (PATH, "path"),
            (BASE, "path_base"),
            (NEW_PATH, "new_path"),
            (NEW_BASE, "new_path_base"),
            (UNREADABLE_PATH, "path_unreadable"),
            (UNREADABLE_NEW_PATH, "new_path_unreadable"),
            (UNREADABLE_ARGV, "argv_unreadable"),
        ];
        NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| n.to_string()).collect()
    }
}

/// `enum file_op`.
pub(crate) const FILE_OP_OPEN: u32 = 1;
pub(crate) const FILE_OP_UNLINK: u32 = 2;
pub(crate) const FILE_OP_RMDIR: u32 = 3;
pub(crate) const FILE_OP_RENAME: u32 = 4;
pub(crate) const FILE_OP_MKDIR: u32 = 5;

/// `enum loss_reason`, with the words a person reads.
pub(crate) const LOSS_REASONS: &[&str] = &[
    "ring buffer full",
    "traced map full (a child and its subtree are untraced)",
    "write summary map full (bytes uncounted)",
    "write summary on fd >= 1024 (bytes uncounted)",
    "TLS call not tracked (map full; its bytes are gone)",
    "TLS call over 64 MiB (the rest is gone)",
    "TLS buffer unreadable",
    "TCP connection not tracked (map full; it is untraced)",
    "socket buffer unreadable",
    "socket call over 64 buffers or 64 MiB (the rest is not captured)",
];

/// What every record starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: u32,
    pub ts_boot_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub comm: Vec<u8>,
}

/// One decoded record; strings are still bytes, paths still relative to their base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawRecord {
    Exec {
        hdr: Header,
        filename: Vec<u8>,
        cwd: Vec<u8>,
        argv: Vec<u8>,
        argv_full_bytes: u32,
        trunc: u32,
    },
    Fork {
        hdr: Header,
        child_pid: u32,
    },
    Exit {
        hdr: Header,
        exit_code: u32,
        duration_ns: u64,
    },
    File {
        hdr: Header,
        op: u32,
        flags: u32,
        mode: u32,
        result: i64,
        path: Vec<u8>,
        base: Vec<u8>,
        new_path: Vec<u8>,
        new_base: Vec<u8>,
        trunc: u32,
    },
    Connect {
        hdr: Header,
        result: i64,
        fd: i32,
        sockaddr: Vec<u8>,
        sockaddr_len: u32,
    },
    WriteStart {
        hdr: Header,
        fd: i32,
        path: Vec<u8>,
        trunc: u32,
    },
    WriteEnd {
        hdr: Header,
        fd: i32,
        bytes: u64,
        writes: u32,
        first_ts_ns: u64,
    },
    /// Plaintext of an SSL call (or part of it), at `offset` of its stream; or, when `plain`,
    /// of a read/write-family call on a TCP socket that carries plaintext HTTP (`ssl` is then
    /// the kernel's socket, which no user-space `SSL*` can equal).
    TlsData {
        hdr: Header,
        plain: bool,
        ssl: u64,
        /// 0: written by the process (`SSL_write`), 1: read.
        dir: u32,
        offset: u64,
        /// The first chunk of an SSL call (HTTP messages start at call boundaries).
        call_start: bool,
        data: Vec<u8>,
    },
    /// `SSL_free`: the connection is over.
    TlsClose {
        hdr: Header,
        ssl: u64,
    },
    /// The first data on a TCP socket: its class and its peer.
    SockInfo {
        hdr: Header,
        sk: u64,
        fd: i32,
        class: SockClass,
        peer: std::net::SocketAddr,
    },
    /// A file mapped executable for the first time in this capture (a library loaded).
    ExecMap {
        hdr: Header,
        path: Vec<u8>,
        trunc: u32,
    },
    /// A TCP socket's fd was closed or replaced.
    SockClose {
        hdr: Header,
        sk: u64,
        class: SockClass,
        flags: u32,
        bytes_out: u64,
        bytes_in: u64,
    },
}

impl RawRecord {
    pub(crate) fn header(&self) -> &Header {
        match self {
            RawRecord::Exec { hdr, .. }
            | RawRecord::Fork { hdr, .. }
            | RawRecord::Exit { hdr, .. }
            | RawRecord::File { hdr, .. }
            | RawRecord::Connect { hdr, .. }
            | RawRecord::WriteStart { hdr, .. }
            | RawRecord::WriteEnd { hdr, .. }
            | RawRecord::TlsData { hdr, .. }
            | RawRecord::TlsClose { hdr, .. }
            | RawRecord::SockInfo { hdr, .. }
            | RawRecord::ExecMap { hdr, .. }
            | RawRecord::SockClose { hdr, .. } => hdr,
        }
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RawError {
    #[error("record of kind {kind} is {got} bytes, shorter than its fixed part ({need} bytes)")]
    Short { kind: u32, need: usize, got: usize },
    #[error("record of unknown kind {kind} ({len} bytes)")]
    UnknownKind { kind: u32, len: usize },
    #[error("record of kind {kind} declares {declared} bytes of strings but carries {available}")]
    BadLengths { kind: u32, declared: usize, available: usize },
}

fn read<T: plain::Plain + Default>(data: &[u8], kind: u32) -> Result<T, RawError> {
    let mut value = T::default();
    plain::copy_from_bytes(&mut value, data).map_err(|_| RawError::Short {
        kind,
        need: std::mem::size_of::<T>(),
        got: data.len(),
    })?;
    Ok(value)
}

/// Slices the data area into the strings whose lengths the fixed part declares.
fn strings<const N: usize>(data: &[u8], kind: u32, lens: [usize; N]) -> Result<[Vec<u8>; N], RawError> {
    let declared: usize = lens.iter().sum();
    if declared > data.len() {
        return Err(RawError::BadLengths { kind, declared, available: data.len() });
    }
    let mut off = 0;
    Ok(lens.map(|len| {
        let s = data[off..off + len].to_vec();
        off += len;
        s
    }))
}

fn header(h: &types::event_header) -> Header {
    let comm: Vec<u8> = h.comm.iter().map(|&c| c as u8).take_while(|&c| c != 0).collect();
    Header { kind: h.kind, ts_boot_ns: h.ts_ns, pid: h.pid, tid: h.tid, ppid: h.ppid, uid: h.uid, comm }
}

/// Decode one ring-buffer record.
pub(crate) fn parse(data: &[u8]) -> Result<RawRecord, RawError> {
    let hdr: types::event_header = read(data, 0)?;
    let kind = hdr.kind;
    // the kernel says how long the record is; trust the shorter of that and what arrived
    let data = &data[..data.len().min(hdr.size_bytes as usize)];
    let hdr_out = header(&hdr);
    Ok(match kind {
        EVENT_EXEC => {
            let ev: types::exec_event = read(data, kind)?;
            let rest = &data[std::mem::size_of::<types::exec_event>()..];
            let [filename, cwd, argv] = strings(
                rest,
                kind,
                [ev.filename_len_bytes as usize, ev.cwd_len_bytes as usize, ev.argv_len_bytes as usize],
            )?;
            RawRecord::Exec {
                hdr: hdr_out,
                filename,
                cwd,
                argv,
                argv_full_bytes: ev.argv_full_bytes,
                trunc: ev.trunc_flags,
            }
        }
        EVENT_FORK => {
            let ev: types::fork_event = read(data, kind)?;
            RawRecord::Fork { hdr: hdr_out, child_pid: ev.child_pid }
        }
        EVENT_EXIT => {
            let ev: types::exit_event = read(data, kind)?;
            RawRecord::Exit { hdr: hdr_out, exit_code: ev.exit_code, duration_ns: ev.duration_ns }
        }
        EVENT_FILE => {
            let ev: types::file_event = read(data, kind)?;
            let rest = &data[std::mem::size_of::<types::file_event>()..];
            let [path, base, new_path, new_base] = strings(
                rest,
                kind,
                [
                    ev.path_len_bytes as usize,
                    ev.base_len_bytes as usize,
                    ev.new_path_len_bytes as usize,
                    ev.new_base_len_bytes as usize,
                ],
            )?;
            RawRecord::File {
                hdr: hdr_out,
                op: ev.op,
                flags: ev.flags,
                mode: ev.mode,
                result: ev.result,
                path,
                base,
                new_path,
                new_base,
                trunc: ev.trunc_flags,
            }
        }
        EVENT_CONNECT => {
            let ev: types::connect_event = read(data, kind)?;
            let n = (ev.sockaddr_len_bytes as usize).min(ev.sockaddr.len());
            RawRecord::Connect {
                hdr: hdr_out,
                result: ev.result,
                fd: ev.fd,
                sockaddr: ev.sockaddr[..n].to_vec(),
                sockaddr_len: ev.sockaddr_len_bytes,
            }
        }
        EVENT_WRITE_START => {
            let ev: types::write_start_event = read(data, kind)?;
            let rest = &data[std::mem::size_of::<types::write_start_event>()..];
            let [path] = strings(rest, kind, [ev.path_len_bytes as usize])?;
            RawRecord::WriteStart { hdr: hdr_out, fd: ev.fd, path, trunc: ev.trunc_flags }
        }
        EVENT_WRITE_END => {
            let ev: types::write_end_event = read(data, kind)?;
            RawRecord::WriteEnd {
                hdr: hdr_out,
                fd: ev.fd,
                bytes: ev.bytes,
                writes: ev.writes,
                first_ts_ns: ev.first_ts_ns,
            }
        }
        EVENT_TLS_DATA | EVENT_SOCK_DATA => {
            let ev: tls_types::tls_data_event = read(data, kind)?;
            let rest = &data[std::mem::size_of::<tls_types::tls_data_event>()..];
            let [payload] = strings(rest, kind, [ev.len_bytes as usize])?;
            RawRecord::TlsData {
                hdr: hdr_out,
                plain: kind == EVENT_SOCK_DATA,
                ssl: ev.ssl,
                dir: ev.dir,
                offset: ev.offset,
                call_start: ev.flags & TLS_CHUNK_CALL_START != 0,
                data: payload,
            }
        }
        EVENT_TLS_CLOSE => {
            let ev: tls_types::tls_close_event = read(data, kind)?;
            RawRecord::TlsClose { hdr: hdr_out, ssl: ev.ssl }
        }
        EVENT_SOCK_INFO => {
            let ev: types::sock_info_event = read(data, kind)?;
            let ip: std::net::IpAddr = if ev.family == 10 {
                std::net::Ipv6Addr::from(ev.addr).into()
            } else {
                std::net::Ipv4Addr::new(ev.addr[0], ev.addr[1], ev.addr[2], ev.addr[3]).into()
            };
            RawRecord::SockInfo {
                hdr: hdr_out,
                sk: ev.sk,
                fd: ev.fd,
                class: SockClass::from_raw(ev.class),
                peer: std::net::SocketAddr::new(ip, ev.port),
            }
        }
        EVENT_EXEC_MAP => {
            let ev: types::exec_map_event = read(data, kind)?;
            let rest = &data[std::mem::size_of::<types::exec_map_event>()..];
            let [path] = strings(rest, kind, [ev.path_len_bytes as usize])?;
            RawRecord::ExecMap { hdr: hdr_out, path, trunc: ev.trunc_flags }
        }
        EVENT_SOCK_CLOSE => {
            let ev: types::sock_close_event = read(data, kind)?;
            RawRecord::SockClose {
                hdr: hdr_out,
                sk: ev.sk,
                class: SockClass::from_raw(ev.class),
                flags: ev.flags,
                bytes_out: ev.bytes_out,
                bytes_in: ev.bytes_in,
            }
        }
        _ => return Err(RawError::UnknownKind { kind, len: data.len() }),
    })
}

/// A write summary left in the kernel's `writes` map when capture stops (its process is still
/// running), as the record the kernel would have sent at close.
pub(crate) fn leftover_write(key: &[u8], value: &[u8], now_boot_ns: u64) -> Option<RawRecord> {
    let mut k = types::write_key::default();
    let mut v = types::write_info::default();
    plain::copy_from_bytes(&mut k, key).ok()?;
    plain::copy_from_bytes(&mut v, value).ok()?;
    let hdr = Header {
        kind: EVENT_WRITE_END,
        ts_boot_ns: now_boot_ns,
        pid: k.pid,
        tid: k.pid,
        ppid: 0,
        uid: 0,
        comm: Vec::new(),
    };
    Some(RawRecord::WriteEnd { hdr, fd: k.fd, bytes: v.bytes, writes: v.writes, first_ts_ns: v.first_ts_ns })
}

/// Test helpers that build records exactly as the kernel lays them out.
#[cfg(test)]
pub(crate) mod build {
    use super::*;
    use crate::bpf::bytes_of;

    pub(crate) fn hdr(kind: u32, pid: u32, comm: &str) -> types::event_header {
        let mut h = types::event_header { kind, ts_ns: 1_000, pid, tid: pid, ppid: 1, uid: 0, ..Default::default() };
        for (dst, src) in h.comm.iter_mut().zip(comm.bytes()) {
            *dst = src as i8;
        }
        h
    }

    pub(crate) fn record<T: plain::Plain>(fixed: &T, data: &[&[u8]]) -> Vec<u8> {
        let mut out = bytes_of(fixed).to_vec();
        for d in data {
            out.extend_from_slice(d);
        }
        let len = out.len() as u32;
        out[4..8].copy_from_slice(&len.to_ne_bytes());
        out
    }

    pub(crate) fn exec(pid: u32, filename: &str, cwd: &str, argv: &[u8], trunc: u32) -> Vec<u8> {
        let ev = types::exec_event {
            hdr: hdr(EVENT_EXEC, pid, "bash"),
            filename_len_bytes: filename.len() as u16,
            cwd_len_bytes: cwd.len() as u16,
            argv_len_bytes: argv.len() as u32,
            argv_full_bytes: argv.len() as u32,
            trunc_flags: trunc,
            ..Default::default()
        };
        record(&ev, &[filename.as_bytes(), cwd.as_bytes(), argv])
    }

    pub(crate) fn file(pid: u32, op: u32, path: &str, base: &str, new: (&str, &str), result: i64) -> Vec<u8> {
        let ev = types::file_event {
            hdr: hdr(EVENT_FILE, pid, "mv"),
            result,
            op,
            path_len_bytes: path.len() as u16,
            base_len_bytes: base.len() as u16,
            new_path_len_bytes: new.0.len() as u16,
            new_base_len_bytes: new.1.len() as u16,
            ..Default::default()
        };
        record(&ev, &[path.as_bytes(), base.as_bytes(), new.0.as_bytes(), new.1.as_bytes()])
    }

    /// An open of an absolute `path` with `flags`.
    pub(crate) fn open(pid: u32, path: &str, flags: u32, result: i64) -> Vec<u8> {
        let ev = types::file_event {
            hdr: hdr(EVENT_FILE, pid, "mv"),
            result,
            op: FILE_OP_OPEN,
            flags,
            path_len_bytes: path.len() as u16,
            ..Default::default()
        };
        record(&ev, &[path.as_bytes(), b"", b"", b""])
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exec_record_decodes_its_strings() {
        let bytes = exec(42, "/usr/bin/ls", "/tmp", b"ls\0-l\0", 0);
        let RawRecord::Exec { hdr, filename, cwd, argv, .. } = parse(&bytes).expect("decodes") else {
            panic!("not an exec");
        };
        assert_eq!((hdr.pid, hdr.comm.as_slice()), (42, &b"bash"[..]));
        assert_eq!(filename, b"/usr/bin/ls");
        assert_eq!(cwd, b"/tmp");
        assert_eq!(argv, b"ls\0-l\0");
    }

    #[test]
    fn file_record_decodes_four_strings() {
        let bytes = file(7, FILE_OP_RENAME, "a", "/tmp/x", ("b", "/tmp/x"), 0);
        let RawRecord::File { op, path, base, new_path, new_base, .. } = parse(&bytes).expect("decodes") else {
            panic!("not a file event");
        };
        assert_eq!(op, FILE_OP_RENAME);
        assert_eq!((path.as_slice(), base.as_slice()), (&b"a"[..], &b"/tmp/x"[..]));
        assert_eq!((new_path.as_slice(), new_base.as_slice()), (&b"b"[..], &b"/tmp/x"[..]));
    }

    #[test]
    fn short_and_lying_records_are_errors() {
        let bytes = exec(1, "/bin/true", "/", b"true\0", 0);
        assert!(matches!(parse(&bytes[..10]), Err(RawError::Short { .. })));
        assert!(matches!(parse(&bytes[..60]), Err(RawError::Short { kind: EVENT_EXEC, .. })));
        // the header claims more string bytes than the record carries
        let mut lying = bytes.clone();
        lying.truncate(lying.len() - 3);
        let len = lying.len() as u32;
        lying[4..8].copy_from_slice(&len.to_ne_bytes());
        assert!(matches!(parse(&lying), Err(RawError::BadLengths { .. })));
        let unknown = record(&hdr(99, 1, "x"), &[]);
        assert!(matches!(parse(&unknown), Err(RawError::UnknownKind { kind: 99, .. })));
    }

    #[test]
    fn truncation_bits_have_names() {
        assert_eq!(trunc::names(trunc::ARGV | trunc::CWD), ["argv", "cwd"]);
        assert!(trunc::names(0).is_empty());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn garbage_after_a_valid_header_never_panics(kind in 0u32..14, tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = record(&hdr(kind, 1, "x"), &[&tail]);
            // random size field too
            if let Some(b) = tail.first() { bytes[4] = *b; }
            let _ = parse(&bytes);
        }
    }
}
