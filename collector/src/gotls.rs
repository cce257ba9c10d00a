//! Where Go's crypto/tls moves plaintext in a Go executable: `crypto/tls.(*Conn).Write` and
//! `(*Conn).Read`, their entries and every `RET` instruction in them, and `(*Conn).Close`.
//!
//! Go keeps a function table, the pclntab (`runtime.pclntab`), in every executable, stripped
//! (`-ldflags=-s -w`) or not: the runtime needs it for stack traces, stack copying and the
//! garbage collector. It is the `.gopclntab` section (`.data.rel.ro.gopclntab` in PIE builds),
//! or, where section headers were removed too, found by its header: a magic number
//! (0xfffffff1 go1.20+, 0xfffffff0 go1.18-1.19, 0xfffffffa go1.16-1.17), two zero bytes, the
//! instruction quantum (1 on x86) and the pointer size, then offsets that must all fall inside.
//! Its functab lists every function's entry in address order, so a function ends where the
//! next begins; each entry points at a `_func` record whose `nameOff` names the function.
//! Since go1.18 entries count from `runtime.text`, which the header holds (`textStart`) or,
//! in recent releases, leaves zero: then it is read from the `runtime.moduledata` that points at
//! the table.
//!
//! Why every `RET`: a return probe (uretprobe) replaces the return address on the stack, and Go
//! copies a goroutine's stack to grow it, so the replaced address is carried to where the
//! kernel does not expect it. A probe on each `RET` of the function instead reads the results
//! where Go leaves them (RAX: the byte count). Instructions are decoded with `iced-x86` from the
//! entry to the end (Go puts no data in its code, and pads between functions with `int3`), so
//! a 0xC3 byte inside another instruction is never taken for a `RET`.
//!
//! The probes read arguments per Go's register ABI (ABIInternal: go1.17+ on x86-64), which a
//! function compiled for it shows in its prologue: the stack bound is read through the
//! goroutine register R14 (`cmp rsp, [r14+0x10]`), where go1.16 reads it through thread-local
//! storage. Older builds pass arguments on the stack: a [`Miss`], said, not guessed.
//!
//! Pure: bytes in, file offsets out. x86-64 ELF only.

use crate::le::{read_u32, read_u64};
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, Register};
use memchr::memmem;

/// `crypto/tls.(*Conn).Write`, `Read` and `Close`, as the function table names them.
pub(crate) const WRITE: &str = "crypto/tls.(*Conn).Write";
pub(crate) const READ: &str = "crypto/tls.(*Conn).Read";
pub(crate) const CLOSE: &str = "crypto/tls.(*Conn).Close";

/// The start of Go's build information (`.go.buildinfo`), in every Go executable since go1.13.
pub(crate) const BUILDINFO: &[u8] = b"\xff Go buildinf:";

/// pclntab magic numbers (`runtime/symtab.go`).
const MAGIC_GO120: u32 = 0xffff_fff1;
const MAGIC_GO118: u32 = 0xffff_fff0;
const MAGIC_GO116: u32 = 0xffff_fffa;
const MAGIC_GO12: u32 = 0xffff_fffb;

/// Instructions of a prologue looked at for the stack-bound check.
const PROLOGUE_INSNS: usize = 4;

/// A function's probe sites, as file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    /// Its first instruction.
    pub entry: u64,
    /// Each `RET` instruction, in address order.
    pub rets: Vec<u64>,
}

/// The probe sites of a Go executable's crypto/tls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Functions {
    pub write: Function,
    pub read: Function,
    /// The entry of `(*Conn).Close` (a program that never closes a connection may lack it).
    pub close: Option<u64>,
}

/// Why the functions were not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Not an x86-64 ELF file.
    NotX86Elf,
    /// No function table, by section name or by header.
    NoPclntab,
    /// Built before go1.16 (a function table of go1.2 to go1.15), or for go1.16: arguments on
    /// the stack.
    StackAbi,
    /// `(*Conn).Write` is not in the function table (the program uses no crypto/tls).
    NoWrite,
    /// `(*Conn).Read` is not in the function table.
    NoRead,
    /// A function's code is not inside a loaded segment, or does not decode.
    BadCode,
    /// A function has no `RET` (it cannot return: never seen).
    NoRet,
}

