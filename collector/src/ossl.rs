//! Where `SSL_write`, `SSL_read`, `SSL_write_ex`, `SSL_read_ex` and `SSL_shutdown` are in an ELF
//! file that links OpenSSL 3 statically and exports none of its symbols. The case that matters:
//! the GitHub Copilot CLI (npm `@github/copilot`) makes its model requests from `runtime.node`,
//! a stripped Rust addon (reqwest, native-tls, OpenSSL 3.5 built in) that its Node executable
//! loads at run time; the addon exports only its N-API entry points. Rust's `openssl` crate
//! calls `SSL_write_ex`, `SSL_read_ex` and `SSL_shutdown` (the only three the addon's GOT
//! refers to), so those carry its traffic.
//!
//! The anchor is what no build compiles away. OpenSSL 3 reports a failure with
//! `ERR_raise(ERR_LIB_SSL, reason)`, which expands to `ERR_new(); ERR_set_debug(__FILE__,
//! __LINE__, __func__); ERR_set_error(20, reason, NULL)`. At each such *error site* the code
//! loads the address of the source name `…/ssl/ssl_lib.c` into the first argument register (a
//! `lea` from position-independent code, a `mov` of the absolute address in a non-PIE
//! executable), a line number into the second, and the address of the enclosing C function's
//! name into the third; after the call, 20 and the reason. So every site names the function it
//! was written in, whatever the optimiser did: a site reads `ssl_write_internal` even where
//! that function was inlined into another. The function that holds a site in the binary is
//! the greatest function start at or below it, from the unwind table (`.eh_frame_hdr`, which
//! unwinding needs and stripping leaves). Names, reason codes and argument order are OpenSSL's
//! source, its ABI and the calling convention, not a particular compiler's output.
//!
//! | `__func__` of the sites | their reasons (`SSL_R_*`) | what they find |
//! |---|---|---|
//! | `SSL_write` | BAD_LENGTH | `SSL_write`: the one function holding them |
//! | `SSL_read` | BAD_LENGTH | `SSL_read` |
//! | `SSL_shutdown` | UNINITIALIZED, SHUTDOWN_WHILE_IN_INIT | `SSL_shutdown` |
//! | `ssl_read_internal` | UNINITIALIZED, SHOULD_NOT_HAVE_BEEN_CALLED | `SSL_read_ex`, through its core (below) |
//! | `ssl_write_internal` | UNINITIALIZED, PROTOCOL_IS_SHUTDOWN, SHOULD_NOT_HAVE_BEEN_CALLED; UNSUPPORTED_WRITE_FLAG where it takes flags | `SSL_write_ex`, through its core (below) |
//!
//! The public functions are thin wrappers (`ssl/ssl_lib.c`, read in 3.0.19 and 3.5):
//! `SSL_read(s, buf, int num)` checks `num < 0` (its own site) and calls
//! `ssl_read_internal(s, buf, num, &readbytes)`; `SSL_read_ex(s, buf, num, readbytes)` has no
//! site of its own and calls `ssl_read_internal` with its four arguments untouched. A *core* of
//! `ssl_read_internal` is a function holding its sites and no others: the function itself, out
//! of line, or `SSL_read_ex` with it inlined (`SSL_read` and `SSL_read_early_data` hold sites
//! of their own). A core stands for the one wrapper that passes its four arguments through
//! (only a prologue before the call), and when there is none or several, for itself: it has
//! `SSL_read_ex`'s signature and results, and every `SSL_read_ex` goes through it. The one
//! core's choice is `read_ex`; two cores (an out-of-line copy besides an inlined one) cannot be
//! told apart, and none is given.
//!
//! Writes are the same in 3.0 and 3.1. Later releases (3.5 read) give `ssl_write_internal` a
//! `flags` argument before `written`, reject nonzero flags with UNSUPPORTED_WRITE_FLAG, and add
//! `SSL_write_ex2(s, buf, num, flags, written)`, which passes its five arguments through;
//! `SSL_write_ex` calls it, or its inlined body, with `flags = 0` and `written` moved from the
//! fourth register to the fifth. So a core with that reason is not `_ex`-shaped (the probe
//! reads `written` from the fourth argument); `SSL_write_ex` is then its caller, or
//! `SSL_write_ex2`'s, that zeroes the flags and moves `written` thus; a core without it (the
//! flag check folded away by inlining `SSL_write_ex2` and `ssl_write_internal` into
//! `SSL_write_ex`) is taken as for reads. Where no site has that reason and some reason could
//! not be read, the signature is unknown and `write_ex` is not given.
//!
//! Checked against the symbol tables of builds that export them (Debian's `libssl.so.3`
//! 3.0.19, Node 20's 3.0 and the Copilot CLI's Node with 3.5.7, both gcc, non-PIE), a stripped
//! object linked from Debian's `libssl.a`, and by disassembly in Copilot CLI 1.0.102's
//! `runtime.node` (3.5.8, clang): nothing found disagreed; the two Node builds, whose internal
//! functions are inlined twice over, give no `read_ex`, and Copilot's Node inlines
//! `SSL_shutdown` into `SSL_shutdown_ex` (two holders: none given).
//!
//! Every function given is a function entry: an unwind-table start whose frame description
//! begins with the frame a call leaves (a `.cold` part split off a function begins inside its
//! parent's frame, and is refused). `SSL_free` has no error site and no string of its own, so
//! it is not found; `SSL_shutdown` stands in for it, as for BoringSSL (`boring.rs`).
//! Pure: bytes in, file offsets out. x86-64 ELF only. A role matched by no function, or by
//! more than one, is `None` (or a [`Miss`] when no write or no read is left), never a guess.

use crate::le::{read_i32, read_u32, read_u64};
use std::collections::{BTreeMap, BTreeSet};

use memchr::memmem;

/// `ERR_LIB_SSL`.
const LIB_SSL: u64 = 20;
/// Reason codes (OpenSSL 3 `include/openssl/sslerr.h`).
const SSL_R_BAD_LENGTH: u32 = 271;
const SSL_R_UNINITIALIZED: u32 = 276;
const SSL_R_SHUTDOWN_WHILE_IN_INIT: u32 = 407;
const SSL_R_UNSUPPORTED_WRITE_FLAG: u32 = 412;

/// The end of `__FILE__` in `ssl_lib.c`'s error sites; what precedes it is the build's path
/// (`../ssl/ssl_lib.c` from OpenSSL's own build, `external/openssl+/ssl/ssl_lib.c` from Bazel).
pub(crate) const SOURCE_NAME: &[u8] = b"ssl/ssl_lib.c\0";

/// x86 register numbers.
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
/// System V argument registers in order: rdi, rsi, rdx, rcx, r8, r9.
const ARG_REGS: [u8; 6] = [RDI, RSI, RDX, RCX, R8, 9];

/// File offsets of the functions found, where uprobes go. At least one of `write` and
/// `write_ex`, and one of `read` and `read_ex`, is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Functions {
    /// `int SSL_write(SSL *, const void *, int)`.
    pub write: Option<u64>,
    /// `int SSL_read(SSL *, void *, int)`.
    pub read: Option<u64>,
    /// `int SSL_write_ex(SSL *, const void *, size_t, size_t *written)`, or a function with its
    /// signature and results that every call of it goes through (`ssl_write_internal` of 3.0
    /// and 3.1; see the module docs).
    pub write_ex: Option<u64>,
    /// `int SSL_read_ex(SSL *, void *, size_t, size_t *readbytes)`, or likewise
    /// `ssl_read_internal`.
    pub read_ex: Option<u64>,
    /// `int SSL_shutdown(SSL *)`: stands in for `SSL_free` (see the module docs).
    pub shutdown: Option<u64>,
}

/// Why the functions were not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Not an x86-64 ELF file.
    NotX86Elf,
    /// No `ssl/ssl_lib.c` string: not OpenSSL.
    NoSourceName,
    /// No unwind table (`PT_GNU_EH_FRAME` with a binary-search table) to tell functions apart.
    NoUnwindTable,
    /// The string is there but no code passes it to `ERR_set_debug`: not OpenSSL 3 (1.1 and
    /// LibreSSL report errors with `ERR_put_error`).
    NoErrorSites,
    /// Neither `SSL_write` nor `SSL_write_ex` could be told apart.
    Write,
    /// Neither `SSL_read` nor `SSL_read_ex` could be told apart.
    Read,
}

impl Miss {
    /// For the warning that names the process whose TLS is not captured.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Miss::NotX86Elf => "OpenSSL 3 (statically linked, stripped; not an x86-64 ELF file)",
            Miss::NoSourceName | Miss::NoErrorSites => {
                "OpenSSL (statically linked, stripped; no `ERR_raise` sites of `ssl_lib.c`)"
            }
            Miss::NoUnwindTable => "OpenSSL 3 (statically linked, stripped; no unwind table to find functions by)",
            Miss::Write => "OpenSSL 3 (statically linked, stripped; `SSL_write` not found)",
            Miss::Read => "OpenSSL 3 (statically linked, stripped; `SSL_read` not found)",
        }
    }
}

/// Whether `data` holds OpenSSL's `ssl_lib.c` source name (cheap; [`find`] does the work).
#[cfg(test)]
pub(crate) fn has_source_name(data: &[u8]) -> bool {
    memmem::find(data, SOURCE_NAME).is_some()
}

