//! The window log: the analyzer's durable record of every window it acknowledged.
//!
//! A window is appended as one JSON line and the file is synced before the collector gets its
//! acknowledgement, so an acknowledged window survives `kill -9`. The tantivy index is committed
//! less often (committing per window would cost a sync of many files); each index commit records
//! the log offset it covers, and at start the windows after that offset are indexed again. A
//! window indexed twice replaces itself (ids are deterministic), so replay is idempotent.
//!
//! A session's long context texts (system prompt, instructions), which every one of its windows
//! repeats, are kept once in `texts.log`, named by SHA-256 in the window lines and synced before
//! them; a replay puts them back (see `SharedTexts`).
//!
//! A window line of at least `COMPRESS_MIN` bytes is stored zlib-compressed (base64, in a line
//! `{"window_id", "session", "zlib"}` that still names its window and session in clear, for
//! prune and for a person with `grep`). A window repeats, compacted, the turns just before it
//! (`context.history`) and the last turn of the window before (its overlap) so that the judge
//! sees a loop or a claim across the boundary; those copies compress to little, and a long
//! session's log grows with what is new (`docs/BENCHMARKS.md`, "Long sessions").
//!
//! Invariant: the log only ever holds whole lines, and a record always starts where the last
//! acknowledged one ended. A line torn by a crash during an append (never acknowledged) is cut
//! off at open; one left by an append that failed (a full disk: some bytes written, then
//! ENOSPC, or a failed sync) is cut off at once, before the error is returned, or else before
//! the next append, which is refused while the cut keeps failing. Without the cut, the next
//! acknowledged window would be glued to the partial bytes and dropped as a bad line at replay.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use flate2::{read::ZlibDecoder, write::ZlibEncoder, Compression};
use model::Window;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Append-only JSON Lines of windows, `windows.log` in the data directory.
#[derive(Debug)]
pub struct WindowLog {
    path: PathBuf,
    file: File,
    /// The end of the last acknowledged record.
    len: u64,
    /// A failed append left bytes after `len` that could not be cut off yet.
    torn: bool,
    texts: SharedTexts,
}

/// Context texts at least this long are stored once, in `texts.log`.
const SHARED_TEXT_MIN: usize = 1024;

/// Window lines at least this long are stored compressed (a short one gains little).
const COMPRESS_MIN: usize = 2048;

/// A decompressed line larger than this is damage, not a window (the API refuses bodies over
/// `max_body_bytes`, 32 MiB by default); reading stops there and the line is counted as bad.
const INFLATED_MAX: u64 = 1 << 30;

/// The long context texts every window of a session repeats (its system prompt and
/// instructions, often tens of KB): stored once each in `texts.log` (JSON Lines
/// `{"sha256", "text"}`, synced before the windows that refer to them), and named by their
/// SHA-256 in the window lines, so the log grows with what is new, not with windows × prompt.
#[derive(Debug)]
struct SharedTexts {
    path: PathBuf,
    file: File,
    known: HashSet<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedText {
    sha256: String,
    text: String,
}

/// A window line whose long context texts are in `texts.log`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    window: Window,
    texts: TextRefs,
}

/// A long window line, compressed: the line (a window or a [`Stored`]) as zlib, in base64.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Compressed<'a> {
    #[serde(borrow)]
    window_id: Cow<'a, str>,
    #[serde(borrow)]
    session: Cow<'a, str>,
    zlib: Cow<'a, str>,
}

