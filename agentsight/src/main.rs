//! `agentsight`: one binary for every command (see `docs/DESIGN.md`, "Command line").
//!
//! This crate is the thin layer a person touches: argument parsing, signals, output and exit
//! codes. Capture lives in `collector`, analysis in `analyzer`; `pipeline` is the one place their
//! stages are wired together, `commands` holds one module per command and `render` what they
//! print.

mod commands;
mod config;
#[cfg(test)]
mod config_reference;
mod datadir;
mod logging;
mod pipeline;
mod pretty;
mod render;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Watch AI agents from outside: every exec, fork, exit, file change and connection of a
/// command and all of its descendants, recorded with eBPF. No SDK, no proxy, no change to the
/// agent. Needs root (or CAP_BPF and CAP_PERFMON) and Linux 5.17+ with BTF.
#[derive(Debug, Parser)]
#[command(name = "agentsight", version, max_term_width = 100, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How diagnostics are logged on stderr: readable lines, or one JSON object per line with
    /// the event's fields (default: $AGENTSIGHT_LOG_FORMAT, else text).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<logging::LogFormat>,
}

/// What every command's exit status means (README, "Exit codes").
const EXIT_CODES: &str = "Exit codes: 0 success (also when nothing matched or nothing was found); 1 `eval --floors` below a floor; 2 an error (usage, configuration, privileges, a data directory in use, I/O). `record` and `collect -- CMD` exit with the command's own status.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command and trace it and every process it starts.
    ///
    /// The probes are live before the command starts, so nothing it does is missed; daemons it
    /// double-forks or starts with `setsid` are traced too. `record` exits with the command's
    /// exit code (128 + the signal's number if a signal killed it). Ctrl-C stops cleanly and
    /// flushes everything recorded so far.
    #[command(
        after_help = "Examples:\n  agentsight record -- make test\n  agentsight record -o trace.jsonl -- python3 agent.py\n  agentsight record --until root -- ./start-dev-server.sh"
    )]
    Record {
        #[command(flatten)]
        out: OutputArgs,
        /// Analyse the recording as it happens (windows, index, detectors, the judge if one is
        /// configured) into the data directory, and print the findings at the end.
        #[arg(long)]
        analyze: bool,
        #[command(flatten)]
        store: StoreArgs,
        /// When to stop: when the whole process tree has exited (`tree`), or as soon as the
        /// command itself has (`root`), leaving its background processes untraced.
        #[arg(long, value_enum, default_value = "tree")]
        until: commands::record::Until,
        /// The command to run, after `--`.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Collector only: trace a command or running processes and ship the windows to an
    /// analyzer (`agentsight serve` elsewhere) over HTTP.
    ///
    /// Windows wait in an on-disk spool while the analyzer is away and are sent when it is
    /// back (also by the next run); resends are idempotent.
    #[command(
        after_help = "Examples:\n  agentsight collect --ship http://10.0.0.5:7395 --comm claude\n  AGENTSIGHT_TOKEN=secret agentsight collect --ship https://analyzer:7395 -- python3 agent.py"
    )]
    Collect {
        /// The analyzer's URL.
        #[arg(long, value_name = "URL")]
        ship: String,
        /// Where windows wait while the analyzer is away (default: `ship.spool_dir` from the
        /// config, else /var/spool/agentsight).
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
        /// Processes to trace (with their descendants).
        #[arg(long, value_name = "PID", num_args = 1..)]
        pid: Vec<u32>,
        /// Trace processes with this name, now and later.
        #[arg(long, value_name = "NAME", conflicts_with = "pid", value_parser = comm_name)]
        comm: Option<String>,
        /// Also write the events as JSON Lines to FILE.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print nothing at the end but problems (windows left in the spool, refused, dropped).
        #[arg(short, long)]
        quiet: bool,
        /// Size of the kernel ring buffer in MiB (a power of two); raise it if losses are
        /// reported. Records go to a 4 MiB first ring until a burst fills it (default:
        /// `capture.ring_mib` from the config, else 64).
        #[arg(long, value_name = "MIB", value_parser = ring_mib)]
        ring_mib: Option<u32>,
        /// Read the bearer token from this environment variable.
        #[arg(long, value_name = "VAR", default_value = "AGENTSIGHT_TOKEN")]
        token_env: String,
        /// The configuration file whose `[capture]`, `[redact]`, `[window]` and `[ship]` tables
        /// are used; its `[analyzer]` is not checked here (default: $AGENTSIGHT_CONFIG, else
        /// ~/.config/agentsight/config.toml if it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A command to run and trace, after `--` (instead of --pid/--comm).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// The analyzer service: receives windows, indexes them, runs the detectors and the judge,
    /// fires webhooks, and serves the API and the web UI.
    #[command(
        after_help = "Examples:\n  agentsight serve\n  AGENTSIGHT_TOKEN=secret agentsight serve --listen 0.0.0.0:7395 --config /etc/agentsight.toml"
    )]
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on (default: `analyzer.listen` from the config, else
        /// 127.0.0.1:7395). Anything but loopback requires a bearer token in $AGENTSIGHT_TOKEN.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
    },
    /// Analyse a recorded trace (JSON Lines from `record -o`) into the data directory; no
    /// server needed.
    #[command(
        after_help = "Example:\n  agentsight record -o trace.jsonl -- python3 agent.py\n  agentsight ingest trace.jsonl && agentsight findings"
    )]
    Ingest {
        /// The trace file (JSON Lines, or gzip-compressed JSON Lines).
        trace: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// Print no findings or hints at the end; only problems.
        #[arg(short, long)]
        quiet: bool,
        /// Skip (and count) lines longer than this, without reading them into memory.
        #[arg(long, value_name = "BYTES", default_value_t = commands::ingest::MAX_TRACE_LINE_BYTES)]
        max_line_bytes: usize,
    },
    /// Full-text search of everything recorded: prompts, responses, tool calls, argv, paths,
    /// hosts, finding rationales. tantivy query syntax: `pytest`, `"tests pass"`,
    /// `kind:exec AND argv:pytest`, `tool:run_command`; Chinese and Japanese text works.
    Search {
        /// The query (tantivy syntax; quote it for the shell).
        query: String,
        /// Only this session (its id, as `findings` and the report show it).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// An event kind (exec, llm_call, file, ...) or a finding kind (loop, contradiction, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Only the last DURATION (e.g. 24h, 30m, 7d), or since a time (RFC 3339, e.g.
        /// 2026-11-24T09:00:00Z, or a date, 2026-11-24, from midnight UTC).
        #[arg(long, value_name = "DURATION|TIME", value_parser = since)]
        since: Option<Since>,
        /// At most N hits, best first.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// JSON output (an array of hits with the full events and findings).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List findings (loops, contradictions, persona drift), worst first.
    Findings {
        /// Only findings scored at least X (0 to 1).
        #[arg(long, value_name = "X")]
        min_score: Option<f64>,
        /// Only this session's findings.
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// Only findings of this kind (loop, contradiction, persona_drift, ...).
        #[arg(long)]
        kind: Option<String>,
        /// At most N findings, worst first.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
        /// JSON output (an array of findings with their evidence).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the recorded sessions with their rollups: coverage warnings (TLS not captured,
    /// events lost) first, then agent, models, tokens, duration, turns, the agent's exit code,
    /// failed commands and findings by kind; most recently active first.
    #[command(after_help = "Examples:\n  agentsight sessions\n  agentsight sessions --json | jq '.[0].id'")]
    Sessions {
        /// JSON output, as `GET /v1/sessions` serves it.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One session by turn: the user's input, the assistant's text, each tool call with the
    /// commands (and their exit codes), file changes and connections it caused, then what no
    /// tool call caused; findings pinned at the turns they cite.
    ///
    /// Library and system reads, failed lookups and caches are folded into one count per turn
    /// (`--noise` lists them). A session under 200 turns is shown whole, a longer one from its
    /// first 50; `--turn` and `--turns` page through it.
    #[command(
        after_help = "Examples:\n  agentsight show 20261124T013903Z-23803\n  agentsight show 20261124T0139 --turn 50 --turns 20\n  agentsight show SESSION --json | jq '.turns[].tool_calls[].caused.commands[] | select(.failed)'"
    )]
    Show {
        /// The session's id (as `agentsight sessions` lists it), or the start of one.
        session: String,
        /// Start at turn N (turn 0 is what happened before the first LLM call).
        #[arg(long, value_name = "N", default_value_t = 0)]
        turn: usize,
        /// Show M turns (at most 500).
        #[arg(long, value_name = "M", value_parser = clap::value_parser!(u64).range(1..=500))]
        turns: Option<u64>,
        /// List each turn's folded noise events instead of counting them.
        #[arg(long)]
        noise: bool,
        /// JSON output, as `GET /v1/sessions/{id}` serves it.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Send recorded sessions to an OpenTelemetry receiver (OTLP/HTTP, protobuf), once.
    ///
    /// Spans follow the OpenTelemetry GenAI semantic conventions: a session is an
    /// `invoke_agent` span; each LLM call a `chat` span with model and token usage; each tool
    /// call an `execute_tool` span with the commands it ran as child spans (exit codes, failures
    /// as ERROR); findings are `gen_ai.evaluation.result` events. Ids are derived from the
    /// session, so sending a session again does not double it at a receiver that keys spans by
    /// id. Headers (e.g. an API key) come from OTEL_EXPORTER_OTLP_HEADERS. `serve` exports
    /// continuously when `analyzer.export.otlp` is set in the config.
    #[command(
        after_help = "Examples:\n  agentsight export --otlp http://127.0.0.1:6006/v1/traces\n  agentsight export --otlp http://collector:4318 --session 20261124T0139\n  OTEL_EXPORTER_OTLP_HEADERS='api_key=...' agentsight export --otlp https://app.phoenix.arize.com/v1/traces"
    )]
    Export {
        /// The OTLP/HTTP endpoint: a full URL (…/v1/traces), or a base URL to which /v1/traces
        /// is added (default: `analyzer.export.otlp` from the config).
        #[arg(long, value_name = "URL")]
        otlp: Option<String>,
        /// Only this session (its id or the start of one); repeat for more. Default: all.
        #[arg(long, value_name = "ID")]
        session: Vec<String>,
        /// The project the spans belong to, sent as `openinference.project.name` (default:
        /// `analyzer.export.project`, "agentsight").
        #[arg(long, value_name = "NAME")]
        project: Option<String>,
        /// Leave out prompts, answers, tool arguments and results: export structure, timing,
        /// tokens, commands and findings only.
        #[arg(long)]
        no_content: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete old sessions from the data directory: their events and findings from the index
    /// and their windows from the window log.
    ///
    /// By age (`--older-than`: sessions whose last event is older), by size (`--max-log-size`:
    /// the oldest sessions until the window log fits), or both; each flag replaces its key of the
    /// config's `[analyzer.retention]`, and without flags that table alone decides. A running `serve` holds the data directory: set
    /// `[analyzer.retention]` in its config instead, and it prunes on its own, without stopping
    /// ingest.
    #[command(
        after_help = "Examples:\n  agentsight prune --older-than 30d --dry-run\n  agentsight prune --max-log-size 2048"
    )]
    Prune {
        /// Delete sessions whose last event is older than DURATION (e.g. 30d, 12h).
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        older_than: Option<std::time::Duration>,
        /// Then delete the oldest sessions while the window log is over MIB mebibytes.
        #[arg(long, value_name = "MIB")]
        max_log_size: Option<u64>,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The review report of a period: sessions and findings with their evidence.
    Report {
        /// The period: the last DURATION (30m, 12h, 7d), or since a time (RFC 3339, e.g.
        /// 2026-11-24T09:00:00Z, or a date, 2026-11-24, from midnight UTC).
        #[arg(long, value_name = "DURATION|TIME", default_value = "24h", value_parser = since)]
        since: Since,
        /// Markdown or a self-contained HTML page.
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Write the report to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The end-to-end demo: a small real agent (Python, openai SDK) works through four tasks
    /// against a local scripted model over HTTPS (one loops, one claims a false success, one
    /// breaks a rule of its persona), traced with `record --analyze`; then its findings are
    /// printed. Needs root.
    Demo {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Measure detection quality on a labelled set of sessions (`evals/dev`): precision,
    /// recall and F1 per finding kind, and false alarms on clean sessions.
    ///
    /// Each session's trace goes through the same windows and detectors as a recording. With
    /// `--floors`, exits 1 when a kind's F1 or the false-alarm rate misses its floor (CI's
    /// regression gate); 2 when the set cannot be read. No root needed.
    #[command(after_help = "Examples:
  agentsight eval evals/dev
  agentsight eval evals/dev --floors evals/floors.toml
  agentsight eval evals/dev --json | jq .kinds")]
    Eval {
        /// The set: a directory with `labels.jsonl` and the traces it names.
        dir: PathBuf,
        /// Floors to meet (TOML: `max_false_alarm_rate` and `[f1]` per kind); exit 1 if missed.
        #[arg(long, value_name = "FILE")]
        floors: Option<PathBuf>,
        /// The whole report as JSON (scores, and per session the findings, misses and false
        /// alarms).
        #[arg(long)]
        json: bool,
        /// Also list every finding of every session.
        #[arg(short, long)]
        verbose: bool,
        /// Also ask the LLM judge of the configuration about every window it gates (its
        /// findings from score 0.5 count), and report its tokens and seconds per window.
        #[arg(long)]
        judge: bool,
        /// Run only N sessions, evenly spaced over the set (a local judge takes tens of
        /// seconds per window).
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
        /// The configuration whose `[window]`, `[analyzer.detect]` and `[analyzer.judge]`
        /// settings are used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Trace processes that already run, and every process they start from now on.
    ///
    /// Stops on Ctrl-C, or when every traced process has exited (with `--pid`).
    #[command(
        after_help = "Examples:\n  agentsight attach --pid 4242\n  agentsight attach --comm claude -o claude.jsonl"
    )]
    Attach {
        /// A process to trace, with its current descendants (repeatable).
        #[arg(long, value_name = "PID", num_args = 1.., required_unless_present = "comm")]
        pid: Vec<u32>,
        /// Trace processes with this name: those running now and any that start later. The
        /// kernel keeps 15 bytes of a name, so a longer one is refused.
        #[arg(long, value_name = "NAME", conflicts_with = "pid", value_parser = comm_name)]
        comm: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
        /// The configuration file whose `[capture]` and `[redact]` tables are used (default:
        /// $AGENTSIGHT_CONFIG, else ~/.config/agentsight/config.toml if it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print a shell completion script on stdout.
    #[command(after_help = "Examples:
  agentsight completions bash > /etc/bash_completion.d/agentsight
  agentsight completions zsh > \"${fpath[1]}/_agentsight\"
  agentsight completions fish > ~/.config/fish/completions/agentsight.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write one page per command into a directory.
    #[command(after_help = "Examples:
  agentsight man | man -l -
  agentsight man --dir /usr/local/share/man/man1")]
    Man {
        /// Write `agentsight.1` and `agentsight-COMMAND.1` for every command into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Where the analyzer keeps its data, and its configuration.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// The data directory (default: $AGENTSIGHT_DATA, else ~/.local/share/agentsight).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The configuration file (default: $AGENTSIGHT_CONFIG, else
    /// ~/.config/agentsight/config.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    /// Markdown.
    Md,
    /// One HTML page, no external resources.
    Html,
}

/// `--since`: a span back from now, or a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Ago(std::time::Duration),
    At(jiff::Timestamp),
}

impl Since {
    /// The period's start in nanoseconds since the Unix epoch, `now_ns` being now.
    fn start_ns(self, now_ns: u64) -> u64 {
        match self {
            Since::Ago(d) => now_ns.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            Since::At(t) => u64::try_from(t.as_nanosecond()).unwrap_or(0),
        }
    }
}

fn now_ns() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0)
}