/// Find the functions in an ELF executable or shared object.
pub(crate) fn find(data: &[u8]) -> Result<Functions, Miss> {
    use object::elf::{EM_X86_64, PF_X, PT_GNU_EH_FRAME, PT_LOAD};
    use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
    let elf = ElfFile64::<object::Endianness>::parse(data).map_err(|_| Miss::NotX86Elf)?;
    let endian = elf.endian();
    if elf.elf_header().e_machine(endian) != EM_X86_64 {
        return Err(Miss::NotX86Elf);
    }
    // (segment, file offset, executable)
    let mut all = Vec::new();
    let mut eh_frame_hdr = None;
    for ph in elf.elf_program_headers() {
        match ph.p_type(endian) {
            PT_LOAD => {
                let Ok(bytes) = ph.data(endian, data) else {
                    continue;
                };
                all.push((
                    Segment { addr: ph.p_vaddr(endian), bytes },
                    ph.p_offset(endian),
                    ph.p_flags(endian) & PF_X != 0,
                ));
            }
            PT_GNU_EH_FRAME => eh_frame_hdr = Some(ph.p_vaddr(endian)),
            _ => {}
        }
    }
    let segments: Vec<Segment<'_>> = all.iter().map(|(seg, _, _)| *seg).collect();
    let code: Vec<Segment<'_>> = all.iter().filter(|(_, _, exec)| *exec).map(|(seg, _, _)| *seg).collect();
    // string constants are in read-only data, in a segment of its own or (older ld) with the code
    let names: Vec<u64> = segments.iter().flat_map(source_names).collect();
    if names.is_empty() {
        return Err(Miss::NoSourceName);
    }
    let table = eh_frame_hdr.and_then(|hdr| unwind_table(&segments, hdr)).ok_or(Miss::NoUnwindTable)?;
    let starts: Vec<u64> = table.iter().map(|&(start, _)| start).collect();
    let fde_of = |start: u64| table.binary_search_by_key(&start, |&(s, _)| s).ok().map(|i| table[i].1);
    let is_entry = |start: u64| fde_of(start).is_some_and(|fde| begins_with_callers_frame(&segments, fde));
    let found = find_in(
        &Image {
            code: &code,
            segments: &segments,
            names: &names,
            starts: &starts,
            absolute: elf.elf_header().e_type(endian) == object::elf::ET_EXEC,
        },
        is_entry,
    )?;
    let offset =
        |addr: u64| all.iter().find(|(seg, _, _)| seg.contains(addr)).map(|(seg, file, _)| addr - seg.addr + file);
    let functions = Functions {
        write: found.write.and_then(offset),
        read: found.read.and_then(offset),
        write_ex: found.write_ex.and_then(offset),
        read_ex: found.read_ex.and_then(offset),
        shutdown: found.shutdown.and_then(offset),
    };
    if functions.write.is_none() && functions.write_ex.is_none() {
        return Err(Miss::Write);
    }
    if functions.read.is_none() && functions.read_ex.is_none() {
        return Err(Miss::Read);
    }
    Ok(functions)
}

/// Bytes loaded at `addr`.
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    addr: u64,
    bytes: &'a [u8],
}

impl<'a> Segment<'a> {
    fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr - self.addr < self.bytes.len() as u64
    }

    /// The bytes from `addr` to the end of the segment.
    fn from(&self, addr: u64) -> Option<&'a [u8]> {
        self.contains(addr).then(|| &self.bytes[(addr - self.addr) as usize..])
    }
}

/// The bytes from `addr` to the end of the segment that holds it.
fn bytes_at<'a>(segments: &[Segment<'a>], addr: u64) -> Option<&'a [u8]> {
    segments.iter().find_map(|seg| seg.from(addr))
}

/// What [`find_in`] works on: addresses, not file offsets.
#[derive(Debug, Clone, Copy)]
struct Image<'a, 'b> {
    /// The executable segments.
    code: &'b [Segment<'a>],
    /// Every loaded segment (for the strings).
    segments: &'b [Segment<'a>],
    /// Addresses of the source-name strings.
    names: &'b [u64],
    /// Function starts, sorted.
    starts: &'b [u64],
    /// Whether code may load an address as a 32-bit immediate: a non-PIE executable
    /// (`ET_EXEC`); a shared object or PIE cannot without text relocations.
    absolute: bool,
}

impl Image<'_, '_> {
    /// The start of the function holding `addr`.
    fn function_of(&self, addr: u64) -> Option<u64> {
        self.starts.partition_point(|&s| s <= addr).checked_sub(1).map(|i| self.starts[i])
    }
}

/// Addresses (not file offsets) of the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Found {
    write: Option<u64>,
    read: Option<u64>,
    write_ex: Option<u64>,
    read_ex: Option<u64>,
    shutdown: Option<u64>,
}

/// An `ERR_raise` in the code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    /// The instruction that loads the source name.
    addr: u64,
    /// `__func__`: the C function it was written in.
    func: String,
    /// The `SSL_R_*` reason, when `ERR_set_error(ERR_LIB_SSL, reason)` could be read.
    reason: Option<u32>,
}

/// The pure core of [`find`]; `is_entry` says whether a function start is where calls enter.
fn find_in(image: &Image<'_, '_>, is_entry: impl Fn(u64) -> bool) -> Result<Found, Miss> {
    let sites = error_sites(image);
    if sites.is_empty() {
        return Err(Miss::NoErrorSites);
    }
    // __func__ -> the functions holding its sites -> their reasons; function -> its names
    let mut by_name: BTreeMap<&str, BTreeMap<u64, BTreeSet<Option<u32>>>> = BTreeMap::new();
    let mut names_in: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for site in &sites {
        if let Some(f) = image.function_of(site.addr) {
            by_name.entry(site.func.as_str()).or_default().entry(f).or_default().insert(site.reason);
            names_in.entry(f).or_default().insert(site.func.as_str());
        }
    }
    let no_reasons = BTreeMap::new();
    let holders = |name: &str| by_name.get(name).unwrap_or(&no_reasons);
    // the one function holding `name`'s sites, one of them with a reason of `reasons`
    let holder = |name: &str, reasons: &[u32]| -> Option<u64> {
        let (&f, got) = holders(name).iter().next().filter(|_| holders(name).len() == 1)?;
        (reasons.iter().any(|r| got.contains(&Some(*r))) && is_entry(f)).then_some(f)
    };
    let write = holder("SSL_write", &[SSL_R_BAD_LENGTH]);
    let read = holder("SSL_read", &[SSL_R_BAD_LENGTH]);
    let shutdown = holder("SSL_shutdown", &[SSL_R_UNINITIALIZED, SSL_R_SHUTDOWN_WHILE_IN_INIT]);

    // the code of `internal`: functions with its sites and no others (out of line, or inlined
    // into a wrapper with no sites of its own), and their reasons
    let cores = |internal: &str| -> Vec<(u64, &BTreeSet<Option<u32>>)> {
        let only_internal = |f: &u64| names_in.get(f).is_some_and(|n| n.len() == 1);
        holders(internal).iter().filter(|(f, _)| only_internal(f) && is_entry(**f)).map(|(&f, r)| (f, r)).collect()
    };
    // the callers of every core, found in one pass over the code (the slow part on a large
    // binary) and then picked out per question
    let all_cores: BTreeSet<u64> = ["ssl_read_internal", "ssl_write_internal"]
        .iter()
        .flat_map(|internal| cores(internal))
        .map(|(core, _)| core)
        .collect();
    let of_cores = callers_entering(image, &all_cores, &is_entry);
    let entering = |targets: &BTreeSet<u64>| -> Vec<Entry> {
        if targets.is_subset(&all_cores) {
            of_cores.iter().filter(|e| targets.contains(&e.target)).copied().collect()
        } else {
            callers_entering(image, targets, &is_entry)
        }
    };
    // a core with the `_ex` signature stands for the one wrapper that passes its arguments
    // through, if there is one; else for itself (every call goes through it)
    let wrapper_or_self = |core: u64, public: Option<u64>| -> u64 {
        let wrappers = entering(&BTreeSet::from([core]));
        only(wrappers.iter().filter(|c| Some(c.function) != public && c.passes_through(4)).map(|c| c.function))
            .unwrap_or(core)
    };
    let read_ex = only(cores("ssl_read_internal").into_iter().map(|(core, _)| wrapper_or_self(core, read)));
    let write_ex = {
        let all_reasons = || holders("ssl_write_internal").values().flatten();
        let takes_flags = all_reasons().any(|r| *r == Some(SSL_R_UNSUPPORTED_WRITE_FLAG));
        // without that reason, the signature is `(s, buf, num, written)` only if every reason
        // was read
        let known = takes_flags || all_reasons().all(Option::is_some);
        let cores: Vec<_> = cores("ssl_write_internal").into_iter().filter(|(_, r)| !r.contains(&None)).collect();
        // cores that do not check flags: none taken, or 0 folded in (SSL_write_ex's inlined body)
        let plain =
            cores.iter().filter(|(_, r)| !r.contains(&Some(SSL_R_UNSUPPORTED_WRITE_FLAG))).map(|&(core, _)| core);
        let mut candidates: Vec<u64> =
            if known { plain.map(|core| wrapper_or_self(core, write)).collect() } else { Vec::new() };
        // cores that take flags: SSL_write_ex calls them, or SSL_write_ex2, with flags 0
        let flagged: BTreeSet<u64> =
            cores.iter().filter(|(_, r)| r.contains(&Some(SSL_R_UNSUPPORTED_WRITE_FLAG))).map(|c| c.0).collect();
        if !flagged.is_empty() {
            let callers = entering(&flagged);
            let ex2: BTreeSet<u64> = callers.iter().filter(|c| c.passes_through(5)).map(|c| c.function).collect();
            let via_ex2 = if ex2.is_empty() { Vec::new() } else { entering(&ex2) };
            candidates.extend(
                callers
                    .iter()
                    .chain(&via_ex2)
                    .filter(|c| c.zeroes_flags() && Some(c.function) != write)
                    .map(|c| c.function),
            );
        }
        only(candidates.into_iter())
    };
    if write.is_none() && write_ex.is_none() {
        return Err(Miss::Write);
    }
    if read.is_none() && read_ex.is_none() {
        return Err(Miss::Read);
    }
    Ok(Found { write, read, write_ex, read_ex, shutdown })
}

