//! The writer stage: where recorded events go (JSON Lines in a file, or a live readable stream
//! on stdout). It runs on its own thread behind the collector's bounded channel, keeps the
//! summary and process tree that `record` prints at the end, and feeds the window tap; it stops
//! when the capture closes the channel.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use analyzer::tree::human_duration;
use analyzer::{ProcessTree, Summary};
use anyhow::{anyhow, Context, Result};
use model::Event;

use super::backend::Tap;
use crate::pretty::Pretty;

/// Process tree lines in a recording's summary at most.
const TREE_LINES: usize = 60;

/// An output for events.
pub(super) enum Sink {
    /// One JSON object per line (`-o FILE`, `-o -` for stdout).
    Jsonl { out: Box<BufWriter<Box<dyn Write + Send>>>, path: Option<PathBuf> },
    /// One readable line per event on stdout; noise (`analyzer::view::is_noise`: reads of
    /// libraries and system files, failed lookups, caches, a shell's `/dev/null`) is left out
    /// unless `verbose`: hundreds per interpreter start, saying little. The session view folds
    /// the same events.
    Pretty { out: BufWriter<io::Stdout>, pretty: Pretty, flush_each: bool, verbose: bool },
    /// No per-event output (`collect`: the windows are what matters).
    Discard,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Jsonl { path, .. } => f.debug_struct("Jsonl").field("path", path).finish_non_exhaustive(),
            Sink::Pretty { pretty, .. } => f.debug_struct("Pretty").field("pretty", pretty).finish_non_exhaustive(),
            Sink::Discard => f.write_str("Discard"),
        }
    }
}

impl Sink {
    /// `-o PATH` (or `-`), or the live stream when `path` is `None`.
    pub(super) fn open(path: Option<PathBuf>, verbose: bool) -> Result<Self> {
        match path {
            Some(p) if p.as_os_str() == "-" => {
                let out: Box<dyn Write + Send> = Box::new(io::stdout());
                Ok(Sink::Jsonl { out: Box::new(BufWriter::new(out)), path: None })
            }
            Some(p) => {
                let file = File::create(&p).with_context(|| format!("failed to create `{}`", p.display()))?;
                let out: Box<dyn Write + Send> = Box::new(file);
                Ok(Sink::Jsonl { out: Box::new(BufWriter::with_capacity(1 << 16, out)), path: Some(p) })
            }
            None => {
                let tty = io::stdout().is_terminal();
                Ok(Sink::Pretty {
                    out: BufWriter::new(io::stdout()),
                    pretty: Pretty::new(crate::pretty::stdout_color()),
                    flush_each: tty,
                    verbose,
                })
            }
        }
    }

    /// The file the trace goes to, if any.
    pub(super) fn path(&self) -> Option<&PathBuf> {
        match self {
            Sink::Jsonl { path, .. } => path.as_ref(),
            Sink::Pretty { .. } | Sink::Discard => None,
        }
    }

    /// Write one event; `Ok(false)` when the view leaves it out on purpose.
    fn write(&mut self, ev: &Event) -> io::Result<bool> {
        match self {
            Sink::Jsonl { out, .. } => {
                serde_json::to_writer(&mut **out, ev)?;
                out.write_all(b"\n")?;
                Ok(true)
            }
            Sink::Pretty { out, pretty, flush_each, verbose } => {
                if !*verbose && analyzer::view::is_noise(ev) {
                    return Ok(false);
                }
                writeln!(out, "{}", pretty.line(ev))?;
                if *flush_each {
                    out.flush()?;
                }
                Ok(true)
            }
            Sink::Discard => Ok(false),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Jsonl { out, .. } => out.flush(),
            Sink::Pretty { out, .. } => out.flush(),
            Sink::Discard => Ok(()),
        }
    }
}

/// What the writer saw.
#[derive(Debug, Default)]
pub(super) struct Written {
    pub summary: Summary,
    pub tree: ProcessTree,
    /// Events that could not be written because the output failed (a full disk, a closed pipe).
    pub unwritten: u64,
    /// Events the live view left out on purpose (noise, see [`Sink::Pretty`]).
    pub hidden: u64,
    pub error: Option<String>,
    /// The file the trace went to, if any.
    pub output: Option<PathBuf>,
}

impl Written {
    /// What the writer saw, as `record` prints it at the end: the summary, the trace's file and
    /// the process tree, or with `quiet` only the losses; and an output failure.
    pub(super) fn report(&self, session: &str, elapsed: Duration, quiet: bool) -> String {
        let s = &self.summary;
        let mut out = String::new();
        if !quiet {
            out.push_str(&format!(
                "agentsight: session {session}: {} events in {}, {}\n",
                s.events(),
                human_duration(elapsed.as_nanos() as u64),
                s.losses_line()
            ));
            if s.events() > 0 {
                out.push_str(&format!("  {}\n", s.kinds_line()));
            }
            if s.truncated > 0 {
                out.push_str(&format!(
                    "  {} events had a field cut at its cap (marked `truncated` in the trace)\n",
                    s.truncated
                ));
            }
            if self.hidden > 0 {
                out.push_str(&format!(
                    "  {} reads of libraries and system files, failed lookups and cache files are not shown above (`--verbose` shows them; `-o` keeps all)\n",
                    self.hidden
                ));
            }
            if let Some(path) = &self.output {
                out.push_str(&format!("agentsight: trace written to {}\n", path.display()));
            }
            if !self.tree.is_empty() {
                out.push_str(&format!("process tree:\n{}", self.tree.render(TREE_LINES)));
            }
        } else if s.lost() > 0 {
            out.push_str(&format!("agentsight: {}\n", s.losses_line()));
        }
        if let Some(err) = &self.error {
            out.push_str(&format!("agentsight: output failed ({err}); {} events were not written\n", self.unwritten));
        }
        out
    }
}