/// A duration (`30m`, `12h`, `7d`; `s`, `m`, `h` or `d` after a whole number), or an RFC 3339
/// time (`2026-11-24T09:00:00Z`, any offset), or a date (`2026-11-24`, from midnight UTC).
fn since(s: &str) -> Result<Since, String> {
    // a date starts with four digits and a dash; a duration never holds a dash
    if !s.contains('-') {
        return duration(s).map(Since::Ago);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(Since::At(t));
    }
    if let Ok(day) = s.parse::<jiff::civil::Date>() {
        if let Ok(z) = day.to_zoned(jiff::tz::TimeZone::UTC) {
            return Ok(Since::At(z.timestamp()));
        }
    }
    Err(format!("`{s}` is neither a duration like 30m, 12h or 7d, nor a time like 2026-11-24T09:00:00Z or 2026-11-24"))
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration like 30m, 12h or 7d"))?;
    let unit_s: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => return Err(format!("`{s}` needs a unit: s, m, h or d (e.g. {s}h)")),
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit_s).map(std::time::Duration::from_secs).ok_or_else(|| format!("`{s}` is too long a duration"))
}

/// The kernel keeps a process's name in 16 bytes, the last a NUL (`TASK_COMM_LEN`).
const COMM_MAX_BYTES: usize = 15;