/// The single item, if there is exactly one (duplicates count once).
fn only(items: impl Iterator<Item = u64>) -> Option<u64> {
    let set: BTreeSet<u64> = items.collect();
    let mut it = set.into_iter();
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

/// A function whose first call or jump goes to one of the targets, and what its argument
/// registers hold then.
#[derive(Debug, Clone, Copy)]
struct Entry {
    function: u64,
    /// The target it calls or jumps to.
    target: u64,
    regs: Regs,
}

impl Entry {
    /// Its first `n` arguments reach the callee untouched.
    fn passes_through(&self, n: usize) -> bool {
        ARG_REGS[..n].iter().all(|&r| self.regs[usize::from(r)] == Value::Entry(r))
    }

    /// `SSL_write_ex` calling `SSL_write_ex2(s, buf, num, 0, written)`.
    fn zeroes_flags(&self) -> bool {
        self.passes_through(3)
            && self.regs[usize::from(RCX)] == Value::Const(0)
            && self.regs[usize::from(R8)] == Value::Entry(RCX)
    }
}

/// The functions that call or jump to one of `targets` (direct `call`/`jmp rel32`) and, from
/// their entry, get there by a straight run of instructions, that call or jump being their first.
fn callers_entering(image: &Image<'_, '_>, targets: &BTreeSet<u64>, is_entry: &impl Fn(u64) -> bool) -> Vec<Entry> {
    let mut functions = BTreeSet::new();
    for seg in image.code {
        // a stray E8/E9 inside another instruction is sorted out by decoding from the
        // function's entry below
        for at in rel32_into(seg, 1, 5, targets) {
            if seg.bytes[at] & 0xFE == 0xE8 {
                functions.extend(image.function_of(seg.addr + at as u64));
            }
        }
    }
    let mut out = Vec::new();
    for function in functions {
        let Some(seg) = image.code.iter().find(|s| s.contains(function)) else {
            continue;
        };
        let mut regs = ENTRY_REGS;
        let Some((_, Insn::Call(target) | Insn::Jump(target))) =
            run(seg, (function - seg.addr) as usize, &mut regs, false)
        else {
            continue;
        };
        if targets.contains(&target) && is_entry(function) {
            out.push(Entry { function, target, regs });
        }
    }
    out
}

/// Addresses of the NUL-terminated strings in `seg` that end in [`SOURCE_NAME`].
fn source_names(seg: &Segment<'_>) -> Vec<u64> {
    memmem::find_iter(seg.bytes, SOURCE_NAME)
        .map(|end| {
            // a build path is short; the string starts after the NUL before it
            let lower = end.saturating_sub(512);
            let start = memchr::memrchr(0, &seg.bytes[lower..end]).map_or(lower, |nul| lower + nul + 1);
            seg.addr + start as u64
        })
        .collect()
}

/// Every `ERR_raise` site of `ssl_lib.c` in the code.
fn error_sites(image: &Image<'_, '_>) -> Vec<Site> {
    let mut sites = Vec::new();
    for seg in image.code {
        // a non-PIE executable (Node's) loads the source name as an absolute address:
        // `mov r32, imm32` (B8+r imm32, or 41 B8+r imm32)
        for &name in image.names.iter().filter(|_| image.absolute) {
            let Ok(imm) = u32::try_from(name) else {
                continue;
            };
            for hit in memmem::find_iter(seg.bytes, &imm.to_le_bytes()) {
                let loads = |at: usize| match decode(seg, at) {
                    Some((Insn::Set(_, Value::Const(v)), n)) => v == name && at + n == hit + 4,
                    _ => false,
                };
                let mov = [1, 2].iter().filter_map(|&back| hit.checked_sub(back)).find(|&at| loads(at));
                if let Some(at) = mov {
                    sites.extend(error_site(seg, at, name, image.segments));
                }
            }
        }
        // the source name is loaded with `lea r64, [rip + disp32]` (REX.W 8D modrm disp32,
        // rip-relative: modrm `00 reg 101`)
        let names: BTreeSet<u64> = image.names.iter().copied().collect();
        for at in rel32_into(seg, 3, 7, &names) {
            let b = seg.bytes;
            if b[at] & 0xF8 != 0x48 || b[at + 1] != 0x8D || b[at + 2] & 0xC7 != 0x05 {
                continue;
            }
            if let Some((Insn::Set(_, Value::Const(target)), _)) = decode(seg, at) {
                if names.contains(&target) {
                    sites.extend(error_site(seg, at, target, image.segments));
                }
            }
        }
    }
    sites.sort_by_key(|site| site.addr);
    sites
}

/// The instruction starts `at` in `seg` whose 32-bit displacement at `at + disp_at`, relative
/// to the instruction's end `at + len`, points at one of `targets`: the direct calls and jumps
/// to a function, the loads of a string's address. Every instruction in the same 64 KiB of
/// code that points at a target has the same upper two bytes of displacement (one of two
/// values, where the stretch straddles a boundary; targets close together share them), so
/// each stretch is searched for those byte pairs (rare, away from the targets) instead of
/// every candidate opcode byte being read: a pass over the 100+ MiB of a large addon is
/// several times faster, and it runs while the process that mapped it heads for its first
/// TLS write.
fn rel32_into(seg: &Segment<'_>, disp_at: usize, len: usize, targets: &BTreeSet<u64>) -> Vec<usize> {
    const STRETCH: usize = 1 << 16;
    let b = seg.bytes;
    let mut out = Vec::new();
    let mut start = 0;
    while start < b.len() {
        let end = (start + STRETCH).min(b.len());
        let end_of = |at: usize| i128::from(seg.addr + (at + len) as u64);
        // the upper halves of the displacements from start..end to each target that fit
        let mut highs = BTreeSet::new();
        for &target in targets {
            let (first, last) = (i128::from(target) - end_of(end - 1), i128::from(target) - end_of(start));
            if last >= i128::from(i32::MIN) && first <= i128::from(i32::MAX) {
                let (first, last) = (first.max(i128::from(i32::MIN)), last.min(i128::from(i32::MAX)));
                highs.extend([(first >> 16) as i16, (last >> 16) as i16]);
            }
        }
        // the upper two bytes are at at + disp_at + 2 and + 3
        let from = start + disp_at + 2;
        let to = (end + disp_at + 3).min(b.len());
        for high in highs {
            let Some(haystack) = b.get(from..to) else { break };
            let pair = high.to_le_bytes();
            let finder = memmem::Finder::new(&pair);
            // overlapping matches: the pair is often `00 00` or `FF FF` near a target
            let mut next = 0;
            while let Some(j) = haystack.get(next..).and_then(|rest| finder.find(rest)) {
                let at = start + next + j;
                next += j + 1;
                let points_at = |d: i32| u64::try_from(end_of(at) + i128::from(d)).is_ok_and(|t| targets.contains(&t));
                if at + len <= b.len() && read_i32(b, at + disp_at).is_some_and(points_at) {
                    out.push(at);
                }
            }
        }
        start = end;
    }
    out.sort_unstable();
    out
}

/// The site whose `ERR_set_debug(file, line, func)` set-up includes the instruction at `at`
/// loading `file`; `None` if it is not one.
fn error_site(seg: &Segment<'_>, at: usize, file: u64, segments: &[Segment<'_>]) -> Option<Site> {
    let mut regs = [Value::Unknown; 16];
    // compilers set some arguments before the name (gcc: func, line, then file): the constants
    // that end right before it, nearest first
    let mut end = at;
    let mut before = [false; 16];
    for _ in 0..4 {
        let prev = [5, 7, 6, 10, 2, 3].iter().filter_map(|&len| end.checked_sub(len)).find_map(|start| {
            match decode(seg, start) {
                Some((Insn::Set(reg, v @ Value::Const(_)), n)) if start + n == end => Some((start, reg, v)),
                _ => None,
            }
        });
        let Some((start, reg, value)) = prev else {
            break;
        };
        let r = usize::from(reg);
        if !before[r] {
            before[r] = true;
            regs[r] = value;
        }
        end = start;
    }
    // forward to the call, through a jump to a shared call (clang merges the sites' tails)
    let (call, Insn::Call(_)) = run(seg, at, &mut regs, true)? else {
        return None;
    };
    let (Value::Const(name), Value::Const(_line), Value::Const(func)) =
        (regs[usize::from(RDI)], regs[usize::from(RSI)], regs[usize::from(RDX)])
    else {
        return None;
    };
    if name != file {
        return None;
    }
    let func = identifier(segments, func)?;
    // then ERR_set_error(ERR_LIB_SSL, reason, NULL)
    let mut after = [Value::Unknown; 16];
    let reason = match run(seg, call + 5, &mut after, true) {
        Some((_, Insn::Call(_))) if after[usize::from(RDI)] == Value::Const(LIB_SSL) => match after[usize::from(RSI)] {
            Value::Const(r) => u32::try_from(r).ok(),
            _ => None,
        },
        _ => None,
    };
    Some(Site { addr: seg.addr + at as u64, func: func.to_string(), reason })
}

/// The C identifier at `addr` (a `__func__` string), if that is what is there.
fn identifier<'a>(segments: &[Segment<'a>], addr: u64) -> Option<&'a str> {
    let bytes = bytes_at(segments, addr)?;
    let len = memchr::memchr(0, &bytes[..bytes.len().min(128)])?;
    let name = &bytes[..len];
    let ok =
        !name.is_empty() && !name[0].is_ascii_digit() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    ok.then(|| std::str::from_utf8(name).ok()).flatten()
}

/// What a register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Const(u64),
    /// What the register (x86 number) held where the run started.
    Entry(u8),
    Unknown,
}