impl Miss {
    /// For the warning that names the process whose TLS is not captured.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Miss::NotX86Elf => "Go crypto/tls (not an x86-64 ELF file)",
            Miss::NoPclntab => "Go crypto/tls (no Go function table found)",
            Miss::StackAbi => "Go crypto/tls (built before go1.17: arguments on the stack)",
            Miss::NoWrite => "Go crypto/tls (`crypto/tls.(*Conn).Write` not in the function table)",
            Miss::NoRead => "Go crypto/tls (`crypto/tls.(*Conn).Read` not in the function table)",
            Miss::BadCode => "Go crypto/tls (`(*Conn).Write` or `Read` does not decode)",
            Miss::NoRet => "Go crypto/tls (`(*Conn).Write` or `Read` has no `RET`)",
        }
    }
}

/// Whether `data` is a Go executable that carries crypto/tls (cheap; [`find`] does the work).
#[cfg(test)]
pub(crate) fn is_go_with_tls(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
        && memmem::find(data, BUILDINFO).is_some()
        && memmem::find(data, WRITE.as_bytes()).is_some()
}

/// Find the probe sites in a Go executable.
pub(crate) fn find(data: &[u8]) -> Result<Functions, Miss> {
    let found = find_addresses(data)?;
    let segments = Segments::of(data)?;
    let offset = |addr: u64| segments.file_offset(addr).ok_or(Miss::BadCode);
    let function = |f: &Function| -> Result<Function, Miss> {
        Ok(Function { entry: offset(f.entry)?, rets: f.rets.iter().map(|&r| offset(r)).collect::<Result<_, _>>()? })
    };
    Ok(Functions {
        write: function(&found.write)?,
        read: function(&found.read)?,
        close: found.close.map(offset).transpose()?,
    })
}

/// [`find`], in virtual addresses (what `go tool objdump` shows).
fn find_addresses(data: &[u8]) -> Result<Functions, Miss> {
    use object::{Architecture, Object, ObjectSection};
    let elf = object::File::parse(data).map_err(|_| Miss::NotX86Elf)?;
    if elf.architecture() != Architecture::X86_64 || !elf.is_little_endian() {
        return Err(Miss::NotX86Elf);
    }
    let by_name = [".gopclntab", ".data.rel.ro.gopclntab"]
        .iter()
        .filter_map(|name| elf.section_by_name(name))
        .find_map(|s| Some(s.file_range()?.0))
        .and_then(|start| usize::try_from(start).ok());
    let (at, mut table) = match by_name.and_then(|start| Some((start, Pclntab::parse(data.get(start..)?)?))) {
        Some(found) => found,
        None => find_by_header(data).ok_or(Miss::NoPclntab)?,
    };
    if table.magic == MAGIC_GO12 {
        return Err(Miss::StackAbi);
    }
    let segments = Segments::of(data)?;
    if table.text_start == 0 && table.magic != MAGIC_GO116 {
        let text = elf.section_by_name(".text").map(|s| s.address());
        table.text_start = module_text(data, &segments, at, &table).or(text).ok_or(Miss::NoPclntab)?;
    }
    let [write, read, close] = table.lookup([WRITE, READ, CLOSE]);
    let (write, read) = (write.ok_or(Miss::NoWrite)?, read.ok_or(Miss::NoRead)?);
    let code = |(entry, end): (u64, u64)| segments.bytes(entry, end).ok_or(Miss::BadCode);
    let (write_code, read_code) = (code(write)?, code(read)?);
    if table.magic == MAGIC_GO116 && !register_abi(write_code, write.0) {
        return Err(Miss::StackAbi);
    }
    let function = |entry: u64, code: &[u8]| -> Result<Function, Miss> {
        let rets = rets(code, entry).ok_or(Miss::BadCode)?;
        if rets.is_empty() {
            return Err(Miss::NoRet);
        }
        Ok(Function { entry, rets })
    };
    Ok(Functions {
        write: function(write.0, write_code)?,
        read: function(read.0, read_code)?,
        close: close.map(|(entry, _)| entry),
    })
}

