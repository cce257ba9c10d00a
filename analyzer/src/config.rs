//! The analyzer's configuration: the `[analyzer]` table of the configuration file (listen
//! address, limits, the index, detectors, the judge, webhooks, export, retention). The binary
//! (`agentsight/src/config.rs`) reads the whole file; this crate owns this section's types,
//! defaults and validation. How windows are cut (`[window]`) is not the analyzer's: windows
//! arrive cut.
//!
//! Parse, then validate: unknown keys are rejected (a typo must not silently turn a feature off),
//! every section has named defaults, so an empty table is a valid configuration (deterministic
//! detectors only, no webhooks).

use serde::Deserialize;

use crate::detect::DetectConfig;
use crate::index::IndexConfig;
use crate::judge::JudgeConfig;
use crate::otlp::ExportConfig;
use crate::webhook::WebhookConfig;
use crate::{Error, Result};

/// Everything `serve`, `ingest` and `record --analyze` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where `serve` listens.
    pub listen: String,
    /// The environment variable holding the bearer token the API requires; it must be set when
    /// `listen` is not a loopback address.
    pub token_env: String,
    /// Largest request body `POST /v1/windows` accepts (after decompression).
    pub max_body_bytes: usize,
    /// How often new windows are committed to the index (searchable).
    pub commit_interval_ms: u64,
    /// Windows waiting for the judge; more are counted as dropped (`judge_queue_full`).
    pub judge_queue: usize,
    /// The index writer's memory and threads.
    pub index: IndexConfig,
    pub detect: DetectConfig,
    /// No `[analyzer.judge]` table: deterministic findings only.
    pub judge: Option<JudgeConfig>,
    pub webhooks: WebhookConfig,
    /// OpenTelemetry export of finished sessions (off while `export.otlp` is empty).
    pub export: ExportConfig,
    /// What `serve` deletes, and when (off by default: everything is kept).
    pub retention: RetentionConfig,
}

/// The top-level keys of [`Config`]: where a file written before the `[analyzer]` table existed
/// has them (see `agentsight/src/config.rs`).
pub const KEYS: &[&str] = &[
    "listen",
    "token_env",
    "max_body_bytes",
    "commit_interval_ms",
    "judge_queue",
    "index",
    "detect",
    "judge",
    "webhooks",
    "export",
    "retention",
];

/// Which sessions `serve` deletes (`[analyzer.retention]`); `agentsight prune` takes the same from flags.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Sessions whose last event is older than this many hours are deleted; 0 keeps them.
    pub max_age_hours: u64,
    /// The oldest sessions are deleted while the window log is over this many MiB; 0: no cap.
    pub max_log_mib: u64,
    /// How often `serve` applies it (and once at start).
    pub interval_mins: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { max_age_hours: 0, max_log_mib: 0, interval_mins: 60 }
    }
}

impl RetentionConfig {
    /// Whether anything is ever deleted.
    pub fn is_on(&self) -> bool {
        self.max_age_hours > 0 || self.max_log_mib > 0
    }

    /// The cutoff at `now_ns`: sessions that ended before it go.
    pub fn before_ns(&self, now_ns: u64) -> Option<u64> {
        (self.max_age_hours > 0).then(|| now_ns.saturating_sub(self.max_age_hours.saturating_mul(3_600_000_000_000)))
    }

    pub fn max_log_bytes(&self) -> Option<u64> {
        (self.max_log_mib > 0).then(|| self.max_log_mib.saturating_mul(1 << 20))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7395".into(),
            token_env: "AGENTSIGHT_TOKEN".into(),
            max_body_bytes: 32 << 20,
            commit_interval_ms: 1000,
            judge_queue: 256,
            index: IndexConfig::default(),
            detect: DetectConfig::default(),
            judge: None,
            webhooks: WebhookConfig::default(),
            export: ExportConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Config {
    /// Parses and validates TOML text holding this section's keys at its top level.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config(toml_error(text, &e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(Error::Config(format!("`listen` is not an address:port: `{}`", self.listen)));
        }
        if self.max_body_bytes < 1024 {
            return Err(Error::Config("`max_body_bytes` must be at least 1024".into()));
        }
        // tantivy needs 15 MB per indexing thread (0 threads: it picks as many as fit).
        let threads = self.index.writer_threads.max(1);
        if self.index.writer_heap_mib < 15 * threads {
            return Err(Error::Config(format!(
                "`index.writer_heap_mib` must be at least 15 per writer thread: {} for {threads}",
                15 * threads
            )));
        }
        if let Some(judge) = &self.judge {
            judge.validate()?;
        }
        self.export.validate()?;
        // Rules are checked here; their secrets are read from the environment when they start.
        // (A placeholder secret: an empty one reads as "not set".)
        self.webhooks.dispatcher(&|_| Some("validate-only".to_owned()))?;
        Ok(())
    }
}