impl Compressed<'_> {
    /// `json`, compressed, as the line to store.
    fn write(w: &Window, json: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut z = ZlibEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
        let deflated = z.write_all(json).and_then(|()| z.finish());
        // Into memory: cannot fail short of allocation, which aborts.
        let deflated = deflated.map_err(|source| Error::Io { op: "compress", path: "windows.log".into(), source })?;
        let line = Compressed {
            window_id: Cow::Borrowed(&w.window_id),
            session: Cow::Borrowed(&w.session),
            zlib: Cow::Owned(base64::engine::general_purpose::STANDARD.encode(deflated)),
        };
        serde_json::to_writer(out, &line)
            .map_err(|source| Error::Json { context: format!("serialise window `{}`", w.window_id), source })
    }

    /// The line it holds; `None` when it does not decompress (damage).
    fn inflate(&self) -> Option<String> {
        let deflated = base64::engine::general_purpose::STANDARD.decode(self.zlib.as_bytes()).ok()?;
        let mut json = String::new();
        ZlibDecoder::new(deflated.as_slice()).take(INFLATED_MAX).read_to_string(&mut json).ok()?;
        Some(json)
    }
}

/// A log line as its window JSON (a window, or a [`Stored`] when its texts are in `texts.log`):
/// decompressed when it was stored compressed. `None` for a line that does not decompress.
fn plain(line: &str) -> Option<Cow<'_, str>> {
    if !line.ends_with("\"}") || !line.contains("\"zlib\":\"") {
        return Some(Cow::Borrowed(line));
    }
    match serde_json::from_str::<Compressed>(line) {
        Ok(c) => c.inflate().map(Cow::Owned),
        Err(_) => Some(Cow::Borrowed(line)),
    }
}

/// Each line of `dir/windows.log` as its window JSON (decompressed), for tests.
#[cfg(test)]
fn read_lines(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("windows.log");
    let file = File::open(&path).map_err(|source| Error::Io { op: "open", path: path.clone(), source })?;
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|source| Error::Io { op: "read", path: path.clone(), source })?;
        out.push(plain(&line).map_or(line.clone(), Cow::into_owned));
    }
    Ok(out)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextRefs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
}

impl SharedTexts {
    fn open(dir: &Path) -> Result<SharedTexts> {
        let path = dir.join("texts.log");
        let file = open_log(&path)?;
        let mut known = HashSet::new();
        let reader =
            BufReader::new(File::open(&path).map_err(|source| Error::Io { op: "open", path: path.clone(), source })?);
        for line in reader.lines().map_while(std::result::Result::ok) {
            if let Ok(t) = serde_json::from_str::<SharedText>(&line) {
                known.insert(t.sha256);
            }
        }
        Ok(SharedTexts { path, file, known })
    }

    /// Every stored text by its hash (for a replay).
    fn read_all(&self) -> Result<HashMap<String, String>> {
        let file =
            File::open(&self.path).map_err(|source| Error::Io { op: "open", path: self.path.clone(), source })?;
        Ok(BufReader::new(file)
            .lines()
            .map_while(std::result::Result::ok)
            .filter_map(|l| serde_json::from_str::<SharedText>(&l).ok())
            .map(|t| (t.sha256, t.text))
            .collect())
    }

    /// `w` as its log line: long texts taken out (and stored first when new), compressed
    /// when long.
    fn line(&mut self, w: &Window, out: &mut Vec<u8>, new: &mut Vec<SharedText>) -> Result<()> {
        let mut json = Vec::new();
        self.json(w, &mut json, new)?;
        if json.len() < COMPRESS_MIN {
            out.extend_from_slice(&json);
            return Ok(());
        }
        Compressed::write(w, &json, out)
    }

    /// `w` as JSON, long texts taken out (and stored first when new).
    fn json(&mut self, w: &Window, out: &mut Vec<u8>, new: &mut Vec<SharedText>) -> Result<()> {
        let long = |t: &Option<String>| t.as_ref().filter(|t| t.len() >= SHARED_TEXT_MIN).is_some();
        let json = |e| Error::Json { context: format!("serialise window `{}`", w.window_id), source: e };
        if !long(&w.context.system_prompt) && !long(&w.context.instructions) {
            return serde_json::to_writer(&mut *out, w).map_err(json);
        }
        let mut window = w.clone();
        let mut texts = TextRefs::default();
        for (slot, refer) in [
            (&mut window.context.system_prompt, &mut texts.system_prompt),
            (&mut window.context.instructions, &mut texts.instructions),
        ] {
            if let Some(text) = slot.take_if(|t| t.len() >= SHARED_TEXT_MIN) {
                let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
                if self.known.insert(sha256.clone()) {
                    new.push(SharedText { sha256: sha256.clone(), text });
                }
                *refer = Some(sha256);
            }
        }
        serde_json::to_writer(&mut *out, &Stored { window, texts }).map_err(json)
    }
}

