//! Where the TLS probes go: every library or executable in the traced tree that exports the
//! OpenSSL API (`libssl.so.*`, `node`, ...), attached once per file (by device and inode, so a
//! library mapped by a thousand processes costs one attach), for every process (the kernel side
//! filters by the traced set).
//!
//! Discovery: at start, the system's `libssl.so.*` and the executables named by the caller;
//! then the executable of each process the tree execs. A file without `SSL_write` is remembered
//! as such, so it is looked at once.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use libbpf_rs::{Link, ProgramMut, UprobeMultiOpts, UprobeOpts};

use crate::bpf::tls::TlsSkel;

/// Directories searched for the system's OpenSSL at start.
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
    "/usr/local/lib64",
];

/// What happened when a file was offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Probes attached (their count).
    Attached(usize),
    /// Seen before (attached or not).
    Known,
    /// The file exports no `SSL_write`: not an OpenSSL user we can hook.
    NoSsl,
    /// It exports the API but attaching failed.
    Failed(String),
    /// It does TLS with a library these probes cannot hook (its name): said, never silent.
    Uncapturable(&'static str),
}

/// `enum tls_fn` of bpf/tls.h, the attach cookie of the uprobe_multi programs.
const FN_WRITE: u64 = 1;
const FN_READ: u64 = 2;
const FN_WRITE_EX: u64 = 3;
const FN_READ_EX: u64 = 4;
const FN_FREE: u64 = 5;

/// The TLS programs and where they are attached.
pub struct SslProbes<'obj> {
    skel: TlsSkel<'obj>,
    /// uprobe_multi links work here (Linux 6.6+): two links per file.
    multi: bool,
    links: Vec<Link>,
    seen: HashSet<(u64, u64)>,
    /// Files with probes, for reports.
    attached: HashMap<(u64, u64), PathBuf>,
}

impl std::fmt::Debug for SslProbes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslProbes").field("attached", &self.attached).field("links", &self.links.len()).finish()
    }
}

fn attach_one(prog: &ProgramMut<'_>, path: &Path, symbol: &str, retprobe: bool) -> libbpf_rs::Result<Link> {
    let opts = UprobeOpts { retprobe, func_name: Some(symbol.to_string()), ..Default::default() };
    prog.attach_uprobe_with_opts(-1, path, 0, opts)
}

impl<'obj> SslProbes<'obj> {
    /// `multi`: whether the `*_multi` programs were loaded (see [`multi_supported`]).
    pub fn new(skel: TlsSkel<'obj>, multi: bool) -> Self {
        SslProbes { skel, multi, links: Vec::new(), seen: HashSet::new(), attached: HashMap::new() }
    }

    /// Two uprobe_multi links for the API functions that `path` exports, at file offsets
    /// found in its symbol tables (libbpf resolves names for multi links in `.symtab` only,
    /// which stripped libraries lack). `None` when it does not export `SSL_write`.
    fn attach_multi(&self, path: &Path, data: &[u8]) -> Option<Result<Vec<Link>, String>> {
        let offsets = symbol_offsets_in(data, &["SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_free"]);
        let funcs: Vec<(usize, u64)> = [FN_WRITE, FN_READ, FN_WRITE_EX, FN_READ_EX, FN_FREE]
            .iter()
            .zip(&offsets)
            .filter_map(|(&f, off)| Some(((*off)?, f)))
            .collect();
        if !funcs.iter().any(|&(_, f)| f == FN_WRITE) {
            return None;
        }
        let opts = |retprobe: bool| {
            let chosen: Vec<&(usize, u64)> = funcs.iter().filter(|(_, f)| !retprobe || *f != FN_FREE).collect();
            UprobeMultiOpts {
                offsets: chosen.iter().map(|(o, _)| *o).collect(),
                cookies: chosen.iter().map(|(_, f)| *f).collect(),
                retprobe,
                ..Default::default()
            }
        };
        let progs = &self.skel.progs;
        let attach = || -> libbpf_rs::Result<Vec<Link>> {
            let enter = progs.ssl_enter_multi.attach_uprobe_multi_with_opts(-1, path, "", opts(false))?;
            let exit = progs.ssl_exit_multi.attach_uprobe_multi_with_opts(-1, path, "", opts(true))?;
            Ok(vec![enter, exit])
        };
        Some(attach().map_err(|e| e.to_string()))
    }