/// The function table located by its header, for files without section headers: its file
/// offset and the table.
fn find_by_header(data: &[u8]) -> Option<(usize, Pclntab<'_>)> {
    // not go1.2's: too little of its header is checked to tell it from chance bytes
    [MAGIC_GO120, MAGIC_GO118, MAGIC_GO116].iter().find_map(|magic| {
        let mut header = magic.to_le_bytes().to_vec();
        header.extend_from_slice(&[0, 0, 1, 8]);
        memmem::find_iter(data, &header).find_map(|at| Some((at, Pclntab::parse(&data[at..])?)))
    })
}

/// `runtime.text`, where function entries count from, for a go1.18+ table that leaves its
/// `textStart` zero (the linker of recent releases does, in every build mode): read from the
/// module's `runtime.moduledata`, found by its first two fields, the table's address and its
/// function-name table's. Its layout (go1.16+): `pcHeader`, six slices, `findfunctab`, `minpc`,
/// `maxpc`, `text`. The section `.text` is no stand-in when it can be avoided: with an external
/// linker it starts with C code.
fn module_text(data: &[u8], segments: &Segments<'_>, at: usize, table: &Pclntab<'_>) -> Option<u64> {
    const TEXT_FIELD: usize = 8 + 6 * 24 + 3 * 8;
    let addr = segments.address(u64::try_from(at).ok()?)?;
    let mut first = addr.to_le_bytes().to_vec();
    first.extend_from_slice(&addr.checked_add(u64::try_from(table.funcnames).ok()?)?.to_le_bytes());
    memmem::find_iter(data, &first).find_map(|md| {
        let text = read_u64(data, md + TEXT_FIELD)?;
        segments.executable(text).then_some(text)
    })
}

/// Whether the prologue at `entry` reads the stack bound through R14, the goroutine register
/// of ABIInternal (go1.16 loads `g` from thread-local storage into another register first).
fn register_abi(code: &[u8], entry: u64) -> bool {
    let mut decoder = Decoder::with_ip(64, code, entry, DecoderOptions::NONE);
    decoder.iter().take(PROLOGUE_INSNS).any(|insn| {
        insn.mnemonic() == Mnemonic::Cmp && insn.memory_base() == Register::R14 && insn.memory_displacement64() == 0x10
    })
}

/// The address of every `RET` in `code` (loaded at `start`), or `None` if something in it is
/// not an instruction.
fn rets(code: &[u8], start: u64) -> Option<Vec<u64>> {
    let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut out = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return None;
        }
        if insn.mnemonic() == Mnemonic::Ret {
            out.push(insn.ip());
        }
    }
    Some(out)
}

/// A parsed pclntab header over the table's bytes.
#[derive(Debug)]
struct Pclntab<'a> {
    table: &'a [u8],
    magic: u32,
    ptr_size: usize,
    nfunc: usize,
    /// go1.18+: function entries are offsets from here (`runtime.text`).
    text_start: u64,
    funcnames: usize,
    /// The functab: `nfunc + 1` (entry, `_func` offset) pairs; offsets are from here.
    functab: usize,
}