/// Opens (or creates) an append-only log, cut back to its last whole line.
fn open_log(path: &Path) -> Result<File> {
    let io = |op: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    let mut file = OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io("open"))?;
    let len = whole_lines_len(&mut file).map_err(io("read"))?;
    if len < file.metadata().map_err(io("stat"))?.len() {
        file.set_len(len).map_err(io("truncate"))?;
        file.sync_all().map_err(io("sync"))?;
    }
    Ok(file)
}

/// What an append needs of its file; a test puts a failing one in.
trait LogFile: Write {
    fn sync(&mut self) -> std::io::Result<()>;
    fn cut(&mut self, len: u64) -> std::io::Result<()>;
}

impl LogFile for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }

    fn cut(&mut self, len: u64) -> std::io::Result<()> {
        // Appends go to the end of the file (`O_APPEND`): after this, to `len`.
        self.set_len(len)?;
        self.sync_data()
    }
}

/// The step of an append that failed.
#[derive(Debug)]
struct AppendError {
    op: &'static str,
    source: std::io::Error,
    /// Whether the partial bytes could be cut off.
    cut: bool,
}

/// Appends `buf` to a file whose records end at `len` and syncs it. On failure cuts the file
/// back to `len`, so that the next record starts clean.
fn append_whole(file: &mut impl LogFile, len: u64, buf: &[u8]) -> Result<(), AppendError> {
    let written = file.write_all(buf).map_err(|e| ("append to", e));
    let synced = written.and_then(|()| file.sync().map_err(|e| ("sync", e)));
    synced.map_err(|(op, source)| AppendError { op, source, cut: file.cut(len).is_ok() })
}

/// What a replay read.
#[derive(Debug, Default)]
pub struct Replay {
    pub windows: Vec<Window>,
    /// Lines that did not parse as a window (written by another version, or damaged on disk).
    pub bad_lines: u64,
}