    /// Detach every probe, in parallel: the kernel waits for an RCU grace period (~100 ms)
    /// per uprobe it removes, so dropping 18 links one after the other takes two seconds, and
    /// dropping them together about one grace period.
    pub fn detach_all(&mut self) {
        let links = std::mem::take(&mut self.links);
        std::thread::scope(|scope| {
            for link in links {
                scope.spawn(move || drop(link));
            }
        });
    }

    /// Files that have probes.
    pub fn attached(&self) -> impl Iterator<Item = &Path> {
        self.attached.values().map(PathBuf::as_path)
    }

    /// Attach to `path` if it exports the OpenSSL API and was not seen before.
    pub fn offer(&mut self, path: &Path) -> Outcome {
        let Ok(meta) = std::fs::metadata(path) else { return Outcome::NoSsl };
        let id = (meta.dev(), meta.ino());
        if !self.seen.insert(id) {
            return Outcome::Known;
        }
        if self.multi {
            // read once (libraries are a few MiB, node ~100 MiB; once per inode): the symbol
            // tables and, failing those, the markers of other TLS libraries come from it
            let data = std::fs::read(path).unwrap_or_default();
            return match self.attach_multi(path, &data) {
                Some(Ok(links)) => {
                    let n = links.len();
                    self.links.extend(links);
                    self.attached.insert(id, path.to_path_buf());
                    Outcome::Attached(n)
                }
                Some(Err(why)) => Outcome::Failed(why),
                None => other_tls_in(&data).map_or(Outcome::NoSsl, Outcome::Uncapturable),
            };
        }
        let progs = &self.skel.progs;
        // SSL_write first: its absence means this file is not for us
        let write = match (attach_one(&progs.ssl_write_enter, path, "SSL_write", false), attach_one(&progs.ssl_write_exit, path, "SSL_write", true)) {
            (Ok(a), Ok(b)) => vec![a, b],
            (Err(err), _) | (_, Err(err)) => {
                return if err.kind() == libbpf_rs::ErrorKind::NotFound || err.kind() == libbpf_rs::ErrorKind::InvalidInput {
                    other_tls(path).map_or(Outcome::NoSsl, Outcome::Uncapturable)
                } else {
                    Outcome::Failed(err.to_string())
                };
            }
        };
        let mut links = write;
        let optional: [(&ProgramMut<'_>, &str, bool); 7] = [
            (&progs.ssl_read_enter, "SSL_read", false),
            (&progs.ssl_read_exit, "SSL_read", true),
            (&progs.ssl_write_ex_enter, "SSL_write_ex", false),
            (&progs.ssl_write_ex_exit, "SSL_write_ex", true),
            (&progs.ssl_read_ex_enter, "SSL_read_ex", false),
            (&progs.ssl_read_ex_exit, "SSL_read_ex", true),
            (&progs.ssl_free_enter, "SSL_free", false),
        ];
        // the _ex variants are OpenSSL 1.1.1+; older builds and BoringSSL forks lack some
        links.extend(optional.iter().filter_map(|(prog, sym, ret)| attach_one(prog, path, sym, *ret).ok()));
        let n = links.len();
        self.links.extend(links);
        self.attached.insert(id, path.to_path_buf());
        Outcome::Attached(n)
    }
}

/// File offsets (what a uprobe is placed at) of `names` in `path`'s dynamic or static symbol
/// table, in the order asked; `None` for a name the file does not define.
pub fn symbol_offsets(path: &Path, names: &[&str]) -> Vec<Option<usize>> {
    symbol_offsets_in(&std::fs::read(path).unwrap_or_default(), names)
}

/// [`symbol_offsets`] of a file already read.
fn symbol_offsets_in(data: &[u8], names: &[&str]) -> Vec<Option<usize>> {
    use object::{Object, ObjectSegment, ObjectSymbol};
    let mut out = vec![None; names.len()];
    let Ok(elf) = object::File::parse(data) else { return out };
    let segments: Vec<(u64, u64, u64)> = elf
        .segments()
        .map(|s| (s.address(), s.size(), s.file_range().0))
        .collect();
    for sym in elf.dynamic_symbols().chain(elf.symbols()) {
        if !sym.is_definition() {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        let name = name.split('@').next().unwrap_or(name);
        let Some(i) = names.iter().position(|n| *n == name) else { continue };
        if out[i].is_some() {
            continue;
        }
        let addr = sym.address();
        out[i] = segments
            .iter()
            .find(|(start, size, _)| addr >= *start && addr < start + size)
            .and_then(|(start, _, offset)| usize::try_from(addr - start + offset).ok());
    }
    out
}

/// The TLS implementation an executable without OpenSSL's exported API carries, if it carries
/// one we know: rustls, Go's crypto/tls, or a statically linked, stripped BoringSSL (Bun).
/// Found by markers in the file (crate paths, Go build info, BoringSSL's source names).
pub fn other_tls(path: &Path) -> Option<&'static str> {
    other_tls_in(&std::fs::read(path).ok()?)
}

/// [`other_tls`] of a file already read.
fn other_tls_in(data: &[u8]) -> Option<&'static str> {
    use memchr::memmem;
    if !data.starts_with(b"\x7fELF") {
        return None;
    }
    let has = |needle: &[u8]| memmem::find(data, needle).is_some();
    if has(b"rustls") {
        Some("rustls")
    } else if has(b"\xff Go buildinf:") && has(b"crypto/tls") {
        Some("Go crypto/tls")
    } else if has(b"ssl_lib.cc") && has(b"BoringSSL") {
        Some("BoringSSL (statically linked, no exported symbols)")
    } else {
        None
    }
}

