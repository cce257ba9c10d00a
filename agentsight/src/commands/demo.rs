//! `agentsight demo`: the whole product in one command.
//!
//! A small real agent (`demo/agent.py`, the Python `openai` SDK, really running the commands its
//! model asks for in a scratch directory) works through three tasks against a local scripted
//! model (`demo/model.py`, the OpenAI API over HTTPS with a throwaway CA): one healthy, one that
//! loops on a failing build, one that claims the tests pass after they failed, and one that
//! breaks a rule of its persona (it edits the test file its system prompt forbids). It runs under
//! `record --analyze`, so the findings come from the same path a user's agent takes: uprobes on
//! the agent's TLS, tracepoints on its commands, windows, index, detectors, judge if configured.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::commands::record;
use crate::config::Config;
use crate::pipeline;

const AGENT: &str = include_str!("../../demo/agent.py");
const MODEL: &str = include_str!("../../demo/model.py");

/// Kills the model server and removes the scratch directory, however the demo ends.
struct Cleanup {
    dir: PathBuf,
    model: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut m) = self.model.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check_prerequisites() -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!("the demo loads eBPF programs and needs root: run `sudo agentsight demo` (or `./scripts/demo`)");
    }
    let ok = |cmd: &str, args: &[&str]| {
        Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    if !ok("python3", &["-c", "import openai"]) {
        bail!("the demo agent needs python3 with the `openai` package: run ./scripts/setup (or `pip install openai`)");
    }
    if !ok("openssl", &["version"]) {
        bail!("the demo needs the `openssl` command to make its throwaway certificates: run ./scripts/setup");
    }
    Ok(())
}

fn sh(dir: &Path, script: &str) -> Result<()> {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().context("failed to run sh")?;
    if !out.status.success() {
        bail!("`{script}` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Runs the demo; returns the exit code.
pub(crate) fn run(config: Config, data: &Path) -> Result<i32> {
    check_prerequisites()?;
    let dir = std::env::temp_dir().join(format!("agentsight-demo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scratch")).with_context(|| format!("failed to create `{}`", dir.display()))?;
    let mut cleanup = Cleanup { dir: dir.clone(), model: None };
    std::fs::write(dir.join("agent.py"), AGENT).context("failed to write the demo agent")?;
    std::fs::write(dir.join("model.py"), MODEL).context("failed to write the demo model")?;
    sh(
        &dir,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=AgentSight demo CA' && \
         openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' && \
         printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext && \
         openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext",
    )?;

    let mut model = Command::new("python3")
        .arg(dir.join("model.py"))
        .args(["srv.pem", "srv.key"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("failed to start the demo model server")?;
    let stdout = model.stdout.take().context("no stdout from the model server")?;
    cleanup.model = Some(model);
    let mut port = String::new();
    BufReader::new(stdout).read_line(&mut port).context("failed to read the model server's port")?;
    let port = port.trim().to_string();
    if port.is_empty() {
        bail!("the demo model server did not start");
    }

    eprintln!("demo: a scripted model serves the OpenAI API on https://localhost:{port} (throwaway CA)");
    eprintln!("demo: tracing the agent (python3 + openai SDK) through four tasks with `agentsight record --analyze`\n");
    let judge = config.analyzer.judge.is_some();
    let opts = pipeline::Options {
        output: None,
        quiet: false,
        verbose: false,
        capture: config.capture(),
        windows: Some(pipeline::Dest::Analyze {
            window: config.window,
            config: config.analyzer,
            data: data.to_path_buf(),
        }),
    };
    let ca = dir.join("ca.pem");
    let command = vec![
        "env".into(),
        format!("SSL_CERT_FILE={}", ca.display()).into(),
        "python3".into(),
        dir.join("agent.py").into_os_string(),
        format!("https://localhost:{port}/v1").into(),
        dir.join("scratch").into_os_string(),
    ];
    let code = record::record(opts, record::Until::Tree, command)?;
    drop(cleanup);

    let d = data.display();
    eprintln!();
    if !judge {
        eprintln!("demo: only the deterministic detectors ran (no LLM judge configured). To add one, point");
        eprintln!("      AGENTSIGHT_JUDGE_URL at any OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1)");
        eprintln!("      and set AGENTSIGHT_JUDGE_MODEL (and AGENTSIGHT_JUDGE_API_KEY if it needs a key), or run a");
        eprintln!("      local model with scripts/judge-setup and an [analyzer.judge.local] section. The demo");
        eprintln!("      does not judge by default: on the labelled evals a small local model added false alarms");
        eprintln!("      and no recall the detectors lacked (docs/EVALS.md).");
    }
    eprintln!("demo: explore what was recorded:");
    eprintln!("  agentsight findings --data {d}");
    eprintln!("  agentsight search 'build.py' --data {d}          # every prompt, command and path that mentions it");
    eprintln!("  agentsight search '\"tests pass\"' --kind llm_call --data {d}");
    eprintln!("  agentsight report --data {d}");
    eprintln!("  agentsight serve --data {d}                      # web UI on http://127.0.0.1:7395");
    if code != 0 {
        bail!("the demo agent exited with {code}");
    }
    Ok(0)
}
