//! `agentsight ingest TRACE`: a recorded trace replayed into the data directory through the same
//! windows and analyzer as `record --analyze` (`pipeline::replay`), no server needed. Lines that
//! are not events, not UTF-8 or over a cap are skipped and counted, never held whole in memory.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use model::Event;

use crate::config::Config;
use crate::pipeline::{self, Tap};

/// The default cap on one line of a trace given to `ingest`. The collector keeps at most 32 MiB
/// of each HTTP body and an `llm_call` holds a request and a response, JSON-escaped; a longer
/// line is no trace of ours, and is skipped without being read into memory.
pub(crate) const MAX_TRACE_LINE_BYTES: usize = 128 << 20;

/// One line of a trace, as [`read_line`] found it.
#[derive(Debug, PartialEq)]
enum TraceLine {
    /// The line is in the buffer, without its newline.
    Whole,
    /// Over the cap: consumed, not kept; how long it was (newline included).
    Overlong(u64),
}

/// Reads the next line into `buf` (cleared first), keeping at most `max` bytes of it: a longer
/// line is consumed in buffer-sized steps and reported, never held whole. `None` at the end.
fn read_line(reader: &mut impl BufRead, max: usize, buf: &mut Vec<u8>) -> std::io::Result<Option<TraceLine>> {
    buf.clear();
    let (mut seen, mut overlong) = (0u64, false);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let (take, end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = if end { take - 1 } else { take };
        if !overlong && buf.len() + content > max {
            overlong = true;
            *buf = Vec::new();
        }
        if !overlong {
            buf.extend_from_slice(&chunk[..content]);
        }
        seen += take as u64;
        reader.consume(take);
        if end {
            break;
        }
    }
    Ok(match (seen, overlong) {
        (0, _) => None,
        (n, true) => Some(TraceLine::Overlong(n)),
        (_, false) => Some(TraceLine::Whole),
    })
}

/// Lines of a trace that `ingest` skipped, by reason.
#[derive(Debug, Default, PartialEq)]
struct Skipped {
    not_utf8: u64,
    overlong: u64,
    not_event: u64,
}

impl Skipped {
    fn total(&self) -> u64 {
        self.not_utf8 + self.overlong + self.not_event
    }
}

/// What `ingest` read from a trace.
#[derive(Debug, Default)]
struct TraceRead {
    events: u64,
    sessions: std::collections::BTreeSet<String>,
    skipped: Skipped,
}

