//! The LLM judge: asks an OpenAI-compatible model whether a window shows a loop, a contradiction
//! or persona drift, and turns its valid answers into findings (`docs/DESIGN.md`, "The
//! judge").
//!
//! `JudgeConfig -> build() -> Judge`. [`Judge::gate`] (pure) picks the prompts a window deserves
//! from the deterministic findings and cheap features (`gate`); [`Judge::judge`] renders the
//! window (`render`), fills each prompt (`prompt`, data in `prompts/`), asks for an answer under a
//! strict JSON schema (`client`), validates it by hand (`answer`) and retries failures with
//! doubling backoff.
//!
//! Invariants:
//! - The trace is untrusted: it sits between fence markers with a fresh nonce per request, is
//!   neutralised so that it cannot close the fence, and the system message says it is data to be
//!   judged, never instructions to follow.
//! - An answer that never came right is a [`JudgeError`], never a finding with score 0. Every
//!   valid answer is a finding, even at score 0: thresholds are the caller's.
//! - The judge only adds findings; the deterministic ones it is given are signals in the prompt,
//!   never removed or lowered (the caller keeps both).
//! - Tokens are counted per UTC day; a prompt that would go over the daily budget is not sent and
//!   is reported in [`Verdicts::skipped_budget`], not as an error. A judge built with
//!   [`JudgeConfig::build_in`] keeps the day's spend in the data directory, so a restart does not
//!   reset it (`budget`).
//! - A reply is read up to a size cap, and the usage it claims is capped by what its request and
//!   answer can have cost before it is charged (`client`, `budget`).
//! - Requests, retries, failures by reason, budget skips, capped claims and dropped evidence ids
//!   are counted in [`JudgeCounters`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs, ResponseFormat, ResponseFormatJsonSchema,
};
use model::backoff::Backoff;
use model::{Evidence, Finding, FindingKind, JudgeError, JudgeInfo, Window};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod answer;
mod budget;
mod client;
mod digest;
mod gate;
mod local;
mod prompt;
mod render;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use gate::GateConfig;
pub use local::{LocalConfig, LocalServer};

use answer::Answer;
use budget::{cap_usage, estimate_tokens, Budget, BUDGET_FILE};
use client::{Client, MAX_REPLY_BYTES};
use prompt::{Prompt, Vars, PROMPTS};

/// The estimated tokens of the digest the judge reads for a window (the window as the judge
/// sees it, within the default budget). The eval reports them.
pub fn digest_tokens(w: &Window) -> u64 {
    estimate_tokens(digest::digest(w, JudgeConfig::default().max_trace_chars).text.chars().count())
}

/// The `detector` of every finding the judge makes.
pub const DETECTOR: &str = "judge";

/// A rationale longer than this is cut.
const RATIONALE_CHARS: usize = 1000;

/// Characters of the system prompt and of the instructions in the persona block.
const PERSONA_CHARS: usize = 600;

/// The longest wait between two attempts, whatever the backoff or `Retry-After` say.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How to reach the judge model, how hard to try, and how much to spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JudgeConfig {
    /// The API root of an OpenAI-compatible server: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:8080/v1` (llama.cpp), `http://127.0.0.1:11434/v1` (Ollama), ...
    pub base_url: String,
    /// The model to ask; required.
    pub model: String,
    /// The environment variable holding the API key, read once at `build`. Unset or empty: no
    /// `Authorization` header (local servers need none).
    pub api_key_env: String,
    /// The limit for one request, answer included.
    pub timeout_s: u64,
    /// Attempts per prompt (the first included) before a judge error is recorded.
    pub max_attempts: u32,
    /// The wait before the first retry, doubled for each further one.
    pub backoff_ms: u64,
    /// Tokens (input and output) the judge may spend per UTC day.
    pub daily_token_budget: u64,
    /// The window's digest is cut to this many characters (about a quarter as many tokens).
    pub max_trace_chars: usize,
    pub gate: GateConfig,
    /// A local model that AgentSight runs itself (`llama-server` and a GGUF file) instead of
    /// `base_url`; `model` may then be left out.
    pub local: Option<LocalConfig>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: String::new(),
            api_key_env: "AGENTSIGHT_JUDGE_API_KEY".into(),
            timeout_s: 60,
            max_attempts: 3,
            backoff_ms: 500,
            daily_token_budget: 2_000_000,
            max_trace_chars: 6_000,
            gate: GateConfig::default(),
            local: None,
        }
    }
}