/// `--comm NAME`: a name the kernel can hold, or no process could ever match it.
fn comm_name(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.len() > COMM_MAX_BYTES {
        let mut cut = COMM_MAX_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        return Err(format!(
            "`{s}` is {} bytes long, and the kernel keeps only the first {COMM_MAX_BYTES} of a process name: use `{}`",
            s.len(),
            &s[..cut]
        ));
    }
    Ok(s.to_owned())
}

#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Write events as JSON Lines to FILE (`-` for stdout) instead of the live readable stream.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print no summary or process tree at the end.
    #[arg(short, long)]
    quiet: bool,
    /// Show every event in the live stream, reads of libraries and system files, failed
    /// lookups and caches included.
    #[arg(short, long)]
    verbose: bool,
    /// Size of the kernel ring buffer in MiB (a power of two); raise it if losses are reported.
    /// Records go to a 4 MiB first ring until a burst fills it; this one is mapped (and counts
    /// in agentsight's resident memory, twice) only from then on (default: `capture.ring_mib`
    /// from the config, else 64).
    #[arg(long, value_name = "MIB", value_parser = ring_mib)]
    ring_mib: Option<u32>,
    /// Write each LLM request whole, as the agent sent it (its whole conversation again),
    /// instead of only what is new since the request it continues (`request.extends`). For
    /// tools that expect whole requests; the trace grows with the square of the turns
    /// (default: `capture.full_requests` from the config, else off).
    #[arg(long)]
    full_requests: bool,
}

