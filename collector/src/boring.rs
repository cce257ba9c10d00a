//! Where `SSL_write`, `SSL_read` and `SSL_shutdown` are in an executable that links BoringSSL
//! statically and exports none of its symbols: Bun, and every program compiled with it (the
//! `claude` and `opencode` binaries of npm). Bun also strips `.eh_frame`, so there are no
//! function boundaries to read either.
//!
//! The anchor is what no build can compile away. BoringSSL reports a failure with
//! `OPENSSL_PUT_ERROR(SSL, reason)`, a call `ERR_put_error(ERR_LIB_SSL, [0,] reason, __FILE__,
//! __LINE__)`: at each such *error site* the code loads the address of the source-name string
//! `…/ssl/ssl_lib.cc` into one argument register, the reason code into the one before it, the
//! line into the one after, and 16 into the first. Reason codes are BoringSSL's ABI (`SSL_R_*`
//! numbers are never reused), and the argument order is the platform's calling convention
//! (a build may drop the unused `0`, as Bun 1.2 and 1.3 do, which moves the string from the
//! 4th to the 3rd register: both are handled). Nothing depends on how a release happens to be
//! compiled, unlike a byte pattern per version. The functions are told apart by the reasons of
//! their error sites (BoringSSL's `ssl/ssl_lib.cc`, checked against Bun 1.1.0 to 1.4.5 and the
//! `claude` 2.1 binary):
//!
//! | function | its error sites' reasons |
//! |---|---|
//! | `SSL_write` | UNINITIALIZED, SSL_HANDSHAKE_FAILURE, and BAD_LENGTH (PROTOCOL_IS_SHUTDOWN in older releases) |
//! | `ssl_read_impl` (static) | UNINITIALIZED, SSL_HANDSHAKE_FAILURE |
//! | `SSL_shutdown` | UNINITIALIZED, APPLICATION_DATA_ON_SHUTDOWN (it calls `ssl_read_impl`) |
//!
//! `SSL_read` is `SSL_peek` plus consuming what was peeked. When `SSL_shutdown` calls the
//! function with `ssl_read_impl`'s reasons, that is `ssl_read_impl` on its own, and its other
//! caller is `SSL_peek`; otherwise `ssl_read_impl` was inlined and the function is `SSL_peek`
//! itself. Bun's compiler inlines `SSL_peek` into `SSL_read`; when it does not, `SSL_read` is a
//! function that calls `SSL_peek` with its own arguments, untouched. Only one of them is
//! probed, so each read's plaintext arrives exactly once: that caller when it is the only one
//! and passes its arguments through, else `SSL_peek`'s code itself (every `SSL_read` goes
//! through it; BoringSSL's own code never peeks).
//!
//! Function starts: the targets of direct `call rel32` instructions, kept when 16-byte aligned
//! (clang's function alignment) or called from two places (a stray 0xE8 byte inside another
//! instruction rarely points at the same address twice); plus aligned addresses after int3
//! padding (lld fills the gaps between functions with 0xCC). A site belongs to the greatest
//! start at or below it.
//!
//! `SSL_free` has no error site, so it is not found; `SSL_shutdown` stands in for it (the
//! connection is over). Pure: bytes in, file offsets out. x86-64 ELF only. A role matched by
//! no function, or by more than one, is a [`Miss`], never a guess.

use crate::le::{read_i32, read_u32, read_u64};
use std::collections::{BTreeMap, BTreeSet};

use memchr::{memchr_iter, memmem};

/// `ERR_LIB_SSL`.
const LIB_SSL: u64 = 16;
/// Reason codes (BoringSSL `include/openssl/ssl.h`).
const SSL_R_BAD_LENGTH: u32 = 111;
const SSL_R_PROTOCOL_IS_SHUTDOWN: u32 = 194;
const SSL_R_SSL_HANDSHAKE_FAILURE: u32 = 215;
const SSL_R_UNINITIALIZED: u32 = 226;
const SSL_R_APPLICATION_DATA_ON_SHUTDOWN: u32 = 291;

/// The end of `__FILE__` in `ssl_lib.cc`'s error sites; what precedes it is the build's path.
pub(crate) const SOURCE_NAME: &[u8] = b"ssl/ssl_lib.cc\0";