impl JudgeConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        match reqwest::Url::parse(&self.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(_) => return bad(format!("`judge.base_url` must be http or https: `{}`", self.base_url)),
            Err(e) => return bad(format!("`judge.base_url` is not a URL: `{}`: {e}", self.base_url)),
        }
        if let Some(local) = &self.local {
            local.validate()?;
        } else if self.model.trim().is_empty() {
            return bad("`judge.model` must name a model (or `[judge.local]` a GGUF file)".into());
        }
        if self.timeout_s == 0 {
            return bad("`judge.timeout_s` must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return bad("`judge.max_attempts` must be at least 1".into());
        }
        if self.max_trace_chars < render::MIN_TRACE_CHARS {
            return bad(format!("`judge.max_trace_chars` must be at least {}", render::MIN_TRACE_CHARS));
        }
        self.gate.validate()
    }

    /// As [`JudgeConfig::build`], with the day's spend kept in `data_dir` (`judge_budget.json`):
    /// read now, written after every charged reply, so a restart does not reset the budget.
    pub fn build_in(self, data_dir: &Path) -> Result<Judge> {
        self.build()?.keep_budget_in(data_dir.join(BUDGET_FILE))
    }

    /// Validates, reads the API key from `api_key_env` and builds the HTTP client. The day's
    /// spend lives in memory only (see [`JudgeConfig::build_in`]).
    pub fn build(self) -> Result<Judge> {
        let key = std::env::var(&self.api_key_env).ok().filter(|k| !k.trim().is_empty());
        self.build_with_key(key)
    }

    fn build_with_key(mut self, key: Option<String>) -> Result<Judge> {
        self.validate()?;
        // A local model: start its server first; it answers at a loopback address of its own.
        let server = match &self.local {
            Some(local) => {
                let server = local.start()?;
                self.base_url = server.base_url();
                self.model = local.model_name();
                self.timeout_s = local.timeout_s;
                Some(server)
            }
            None => None,
        };
        let schemas = PROMPTS
            .iter()
            .map(|p| {
                serde_json::from_str(p.schema).map_err(|source| Error::Json {
                    context: format!("parse the schema of prompt `{}`", p.id()),
                    source,
                })
            })
            .collect::<Result<Vec<serde_json::Value>>>()?;
        let client = Client::new(&self.base_url, key, Duration::from_secs(self.timeout_s))?;
        Ok(Judge {
            config: self,
            client,
            schemas,
            counters: Atomics::default(),
            budget: Mutex::new(Budget::default()),
            budget_file: None,
            clock: Clock::system(),
            fence_key: render::nonce(),
            _server: server,
            persona: crate::detect::persona::PersonaMatcher::new()?,
        })
    }
}

/// A configured judge; share it behind an `Arc`: every method takes `&self`.
#[derive(Debug)]
pub struct Judge {
    config: JudgeConfig,
    client: Client,
    /// The parsed schema of each of [`PROMPTS`], in order.
    schemas: Vec<serde_json::Value>,
    counters: Atomics,
    budget: Mutex<Budget>,
    /// Where the day's spend is kept across restarts, if anywhere.
    budget_file: Option<PathBuf>,
    /// The time of day for the budget and of findings.
    clock: Clock,
    /// Drawn at build: keys the fence codes (see [`Judge::fence`]).
    fence_key: String,
    /// Reads the rules a persona states, for the persona block.
    persona: crate::detect::persona::PersonaMatcher,
    /// The local model server this judge runs, stopped with it.
    _server: Option<LocalServer>,
}