/// Registers by x86 number.
type Regs = [Value; 16];

/// Each register holding what it held at the start.
const ENTRY_REGS: Regs = {
    let mut regs = [Value::Unknown; 16];
    let mut r = 0;
    while r < 16 {
        regs[r] = Value::Entry(r as u8);
        r += 1;
    }
    regs
};

/// The few instructions of argument set-up and prologues, as far as this module cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Insn {
    /// Writes a register (x86 number).
    Set(u8, Value),
    /// `mov r64, r64`: the first gets the second's value.
    Copy(u8, u8),
    /// Writes no register we track (push, store, compare, endbr64).
    Neutral,
    /// `call rel32` and its target.
    Call(u64),
    /// `jmp rel8/rel32` and its target.
    Jump(u64),
    /// A conditional jump.
    Branch,
}

/// Run the straight-line code from `i`, updating `regs`, to the first call (or jump, unless
/// `follow` says to go on at its target, twice at most); where it is and what it is. `None` at
/// a conditional jump, a return, or an instruction not decoded.
fn run(seg: &Segment<'_>, mut i: usize, regs: &mut Regs, follow: bool) -> Option<(usize, Insn)> {
    let mut jumps = 0;
    for _ in 0..24 {
        let (insn, len) = decode(seg, i)?;
        match insn {
            Insn::Set(reg, value) => regs[usize::from(reg)] = value,
            Insn::Copy(to, from) => regs[usize::from(to)] = regs[usize::from(from)],
            Insn::Neutral => {}
            Insn::Branch => return None,
            Insn::Jump(target) if follow && jumps < 2 && seg.contains(target) => {
                jumps += 1;
                i = (target - seg.addr) as usize;
                continue;
            }
            Insn::Call(_) | Insn::Jump(_) => return Some((i, insn)),
        }
        i += len;
    }
    None
}

/// Decode the instruction at `i` if it is one of the [`Insn`] kinds; its length too.
fn decode(seg: &Segment<'_>, i: usize) -> Option<(Insn, usize)> {
    let b = seg.bytes;
    if b.get(i..i + 4) == Some(&[0xF3, 0x0F, 0x1E, 0xFA]) {
        return Some((Insn::Neutral, 4)); // endbr64
    }
    if b.get(i) == Some(&0x64) {
        // fs: (the stack protector's `mov rax, fs:0x28`)
        let (insn, len) = decode(seg, i + 1)?;
        return matches!(insn, Insn::Set(..) | Insn::Neutral).then_some((insn, len + 1));
    }
    let rex = b.get(i).copied().filter(|&x| (0x40..=0x4F).contains(&x));
    let (w, r, x_b) = rex.map_or((false, 0, 0), |x| (x & 8 != 0, (x >> 2) & 1, x & 1));
    let p = i + usize::from(rex.is_some());
    let op = *b.get(p)?;
    let modrm = b.get(p + 1).copied();
    let reg_field = |m: u8| ((m >> 3) & 7) | (r << 3);
    let rm_field = |m: u8| (m & 7) | (x_b << 3);
    let register_form = modrm.is_some_and(|m| m >> 6 == 3);
    // length of an instruction `op modrm [sib] [disp] [imm]`
    let with_modrm = |imm: usize| Some(p - i + 1 + modrm_len(b, p + 1)? + imm);
    let pc = |len: usize| seg.addr + (i + len) as u64;
    let insn = match op {
        0x50..=0x57 => (Insn::Neutral, p - i + 1), // push
        0xB8..=0xBF if w => (Insn::Set((op - 0xB8) | (x_b << 3), Value::Const(read_u64(b, p + 1)?)), p - i + 9),
        0xB8..=0xBF => (Insn::Set((op - 0xB8) | (x_b << 3), Value::Const(u64::from(read_u32(b, p + 1)?))), p - i + 5),
        // xor/sub of a register with itself is 0; other arithmetic between registers unknown
        0x01 | 0x03 | 0x09 | 0x0B | 0x21 | 0x23 | 0x29 | 0x2B | 0x31 | 0x33 if register_form => {
            let m = modrm?;
            let to_rm = op & 2 == 0;
            let (dest, src) = if to_rm { (rm_field(m), reg_field(m)) } else { (reg_field(m), rm_field(m)) };
            let zero = matches!(op, 0x29 | 0x2B | 0x31 | 0x33) && dest == src;
            (Insn::Set(dest, if zero { Value::Const(0) } else { Value::Unknown }), p - i + 2)
        }
        0x89 | 0x8B if register_form => {
            let m = modrm?;
            let (dest, src) = if op == 0x89 { (rm_field(m), reg_field(m)) } else { (reg_field(m), rm_field(m)) };
            // a 32-bit move truncates: its value is not the source's
            (if w { Insn::Copy(dest, src) } else { Insn::Set(dest, Value::Unknown) }, p - i + 2)
        }
        0x89 => (Insn::Neutral, with_modrm(0)?), // store
        // load, movsxd
        0x8B | 0x63 => (Insn::Set(reg_field(modrm?), Value::Unknown), with_modrm(0)?),
        0x8D if w && modrm? & 0xC7 == 0x05 => {
            let disp = read_i32(b, p + 2)?;
            (Insn::Set(reg_field(modrm?), Value::Const(pc(p - i + 6).wrapping_add_signed(i64::from(disp)))), p - i + 6)
        }
        0x8D => (Insn::Set(reg_field(modrm?), Value::Unknown), with_modrm(0)?),
        0x84 | 0x85 | 0x38 | 0x39 | 0x3A | 0x3B => (Insn::Neutral, with_modrm(0)?), // test, cmp
        // group 1 with an immediate: /7 is cmp; a register destination gets an unknown value
        0x81 | 0x83 => {
            let m = modrm?;
            let imm = if op == 0x81 { 4 } else { 1 };
            let insn = if (m >> 3) & 7 == 7 || !register_form {
                Insn::Neutral
            } else {
                Insn::Set(rm_field(m), Value::Unknown)
            };
            (insn, with_modrm(imm)?)
        }
        // mov r/m, imm32 (sign-extended with REX.W)
        0xC7 if modrm? & 0x38 == 0 => {
            if register_form {
                let imm = read_i32(b, p + 2)?;
                let value = if w { imm as i64 as u64 } else { u64::from(imm as u32) };
                (Insn::Set(rm_field(modrm?), Value::Const(value)), p - i + 6)
            } else {
                (Insn::Neutral, with_modrm(4)?)
            }
        }
        0x70..=0x7F if rex.is_none() => (Insn::Branch, 2),
        0x0F if rex.is_none() && b.get(p + 1).is_some_and(|&x| (0x80..=0x8F).contains(&x)) => (Insn::Branch, 6),
        0xEB if rex.is_none() => (Insn::Jump(pc(2).wrapping_add_signed(i64::from(*b.get(p + 1)? as i8))), 2),
        0xE8 if rex.is_none() => (Insn::Call(pc(5).wrapping_add_signed(i64::from(read_i32(b, p + 1)?))), 5),
        0xE9 if rex.is_none() => (Insn::Jump(pc(5).wrapping_add_signed(i64::from(read_i32(b, p + 1)?))), 5),
        _ => return None,
    };
    Some(insn)
}

/// Length of the ModRM byte at `at` with its SIB byte and displacement.
fn modrm_len(b: &[u8], at: usize) -> Option<usize> {
    let m = *b.get(at)?;
    let (md, rm) = (m >> 6, m & 7);
    if md == 3 {
        return Some(1);
    }
    let sib = rm == 4;
    let base = if sib { *b.get(at + 1)? & 7 } else { rm };
    let disp = match md {
        0 if base == 5 => 4, // rip + disp32, or no base
        0 => 0,
        1 => 1,
        _ => 4,
    };
    Some(1 + usize::from(sib) + disp)
}

/// `.eh_frame_hdr`'s binary-search table: (function start, its FDE), sorted by start. Only the
/// encodings that GNU ld, gold and lld write (`DW_EH_PE_datarel | sdata4` entries).
fn unwind_table(segments: &[Segment<'_>], hdr: u64) -> Option<Vec<(u64, u64)>> {
    let b = bytes_at(segments, hdr)?;
    let (version, ptr_enc, count_enc, table_enc) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?);
    if version != 1 || table_enc != 0x3B {
        return None;
    }
    let ptr_len = encoded_len(ptr_enc)?;
    let count = match count_enc {
        0x03 | 0x0B => u64::from(read_u32(b, 4 + ptr_len)?),
        0x04 | 0x0C => read_u64(b, 4 + ptr_len)?,
        _ => return None,
    };
    let table = 4 + ptr_len + encoded_len(count_enc)?;
    let count = usize::try_from(count).ok().filter(|&n| n <= (b.len().saturating_sub(table)) / 8)?;
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let at = table + n * 8;
        let start = hdr.wrapping_add_signed(i64::from(read_i32(b, at)?));
        let fde = hdr.wrapping_add_signed(i64::from(read_i32(b, at + 4)?));
        out.push((start, fde));
    }
    out.sort_unstable();
    Some(out)
}

/// Size of a pointer in DWARF exception-header encoding `enc`.
fn encoded_len(enc: u8) -> Option<usize> {
    match enc & 0x0F {
        0x03 | 0x0B => Some(4),
        0x04 | 0x0C | 0x00 => Some(8),
        0x02 | 0x0A => Some(2),
        _ => None,
    }
}