impl<'a> Pclntab<'a> {
    /// The header at the start of `table`, checked (`text_start` may be left zero).
    fn parse(table: &'a [u8]) -> Option<Self> {
        let magic = read_u32(table, 0)?;
        if ![MAGIC_GO120, MAGIC_GO118, MAGIC_GO116, MAGIC_GO12].contains(&magic) || table.get(4..8)? != [0, 0, 1, 8] {
            return None;
        }
        let ptr_size = 8;
        let word = |i: usize| read_u64(table, 8 + i * ptr_size).and_then(|v| usize::try_from(v).ok());
        let mut out = Pclntab { table, magic, ptr_size, nfunc: word(0)?, text_start: 0, funcnames: 0, functab: 0 };
        match magic {
            MAGIC_GO120 | MAGIC_GO118 => {
                out.text_start = read_u64(table, 8 + 2 * ptr_size)?;
                out.funcnames = word(3)?;
                out.functab = word(7)?;
            }
            MAGIC_GO116 => {
                out.funcnames = word(2)?;
                out.functab = word(6)?;
            }
            // go1.2-1.15: the functab follows nfunc; only the version matters
            _ => return Some(out),
        }
        let entries = out.nfunc.checked_add(1)?.checked_mul(out.functab_entry_size())?;
        if out.nfunc == 0 || out.funcnames >= table.len() || out.functab.checked_add(entries)? > table.len() {
            return None;
        }
        Some(out)
    }

    fn functab_entry_size(&self) -> usize {
        if self.magic == MAGIC_GO116 {
            2 * self.ptr_size
        } else {
            8
        }
    }

    /// Entry address and `_func` offset of function `i` (`i == nfunc`: the end of the text).
    fn functab(&self, i: usize) -> Option<(u64, usize)> {
        let at = self.functab + i * self.functab_entry_size();
        if self.magic == MAGIC_GO116 {
            Some((read_u64(self.table, at)?, usize::try_from(read_u64(self.table, at + 8)?).ok()?))
        } else {
            let entry = self.text_start.checked_add(u64::from(read_u32(self.table, at)?))?;
            Some((entry, usize::try_from(read_u32(self.table, at + 4)?).ok()?))
        }
    }

    /// The name of the function whose `_func` record is at `func_off`.
    fn name(&self, func_off: usize) -> Option<&'a [u8]> {
        let name_field = self.functab + func_off + if self.magic == MAGIC_GO116 { self.ptr_size } else { 4 };
        let name_off = usize::try_from(read_u32(self.table, name_field)?).ok()?;
        let name = self.table.get(self.funcnames.checked_add(name_off)?..)?;
        Some(&name[..memchr::memchr(0, name)?])
    }

    /// (entry, end) of each of `names`, in the order asked; `None` for one not in the table.
    fn lookup<const N: usize>(&self, names: [&str; N]) -> [Option<(u64, u64)>; N] {
        let mut out = [None; N];
        for i in 0..self.nfunc {
            let Some((entry, func_off)) = self.functab(i) else { break };
            let Some(name) = self.name(func_off) else { continue };
            let Some(k) = names.iter().position(|n| n.as_bytes() == name) else { continue };
            if out[k].is_none() {
                out[k] = self.functab(i + 1).map(|(end, _)| (entry, end)).filter(|&(_, end)| end > entry);
            }
        }
        out
    }
}

/// The loaded segments: (address, file offset, bytes in the file), and which are executable.
struct Segments<'a>(Vec<(u64, u64, &'a [u8])>, Vec<bool>);

impl<'a> Segments<'a> {
    fn of(data: &'a [u8]) -> Result<Self, Miss> {
        use object::{Object, ObjectSegment, SegmentFlags};
        let elf = object::File::parse(data).map_err(|_| Miss::NotX86Elf)?;
        let (mut segments, mut exec) = (Vec::new(), Vec::new());
        for s in elf.segments() {
            let Ok(bytes) = s.data() else { continue };
            segments.push((s.address(), s.file_range().0, bytes));
            exec.push(matches!(s.flags(), SegmentFlags::Elf { p_flags } if p_flags & object::elf::PF_X != 0));
        }
        Ok(Segments(segments, exec))
    }

    /// The address a file offset is loaded at.
    fn address(&self, offset: u64) -> Option<u64> {
        self.0
            .iter()
            .find(|(_, start, bytes)| offset >= *start && offset - start < bytes.len() as u64)
            .map(|(addr, start, _)| offset - start + addr)
    }

