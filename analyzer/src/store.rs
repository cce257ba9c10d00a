//! The window log: the analyzer's durable record of every window it acknowledged.
//!
//! A window is appended as one JSON line and the file is synced before the collector gets its
//! acknowledgement, so an acknowledged window survives `kill -9`. The tantivy index is committed
//! less often (committing per window would cost a sync of many files); each index commit records
//! the log offset it covers, and at start the windows after that offset are indexed again. A
//! window indexed twice replaces itself (ids are deterministic), so replay is idempotent.
//!
//! Invariant: the log only ever holds whole lines, and a record always starts where the last
//! acknowledged one ended. A line torn by a crash during an append (never acknowledged) is cut
//! off at open; one left by an append that failed (a full disk: some bytes written, then
//! ENOSPC, or a failed sync) is cut off at once, before the error is returned, or else before
//! the next append, which is refused while the cut keeps failing. Without the cut, the next
//! acknowledged window would be glued to the partial bytes and dropped as a bad line at replay.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use model::Window;

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
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        let len = whole_lines_len(&mut file).map_err(io("read", &path))?;
        let on_disk = file.metadata().map_err(io("stat", &path))?.len();
        if len < on_disk {
            file.set_len(len).map_err(io("truncate", &path))?;
            file.sync_all().map_err(io("sync", &path))?;
        }
        Ok(WindowLog { path, file, len, torn: false })
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
        for w in windows {
            serde_json::to_writer(&mut buf, w).map_err(|source| Error::Json {
                context: format!("serialise window `{}`", w.window_id),
                source,
            })?;
            buf.push(b'\n');
        }
        let io = |op: &'static str| {
            let path = self.path.clone();
            move |source| Error::Io { op, path, source }
        };
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
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(io("read"))? == 0 {
                break;
            }
            match serde_json::from_str::<Window>(line.trim_end()) {
                Ok(w) => replay.windows.push(w),
                Err(_) => replay.bad_lines += 1,
            }
        }
        Ok(replay)
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
    use model::CloseReason;

    fn window(seq: u64) -> Window {
        Window {
            window_id: model::window_id("s", seq),
            session: "s".into(),
            seq,
            start_ns: seq,
            end_ns: seq,
            events: Vec::new(),
            overlap_events: 0,
            context: Default::default(),
            links: Vec::new(),
            closed_by: CloseReason::Turns,
        }
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