/// Where the judge reads the time (ns since the Unix epoch): the system clock, or a test's.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    fn system() -> Clock {
        Clock(Arc::new(now_ns))
    }

    fn now(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock(..)")
    }
}

/// What the judge said about one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    /// One per prompt answered, whatever the score.
    pub findings: Vec<Finding>,
    /// One per prompt that got no valid answer.
    pub errors: Vec<JudgeError>,
    /// Prompts not asked because the daily token budget was spent.
    pub skipped_budget: Vec<FindingKind>,
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    Server {
        status: u16,
        message: String,
    },
    /// A 4xx other than 429: the request itself is wrong (key, model, schema); not retried.
    Client {
        status: u16,
        message: String,
    },
    Timeout,
    Connection(String),
    InvalidJson(String),
    Schema(String),
    /// The reply went past [`MAX_REPLY_BYTES`]; the rest was not read.
    TooLarge,
}

impl Failure {
    fn retryable(&self) -> bool {
        !matches!(self, Failure::Client { .. })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status_text = |s: u16| {
            reqwest::StatusCode::from_u16(s)
                .ok()
                .and_then(|c| c.canonical_reason())
                .map(|r| format!("{s} {r}"))
                .unwrap_or_else(|| s.to_string())
        };
        match self {
            Failure::RateLimited { message, .. } => write!(f, "429 Too Many Requests: {message}"),
            Failure::Server { status, message } | Failure::Client { status, message } => {
                write!(f, "{}: {message}", status_text(*status))
            }
            Failure::Timeout => f.write_str("no answer within the timeout"),
            Failure::Connection(e) => write!(f, "connection failed: {e}"),
            Failure::InvalidJson(e) => write!(f, "answer is not valid JSON: {e}"),
            Failure::Schema(e) => write!(f, "answer does not match the schema: {e}"),
            Failure::TooLarge => write!(f, "the reply is over {MAX_REPLY_BYTES} bytes"),
        }
    }
}

/// What one prompt came to.
enum Outcome {
    Finding(Finding),
    Error(JudgeError),
    SkippedBudget,
}

/// The untrusted texts of a window, rendered once for all its prompts.
struct Rendered {
    /// The fence code: one per session (see [`Judge::fence`]).
    fence: String,
    trace: String,
    signals: String,
    system_prompt: String,
    /// Local id (`e3`) -> the event it names, for evidence.
    cited: HashMap<String, digest::Cited>,
}

impl Judge {
    /// Which prompts this window deserves, from the deterministic findings of this window and
    /// cheap features: `loop` when a loop finding exists or a tool call or command repeats;
    /// `contradiction` when a contradiction finding exists or a success claim is near a failed
    /// command; `persona_drift` when the system prompt is known and the window has a new llm
    /// turn (every `gate.persona_drift_every`th window). Pure.
    pub fn gate(&self, w: &Window, deterministic: &[Finding]) -> Vec<FindingKind> {
        self.config.gate.gate(w, deterministic)
    }

    /// Asks the model each gated prompt, one after the other.
    pub async fn judge(&self, w: &Window, deterministic: &[Finding]) -> Verdicts {
        let mut verdicts = Verdicts::default();
        let wanted = self.gate(w, deterministic);
        if wanted.is_empty() {
            return verdicts;
        }
        let max = self.config.max_trace_chars;
        let digest = digest::digest(w, max);
        let rendered = Rendered {
            fence: self.fence(&w.session),
            trace: digest.text,
            signals: render::signals(w, deterministic, &digest.local),
            system_prompt: render::neutralise(&self.persona(w)),
            cited: digest.events,
        };
        for (p, schema) in PROMPTS.iter().zip(&self.schemas) {
            if !wanted.contains(&p.kind) {
                continue;
            }
            match self.verdict(w, p, schema.clone(), &rendered).await {
                Outcome::Finding(f) => verdicts.findings.push(f),
                Outcome::Error(e) => verdicts.errors.push(e),
                Outcome::SkippedBudget => verdicts.skipped_budget.push(p.kind),
            }
        }
        verdicts
    }

