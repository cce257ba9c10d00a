//! Shipping windows to an analyzer (`agentsight collect --ship URL`).
//!
//! Windows arrive on a bounded channel (a full channel holds the capture back, and the kernel
//! ring buffer counts what it cannot hold). They are POSTed in batches, gzipped, to
//! `URL/v1/windows`. While the analyzer is away, every window goes to an on-disk spool (one file
//! per window, written then renamed, so a file is whole or absent) and is sent, oldest first,
//! when the analyzer answers again; retries back off exponentially. A spool left by an earlier
//! run is sent first. Window ids are deterministic, so a batch sent twice (the analyzer stored
//! it, then died before answering) is stored once.
//!
//! Nothing is dropped silently, and no window is given up for a fault that is not its own:
//! - a window the analyzer refuses (a 4xx other than those below) is moved to `spool/rejected/`
//!   and counted;
//! - 413 is the batch's size, not its windows' fault: the batch is split in halves, down to
//!   single windows, and only a single window still too large is rejected;
//! - 401/403 is the token's fault: shipping stops at the first one, every window stays in (or
//!   goes to) the spool for a run with the right token, and the report carries the error so that
//!   `collect` fails loudly;
//! - a window that does not fit the spool's size cap is counted;
//! - a spool entry that is not a regular file (a FIFO, a device, a symlink, a directory) or does
//!   not hold a window is moved to `spool/damaged/` and counted, never deleted.
//!
//! The spool is only touched on tokio's blocking pool, and read with `O_NONBLOCK | O_NOFOLLOW`
//! after its file type is checked without opening it: a FIFO put in the spool cannot block a
//! read, and so cannot hang `collect` (or make it deaf to Ctrl-C) at its end.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use model::backoff::Backoff;
use model::Window;
use rustix::fs::OFlags;
use tokio::sync::mpsc;

use crate::Error;

/// Where the spool is when neither `ship.spool_dir` nor `collect --spool` says.
pub const DEFAULT_SPOOL_DIR: &str = "/var/spool/agentsight";

/// Where and how to ship. Its tunables are the configuration file's `[ship]` table (durations
/// as `*_ms` numbers there); `url` and `token` are given per run (`collect --ship URL`, the
/// token's environment variable), never read from a file.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShipConfig {
    /// The analyzer's base URL, e.g. `http://10.0.0.5:7395`.
    #[serde(skip)]
    pub url: String,
    /// The spool directory (created if missing).
    pub spool_dir: PathBuf,
    /// Sent as `Authorization: Bearer` when set.
    #[serde(skip)]
    pub token: Option<String>,
    /// Windows per request.
    pub batch: usize,
    /// The spool's size cap in bytes.
    pub max_spool_bytes: u64,
    #[serde(rename = "timeout_ms", deserialize_with = "millis")]
    pub timeout: Duration,
    #[serde(rename = "backoff_min_ms", deserialize_with = "millis")]
    pub backoff_min: Duration,
    #[serde(rename = "backoff_max_ms", deserialize_with = "millis")]
    pub backoff_max: Duration,
}

impl Default for ShipConfig {
    fn default() -> Self {
        ShipConfig::new(String::new(), DEFAULT_SPOOL_DIR)
    }
}

/// A duration written as a whole number of milliseconds.
fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
}

impl ShipConfig {
    pub fn new(url: impl Into<String>, spool_dir: impl Into<PathBuf>) -> Self {
        ShipConfig {
            url: url.into(),
            spool_dir: spool_dir.into(),
            token: None,
            batch: 32,
            max_spool_bytes: 1 << 30,
            timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
        }
    }

