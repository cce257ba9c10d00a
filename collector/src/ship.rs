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
//! Nothing is dropped silently: a window the analyzer rejects (4xx) is moved to
//! `spool/rejected/` and counted; a window that does not fit the spool's size cap is counted.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use model::Window;
use tokio::sync::mpsc;

use crate::Error;

/// Where and how to ship.
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// The analyzer's base URL, e.g. `http://10.0.0.5:7395`.
    pub url: String,
    /// The spool directory (created if missing).
    pub spool_dir: PathBuf,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
    /// Windows per request.
    pub batch: usize,
    /// The spool's size cap in bytes.
    pub max_spool_bytes: u64,
    pub timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
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

    pub fn build(self) -> Result<Shipper, Error> {
        let base = self.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Ship(format!("`{}` is not an http(s) URL", self.url)));
        }
        let rejected = self.spool_dir.join("rejected");
        std::fs::create_dir_all(&rejected)
            .map_err(|e| Error::Ship(format!("failed to create spool `{}`: {e}", rejected.display())))?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::Ship(format!("failed to build the HTTP client: {e}")))?;
        let spool = Spool::open(&self.spool_dir, self.max_spool_bytes)?;
        Ok(Shipper { endpoint: format!("{base}/v1/windows"), config: self, client, spool, counters: Arc::default() })
    }
}

/// What shipping did; shared with whoever reports it.
#[derive(Debug, Default)]
pub struct ShipCounters {
    pub sent: AtomicU64,
    pub requests: AtomicU64,
    pub failed_requests: AtomicU64,
    pub spooled: AtomicU64,
    pub rejected: AtomicU64,
    pub dropped_spool_full: AtomicU64,
    /// Why the last failed request failed (for the person wondering where the windows are).
    pub last_error: std::sync::Mutex<Option<String>>,
}

/// The shipping stage.
#[derive(Debug)]
pub struct Shipper {
    config: ShipConfig,
    endpoint: String,
    client: reqwest::Client,
    spool: Spool,
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
    /// Windows still in the spool (the analyzer was away at the end): sent by the next run.
    pub left_in_spool: usize,
}

enum Sent {
    Ok,
    /// The analyzer refused the batch for good (4xx other than 408/429).
    Rejected(String),
    /// Try again later.
    Failed(String),
}

impl Shipper {
    pub fn counters(&self) -> Arc<ShipCounters> {
        self.counters.clone()
    }