impl WindowLog {
    /// Opens (or creates) `dir/windows.log`, cutting off a torn last line.
    pub fn open(dir: &Path) -> Result<WindowLog> {
        let path = dir.join("windows.log");
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        let mut file =
            OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io("open", &path))?;
        let len = whole_lines_len(&mut file).map_err(io("read", &path))?;
        let on_disk = file.metadata().map_err(io("stat", &path))?.len();
        if len < on_disk {
            file.set_len(len).map_err(io("truncate", &path))?;
            file.sync_all().map_err(io("sync", &path))?;
        }
        let texts = SharedTexts::open(dir)?;
        Ok(WindowLog { path, file, len, torn: false, texts })
    }

    /// The log's length in bytes: the offset an index commit records.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the windows and syncs; when this returns Ok, they are durable. When it returns
    /// an error none of them is in the log (see the module's invariant).
    pub fn append(&mut self, windows: &[Window]) -> Result<u64> {
        let mut buf = Vec::new();
        let mut new_texts = Vec::new();
        for w in windows {
            self.texts.line(w, &mut buf, &mut new_texts)?;
            buf.push(b'\n');
        }
        let io = |op: &'static str| {
            let path = self.path.clone();
            move |source| Error::Io { op, path, source }
        };
        if !new_texts.is_empty() {
            // The texts are durable before any window that names them. A failure here leaves
            // at most texts no window names (harmless); they are forgotten so a retry writes them.
            let mut tbuf = Vec::new();
            for t in &new_texts {
                serde_json::to_writer(&mut tbuf, t)
                    .map_err(|source| Error::Json { context: "serialise a shared text".into(), source })?;
                tbuf.push(b'\n');
            }
            let tlen = self.texts.file.metadata().map(|m| m.len()).unwrap_or(0);
            if let Err(e) = append_whole(&mut self.texts.file, tlen, &tbuf) {
                for t in &new_texts {
                    self.texts.known.remove(&t.sha256);
                }
                let path = self.texts.path.clone();
                return Err(Error::Io { op: e.op, path, source: e.source });
            }
        }
        if self.torn {
            self.file.cut(self.len).map_err(io("cut a failed append off"))?;
            self.torn = false;
        }
        if let Err(e) = append_whole(&mut self.file, self.len, &buf) {
            self.torn = !e.cut;
            return Err(io(e.op)(e.source));
        }
        self.len += buf.len() as u64;
        Ok(self.len)
    }

    /// Puts `rw` in place of the log: appends to it what the log gained since it was made,
    /// syncs it and renames it over the log. Returns the new length. Hold the log (no appends)
    /// from here until the index knows the new offsets (see `Analyzer::prune`).
    pub fn finish_rewrite(&mut self, mut rw: Rewrite) -> Result<(Rewrite, u64)> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        let mut tail = File::open(&self.path).map_err(io("open", &self.path))?;
        tail.seek(SeekFrom::Start(rw.upto)).map_err(io("seek in", &self.path))?;
        std::io::copy(&mut tail.take(self.len.saturating_sub(rw.upto)), &mut rw.file)
            .map_err(io("copy to", &rw.tmp))?;
        rw.file.sync_all().map_err(io("sync", &rw.tmp))?;
        let len = rw.file.metadata().map_err(io("stat", &rw.tmp))?.len();
        Ok((rw, len))
    }

    /// The last step of a prune: the rewritten log takes the log's place.
    pub fn replace(&mut self, rw: Rewrite, len: u64) -> Result<()> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        std::fs::rename(&rw.tmp, &self.path).map_err(io("rename over", &self.path))?;
        if let Some(dir) = self.path.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        self.file = OpenOptions::new().read(true).append(true).open(&self.path).map_err(io("open", &self.path))?;
        self.len = len;
        self.torn = false;
        Ok(())
    }

    /// The windows written at or after byte `offset`.
    pub fn replay_from(&self, offset: u64) -> Result<Replay> {
        let io = |op: &'static str| {
            let path = self.path.clone();
            move |source| Error::Io { op, path, source }
        };
        let mut file = File::open(&self.path).map_err(io("open"))?;
        file.seek(SeekFrom::Start(offset.min(self.len))).map_err(io("seek in"))?;
        let mut replay = Replay::default();
        let mut reader = BufReader::new(file.take(self.len.saturating_sub(offset)));
        let mut line = String::new();
        let mut texts: Option<HashMap<String, String>> = None;
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(io("read"))? == 0 {
                break;
            }
            let Some(line) = plain(line.trim_end()) else {
                replay.bad_lines += 1;
                continue;
            };
            let line = line.as_ref();
            if !line.starts_with("{\"window\":") {
                match serde_json::from_str::<Window>(line) {
                    Ok(w) => replay.windows.push(w),
                    Err(_) => replay.bad_lines += 1,
                }
                continue;
            }
            let Ok(Stored { mut window, texts: refs }) = serde_json::from_str::<Stored>(line) else {
                replay.bad_lines += 1;
                continue;
            };
            let texts = match &texts {
                Some(t) => t,
                None => texts.insert(self.texts.read_all()?),
            };
            let mut whole = true;
            for (slot, refer) in [
                (&mut window.context.system_prompt, refs.system_prompt),
                (&mut window.context.instructions, refs.instructions),
            ] {
                if let Some(sha) = refer {
                    *slot = texts.get(&sha).cloned();
                    whole &= slot.is_some();
                }
            }
            // A window whose texts are gone would be analysed without its persona: not replayed.
            if whole {
                replay.windows.push(window);
            } else {
                replay.bad_lines += 1;
            }
        }
        Ok(replay)
    }
}