/// System V argument registers in order (x86 register numbers: rdi, rsi, rdx, rcx, r8, r9).
const ARG_REGS: [u8; 6] = [7, 6, 2, 1, 8, 9];

/// File offsets of the functions found, where uprobes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Functions {
    pub write: u64,
    pub read: u64,
    /// Stands in for `SSL_free` (see the module docs).
    pub shutdown: u64,
}

/// Why the functions were not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Not an x86-64 ELF file.
    NotX86Elf,
    /// No `ssl/ssl_lib.cc` string: not BoringSSL.
    NoSourceName,
    /// The string is there but no code reports an error with it.
    NoErrorSites,
    /// No function, or more than one, has `SSL_write`'s error sites.
    Write,
    /// `SSL_read` could not be told apart.
    Read,
}

impl Miss {
    /// For the warning that names the process whose TLS is not captured.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Miss::NotX86Elf => "BoringSSL (statically linked, stripped; not an x86-64 ELF file)",
            Miss::NoSourceName | Miss::NoErrorSites => {
                "BoringSSL (statically linked, stripped; no error sites of `ssl_lib.cc`)"
            }
            Miss::Write => "BoringSSL (statically linked, stripped; `SSL_write` not found)",
            Miss::Read => "BoringSSL (statically linked, stripped; `SSL_read` not found)",
        }
    }
}

/// Whether `data` holds BoringSSL's `ssl_lib.cc` source name (the capture looks for it with
/// the other TLS markers in one pass, `uprobes::Markers`).
#[cfg(test)]
fn has_source_name(data: &[u8]) -> bool {
    memmem::find(data, SOURCE_NAME).is_some()
}

/// Find the functions in an ELF executable.
pub(crate) fn find(data: &[u8]) -> Result<Functions, Miss> {
    use object::{Architecture, Object, ObjectSegment, SegmentFlags};
    let elf = object::File::parse(data).map_err(|_| Miss::NotX86Elf)?;
    if elf.architecture() != Architecture::X86_64 {
        return Err(Miss::NotX86Elf);
    }
    let mut all = Vec::new();
    for seg in elf.segments() {
        let Ok(bytes) = seg.data() else { continue };
        let exec = matches!(seg.flags(), SegmentFlags::Elf { p_flags } if p_flags & object::elf::PF_X != 0);
        all.push((Code { addr: seg.address(), bytes }, seg.file_range().0, exec));
    }
    // string constants are in read-only data, a segment of its own (ld since 2.31, lld)
    let names: Vec<u64> = all.iter().filter(|(_, _, exec)| !exec).flat_map(|(seg, _, _)| source_names(seg)).collect();
    if names.is_empty() {
        return Err(Miss::NoSourceName);
    }
    let code: Vec<Code<'_>> = all.iter().filter(|(_, _, exec)| *exec).map(|(seg, _, _)| *seg).collect();
    let found = find_in(&code, &names)?;
    let offset =
        |addr: u64| all.iter().find(|(seg, _, _)| seg.contains(addr)).map(|(seg, file, _)| addr - seg.addr + file);
    Ok(Functions {
        write: offset(found.write).ok_or(Miss::Write)?,
        read: offset(found.read).ok_or(Miss::Read)?,
        shutdown: offset(found.shutdown).ok_or(Miss::Read)?,
    })
}

/// Bytes loaded at `addr`.
#[derive(Debug, Clone, Copy)]
struct Code<'a> {
    addr: u64,
    bytes: &'a [u8],
}

impl Code<'_> {
    fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr - self.addr < self.bytes.len() as u64
    }
}

/// Addresses (not file offsets) of the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    write: u64,
    read: u64,
    shutdown: u64,
}

/// Addresses of the NUL-terminated strings in `seg` that end in [`SOURCE_NAME`].
fn source_names(seg: &Code<'_>) -> Vec<u64> {
    memmem::find_iter(seg.bytes, SOURCE_NAME)
        .map(|end| {
            // a build path is short; the string starts after the NUL before it
            let lower = end.saturating_sub(512);
            let start = memchr::memrchr(0, &seg.bytes[lower..end]).map_or(lower, |nul| lower + nul + 1);
            seg.addr + start as u64
        })
        .collect()
}