impl OutputArgs {
    /// What these flags set over the config file.
    fn overrides(&self) -> config::Overrides {
        config::Overrides {
            ring_bytes: self.ring_mib.map(|m| m << 20),
            full_requests: self.full_requests,
            ..Default::default()
        }
    }

    /// The recording's options, with the config's capture settings.
    fn options(self, config: &config::Config) -> pipeline::Options {
        pipeline::Options {
            output: self.output,
            quiet: self.quiet,
            verbose: self.verbose,
            capture: config.capture(),
            windows: None,
        }
    }
}

fn ring_mib(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    collector::capture::ring_bytes(n).map(|_| n)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = logging::init(cli.log_format) {
        eprintln!("agentsight: {}", error_message(&err));
        return ExitCode::from(2);
    }
    match run(cli.command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("agentsight: {}", error_message(&err));
            ExitCode::from(commands::record::exit_code_for(&err))
        }
    }
}

/// An error and its causes, each said once: a library error that prints its source (tantivy's,
/// the analyzer's) would otherwise be repeated by the chain.
fn error_message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(text.trim()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text.trim());
    }
    out
}

fn run(command: Command) -> anyhow::Result<i32> {
    use collector::ship::ShipConfig;
    use commands::{demo, eval, export, findings, ingest, manual, prune, record, report, search, serve, sessions};
    use config::Uses;
    match command {
        Command::Record { out, analyze, store, until, command } => {
            // Read even without --analyze (a bad file named is an error, always), but the analyzer's
            // table is checked only when it will run, as for `attach`.
            let uses = if analyze { Uses::All } else { Uses::Collector };
            let config = config::load(store.config, out.overrides(), uses)?;
            let mut opts = out.options(&config);
            if analyze {
                let data = datadir::data_dir(store.data);
                opts.windows = Some(pipeline::Dest::Analyze { window: config.window, config: config.analyzer, data });
            }
            record::record(opts, until, command)
        }
        Command::Attach { pid, comm, out, config } => {
            let config = config::load(config, out.overrides(), Uses::Collector)?;
            record::attach(out.options(&config), pid, comm)
        }
        Command::Collect { ship, spool, pid, comm, output, quiet, ring_mib, token_env, config, command } => {
            let overrides = config::Overrides { ring_bytes: ring_mib.map(|m| m << 20), spool, ..Default::default() };
            let config = config::load(config, overrides, Uses::Collector)?;
            let token = std::env::var(&token_env).ok().filter(|t| !t.is_empty());
            let opts = pipeline::Options {
                output,
                quiet,
                verbose: false,
                capture: config.capture(),
                windows: Some(pipeline::Dest::Ship {
                    window: config.window,
                    ship: ShipConfig { url: ship, token, ..config.ship },
                }),
            };
            match (command.is_empty(), pid.is_empty() && comm.is_none()) {
                (false, true) => record::record(opts, record::Until::Tree, command),
                (true, false) => record::attach(opts, pid, comm),
                _ => anyhow::bail!("give either a command after `--`, or --pid / --comm"),
            }
        }
        Command::Serve { store, listen } => {
            let config = config::load(store.config, config::Overrides { listen, ..Default::default() }, Uses::All)?;
            serve::serve(config.analyzer, &datadir::data_dir(store.data))
        }
        Command::Ingest { trace, store, quiet, max_line_bytes } => {
            let config = config::load(store.config, Default::default(), Uses::All)?;
            ingest::ingest(&trace, config, &datadir::data_dir(store.data), quiet, max_line_bytes)
        }
        Command::Search { query, session, kind, since, limit, json, store } => {
            config::load(store.config, Default::default(), Uses::All)?;
            let since_ns = since.map(|s| s.start_ns(now_ns()));
            let q = analyzer::index::SearchQuery { query, session, kind, since_ns, limit, ..Default::default() };
            search::search(q, &datadir::data_dir(store.data), json)
        }
        Command::Findings { min_score, session, kind, limit, json, store } => {
            config::load(store.config, Default::default(), Uses::All)?;
            let f = analyzer::index::FindingFilter { min_score, session, kind, limit, ..Default::default() };
            findings::findings(f, &datadir::data_dir(store.data), json)
        }
        Command::Sessions { json, store } => {
            config::load(store.config, Default::default(), Uses::All)?;
            sessions::list(&datadir::data_dir(store.data), json)
        }
        Command::Show { session, turn, turns, noise, json, store } => {
            config::load(store.config, Default::default(), Uses::All)?;
            let turns = turns.map(|t| usize::try_from(t).unwrap_or(analyzer::view::MAX_TURNS));
            sessions::show(sessions::ShowArgs { session, turn, turns, noise, json }, &datadir::data_dir(store.data))
        }
        Command::Export { otlp, session, project, no_content, store } => {
            let overrides = config::Overrides { otlp, project, no_content, ..Default::default() };
            let config = config::load(store.config, overrides, Uses::All)?;
            export::run(
                export::ExportArgs { sessions: session },
                config.analyzer.export,
                &datadir::data_dir(store.data),
            )
        }
        Command::Prune { older_than, max_log_size, dry_run, store } => {
            let config = config::load(store.config, Default::default(), Uses::All)?.analyzer;
            let now = now_ns();
            let before = match older_than {
                Some(d) => Some(now.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))),
                None => config.retention.before_ns(now),
            };
            let cap = max_log_size.map(|m| m.saturating_mul(1 << 20)).or_else(|| config.retention.max_log_bytes());
            prune::prune(before, cap, dry_run, config, &datadir::data_dir(store.data))
        }
        Command::Report { since, format, output, store } => {
            config::load(store.config, Default::default(), Uses::All)?;
            let format = match format {
                ReportFormat::Md => analyzer::report::Format::Markdown,
                ReportFormat::Html => analyzer::report::Format::Html,
            };
            let now = now_ns();
            let since = std::time::Duration::from_nanos(now.saturating_sub(since.start_ns(now)));
            report::report(since, format, output, &datadir::data_dir(store.data))
        }
        Command::Eval { dir, floors, json, verbose, judge, sample, config } => {
            let config = config::load(config, Default::default(), Uses::All)?;
            eval::eval(&dir, eval::EvalArgs { floors, json, verbose, judge, sample }, config)
        }
        Command::Demo { store } => {
            let config = config::load(store.config, Default::default(), Uses::All)?;
            demo::run(config, &datadir::data_dir(store.data))
        }
        Command::Completions { shell } => manual::completions(shell, Cli::command()),
        Command::Man { dir } => manual::man(Cli::command(), dir.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    /// Every argument and every command, down the whole tree, says what it is for: `--help`,
    /// the completions and the man page are all made from it.
    #[test]
    fn every_argument_and_command_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} <{}>", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "agentsight", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
        assert!(cmd.get_subcommands().count() > 10, "the walk saw the commands");
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(duration("30m"), Ok(Duration::from_secs(30 * 60)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(duration("0m"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_are_errors_not_panics() {
        for bad in ["", "m", "30", "30x", "1.5h", "-3d", "3 d", "30mm", "h30", "99999999999999999999d"] {
            assert!(duration(bad).is_err(), "`{bad}` was taken");
        }
        // fits in u64 as a number, not once made seconds
        let err = duration(&format!("{}d", u64::MAX / 2)).expect_err("refused");
        assert!(err.contains("too long"), "{err}");
        assert!(duration("30").expect_err("refused").contains("needs a unit"));
    }

    #[test]
    fn since_is_a_duration_a_time_or_a_date() {
        assert_eq!(since("7d"), Ok(Since::Ago(Duration::from_secs(7 * 86_400))));
        let at = |s: &str| match since(s) {
            Ok(Since::At(t)) => t.as_second(),
            other => panic!("`{s}`: {other:?}"),
        };
        assert_eq!(at("2026-11-24T01:39:03Z"), 1_795_484_343);
        assert_eq!(at("2026-11-24T02:39:03+01:00"), 1_795_484_343, "the offset is honoured");
        assert_eq!(at("2026-11-24"), 1_795_484_343 - (3600 + 39 * 60 + 3), "a date is its midnight, UTC");
        for bad in ["2026-13-01", "2026-11-24T25:00:00Z", "yesterday", "2026-11-24 junk", "-7d"] {
            assert!(since(bad).is_err(), "`{bad}` was taken");
        }
    }

    #[test]
    fn since_start_is_now_minus_the_span_or_the_time_itself() {
        let now = 2_000_000_000_000_000_000;
        assert_eq!(Since::Ago(Duration::from_secs(60)).start_ns(now), now - 60_000_000_000);
        assert_eq!(Since::Ago(Duration::from_secs(u64::MAX)).start_ns(now), 0, "saturates, never wraps");
        let Ok(at) = since("2026-11-24T01:39:03Z") else { panic!() };
        assert_eq!(at.start_ns(now), 1_795_484_343_000_000_000, "whatever now is");
    }

    #[test]
    fn report_and_search_parse_since() {
        let cli = Cli::try_parse_from(["agentsight", "report", "--since", "2026-11-24"]).expect("a date");
        assert!(matches!(cli.command, Command::Report { since: Since::At(_), .. }));
        let cli = Cli::try_parse_from(["agentsight", "report"]).expect("the default");
        assert!(
            matches!(cli.command, Command::Report { since: Since::Ago(d), .. } if d == Duration::from_secs(86_400))
        );
        let err = Cli::try_parse_from(["agentsight", "search", "x", "--since", "3 days"]).expect_err("refused");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{err}");
    }

    #[test]
    fn comm_over_fifteen_bytes_is_refused_with_the_name_the_kernel_keeps() {
        for sub in ["attach", "collect"] {
            let mut args = vec!["agentsight", sub, "--comm", "claude-code-agent"];
            if sub == "collect" {
                args.extend(["--ship", "http://127.0.0.1:7395"]);
            }
            let err = Cli::try_parse_from(&args).expect_err("refused");
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{sub}: {err}");
            let msg = err.to_string();
            assert!(msg.contains("17 bytes") && msg.contains("first 15") && msg.contains("`claude-code-age`"), "{msg}");
        }
        assert!(Cli::try_parse_from(["agentsight", "attach", "--comm", "fifteen-bytes-x"]).is_ok(), "15 bytes fit");
        assert!(Cli::try_parse_from(["agentsight", "attach", "--comm", ""]).is_err(), "empty");
        // cut on a character boundary: `é` is two bytes, the 15th and 16th
        let err = comm_name("abcdefghijklmné").expect_err("refused");
        assert!(err.contains("use `abcdefghijklmn`"), "{err}");
    }
}
