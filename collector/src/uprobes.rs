//! Where the TLS probes go: every library or executable in the traced tree that exports the
//! OpenSSL API (`libssl.so.*`, `node`, ...) or links BoringSSL statically without symbols (Bun
//! and the agents compiled with it: `claude`, `opencode`), attached once per file (by device
//! and inode, so a library mapped by a thousand processes costs one attach), for every process
//! (the kernel side filters by the traced set).
//!
//! Discovery: at start, the system's `libssl.so.*` and the executables named by the caller;
//! then the executable of each process the tree execs, and each file it maps executable (a
//! library loaded at run time: a vendored libssl, a Node addon). Probes go at file offsets:
//! from the symbol tables; for stripped BoringSSL, from [`boring::find`]; for stripped,
//! statically linked OpenSSL 3 (Copilot CLI's Rust addon), from [`ossl::find`] (in both,
//! `SSL_shutdown` stands in for `SSL_free`); for a Go executable, Go's crypto/tls from its
//! function table ([`gotls::find`]: the entries of `(*Conn).Write`, `Read` and `Close`, and every
//! `RET` of the first two, where a return probe cannot go). A file without any is remembered as
//! such, so it is looked at once; one that does TLS these probes cannot hook is named
//! ([`Outcome::Uncapturable`]).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use libbpf_rs::{Link, ProgramMut, UprobeMultiOpts, UprobeOpts};

use crate::bpf::tls::TlsSkel;
use crate::{boring, gotls, ossl};

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
pub(crate) enum Outcome {
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
const FN_GO_WRITE: u64 = 6;
const FN_GO_WRITE_RET: u64 = 7;
const FN_GO_READ: u64 = 8;
const FN_GO_READ_RET: u64 = 9;
const FN_GO_CLOSE: u64 = 10;

/// Targets probed at one place only, never on return: `SSL_free`, and every Go target (Go
/// functions' returns are probed at their `RET` instructions).
fn entry_only(f: u64) -> bool {
    f == FN_FREE || (FN_GO_WRITE..=FN_GO_CLOSE).contains(&f)
}

/// The exported functions probed, by name, with their `enum tls_fn`.
const EXPORTED: [(&str, u64); 5] = [
    ("SSL_write", FN_WRITE),
    ("SSL_read", FN_READ),
    ("SSL_write_ex", FN_WRITE_EX),
    ("SSL_read_ex", FN_READ_EX),
    ("SSL_free", FN_FREE),
];

/// A place to probe: file offset and `enum tls_fn`.
type Target = (usize, u64);

/// The TLS programs and where they are attached.
pub(crate) struct SslProbes<'obj> {
    skel: TlsSkel<'obj>,
    /// uprobe_multi links work here (Linux 6.6+): two links per file.
    multi: bool,
    links: Vec<Link>,
    seen: HashSet<(u64, u64)>,
    /// Files doing TLS the probes cannot hook: said again for every process that runs one
    /// (the first offer may come at start, before any process ran it).
    uncapturable: HashMap<(u64, u64), Outcome>,
    /// Files with probes, for reports.
    attached: HashMap<(u64, u64), PathBuf>,
}

impl std::fmt::Debug for SslProbes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslProbes").field("attached", &self.attached).field("links", &self.links.len()).finish()
    }
}

impl<'obj> SslProbes<'obj> {
    /// `multi`: whether the `*_multi` programs were loaded (see [`multi_supported`]).
    pub(crate) fn new(skel: TlsSkel<'obj>, multi: bool) -> Self {
        SslProbes {
            skel,
            multi,
            links: Vec::new(),
            seen: HashSet::new(),
            attached: HashMap::new(),
            uncapturable: HashMap::new(),
        }
    }

