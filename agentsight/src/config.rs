//! The configuration file, whole: one tree of tables, each owned by the crate whose stage it
//! configures. This binary is the one place that knows them all:
//!
//! | table | type | read by |
//! | --- | --- | --- |
//! | `[capture]` | `collector::CaptureConfig` | `record`, `attach`, `collect`, `demo` |
//! | `[redact]` | `collector::redact::RedactConfig` | the same |
//! | `[window]` | `model::windower::WindowerConfig` | `record --analyze`, `collect`, `ingest`, `demo`, `eval` |
//! | `[ship]` | `collector::ship::ShipConfig` | `collect` |
//! | `[analyzer]` | `analyzer::config::Config` | every command but `attach`, `collect` and `record` without `--analyze` |
//!
//! [`load`] reads the file (`--config`, `$AGENTSIGHT_CONFIG`, `~/.config/agentsight/config.toml`,
//! else the defaults), parses it (a key no table knows is an error naming its line), applies the
//! environment and then the command line ([`Overrides`]), and validates once what the command
//! uses ([`Uses`]). Every error is a [`ConfigError`] naming the file and the key.
//!
//! The old layout, from before the `[analyzer]` table, had the analyzer's keys at the top level
//! (`listen`, `[judge]`, `[webhooks]`, ...). It is still read: those keys are moved under
//! `analyzer` before the tree is deserialised, keeping their positions in the file for errors,
//! and a warning says to move them. One key in both places is an error.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use collector::redact::RedactConfig;
use collector::ship::ShipConfig;
use collector::CaptureConfig;
use model::windower::WindowerConfig;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The configuration file's tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// What a recording captures (ring buffer, TLS, whole requests).
    pub capture: CaptureConfig,
    /// What is redacted besides the built-in credentials.
    pub redact: RedactConfig,
    /// How events are cut into windows, wherever that happens.
    pub window: WindowerConfig,
    /// How `collect` ships windows to a remote analyzer.
    pub ship: ShipConfig,
    /// The analyzer: `serve`, `ingest`, `record --analyze` and the commands that read its data.
    pub analyzer: analyzer::config::Config,
}

impl Config {
    /// The capture settings with the redaction the capture applies.
    pub(crate) fn capture(&self) -> CaptureConfig {
        CaptureConfig { redact: self.redact.clone(), ..self.capture.clone() }
    }
}

/// Which tables a command uses, and so validates (all of them are parsed, always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uses {
    /// Everything: a command that analyses, or reads what was analysed.
    All,
    /// `capture`, `redact`, `window` and `ship` only (`attach`, `collect`, `record` without
    /// `--analyze`): a collector host
    /// does not need the analyzer's judge or webhooks to be valid where it runs.
    Collector,
}

/// What the command line sets over the file; `None` (or `false`) leaves the file's value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `serve --listen`: `analyzer.listen`.
    pub listen: Option<String>,
    /// `--ring-mib` (`record`, `attach`, `collect`), in bytes: `capture.ring_mib`.
    pub ring_bytes: Option<u32>,
    /// `--full-requests` (`record`, `attach`): `capture.full_requests`.
    pub full_requests: bool,
    /// `collect --spool`: `ship.spool_dir`.
    pub spool: Option<PathBuf>,
    /// `export --otlp`: `analyzer.export.otlp`.
    pub otlp: Option<String>,
    /// `export --project`: `analyzer.export.project`.
    pub project: Option<String>,
    /// `export --no-content`: `analyzer.export.content = false`.
    pub no_content: bool,
}

/// Why the configuration cannot be used. Each names the file (when one was read) and the key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("failed to read config `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or a key or value no table takes: "line 4, `window.max_turn`: unknown field ...".
    #[error("invalid config{}: {message}", file_part(file))]
    Parse { file: Option<PathBuf>, message: String },
    /// An analyzer key at the top level (the old layout) and in `[analyzer]` too.
    #[error(
        "invalid config{}: line {line}, `{key}`: set both at the top level and in `[analyzer]`; keep only `analyzer.{key}` (the top level is the old layout)",
        file_part(file)
    )]
    BothLayouts { file: Option<PathBuf>, line: usize, key: String },
    /// A table that parsed but does not validate; `message` names the key in it.
    #[error("invalid config{}: in `[{table}]`: {message}", file_part(file))]
    Invalid { file: Option<PathBuf>, table: &'static str, message: String },
}