/// Whether this kernel attaches uprobe_multi links (Linux 6.6+).
pub fn multi_supported(release: (u32, u32)) -> bool {
    release >= (6, 6)
}

/// The system's `libssl.so*` files (symlinks resolved, each file once).
pub fn system_libraries() -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for dir in LIB_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libssl.so")))
            .collect();
        names.sort();
        for path in names {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                out.push(std::fs::canonicalize(&path).unwrap_or(path));
            }
        }
    }
    out
}

/// Executables on `PATH` that commonly embed OpenSSL with its symbols exported (`node`).
pub fn well_known_executables() -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else { return Vec::new() };
    let mut out = Vec::new();
    for name in ["node", "nodejs"] {
        if let Some(found) = std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()) {
            out.push(std::fs::canonicalize(&found).unwrap_or(found));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tls_libraries_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            let mut bytes = b"\x7fELF".to_vec();
            bytes.extend_from_slice(body);
            std::fs::write(&p, bytes).expect("write");
            p
        };
        assert_eq!(other_tls(&write("a", b"..rustls-0.23.1/src/conn.rs..")), Some("rustls"));
        assert_eq!(other_tls(&write("b", b"\xff Go buildinf:...crypto/tls.(*Conn).Write")), Some("Go crypto/tls"));
        assert_eq!(other_tls(&write("c", b"plain program")), None);
        assert_eq!(other_tls(Path::new("/nonexistent")), None);
    }

    #[test]
    fn symbol_offsets_match_the_system_libssl() {
        let Some(lib) = system_libraries().into_iter().next() else { return };
        let offsets = symbol_offsets(&lib, &["SSL_write", "SSL_read", "no_such_symbol_here"]);
        assert!(offsets[0].is_some() && offsets[1].is_some(), "{offsets:?} in {}", lib.display());
        assert_ne!(offsets[0], offsets[1]);
        assert_eq!(offsets[2], None);
        // the offset is inside the file
        let len = std::fs::metadata(&lib).map(|m| m.len()).unwrap_or(0) as usize;
        assert!(offsets[0].is_some_and(|o| o < len));
    }

    #[test]
    fn finds_the_system_libssl_once() {
        let libs = system_libraries();
        let mut ids: Vec<(u64, u64)> = libs.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| (m.dev(), m.ino())).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "each file once: {libs:?}");
        assert!(libs.iter().all(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libssl.so"))));
    }
}