    /// Two uprobe_multi links for all of a file's targets (libbpf resolves names for multi
    /// links in `.symtab` only, which stripped libraries lack, so offsets are given); one for
    /// a Go executable, which has no return probes.
    fn attach_multi(&self, path: &Path, targets: &[Target]) -> libbpf_rs::Result<Vec<Link>> {
        let opts = |chosen: Vec<&Target>, retprobe: bool| UprobeMultiOpts {
            offsets: chosen.iter().map(|(o, _)| *o).collect(),
            cookies: chosen.iter().map(|(_, f)| *f).collect(),
            retprobe,
            ..Default::default()
        };
        let progs = &self.skel.progs;
        let mut links = vec![progs.ssl_enter_multi.attach_uprobe_multi_with_opts(
            -1,
            path,
            "",
            opts(targets.iter().collect(), false),
        )?];
        let returns: Vec<&Target> = targets.iter().filter(|(_, f)| !entry_only(*f)).collect();
        if !returns.is_empty() {
            links.push(progs.ssl_exit_multi.attach_uprobe_multi_with_opts(-1, path, "", opts(returns, true))?);
        }
        Ok(links)
    }

    /// One uprobe (and uretprobe) per target, for kernels without uprobe_multi. The first
    /// write function (`SSL_write`, else `SSL_write_ex`) must attach; the others are best
    /// effort (older builds lack the `_ex` variants).
    fn attach_each(&self, path: &Path, targets: &[Target]) -> libbpf_rs::Result<Vec<Link>> {
        let progs = &self.skel.progs;
        let mut links = Vec::new();
        let must = targets
            .iter()
            .map(|&(_, f)| f)
            .find(|&f| f == FN_WRITE)
            .or(targets.iter().map(|&(_, f)| f).find(|&f| f == FN_WRITE_EX));
        for &(offset, f) in targets {
            if (FN_GO_WRITE..=FN_GO_CLOSE).contains(&f) {
                // Go: one program for every site, told apart by the cookie; all or nothing, as
                // a Write whose returns were not all probed would leave calls behind
                let opts = UprobeOpts { cookie: f, ..Default::default() };
                links.push(progs.go_tls_probe.attach_uprobe_with_opts(-1, path, offset, opts)?);
                continue;
            }
            let (enter, exit): (&ProgramMut<'_>, Option<&ProgramMut<'_>>) = match f {
                FN_WRITE => (&progs.ssl_write_enter, Some(&progs.ssl_write_exit)),
                FN_READ => (&progs.ssl_read_enter, Some(&progs.ssl_read_exit)),
                FN_WRITE_EX => (&progs.ssl_write_ex_enter, Some(&progs.ssl_write_ex_exit)),
                FN_READ_EX => (&progs.ssl_read_ex_enter, Some(&progs.ssl_read_ex_exit)),
                _ => (&progs.ssl_free_enter, None),
            };
            let attached = enter.attach_uprobe(false, -1, path, offset).and_then(|a| {
                let b = exit.map(|p| p.attach_uprobe(true, -1, path, offset)).transpose()?;
                Ok([Some(a), b])
            });
            match attached {
                Ok(pair) => links.extend(pair.into_iter().flatten()),
                Err(err) if Some(f) == must => return Err(err),
                Err(_) => {}
            }
        }
        Ok(links)
    }

    /// Detach every probe, in parallel: the kernel waits for an RCU grace period (~100 ms)
    /// per uprobe it removes, so dropping 18 links one after the other takes two seconds, and
    /// dropping them together about one grace period.
    pub(crate) fn detach_all(&mut self) {
        let links = std::mem::take(&mut self.links);
        std::thread::scope(|scope| {
            for link in links {
                scope.spawn(move || drop(link));
            }
        });
    }

    /// Attach to `path` if it does TLS these probes can hook and was not seen before.
    pub(crate) fn offer(&mut self, path: &Path) -> Outcome {
        let Ok(meta) = std::fs::metadata(path) else { return Outcome::NoSsl };
        let id = (meta.dev(), meta.ino());
        if !self.seen.insert(id) {
            return self.uncapturable.get(&id).cloned().unwrap_or(Outcome::Known);
        }
        // the exported API first, from the dynamic symbol table alone (node is ~100 MiB, its
        // table a few); else the whole file, once per inode (Bun-compiled agents are up to
        // ~400 MiB): BoringSSL's and OpenSSL's code, Go's function table and other TLS markers
        let exported = exported_targets(&dynamic_symbol_offsets(path, &EXPORTED.map(|(name, _)| name)));
        let targets = match exported.map_or_else(|| probe_targets(&std::fs::read(path).unwrap_or_default()), Ok) {
            Ok(targets) => targets,
            Err(outcome) => {
                if matches!(outcome, Outcome::Uncapturable(_)) {
                    self.uncapturable.insert(id, outcome.clone());
                }
                return outcome;
            }
        };
        let links = if self.multi { self.attach_multi(path, &targets) } else { self.attach_each(path, &targets) };
        match links {
            Ok(links) => {
                let n = links.len();
                self.links.extend(links);
                self.attached.insert(id, path.to_path_buf());
                Outcome::Attached(n)
            }
            Err(err) => Outcome::Failed(err.to_string()),
        }
    }
}