    fn executable(&self, addr: u64) -> bool {
        self.0
            .iter()
            .zip(&self.1)
            .any(|((start, _, bytes), &x)| x && addr >= *start && addr - start < bytes.len() as u64)
    }

    fn find(&self, addr: u64) -> Option<&(u64, u64, &'a [u8])> {
        self.0.iter().find(|(start, _, bytes)| addr >= *start && addr - start < bytes.len() as u64)
    }

    fn file_offset(&self, addr: u64) -> Option<u64> {
        self.find(addr).map(|(start, offset, _)| addr - start + offset)
    }

    /// The bytes of [start, end), within one segment.
    fn bytes(&self, start: u64, end: u64) -> Option<&'a [u8]> {
        let (base, _, bytes) = self.find(start)?;
        bytes.get(usize::try_from(start - base).ok()?..usize::try_from(end - base).ok()?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// `go build` of the TLS tests' Go client into `dir`, with `flags`; `None` (said) without Go.
    pub(crate) fn go_build(dir: &Path, name: &str, flags: &[&str]) -> Option<PathBuf> {
        let go = std::env::var("AGENTSIGHT_GO").unwrap_or_else(|_| "go".into());
        if Command::new(&go).arg("version").output().is_err() {
            eprintln!("SKIPPED: no `go` (apt-get install golang-go, or set AGENTSIGHT_GO)");
            return None;
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/go_client/main.go");
        let out = dir.join(name);
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/go-cache");
        let status = Command::new(&go)
            .arg("build")
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .env("GOCACHE", std::env::var_os("GOCACHE").map_or(cache, PathBuf::from))
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .status()
            .expect("run go build");
        assert!(status.success(), "go build {flags:?} failed");
        Some(out)
    }

    /// What `go tool objdump` shows for `name`: its entry and the address of each `RET`.
    fn objdump(binary: &Path, name: &str) -> (u64, Vec<u64>) {
        let go = std::env::var("AGENTSIGHT_GO").unwrap_or_else(|_| "go".into());
        let pattern = format!("^{}$", regex::escape(name));
        let out =
            Command::new(&go).args(["tool", "objdump", "-s", &pattern]).arg(binary).output().expect("go tool objdump");
        let text = String::from_utf8_lossy(&out.stdout);
        let addrs: Vec<(u64, bool)> = text
            .lines()
            .filter(|l| !l.starts_with("TEXT"))
            .filter_map(|l| {
                let mut fields = l.split('\t').map(str::trim).filter(|f| !f.is_empty());
                let addr = fields.nth(1)?.strip_prefix("0x")?;
                Some((u64::from_str_radix(addr, 16).ok()?, l.contains("\tRET")))
            })
            .collect();
        let entry = addrs.first().expect("objdump shows the function").0;
        (entry, addrs.iter().filter(|(_, ret)| *ret).map(|(a, _)| *a).collect())
    }

    #[test]
    fn finds_write_read_and_their_rets_as_go_tool_objdump_shows_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(plain) = go_build(dir.path(), "plain", &[]) else { return };
        let stripped = go_build(dir.path(), "stripped", &["-ldflags=-s -w"]).expect("go");
        let pie = go_build(dir.path(), "pie", &["-buildmode=pie"]).expect("go");
        let pie_stripped = go_build(dir.path(), "pie-stripped", &["-buildmode=pie", "-ldflags=-s -w"]).expect("go");
        let mut builds =
            vec![(plain.clone(), plain.clone()), (stripped, plain), (pie.clone(), pie.clone()), (pie_stripped, pie)];
        // linked by the C linker (cgo's external mode): C code comes first in `.text`
        if Command::new("gcc").arg("--version").output().is_ok() {
            let ext = go_build(dir.path(), "ext", &["-ldflags=-linkmode=external"]).expect("go");
            let ext_stripped =
                go_build(dir.path(), "ext-stripped", &["-ldflags=-s -w -linkmode=external"]).expect("go");
            builds.extend([(ext.clone(), ext.clone()), (ext_stripped, ext)]);
        } else {
            eprintln!("no gcc: external linking not tested");
        }
        // objdump reads the unstripped build's symbols; stripping moves no code
        for (binary, symbols) in &builds {
            let data = std::fs::read(binary).expect("read");
            assert!(is_go_with_tls(&data), "{}", binary.display());
            let started = std::time::Instant::now();
            let found = find_addresses(&data).expect("found");
            eprintln!("{}: found in {:?}", binary.display(), started.elapsed());
            for (f, name) in [(&found.write, WRITE), (&found.read, READ)] {
                let (entry, rets) = objdump(symbols, name);
                assert_eq!((f.entry, &f.rets), (entry, &rets), "{name} in {}", binary.display());
                assert!(!rets.is_empty());
            }
            assert_eq!(found.close, Some(objdump(symbols, CLOSE).0));
            // file offsets hold the code: the entry's first bytes and a RET
            let offsets = find(&data).expect("offsets");
            for f in [&offsets.write, &offsets.read] {
                assert!(f.rets.iter().all(|&r| data[r as usize] == 0xc3), "{f:?}");
                assert!(f.rets.iter().all(|&r| r > f.entry));
            }
        }
    }

    #[test]
    fn the_table_is_found_by_its_header_without_section_headers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(stripped) = go_build(dir.path(), "stripped", &["-ldflags=-s -w"]) else { return };
        let mut data = std::fs::read(&stripped).expect("read");
        let want = find(&data).expect("found");
        // e_shoff, e_shnum, e_shstrndx = 0: no section headers (what `sstrip` leaves)
        data[0x28..0x30].fill(0);
        data[0x3c..0x40].fill(0);
        assert_eq!(find(&data), Ok(want.clone()));
        // and with `textStart` zero (as recent linkers leave it), `runtime.text` comes from the
        // module data, not from a `.text` section
        let (at, table) = find_by_header(&data).expect("table");
        if table.magic != MAGIC_GO116 {
            data[at + 24..at + 32].fill(0);
            assert_eq!(find(&data), Ok(want));
        }
    }