    /// Checks the tunables, naming the key at fault (the caller names the table, `[ship]`);
    /// `build` checks the URL.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: &str| Err(Error::Ship(msg.to_owned()));
        if self.batch == 0 {
            return bad("`batch` must be at least 1");
        }
        if self.timeout.is_zero() {
            return bad("`timeout_ms` must be at least 1");
        }
        if self.backoff_min.is_zero() {
            return bad("`backoff_min_ms` must be at least 1");
        }
        if self.backoff_max < self.backoff_min {
            return bad("`backoff_max_ms` must be at least `backoff_min_ms`");
        }
        if self.spool_dir.as_os_str().is_empty() {
            return bad("`spool_dir` is empty");
        }
        Ok(())
    }

    pub fn build(self) -> Result<Shipper, Error> {
        let base = self.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Ship(format!("`{}` is not an http(s) URL", self.url)));
        }
        for dir in [REJECTED, DAMAGED] {
            let dir = self.spool_dir.join(dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::Ship(format!("failed to create spool `{}`: {e}", dir.display())))?;
        }
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::Ship(format!("failed to build the HTTP client: {e}")))?;
        let counters = Arc::new(ShipCounters::default());
        let spool = Spool::open(&self.spool_dir, self.max_spool_bytes, counters.clone())?;
        Ok(Shipper {
            endpoint: format!("{base}/v1/windows"),
            config: self,
            client,
            spool: Arc::new(Mutex::new(spool)),
            counters,
        })
    }
}

/// Windows the analyzer refused, under the spool.
const REJECTED: &str = "rejected";
/// Spool entries that hold no window (not a regular file, unreadable, not JSON), under the spool.
const DAMAGED: &str = "damaged";

/// What shipping did; shared with whoever reports it.
#[derive(Debug, Default)]
pub struct ShipCounters {
    pub sent: AtomicU64,
    pub requests: AtomicU64,
    pub failed_requests: AtomicU64,
    pub spooled: AtomicU64,
    pub rejected: AtomicU64,
    pub dropped_spool_full: AtomicU64,
    /// Spool entries moved to `spool/damaged/`.
    pub damaged: AtomicU64,
    /// Why the last failed request failed (for the person wondering where the windows are).
    pub last_error: std::sync::Mutex<Option<String>>,
}

/// The shipping stage.
#[derive(Debug)]
pub struct Shipper {
    config: ShipConfig,
    endpoint: String,
    client: reqwest::Client,
    /// Used on the blocking pool only (see [`Shipper::with_spool`]); the lock is never contended.
    spool: Arc<Mutex<Spool>>,
    counters: Arc<ShipCounters>,
}

/// How shipping ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipReport {
    pub sent: u64,
    /// Why the last failed request failed, if one did.
    pub last_error: Option<String>,
    pub rejected: u64,
    pub dropped_spool_full: u64,
    /// Spool entries moved to `spool/damaged/` (not a regular file, or no window in it).
    pub damaged: u64,
    /// Windows still in the spool (the analyzer was away at the end): sent by the next run.
    pub left_in_spool: usize,
    /// The analyzer refused the token (401/403): shipping stopped there and every window not
    /// sent is in the spool. The caller should fail.
    pub auth_error: Option<String>,
}

enum Sent {
    Ok,
    /// The analyzer refused the batch for good (4xx other than 401/403/408/413/429).
    Rejected(String),
    /// 413: the batch is too large; a smaller one may pass.
    TooLarge(String),
    /// 401/403: the token is wrong, not the windows.
    Auth(String),
    /// Try again later.
    Failed(String),
}

/// What became of one window of a batch.
enum Fate {
    Sent,
    Rejected(String),
}

/// Why the rest of a batch was not sent.
enum Stop {
    /// Try again later.
    Failed,
    Auth(String),
}

impl Shipper {
    pub fn counters(&self) -> Arc<ShipCounters> {
        self.counters.clone()
    }