/// Where to probe a file, from its symbol tables or, for a stripped static BoringSSL, from its
/// code; otherwise why not: [`Outcome::NoSsl`] or [`Outcome::Uncapturable`].
fn probe_targets(data: &[u8]) -> Result<Vec<Target>, Outcome> {
    if let Some(targets) = exported_targets(&symbol_offsets_in(data, &EXPORTED.map(|(name, _)| name))) {
        return Ok(targets);
    }
    if !data.starts_with(b"\x7fELF") {
        return Err(Outcome::NoSsl);
    }
    let markers = Markers::of(data);
    if markers.go_buildinfo && markers.go_tls_write {
        let found = gotls::find(data).map_err(|miss| Outcome::Uncapturable(miss.describe()))?;
        return Ok(go_targets(&found));
    }
    if markers.boring {
        let found = boring::find(data).map_err(|miss| Outcome::Uncapturable(miss.describe()))?;
        let targets = [(found.write, FN_WRITE), (found.read, FN_READ), (found.shutdown, FN_FREE)];
        return Ok(targets.iter().filter_map(|&(offset, f)| Some((usize::try_from(offset).ok()?, f))).collect());
    }
    if markers.openssl {
        let found = ossl::find(data).map_err(|miss| Outcome::Uncapturable(miss.describe()))?;
        let targets = [
            (found.write, FN_WRITE),
            (found.read, FN_READ),
            (found.write_ex, FN_WRITE_EX),
            (found.read_ex, FN_READ_EX),
            (found.shutdown, FN_FREE),
        ];
        let targets: Vec<Target> =
            targets.iter().filter_map(|&(offset, f)| Some((usize::try_from(offset?).ok()?, f))).collect();
        return Ok(targets);
    }
    Err(markers.other_tls().map_or(Outcome::NoSsl, Outcome::Uncapturable))
}

/// Which TLS implementations' markers a file holds, found in one pass: a file with no
/// exported OpenSSL API is otherwise read end to end once per marker, and an addon or agent
/// executable is 100+ MiB, scanned while the process that mapped it runs on towards its first
/// TLS write.
#[derive(Debug, Default, Clone, Copy)]
struct Markers {
    go_buildinfo: bool,
    go_tls_write: bool,
    crypto_tls: bool,
    boring: bool,
    openssl: bool,
    rustls: bool,
}

impl Markers {
    fn of(data: &[u8]) -> Markers {
        use std::sync::LazyLock;
        // leftmost-first, so Go's `crypto/tls.(*Conn).Write` is found where `crypto/tls` (its
        // prefix) starts too; no other pattern is a prefix or suffix of another
        const PATTERNS: [&[u8]; 6] = [
            gotls::BUILDINFO,
            gotls::WRITE.as_bytes(),
            b"crypto/tls",
            boring::SOURCE_NAME,
            ossl::SOURCE_NAME,
            b"rustls",
        ];
        static SEARCH: LazyLock<Option<aho_corasick::AhoCorasick>> = LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder().match_kind(aho_corasick::MatchKind::LeftmostFirst).build(PATTERNS).ok()
        });
        let mut seen = [false; PATTERNS.len()];
        match SEARCH.as_ref() {
            Some(search) => {
                for hit in search.find_iter(data) {
                    seen[hit.pattern().as_usize()] = true;
                    if seen.iter().all(|&s| s) {
                        break;
                    }
                }
            }
            None => {
                for (s, pattern) in seen.iter_mut().zip(PATTERNS) {
                    *s = memchr::memmem::find(data, pattern).is_some();
                }
            }
        }
        let [go_buildinfo, go_tls_write, crypto_tls, boring, openssl, rustls] = seen;
        Markers { go_buildinfo, go_tls_write, crypto_tls: crypto_tls || go_tls_write, boring, openssl, rustls }
    }

    /// The TLS implementation carried that we know and cannot hook, if any.
    fn other_tls(&self) -> Option<&'static str> {
        if self.rustls {
            Some("rustls")
        } else if self.go_buildinfo && self.crypto_tls {
            Some("Go crypto/tls")
        } else {
            None
        }
    }
}

