//! The data directory has one writer at a time: `serve`, `ingest`, `record --analyze` and `demo`
//! each open the index writer, which tantivy guards with a lock file (`index/.tantivy-writer.lock`,
//! an `flock`). A second writer is refused here in one line that says who holds the directory and
//! what to do instead, before it touches anything (opening the window log may trim a torn tail,
//! which must not race the running writer's appends).
//!
//! Where it is (`--data`, `$AGENTSIGHT_DATA`, `~/.local/share/agentsight`) and its index opened
//! read-only, for the commands that only read, are here too.
//!
//! `serve` leaves a marker (`serve.json`: its pid and URL) beside the index while it runs, so the
//! refusal can name the server to send to; a marker whose process is gone is ignored.

use std::fmt;
use std::path::{Path, PathBuf};

use analyzer::index::Index;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The marker `serve` writes into the data directory while it runs.
const SERVE_MARKER: &str = "serve.json";

/// The index writer's lock file, as tantivy names it.
const WRITER_LOCK: &str = ".tantivy-writer.lock";

/// Another process holds the data directory's writer lock.
#[derive(Debug)]
pub(crate) struct InUse {
    data: PathBuf,
    server: Option<Server>,
}

/// What `serve.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Server {
    pub pid: u32,
    pub url: String,
}

impl fmt::Display for InUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data.display();
        match &self.server {
            Some(Server { pid, url }) => write!(
                f,
                "the data directory `{data}` is in use by a running `agentsight serve` (pid {pid}, {url}): stop it, use another directory (`--data DIR`), or send captures to that server (`agentsight collect --ship {url} -- CMD`)"
            ),
            None => write!(
                f,
                "the data directory `{data}` is in use by another agentsight process (a running `agentsight serve`, `ingest` or `record --analyze`): stop it, use another directory (`--data DIR`), or send captures to the running server (`agentsight collect --ship URL -- CMD`)"
            ),
        }
    }
}

impl std::error::Error for InUse {}

impl InUse {
    fn new(data: &Path) -> InUse {
        InUse { data: data.to_path_buf(), server: running_server(data) }
    }
}

/// Refuses a data directory whose index writer lock another process holds. A directory without
/// an index, or a lock that cannot be probed, passes: opening the index then decides.
pub(crate) fn ensure_free(data: &Path) -> Result<(), InUse> {
    let Ok(file) = std::fs::File::open(data.join("index").join(WRITER_LOCK)) else { return Ok(()) };
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        // Ours for a moment; closing the file releases it.
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(InUse::new(data)),
        Err(_) => Ok(()),
    }
}

/// An error from opening the data directory, with tantivy's `LockBusy` (a writer that started
/// after [`ensure_free`] looked) turned into [`InUse`].
pub(crate) fn open_error(err: analyzer::Error, data: &Path) -> anyhow::Error {
    if is_lock_busy(&err) {
        return InUse::new(data).into();
    }
    anyhow::Error::new(err).context(format!("failed to open the data directory `{}`", data.display()))
}

fn is_lock_busy(err: &analyzer::Error) -> bool {
    use tantivy::directory::error::LockError;
    matches!(err, analyzer::Error::Index { source: tantivy::TantivyError::LockFailure(LockError::LockBusy, _), .. })
}

/// The server named by the data directory's marker, if its process still runs.
fn running_server(data: &Path) -> Option<Server> {
    let text = std::fs::read_to_string(data.join(SERVE_MARKER)).ok()?;
    let server: Server = serde_json::from_str(&text).ok()?;
    let alive = server.pid != std::process::id() && Path::new(&format!("/proc/{}", server.pid)).exists();
    alive.then_some(server)
}

/// `serve`'s marker in the data directory; removed when dropped (a crash leaves it behind, and
/// [`running_server`] then finds its process gone).
#[derive(Debug)]
pub(crate) struct ServeMarker {
    path: PathBuf,
}

impl ServeMarker {
    /// Writes the marker for this process, serving at `addr`. Best effort: a server that cannot
    /// write it still serves, and the refusal is then less specific.
    pub(crate) fn write(data: &Path, addr: std::net::SocketAddr) -> Option<ServeMarker> {
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            // Listening everywhere: loopback reaches it from the machine the marker is read on.
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let server = Server { pid: std::process::id(), url: format!("http://{addr}") };
        let path = data.join(SERVE_MARKER);
        let text = serde_json::to_string(&server).ok()?;
        std::fs::write(&path, text).ok()?;
        Some(ServeMarker { path })
    }
}

impl Drop for ServeMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `--data DIR`, else `$AGENTSIGHT_DATA`, else `~/.local/share/agentsight`.
pub(crate) fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("AGENTSIGHT_DATA").map(PathBuf::from)).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
        home.join(".local/share/agentsight")
    })
}

/// The index in `data`, read-only (beside a running `serve`).
pub(crate) fn open_index(data: &Path) -> anyhow::Result<Index> {
    let dir = data.join("index");
    if !dir.exists() {
        bail!(
            "no index in `{}`: ingest a trace first (`agentsight ingest trace.jsonl`) or record with `--analyze`",
            data.display()
        );
    }
    Index::open_read_only(&dir).with_context(|| format!("failed to open the index in `{}`", data.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("agentsight-datadir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("index")).expect("mkdir");
        dir
    }

    #[test]
    fn a_held_writer_lock_is_refused_and_a_released_one_is_not() {
        let data = scratch("lock");
        assert!(ensure_free(&data).is_ok(), "no lock file yet");
        let held = std::fs::File::create(data.join("index").join(WRITER_LOCK)).expect("create");
        assert!(ensure_free(&data).is_ok(), "the file exists, unlocked");
        rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("lock");
        let err = ensure_free(&data).expect_err("held");
        let msg = err.to_string();
        assert!(msg.contains("is in use by another agentsight process") && msg.contains("--data DIR"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        drop(held);
        assert!(ensure_free(&data).is_ok(), "released with the file");
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn the_refusal_names_a_running_server_and_ignores_a_dead_one() {
        let data = scratch("marker");
        // This process's parent stands in for a running server.
        let parent = rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get() as u32);
        let marker = Server { pid: parent, url: "http://127.0.0.1:7395".into() };
        std::fs::write(data.join(SERVE_MARKER), serde_json::to_string(&marker).expect("json")).expect("write");
        let msg = InUse::new(&data).to_string();
        assert!(msg.contains(&format!("running `agentsight serve` (pid {parent}, http://127.0.0.1:7395)")), "{msg}");
        assert!(msg.contains("agentsight collect --ship http://127.0.0.1:7395"), "{msg}");
        let dead = Server { pid: u32::MAX - 1, url: "http://127.0.0.1:1".into() };
        std::fs::write(data.join(SERVE_MARKER), serde_json::to_string(&dead).expect("json")).expect("write");
        assert!(InUse::new(&data).server.is_none(), "a marker whose process is gone");
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn the_marker_goes_with_the_server_and_names_loopback_for_any_address() {
        let data = scratch("write");
        let marker = ServeMarker::write(&data, "0.0.0.0:7395".parse().expect("addr")).expect("written");
        let text = std::fs::read_to_string(data.join(SERVE_MARKER)).expect("read");
        let server: Server = serde_json::from_str(&text).expect("json");
        assert_eq!(server, Server { pid: std::process::id(), url: "http://127.0.0.1:7395".into() });
        drop(marker);
        assert!(!data.join(SERVE_MARKER).exists());
        let _ = std::fs::remove_dir_all(&data);
    }
}