    /// Ships until `rx` closes, then tries once more to empty the spool within `drain_for`.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Window>, drain_for: Duration) -> ShipReport {
        let mut backoff = self.config.backoff_min;
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut pending: VecDeque<Window> = VecDeque::new();
        let mut open = true;
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
            if backing_off && open {
                self.spill(&mut pending);
                continue;
            }
            if !open {
                break;
            }
            match self.send_all(&mut pending).await {
                true => {
                    backoff = self.config.backoff_min;
                    retry_at = None;
                }
                false => {
                    self.spill(&mut pending);
                    retry_at = Some(tokio::time::Instant::now() + backoff);
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
        // The input is closed: everything left goes through the spool, tried until `drain_for`.
        self.spill(&mut pending);
        let deadline = tokio::time::Instant::now() + drain_for;
        let mut backoff = self.config.backoff_min;
        while !self.spool.is_empty() && tokio::time::Instant::now() < deadline {
            if self.send_all(&mut pending).await {
                break;
            }
            tokio::time::sleep(backoff.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
            backoff = (backoff * 2).min(self.config.backoff_max);
        }
        ShipReport {
            sent: self.counters.sent.load(Relaxed),
            last_error: self.counters.last_error.lock().ok().and_then(|l| l.clone()),
            rejected: self.counters.rejected.load(Relaxed),
            dropped_spool_full: self.counters.dropped_spool_full.load(Relaxed),
            left_in_spool: self.spool.len(),
        }
    }

    /// Sends the spool (oldest first), then `pending`; false at the first failure.
    async fn send_all(&mut self, pending: &mut VecDeque<Window>) -> bool {
        while let Some(files) = self.spool.oldest(self.config.batch) {
            let windows: Vec<Window> = files.iter().filter_map(|(_, w)| w.clone()).collect();
            match self.post(&windows).await {
                Sent::Ok => {
                    self.counters.sent.fetch_add(windows.len() as u64, Relaxed);
                    // A spool file that no longer parses (damaged on disk) is counted, not sent.
                    self.counters.rejected.fetch_add((files.len() - windows.len()) as u64, Relaxed);
                    self.spool.remove(&files);
                }
                Sent::Rejected(_) => {
                    self.counters.rejected.fetch_add(files.len() as u64, Relaxed);
                    self.spool.reject(&files);
                }
                Sent::Failed(_) => return false,
            }
        }
        while !pending.is_empty() {
            let n = pending.len().min(self.config.batch);
            let batch: Vec<Window> = pending.iter().take(n).cloned().collect();
            match self.post(&batch).await {
                Sent::Ok => {
                    self.counters.sent.fetch_add(n as u64, Relaxed);
                    pending.drain(..n);
                }
                Sent::Rejected(reason) => {
                    self.counters.rejected.fetch_add(n as u64, Relaxed);
                    for w in pending.drain(..n) {
                        self.spool.keep_rejected(&w, &reason);
                    }
                }
                Sent::Failed(_) => return false,
            }
        }
        true
    }

    fn spill(&mut self, pending: &mut VecDeque<Window>) {
        for w in pending.drain(..) {
            match self.spool.push(&w) {
                Ok(true) => {
                    self.counters.spooled.fetch_add(1, Relaxed);
                }
                Ok(false) | Err(_) => {
                    self.counters.dropped_spool_full.fetch_add(1, Relaxed);
                }
            }
        }
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
                Sent::Rejected(format!("{status}: {}", text.chars().take(500).collect::<String>()))
            }
            Ok(resp) => Sent::Failed(resp.status().to_string()),
            Err(e) => Sent::Failed(e.to_string()),
        };
        if let Sent::Failed(why) = &result {
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

/// One file per window, named by a sequence number so the oldest goes first.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    max_bytes: u64,
    next: u64,
}

impl Spool {
    fn open(dir: &Path, max_bytes: u64) -> Result<Spool, Error> {
        let read = std::fs::read_dir(dir).map_err(|e| Error::Ship(format!("failed to read spool `{}`: {e}", dir.display())))?;
        let mut files: Vec<(u64, PathBuf, u64)> = Vec::new();
        for entry in read.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(seq) = name.strip_suffix(".json").and_then(|n| n.split('-').next()).and_then(|n| n.parse().ok()) else {
                continue; // `rejected/`, temporary files
            };
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((seq, path, size));
        }
        files.sort();
        let next = files.last().map_or(0, |f| f.0 + 1);
        let bytes = files.iter().map(|f| f.2).sum();
        Ok(Spool { dir: dir.to_path_buf(), files: files.into_iter().map(|(_, p, s)| (p, s)).collect(), bytes, max_bytes, next })
    }

    fn len(&self) -> usize {
        self.files.len()
    }

    fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Writes a window; false when it would pass the size cap.
    fn push(&mut self, w: &Window) -> std::io::Result<bool> {
        let json = serde_json::to_vec(w)?;
        if self.bytes + json.len() as u64 > self.max_bytes {
            return Ok(false);
        }
        let name = format!("{:020}-{}.json", self.next, sanitise(&w.window_id));
        self.next += 1;
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &json)?;
        std::fs::rename(&tmp, &path)?;
        self.bytes += json.len() as u64;
        self.files.push_back((path, json.len() as u64));
        Ok(true)
    }

    /// Up to `n` of the oldest files with their windows (`None`: unreadable, dropped on send).
    fn oldest(&self, n: usize) -> Option<Vec<(PathBuf, Option<Window>)>> {
        if self.files.is_empty() {
            return None;
        }
        Some(
            self.files
                .iter()
                .take(n)
                .map(|(p, _)| (p.clone(), std::fs::read(p).ok().and_then(|b| serde_json::from_slice(&b).ok())))
                .collect(),
        )
    }

    fn remove(&mut self, files: &[(PathBuf, Option<Window>)]) {
        for _ in files {
            if let Some((path, size)) = self.files.pop_front() {
                let _ = std::fs::remove_file(&path);
                self.bytes = self.bytes.saturating_sub(size);
            }
        }
    }

    fn reject(&mut self, files: &[(PathBuf, Option<Window>)]) {
        for _ in files {
            if let Some((path, size)) = self.files.pop_front() {
                if let Some(name) = path.file_name() {
                    let _ = std::fs::rename(&path, self.dir.join("rejected").join(name));
                }
                self.bytes = self.bytes.saturating_sub(size);
            }
        }
    }

    fn keep_rejected(&mut self, w: &Window, reason: &str) {
        let name = format!("{}.json", sanitise(&w.window_id));
        let body = serde_json::json!({ "reason": reason, "window": w });
        let _ = std::fs::write(self.dir.join("rejected").join(name), body.to_string());
    }
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

    /// A receiver that records window ids (with how often each came) and answers `status`.
    #[derive(Clone, Default)]
    struct Receiver {
        seen: Arc<Mutex<BTreeMap<String, u32>>>,
        status: Arc<Mutex<u16>>,
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
        let mut seen = r.seen.lock().expect("lock");
        for w in windows {
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

    #[test]
    fn a_url_without_a_scheme_is_refused() {
        let spool = tempfile::tempdir().expect("tempdir");
        let err = ShipConfig::new("127.0.0.1:7395", spool.path()).build().expect_err("no scheme");
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
    }
}