/// The probes of the OpenSSL API at `offsets` (of the [`EXPORTED`] names), if `SSL_write` is
/// among them.
fn exported_targets(offsets: &[Option<usize>]) -> Option<Vec<Target>> {
    offsets.first()?.as_ref()?;
    Some(EXPORTED.iter().zip(offsets).filter_map(|(&(_, f), off)| Some((off.as_ref().copied()?, f))).collect())
}

/// [`symbol_offsets`] from the dynamic symbol table alone, without reading the whole file: the
/// ELF, program and section headers and the `SHT_DYNSYM` tables with their strings are read
/// into place in a zeroed buffer of the file's size, whose other pages are never touched (so
/// never resident). All `None` for a file that is not an ELF file or cannot be read.
pub(crate) fn dynamic_symbol_offsets(path: &Path, names: &[&str]) -> Vec<Option<usize>> {
    sparse_image(path).map_or_else(|| vec![None; names.len()], |image| symbol_offsets_in(&image, names))
}

fn sparse_image(path: &Path) -> Option<Vec<u8>> {
    use object::elf::{FileHeader64, SHT_DYNSYM};
    use object::read::elf::{FileHeader, SectionHeader};
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).ok()?;
    let len = usize::try_from(file.metadata().ok()?.len()).ok().filter(|&len| len <= 4 << 30)?;
    let mut image = vec![0u8; len];
    let fill = |image: &mut Vec<u8>, at: u64, size: u64| -> Option<()> {
        let start = usize::try_from(at).ok()?;
        let range = start..start.checked_add(usize::try_from(size).ok()?)?;
        file.read_exact_at(image.get_mut(range)?, at).ok()
    };
    fill(&mut image, 0, 64.min(len as u64))?;
    let header = FileHeader64::<object::Endianness>::parse(image.as_slice()).ok()?;
    let endian = header.endian().ok()?;
    let (phoff, phsize) =
        (header.e_phoff(endian), u64::from(header.e_phentsize(endian)) * u64::from(header.e_phnum(endian)));
    let shoff = header.e_shoff(endian);
    let shsize = u64::from(header.e_shentsize(endian)) * u64::from(header.e_shnum(endian));
    fill(&mut image, phoff, phsize)?;
    fill(&mut image, shoff, shsize)?;
    let header = FileHeader64::<object::Endianness>::parse(image.as_slice()).ok()?;
    let sections = header.section_headers(endian, image.as_slice()).ok()?.to_vec();
    // the section names' table, then each dynamic symbol table and the strings it links to
    let mut wanted = vec![usize::from(header.e_shstrndx(endian))];
    for (i, section) in sections.iter().enumerate() {
        if section.sh_type(endian) == SHT_DYNSYM {
            wanted.extend([i, section.sh_link(endian) as usize]);
        }
    }
    for section in wanted.into_iter().filter_map(|i| sections.get(i)) {
        if let Some((at, size)) = section.file_range(endian) {
            fill(&mut image, at, size)?;
        }
    }
    Some(image)
}

/// The probes of Go's crypto/tls: Write's and Read's entries and `RET`s, and Close.
fn go_targets(found: &gotls::Functions) -> Vec<Target> {
    let mut out = Vec::new();
    for (f, enter, ret) in [(&found.write, FN_GO_WRITE, FN_GO_WRITE_RET), (&found.read, FN_GO_READ, FN_GO_READ_RET)] {
        out.push((f.entry, enter));
        out.extend(f.rets.iter().map(|&r| (r, ret)));
    }
    out.extend(found.close.map(|c| (c, FN_GO_CLOSE)));
    out.into_iter().filter_map(|(offset, f)| Some((usize::try_from(offset).ok()?, f))).collect()
}