/// The log copied without some sessions, up to where it was scanned; [`WindowLog::replace`]
/// adds what was appended since and puts it in place of the log.
#[derive(Debug)]
pub struct Rewrite {
    tmp: PathBuf,
    file: File,
    /// Where in the log the copy stopped (a line boundary).
    upto: u64,
    /// `(end of a dropped line in the log, bytes dropped up to and including it)`, in order.
    dropped: Vec<(u64, u64)>,
    pub windows_dropped: u64,
}

impl Rewrite {
    pub fn bytes_dropped(&self) -> u64 {
        self.dropped.last().map_or(0, |d| d.1)
    }

    /// Where the record at `offset` of the log (a line boundary) is in the rewritten one.
    pub fn moved(&self, offset: u64) -> u64 {
        let i = self.dropped.partition_point(|(end, _)| *end <= offset);
        offset - if i == 0 { 0 } else { self.dropped[i - 1].1 }
    }
}

/// The log's bytes per session, up to `upto` (what a size cap weighs).
pub fn session_bytes(dir: &Path, upto: u64) -> Result<HashMap<String, u64>> {
    let mut out: HashMap<String, u64> = HashMap::new();
    scan(dir, upto, |session, line| {
        *out.entry(session.to_owned()).or_default() += line.len() as u64;
        Ok(())
    })?;
    Ok(out)
}

/// Copies `dir/windows.log` up to `upto` without the windows of `drop`, to a new file beside
/// it. Appends may go on meanwhile: the log is only ever appended to.
pub fn rewrite_without(dir: &Path, upto: u64, sessions: &HashSet<String>) -> Result<Rewrite> {
    let tmp = dir.join("windows.log.prune");
    let io = |op: &'static str| {
        let path = tmp.clone();
        move |source| Error::Io { op, path, source }
    };
    let mut file = File::create(&tmp).map_err(io("create"))?;
    let mut dropped = Vec::new();
    let (mut at, mut gone, mut windows_dropped) = (0u64, 0u64, 0u64);
    let mut out = std::io::BufWriter::new(&mut file);
    scan(dir, upto, |session, line| {
        at += line.len() as u64;
        if sessions.contains(session) {
            gone += line.len() as u64;
            windows_dropped += 1;
            dropped.push((at, gone));
            Ok(())
        } else {
            out.write_all(line).map_err(io("write"))
        }
    })?;
    out.flush().map_err(io("write"))?;
    drop(out);
    Ok(Rewrite { tmp, file, upto, dropped, windows_dropped })
}

/// Calls `f(session, line)` for each whole line (newline included) of the log before `upto`.
fn scan(dir: &Path, upto: u64, mut f: impl FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        window: Option<Box<Head>>,
    }
    let path = dir.join("windows.log");
    let file = File::open(&path).map_err(|source| Error::Io { op: "open", path: path.clone(), source })?;
    let mut reader = BufReader::new(file.take(upto));
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|source| Error::Io {
            op: "read",
            path: path.clone(),
            source,
        })?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(());
        }
        // A damaged line belongs to no session: it is kept (replay counts it).
        let session = serde_json::from_slice::<Head>(&line)
            .ok()
            .and_then(|h| h.session.or_else(|| h.window.and_then(|w| w.session)))
            .unwrap_or_default();
        f(&session, &line)?;
    }
}