    /// The judge's metrics: its counters and the request latency histogram.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.counters().snapshot().register(registry);
        self.counters.request_seconds.register(
            registry,
            "judge_request_seconds",
            "Time from sending a request to the judge model to its reply or failure, per attempt.",
        );
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> JudgeCounters {
        let c = &self.counters;
        let (tokens_in_today, tokens_out_today) = self.budget().today(self.clock.now());
        JudgeCounters {
            requests: c.requests.load(Relaxed),
            retries: c.retries.load(Relaxed),
            errors: JudgeErrorCounts {
                http_429: c.http_429.load(Relaxed),
                http_5xx: c.http_5xx.load(Relaxed),
                http_4xx: c.http_4xx.load(Relaxed),
                timeout: c.timeout.load(Relaxed),
                connection: c.connection.load(Relaxed),
                invalid_json: c.invalid_json.load(Relaxed),
                schema: c.schema.load(Relaxed),
                too_large: c.too_large.load(Relaxed),
            },
            gave_up: c.gave_up.load(Relaxed),
            findings: c.findings.load(Relaxed),
            evidence_dropped: c.evidence_dropped.load(Relaxed),
            budget_skipped: c.budget_skipped.load(Relaxed),
            usage_capped: c.usage_capped.load(Relaxed),
            budget_save_failures: c.budget_save_failures.load(Relaxed),
            tokens_in_today,
            tokens_out_today,
            daily_token_budget: self.config.daily_token_budget,
        }
    }