/// File offsets (what a uprobe is placed at) of `names` in `path`'s dynamic or static symbol
/// table, in the order asked; `None` for a name the file does not define.
#[cfg(test)]
pub(crate) fn symbol_offsets(path: &Path, names: &[&str]) -> Vec<Option<usize>> {
    symbol_offsets_in(&std::fs::read(path).unwrap_or_default(), names)
}

/// [`symbol_offsets`] of a file already read.
fn symbol_offsets_in(data: &[u8], names: &[&str]) -> Vec<Option<usize>> {
    use object::{Object, ObjectSegment, ObjectSymbol};
    let mut out = vec![None; names.len()];
    let Ok(elf) = object::File::parse(data) else { return out };
    let segments: Vec<(u64, u64, u64)> = elf.segments().map(|s| (s.address(), s.size(), s.file_range().0)).collect();
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
/// one we know and cannot hook: rustls, or Go's crypto/tls where its functions are not found
/// ([`gotls`] says why). Found by markers in the file (crate paths, Go build info). BoringSSL
/// without symbols is searched by [`boring`] instead.
#[cfg(test)]
pub(crate) fn other_tls(path: &Path) -> Option<&'static str> {
    other_tls_in(&std::fs::read(path).ok()?)
}

/// [`other_tls`] of a file already read.
#[cfg(test)]
fn other_tls_in(data: &[u8]) -> Option<&'static str> {
    if !data.starts_with(b"\x7fELF") {
        return None;
    }
    Markers::of(data).other_tls()
}

/// Whether this kernel attaches uprobe_multi links (Linux 6.6+).
pub(crate) fn multi_supported(release: (u32, u32)) -> bool {
    release >= (6, 6)
}