/// ": `FILE`" when there is one.
fn file_part(file: &Option<PathBuf>) -> String {
    file.as_ref().map(|f| format!(": `{}`", f.display())).unwrap_or_default()
}

impl ConfigError {
    fn in_file(mut self, path: &Path) -> Self {
        match &mut self {
            ConfigError::Read { .. } => {}
            ConfigError::Parse { file, .. }
            | ConfigError::BothLayouts { file, .. }
            | ConfigError::Invalid { file, .. } => {
                *file = Some(path.to_path_buf());
            }
        }
        self
    }
}

/// `--config FILE`, else `$AGENTSIGHT_CONFIG`, else `~/.config/agentsight/config.toml` when it
/// exists, else the defaults; then the environment (`AGENTSIGHT_JUDGE_URL` sets
/// `analyzer.judge.base_url`, adding a judge, and with it `AGENTSIGHT_JUDGE_MODEL` sets its
/// `model`), then `overrides`, then what `uses` names is validated.
pub(crate) fn load(arg: Option<PathBuf>, overrides: Overrides, uses: Uses) -> Result<Config, ConfigError> {
    let path = arg.or_else(|| std::env::var_os("AGENTSIGHT_CONFIG").map(PathBuf::from)).or_else(|| {
        let p = PathBuf::from(std::env::var_os("HOME")?).join(".config/agentsight/config.toml");
        p.exists().then_some(p)
    });
    let (mut config, old_keys) = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.clone(), source })?;
            parse(&text).map_err(|e| e.in_file(p))?
        }
        None => (Config::default(), Vec::new()),
    };
    apply_env(&mut config, |var| std::env::var(var).ok());
    overrides.apply(&mut config);
    let validated = config.validate(uses);
    match (validated, &path) {
        (Err(e), Some(p)) => return Err(e.in_file(p)),
        (Err(e), None) => return Err(e),
        (Ok(()), _) => {}
    }
    if !old_keys.is_empty() {
        let file = path.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default();
        tracing::warn!(
            file,
            keys = old_keys.join(", "),
            "the analyzer's keys are at the top level of the config file (the old layout, still read): move them under `[analyzer]`, e.g. `[judge]` becomes `[analyzer.judge]`"
        );
    }
    Ok(config)
}

/// Parses TOML text into the tree, moving the old layout's keys under `analyzer` first; returns
/// the keys moved. Nothing is validated yet.
pub(crate) fn parse(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let parse_error =
        |e: toml::de::Error| ConfigError::Parse { file: None, message: analyzer::config::toml_error(text, &e) };
    let mut root = DeTable::parse(text).map_err(parse_error)?;
    let moved = move_old_layout(root.get_mut()).map_err(|(span, key)| ConfigError::BothLayouts {
        file: None,
        line: text.get(..span.start).unwrap_or(text).matches('\n').count() + 1,
        key,
    })?;
    let config = Config::deserialize(toml::de::Deserializer::from(root)).map_err(parse_error)?;
    Ok((config, moved))
}