/// Feeds every event of `trace` to `tap`, skipping (and counting, and naming the first few of)
/// lines that are not valid UTF-8, longer than `max_line`, or not events. Stops at a read
/// error, with what it read so far.
fn read_trace(trace: impl std::io::Read, max_line: usize, tap: &mut Tap) -> (TraceRead, Option<std::io::Error>) {
    let mut reader = BufReader::with_capacity(1 << 20, trace);
    let mut read = TraceRead::default();
    let mut buf = Vec::new();
    let mut n = 0u64;
    let say = |read: &TraceRead, n: u64, why: String| {
        if read.skipped.total() <= 3 {
            eprintln!("agentsight: line {n} {why}");
        }
    };
    loop {
        n += 1;
        let line = match read_line(&mut reader, max_line, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => return (read, None),
            Err(e) => return (read, Some(e)),
        };
        if let TraceLine::Overlong(len) = line {
            read.skipped.overlong += 1;
            say(&read, n, format!("is {len} bytes long, over the {max_line}-byte cap, skipped"));
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(text) => text,
            Err(e) => {
                read.skipped.not_utf8 += 1;
                say(&read, n, format!("is not valid UTF-8 (at byte {}), skipped", e.valid_up_to()));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(text) {
            Ok(mut ev) => {
                fill_derived_fields(&mut ev);
                read.events += 1;
                if !read.sessions.contains(&ev.session) {
                    read.sessions.insert(ev.session.clone());
                }
                tap.push(&ev);
            }
            Err(e) => {
                read.skipped.not_event += 1;
                say(&read, n, format!("is not an event, skipped: {e}"));
            }
        }
    }
}

/// Fields the event contract does not require, derived from those it does when a trace left
/// them out (serde defaulted them).
fn fill_derived_fields(ev: &mut Event) {
    if let model::EventBody::Exec(e) = &mut ev.body {
        if e.argv_bytes == 0 && !e.argv_truncated {
            let bytes: usize = e.argv.iter().map(|a| a.len() + 1).sum();
            e.argv_bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        }
    }
}

/// `agentsight ingest trace.jsonl`: the whole pipeline offline, no server needed. Exits
/// non-zero when nothing could be ingested.
pub(crate) fn ingest(trace: &Path, config: Config, data: &Path, quiet: bool, max_line: usize) -> Result<i32> {
    let mut file = std::fs::File::open(trace).with_context(|| format!("failed to open `{}`", trace.display()))?;
    // A gzip'ed trace (`trace.jsonl.gz`, as the eval sets keep them) is read as it is.
    let mut magic = [0u8; 2];
    let gzip = std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == [0x1f, 0x8b];
    std::io::Seek::rewind(&mut file).with_context(|| format!("failed to read `{}`", trace.display()))?;
    let file: Box<dyn std::io::Read> =
        if gzip { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut replay = pipeline::replay(&config.window, config.analyzer, data)?;
    let (read, read_error) = read_trace(file, max_line, &mut replay.tap);
    let skipped = &read.skipped;
    for (n, why) in [
        (skipped.not_event, "were not events".to_string()),
        (skipped.not_utf8, "were not valid UTF-8".to_string()),
        (skipped.overlong, format!("were longer than {max_line} bytes")),
    ] {
        if n > 0 {
            eprintln!("agentsight: {n} lines {why} and were skipped");
        }
    }
    if read.events == 0 {
        match read_error {
            Some(e) => bail!("failed to read `{}`: {e}", trace.display()),
            None => bail!("`{}` holds no events", trace.display()),
        }
    }
    let session = read.sessions.iter().next().cloned().unwrap_or_default();
    if read.sessions.len() > 1 && !quiet {
        eprintln!(
            "agentsight: {} sessions in the trace; findings of the first are shown, `agentsight findings` lists all",
            read.sessions.len()
        );
    }
    // What was read before an error is analysed and committed all the same.
    let totals = replay.stop(&session, quiet)?;
    if let Some(e) = read_error {
        bail!("failed to read `{}` after {} events: {e}", trace.display(), read.events);
    }
    if totals.is_some_and(|t| t.windows == 0) {
        bail!("nothing from `{}` was ingested: every window failed (see above)", trace.display());
    }
    if !quiet {
        eprintln!("agentsight: search it with `agentsight search QUERY --data {}`", data.display());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as `read_line` reported it, with the buffer's bytes.
    type Read = (Option<TraceLine>, Vec<u8>);

    /// Every line of `input` as `read_line` with cap `max` sees it, and the largest buffer it
    /// allocated on the way.
    fn lines(input: &[u8], max: usize) -> (Vec<Read>, usize) {
        // A small buffer, so a line spans many reads.
        let mut reader = BufReader::with_capacity(4, input);
        let (mut out, mut buf, mut largest) = (Vec::new(), Vec::new(), 0);
        loop {
            let line = read_line(&mut reader, max, &mut buf).expect("read");
            largest = largest.max(buf.capacity());
            let end = line.is_none();
            out.push((line, buf.clone()));
            if end {
                return (out, largest);
            }
        }
    }

    #[test]
    fn read_line_keeps_lines_up_to_the_cap_and_skips_longer_ones_unheld() {
        let long = vec![b'x'; 1000];
        let mut input = b"12345678\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n\nlast");
        let (got, largest) = lines(&input, 8);
        assert_eq!(
            got,
            vec![
                (Some(TraceLine::Whole), b"12345678".to_vec()),
                (Some(TraceLine::Overlong(1001)), Vec::new()),
                (Some(TraceLine::Whole), Vec::new()),
                (Some(TraceLine::Whole), b"last".to_vec()),
                (None, Vec::new()),
            ]
        );
        assert!(largest < 64, "the long line was not held: {largest} bytes");
    }

    #[test]
    fn read_line_passes_invalid_utf8_through_as_bytes() {
        let (got, _) = lines(b"a\xffb\n", 100);
        assert_eq!(got[0], (Some(TraceLine::Whole), b"a\xffb".to_vec()));
    }
}