    /// The model this judge asks.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    async fn verdict(&self, w: &Window, p: &Prompt, schema: serde_json::Value, r: &Rendered) -> Outcome {
        let vars = Vars { fence: &r.fence, trace: &r.trace, signals: &r.signals, system_prompt: &r.system_prompt };
        let request = prompt::messages(p, &vars).and_then(|(system, user)| {
            let estimate = estimate_tokens(system.chars().count() + user.chars().count());
            let request = self.request(p, schema, system, user)?;
            let body = serde_json::to_vec(&request)
                .map_err(|source| Error::Json { context: format!("serialise the request for `{}`", p.id()), source })?;
            Ok((body, estimate))
        });
        let (request, estimate) = match request {
            Ok(r) => r,
            Err(e) => return Outcome::Error(self.gave_up(w, p, e.to_string(), 0)),
        };
        let limit = self.config.daily_token_budget;
        if !self.budget().allows(self.clock.now(), estimate, limit) {
            self.counters.budget_skipped.fetch_add(1, Relaxed);
            return Outcome::SkippedBudget;
        }
        let known = |id: &str| r.cited.contains_key(id);
        match self.ask(&request, estimate, &known).await {
            Ok((answer, tokens)) => Outcome::Finding(self.finding(w, p, answer, tokens, r)),
            Err((failure, attempts)) => Outcome::Error(self.gave_up(w, p, failure.to_string(), attempts)),
        }
    }

    /// The chat request: system and user message, answer under the prompt's strict schema.
    fn request(
        &self,
        p: &Prompt,
        schema: serde_json::Value,
        system: String,
        user: String,
    ) -> Result<CreateChatCompletionRequest> {
        let openai = |e: async_openai::error::OpenAIError| {
            Error::Judge(format!("failed to build the request for `{}`: {e}", p.id()))
        };
        CreateChatCompletionRequestArgs::default()
            .model(self.config.model.clone())
            .messages(vec![
                ChatCompletionRequestSystemMessageArgs::default().content(system).build().map_err(openai)?.into(),
                ChatCompletionRequestUserMessageArgs::default().content(user).build().map_err(openai)?.into(),
            ])
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    name: p.schema_name(),
                    description: Some(format!("AgentSight's verdict on `{}`", p.name())),
                    schema,
                    strict: Some(true),
                },
            })
            .build()
            .map_err(openai)
    }

    /// Sends `request` (serialised) until a valid answer comes back or the attempts are spent.
    /// Returns the answer and the (input, output) tokens of all attempts, or the last failure
    /// and the number of attempts made.
    async fn ask(
        &self,
        request: &[u8],
        estimate: u64,
        known: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<(Answer, (u64, u64)), (Failure, u32)> {
        let mut spent = (0u64, 0u64);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.counters.requests.fetch_add(1, Relaxed);
            let sent = std::time::Instant::now();
            let reply = self.client.complete(request).await;
            self.counters.request_seconds.observe(sent.elapsed());
            let failure = match reply {
                Ok(reply) => {
                    // A server that reports no usage still spent tokens: estimate them.
                    let used = match reply.usage {
                        Some(claimed) => {
                            let (used, capped) = cap_usage(claimed, request.len(), reply.content.len());
                            if capped {
                                self.counters.usage_capped.fetch_add(1, Relaxed);
                            }
                            used
                        }
                        None => (estimate, estimate_tokens(reply.content.chars().count())),
                    };
                    self.charge(used);
                    spent = add_tokens(spent, used);
                    match answer::parse(&reply.content, known) {
                        Ok(answer) => return Ok((answer, spent)),
                        Err(f) => f,
                    }
                }
                Err(Failure::TooLarge) => {
                    // The model wrote at least what was read: charge it as an answer of that size.
                    let used = (estimate, estimate_tokens(MAX_REPLY_BYTES));
                    self.charge(used);
                    spent = add_tokens(spent, used);
                    Failure::TooLarge
                }
                Err(f) => f,
            };
            self.counters.failed(&failure);
            // A local server that timed out is still working on the request: sending it again
            // would queue a second copy behind the first.
            let busy = self.config.local.is_some() && matches!(failure, Failure::Timeout);
            if !failure.retryable() || busy || attempt >= self.config.max_attempts {
                return Err((failure, attempt));
            }
            self.counters.retries.fetch_add(1, Relaxed);
            tokio::time::sleep(self.backoff(attempt, &failure)).await;
        }
    }

    /// Adds `(input, output)` tokens to the day's spend and saves it, when it is kept in a file.
    /// The file is written under the budget's lock, so saves cannot overtake each other; it is a
    /// few dozen bytes, after a request that took far longer.
    fn charge(&self, (input, output): (u64, u64)) {
        let mut budget = self.budget();
        budget.spend(self.clock.now(), input, output);
        if let Some(path) = &self.budget_file {
            if budget.save(path).is_err() {
                self.counters.budget_save_failures.fetch_add(1, Relaxed);
            }
        }
    }

    /// Reads the day's spend from `path` and keeps it there from now on.
    pub(crate) fn keep_budget_in(mut self, path: PathBuf) -> Result<Judge> {
        let budget = Budget::load(&path)?;
        *self.budget() = budget;
        self.budget_file = Some(path);
        Ok(self)
    }

    /// The judge with `clock` for the time of day (tests move it across midnight).
    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Judge {
        self.clock = Clock(Arc::new(clock));
        self
    }

    /// `backoff_ms` doubled for each attempt after the first; at least what `Retry-After` asks.
    fn backoff(&self, attempt: u32, failure: &Failure) -> Duration {
        let wait = Backoff::new(Duration::from_millis(self.config.backoff_ms), MAX_BACKOFF).after(attempt);
        let wait = match failure {
            Failure::RateLimited { retry_after: Some(asked), .. } => wait.max(*asked),
            _ => wait,
        };
        wait.min(MAX_BACKOFF)
    }

    fn finding(
        &self,
        w: &Window,
        p: &Prompt,
        answer: Answer,
        (input_tokens, output_tokens): (u64, u64),
        r: &Rendered,
    ) -> Finding {
        self.counters.findings.fetch_add(1, Relaxed);
        self.counters.evidence_dropped.fetch_add(answer.dropped as u64, Relaxed);
        let evidence = answer
            .evidence
            .iter()
            .filter_map(|id| r.cited.get(id))
            .map(|c| Evidence::of(&c.event, c.summary.clone()))
            .collect();
        Finding {
            finding_id: Finding::id_for(&w.window_id, p.kind, DETECTOR),
            session: w.session.clone(),
            window_id: w.window_id.clone(),
            kind: p.kind,
            score: answer.score,
            detector: DETECTOR.to_string(),
            detectors: Vec::new(),
            rationale: render::clip(answer.rationale.trim(), RATIONALE_CHARS),
            evidence,
            judge: Some(JudgeInfo { model: self.config.model.clone(), prompt_id: p.id(), input_tokens, output_tokens }),
            ts_ns: self.clock.now(),
        }
    }

    fn gave_up(&self, w: &Window, p: &Prompt, error: String, attempts: u32) -> JudgeError {
        self.counters.gave_up.fetch_add(1, Relaxed);
        JudgeError {
            session: w.session.clone(),
            window_id: w.window_id.clone(),
            prompt_id: p.id(),
            error,
            attempts,
            ts_ns: self.clock.now(),
        }
    }

    /// The fence code of a session's requests: a keyed hash of the session id. It is the same
    /// for every window of the session, so the persona block a server cached stays valid, and
    /// no trace can know it: the key is drawn when the judge is built.
    fn fence(&self, session: &str) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.fence_key.as_bytes());
        h.update(session.as_bytes());
        hex::encode(&h.finalize()[..16])
    }

    /// The persona in brief: the rules it states, then the start of the system prompt and of
    /// the project instructions.
    fn persona(&self, w: &Window) -> String {
        let ctx = &w.context;
        let mut out = String::new();
        let text = [ctx.system_prompt.as_deref(), ctx.instructions.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n");
        let rules = self.persona.rule_sentences(&text, ctx.cwd.as_deref());
        if !rules.is_empty() {
            out.push_str("rules it states:\n");
            for r in rules.iter().take(12) {
                out.push_str(&format!("- {r}\n"));
            }
        }
        let quote = |s: &str, n: usize| serde_json::Value::String(crate::detect::view::one_line(s, n)).to_string();
        match &ctx.system_prompt {
            Some(p) => out.push_str(&format!("system prompt (start): {}\n", quote(p, PERSONA_CHARS))),
            None => out.push_str("system prompt: unknown\n"),
        }
        if let Some(i) = &ctx.instructions {
            out.push_str(&format!("first user messages (start): {}\n", quote(i, PERSONA_CHARS)));
        }
        out
    }

    fn budget(&self) -> MutexGuard<'_, Budget> {
        // The budget is plain numbers, valid even if a holder panicked.
        self.budget.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// (input, output) + (input, output), saturating.
fn add_tokens(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct Atomics {
    requests: AtomicU64,
    retries: AtomicU64,
    http_429: AtomicU64,
    http_5xx: AtomicU64,
    http_4xx: AtomicU64,
    timeout: AtomicU64,
    connection: AtomicU64,
    invalid_json: AtomicU64,
    schema: AtomicU64,
    gave_up: AtomicU64,
    findings: AtomicU64,
    evidence_dropped: AtomicU64,
    budget_skipped: AtomicU64,
    too_large: AtomicU64,
    usage_capped: AtomicU64,
    budget_save_failures: AtomicU64,
    /// From sending a request to its reply or failure, each attempt.
    request_seconds: crate::metrics::Latency,
}

impl Atomics {
    fn failed(&self, failure: &Failure) {
        let counter = match failure {
            Failure::RateLimited { .. } => &self.http_429,
            Failure::Server { .. } => &self.http_5xx,
            Failure::Client { .. } => &self.http_4xx,
            Failure::Timeout => &self.timeout,
            Failure::Connection(_) => &self.connection,
            Failure::InvalidJson(_) => &self.invalid_json,
            Failure::Schema(_) => &self.schema,
            Failure::TooLarge => &self.too_large,
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// What the judge did since it was built (tokens: today, UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JudgeCounters {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests sent again after a failed attempt.
    pub retries: u64,
    /// Failed attempts, by reason.
    pub errors: JudgeErrorCounts,
    /// Prompts given up on: each is a [`JudgeError`].
    pub gave_up: u64,
    /// Findings made (valid answers).
    pub findings: u64,
    /// Evidence ids the model cited that are not events of the window.
    pub evidence_dropped: u64,
    /// Prompts not asked because the daily token budget was spent.
    pub budget_skipped: u64,
    /// Replies that claimed more tokens than their request and answer can have cost; they are
    /// charged the most they can have cost.
    pub usage_capped: u64,
    /// Saves of the day's spend that failed (the spend is still counted in memory).
    pub budget_save_failures: u64,
    pub tokens_in_today: u64,
    pub tokens_out_today: u64,
    pub daily_token_budget: u64,
}

/// Failed attempts by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JudgeErrorCounts {
    pub http_429: u64,
    pub http_5xx: u64,
    /// Other 4xx answers (bad key, unknown model, ...): not retried.
    pub http_4xx: u64,
    pub timeout: u64,
    pub connection: u64,
    pub invalid_json: u64,
    pub schema: u64,
    /// Replies over the size cap, not read past it.
    pub too_large: u64,
}

impl JudgeErrorCounts {
    pub fn by_reason(&self) -> [(&'static str, u64); 8] {
        [
            ("http_429", self.http_429),
            ("http_5xx", self.http_5xx),
            ("http_4xx", self.http_4xx),
            ("timeout", self.timeout),
            ("connection", self.connection),
            ("invalid_json", self.invalid_json),
            ("schema", self.schema),
            ("too_large", self.too_large),
        ]
    }
}

impl JudgeCounters {
    /// Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut r = prometheus_client::registry::Registry::with_prefix(crate::metrics::PREFIX);
        self.snapshot().register(&mut r);
        crate::metrics::text(&r)
    }

    /// These counters for the metrics registry (`judge_*`).
    pub fn snapshot(&self) -> crate::metrics::Snapshot {
        use crate::metrics::label;
        let reasons = self.errors.by_reason().iter().map(|(reason, n)| (label(*reason), *n)).collect::<Vec<_>>();
        crate::metrics::Snapshot::default()
            .counter("judge_requests", "Requests sent to the judge model, retries included.", self.requests)
            .counter("judge_retries", "Requests sent again after a failed attempt.", self.retries)
            .counters("judge_failed_attempts", "Judge attempts that failed, by reason.", &["reason"], reasons)
            .counter("judge_gave_up", "Prompts that never got a valid answer.", self.gave_up)
            .counter("judge_verdicts", "Valid answers turned into findings.", self.findings)
            .counter(
                "judge_evidence_dropped",
                "Evidence ids cited that are not events of the window.",
                self.evidence_dropped,
            )
            .counter("judge_budget_skipped", "Prompts not asked: daily token budget spent.", self.budget_skipped)
            .counter(
                "judge_usage_capped",
                "Replies that claimed more tokens than they can have cost (charged the cap).",
                self.usage_capped,
            )
            .counter(
                "judge_budget_save_failures",
                "Failed saves of the day's token spend to the data directory.",
                self.budget_save_failures,
            )
            .gauges(
                "judge_tokens_today",
                "Tokens spent today (UTC).",
                &["direction"],
                [(label("input"), self.tokens_in_today), (label("output"), self.tokens_out_today)],
            )
            .gauge("judge_daily_token_budget", "Tokens the judge may spend per UTC day.", self.daily_token_budget)
    }
}