/// Whether the FDE at `fde` describes code entered by a call: its instructions change nothing
/// before the first advance, so the frame at its start is the CIE's (a return address just
/// pushed). A part split off a function (`.cold`) starts inside its parent's frame and says so
/// at once. Only what compilers write is read: CIE version 1 or 3 with a `z…` augmentation.
fn begins_with_callers_frame(segments: &[Segment<'_>], fde: u64) -> bool {
    fde_instructions(segments, fde).is_some_and(|ins| {
        // DW_CFA_nop (0) may pad; an advance (0x40 | delta, advance_loc1/2/4) or the end is fine
        ins.iter().find(|&&op| op != 0).is_none_or(|&op| op & 0xC0 == 0x40 || (0x02..=0x04).contains(&op))
    })
}

/// The call frame instructions of the FDE at `fde`.
fn fde_instructions<'a>(segments: &[Segment<'a>], fde: u64) -> Option<&'a [u8]> {
    let b = bytes_at(segments, fde)?;
    let len = usize::try_from(read_u32(b, 0)?).ok().filter(|&l| l != 0 && l != 0xFFFF_FFFF)?;
    let body = b.get(4..4 + len)?;
    let cie_pointer = read_u32(body, 0)?;
    if cie_pointer == 0 {
        return None; // a CIE, not an FDE
    }
    let fde_enc = cie_fde_encoding(segments, (fde + 4).checked_sub(u64::from(cie_pointer))?)?;
    let ptr = encoded_len(fde_enc)?;
    let mut at = 4 + 2 * ptr; // CIE pointer, pc_begin, pc_range
    let (aug_len, n) = uleb(body.get(at..)?)?;
    at += n + usize::try_from(aug_len).ok()?;
    body.get(at..)
}