    /// Ships until `rx` closes, then tries once more to empty the spool within `drain_for`.
    /// After an auth error nothing more is sent: windows go to the spool until `rx` closes.
    pub async fn run(self, mut rx: mpsc::Receiver<Window>, drain_for: Duration) -> ShipReport {
        let backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let mut delays = backoff.delays();
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut pending: VecDeque<Window> = VecDeque::new();
        let mut open = true;
        let mut auth_error: Option<String> = None;
        while open || !pending.is_empty() {
            if open {
                let wait = retry_at.map(tokio::time::sleep_until);
                tokio::select! {
                    w = rx.recv() => match w {
                        Some(w) => pending.push_back(w),
                        None => open = false,
                    },
                    _ = async { if let Some(s) = wait { s.await } else { std::future::pending().await } } => {}
                }
                while pending.len() < self.config.batch {
                    match rx.try_recv() {
                        Ok(w) => pending.push_back(w),
                        Err(_) => break,
                    }
                }
            }
            let backing_off = retry_at.is_some_and(|t| tokio::time::Instant::now() < t);
            if (backing_off || auth_error.is_some()) && open {
                self.spill(&mut pending).await;
                continue;
            }
            if !open {
                break;
            }
            match self.send_all(&mut pending).await {
                Ok(()) => {
                    delays = backoff.delays();
                    retry_at = None;
                }
                Err(Stop::Failed) => {
                    self.spill(&mut pending).await;
                    retry_at = Some(tokio::time::Instant::now() + delays.next_wait());
                }
                Err(Stop::Auth(why)) => {
                    self.spill(&mut pending).await;
                    auth_error = Some(why);
                    retry_at = None;
                }
            }
        }
        // The input is closed: everything left goes through the spool, tried until `drain_for`.
        self.spill(&mut pending).await;
        let deadline = tokio::time::Instant::now() + drain_for;
        let mut delays = backoff.delays();
        while auth_error.is_none() && self.spool_len() > 0 && tokio::time::Instant::now() < deadline {
            match self.send_all(&mut pending).await {
                Ok(()) => break,
                Err(Stop::Auth(why)) => auth_error = Some(why),
                Err(Stop::Failed) => {
                    let wait = delays.next_wait();
                    tokio::time::sleep(wait.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
                }
            }
        }
        ShipReport {
            sent: self.counters.sent.load(Relaxed),
            last_error: self.counters.last_error.lock().ok().and_then(|l| l.clone()),
            rejected: self.counters.rejected.load(Relaxed),
            dropped_spool_full: self.counters.dropped_spool_full.load(Relaxed),
            damaged: self.counters.damaged.load(Relaxed),
            left_in_spool: self.spool_len(),
            auth_error,
        }
    }

    /// Sends the spool (oldest first), then `pending`; stops at the first failure.
    async fn send_all(&self, pending: &mut VecDeque<Window>) -> Result<(), Stop> {
        let batch = self.config.batch;
        loop {
            let windows = self.with_spool(move |s| s.oldest(batch)).await.unwrap_or_default();
            if windows.is_empty() {
                break;
            }
            let (fates, stop) = self.deliver(&windows).await;
            self.count(&fates);
            self.with_spool(move |s| s.settle(&fates)).await;
            if let Some(stop) = stop {
                return Err(stop);
            }
        }
        while !pending.is_empty() {
            let n = pending.len().min(batch);
            let windows: Vec<Window> = pending.iter().take(n).cloned().collect();
            let (fates, stop) = self.deliver(&windows).await;
            self.count(&fates);
            let done: Vec<Window> = pending.drain(..fates.len()).collect();
            self.with_spool(move |s| {
                for (w, fate) in done.iter().zip(&fates) {
                    if let Fate::Rejected(reason) = fate {
                        s.keep_rejected(w, reason);
                    }
                }
            })
            .await;
            if let Some(stop) = stop {
                return Err(stop);
            }
        }
        Ok(())
    }

    /// Posts `windows`, halving a batch the analyzer finds too large. Returns the fates of the
    /// windows dealt with, in order (a prefix of `windows`), and why the rest was not sent.
    async fn deliver(&self, windows: &[Window]) -> (Vec<Fate>, Option<Stop>) {
        let mut fates = Vec::with_capacity(windows.len());
        // ranges still to send, the next one last
        let mut todo = vec![(0, windows.len())];
        while let Some((from, to)) = todo.pop() {
            match self.post(&windows[from..to]).await {
                Sent::Ok => fates.extend((from..to).map(|_| Fate::Sent)),
                Sent::TooLarge(_) if to - from > 1 => {
                    let mid = from + (to - from) / 2;
                    todo.push((mid, to));
                    todo.push((from, mid));
                }
                Sent::TooLarge(reason) | Sent::Rejected(reason) => {
                    fates.extend((from..to).map(|_| Fate::Rejected(reason.clone())));
                }
                Sent::Auth(why) => return (fates, Some(Stop::Auth(why))),
                Sent::Failed(_) => return (fates, Some(Stop::Failed)),
            }
        }
        (fates, None)
    }

    fn count(&self, fates: &[Fate]) {
        let sent = fates.iter().filter(|f| matches!(f, Fate::Sent)).count() as u64;
        self.counters.sent.fetch_add(sent, Relaxed);
        self.counters.rejected.fetch_add(fates.len() as u64 - sent, Relaxed);
    }

    async fn spill(&self, pending: &mut VecDeque<Window>) {
        if pending.is_empty() {
            return;
        }
        let windows: Vec<Window> = pending.drain(..).collect();
        let n = windows.len() as u64;
        let spooled = self
            .with_spool(move |s| windows.iter().filter(|w| s.push(w).unwrap_or(false)).count() as u64)
            .await
            .unwrap_or(0);
        self.counters.spooled.fetch_add(spooled, Relaxed);
        self.counters.dropped_spool_full.fetch_add(n - spooled, Relaxed);
    }

    /// Runs `f` on the spool on the blocking pool; `None` if it panicked.
    async fn with_spool<T: Send + 'static>(&self, f: impl FnOnce(&mut Spool) -> T + Send + 'static) -> Option<T> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || f(&mut spool.lock().unwrap_or_else(PoisonError::into_inner))).await.ok()
    }

    fn spool_len(&self) -> usize {
        self.spool.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    async fn post(&self, windows: &[Window]) -> Sent {
        if windows.is_empty() {
            return Sent::Ok;
        }
        self.counters.requests.fetch_add(1, Relaxed);
        let body = match gzip_json(windows) {
            Ok(b) => b,
            Err(e) => return Sent::Rejected(e),
        };
        let mut req = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body);
        if let Some(token) = &self.config.token {
            req = req.bearer_auth(token);
        }
        let result = match req.send().await {
            Ok(resp) if resp.status().is_success() => Sent::Ok,
            Ok(resp) if resp.status().is_client_error() && ![408, 429].contains(&resp.status().as_u16()) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                let why = format!("{status}: {}", text.chars().take(500).collect::<String>());
                match status.as_u16() {
                    401 | 403 => Sent::Auth(why),
                    413 => Sent::TooLarge(why),
                    _ => Sent::Rejected(why),
                }
            }
            Ok(resp) => Sent::Failed(resp.status().to_string()),
            Err(e) => Sent::Failed(e.to_string()),
        };
        if let Sent::Failed(why) | Sent::Auth(why) = &result {
            self.counters.failed_requests.fetch_add(1, Relaxed);
            if let Ok(mut last) = self.counters.last_error.lock() {
                *last = Some(why.clone());
            }
        }
        result
    }
}

