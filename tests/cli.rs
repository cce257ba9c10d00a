//! The command line's contract, as a script sees it: `--config` is read and checked by every
//! command that has one, a data directory held by a running `serve` is refused in one line, exit
//! codes follow the scheme in the README ("Exit codes"), and the completions and man page name
//! every command. Hermetic: no root, no network but loopback, a scratch HOME.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::bin;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo-trace.jsonl")
}

/// `agentsight ARGS` with no configuration but what the arguments name.
fn command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("HOME", home)
        .env_remove("AGENTSIGHT_CONFIG")
        .env_remove("AGENTSIGHT_DATA")
        .env_remove("AGENTSIGHT_JUDGE_URL")
        .env_remove("AGENTSIGHT_JUDGE_MODEL");
    cmd
}

fn run(home: &Path, args: &[&str]) -> Output {
    command(home, args).stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory: HOME, the data directory and the files of one test.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn file(&self, name: &str, body: &str) -> String {
        std::fs::write(self.dir.path().join(name), body).unwrap();
        self.path(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.dir.path(), args)
    }

    /// The fixture ingested into `data`.
    fn ingested(&self) -> String {
        let data = self.path("data");
        let out = self.run(&["ingest", fixture().to_str().unwrap(), "--data", &data, "-q"]);
        assert!(out.status.success(), "ingest: {}", text(&out.stderr));
        data
    }
}

/// Every command that reads the configuration, with `--config FILE` and what else it needs to
/// get as far as reading it (none of them loads BPF or reads its input first).
fn commands_with_config(s: &Scratch, config: &str) -> Vec<Vec<String>> {
    let data = s.path("data");
    let trace = fixture().to_str().unwrap().to_owned();
    let evals = s.path("no-such-set");
    [
        vec!["ingest", &trace, "--data", &data],
        vec!["search", "pytest", "--data", &data],
        vec!["findings", "--data", &data],
        vec!["sessions", "--data", &data],
        vec!["show", "some-session", "--data", &data],
        vec!["report", "--data", &data],
        vec!["serve", "--data", &data, "--listen", "127.0.0.1:0"],
        vec!["demo", "--data", &data],
        vec!["eval", &evals],
        vec!["collect", "--ship", "http://127.0.0.1:9", "--spool", &data, "--", "true"],
        vec!["record", "--data", &data, "--", "true"],
        vec!["record", "--analyze", "--data", &data, "--", "true"],
    ]
    .into_iter()
    // `--config` right after the command's name: after `--` it would belong to the traced command.
    .map(|args| {
        let mut args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        args.splice(1..1, ["--config".to_owned(), config.to_owned()]);
        args
    })
    .collect()
}

fn one_error_line(out: &Output, what: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: exit 2 for a configuration error: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    assert!(err.starts_with("agentsight: "), "{what}: {err}");
    err
}

#[test]
fn a_missing_config_file_is_an_error_for_every_command_that_reads_one() {
    let s = Scratch::new();
    let missing = s.path("no-such-config.toml");
    for args in commands_with_config(&s, &missing) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s.run(&args);
        let err = one_error_line(&out, &args.join(" "));
        assert!(err.contains(&format!("failed to read config `{missing}`")), "{args:?}: {err}");
    }
}

#[test]
fn a_config_with_a_wrong_key_names_the_file_the_line_and_the_key() {
    let s = Scratch::new();
    let bad = s.file("bad.toml", "listen = \"127.0.0.1:7395\"\n\n[window]\nmax_turn = 3\n");
    for args in commands_with_config(&s, &bad) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s.run(&args);
        let err = one_error_line(&out, &args.join(" "));
        assert!(err.contains(&format!("`{bad}`")), "the file: {err}");
        assert!(err.contains("line 4, `window.max_turn`: unknown field `max_turn`"), "{args:?}: {err}");
    }
    // A value of the wrong type names its key too; so does a value that does not validate.
    let typed = s.file("typed.toml", "commit_interval_ms = \"soon\"\n");
    let err = one_error_line(&s.run(&["findings", "--config", &typed, "--data", &s.path("data")]), "typed");
    assert!(err.contains("line 1, `commit_interval_ms`: invalid type"), "{err}");
    let invalid = s.file("invalid.toml", "listen = \"localhost\"\n");
    let err = one_error_line(&s.run(&["report", "--config", &invalid, "--data", &s.path("data")]), "invalid");
    assert!(err.contains(&format!("`{invalid}`")) && err.contains("`listen`"), "{err}");
}