/// Moves the analyzer's keys found at the top level under `analyzer`, spans kept, so that an
/// error in one still names its line. Returns their names, or the span and name of one that is
/// in both places.
fn move_old_layout(root: &mut DeTable<'_>) -> Result<Vec<String>, (Range<usize>, String)> {
    let old: Vec<String> =
        root.keys().map(|k| k.get_ref().to_string()).filter(|k| analyzer::config::KEYS.contains(&k.as_str())).collect();
    if old.is_empty() {
        return Ok(old);
    }
    let (name, mut section) = root.remove_entry("analyzer").unwrap_or_else(|| {
        (Spanned::new(0..0, Cow::Borrowed("analyzer")), Spanned::new(0..0, DeValue::Table(DeTable::new())))
    });
    if let DeValue::Table(table) = section.get_mut() {
        for key in &old {
            let Some((k, v)) = root.remove_entry(key.as_str()) else { continue };
            if table.contains_key(key.as_str()) {
                return Err((k.span(), key.clone()));
            }
            table.insert(k, v);
        }
    }
    // Not a table: left as it is, for serde to report.
    root.insert(name, section);
    Ok(old)
}

/// The judge from the environment, over the file.
fn apply_env(config: &mut Config, var: impl Fn(&str) -> Option<String>) {
    let Some(url) = var("AGENTSIGHT_JUDGE_URL").filter(|u| !u.is_empty()) else { return };
    let mut judge = config.analyzer.judge.take().unwrap_or_default();
    judge.base_url = url;
    if let Some(model) = var("AGENTSIGHT_JUDGE_MODEL") {
        judge.model = model;
    }
    config.analyzer.judge = Some(judge);
}

impl Overrides {
    fn apply(self, config: &mut Config) {
        let Overrides { listen, ring_bytes, full_requests, spool, otlp, project, no_content } = self;
        if let Some(listen) = listen {
            config.analyzer.listen = listen;
        }
        if let Some(bytes) = ring_bytes {
            config.capture.ring_bytes = bytes;
        }
        config.capture.full_requests |= full_requests;
        if let Some(dir) = spool {
            config.ship.spool_dir = dir;
        }
        let export = &mut config.analyzer.export;
        if let Some(url) = otlp {
            export.otlp = url;
        }
        if let Some(p) = project {
            export.project = p;
        }
        export.content &= !no_content;
    }
}