    #[test]
    fn what_is_not_found_says_why() {
        assert_eq!(find(b"\x7fELF not really"), Err(Miss::NotX86Elf));
        assert!(!is_go_with_tls(b"\x7fELF plain program"));
        // a real x86-64 executable without a Go function table
        let true_bin = std::fs::read("/bin/true").expect("/bin/true");
        assert_eq!(find(&true_bin), Err(Miss::NoPclntab));
        for miss in
            [Miss::NotX86Elf, Miss::NoPclntab, Miss::StackAbi, Miss::NoWrite, Miss::NoRead, Miss::BadCode, Miss::NoRet]
        {
            assert!(miss.describe().starts_with("Go crypto/tls ("), "{miss:?}");
        }
    }

    #[test]
    fn a_go116_prologue_is_told_from_a_register_abi_one() {
        // go1.17+: lea r12, [rsp-0x68]; cmp r12, [r14+0x10]; jbe ...
        let go119 = [0x4c, 0x8d, 0x64, 0x24, 0x98, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0, 0, 0, 0];
        assert!(register_abi(&go119, 0x1000));
        // go1.16: mov rcx, fs:[-8]; cmp rsp, [rcx+0x10]; jbe ...
        let go116 =
            [0x64, 0x48, 0x8b, 0x0c, 0x25, 0xf8, 0xff, 0xff, 0xff, 0x48, 0x3b, 0x61, 0x10, 0x0f, 0x86, 0, 0, 0, 0];
        assert!(!register_abi(&go116, 0x1000));
    }

    #[test]
    fn a_c3_byte_inside_an_instruction_is_not_a_ret() {
        // mov eax, 0xc3c3c3c3; ret; int3
        let code = [0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xcc];
        assert_eq!(rets(&code, 0x100), Some(vec![0x105]));
        // a truncated instruction is not decoded as something else
        assert_eq!(rets(&[0x48, 0x8b], 0x100), None);
    }
}