/// A TOML error on one line, naming the key where it can: "line 2, `window.max_turn`: unknown
/// field ...", without the source excerpt `toml` draws under its message. `text` is the text the
/// error's span points into.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else { return msg };
    let before = text.get(..span.start).unwrap_or(text);
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    // The table the error is in: the last header above its line (`[window]`, `[[webhooks.rules]]`).
    let above = &before[..before.rfind('\n').map_or(0, |i| i + 1)];
    let table = above
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"')).filter(|k| !k.is_empty());
    match (table, key) {
        (Some(t), Some(k)) => format!("line {line_no}, `{t}.{k}`: {msg}"),
        (None, Some(k)) => format!("line {line_no}, `{k}`: {msg}"),
        (Some(t), None) => format!("line {line_no}, in `[{t}]`: {msg}"),
        (None, None) => format!("line {line_no}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_configuration() {
        let c = Config::parse("").expect("parse");
        assert_eq!(c.listen, "127.0.0.1:7395");
        assert!(c.judge.is_none());
    }

    #[test]
    fn a_wrong_key_is_rejected() {
        let err = Config::parse("lisen = \"0.0.0.0:1\"\n").expect_err("typo");
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = Config::parse("[detect]\nmin_repeat = 3\n").expect_err("typo");
        assert!(err.to_string().contains("min_repeat"), "{err}");
    }

    #[test]
    fn a_toml_error_is_one_line_naming_the_key() {
        let err = Config::parse("[detect]\nmin_repeat = 3\n").expect_err("typo").to_string();
        assert!(err.contains("line 2, `detect.min_repeat`: unknown field `min_repeat`"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        let err =
            Config::parse("listen = \"127.0.0.1:1\"\ncommit_interval_ms = \"soon\"\n").expect_err("type").to_string();
        assert!(err.contains("line 2, `commit_interval_ms`: invalid type"), "{err}");
        let err = Config::parse("[window\n").expect_err("syntax").to_string();
        assert!(err.contains("line 1") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn a_signed_webhook_rule_validates_before_its_secret_is_read() {
        let c = Config::parse(
            "[[webhooks.rules]]\nname = \"t\"\nurl = \"http://127.0.0.1:9/hook\"\nkind = \"loop\"\nmin_score = 0.5\nsecret_env = \"AS_UNSET_SECRET_FOR_TEST\"\n",
        )
        .expect("parse");
        assert_eq!(c.webhooks.rules.len(), 1);
    }

    #[test]
    fn the_index_writer_is_configurable_and_checked() {
        let c = Config::parse("[index]\nwriter_heap_mib = 128\nwriter_threads = 2\n").expect("parse");
        assert_eq!(c.index, IndexConfig { writer_heap_mib: 128, writer_threads: 2 });
        let err =
            Config::parse("[index]\nwriter_heap_mib = 20\nwriter_threads = 2\n").expect_err("too little").to_string();
        assert!(err.contains("`index.writer_heap_mib` must be at least 15 per writer thread: 30 for 2"), "{err}");
        let err = Config::parse("[index]\nheap = 1\n").expect_err("typo").to_string();
        assert!(err.contains("`index.heap`: unknown field"), "{err}");
    }

    #[test]
    fn keys_lists_every_top_level_key() {
        let err = Config::parse("zz = 1\n").expect_err("unknown").to_string();
        for key in KEYS {
            assert!(err.contains(&format!("`{key}`")), "`{key}` is not a key: {err}");
        }
        assert_eq!(err.matches("`, `").count() + 1, KEYS.len(), "and no other: {err}");
    }

    #[test]
    fn a_bad_listen_address_is_rejected() {
        let err = Config::parse("listen = \"localhost\"\n").expect_err("bad");
        assert!(err.to_string().contains("listen"), "{err}");
    }
}
