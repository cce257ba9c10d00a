//! Helpers for AgentSight's integration tests: find the `agentsight` binary that this workspace
//! built, run it on real commands, and read back the events it wrote.
//!
//! The binary is not a dependency of this crate (Cargo cannot express that), so the test
//! command builds it first (`cargo build`); [`bin`] says so plainly when it is missing.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use model::{Event, EventBody};

/// `target/<profile>/agentsight`, next to the `deps/` folder this test runs from.
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("agentsight");
    assert!(
        bin.exists(),
        "`{}` is missing: build it first with `cargo build -p agentsight` (the README's test command does)",
        bin.display()
    );
    bin
}

/// Whether these tests run as root (the privileged ones are `#[ignore]`d; this double-checks).
pub fn is_root() -> bool {
    rustix_like_geteuid() == 0
}

fn rustix_like_geteuid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(str::to_owned)))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse().ok()))
        .unwrap_or(u32::MAX)
}

/// A finished `agentsight record` run.
#[derive(Debug)]
pub struct Recording {
    pub code: Option<i32>,
    pub events: Vec<Event>,
    pub stderr: String,
    pub stdout: String,
}

impl Recording {
    pub fn execs(&self) -> impl Iterator<Item = (&Event, &model::Exec)> {
        self.events.iter().filter_map(|e| match &e.body {
            EventBody::Exec(x) => Some((e, x)),
            _ => None,
        })
    }

    pub fn exits(&self) -> impl Iterator<Item = (&Event, &model::Exit)> {
        self.events.iter().filter_map(|e| match &e.body {
            EventBody::Exit(x) => Some((e, x)),
            _ => None,
        })
    }

    pub fn files(&self) -> impl Iterator<Item = (&Event, &model::FileEvent)> {
        self.events.iter().filter_map(|e| match &e.body {
            EventBody::File(x) => Some((e, x)),
            _ => None,
        })
    }

    pub fn connects(&self) -> impl Iterator<Item = (&Event, &model::Connect)> {
        self.events.iter().filter_map(|e| match &e.body {
            EventBody::Connect(x) => Some((e, x)),
            _ => None,
        })
    }

    /// Lost records whose reason contains `needle`, summed.
    pub fn lost(&self, needle: &str) -> u64 {
        self.events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Loss(l) if l.reason.contains(needle) => Some(l.count),
                _ => None,
            })
            .sum()
    }

    /// The exec event whose argv[0] ends with `name` (the first one).
    pub fn exec_of(&self, name: &str) -> (&Event, &model::Exec) {
        self.execs()
            .find(|(_, x)| x.argv.first().is_some_and(|a| a.rsplit('/').next() == Some(name)))
            .unwrap_or_else(|| panic!("no exec of `{name}` in the trace; stderr:\n{}", self.stderr))
    }
}

/// Parse a JSON Lines trace; every line must be a valid event.
pub fn read_trace(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {} is not an event ({e}): {line}", i + 1))
        })
        .collect()
}

/// `agentsight record -o TRACE [extra] -- ARGV...`.
pub fn record(extra: &[&str], argv: &[&str]) -> Recording {
    record_env(extra, argv, &[])
}

/// `record` with extra environment variables for the traced command.
pub fn record_env(extra: &[&str], argv: &[&str], env: &[(&str, &str)]) -> Recording {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let out = Command::new(bin())
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(extra)
        .arg("--")
        .args(argv)
        .envs(env.iter().copied())
        .output()
        .expect("run agentsight");
    finish(out, &trace)
}

/// Turn a finished process's output and trace file into a [`Recording`].
pub fn finish(out: Output, trace: &Path) -> Recording {
    Recording {
        code: out.status.code(),
        events: read_trace(trace),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// `record` a bash script.
pub fn record_sh(script: &str) -> Recording {
    record(&["-q"], &["bash", "-c", script])
}

/// A gzip'ed trace's events (`gzip -dc`: this crate has no gzip library).
pub fn read_gz_trace(path: &Path) -> Vec<Event> {
    let out = Command::new("gzip").arg("-dc").arg(path).output().unwrap();
    assert!(out.status.success(), "gzip -dc {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `llm_call` events the index in `data` holds, as stored (compact requests).
pub fn stored_llm_calls(data: &Path) -> Vec<Event> {
    let out = Command::new(bin())
        .args(["search", "", "--kind", "llm_call", "--limit", "10000", "--json", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "search: {}", String::from_utf8_lossy(&out.stderr));
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    hits.iter().map(|h| serde_json::from_value(h["event"].clone()).unwrap()).collect()
}

/// Every request `sent` (events recorded with whole requests) is put back together exactly
/// from the `stored` events' compact requests; returns (messages stored, messages sent).
pub fn assert_requests_rebuilt(name: &str, sent: &[Event], stored: &[Event]) -> (usize, usize) {
    let calls = |events: &[Event]| -> std::collections::HashMap<String, model::LlmCall> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::LlmCall(c) => Some((e.id(), (**c).clone())),
                _ => None,
            })
            .collect()
    };
    let (sent, stored) = (calls(sent), calls(stored));
    assert_eq!(stored.len(), sent.len(), "{name}: every call stored");
    let by_ref: std::collections::HashMap<String, &model::LlmCall> =
        stored.iter().map(|(k, v)| (k.clone(), v)).collect();
    for (id, call) in &sent {
        assert!(call.request.extends.is_none(), "{name}: {id} was recorded compact, not whole");
        let got =
            model::conversation::full_request(id, &by_ref).unwrap_or_else(|| panic!("{name}: {id} has a broken chain"));
        assert_eq!(got, call.request, "{name}: {id} put back together differs from what was sent");
    }
    let count =
        |m: &std::collections::HashMap<String, model::LlmCall>| m.values().map(|c| c.request.messages.len()).sum();
    (count(&stored), count(&sent))
}