/// The system's `libssl.so*` files (symlinks resolved, each file once).
pub(crate) fn system_libraries() -> Vec<PathBuf> {
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
pub(crate) fn well_known_executables() -> Vec<PathBuf> {
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

    /// One pass finds every marker, wherever in the file and in whatever order, including
    /// `crypto/tls` where it only occurs as the start of Go's `crypto/tls.(*Conn).Write`.
    #[test]
    fn one_pass_finds_every_marker() {
        let names = ["go_buildinfo", "go_tls_write", "crypto_tls", "boring", "openssl", "rustls"];
        let flags = |m: Markers| [m.go_buildinfo, m.go_tls_write, m.crypto_tls, m.boring, m.openssl, m.rustls];
        let none = Markers::of(&[0x90; 100_000]);
        assert_eq!(flags(none), [false; 6]);
        let parts: [&[u8]; 5] = [
            b"\xff Go buildinf:",
            b"crypto/tls.(*Conn).Write",
            b"x/ssl/ssl_lib.cc\0",
            b"../ssl/ssl_lib.c\0",
            b"rustls-0.23",
        ];
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]] {
            let mut data = vec![0u8; 3_000_000];
            for (slot, &i) in order.iter().enumerate() {
                let at = 17 + slot * 700_001;
                data[at..at + parts[i].len()].copy_from_slice(parts[i]);
            }
            assert_eq!(flags(Markers::of(&data)), [true; 6], "{order:?} of {names:?}");
        }
        let only_ossl = Markers::of(b"..ssl/ssl_lib.c\0..");
        assert_eq!(flags(only_ossl), [false, false, false, false, true, false]);
    }

    #[test]
    fn probe_targets_come_from_symbols_or_boringssl_code_or_say_why_not() {
        if let Some(lib) = system_libraries().into_iter().next() {
            let targets = probe_targets(&std::fs::read(&lib).expect("read libssl")).expect("libssl has targets");
            let fns: Vec<u64> = targets.iter().map(|&(_, f)| f).collect();
            assert!(fns.contains(&FN_WRITE) && fns.contains(&FN_READ) && fns.contains(&FN_FREE), "{targets:?}");
        }
        // BoringSSL's source name, but no code that reports errors with it
        let stripped = b"\x7fELF\x02\x01\x01....../vendor/boringssl/ssl/ssl_lib.cc\0";
        assert!(matches!(probe_targets(stripped), Err(Outcome::Uncapturable(why)) if why.starts_with("BoringSSL")));
        assert_eq!(probe_targets(b"\x7fELF..rustls-0.23.1/src/conn.rs.."), Err(Outcome::Uncapturable("rustls")));
        assert_eq!(probe_targets(b"\x7fELF plain program"), Err(Outcome::NoSsl));
    }

    /// A Bun binary (`AGENTSIGHT_BUN`, or where the TLS tests unpack it): write, read and close.
    #[test]
    #[ignore = "needs a Bun binary (AGENTSIGHT_BUN or target/bun/package/bin/bun)"]
    fn probe_targets_of_bun_are_write_read_and_shutdown() {
        let path = std::env::var_os("AGENTSIGHT_BUN")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bun/package/bin/bun"));
        let targets = probe_targets(&std::fs::read(&path).expect("read bun")).expect("targets");
        assert_eq!(targets.iter().map(|&(_, f)| f).collect::<Vec<_>>(), [FN_WRITE, FN_READ, FN_FREE]);
    }

    #[test]
    fn probe_targets_of_a_stripped_go_program_are_its_crypto_tls_entries_and_rets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(go) = crate::gotls::tests::go_build(dir.path(), "client", &["-ldflags=-s -w"]) else { return };
        let data = std::fs::read(go).expect("read");
        let targets = probe_targets(&data).expect("targets");
        let count = |f: u64| targets.iter().filter(|t| t.1 == f).count();
        assert_eq!((count(FN_GO_WRITE), count(FN_GO_READ), count(FN_GO_CLOSE)), (1, 1, 1), "{targets:?}");
        assert!(count(FN_GO_WRITE_RET) > 0 && count(FN_GO_READ_RET) > 0, "{targets:?}");
        assert!(targets.iter().all(|&(_, f)| entry_only(f)));
        // each RET site holds a `ret`
        assert!(targets
            .iter()
            .filter(|t| t.1 == FN_GO_WRITE_RET || t.1 == FN_GO_READ_RET)
            .all(|&(o, _)| data[o] == 0xc3));
        // a Go file that cannot be read is named, not probed
        let old = b"\x7fELF\xff Go buildinf: crypto/tls.(*Conn).Write";
        assert!(matches!(probe_targets(old), Err(Outcome::Uncapturable(why)) if why.starts_with("Go crypto/tls (")));
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

    /// The exported API read from the dynamic symbol table alone is where the whole file says
    /// it is (libssl, node), and nothing at all comes from a file without one or not ELF.
    #[test]
    fn dynamic_symbols_alone_give_the_same_offsets_as_the_whole_file() {
        let names = EXPORTED.map(|(name, _)| name);
        let node = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("node"))
            .find(|p| p.is_file());
        let files: Vec<PathBuf> = system_libraries().into_iter().chain(node).collect();
        for file in &files {
            let whole = symbol_offsets_in(&std::fs::read(file).expect("read"), &names);
            assert!(whole[0].is_some(), "{}", file.display());
            assert_eq!(dynamic_symbol_offsets(file, &names), whole, "{}", file.display());
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("text");
        std::fs::write(&text, b"#!/bin/sh\necho not ELF\n").expect("write");
        assert_eq!(dynamic_symbol_offsets(&text, &names), vec![None; names.len()]);
        assert_eq!(dynamic_symbol_offsets(Path::new("/bin/sh"), &names)[0], None, "a shell exports no SSL_write");
        assert_eq!(dynamic_symbol_offsets(Path::new("/nonexistent"), &names)[0], None);
    }

    #[test]
    fn finds_the_system_libssl_once() {
        let libs = system_libraries();
        let mut ids: Vec<(u64, u64)> =
            libs.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| (m.dev(), m.ino())).collect();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "each file once: {libs:?}");
        assert!(libs
            .iter()
            .all(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libssl.so"))));
    }
}
