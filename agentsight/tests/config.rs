//! The configuration file as the binary reads it: the old layout (the analyzer's keys at the top
//! level) still works and says once how to move them, a key in both layouts and a wrong key are
//! one-line errors naming the file, the line and the key. Hermetic: a scratch HOME, no root
//! needed, nothing loaded into the kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("agentsight-config-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, body: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, body).expect("write");
        path.to_str().expect("utf-8 path").to_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_agentsight"))
            .args(args)
            .env("HOME", &self.0)
            .env_remove("AGENTSIGHT_CONFIG")
            .env_remove("AGENTSIGHT_DATA")
            .env_remove("AGENTSIGHT_JUDGE_URL")
            .env_remove("AGENTSIGHT_JUDGE_MODEL")
            .env_remove("AGENTSIGHT_LOG_FORMAT")
            .output()
            .expect("run agentsight")
    }

    /// `ingest -q` of the demo trace into a data directory of its own, with `config`.
    fn ingest(&self, data: &str, config: &str) -> Output {
        let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/demo-trace.jsonl");
        let data = self.0.join(data);
        self.run(&[
            "ingest",
            "-q",
            trace.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
            "--config",
            config,
        ])
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name);
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn the_old_layout_is_read_with_one_warning_naming_the_keys_to_move() {
    let s = Scratch::new("old");
    let old = s.file("old.toml", "commit_interval_ms = 50\n\n[detect]\nmin_repeats = 3\n");
    let out = s.ingest("old-data", &old);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("the old layout")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {err}");
    assert!(warnings[0].contains("WARN") && warnings[0].contains("move them under `[analyzer]`"), "{err}");
    assert!(
        warnings[0].contains("commit_interval_ms, detect") && warnings[0].contains(&old),
        "names the keys and the file: {err}"
    );

    let new = s.file("new.toml", "[analyzer]\ncommit_interval_ms = 50\n\n[analyzer.detect]\nmin_repeats = 3\n");
    let out = s.ingest("new-data", &new);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("the old layout"), "no warning for the new layout: {err}");
}

#[test]
fn a_key_in_both_layouts_is_a_one_line_error_naming_it() {
    let s = Scratch::new("both");
    let both = s.file(
        "both.toml",
        "[analyzer]\nlisten = \"127.0.0.1:1\"\n\n[judge]\nmodel = \"a\"\n\n[analyzer.judge]\nmodel = \"b\"\n",
    );
    let data = s.0.join("data");
    let out = s.run(&["findings", "--config", &both, "--data", data.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("`{both}`: line 4, `judge`: set both at the top level and in `[analyzer]`")),
        "{err}"
    );
}

#[test]
fn the_wrong_key_fixture_is_refused_by_every_kind_of_command() {
    let s = Scratch::new("wrong");
    let wrong = fixture("wrong-key.toml");
    let data = s.0.join("data");
    let data = data.to_str().expect("utf-8");
    for args in [
        vec!["findings", "--config", &wrong, "--data", data],
        vec!["collect", "--config", &wrong, "--ship", "http://127.0.0.1:9", "--spool", data, "--", "true"],
        vec!["attach", "--config", &wrong, "--pid", "1"],
    ] {
        let out = s.run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("`{wrong}`: line 5, `ship.backof_max_ms`: unknown field `backof_max_ms`")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_ship_value_that_does_not_hold_names_its_table_and_key() {
    let s = Scratch::new("ship");
    let bad = s.file("bad.toml", "[ship]\nbackoff_min_ms = 500\nbackoff_max_ms = 100\n");
    let out = s.run(&["collect", "--config", &bad, "--ship", "http://127.0.0.1:9", "--", "true"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        format!("agentsight: invalid config: `{bad}`: in `[ship]`: `backoff_max_ms` must be at least `backoff_min_ms`")
    );
}