/// The length of the file up to and including its last newline.
fn whole_lines_len(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(seq: u64) -> Window {
        model::testing::window("s", seq, Vec::new())
    }

    /// A session's long system prompt and instructions are stored once, whatever the number
    /// of windows, and every window comes back whole; a short one stays in its line.
    #[test]
    fn long_context_texts_are_stored_once_and_replayed_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = WindowLog::open(dir.path()).expect("open");
        let persona = "You are a careful reviewer. ".repeat(200);
        let with = |seq: u64, instructions: &str| {
            let mut w = window(seq);
            w.context.system_prompt = Some(persona.clone());
            w.context.instructions = Some(instructions.to_owned());
            w
        };
        let windows: Vec<Window> = (0..10).map(|s| with(s, "short")).collect();
        log.append(&windows[..4]).expect("append");
        log.append(&windows[4..]).expect("append");
        let long_instructions = with(10, &"Read AGENTS.md first. ".repeat(100));
        log.append(std::slice::from_ref(&long_instructions)).expect("append");
        let text = std::fs::read_to_string(dir.path().join("windows.log")).expect("read");
        assert!(!text.contains("careful reviewer"), "the prompt is not in the window lines");
        assert_eq!(text.matches("\"short\"").count(), 10, "a short text stays in its line");
        let texts = std::fs::read_to_string(dir.path().join("texts.log")).expect("read");
        assert_eq!(texts.lines().count(), 2, "the prompt and the long instructions, once each");
        drop(log);
        let reopened = WindowLog::open(dir.path()).expect("reopen");
        let mut all = windows.clone();
        all.push(long_instructions);
        assert_eq!(reopened.replay_from(0).expect("replay").windows, all);
        // Texts gone: the windows needing them are counted as bad, not replayed without a persona.
        std::fs::write(dir.path().join("texts.log"), "").expect("empty texts");
        let replay = WindowLog::open(dir.path()).expect("reopen").replay_from(0).expect("replay");
        assert_eq!((replay.windows.len(), replay.bad_lines), (0, 11));
    }

    /// A long window line is stored compressed, still naming its window and session in clear
    /// (prune reads the session from it), and comes back whole; a damaged one is counted.
    #[test]
    fn long_windows_are_stored_compressed_and_replayed_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = WindowLog::open(dir.path()).expect("open");
        let long = |session: &str, seq: u64| {
            let mut w = window(seq);
            w.session = session.into();
            w.window_id = model::window_id(session, seq);
            w.context.cwd = Some(format!("/work/{}", "deep/".repeat(2000)));
            w
        };
        let windows = vec![long("a", 0), window(1), long("b", 2)];
        log.append(&windows).expect("append");
        let text = std::fs::read_to_string(dir.path().join("windows.log")).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("{\"window_id\":\"a:0\",\"session\":\"a\",\"zlib\":\""), "{:.100}", lines[0]);
        assert!(lines[0].len() < 1000, "10 KB of repeats compress to little: {}", lines[0].len());
        assert!(lines[1].starts_with("{\"window_id\":\"s:1\",\"session\":\"s\",\"seq\""), "a short line stays plain");
        assert_eq!(log.replay_from(0).expect("replay").windows, windows);
        assert_eq!(read_lines(dir.path()).expect("lines")[0], serde_json::to_string(&windows[0]).expect("json"));

        // Prune finds the sessions of compressed lines.
        let len = log.len();
        let rw = rewrite_without(dir.path(), len, &HashSet::from(["a".to_string()])).expect("rewrite");
        assert_eq!(rw.windows_dropped, 1);
        let (rw, len) = log.finish_rewrite(rw).expect("finish");
        log.replace(rw, len).expect("replace");
        assert_eq!(log.replay_from(0).expect("replay").windows, windows[1..]);

        // A compressed line whose data is damaged is a bad line, not a panic or a wrong window.
        let damaged = lines[2].replacen("zlib\":\"", "zlib\":\"AAAA", 1);
        std::fs::write(dir.path().join("windows.log"), format!("{}\n{damaged}\n", lines[1])).expect("write");
        let replay = WindowLog::open(dir.path()).expect("reopen").replay_from(0).expect("replay");
        assert_eq!((replay.windows.len(), replay.bad_lines), (1, 1));
    }

    #[test]
    fn appended_windows_replay_from_an_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = WindowLog::open(dir.path()).expect("open");
        let first = log.append(&[window(0), window(1)]).expect("append");
        log.append(&[window(2)]).expect("append");
        let all = log.replay_from(0).expect("replay");
        assert_eq!(all.windows.len(), 3);
        let after = log.replay_from(first).expect("replay");
        assert_eq!(after.windows, vec![window(2)]);
        drop(log);
        let reopened = WindowLog::open(dir.path()).expect("reopen");
        assert_eq!(reopened.replay_from(0).expect("replay").windows.len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = WindowLog::open(dir.path()).expect("open");
        let good = log.append(&[window(0)]).expect("append");
        drop(log);
        let path = dir.path().join("windows.log");
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"window_id\":\"s:1\",\"sess").expect("write");
        drop(f);
        let log = WindowLog::open(dir.path()).expect("reopen");
        assert_eq!(log.len(), good);
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), good);
        let replay = log.replay_from(0).expect("replay");
        assert_eq!((replay.windows.len(), replay.bad_lines), (1, 0));
    }

    /// A file that takes `room` more bytes, then fails as a full disk does; its sync and cut
    /// can be made to fail too.
    #[derive(Default)]
    struct FullDisk {
        bytes: Vec<u8>,
        room: usize,
        fail_sync: bool,
        fail_cut: bool,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room);
            if n == 0 && !buf.is_empty() {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            self.bytes.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LogFile for FullDisk {
        fn sync(&mut self) -> std::io::Result<()> {
            match self.fail_sync {
                true => Err(std::io::Error::other("sync failed")),
                false => Ok(()),
            }
        }

        fn cut(&mut self, len: u64) -> std::io::Result<()> {
            if self.fail_cut {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            self.bytes.truncate(len as usize);
            Ok(())
        }
    }

    /// Regression: an append that failed half-way left its bytes, the next acknowledged window
    /// was glued to them and dropped at replay.
    #[test]
    fn a_failed_append_is_cut_off_so_the_next_record_starts_clean() {
        let line = b"{\"window\":1}\n";
        let mut disk = FullDisk { room: line.len() + 5, ..FullDisk::default() };
        append_whole(&mut disk, 0, line).expect("fits");
        let e = append_whole(&mut disk, line.len() as u64, line).expect_err("full");
        assert_eq!((e.op, e.source.kind(), e.cut), ("append to", std::io::ErrorKind::StorageFull, true));
        assert_eq!(disk.bytes, line, "the 5 bytes that fitted are cut off");

        disk.room = 1 << 10;
        disk.fail_sync = true;
        let e = append_whole(&mut disk, line.len() as u64, line).expect_err("sync fails");
        assert_eq!((e.op, e.cut), ("sync", true));
        assert_eq!(disk.bytes, line, "a record not synced is not kept either");

        disk.fail_sync = false;
        disk.fail_cut = true;
        disk.room = 3;
        let e = append_whole(&mut disk, line.len() as u64, line).expect_err("full");
        assert!(!e.cut, "the caller learns that bytes are left");
    }

    #[test]
    fn an_append_after_a_failed_cut_cuts_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = WindowLog::open(dir.path()).expect("open");
        let good = log.append(&[window(0)]).expect("append");
        // As if an append had failed and left bytes its cut could not remove.
        log.file.write_all(b"{\"window_id\":\"s:1\",\"se").expect("write");
        log.torn = true;
        log.append(&[window(1)]).expect("append cuts first");
        assert!(!log.torn);
        let replay = log.replay_from(0).expect("replay");
        assert_eq!((replay.windows.len(), replay.bad_lines), (2, 0));
        assert_eq!(log.replay_from(good).expect("replay").windows, vec![window(1)]);
    }

    #[test]
    fn a_damaged_line_is_counted_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("windows.log"), b"not json\n").expect("write");
        let mut log = WindowLog::open(dir.path()).expect("open");
        log.append(&[window(0)]).expect("append");
        let replay = log.replay_from(0).expect("replay");
        assert_eq!((replay.windows.len(), replay.bad_lines), (1, 1));
    }
}