impl Config {
    /// Validates what `uses` names; `capture` is checked as it is parsed (`ring_mib`).
    fn validate(&self, uses: Uses) -> Result<(), ConfigError> {
        let invalid = |table, message: String| ConfigError::Invalid { file: None, table, message };
        self.redact.validate().map_err(|e| invalid("redact", e.to_string()))?;
        self.ship.validate().map_err(|e| {
            invalid(
                "ship",
                match e {
                    collector::Error::Ship(m) => m,
                    other => other.to_string(),
                },
            )
        })?;
        if uses == Uses::All {
            self.analyzer.validate().map_err(|e| {
                invalid(
                    "analyzer",
                    match e {
                        analyzer::Error::Config(m) => m,
                        other => other.to_string(),
                    },
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("`{}`: {e}", path.display()))
    }

    /// Parsed and validated as `load` does, without the environment.
    fn checked(text: &str, uses: Uses) -> Result<(Config, Vec<String>), ConfigError> {
        let (config, moved) = parse(text)?;
        config.validate(uses)?;
        Ok((config, moved))
    }

    #[test]
    fn the_full_fixture_sets_every_table() {
        let (c, moved) = checked(&fixture("full.toml"), Uses::All).expect("full.toml");
        assert!(moved.is_empty(), "the new layout: {moved:?}");
        assert_eq!(c.capture.ring_bytes, 128 << 20);
        assert!(!c.capture.tls && c.capture.full_requests);
        assert_eq!(c.capture.tls_binaries, [PathBuf::from("/opt/agent/bin/agent")]);
        assert_eq!(c.redact.extra_patterns, ["ACME-[0-9]{6}"]);
        assert_eq!(c.redact.extra_headers, ["X-Tenant-Key"]);
        assert_eq!((c.window.max_turns, c.window.idle_timeout_ns), (6, 60_000_000_000));
        assert_eq!(c.ship.spool_dir, PathBuf::from("/var/tmp/agentsight-spool"));
        assert_eq!((c.ship.batch, c.ship.max_spool_bytes), (16, 268_435_456));
        assert_eq!(
            (c.ship.timeout, c.ship.backoff_min, c.ship.backoff_max),
            (Duration::from_secs(5), Duration::from_millis(100), Duration::from_secs(2))
        );
        let a = &c.analyzer;
        assert_eq!((a.listen.as_str(), a.token_env.as_str()), ("127.0.0.1:7400", "MY_TOKEN"));
        assert_eq!((a.max_body_bytes, a.commit_interval_ms, a.judge_queue), (1 << 20, 500, 64));
        assert_eq!((a.index.writer_heap_mib, a.index.writer_threads), (96, 2));
        assert_eq!((a.detect.min_repeats, a.detect.max_cycle_period), (4, 2));
        let judge = a.judge.as_ref().expect("a judge");
        assert_eq!((judge.base_url.as_str(), judge.model.as_str()), ("http://127.0.0.1:11434/v1", "qwen2.5:7b"));
        assert_eq!(judge.daily_token_budget, 500_000);
        assert_eq!(judge.gate.prompts.len(), 2);
        assert_eq!(a.webhooks.rules.len(), 1);
        assert_eq!(a.webhooks.rules[0].name, "loops");
        assert_eq!((a.export.otlp.as_str(), a.export.project.as_str()), ("http://127.0.0.1:6006/v1/traces", "team"));
        assert_eq!((a.retention.max_age_hours, a.retention.interval_mins), (720, 30));
    }

    #[test]
    fn the_minimal_fixture_is_the_defaults() {
        let (c, moved) = checked(&fixture("minimal.toml"), Uses::All).expect("minimal.toml");
        assert!(moved.is_empty());
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
        assert_eq!(c.capture, CaptureConfig::default());
        assert_eq!(c.ship, ShipConfig::default());
        assert_eq!(c.window, WindowerConfig::default());
        assert!(c.analyzer.judge.is_none());
    }

    #[test]
    fn the_wrong_key_fixture_is_rejected_naming_the_line_and_the_key() {
        let err = parse(&fixture("wrong-key.toml")).expect_err("a wrong key").to_string();
        assert!(err.contains("line 5, `ship.backof_max_ms`: unknown field `backof_max_ms`"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn the_old_layout_fixture_equals_its_new_layout_twin() {
        let (old, moved) = checked(&fixture("old-layout.toml"), Uses::All).expect("old-layout.toml");
        let (new, none) = checked(&fixture("old-layout-as-new.toml"), Uses::All).expect("old-layout-as-new.toml");
        assert_eq!(format!("{old:?}"), format!("{new:?}"));
        assert_eq!(moved, ["commit_interval_ms", "judge", "listen", "retention", "webhooks"]);
        assert!(none.is_empty());
    }

    #[test]
    fn an_error_in_a_moved_key_still_names_its_line() {
        let err = parse("[window]\nmax_turns = 3\n\n[judge]\nmodle = \"m\"\n").expect_err("typo").to_string();
        assert!(err.contains("line 5, `judge.modle`: unknown field `modle`"), "{err}");
        let err = parse("commit_interval_ms = \"soon\"\n").expect_err("type").to_string();
        assert!(err.contains("line 1, `commit_interval_ms`: invalid type"), "{err}");
    }

    #[test]
    fn a_key_in_both_layouts_is_an_error_naming_it() {
        let text =
            "[analyzer]\nlisten = \"127.0.0.1:1\"\n\n[judge]\nmodel = \"a\"\n\n[analyzer.judge]\nmodel = \"b\"\n";
        let err = parse(text).expect_err("judge twice").to_string();
        assert!(
            err.contains("line 4, `judge`: set both at the top level and in `[analyzer]`; keep only `analyzer.judge`"),
            "{err}"
        );
        // Different keys in each place are fine: the old ones join the new table.
        let (c, moved) = parse("listen = \"127.0.0.1:2\"\n[analyzer]\njudge_queue = 3\n").expect("mixed keys");
        assert_eq!((c.analyzer.listen.as_str(), c.analyzer.judge_queue, moved.len()), ("127.0.0.1:2", 3, 1));
    }

    #[test]
    fn collect_does_not_validate_the_analyzer() {
        let text = "[window]\nmax_turns = 5\n\n[analyzer.judge]\nbase_url = \"not a url\"\n";
        let err = checked(text, Uses::All).expect_err("a bad judge").to_string();
        assert!(err.contains("in `[analyzer]`"), "{err}");
        let (c, _) = checked(text, Uses::Collector).expect("collect reads only its tables");
        assert_eq!(c.window.max_turns, 5);
        // A typo is still an error anywhere in the file.
        assert!(checked("[analyzer.judge]\nbase_ur = \"x\"\n", Uses::Collector).is_err());
    }

    #[test]
    fn validation_names_the_table_and_the_key() {
        let err = checked("[ship]\nbackoff_min_ms = 500\nbackoff_max_ms = 100\n", Uses::Collector)
            .expect_err("max < min")
            .to_string();
        assert_eq!(err, "invalid config: in `[ship]`: `backoff_max_ms` must be at least `backoff_min_ms`");
        let err =
            checked("[redact]\nextra_headers = [\"a b\"]\n", Uses::Collector).expect_err("a bad header").to_string();
        assert!(err.starts_with("invalid config: in `[redact]`: invalid extra redaction header `a b`"), "{err}");
        let err = parse("[capture]\nring_mib = 3\n").expect_err("not a power of two").to_string();
        assert!(err.contains("line 2, `capture.ring_mib`: 3 is not a power of two"), "{err}");
        let err = checked("[analyzer.index]\nwriter_heap_mib = 1\n", Uses::All).expect_err("too little").to_string();
        assert!(err.contains("in `[analyzer]`: `index.writer_heap_mib` must be at least 15"), "{err}");
    }

    #[test]
    fn the_environment_adds_a_judge_and_flags_override_the_file() {
        let (mut c, _) = parse("[analyzer]\nlisten = \"127.0.0.1:1\"\n[capture]\nring_mib = 8\n").expect("parse");
        apply_env(&mut c, |v| match v {
            "AGENTSIGHT_JUDGE_URL" => Some("http://127.0.0.1:9/v1".into()),
            "AGENTSIGHT_JUDGE_MODEL" => Some("m".into()),
            _ => None,
        });
        let judge = c.analyzer.judge.as_ref().expect("a judge from the environment");
        assert_eq!((judge.base_url.as_str(), judge.model.as_str()), ("http://127.0.0.1:9/v1", "m"));
        let mut unset = Config::default();
        apply_env(&mut unset, |v| (v == "AGENTSIGHT_JUDGE_URL").then(String::new));
        assert!(unset.analyzer.judge.is_none(), "an empty URL is unset");

        assert_eq!(c.capture.ring_bytes, 8 << 20);
        Overrides::default().apply(&mut c);
        assert_eq!((c.capture.ring_bytes, c.analyzer.listen.as_str()), (8 << 20, "127.0.0.1:1"), "no flag, the file's");
        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            ring_bytes: Some(16 << 20),
            full_requests: true,
            spool: Some("/tmp/spool".into()),
            otlp: Some("http://127.0.0.1:4318".into()),
            project: Some("p".into()),
            no_content: true,
        };
        flags.apply(&mut c);
        assert_eq!((c.capture.ring_bytes, c.analyzer.listen.as_str()), (16 << 20, "127.0.0.1:2"));
        assert!(c.capture.full_requests && !c.analyzer.export.content);
        assert_eq!(c.ship.spool_dir, PathBuf::from("/tmp/spool"));
        assert_eq!(
            (c.analyzer.export.otlp.as_str(), c.analyzer.export.project.as_str()),
            ("http://127.0.0.1:4318", "p")
        );
    }

    #[test]
    fn the_capture_gets_the_redaction() {
        let (c, _) = parse("[redact]\nextra_headers = [\"X-Key\"]\n").expect("parse");
        assert_eq!(c.capture().redact.extra_headers, ["X-Key"]);
    }
}
