//! The one `tracing` subscriber, installed by `main` before any command runs: diagnostics with
//! their fields on stderr, as text for a person or as one JSON object per line for a log
//! collector (`--log-format`, else `$AGENTSIGHT_LOG_FORMAT`, else text).
//!
//! What a command says to the person who ran it (summaries, findings, refusals) is its output,
//! not a log, and is printed as it always was; stdout stays the command's own.

use std::io::IsTerminal;

use anyhow::{bail, Result};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, the event's fields at its top level.
    Json,
}

/// The environment variable read when `--log-format` is not given.
const ENV: &str = "AGENTSIGHT_LOG_FORMAT";

impl LogFormat {
    /// `--log-format`, else `$AGENTSIGHT_LOG_FORMAT` (empty counts as unset), else text.
    pub(crate) fn choose(flag: Option<LogFormat>, env: Option<&str>) -> Result<LogFormat> {
        if let Some(f) = flag {
            return Ok(f);
        }
        match env.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(LogFormat::Text),
            Some(v) => match <LogFormat as clap::ValueEnum>::from_str(v, true) {
                Ok(f) => Ok(f),
                Err(_) => bail!("`{ENV}` is `{v}`: it must be `text` or `json`"),
            },
        }
    }
}

/// The subscriber for `format` writing to `writer`, events at INFO and above.
fn subscriber<W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_writer(writer).with_max_level(LevelFilter::INFO);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).with_current_span(true).finish()),
    }
}

/// Installs the subscriber for `flag` (or the environment) on stderr, once, for the process.
pub(crate) fn init(flag: Option<LogFormat>) -> Result<()> {
    let env = std::env::var(ENV).ok();
    let format = LogFormat::choose(flag, env.as_deref())?;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Only fails when a subscriber is already set, which only `main` does.
    let _ = tracing::subscriber::set_global_default(subscriber(format, std::io::stderr, ansi));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        tracing::subscriber::with_default(subscriber(format, move || out.clone(), false), || {
            tracing::warn!(window = "w1", failed = 2, "a window could not be analysed");
            tracing::debug!("below the level");
        });
        let bytes = buf.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_the_fields_at_the_top() {
        let text = logged(LogFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "debug is below the level: {text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "a window could not be analysed");
        assert_eq!(v["window"], "w1");
        assert_eq!(v["failed"], 2);
    }

    #[test]
    fn text_logs_are_one_line_with_the_fields() {
        let text = logged(LogFormat::Text);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("WARN") && text.contains("a window could not be analysed window=\"w1\" failed=2"),
            "{text}"
        );
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_a_bad_value_is_refused() {
        assert_eq!(LogFormat::choose(Some(LogFormat::Text), Some("json")).ok(), Some(LogFormat::Text));
        assert_eq!(LogFormat::choose(None, Some("JSON")).ok(), Some(LogFormat::Json));
        assert_eq!(LogFormat::choose(None, Some("")).ok(), Some(LogFormat::Text));
        assert_eq!(LogFormat::choose(None, None).ok(), Some(LogFormat::Text));
        let err = LogFormat::choose(None, Some("yaml")).expect_err("refused").to_string();
        assert_eq!(err, "`AGENTSIGHT_LOG_FORMAT` is `yaml`: it must be `text` or `json`");
    }
}