fn gzip_json(windows: &[Window]) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(windows).map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

/// One file per window, named by a sequence number so the oldest goes first. Blocking I/O: used
/// on the blocking pool only.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    max_bytes: u64,
    next: u64,
    counters: Arc<ShipCounters>,
}

impl Spool {
    /// Lists the spool without opening a file: entries that are not regular files go aside.
    fn open(dir: &Path, max_bytes: u64, counters: Arc<ShipCounters>) -> Result<Spool, Error> {
        let read = std::fs::read_dir(dir)
            .map_err(|e| Error::Ship(format!("failed to read spool `{}`: {e}", dir.display())))?;
        let mut files: Vec<(u64, PathBuf, u64)> = Vec::new();
        let mut aside = Vec::new();
        let mut next = 0;
        for entry in read.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(seq) =
                name.strip_suffix(".json").and_then(|n| n.split('-').next()).and_then(|n| n.parse::<u64>().ok())
            else {
                continue; // `rejected/`, `damaged/`, temporary files
            };
            next = next.max(seq.saturating_add(1));
            // the entry's own type (a symlink is not followed): nothing is opened here
            match entry.metadata() {
                Ok(meta) if meta.file_type().is_file() => files.push((seq, path, meta.len())),
                _ => aside.push(path),
            }
        }
        files.sort();
        let bytes = files.iter().map(|f| f.2).sum();
        let spool = Spool {
            dir: dir.to_path_buf(),
            files: files.into_iter().map(|(_, p, s)| (p, s)).collect(),
            bytes,
            max_bytes,
            next,
            counters,
        };
        for path in aside {
            spool.set_aside(&path);
        }
        Ok(spool)
    }

    fn len(&self) -> usize {
        self.files.len()
    }

    /// Writes a window; false when it would pass the size cap.
    fn push(&mut self, w: &Window) -> std::io::Result<bool> {
        let json = serde_json::to_vec(w)?;
        if self.bytes + json.len() as u64 > self.max_bytes {
            return Ok(false);
        }
        // a new file, never whatever is already there (a FIFO there would block the open)
        let (path, tmp, mut file) = loop {
            let name = format!("{:020}-{}.json", self.next, sanitise(&w.window_id));
            self.next += 1;
            let tmp = self.dir.join(format!(".{name}.tmp"));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => break (self.dir.join(&name), tmp, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        file.write_all(&json)?;
        drop(file);
        std::fs::rename(&tmp, &path)?;
        self.bytes += json.len() as u64;
        self.files.push_back((path, json.len() as u64));
        Ok(true)
    }

    /// The windows of up to `n` of the oldest files, which stay first in the spool until
    /// [`Spool::settle`]. Files without a window on the way are set aside.
    fn oldest(&mut self, n: usize) -> Vec<Window> {
        let mut out = Vec::new();
        let mut i = 0;
        while out.len() < n && i < self.files.len() {
            match read_window(&self.files[i].0, self.max_bytes) {
                Some(w) => {
                    out.push(w);
                    i += 1;
                }
                None => {
                    if let Some((path, size)) = self.files.remove(i) {
                        self.bytes = self.bytes.saturating_sub(size);
                        self.set_aside(&path);
                    }
                }
            }
        }
        out
    }

    /// The oldest files, after their windows were sent (removed) or refused (moved to
    /// `rejected/`).
    fn settle(&mut self, fates: &[Fate]) {
        for fate in fates {
            let Some((path, size)) = self.files.pop_front() else { return };
            self.bytes = self.bytes.saturating_sub(size);
            match fate {
                Fate::Sent => {
                    let _ = std::fs::remove_file(&path);
                }
                Fate::Rejected(_) => {
                    if let Some(name) = path.file_name() {
                        let _ = std::fs::rename(&path, self.dir.join(REJECTED).join(name));
                    }
                }
            }
        }
    }

    fn keep_rejected(&mut self, w: &Window, reason: &str) {
        let name = format!("{}.json", sanitise(&w.window_id));
        let body = serde_json::json!({ "reason": reason, "window": w });
        let _ = std::fs::write(self.dir.join(REJECTED).join(name), body.to_string());
    }

    /// Moves an entry that holds no window to `damaged/` (under a free name), and counts it.
    fn set_aside(&self, path: &Path) {
        self.counters.damaged.fetch_add(1, Relaxed);
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
        let damaged = self.dir.join(DAMAGED);
        let mut target = damaged.join(&name);
        let mut k = 1;
        while target.symlink_metadata().is_ok() {
            target = damaged.join(format!("{name}.{k}"));
            k += 1;
        }
        let _ = std::fs::rename(path, target);
    }
}

/// The window in a spool file, if it is a regular file that holds one. Opened without following
/// a symlink and without blocking (a FIFO swapped in after the listing), then checked again.
fn read_window(path: &Path, max_bytes: u64) -> Option<Window> {
    let flags = (OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > max_bytes {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn sanitise(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::post;

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
            closed_by: model::CloseReason::Turns,
        }
    }

    /// A receiver that records window ids (with how often each came, and the order they came
    /// in) and answers `status`; with a `limit`, a batch of more windows, or one holding window
    /// `oversized`, is answered 413.
    #[derive(Clone, Default)]
    struct Receiver {
        seen: Arc<Mutex<BTreeMap<String, u32>>>,
        arrivals: Arc<Mutex<Vec<u64>>>,
        status: Arc<Mutex<u16>>,
        limit: Option<usize>,
        oversized: Option<u64>,
    }

    async fn receive(State(r): State<Receiver>, body: Bytes) -> StatusCode {
        let status = *r.status.lock().expect("lock");
        if status != 200 {
            return StatusCode::from_u16(status).expect("status");
        }
        let mut json = Vec::new();
        let mut gz = flate2::read::GzDecoder::new(&body[..]);
        std::io::Read::read_to_end(&mut gz, &mut json).expect("gzip body");
        let windows: Vec<Window> = serde_json::from_slice(&json).expect("windows");
        if r.limit.is_some_and(|n| windows.len() > n) || windows.iter().any(|w| Some(w.seq) == r.oversized) {
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
        let mut seen = r.seen.lock().expect("lock");
        let mut arrivals = r.arrivals.lock().expect("lock");
        for w in windows {
            arrivals.push(w.seq);
            *seen.entry(w.window_id).or_default() += 1;
        }
        StatusCode::OK
    }

    async fn serve(r: Receiver, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let app = axum::Router::new().route("/v1/windows", post(receive)).with_state(r);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    }

    /// A receiver answering `status`, listening on a fresh local port.
    async fn receiver(status: u16) -> (Receiver, std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let r = Receiver::default();
        *r.status.lock().expect("lock") = status;
        let server = serve(r.clone(), listener).await;
        (r, addr, server)
    }

    fn config(url: String, spool: &Path) -> ShipConfig {
        ShipConfig {
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            batch: 4,
            ..ShipConfig::new(url, spool)
        }
    }

    #[tokio::test]
    async fn an_analyzer_that_goes_away_and_comes_back_gets_every_window_once() {
        let spool = tempfile::tempdir().expect("tempdir");
        let (r, addr, server) = receiver(200).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let counters = shipper.counters();
        let (tx, rx) = mpsc::channel(8);
        let ship = tokio::spawn(shipper.run(rx, Duration::from_secs(5)));
        for seq in 0..20 {
            tx.send(window(seq)).await.expect("send");
        }
        // The analyzer dies: windows go to the spool.
        while r.seen.lock().expect("lock").len() < 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.abort();
        let _ = server.await;
        for seq in 20..40 {
            tx.send(window(seq)).await.expect("send");
        }
        while counters.spooled.load(Relaxed) < 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // It comes back on the same address.
        let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let server = serve(r.clone(), listener).await;
        for seq in 40..50 {
            tx.send(window(seq)).await.expect("send");
        }
        drop(tx);
        let report = ship.await.expect("join");
        server.abort();
        let seen = r.seen.lock().expect("lock");
        assert_eq!(seen.len(), 50, "every window arrived");
        assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
        assert_eq!((report.sent, report.rejected, report.dropped_spool_full, report.left_in_spool), (50, 0, 0, 0));
        assert!(report.last_error.is_some(), "the outage is explained");
        assert!(counters.failed_requests.load(Relaxed) >= 1);
    }

    #[tokio::test]
    async fn a_spool_left_by_an_earlier_run_is_sent_first() {
        let spool = tempfile::tempdir().expect("tempdir");
        // First run: nobody listens; everything stays in the spool.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = dead.local_addr().expect("addr");
        drop(dead);
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let (tx, rx) = mpsc::channel(8);
        let ship = tokio::spawn(shipper.run(rx, Duration::from_millis(50)));
        for seq in 0..5 {
            tx.send(window(seq)).await.expect("send");
        }
        drop(tx);
        let report = ship.await.expect("join");
        assert_eq!((report.sent, report.left_in_spool), (0, 5));

        // Second run: the analyzer is up; the old spool goes out even with no new windows.
        let (r, addr, server) = receiver(200).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let (tx, rx) = mpsc::channel(8);
        let ship = tokio::spawn(shipper.run(rx, Duration::from_secs(5)));
        drop(tx);
        let report = ship.await.expect("join");
        server.abort();
        assert_eq!((report.sent, report.left_in_spool), (5, 0));
        assert_eq!(r.seen.lock().expect("lock").len(), 5);
    }

    #[tokio::test]
    async fn windows_the_analyzer_refuses_are_kept_aside_and_counted() {
        let spool = tempfile::tempdir().expect("tempdir");
        let (_, addr, server) = receiver(422).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let (tx, rx) = mpsc::channel(8);
        let ship = tokio::spawn(shipper.run(rx, Duration::from_secs(1)));
        tx.send(window(0)).await.expect("send");
        drop(tx);
        let report = ship.await.expect("join");
        server.abort();
        assert_eq!((report.sent, report.rejected, report.left_in_spool), (0, 1, 0));
        let kept = std::fs::read_dir(spool.path().join("rejected")).expect("dir").count();
        assert_eq!(kept, 1);
    }

    /// A spool left by a run that found nobody listening: windows `seqs`.
    async fn spool_with(spool: &Path, seqs: std::ops::Range<u64>) {
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = dead.local_addr().expect("addr");
        drop(dead);
        let shipper = config(format!("http://{addr}"), spool).build().expect("build");
        let (tx, rx) = mpsc::channel(8);
        let ship = tokio::spawn(shipper.run(rx, Duration::from_millis(50)));
        let n = seqs.end - seqs.start;
        for seq in seqs {
            tx.send(window(seq)).await.expect("send");
        }
        drop(tx);
        let report = ship.await.expect("join");
        assert_eq!(report.left_in_spool as u64, n);
    }

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn auth_error_stops_collect_and_keeps_windows() {
        let spool = tempfile::tempdir().expect("tempdir");
        spool_with(spool.path(), 0..3).await;

        for (status, seqs, spooled) in [(401, 3..10, 10), (403, 10..12, 12)] {
            let (_, addr, server) = receiver(status).await;
            let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
            let counters = shipper.counters();
            let (tx, rx) = mpsc::channel(8);
            let started = std::time::Instant::now();
            let ship = tokio::spawn(shipper.run(rx, Duration::from_secs(30)));
            for seq in seqs {
                tx.send(window(seq)).await.expect("send");
            }
            drop(tx);
            let report = ship.await.expect("join");
            server.abort();
            let why = report.auth_error.as_deref().expect("the auth error is reported");
            assert!(why.starts_with(&status.to_string()), "{why}");
            assert_eq!((report.sent, report.rejected, report.left_in_spool), (0, 0, spooled), "{report:?}");
            assert_eq!(counters.requests.load(Relaxed), 1, "nothing is sent after the first refusal");
            assert!(started.elapsed() < Duration::from_secs(10), "no retries until the drain deadline");
            assert_eq!(entries(&spool.path().join(REJECTED)), 0);
        }

        // With the right token, the next run sends them all.
        let (r, addr, server) = receiver(200).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let (tx, rx) = mpsc::channel(8);
        drop(tx);
        let report = shipper.run(rx, Duration::from_secs(5)).await;
        server.abort();
        assert_eq!((report.sent, report.left_in_spool, report.auth_error), (12, 0, None));
        assert_eq!(r.seen.lock().expect("lock").len(), 12);
    }

    #[tokio::test]
    async fn payload_too_large_splits_the_batch() {
        let spool = tempfile::tempdir().expect("tempdir");
        spool_with(spool.path(), 0..6).await;

        // at most 1 window per request, and window 7 is too large even alone
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let r = Receiver { limit: Some(1), oversized: Some(7), ..Receiver::default() };
        *r.status.lock().expect("lock") = 200;
        let server = serve(r.clone(), listener).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let (tx, rx) = mpsc::channel(16);
        for seq in 6..12 {
            tx.send(window(seq)).await.expect("send");
        }
        drop(tx);
        let report = shipper.run(rx, Duration::from_secs(5)).await;
        server.abort();
        let seen = r.seen.lock().expect("lock");
        assert_eq!(seen.len(), 11, "every window but the oversized one arrived: {seen:?}");
        assert!(!seen.contains_key(&model::window_id("s", 7)));
        assert!(seen.values().all(|n| *n == 1));
        assert_eq!((report.sent, report.rejected, report.left_in_spool), (11, 1, 0), "{report:?}");
        assert_eq!(entries(&spool.path().join(REJECTED)), 1);
    }

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifo_in_spool_does_not_hang() {
        let spool = tempfile::tempdir().expect("tempdir");
        let dir = spool.path();
        let write = |name: &str, body: &[u8]| std::fs::write(dir.join(name), body).expect("write");
        let json = |seq| serde_json::to_vec(&window(seq)).expect("json");
        write("00000000000000000000-a.json", &json(0));
        mkfifo(&dir.join("00000000000000000001-b.json"));
        write("00000000000000000002-c.json", b"not a window");
        write("00000000000000000003-d.json", &json(3));
        std::os::unix::fs::symlink("/dev/zero", dir.join("00000000000000000004-e.json")).expect("symlink");
        write("00000000000000000005-f.json", &json(5));
        std::fs::create_dir(dir.join("00000000000000000006-g.json")).expect("dir");

        let (r, addr, server) = receiver(200).await;
        let shipper = config(format!("http://{addr}"), dir).build().expect("build");
        // a FIFO swapped in for a listed file (opened in the spool's listing, read later)
        std::fs::remove_file(dir.join("00000000000000000005-f.json")).expect("remove");
        mkfifo(&dir.join("00000000000000000005-f.json"));

        // on a thread and a runtime of its own: a blocked read must fail the test, not hang it
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let (tx, rx) = mpsc::channel(1);
            drop(tx);
            let _ = done_tx.send(runtime.block_on(shipper.run(rx, Duration::from_secs(5))));
        });
        let report = tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(20)))
            .await
            .expect("join")
            .expect("the shipper finished instead of hanging on a FIFO");
        server.abort();
        assert_eq!((report.sent, report.damaged, report.left_in_spool, report.rejected), (2, 5, 0, 0), "{report:?}");
        assert_eq!(r.seen.lock().expect("lock").len(), 2);
        // kept aside, not deleted: the FIFOs are still FIFOs
        let damaged = dir.join(DAMAGED);
        assert_eq!(entries(&damaged), 5);
        for name in ["00000000000000000001-b.json", "00000000000000000005-f.json"] {
            let meta = std::fs::symlink_metadata(damaged.join(name)).expect("kept");
            assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()), "{name}");
        }
        assert_eq!(std::fs::read(damaged.join("00000000000000000002-c.json")).expect("kept"), b"not a window");
    }

    /// The order the README promises: the spool oldest first (an earlier run's, then what
    /// waited out an outage), and only then new windows, at every start and every recovery.
    #[tokio::test]
    async fn spool_is_replayed_oldest_first_then_new_windows() {
        let spool = tempfile::tempdir().expect("tempdir");
        spool_with(spool.path(), 0..6).await;
        let (r, addr, server) = receiver(200).await;
        let shipper = config(format!("http://{addr}"), spool.path()).build().expect("build");
        let counters = shipper.counters();
        let (tx, rx) = mpsc::channel(64);
        // New windows are already waiting when the run starts; the old spool goes first.
        for seq in 6..10 {
            tx.send(window(seq)).await.expect("send");
        }
        let ship = tokio::spawn(shipper.run(rx, Duration::from_secs(5)));
        let arrived = |n: usize| {
            let r = r.clone();
            async move {
                while r.arrivals.lock().expect("lock").len() < n {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), arrived(10)).await.expect("the first ten windows");
        // An outage: these wait in the spool, in the order they came.
        server.abort();
        let _ = server.await;
        for seq in 10..20 {
            tx.send(window(seq)).await.expect("send");
        }
        let spooled = async {
            while counters.spooled.load(Relaxed) < 10 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), spooled).await.expect("the outage's windows spooled");
        // Back: the windows queued behind the outage go after it.
        let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let server = serve(r.clone(), listener).await;
        for seq in 20..25 {
            tx.send(window(seq)).await.expect("send");
        }
        drop(tx);
        let report = ship.await.expect("join");
        server.abort();
        assert_eq!((report.sent, report.left_in_spool), (25, 0), "{report:?}");
        let arrivals = r.arrivals.lock().expect("lock").clone();
        assert_eq!(arrivals, (0..25).collect::<Vec<u64>>(), "arrival order");
    }

    #[test]
    fn ship_config_reads_milliseconds_and_rejects_a_wrong_key() {
        let c: ShipConfig =
            serde_json::from_str(r#"{"batch": 8, "backoff_min_ms": 50, "backoff_max_ms": 400, "timeout_ms": 1500}"#)
                .expect("parse");
        assert_eq!((c.batch, c.backoff_min, c.backoff_max), (8, Duration::from_millis(50), Duration::from_millis(400)));
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.spool_dir, Path::new(DEFAULT_SPOOL_DIR), "the rest are the defaults");
        let err = serde_json::from_str::<ShipConfig>(r#"{"backoff_min": 50}"#).expect_err("the file key has `_ms`");
        assert!(err.to_string().contains("unknown field `backoff_min`"), "{err}");
        assert!(serde_json::from_str::<ShipConfig>(r#"{"url": "http://x"}"#).is_err(), "the URL is not a file key");
        ShipConfig::default().validate().expect("the defaults are valid");
    }

    #[test]
    fn ship_config_validation_names_the_key() {
        let c = ShipConfig { backoff_max: Duration::from_millis(100), ..ShipConfig::default() };
        let err = c.validate().expect_err("max below min").to_string();
        assert!(err.contains("`backoff_max_ms` must be at least `backoff_min_ms`"), "{err}");
        let err = ShipConfig { batch: 0, ..ShipConfig::default() }.validate().expect_err("no batch").to_string();
        assert!(err.contains("`batch`"), "{err}");
    }

    #[test]
    fn a_url_without_a_scheme_is_refused() {
        let spool = tempfile::tempdir().expect("tempdir");
        let err = ShipConfig::new("127.0.0.1:7395", spool.path()).build().expect_err("no scheme");
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
    }
}