/// The pure core of [`find`]: `code` the executable segments, `names` the source-name strings.
fn find_in(code: &[Code<'_>], names: &[u64]) -> Result<Found, Miss> {
    let calls = Calls::new(code);
    let starts = function_starts(code, &calls);
    let function_of = |addr: u64| starts.partition_point(|&s| s <= addr).checked_sub(1).map(|i| starts[i]);
    // reasons reported by each function
    let mut reasons: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    for (addr, reason) in error_sites(code, names) {
        if let Some(f) = function_of(addr) {
            reasons.entry(f).or_default().insert(reason);
        }
    }
    if reasons.is_empty() {
        return Err(Miss::NoErrorSites);
    }
    let has = |f: u64, r: u32| reasons.get(&f).is_some_and(|set| set.contains(&r));
    let reads_or_writes = |f: u64| has(f, SSL_R_UNINITIALIZED) && has(f, SSL_R_SSL_HANDSHAKE_FAILURE);
    let writes = |f: u64| reads_or_writes(f) && (has(f, SSL_R_BAD_LENGTH) || has(f, SSL_R_PROTOCOL_IS_SHUTDOWN));
    let shuts_down = |f: u64| has(f, SSL_R_APPLICATION_DATA_ON_SHUTDOWN);

    let write = only(reasons.keys().copied().filter(|&f| writes(f))).ok_or(Miss::Write)?;
    let shutdown = only(reasons.keys().copied().filter(|&f| shuts_down(f))).ok_or(Miss::Read)?;
    // ssl_read_impl, or SSL_peek / SSL_read if it was inlined there
    let core = only(reasons.keys().copied().filter(|&f| reads_or_writes(f) && !writes(f) && !shuts_down(f)))
        .ok_or(Miss::Read)?;
    let callers = |f: u64| -> BTreeSet<u64> { calls.callers(f).filter_map(function_of).collect() };
    let core_callers = callers(core);
    let peek = if core_callers.contains(&shutdown) {
        // ssl_read_impl on its own: its other caller is SSL_peek (or SSL_read, SSL_peek inlined)
        only(core_callers.into_iter().filter(|&f| f != shutdown)).ok_or(Miss::Read)?
    } else {
        core // inlined: this is SSL_peek or SSL_read itself
    };
    let read = match Vec::from_iter(callers(peek)).as_slice() {
        [one] if code.iter().any(|seg| passes_arguments_through(seg, *one, peek)) => *one,
        _ => peek,
    };
    Ok(Found { write, read, shutdown })
}

/// The single item, if there is exactly one.
fn only(mut items: impl Iterator<Item = u64>) -> Option<u64> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

/// Direct calls: (target, call instruction) sorted by target.
struct Calls(Vec<(u64, u64)>);

impl Calls {
    /// Every 0xE8 byte read as `call rel32`; most are bytes of other instructions, which
    /// [`function_starts`] filters out. Only targets inside `code` are kept.
    fn new(code: &[Code<'_>]) -> Self {
        let mut edges = Vec::new();
        let inside = |target: u64| code.iter().any(|c| c.contains(target));
        for seg in code {
            let b = seg.bytes;
            for i in memchr_iter(0xE8, &b[..b.len().saturating_sub(4)]) {
                let rel = i32::from_le_bytes([b[i + 1], b[i + 2], b[i + 3], b[i + 4]]);
                let target = (seg.addr + i as u64 + 5).wrapping_add_signed(i64::from(rel));
                if inside(target) {
                    edges.push((target, seg.addr + i as u64));
                }
            }
        }
        edges.sort_unstable();
        Calls(edges)
    }

    fn callers(&self, target: u64) -> impl Iterator<Item = u64> + '_ {
        let from = self.0.partition_point(|&(t, _)| t < target);
        self.0[from..].iter().take_while(move |&&(t, _)| t == target).map(|&(_, site)| site)
    }
}

/// Sorted function starts (see the module docs).
fn function_starts(code: &[Code<'_>], calls: &Calls) -> Vec<u64> {
    let mut starts = Vec::new();
    for group in calls.0.chunk_by(|a, b| a.0 == b.0) {
        let target = group[0].0;
        if target % 16 == 0 || group.len() >= 2 {
            starts.push(target);
        }
    }
    for seg in code {
        // the last of two or more int3 before an aligned address
        for i in memchr_iter(0xCC, seg.bytes) {
            let addr = seg.addr + i as u64 + 1;
            if addr % 16 == 0 && i > 0 && seg.bytes[i - 1] == 0xCC && seg.bytes.get(i + 1).is_some_and(|&b| b != 0xCC) {
                starts.push(addr);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The error sites in `code` (address of the instruction that loads the source name, reason).
fn error_sites(code: &[Code<'_>], names: &[u64]) -> Vec<(u64, u32)> {
    let mut sites = Vec::new();
    // `mov r32, imm32` of the name (non-PIE executables: Bun's): B8+r imm32, or 41 B8+r imm32
    for seg in code {
        for &name in names {
            let Ok(imm) = u32::try_from(name) else { continue };
            for hit in memmem::find_iter(seg.bytes, &imm.to_le_bytes()) {
                let site = [1, 2]
                    .iter()
                    .filter_map(|&back| hit.checked_sub(back))
                    .find_map(|at| Some((at, put_error_reason(seg, at, name)?)));
                if let Some((at, reason)) = site {
                    sites.push((seg.addr + at as u64, reason));
                }
            }
        }
    }
    if sites.is_empty() {
        // position-independent code cannot use absolute addresses: look for the other form
        for seg in code {
            lea_sites(seg, names, &mut sites);
        }
    }
    sites
}

/// Error sites that load the name with `lea r64, [rip + disp32]` (REX.W 8D modrm disp32).
fn lea_sites(seg: &Code<'_>, names: &[u64], sites: &mut Vec<(u64, u32)>) {
    for i in memchr_iter(0x8D, seg.bytes) {
        let Some(at) = i.checked_sub(1).filter(|&at| seg.bytes[at] & 0xF8 == 0x48) else { continue };
        if let Some((Insn::Set(_, Value::Const(target)), _)) = decode(seg, at) {
            if names.contains(&target) {
                if let Some(reason) = put_error_reason(seg, at, target) {
                    sites.push((seg.addr + at as u64, reason));
                }
            }
        }
    }
}

/// What an argument register holds at the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Const(u64),
    Unknown,
}

/// The few instructions that set up a call's arguments, as far as this module cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Insn {
    /// Writes a register (x86 number).
    Set(u8, Value),
    /// Touches no register we track (push, endbr64).
    Neutral,
    /// `call rel32` / `jmp rel32` (a shared tail that makes the call) and its target.
    Call(u64),
}

/// Decode the instruction at `i` if it is one of the [`Insn`] kinds; its length too.
fn decode(seg: &Code<'_>, i: usize) -> Option<(Insn, usize)> {
    let b = seg.bytes;
    let pc = |len: usize| seg.addr + (i + len) as u64;
    if b.get(i..i + 4) == Some(&[0xF3, 0x0F, 0x1E, 0xFA]) {
        return Some((Insn::Neutral, 4)); // endbr64
    }
    let rex = b.get(i).copied().filter(|&x| (0x40..=0x4F).contains(&x));
    let (w, r, x_b) = rex.map_or((false, 0, 0), |x| (x & 8 != 0, (x >> 2) & 1, x & 1));
    let p = i + usize::from(rex.is_some());
    let op = *b.get(p)?;
    let modrm = b.get(p + 1).copied();
    let reg_field = |m: u8| ((m >> 3) & 7) | (r << 3);
    let rm_field = |m: u8| (m & 7) | (x_b << 3);
    let len = p - i;
    match op {
        0x50..=0x57 => Some((Insn::Neutral, len + 1)), // push
        0xB8..=0xBF if w => Some((Insn::Set((op - 0xB8) | (x_b << 3), Value::Const(read_u64(b, p + 1)?)), len + 9)),
        0xB8..=0xBF => {
            Some((Insn::Set((op - 0xB8) | (x_b << 3), Value::Const(u64::from(read_u32(b, p + 1)?))), len + 5))
        }
        // xor/mov between registers
        0x31 | 0x33 | 0x89 | 0x8B if modrm? >> 6 == 3 => {
            let m = modrm?;
            let (dest, src) =
                if op == 0x31 || op == 0x89 { (rm_field(m), reg_field(m)) } else { (reg_field(m), rm_field(m)) };
            let value = if (op == 0x31 || op == 0x33) && dest == src { Value::Const(0) } else { Value::Unknown };
            Some((Insn::Set(dest, value), len + 2))
        }
        // add/sub/... register, imm8 / imm32
        0x83 if modrm? >> 6 == 3 => Some((Insn::Set(rm_field(modrm?), Value::Unknown), len + 3)),
        0x81 if modrm? >> 6 == 3 => Some((Insn::Set(rm_field(modrm?), Value::Unknown), len + 6)),
        // lea reg, [rip + disp32]
        0x8D if w && modrm? & 0xC7 == 0x05 => {
            let disp = read_i32(b, p + 2)?;
            Some((
                Insn::Set(reg_field(modrm?), Value::Const(pc(len + 6).wrapping_add_signed(i64::from(disp)))),
                len + 6,
            ))
        }
        0xE8 | 0xE9 if rex.is_none() => {
            Some((Insn::Call(pc(5).wrapping_add_signed(i64::from(read_i32(b, i + 1)?))), 5))
        }
        _ => None,
    }
}

/// The reason of the `ERR_put_error(ERR_LIB_SSL, [0,] reason, name, line)` whose argument
/// set-up includes the instruction at `at` loading `name`; `None` if it is not one.
fn put_error_reason(seg: &Code<'_>, at: usize, name: u64) -> Option<u32> {
    let mut args: [Option<Value>; 16] = [None; 16];
    // forward to the call: the instructions are not ambiguous in this direction
    let mut i = at;
    loop {
        let (insn, len) = decode(seg, i)?;
        match insn {
            Insn::Set(reg, value) => args[usize::from(reg)] = Some(value),
            Insn::Neutral => {}
            Insn::Call(_) => break,
        }
        i += len;
        if i > at + 64 {
            return None; // argument set-up is a handful of instructions
        }
    }
    // compilers may set some arguments before the name: constants ending right before it
    let mut end = at;
    for _ in 0..4 {
        let before =
            [5, 6, 2, 3].iter().filter_map(|&len| end.checked_sub(len)).find_map(|start| match decode(seg, start) {
                Some((Insn::Set(reg, v @ Value::Const(_)), n)) if start + n == end => Some((start, reg, v)),
                _ => None,
            });
        let Some((start, reg, value)) = before else { break };
        args[usize::from(reg)].get_or_insert(value);
        end = start;
    }
    let arg = |n: usize| ARG_REGS.get(n).and_then(|&r| args[usize::from(r)]);
    let file = (0..ARG_REGS.len()).find(|&n| arg(n) == Some(Value::Const(name)))?;
    if file < 2 || arg(0) != Some(Value::Const(LIB_SSL)) || !matches!(arg(file + 1), Some(Value::Const(_))) {
        return None;
    }
    match arg(file - 1)? {
        Value::Const(reason) => u32::try_from(reason).ok(),
        Value::Unknown => None,
    }
}

/// Whether `function` starts by calling `callee` with its own first three arguments, untouched
/// (only a prologue before the call): `SSL_read` calling `SSL_peek`.
fn passes_arguments_through(seg: &Code<'_>, function: u64, callee: u64) -> bool {
    if !seg.contains(function) {
        return false;
    }
    let mut i = (function - seg.addr) as usize;
    for _ in 0..16 {
        match decode(seg, i) {
            Some((Insn::Call(target), _)) => return target == callee,
            Some((Insn::Set(reg, _), len)) if !ARG_REGS[..3].contains(&reg) => i += len,
            Some((Insn::Neutral, len)) => i += len,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x40_1000;
    const NAME: u64 = 0x20_0100;

    /// A tiny x86-64 assembler: enough to lay out functions the way clang and lld do.
    #[derive(Default)]
    struct Asm {
        bytes: Vec<u8>,
    }

    impl Asm {
        fn here(&self) -> u64 {
            BASE + self.bytes.len() as u64
        }
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(b);
            self
        }
        /// Pad with int3 to 16 bytes and return the address of the function that starts there.
        fn function(&mut self) -> u64 {
            while self.here() % 16 != 0 {
                self.bytes.push(0xCC);
            }
            self.raw(&[0x55, 0x48, 0x89, 0xE5]); // push rbp; mov rbp, rsp
            self.here() - 4
        }
        fn call(&mut self, target: u64) -> &mut Self {
            let rel = target as i64 - (self.here() as i64 + 5);
            self.raw(&[0xE8]).raw(&(rel as i32).to_le_bytes())
        }
        fn mov_imm(&mut self, reg: u8, imm: u32) -> &mut Self {
            if reg >= 8 {
                self.raw(&[0x41]);
            }
            self.raw(&[0xB8 + (reg & 7)]).raw(&imm.to_le_bytes())
        }
        /// `OPENSSL_PUT_ERROR(SSL, reason)` as clang emits it for Bun 1.4:
        /// ERR_put_error(16, 0, reason, name, line) with the name loaded first.
        fn put_error(&mut self, err: u64, reason: u32) -> &mut Self {
            self.mov_imm(1, NAME as u32).mov_imm(7, 16).raw(&[0x31, 0xF6]).mov_imm(2, reason).mov_imm(8, 900).call(err)
        }
        fn ret(&mut self) -> &mut Self {
            self.raw(&[0xC3])
        }
        fn code(&self) -> Code<'_> {
            Code { addr: BASE, bytes: &self.bytes }
        }
    }

    /// The shape of Bun 1.4.5's `ssl_lib.cc`; `peek_inlined` false puts `SSL_peek` in a function
    /// of its own, called by an `SSL_read` that passes its arguments through.
    fn bun_like(peek_inlined: bool) -> (Asm, Found) {
        let mut a = Asm::default();
        let err = a.function();
        a.ret();
        let write = a.function();
        a.put_error(err, 66)
            .put_error(err, SSL_R_UNINITIALIZED)
            .put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE)
            .put_error(err, SSL_R_BAD_LENGTH)
            .ret();
        let read_impl = a.function();
        a.put_error(err, SSL_R_UNINITIALIZED).put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE).ret();
        let peek = a.function();
        a.put_error(err, 66).call(read_impl).ret();
        let read = if peek_inlined {
            peek
        } else {
            let read = a.function();
            // push rbx; push rax; mov rbx, rdi; call SSL_peek
            a.raw(&[0x53, 0x50, 0x48, 0x89, 0xFB]).call(peek).ret();
            read
        };
        let shutdown = a.function();
        a.put_error(err, SSL_R_UNINITIALIZED).call(read_impl).put_error(err, SSL_R_APPLICATION_DATA_ON_SHUTDOWN).ret();
        // the program's own callers: mov rdi, [rdi+8]; call ...
        for _ in 0..2 {
            a.function();
            a.raw(&[0x48, 0x8B, 0x7F, 0x08]).call(write).call(read).call(shutdown).ret();
        }
        (a, Found { write, read, shutdown })
    }

    #[test]
    fn finds_write_read_and_shutdown_with_ssl_peek_inlined() {
        let (a, want) = bun_like(true);
        assert_eq!(find_in(&[a.code()], &[NAME]), Ok(want));
    }

    #[test]
    fn ssl_read_is_the_caller_that_passes_its_arguments_to_ssl_peek() {
        let (a, want) = bun_like(false);
        assert_eq!(find_in(&[a.code()], &[NAME]), Ok(want));
    }

    #[test]
    fn ssl_read_impl_inlined_into_ssl_read() {
        let mut a = Asm::default();
        let err = a.function();
        a.ret();
        let write = a.function();
        a.put_error(err, SSL_R_UNINITIALIZED)
            .put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE)
            .put_error(err, SSL_R_BAD_LENGTH)
            .ret();
        // SSL_read with SSL_peek and ssl_read_impl inside; SSL_shutdown with its own copy
        let read = a.function();
        a.put_error(err, 66).put_error(err, SSL_R_UNINITIALIZED).put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE).ret();
        let shutdown = a.function();
        a.put_error(err, SSL_R_UNINITIALIZED)
            .put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE)
            .put_error(err, SSL_R_APPLICATION_DATA_ON_SHUTDOWN)
            .ret();
        // a single caller that passes its arguments through is taken for SSL_read: equivalent
        for _ in 0..2 {
            a.function();
            a.raw(&[0x48, 0x8B, 0x7F, 0x08]).call(write).call(read).call(shutdown).ret();
        }
        assert_eq!(find_in(&[a.code()], &[NAME]), Ok(Found { write, read, shutdown }));
    }

    #[test]
    fn a_caller_that_changes_the_arguments_is_not_ssl_read() {
        let (mut a, want) = bun_like(false);
        // SSL_read's `mov rbx, rdi` becomes `mov rdi, rbx`: no longer a pass-through
        let at = (want.read - BASE) as usize + 4 + 2;
        a.bytes[at..at + 3].copy_from_slice(&[0x48, 0x89, 0xDF]);
        let found = find_in(&[a.code()], &[NAME]).expect("found");
        assert_ne!(found.read, want.read, "SSL_peek itself is probed instead");
        assert_eq!(found.write, want.write);
    }

    #[test]
    fn error_sites_in_each_calling_convention_give_the_reason() {
        let mut a = Asm::default();
        let err = a.function();
        a.ret();
        // ERR_put_error(16, 0, 226, name, line): name in rcx (Bun 1.4)
        let bun14 = a.here();
        a.put_error(err, 226);
        // LTO dropped the unused argument: ERR_put_error(16, 68, name, line), name in rdx (Bun 1.2)
        let bun12 = a.here();
        a.mov_imm(2, NAME as u32).mov_imm(7, 16).mov_imm(6, 68).mov_imm(1, 577).call(err);
        // the reason set before the name
        let before = a.here();
        a.mov_imm(2, 111).mov_imm(1, NAME as u32).mov_imm(7, 16).raw(&[0x31, 0xF6]).mov_imm(8, 12).call(err);
        // position-independent: lea rcx, [rip + disp]; the call is a jump to a shared tail
        let pie = a.here();
        let disp = NAME as i64 - (pie as i64 + 7);
        a.raw(&[0x48, 0x8D, 0x0D])
            .raw(&(disp as i32).to_le_bytes())
            .mov_imm(7, 16)
            .raw(&[0x31, 0xF6])
            .mov_imm(2, 215)
            .mov_imm(8, 7);
        a.raw(&[0xE9, 0, 0, 0, 0]);
        // not SSL's: library 20
        a.mov_imm(1, NAME as u32).mov_imm(7, 20).raw(&[0x31, 0xF6]).mov_imm(2, 5).mov_imm(8, 7).call(err);
        // the name passed somewhere else than to ERR_put_error (no line after it)
        a.mov_imm(7, 16).mov_imm(6, 1).mov_imm(2, NAME as u32).call(err);
        let mut sites = error_sites(&[a.code()], &[NAME]);
        lea_sites(&a.code(), &[NAME], &mut sites);
        let before_site = before + 5; // the name's load; the reason came earlier
        assert_eq!(sites, vec![(bun14, 226), (bun12, 68), (before_site, 111), (pie, 215)]);
    }

    #[test]
    fn a_stray_call_byte_does_not_start_a_function() {
        let (mut a, want) = bun_like(true);
        // an E8 byte inside SSL_write's first error site pointing at an unaligned address in it
        let site = (want.write - BASE) as usize + 4;
        let calls = Calls::new(&[a.code()]);
        let starts = function_starts(&[a.code()], &calls);
        assert!(starts.contains(&want.write) && starts.contains(&want.read));
        assert!(!starts.contains(&(want.write + 20)));
        let stray = want.write + 9; // 16 is not a divisor of it
        let rel = stray as i64 - (BASE as i64 + a.bytes.len() as i64 + 5);
        a.raw(&[0x00, 0xE8]).raw(&(rel as i32 + 1).to_le_bytes());
        let calls = Calls::new(&[a.code()]);
        assert!(!function_starts(&[a.code()], &calls).contains(&stray));
        assert_eq!(find_in(&[a.code()], &[NAME]).map(|f| f.write), Ok(want.write), "site at {site}");
    }

    #[test]
    fn doubt_is_a_miss() {
        let mut a = Asm::default();
        let err = a.function();
        a.ret();
        assert_eq!(find_in(&[a.code()], &[NAME]), Err(Miss::NoErrorSites));
        // two functions with SSL_write's reasons
        for _ in 0..2 {
            a.function();
            a.put_error(err, SSL_R_UNINITIALIZED)
                .put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE)
                .put_error(err, SSL_R_PROTOCOL_IS_SHUTDOWN)
                .ret();
        }
        assert_eq!(find_in(&[a.code()], &[NAME]), Err(Miss::Write));
        // a write, but nothing that reads
        let only_write = {
            let mut c = Asm::default();
            let err = c.function();
            c.ret();
            c.function();
            c.put_error(err, SSL_R_UNINITIALIZED)
                .put_error(err, SSL_R_SSL_HANDSHAKE_FAILURE)
                .put_error(err, SSL_R_BAD_LENGTH)
                .ret();
            c
        };
        assert_eq!(find_in(&[only_write.code()], &[NAME]), Err(Miss::Read));
    }

    #[test]
    fn source_names_are_whole_strings() {
        let mut rodata = b"\0other\0../../vendor/boringssl/ssl/ssl_lib.cc\0x/ssl/ssl_lib.cc\0".to_vec();
        rodata.extend_from_slice(b"ssl/ssl_lib.ccc\0");
        let seg = Code { addr: 0x1000, bytes: &rodata };
        assert_eq!(source_names(&seg), vec![0x1007, 0x102d]);
        assert!(has_source_name(&rodata));
        assert!(!has_source_name(b"ssl_lib.c\0"));
    }

    /// A minimal x86-64 ELF executable: a read-only segment with `rodata` and an executable one
    /// with `code`, each at a page of its own.
    fn elf(rodata: &[u8], code: &[u8], code_addr: u64) -> Vec<u8> {
        let mut f = vec![0u8; 0x1000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
        let mut ph = |n: usize, flags: u32, offset: u64, addr: u64, size: u64| {
            let p = 64 + n * 56;
            f[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
            f[p + 4..p + 8].copy_from_slice(&flags.to_le_bytes());
            for (i, v) in [offset, addr, addr, size, size, 0x1000].iter().enumerate() {
                f[p + 8 + i * 8..p + 16 + i * 8].copy_from_slice(&v.to_le_bytes());
            }
        };
        ph(0, 4, 0x1000, NAME & !0xFFF, rodata.len() as u64);
        ph(1, 5, 0x2000, code_addr, code.len() as u64);
        f.extend_from_slice(rodata);
        f.resize(0x2000, 0);
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn find_gives_file_offsets() {
        let (a, want) = bun_like(true);
        let mut rodata = vec![0u8; (NAME & 0xFFF) as usize];
        rodata.extend_from_slice(b"../../vendor/boringssl/ssl/ssl_lib.cc\0");
        let file = elf(&rodata, &a.bytes, BASE);
        let found = find(&file).expect("found");
        let offset = |addr: u64| addr - BASE + 0x2000;
        assert_eq!(
            found,
            Functions { write: offset(want.write), read: offset(want.read), shutdown: offset(want.shutdown) }
        );
        assert_eq!(find(b"not an elf"), Err(Miss::NotX86Elf));
        let no_name = elf(b"\0nothing here\0", &a.bytes, BASE);
        assert_eq!(find(&no_name), Err(Miss::NoSourceName));
    }

    /// Bun's own binary (`bun` npm package): `AGENTSIGHT_BUN`, or where the TLS tests unpack it.
    /// Offsets of 1.4.5 were checked by disassembly against BoringSSL's `ssl_lib.cc`.
    #[test]
    #[ignore = "needs a Bun binary (AGENTSIGHT_BUN or target/bun/package/bin/bun)"]
    fn finds_the_functions_in_a_real_bun() {
        let path = std::env::var_os("AGENTSIGHT_BUN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bun/package/bin/bun"));
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(has_source_name(&data));
        let started = std::time::Instant::now();
        let found = find(&data).expect("found");
        eprintln!("{}: {found:x?} in {:?}", path.display(), started.elapsed());
        for offset in [found.write, found.read] {
            // each is a function entry, which saves registers first: push rbp / push r12-r15
            let first = &data[offset as usize..offset as usize + 2];
            assert!(
                first[0] == 0x55 || (first[0] == 0x41 && (0x54..=0x57).contains(&first[1])),
                "{offset:#x}: {first:x?}"
            );
        }
        let version = std::process::Command::new(&path)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if version.as_deref().is_ok_and(|v| v == "1.4.5") {
            assert_eq!(found, Functions { write: 0x23f_fc30, read: 0x237_e500, shutdown: 0x23a_c290 });
        }
    }
}