#[test]
fn config_from_the_environment_is_checked_the_same_way() {
    let s = Scratch::new();
    let bad = s.file("bad.toml", "lisen = 1\n");
    let out = command(s.dir.path(), &["findings", "--data", &s.path("data")])
        .env("AGENTSIGHT_CONFIG", &bad)
        .output()
        .unwrap();
    let err = one_error_line(&out, "AGENTSIGHT_CONFIG");
    assert!(err.contains(&format!("`{bad}`")) && err.contains("`lisen`"), "{err}");
    // A good file passes and the command does its work.
    let data = s.ingested();
    let good = s.file("good.toml", "[window]\nmax_turns = 4\n");
    let out = s.run(&["findings", "--config", &good, "--data", &data]);
    assert!(out.status.success() && !out.stdout.is_empty(), "{}", text(&out.stderr));
}

/// A running `agentsight serve` on `data`, killed when dropped.
struct Serve {
    child: Child,
}

impl Serve {
    /// Starts it and waits until it has written its marker (it has the index writer by then).
    fn start(home: &Path, data: &str) -> Serve {
        let child = command(home, &["serve", "--data", data, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut serve = Serve { child };
        let marker = Path::new(data).join("serve.json");
        let started = Instant::now();
        while !marker.exists() {
            assert!(serve.child.try_wait().unwrap().is_none(), "serve exited early");
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_data_dir_held_by_serve_is_refused_in_one_line_that_says_what_to_do() {
    let s = Scratch::new();
    let data = s.ingested();
    let serve = Serve::start(s.dir.path(), &data);
    let pid = serve.child.id();

    let out = s.run(&["ingest", fixture().to_str().unwrap(), "--data", &data]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line, said once: {err}");
    assert!(!err.contains("LockBusy") && !err.contains("tantivy"), "no raw lock error: {err}");
    assert!(
        err.contains(&format!("`{data}` is in use by a running `agentsight serve` (pid {pid}, http://127.0.0.1:")),
        "{err}"
    );
    assert!(
        err.contains("stop it")
            && err.contains("--data DIR")
            && err.contains("agentsight collect --ship http://127.0.0.1:"),
        "{err}"
    );

    // A second server is refused the same way, before it listens anywhere.
    let out = s.run(&["serve", "--data", &data, "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is in use by a running `agentsight serve`"), "{}", text(&out.stderr));

    // Reading needs no writer: findings, search, the report and the session views work beside
    // the server.
    for args in [
        &["findings", "--data", &data][..],
        &["search", "build.py", "--data", &data],
        &["report", "--data", &data],
        &["sessions", "--data", &data],
        &["show", DEMO, "--data", &data],
    ] {
        let out = s.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }

    // Once the server is gone (killed: its marker stays behind), the directory is free again.
    drop(serve);
    let out = s.run(&["ingest", fixture().to_str().unwrap(), "--data", &data, "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn nothing_found_is_exit_0_for_search_findings_and_report() {
    let s = Scratch::new();
    let data = s.ingested();
    let out = s.run(&["search", "zzzqqqxxx", "--data", &data]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && text(&out.stderr).contains("nothing matches"), "{}", text(&out.stderr));
    let out = s.run(&["search", "zzzqqqxxx", "--json", "--data", &data]);
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(0), "[]"));
    let out = s.run(&["findings", "--kind", "no_such_kind", "--data", &data]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no findings"), "{}", text(&out.stderr));
    let out = s.run(&["report", "--since", "2000-01-01", "--data", &data]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn errors_are_exit_2_usage_and_runtime_alike() {
    let s = Scratch::new();
    let cases: [(&[&str], &str); 4] = [
        (&["findings", "--no-such-flag"], "unexpected argument"),
        (&["completions", "tcsh"], "invalid value"),
        (&["findings", "--data", &s.path("empty")], "no index"),
        (&["ingest", &s.path("no-such-trace.jsonl"), "--data", &s.path("data")], "failed to open"),
    ];
    for (args, says) in cases {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
}

const COMMANDS: [&str; 14] = [
    "record",
    "collect",
    "serve",
    "ingest",
    "search",
    "findings",
    "sessions",
    "show",
    "report",
    "demo",
    "eval",
    "attach",
    "completions",
    "man",
];

#[test]
fn completions_name_every_command_in_every_shell() {
    let s = Scratch::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = s.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for cmd in COMMANDS {
            assert!(script.contains(cmd), "{shell}: no `{cmd}` in the completions");
        }
        let flag = if shell == "fish" { "-l data" } else { "--data" };
        assert!(script.contains(flag), "{shell}: flags are completed too");
    }
}

#[test]
fn man_prints_a_page_naming_every_command_or_writes_one_per_command() {
    let s = Scratch::new();
    let out = s.run(&["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH agentsight 1"), "a roff page: {}", &page[..page.len().min(300)]);
    for cmd in COMMANDS {
        assert!(page.contains(cmd), "no `{cmd}` in the man page");
    }
    let dir = s.path("man1");
    let out = s.run(&["man", "--dir", &dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for cmd in COMMANDS {
        let sub = Path::new(&dir).join(format!("agentsight-{cmd}.1"));
        let body = std::fs::read_to_string(&sub).unwrap_or_else(|e| panic!("`{}`: {e}", sub.display()));
        assert!(body.contains(".SH OPTIONS") || body.contains(".SH NAME"), "{cmd}: {body}");
    }
    assert!(Path::new(&dir).join("agentsight.1").exists());
}

/// The demo's session id in `fixtures/demo-trace.jsonl`.
const DEMO: &str = "20261124T013903Z-23803";

#[test]
fn sessions_lists_the_demo_with_its_agent_and_failed_commands() {
    let s = Scratch::new();
    let data = s.ingested();
    let out = s.run(&["sessions", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("COVERAGE"), "coverage warnings come first: {header}");
    let row = lines.next().unwrap();
    assert!(row.contains(DEMO) && row.contains("python3 agent.py"), "the short agent name, not the argv: {row}");
    assert!(!row.contains("/root/.pyenv"), "{row}");
    assert!(row.contains("7 of 10"), "7 of the 10 commands tool calls ran failed: {row}");
    assert!(row.contains("contradiction 1, loop 1") && row.contains("demo-model"), "{row}");
    assert!(!table.contains('\u{1b}'), "no colour when stdout is not a terminal: {table:?}");

    let out = s.run(&["sessions", "--json", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let demo = &list[0];
    assert_eq!(demo["id"], DEMO);
    assert_eq!(demo["agent"], "python3 agent.py");
    assert_eq!((demo["failed_commands"].as_u64(), demo["commands"].as_u64()), (Some(7), Some(10)));
    assert_eq!(demo["findings_by_kind"]["loop"], 1);
}

#[test]
fn show_nests_a_failing_command_under_its_tool_call_and_pins_the_finding() {
    let s = Scratch::new();
    let data = s.ingested();
    // The start of an id is enough when only one session has it.
    let out = s.run(&["show", &DEMO[..12], "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.starts_with(&format!("session {DEMO}\n")), "{page}");
    assert!(page.contains("user  [task:build] Make `python3 build.py` succeed."), "{page}");
    assert!(page.contains("assistant  The build keeps failing because config.yaml is missing"), "{page}");
    // turn 4: the tool call, the command it ran with its exit code under it, then the finding.
    let turn4 = page.split("── turn 4 ").nth(1).unwrap().split("── turn 5 ").next().unwrap();
    let lines: Vec<&str> = turn4.lines().collect();
    let call =
        lines.iter().position(|l| l.starts_with("  → run_command") && l.contains("python3 build.py")).expect(turn4);
    assert!(lines[call + 1].starts_with("      $ python3 build.py  exit 2 ✗"), "nested under its call: {turn4}");
    assert!(turn4.contains("◆ finding loop 0.85 [retry_same_error] The command `python3 build.py` failed"), "{turn4}");
    assert!(page.contains("noise events folded"), "noise is one count line: {page}");
    assert!(!page.contains("/usr/lib/python3"), "library reads are folded: {page}");

    // --noise lists what was folded; paging shows the asked turns and how to see more.
    let out = s.run(&["show", DEMO, "--noise", "--turn", "0", "--turns", "1", "--data", &data]);
    let page = text(&out.stdout);
    assert!(out.status.success() && page.contains("noise (24 events):") && !page.contains("── turn 1 "), "{page}");
    assert!(page.contains(&format!("turns 0 to 0 of 14 shown; more with `agentsight show {DEMO} --turn 1`")), "{page}");

    let out = s.run(&["show", DEMO, "--json", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["session"].as_str(), v["total_turns"].as_u64()), (Some(DEMO), Some(14)));
    let cmd = &v["turns"][4]["tool_calls"][0]["caused"]["commands"][0];
    assert_eq!(
        (cmd["command"].as_str(), cmd["exit_code"].as_i64(), cmd["failed"].as_bool()),
        (Some("python3 build.py"), Some(2), Some(true))
    );
    assert_eq!(v["turns"][4]["findings"][0]["kind"], "loop");
}

#[test]
fn show_of_an_unknown_session_is_exit_2_naming_it() {
    let s = Scratch::new();
    let data = s.ingested();
    for args in
        [&["show", "no-such-session", "--data", &data][..], &["show", "no-such-session", "--json", "--data", &data]]
    {
        let out = s.run(args);
        let err = one_error_line(&out, "unknown session");
        assert!(err.contains("no session `no-such-session`") && err.contains("agentsight sessions"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = s.run(&["show", DEMO, "--turn", "99", "--data", &data]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
