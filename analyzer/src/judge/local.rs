//! A local judge: `llama-server` (llama.cpp) started and stopped by AgentSight when the config
//! names a GGUF model instead of an endpoint (`[analyzer.judge.local]`; `scripts/judge-setup` installs
//! both).
//!
//! The server listens on a free loopback port only, with one slot (so requests about one
//! window reuse each other's cached prefix) and prompt caching on. Starting waits for
//! `/health` to answer 200 (the model is loaded); the process is killed when the judge is
//! dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where the server and the model are, and how to run them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// The `llama-server` executable.
    pub server: PathBuf,
    /// The GGUF model file.
    pub model: PathBuf,
    /// CPU threads (0: every core).
    pub threads: usize,
    /// Context size in tokens: the longest prompt plus answer.
    pub ctx_size: usize,
    /// How long loading the model may take.
    pub startup_timeout_s: u64,
    /// The limit for one request. A local model on a few cores reads a prompt at tens of
    /// tokens a second, so this is long; a request that times out is not sent again (the
    /// server would still be busy with the first).
    pub timeout_s: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            server: PathBuf::new(),
            model: PathBuf::new(),
            threads: 0,
            ctx_size: 8192,
            startup_timeout_s: 180,
            timeout_s: 600,
        }
    }
}

impl LocalConfig {
    pub fn validate(&self) -> Result<()> {
        let exists = |p: &Path, key: &str| {
            if p.as_os_str().is_empty() {
                Err(Error::Config(format!("`judge.local.{key}` must name a file")))
            } else if !p.is_file() {
                Err(Error::Config(format!(
                    "`judge.local.{key}`: `{}` does not exist (install it with scripts/judge-setup)",
                    p.display()
                )))
            } else {
                Ok(())
            }
        };
        exists(&self.server, "server")?;
        exists(&self.model, "model")?;
        if self.ctx_size < 2048 {
            return Err(Error::Config("`judge.local.ctx_size` must be at least 2048".into()));
        }
        Ok(())
    }

    /// The model's name as the server reports it: the file's stem.
    pub fn model_name(&self) -> String {
        self.model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "local".into())
    }

    /// Starts the server and waits until it answers `/health`.
    pub fn start(&self) -> Result<LocalServer> {
        self.validate()?;
        let port = free_port()?;
        let threads =
            if self.threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { self.threads };
        let mut child = Command::new(&self.server)
            .arg("-m")
            .arg(&self.model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", &self.ctx_size.to_string(), "-t", &threads.to_string(), "-np", "1"])
            .arg("--cache-prompt")
            .arg("--log-disable")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::Io { op: "start", path: self.server.clone(), source })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(self.startup_timeout_s);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Error::Judge(format!(
                    "`{}` exited with {status} while loading `{}`",
                    self.server.display(),
                    self.model.display()
                )));
            }
            if health(addr) == Some(200) {
                return Ok(LocalServer { child, addr });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Judge(format!(
                    "`{}` did not load `{}` within {} s",
                    self.server.display(),
                    self.model.display(),
                    self.startup_timeout_s
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A running `llama-server`; dropping it stops the server.
#[derive(Debug)]
pub struct LocalServer {
    child: Child,
    addr: SocketAddr,
}

impl LocalServer {
    /// The OpenAI-compatible API root.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| Error::Io {
        op: "find a free port for",
        path: PathBuf::from("llama-server"),
        source,
    })?;
    listener.local_addr().map(|a| a.port()).map_err(|source| Error::Io {
        op: "find a free port for",
        path: PathBuf::from("llama-server"),
        source,
    })
}

/// The status of `GET /health`, if the server answers.
fn health(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_or_model_is_a_clear_config_error() {
        let c = LocalConfig {
            server: "/nonexistent/llama-server".into(),
            model: "/x.gguf".into(),
            ..LocalConfig::default()
        };
        let err = c.validate().expect_err("missing");
        assert!(err.to_string().contains("scripts/judge-setup"), "{err}");
        assert!(LocalConfig::default().validate().is_err());
        assert_eq!(
            LocalConfig { model: "/m/qwen-1.5b.gguf".into(), ..LocalConfig::default() }.model_name(),
            "qwen-1.5b"
        );
    }

    #[test]
    fn a_server_that_exits_at_once_is_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"not a model").expect("write");
        let c = LocalConfig { server: "/bin/false".into(), model, startup_timeout_s: 10, ..LocalConfig::default() };
        let err = c.start().expect_err("exits");
        assert!(err.to_string().contains("exited"), "{err}");
    }
}