/// The writer thread.
#[derive(Debug)]
pub(crate) struct Writer {
    thread: JoinHandle<Written>,
}

impl Writer {
    /// Starts the thread that [`drain`]s `rx`.
    pub(super) fn spawn(sink: Sink, rx: Receiver<Vec<Event>>, tap: Option<Tap>) -> Result<Writer> {
        let thread = std::thread::Builder::new()
            .name("agentsight-writer".into())
            .spawn(move || drain(sink, rx, tap))
            .context("failed to start the writer thread")?;
        Ok(Writer { thread })
    }

    /// Waits for the writer to drain the channel (call after the capture stopped, which closes it).
    pub(super) fn join(self) -> Result<Written> {
        self.thread.join().map_err(|_| anyhow!("the writer thread panicked"))
    }
}

/// Drain `rx` into `sink` (and the window tap, if any) until the collector closes the channel.
fn drain(mut sink: Sink, rx: Receiver<Vec<Event>>, mut tap: Option<Tap>) -> Written {
    let mut w = Written { output: sink.path().cloned(), ..Written::default() };
    loop {
        let batch = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(batch) => batch,
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        for ev in &batch {
            write_one(&mut sink, &mut w, ev);
            if let Some(tap) = tap.as_mut() {
                tap.push(ev);
            }
        }
        if let Some(tap) = tap.as_mut() {
            tap.tick();
        }
    }
    if let Some(tap) = tap {
        tap.finish();
    }
    if let Err(err) = sink.flush() {
        w.error.get_or_insert(err.to_string());
    }
    w
}

fn write_one(sink: &mut Sink, w: &mut Written, ev: &Event) {
    {
        w.summary.push(ev);
        w.tree.push(ev);
        if w.error.is_some() {
            w.unwritten += 1;
            return;
        }
        match sink.write(ev) {
            Ok(true) => {}
            Ok(false) if matches!(sink, Sink::Discard) => {}
            Ok(false) => w.hidden += 1,
            Err(err) => {
                w.unwritten += 1;
                w.error = Some(err.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use model::{EventBody, FileEvent, FileOp};

    use super::*;

    fn open(path: &str, flags: u32, result: i64) -> Event {
        let f = FileEvent { flags: Some(flags), ..FileEvent::new(FileOp::Open, path, result) };
        Event {
            ts_ns: 1,
            session: "s".into(),
            pid: 7,
            tid: 7,
            ppid: 1,
            comm: "python3".into(),
            body: EventBody::File(f),
        }
    }

    /// The live view folds what the session view folds (`analyzer::view::is_noise`), beyond
    /// the system prefixes: failed lookups in the project, `> /dev/null`, bytecode caches.
    #[test]
    fn the_live_view_folds_the_session_views_noise_and_counts_it() {
        let noise = [
            open("/usr/lib/python3.12/os.py", 0, 3),
            open("/work/package.json", 0, -2),
            open("/dev/null", 0o1101, 3),
            open("/work/__pycache__/m.cpython-312.pyc", 0o1101, 4),
            open("/home/u/.venv/lib/python3.12/site-packages/x.py", 0, 3),
        ];
        let mut sink = Sink::Pretty {
            out: BufWriter::new(io::stdout()),
            pretty: Pretty::new(false),
            flush_each: false,
            verbose: false,
        };
        let mut w = Written::default();
        for ev in &noise {
            write_one(&mut sink, &mut w, ev);
        }
        assert_eq!(w.hidden, noise.len() as u64);
        let Sink::Pretty { out, .. } = &sink else { unreachable!() };
        assert!(out.buffer().is_empty(), "nothing was printed");
        assert_eq!(w.summary.events(), noise.len() as u64, "folded events still count in the summary");
        for kept in [open("/work/src/main.py", 0, 3), open("/etc/hosts", 0o1101, 3)] {
            assert!(!analyzer::view::is_noise(&kept), "{kept:?}");
        }
    }

    /// The closing report says what the writer saw, and with `--quiet` only what went wrong.
    #[test]
    fn the_report_names_the_trace_file_and_quiet_keeps_only_failures() {
        let mut w = Written { output: Some(PathBuf::from("trace.jsonl")), ..Written::default() };
        w.summary.push(&open("/work/src/main.py", 0, 3));
        let text = w.report("s1", Duration::from_secs(2), false);
        assert!(text.starts_with("agentsight: session s1: 1 events in "), "{text}");
        assert!(text.contains("agentsight: trace written to trace.jsonl\n"), "{text}");
        assert_eq!(w.report("s1", Duration::from_secs(2), true), "", "nothing lost, nothing failed");
        w.error = Some("No space left on device".into());
        w.unwritten = 3;
        assert_eq!(
            w.report("s1", Duration::from_secs(2), true),
            "agentsight: output failed (No space left on device); 3 events were not written\n"
        );
    }
}