/// The pointer encoding (augmentation `R`) of the CIE at `cie`.
fn cie_fde_encoding(segments: &[Segment<'_>], cie: u64) -> Option<u8> {
    let b = bytes_at(segments, cie)?;
    let len = usize::try_from(read_u32(b, 0)?).ok().filter(|&l| l != 0xFFFF_FFFF)?;
    let body = b.get(4..4 + len)?;
    if read_u32(body, 0)? != 0 || !matches!(body.get(4)?, 1 | 3) {
        return None;
    }
    let aug_end = 5 + memchr::memchr(0, body.get(5..)?)?;
    let aug = &body[5..aug_end];
    if aug.first() != Some(&b'z') {
        return None;
    }
    let mut at = aug_end + 1;
    at += uleb(body.get(at..)?)?.1; // code alignment
    at += uleb(body.get(at..)?)?.1; // data alignment (sleb: same length)
    at += if body[4] == 1 { 1 } else { uleb(body.get(at..)?)?.1 }; // return address register
    at += uleb(body.get(at..)?)?.1; // augmentation data length
    let mut encoding = 0x00; // DW_EH_PE_absptr
    for &c in &aug[1..] {
        match c {
            b'R' => {
                encoding = *body.get(at)?;
                at += 1;
            }
            b'L' => at += 1,
            b'P' => {
                let enc = *body.get(at)?;
                at += 1 + encoded_len(enc)?;
            }
            b'S' | b'B' | b'G' => {}
            _ => return None,
        }
    }
    Some(encoding)
}

/// An unsigned LEB128 number and its length.
fn uleb(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (n, &byte) in b.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7F) << (7 * n);
        if byte & 0x80 == 0 {
            return Some((value, n + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`rel32_into`] finds exactly what reading every position would: calls to targets near
    /// and far (over several 64 KiB stretches, either side, across stretch boundaries), amid
    /// runs of `00` and `FF` bytes where the byte pairs it searches for overlap.
    #[test]
    fn rel32_into_finds_what_a_full_scan_finds() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let addr = 0x40_0000u64;
        let mut bytes: Vec<u8> = (0..600_000).map(|_| next() as u8).collect();
        for run in [(1000, 0x00), (131_000, 0xFF), (65_530, 0x00), (300_000, 0xFF)] {
            bytes[run.0..run.0 + 400].fill(run.1);
        }
        let targets: BTreeSet<u64> = [addr + 70_000, addr + 70_016, addr + 420_000, addr + 5_000_000].into();
        // plant calls at stretch edges and at random, towards each target
        let mut planted = vec![65_531usize, 65_536, 131_067, 131_072, 0, 599_995, 1002, 131_100];
        planted.extend((0..200).map(|_| (next() % 599_990) as usize));
        for (k, &at) in planted.iter().enumerate() {
            let target = *targets.iter().nth(k % targets.len()).unwrap();
            let rel = (target as i64 - (addr + at as u64 + 5) as i64) as i32;
            bytes[at] = 0xE8;
            bytes[at + 1..at + 5].copy_from_slice(&rel.to_le_bytes());
        }
        let seg = Segment { addr, bytes: &bytes };
        let full: Vec<usize> = (0..bytes.len() - 4)
            .filter(|&at| {
                let rel = i32::from_le_bytes(bytes[at + 1..at + 5].try_into().unwrap());
                targets.contains(&(addr + at as u64 + 5).wrapping_add_signed(i64::from(rel)))
            })
            .collect();
        let found = rel32_into(&seg, 1, 5, &targets);
        assert!(full.len() >= 100, "{}", full.len());
        assert_eq!(found, full);
        assert!(rel32_into(&seg, 1, 5, &[addr + (1 << 40)].into()).is_empty(), "out of rel32 reach");
    }

    const BASE: u64 = 0x40_1000;
    const RODATA: u64 = 0x20_0000;
    const UNINIT: u32 = SSL_R_UNINITIALIZED;
    const SHUT_IN_INIT: u32 = SSL_R_SHUTDOWN_WHILE_IN_INIT;
    const PROTOCOL_IS_SHUTDOWN: u32 = 207;
    /// `ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED` with its common-reason flags, as compiled.
    const SHOULD_NOT: u32 = 0xC_0101;

    /// Read-only data: the source name and the `__func__` strings.
    struct Rodata {
        bytes: Vec<u8>,
    }

    impl Rodata {
        fn new() -> Self {
            Rodata { bytes: b"\0".to_vec() }
        }
        fn string(&mut self, s: &str) -> u64 {
            let addr = RODATA + self.bytes.len() as u64;
            self.bytes.extend_from_slice(s.as_bytes());
            self.bytes.push(0);
            addr
        }
    }

    /// The three calls of `ERR_raise` and the strings its sites load.
    #[derive(Clone, Copy)]
    struct Err {
        new: u64,
        debug: u64,
        error: u64,
        file: u64,
    }

    /// A tiny x86-64 assembler: enough to lay out functions the way gcc and clang do.
    #[derive(Default)]
    struct Asm {
        bytes: Vec<u8>,
        starts: Vec<u64>,
        line: u32,
    }

    impl Asm {
        fn here(&self) -> u64 {
            BASE + self.bytes.len() as u64
        }
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(b);
            self
        }
        /// Pad with int3 to 16 bytes and start a function there.
        fn function(&mut self) -> u64 {
            while self.here() % 16 != 0 {
                self.bytes.push(0xCC);
            }
            self.starts.push(self.here());
            self.here()
        }
        fn rex(&mut self, w: bool, reg: u8, rm: u8) -> &mut Self {
            let rex = 0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | (rm >> 3);
            if rex != 0x40 {
                self.bytes.push(rex);
            }
            self
        }
        /// `lea reg, [rip + target]`
        fn lea(&mut self, reg: u8, target: u64) -> &mut Self {
            self.rex(true, reg, 0).raw(&[0x8D, ((reg & 7) << 3) | 5]);
            let disp = target as i64 - (self.here() as i64 + 4);
            self.raw(&(disp as i32).to_le_bytes())
        }
        /// `mov r32, imm32`
        fn mov_imm(&mut self, reg: u8, imm: u32) -> &mut Self {
            self.rex(false, 0, reg).raw(&[0xB8 + (reg & 7)]).raw(&imm.to_le_bytes())
        }
        /// `mov dst, src` (64-bit)
        fn mov(&mut self, dst: u8, src: u8) -> &mut Self {
            self.rex(true, src, dst).raw(&[0x89, 0xC0 | ((src & 7) << 3) | (dst & 7)])
        }
        /// `xor r32, r32`
        fn zero(&mut self, reg: u8) -> &mut Self {
            self.rex(false, reg, reg).raw(&[0x31, 0xC0 | ((reg & 7) << 3) | (reg & 7)])
        }
        fn call(&mut self, target: u64) -> &mut Self {
            let rel = target as i64 - (self.here() as i64 + 5);
            self.raw(&[0xE8]).raw(&(rel as i32).to_le_bytes())
        }
        fn jmp(&mut self, target: u64) -> &mut Self {
            let rel = target as i64 - (self.here() as i64 + 5);
            self.raw(&[0xE9]).raw(&(rel as i32).to_le_bytes())
        }
        fn ret(&mut self) -> &mut Self {
            self.raw(&[0xC3])
        }
        fn push_rbp(&mut self) -> &mut Self {
            self.raw(&[0x55, 0x48, 0x89, 0xE5]) // push rbp; mov rbp, rsp
        }
        /// `ERR_raise(ERR_LIB_SSL, reason)` in `func` as clang emits it: the file first.
        fn clang_site(&mut self, e: Err, func: u64, reason: u32) -> &mut Self {
            self.line += 7;
            let line = self.line;
            self.call(e.new).lea(RDI, e.file).lea(RDX, func).mov_imm(RSI, line).call(e.debug);
            self.mov_imm(RDI, 20).mov_imm(RSI, reason).zero(RDX).zero(0).call(e.error)
        }
        /// ... as gcc emits it: the file last, and `ERR_set_error`'s arguments in another order.
        fn gcc_site(&mut self, e: Err, func: u64, reason: u32) -> &mut Self {
            self.line += 7;
            let line = self.line;
            self.call(e.new).lea(RDX, func).mov_imm(RSI, line).lea(RDI, e.file).call(e.debug);
            self.zero(0).zero(RDX).mov_imm(RSI, reason).mov_imm(RDI, 20).call(e.error)
        }
        fn code(&self) -> Segment<'_> {
            Segment { addr: BASE, bytes: &self.bytes }
        }
    }

    /// `ERR_new`, `ERR_set_debug`, `ERR_set_error` and the source name.
    fn err_functions(a: &mut Asm, ro: &mut Rodata, path: &str) -> Err {
        let file = ro.string(path);
        let new = a.function();
        a.ret();
        let debug = a.function();
        a.ret();
        let error = a.function();
        a.ret();
        Err { new, debug, error, file }
    }

    fn find_with(a: &Asm, ro: &Rodata, file: u64, is_entry: impl Fn(u64) -> bool) -> Result<Found, Miss> {
        let segments = [a.code(), Segment { addr: RODATA, bytes: &ro.bytes }];
        find_in(
            &Image { code: &segments[..1], segments: &segments, names: &[file], starts: &a.starts, absolute: true },
            is_entry,
        )
    }

    /// `ssl_lib.c` of OpenSSL 3.0 as Debian's gcc compiles it (3.0.19): `ssl_write_internal`
    /// takes `(s, buf, num, written)`; `SSL_write_early_data` calls `SSL_write_ex`. With
    /// `unread_reason`, one of `ssl_write_internal`'s sites has its reason in a register.
    /// Also gives `ssl_read_internal` and `ssl_write_internal`.
    fn openssl_3_0(a: &mut Asm, ro: &mut Rodata, unread_reason: bool) -> (Err, Found, [u64; 2]) {
        let e = err_functions(a, ro, "../ssl/ssl_lib.c");
        let read_internal = a.function();
        let name = ro.string("ssl_read_internal");
        a.gcc_site(e, name, UNINIT).ret().gcc_site(e, name, SHOULD_NOT).ret();
        // SSL_read: sub rsp, 0x18; test edx, edx; js error; mov rcx, rsp; movsxd rdx, edx
        let read = a.function();
        a.raw(&[0x48, 0x83, 0xEC, 0x18, 0x85, 0xD2, 0x78, 0x08, 0x48, 0x89, 0xE1, 0x48, 0x63, 0xD2])
            .call(read_internal)
            .ret();
        let name = ro.string("SSL_read");
        a.gcc_site(e, name, SSL_R_BAD_LENGTH).ret();
        // SSL_read_ex: sub rsp, 8; call ssl_read_internal
        let read_ex = a.function();
        a.raw(&[0x48, 0x83, 0xEC, 0x08]).call(read_internal).ret();
        // SSL_peek has the same site shape but another __func__ and internal function
        a.function();
        let name = ro.string("SSL_peek");
        a.raw(&[0x85, 0xD2, 0x78, 0x05]).call(read_internal).ret().gcc_site(e, name, SSL_R_BAD_LENGTH).ret();
        let write_internal = a.function();
        let name = ro.string("ssl_write_internal");
        a.gcc_site(e, name, UNINIT)
            .ret()
            .gcc_site(e, name, PROTOCOL_IS_SHUTDOWN)
            .ret()
            .gcc_site(e, name, SHOULD_NOT)
            .ret();
        if unread_reason {
            // ... mov edi, 20; mov esi, ebx; call ERR_set_error
            a.call(e.new)
                .lea(RDX, name)
                .mov_imm(RSI, 1)
                .lea(RDI, e.file)
                .call(e.debug)
                .mov_imm(RDI, 20)
                .raw(&[0x89, 0xDE]);
            a.call(e.error).ret();
        }
        let write = a.function();
        a.raw(&[0x48, 0x83, 0xEC, 0x18, 0x85, 0xD2, 0x78, 0x08, 0x48, 0x89, 0xE1, 0x48, 0x63, 0xD2])
            .call(write_internal)
            .ret();
        let name = ro.string("SSL_write");
        a.gcc_site(e, name, SSL_R_BAD_LENGTH).ret();
        let write_ex = a.function();
        a.raw(&[0x48, 0x83, 0xEC, 0x08]).call(write_internal).ret();
        // SSL_write_early_data: push rbx; mov rbx, rdi; ... mov rcx, rsp; call SSL_write_ex
        a.function();
        a.raw(&[0x53]).mov(3, RDI).raw(&[0x48, 0x89, 0xE1]).call(write_ex).ret();
        let shutdown = a.function();
        let name = ro.string("SSL_shutdown");
        a.gcc_site(e, name, UNINIT).ret().gcc_site(e, name, SHUT_IN_INIT).ret();
        let found = Found {
            write: Some(write),
            read: Some(read),
            write_ex: Some(write_ex),
            read_ex: Some(read_ex),
            shutdown: Some(shutdown),
        };
        (e, found, [read_internal, write_internal])
    }

    /// `ssl_lib.c` of OpenSSL 3.5 as clang compiles it for Copilot's `runtime.node` (3.5.8):
    /// `ssl_write_internal(s, buf, num, flags, written)`, `SSL_write_ex2` inlined into
    /// `SSL_write_ex` unless `inline_ex2` is false, sites sharing their calls.
    fn openssl_3_5(a: &mut Asm, ro: &mut Rodata, inline_ex2: bool) -> (Err, Found) {
        let e = err_functions(a, ro, "external/openssl+/ssl/ssl_lib.c");
        let read_internal = a.function();
        let name = ro.string("ssl_read_internal");
        a.clang_site(e, name, UNINIT).ret();
        // the second site jumps to the first's `xor edx, edx; xor eax, eax; call ERR_set_error`
        let shared_tail = a.here() - 1 - 9;
        a.call(e.new).lea(RDI, e.file).lea(RDX, name).mov_imm(RSI, 99).call(e.debug);
        a.mov_imm(RDI, 20).mov_imm(RSI, SHOULD_NOT).jmp(shared_tail);
        let read = a.function();
        a.push_rbp().raw(&[0x85, 0xD2, 0x78, 0x0B]).raw(&[0x48, 0x8D, 0x4D, 0xF8]).call(read_internal).ret();
        let name = ro.string("SSL_read");
        a.clang_site(e, name, SSL_R_BAD_LENGTH).ret();
        let read_ex = a.function();
        a.push_rbp().call(read_internal).ret();
        // SSL_read_early_data with SSL_read_ex inlined: test rdi, rdi; je ...
        a.function();
        a.push_rbp().raw(&[0x48, 0x85, 0xFF, 0x74, 0x05]).call(read_internal).ret();
        let write_internal = a.function();
        let name = ro.string("ssl_write_internal");
        for reason in [UNINIT, PROTOCOL_IS_SHUTDOWN, SSL_R_UNSUPPORTED_WRITE_FLAG, SHOULD_NOT] {
            a.clang_site(e, name, reason).ret();
        }
        // SSL_write: lea r8, [rbp-8]; xor ecx, ecx; call ssl_write_internal
        let write = a.function();
        a.push_rbp().raw(&[0x85, 0xD2, 0x78, 0x0B]).raw(&[0x4C, 0x8D, 0x45, 0xF8]).zero(RCX).call(write_internal).ret();
        let name = ro.string("SSL_write");
        a.clang_site(e, name, SSL_R_BAD_LENGTH).ret();
        let write_ex2 = a.function();
        a.push_rbp().call(write_internal).ret();
        // SSL_write_ex: push rbx; push rax; mov r8, rcx; xor ebx, ebx; xor ecx, ecx; then
        // SSL_write_ex2's body, or a jump to it
        let write_ex = a.function();
        a.push_rbp().raw(&[0x53, 0x50]).mov(R8, RCX).zero(3).zero(RCX);
        if inline_ex2 {
            a.call(write_internal).ret();
        } else {
            a.jmp(write_ex2);
        }
        // SSL_write_early_data: test rdi, rdi; je ...; xor ecx, ecx; mov r8, r14; call
        a.function();
        a.push_rbp().raw(&[0x48, 0x85, 0xFF, 0x74, 0x05]).zero(RCX).mov(R8, 14).call(write_internal).ret();
        // SSL_shutdown: the second site jumps to the first's call of ERR_set_debug
        let shutdown = a.function();
        let name = ro.string("SSL_shutdown");
        a.clang_site(e, name, UNINIT).ret();
        let shared_debug = a.here() - 1 - 24;
        a.call(e.new).lea(RDI, e.file).lea(RDX, name).mov_imm(RSI, 7).jmp(shared_debug);
        let found = Found {
            write: Some(write),
            read: Some(read),
            write_ex: Some(write_ex),
            read_ex: Some(read_ex),
            shutdown: Some(shutdown),
        };
        (e, found)
    }

    #[test]
    fn finds_all_five_in_openssl_3_0_compiled_by_gcc() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let (e, want, _) = openssl_3_0(&mut a, &mut ro, false);
        assert_eq!(find_with(&a, &ro, e.file, |_| true), Ok(want));
    }

    /// `ssl_lib.c` of OpenSSL 3.5 as gcc 12 compiles it for Node (the Copilot CLI's own
    /// executable, 3.5.7): the internal functions inlined into the public ones, flags folded
    /// into `SSL_write_ex`, out-of-line copies kept for the other callers.
    #[test]
    fn an_ex_function_with_the_internal_function_inlined_is_its_own_core() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let e = err_functions(&mut a, &mut ro, "../deps/openssl/openssl/ssl/ssl_lib.c");
        let (ri, wi) = (ro.string("ssl_read_internal"), ro.string("ssl_write_internal"));
        let (read_name, write_name) = (ro.string("SSL_read"), ro.string("SSL_write"));
        // SSL_read with ssl_read_internal inside, and SSL_read_ex
        let read = a.function();
        a.gcc_site(e, read_name, SSL_R_BAD_LENGTH).gcc_site(e, ri, UNINIT).ret();
        let read_ex = a.function();
        a.gcc_site(e, ri, UNINIT).gcc_site(e, ri, SHOULD_NOT).ret();
        // out-of-line ssl_write_internal and SSL_write_ex2, each checking flags
        for _ in 0..2 {
            a.function();
            a.gcc_site(e, wi, UNINIT).gcc_site(e, wi, SSL_R_UNSUPPORTED_WRITE_FLAG).ret();
        }
        let write = a.function();
        a.gcc_site(e, write_name, SSL_R_BAD_LENGTH).gcc_site(e, wi, UNINIT).ret();
        let write_ex = a.function();
        a.gcc_site(e, wi, UNINIT).gcc_site(e, wi, PROTOCOL_IS_SHUTDOWN).ret();
        let want = Found {
            write: Some(write),
            read: Some(read),
            write_ex: Some(write_ex),
            read_ex: Some(read_ex),
            shutdown: None,
        };
        assert_eq!(find_with(&a, &ro, e.file, |_| true), Ok(want));
        // an out-of-line ssl_read_internal besides: two cores, no telling which is SSL_read_ex
        a.function();
        a.gcc_site(e, ri, SHOULD_NOT).ret();
        assert_eq!(find_with(&a, &ro, e.file, |_| true), Ok(Found { read_ex: None, ..want }));
    }

    #[test]
    fn ssl_write_ex_is_told_from_ssl_write_ex2_once_writes_take_flags() {
        for inline_ex2 in [true, false] {
            let (mut a, mut ro) = (Asm::default(), Rodata::new());
            let (e, want) = openssl_3_5(&mut a, &mut ro, inline_ex2);
            assert_eq!(find_with(&a, &ro, e.file, |_| true), Ok(want), "SSL_write_ex2 inlined: {inline_ex2}");
        }
    }

    #[test]
    fn ssl_write_ex_is_not_given_when_the_write_signature_is_unknown() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let (e, want, _) = openssl_3_0(&mut a, &mut ro, true);
        let found = find_with(&a, &ro, e.file, |_| true).expect("found");
        assert_eq!(found, Found { write_ex: None, ..want });
    }

    #[test]
    fn doubt_is_a_miss() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let e = err_functions(&mut a, &mut ro, "ssl/ssl_lib.c");
        assert_eq!(find_with(&a, &ro, e.file, |_| true), Err(Miss::NoErrorSites));

        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let (e, want, [read_internal, write_internal]) = openssl_3_0(&mut a, &mut ro, false);
        // SSL_read's site in a part split off a function, which calls do not enter
        let found = find_with(&a, &ro, e.file, |f| Some(f) != want.read);
        assert_eq!(found, Ok(Found { read: None, ..want }));
        // a second function with SSL_write's site
        a.function();
        let name = ro.string("SSL_write");
        a.gcc_site(e, name, SSL_R_BAD_LENGTH).ret();
        assert_eq!(
            find_with(&a, &ro, e.file, |_| true),
            Ok(Found { write: None, ..want }),
            "SSL_write_ex does not need it"
        );
        // SSL_write_ex is not an entry: ssl_write_internal, with its signature, stands for it
        let found = find_with(&a, &ro, e.file, |f| Some(f) != want.write_ex);
        assert_eq!(found, Ok(Found { write: None, write_ex: Some(write_internal), ..want }));
        // neither is it: nothing that writes
        let found = find_with(&a, &ro, e.file, |f| Some(f) != want.write_ex && f != write_internal);
        assert_eq!(found, Err(Miss::Write));
        // a second caller that passes its arguments through to ssl_read_internal: which one is
        // SSL_read_ex cannot be told, but both go through ssl_read_internal, which is probed
        a.function();
        a.raw(&[0x48, 0x83, 0xEC, 0x08]).call(read_internal).ret();
        let found = find_with(&a, &ro, e.file, |_| true);
        assert_eq!(found, Ok(Found { write: None, read_ex: Some(read_internal), ..want }));
    }

    #[test]
    fn error_sites_in_each_compilers_order_name_their_function_and_reason() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let e = err_functions(&mut a, &mut ro, "/build/openssl/ssl/ssl_lib.c");
        let f = ro.string("SSL_write");
        let clang = a.here() + 5;
        a.clang_site(e, f, 271);
        let gcc = a.here() + 5 + 7 + 5;
        a.gcc_site(e, f, 276);
        // the file passed to CRYPTO_free(ptr, file, line): second argument, no function name
        a.lea(RSI, e.file).mov_imm(RDX, 12).call(e.debug);
        // a __func__ that is not an identifier
        let odd = ro.string("not a name");
        a.call(e.new).lea(RDI, e.file).lea(RDX, odd).mov_imm(RSI, 3).call(e.debug);
        // not SSL's library: the site counts, its reason is not read
        let other = a.here() + 5;
        a.call(e.new)
            .lea(RDI, e.file)
            .lea(RDX, f)
            .mov_imm(RSI, 3)
            .call(e.debug)
            .mov_imm(RDI, 6)
            .mov_imm(RSI, 5)
            .call(e.error);
        let segments = [a.code(), Segment { addr: RODATA, bytes: &ro.bytes }];
        let image =
            Image { code: &segments[..1], segments: &segments, names: &[e.file], starts: &a.starts, absolute: true };
        let site = |addr, reason| Site { addr, func: "SSL_write".into(), reason };
        assert_eq!(error_sites(&image), vec![site(clang, Some(271)), site(gcc, Some(276)), site(other, None)]);
    }

    #[test]
    fn source_names_are_whole_strings() {
        let rodata = b"\0other\0external/openssl+/ssl/ssl_lib.c\0ssl/ssl_lib.cc\0../ssl/ssl_lib.c\0".to_vec();
        let seg = Segment { addr: 0x1000, bytes: &rodata };
        assert_eq!(source_names(&seg), vec![0x1007, 0x1036]);
        assert!(has_source_name(&rodata));
        assert!(!has_source_name(b"../vendor/boringssl/ssl/ssl_lib.cc\0"));
    }

    /// `.eh_frame_hdr` followed by `.eh_frame` at `hdr`: one CIE (`zR`, pc-relative pointers)
    /// and an FDE per function, which begins with the caller's frame unless it is a `.cold` part.
    fn eh_frame(hdr: u64, functions: &[(u64, bool)]) -> Vec<u8> {
        let n = functions.len();
        let eh = hdr + 12 + 8 * n as u64;
        let cie_len = 24u64;
        let fde = |k: usize| eh + cie_len + 20 * k as u64;
        let mut out = vec![1, 0x1B, 0x03, 0x3B];
        out.extend_from_slice(&((eh as i64 - (hdr as i64 + 4)) as i32).to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for (k, &(start, _)) in functions.iter().enumerate() {
            out.extend_from_slice(&((start as i64 - hdr as i64) as i32).to_le_bytes());
            out.extend_from_slice(&((fde(k) as i64 - hdr as i64) as i32).to_le_bytes());
        }
        // CIE: id 0, version 1, "zR", code 1, data -8, ra 16, R = pcrel|sdata4; cfa = rsp+8
        out.extend_from_slice(&20u32.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 1, b'z', b'R', 0, 1, 0x78, 16, 1, 0x1B, 0x0C, 7, 8, 0x90, 1, 0, 0]);
        for (k, &(start, cold)) in functions.iter().enumerate() {
            let at = fde(k);
            out.extend_from_slice(&16u32.to_le_bytes());
            out.extend_from_slice(&((at + 4 - eh) as u32).to_le_bytes());
            out.extend_from_slice(&((start as i64 - (at as i64 + 8)) as i32).to_le_bytes());
            out.extend_from_slice(&16u32.to_le_bytes());
            // no augmentation data; then `push rbp` (advance 1, cfa offset 16), or a cold
            // part's frame
            out.extend_from_slice(if cold { &[0, 0x0E, 0x30, 0] } else { &[0, 0x41, 0x0E, 0x10] });
        }
        out
    }

    #[test]
    fn function_starts_and_entries_come_from_the_unwind_table() {
        let hdr = 0x30_0000;
        let bytes = eh_frame(hdr, &[(0x40_2000, false), (0x40_1000, false), (0x40_1800, true)]);
        let segments = [Segment { addr: hdr, bytes: &bytes }];
        let table = unwind_table(&segments, hdr).expect("table");
        assert_eq!(table.iter().map(|&(s, _)| s).collect::<Vec<_>>(), vec![0x40_1000, 0x40_1800, 0x40_2000]);
        let entries: Vec<bool> = table.iter().map(|&(_, fde)| begins_with_callers_frame(&segments, fde)).collect();
        assert_eq!(entries, vec![true, false, true]);
        let mut wrong = bytes.clone();
        wrong[3] = 0x1B; // table entries pc-relative: not what linkers write
        assert_eq!(unwind_table(&[Segment { addr: hdr, bytes: &wrong }], hdr), None);
    }

    /// A minimal x86-64 ELF shared object: a read-only segment with `rodata` and the unwind
    /// tables at `hdr`, an executable one with `code` at [`BASE`], each page-aligned in the file
    /// (code at offset 0x3000).
    fn elf(rodata: &[u8], hdr: u64, unwind: &[u8], code: &[u8]) -> Vec<u8> {
        let mut ro = rodata.to_vec();
        ro.resize((hdr - RODATA) as usize, 0);
        ro.extend_from_slice(unwind);
        let mut f = vec![0u8; 0x1000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1;
        f[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&3u16.to_le_bytes()); // e_phnum
        let mut ph = |n: usize, kind: u32, flags: u32, offset: u64, addr: u64, size: u64| {
            let p = 64 + n * 56;
            f[p..p + 4].copy_from_slice(&kind.to_le_bytes());
            f[p + 4..p + 8].copy_from_slice(&flags.to_le_bytes());
            for (i, v) in [offset, addr, addr, size, size, 0x1000].iter().enumerate() {
                f[p + 8 + i * 8..p + 16 + i * 8].copy_from_slice(&v.to_le_bytes());
            }
        };
        ph(0, 1, 4, 0x1000, RODATA, ro.len() as u64);
        ph(1, 1, 5, 0x3000, BASE, code.len() as u64);
        ph(2, 0x6474_E550, 4, 0x1000 + (hdr - RODATA), hdr, unwind.len() as u64); // PT_GNU_EH_FRAME
        f.extend_from_slice(&ro);
        assert!(f.len() <= 0x3000);
        f.resize(0x3000, 0);
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn find_gives_file_offsets_of_function_entries() {
        let (mut a, mut ro) = (Asm::default(), Rodata::new());
        let (_, want) = openssl_3_5(&mut a, &mut ro, true);
        let hdr = RODATA + 0x800;
        let unwind = eh_frame(hdr, &a.starts.iter().map(|&s| (s, false)).collect::<Vec<_>>());
        let file = elf(&ro.bytes, hdr, &unwind, &a.bytes);
        let offset = |addr: Option<u64>| addr.map(|a| a - BASE + 0x3000);
        let found = find(&file).expect("found");
        assert_eq!(
            found,
            Functions {
                write: offset(want.write),
                read: offset(want.read),
                write_ex: offset(want.write_ex),
                read_ex: offset(want.read_ex),
                shutdown: offset(want.shutdown),
            }
        );
        // SSL_read's FDE says it is a cold part: SSL_read_ex is still there for reads
        let unwind = eh_frame(hdr, &a.starts.iter().map(|&s| (s, Some(s) == want.read)).collect::<Vec<_>>());
        let found = find(&elf(&ro.bytes, hdr, &unwind, &a.bytes)).expect("found");
        assert_eq!((found.read, found.read_ex), (None, offset(want.read_ex)));
        assert_eq!(find(b"not an elf"), Err(Miss::NotX86Elf));
        assert_eq!(find(&elf(b"\0nothing\0", hdr, &unwind, &a.bytes)), Err(Miss::NoSourceName));
        let mut no_table = unwind.clone();
        no_table[0] = 2;
        assert_eq!(find(&elf(&ro.bytes, hdr, &no_table, &a.bytes)), Err(Miss::NoUnwindTable));
    }

    /// The functions' file offsets in an unstripped file, by its symbol table.
    fn by_symbols(path: &std::path::Path) -> Functions {
        let names = ["SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_shutdown"];
        let got: Vec<Option<u64>> =
            crate::uprobes::symbol_offsets(path, &names).into_iter().map(|o| o.map(|o| o as u64)).collect();
        Functions { write: got[0], read: got[1], write_ex: got[2], read_ex: got[3], shutdown: got[4] }
    }

    /// OpenSSL 3 as the system builds it (Debian's `libssl.a`, gcc), linked into a stripped
    /// shared object that hides its symbols the way Rust's cdylibs do; its unstripped twin
    /// gives the truth. Skipped where there is no C compiler or no static OpenSSL.
    #[test]
    fn finds_the_functions_in_a_stripped_shared_object_with_the_systems_openssl() {
        let lib = std::path::Path::new("/usr/lib/x86_64-linux-gnu");
        let (ssl, crypto) = (lib.join("libssl.a"), lib.join("libcrypto.a"));
        if !ssl.exists() || !crypto.exists() {
            eprintln!("SKIPPED: no static OpenSSL ({}; apt-get install libssl-dev)", ssl.display());
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let source = dir.path().join("fixture.c");
        std::fs::write(
            &source,
            "#include <openssl/ssl.h>\n\
             int fixture_io(SSL *s, char *buf, size_t n) {\n\
                 size_t done = 0;\n\
                 int r = SSL_write(s, buf, (int)n) + SSL_read(s, buf, (int)n);\n\
                 r += SSL_write_ex(s, buf, n, &done) + SSL_read_ex(s, buf, n, &done);\n\
                 SSL_shutdown(s);\n\
                 SSL_free(s);\n\
                 return r;\n\
             }\n",
        )
        .expect("write the fixture");
        let link = |out: &std::path::Path, strip: bool| {
            let mut cc = std::process::Command::new("cc");
            cc.args(["-O2", "-shared", "-fPIC", "-o"])
                .arg(out)
                .arg(&source)
                .arg("-Wl,--exclude-libs,ALL")
                .arg(&ssl)
                .arg(&crypto);
            cc.arg("-lpthread");
            if strip {
                cc.arg("-s");
            }
            cc.status().is_ok_and(|s| s.success())
        };
        let (full, stripped) = (dir.path().join("full.so"), dir.path().join("stripped.so"));
        if !link(&full, false) || !link(&stripped, true) {
            eprintln!("SKIPPED: `cc` could not link a shared object with {}", ssl.display());
            return;
        }
        let truth = by_symbols(&full);
        assert!(truth.write.is_some() && truth.read_ex.is_some(), "{truth:x?}");
        assert_eq!(
            by_symbols(&stripped),
            Functions { write: None, read: None, write_ex: None, read_ex: None, shutdown: None }
        );
        let data = std::fs::read(&stripped).expect("read");
        assert!(has_source_name(&data));
        let started = std::time::Instant::now();
        let found = find(&data);
        eprintln!("{}: {found:x?} in {:?}", stripped.display(), started.elapsed());
        assert_eq!(found, Ok(truth));
    }

    /// Builds that export the API (a shared `libssl`, Node's executable, the Copilot CLI's) give
    /// the truth for free: [`find`] reads no symbols, so whatever it gives must agree with them.
    /// More files: `AGENTSIGHT_OSSL_EXPORTING` (`:`-separated).
    #[test]
    fn never_disagrees_with_the_symbols_of_builds_that_export_them() {
        let mut paths: Vec<std::path::PathBuf> =
            ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/bin/node"]
                .iter()
                .map(Into::into)
                .collect();
        if let Some(more) = std::env::var_os("AGENTSIGHT_OSSL_EXPORTING") {
            paths.extend(std::env::split_paths(&more));
        }
        for path in paths {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let truth = by_symbols(&path);
            if !has_source_name(&data) || truth.write.is_none() {
                eprintln!("SKIPPED: {} (no OpenSSL 3 with its symbols)", path.display());
                continue;
            }
            let started = std::time::Instant::now();
            let found = find(&data);
            eprintln!("{}: {found:x?} in {:?}; symbols {truth:x?}", path.display(), started.elapsed());
            let Ok(found) = found else { continue };
            let pairs = [
                (found.write, truth.write),
                (found.read, truth.read),
                (found.write_ex, truth.write_ex),
                (found.read_ex, truth.read_ex),
                (found.shutdown, truth.shutdown),
            ];
            for (got, want) in pairs {
                assert!(got.is_none() || got == want, "{}: found {found:x?}, symbols {truth:x?}", path.display());
            }
        }
    }

    /// Copilot CLI's addon: `AGENTSIGHT_COPILOT_ADDON`, or where the CLI unpacks it on first run
    /// (`~/.cache/copilot/pkg/linux-x64/<version>/prebuilds/linux-x64/runtime.node`).
    fn copilot_addon() -> Option<std::path::PathBuf> {
        if let Some(path) = std::env::var_os("AGENTSIGHT_COPILOT_ADDON") {
            return Some(path.into());
        }
        let env = |k: &str| std::env::var_os(k).map(std::path::PathBuf::from);
        let caches = [
            env("COPILOT_PKG_CACHE_HOME").map(|p| p.join("pkg")),
            env("COPILOT_CACHE_HOME").map(|p| p.join("pkg")),
            env("XDG_CACHE_HOME").map(|p| p.join("copilot/pkg")),
            env("HOME").map(|p| p.join(".cache/copilot/pkg")),
        ];
        caches.into_iter().flatten().find_map(|pkg| {
            let mut versions: Vec<_> =
                std::fs::read_dir(pkg.join("linux-x64")).ok()?.flatten().map(|e| e.path()).collect();
            versions.sort();
            versions.into_iter().rev().map(|v| v.join("prebuilds/linux-x64/runtime.node")).find(|p| p.exists())
        })
    }

    /// Offsets in Copilot CLI 1.0.102's `runtime.node` (OpenSSL 3.5.8) were checked by
    /// disassembly against `ssl/ssl_lib.c`.
    #[test]
    fn finds_the_functions_in_copilots_runtime_node() {
        let Some(path) = copilot_addon() else {
            eprintln!("SKIPPED: no Copilot CLI addon (AGENTSIGHT_COPILOT_ADDON, or run `copilot` once)");
            return;
        };
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(has_source_name(&data));
        let started = std::time::Instant::now();
        let found = find(&data).expect("found");
        eprintln!("{}: {found:x?} in {:?}", path.display(), started.elapsed());
        let all = [found.write, found.read, found.write_ex, found.read_ex, found.shutdown];
        for offset in all {
            let offset = offset.expect("every function found") as usize;
            // clang's prologue with frame pointers: push rbp; mov rbp, rsp (or endbr64 first)
            let first = &data[offset..offset + 4];
            assert!(first == [0x55, 0x48, 0x89, 0xE5] || first == [0xF3, 0x0F, 0x1E, 0xFA], "{offset:#x}: {first:x?}");
        }
        if memmem::find(&data, b"OpenSSL 3.5.8 25 Aug 2026\0").is_some() && data.len() == 145_190_536 {
            let want = Functions {
                write: Some(0x7fb_d9d0),
                read: Some(0x7fb_d350),
                write_ex: Some(0x7fb_da30),
                read_ex: Some(0x7fb_d3b0),
                shutdown: Some(0x7fb_dc40),
            };
            assert_eq!(found, want);
        }
    }
}
