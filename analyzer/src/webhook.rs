//! Webhook alerts: findings that match a rule are POSTed as JSON to the rule's URL.
//!
//! `WebhookConfig -> build() -> Webhooks`, around the pure [`Dispatcher`] that decides which
//! deliveries a finding causes:
//!
//! - a rule fires when the finding's `kind` is the rule's (or the rule names none), its `score`
//!   is at least `min_score`, and the rule's saved search (`query`), if any, matches;
//! - per (rule, session, kind) at most one delivery per `cooldown_s`, measured with the time
//!   the caller passes in (never a clock read inside), so tests are deterministic;
//! - one delivery per anomaly: a finding whose id a rule already delivered (the same anomaly,
//!   seen again by a later window with its evidence grown) is not sent again, whatever the
//!   cool-down (ids are remembered for `ANOMALY_MEMORY_NS`);
//! - a rule with `secret_env` signs the exact body bytes: `X-AgentSight-Signature:
//!   sha256=<hex HMAC-SHA256(secret, body)>`.
//!
//! Where the saved searches run: the caller passes a closure `query -> matched?` to
//! [`WebhookSender::try_send`], and [`Dispatcher::decide`] calls it synchronously, only for rules
//! whose kind and score already matched. The closure can ask the index about the finding's
//! window while the caller still holds it; the queue then carries finished deliveries, never
//! closures, and `decide` stays a pure function of its arguments and the cool-down state.
//!
//! Invariants: the queue is bounded (`queue` findings; a finding refused at a full queue leaves
//! no cool-down behind, so the next one may alert); every delivery ends in exactly one of
//! `delivered`, `failed`, `dropped_shutdown`; every refusal is counted in [`WebhookCounters`].
//! Deliveries are sent one at a time, in order; retries (5xx, 408, 429, timeouts, connection
//! errors) wait `backoff_ms`, doubling, and carry the same `X-AgentSight-Delivery` id (the
//! finding id) so a receiver can drop repeats. A receiver that answers with `Retry-After`
//! (seconds or an HTTP date) is not asked again before then, up to `MAX_RETRY_AFTER`: deliveries
//! are sequential, so one receiver's wish must not hold every other rule's alerts for long.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use model::backoff::Backoff;
use model::{Finding, FindingKind};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::{Error, Result};

pub const SIGNATURE_HEADER: &str = "X-AgentSight-Signature";
pub const EVENT_HEADER: &str = "X-AgentSight-Event";
pub const DELIVERY_HEADER: &str = "X-AgentSight-Delivery";

/// How much of the rationale the one-line `text` keeps, in characters.
const TEXT_RATIONALE_CHARS: usize = 200;
/// The longest wait between two attempts, whatever the doubling says.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest wait a receiver's `Retry-After` can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Cool-down entries are swept of expired ones when the map reaches this size (or twice the
/// size left after the last sweep), so memory follows the sessions still cooling down.
const PRUNE_MIN: usize = 4096;

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRule {
    /// Unique among the rules; sent in the body as `rule`.
    pub name: String,
    /// An `http` or `https` URL. It may hold a credential (Slack puts one in the path), so error
    /// messages never repeat it.
    pub url: String,
    /// `loop`, `contradiction` or `persona_drift`; none means any kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// The lowest score that fires, in [0, 1].
    #[serde(default)]
    pub min_score: f64,
    /// A saved search the finding's window must match; the caller evaluates it (see the module
    /// docs).
    #[serde(default)]
    pub query: Option<String>,
    /// The environment variable holding the HMAC secret; none means unsigned deliveries.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// At most one delivery per (rule, session, kind) in this many seconds; 0 sends them all.
    #[serde(default = "default_cooldown_s")]
    pub cooldown_s: u64,
}

/// How long a delivered finding's id is remembered (a day: sessions rarely run longer).
const ANOMALY_MEMORY_NS: u64 = 24 * 3600 * 1_000_000_000;

fn default_cooldown_s() -> u64 {
    600
}

/// The webhook stage's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub rules: Vec<WebhookRule>,
    /// Per attempt, connecting included.
    pub timeout_s: u64,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles for each further one.
    pub backoff_ms: u64,
    /// Findings waiting to be sent.
    pub queue: usize,
    /// Where people open the web UI (`https://agentsight.example.com`); when set, each payload
    /// carries a `link` to its finding there, also at the end of `text`.
    pub public_url: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            rules: Vec::new(),
            timeout_s: 10,
            max_attempts: 4,
            backoff_ms: 500,
            queue: 1024,
            public_url: None,
        }
    }
}

impl WebhookConfig {
    /// Validates the configuration, reads the secrets from the environment and makes the
    /// HTTP client.
    pub fn build(self) -> Result<Webhooks> {
        self.build_with_env(&|name| std::env::var(name).ok())
    }

    /// [`build`](Self::build) with the secrets looked up by `env` (tests pass a map).
    pub fn build_with_env(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Webhooks> {
        let dispatcher = self.dispatcher(env)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(self.timeout_s))
            // A redirected POST may turn into a GET elsewhere; a webhook URL should be final.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot make the webhook HTTP client: {e}")))?;
        let counters = Arc::clone(&dispatcher.counters);
        let (tx, rx) = mpsc::channel(self.queue);
        Ok(Webhooks {
            sender: WebhookSender { dispatcher: Arc::new(Mutex::new(dispatcher)), tx, counters },
            rx,
            client,
            policy: RetryPolicy { max_attempts: self.max_attempts, backoff: Duration::from_millis(self.backoff_ms) },
        })
    }

    /// Validates the configuration into the pure core, with the secrets looked up by `env`.
    pub fn dispatcher(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Dispatcher> {
        let bad = |what: String| Err(Error::Config(format!("webhooks: {what}")));
        if self.timeout_s == 0 {
            return bad("`timeout_s` must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return bad("`max_attempts` must be at least 1".into());
        }
        if self.queue == 0 {
            return bad("`queue` must be at least 1".into());
        }
        let public_url = match self.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => match reqwest::Url::parse(u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    Some(u.trim_end_matches('/').to_owned())
                }
                _ => return bad(format!("`public_url` is not an http(s) URL: `{u}`")),
            },
        };
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let name = &rule.name;
            if name.trim().is_empty() {
                return bad("a rule has an empty `name`".into());
            }
            if !names.insert(name.as_str()) {
                return bad(format!("two rules are named `{name}`"));
            }
            match reqwest::Url::parse(&rule.url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                Ok(_) => return bad(format!("rule `{name}`: `url` is not an http(s) URL")),
                Err(e) => return bad(format!("rule `{name}`: `url` does not parse: {e}")),
            }
            if !(0.0..=1.0).contains(&rule.min_score) {
                return bad(format!("rule `{name}`: `min_score` must be in [0, 1]"));
            }
            // A typo would otherwise make a rule that never fires.
            let kind = match rule.kind.as_deref().map(str::parse::<FindingKind>).transpose() {
                Ok(kind) => kind,
                Err(e) => {
                    return bad(format!("rule `{name}`: unknown `kind` `{}` (known: {})", e.name, e.known.join(", ")))
                }
            };
            if rule.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
                return bad(format!("rule `{name}`: `query` is empty"));
            }
            let secret = match &rule.secret_env {
                None => None,
                // Sending unsigned when a signature was asked for would fail open.
                Some(var) => match env(var) {
                    Some(s) if !s.is_empty() => match Hmac::new_from_slice(s.as_bytes()) {
                        Ok(key) => Some(Secret(key)),
                        Err(e) => return bad(format!("rule `{name}`: secret `{var}`: {e}")),
                    },
                    _ => return bad(format!("rule `{name}`: secret variable `{var}` is not set")),
                },
            };
            rules.push(Rule { config: rule.clone(), kind, secret });
        }
        Ok(Dispatcher {
            rules,
            last_sent: HashMap::new(),
            delivered: HashMap::new(),
            prune_at: PRUNE_MIN,
            counters: Arc::new(WebhookCounters::default()),
            public_url,
        })
    }
}

/// An HMAC keyed once at build time; kept out of `Debug` output.
struct Secret(Hmac<Sha256>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug)]
struct Rule {
    config: WebhookRule,
    /// `config.kind`, parsed.
    kind: Option<FindingKind>,
    secret: Option<Secret>,
}

impl Rule {
    fn cooldown_ns(&self) -> u64 {
        self.config.cooldown_s.saturating_mul(1_000_000_000)
    }

    /// Kind and score first: they are free, the query may cost an index lookup.
    fn matches(&self, f: &Finding, query_matches: &dyn Fn(&str) -> bool) -> bool {
        let c = &self.config;
        self.kind.is_none_or(|k| k == f.kind) && f.score >= c.min_score && c.query.as_deref().is_none_or(query_matches)
    }
}

/// A POST to make: the body is final, so every attempt sends the same bytes and signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub rule: String,
    pub url: String,
    /// JSON: `{"text", "rule", "session", "finding"}`, and `link` when a public URL is set.
    pub body: Vec<u8>,
    /// `sha256=<hex>` of the body, when the rule has a secret.
    pub signature: Option<String>,
    /// Sent as `X-AgentSight-Delivery`, the same on every attempt.
    pub finding_id: String,
}

#[derive(Serialize)]
struct Body<'a> {
    text: String,
    rule: &'a str,
    session: &'a str,
    finding: &'a Finding,
    /// The finding in the web UI: `{public_url}/#/session/{session}?f={finding_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

/// The pure core: which deliveries a finding causes, with the cool-down state.
pub struct Dispatcher {
    rules: Vec<Rule>,
    /// (rule index, session, kind) -> when its last delivery was decided.
    last_sent: HashMap<(usize, String, FindingKind), u64>,
    /// (rule index, finding id) -> when it was delivered: one alert per anomaly.
    delivered: HashMap<(usize, String), u64>,
    prune_at: usize,
    counters: Arc<WebhookCounters>,
    public_url: Option<String>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("rules", &self.rules.len())
            .field("cooling_down", &self.last_sent.len())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// The deliveries `f` causes at `now_ns` (any clock, as long as the caller keeps to one).
    /// `query_matches(query)` says whether a rule's saved search matches `f`'s window; it is
    /// called only for rules whose kind and score matched. Repeats within a cool-down are
    /// counted in `deduped`.
    pub fn decide(&mut self, f: &Finding, now_ns: u64, query_matches: &dyn Fn(&str) -> bool) -> Vec<Delivery> {
        self.prune(now_ns);
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.matches(f, query_matches) {
                continue;
            }
            if self.delivered.contains_key(&(i, f.finding_id.clone())) {
                self.counters.deduped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let key = (i, f.session.clone(), f.kind);
            // A clock that steps back reads as "no time passed": still cooling down.
            if let Some(&last) = self.last_sent.get(&key) {
                if now_ns.saturating_sub(last) < rule.cooldown_ns() {
                    self.counters.deduped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            self.last_sent.insert(key, now_ns);
            self.delivered.insert((i, f.finding_id.clone()), now_ns);
            out.push(delivery(rule, f, self.public_url.as_deref()));
        }
        out
    }

    /// The counters this dispatcher and the stage built around it share.
    pub fn counters(&self) -> Arc<WebhookCounters> {
        Arc::clone(&self.counters)
    }

    fn prune(&mut self, now_ns: u64) {
        if self.last_sent.len() + self.delivered.len() < self.prune_at {
            return;
        }
        let rules = &self.rules;
        self.last_sent.retain(|(i, _, _), last| now_ns.saturating_sub(*last) < rules[*i].cooldown_ns());
        self.delivered.retain(|_, at| now_ns.saturating_sub(*at) < ANOMALY_MEMORY_NS);
        self.prune_at = PRUNE_MIN.max((self.last_sent.len() + self.delivered.len()) * 2);
    }
}

fn delivery(rule: &Rule, f: &Finding, public_url: Option<&str>) -> Delivery {
    let link = public_url
        .map(|base| format!("{base}/#/session/{}?f={}", url_component(&f.session), url_component(&f.finding_id)));
    let mut text = summary_text(f);
    if let Some(l) = &link {
        text.push_str(&format!(" <{l}|open>"));
    }
    let body = Body { text, rule: &rule.config.name, session: &f.session, finding: f, link };
    // Serialising plain structs with string keys cannot fail (serde_json writes a non-finite
    // score as null), so there is no error to count here.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let signature = rule.secret.as_ref().map(|s| sign(&s.0, &body));
    Delivery {
        rule: rule.config.name.clone(),
        url: rule.config.url.clone(),
        body,
        signature,
        finding_id: f.finding_id.clone(),
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
fn sign(key: &Hmac<Sha256>, body: &[u8]) -> String {
    let mut mac = key.clone();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack-compatible one line: "*loop* 0.92 in session `s1` — rationale".
fn summary_text(f: &Finding) -> String {
    let rationale = f.rationale.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = rationale.chars().take(TEXT_RATIONALE_CHARS).collect();
    if cut.len() < rationale.len() {
        cut.push('…');
    }
    format!(
        "*{}* {:.2} in session `{}` — {}",
        slack_escape(f.kind.as_str()),
        f.score,
        slack_escape(&f.session),
        slack_escape(&cut)
    )
}

/// `s` percent-encoded as a URL component (everything but unreserved characters): the session
/// and finding ids come from the trace.
fn url_component(s: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, RESERVED).to_string()
}

/// Slack reads `<...>` as links and mentions; the trace is untrusted, so none may get through.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What the webhook stage did, for tests and `/metrics`. Units are deliveries (one per rule a
/// finding fired) unless said otherwise.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Answered 2xx.
    pub delivered: AtomicU64,
    /// Given up: a non-retryable answer, or `max_attempts` reached.
    pub failed: AtomicU64,
    /// Attempts after the first.
    pub retried: AtomicU64,
    /// Not sent: the same (rule, session, kind) was sent within the cool-down.
    pub deduped: AtomicU64,
    /// Findings refused because the queue was full (before any rule was applied).
    pub dropped_queue_full: AtomicU64,
    /// Deliveries still queued or in flight at shutdown, plus findings offered after it.
    pub dropped_shutdown: AtomicU64,
    /// From the first attempt to the 2xx, of each delivered one.
    pub delivery_seconds: crate::metrics::Latency,
}

/// A copy of [`WebhookCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WebhookCountersSnapshot {
    pub delivered: u64,
    pub failed: u64,
    pub retried: u64,
    pub deduped: u64,
    pub dropped_queue_full: u64,
    pub dropped_shutdown: u64,
}

impl WebhookCounters {
    pub fn snapshot(&self) -> WebhookCountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WebhookCountersSnapshot {
            delivered: get(&self.delivered),
            failed: get(&self.failed),
            retried: get(&self.retried),
            deduped: get(&self.deduped),
            dropped_queue_full: get(&self.dropped_queue_full),
            dropped_shutdown: get(&self.dropped_shutdown),
        }
    }

    /// The webhook stage's metrics: deliveries by outcome and the delivery latency histogram.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        use crate::metrics::label;
        let s = self.snapshot();
        crate::metrics::Snapshot::default()
            .counters(
                "webhook_deliveries",
                "Webhook deliveries, by outcome.",
                &["outcome"],
                [
                    (label("delivered"), s.delivered),
                    (label("failed"), s.failed),
                    (label("retried"), s.retried),
                    (label("deduped"), s.deduped),
                    (label("dropped_queue_full"), s.dropped_queue_full),
                    (label("dropped_shutdown"), s.dropped_shutdown),
                ],
            )
            .register(registry);
        self.delivery_seconds.register(
            registry,
            "webhook_delivery_seconds",
            "Time from a delivery's first attempt to its 2xx, retries included.",
        );
    }

    fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// The stage: hand out [`sender`](Self::sender)s, then [`run`](Self::run) it.
#[derive(Debug)]
pub struct Webhooks {
    sender: WebhookSender,
    rx: mpsc::Receiver<Vec<Delivery>>,
    client: reqwest::Client,
    policy: RetryPolicy,
}

/// Offers findings to the stage; cheap to clone, never blocks on the network.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    /// Shared by the clones so the cool-down holds across them; held only while deciding.
    dispatcher: Arc<Mutex<Dispatcher>>,
    tx: mpsc::Sender<Vec<Delivery>>,
    counters: Arc<WebhookCounters>,
}

impl WebhookSender {
    /// Decides what `f` causes (now, by the wall clock) and queues it; returns how many
    /// deliveries were queued. See [`Dispatcher::decide`] for `query_matches`.
    pub fn try_send(&self, f: &Finding, query_matches: &dyn Fn(&str) -> bool) -> usize {
        let now_ns = jiff::Timestamp::now().as_nanosecond();
        self.try_send_at(f, u64::try_from(now_ns).unwrap_or(0), query_matches)
    }

    /// [`try_send`](Self::try_send) at a given time.
    pub fn try_send_at(&self, f: &Finding, now_ns: u64, query_matches: &dyn Fn(&str) -> bool) -> usize {
        // The slot comes first, so a finding refused at a full queue starts no cool-down.
        let permit = match self.tx.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Full(())) => {
                WebhookCounters::add(&self.counters.dropped_queue_full, 1);
                return 0;
            }
            Err(mpsc::error::TrySendError::Closed(())) => {
                WebhookCounters::add(&self.counters.dropped_shutdown, 1);
                return 0;
            }
        };
        // A panic while deciding leaves the cool-down map whole, so a poisoned lock is usable.
        let deliveries =
            self.dispatcher.lock().unwrap_or_else(PoisonError::into_inner).decide(f, now_ns, query_matches);
        let n = deliveries.len();
        if n > 0 {
            permit.send(deliveries);
        }
        n
    }
}

#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    max_attempts: u32,
    backoff: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `backoff`, doubling, capped.
    fn wait_after(&self, attempt: u32) -> Duration {
        Backoff::new(self.backoff, MAX_BACKOFF).after(attempt)
    }
}

impl Webhooks {
    pub fn sender(&self) -> WebhookSender {
        self.sender.clone()
    }

    pub fn counters(&self) -> Arc<WebhookCounters> {
        Arc::clone(&self.sender.counters)
    }

    /// Sends queued deliveries until every sender is dropped and the queue is empty, or until
    /// `shutdown` completes; then what is left is counted in `dropped_shutdown`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Webhooks { sender, mut rx, client, policy } = self;
        let counters = Arc::clone(&sender.counters);
        // Our own sender would keep the queue open forever.
        drop(sender);
        tokio::pin!(shutdown);
        'run: loop {
            let batch = tokio::select! {
                biased;
                () = &mut shutdown => break 'run,
                batch = rx.recv() => match batch {
                    Some(batch) => batch,
                    None => return,
                },
            };
            for (i, d) in batch.iter().enumerate() {
                tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        WebhookCounters::add(&counters.dropped_shutdown, batch.len() - i);
                        break 'run;
                    }
                    () = deliver(&client, policy, &counters, d) => {}
                }
            }
        }
        rx.close();
        while let Ok(batch) = rx.try_recv() {
            WebhookCounters::add(&counters.dropped_shutdown, batch.len());
        }
    }
}

enum Attempt {
    Delivered,
    /// With the wait the receiver asked for (`Retry-After`), if any.
    Retry(Option<Duration>),
    GiveUp,
}

async fn deliver(client: &reqwest::Client, policy: RetryPolicy, counters: &WebhookCounters, d: &Delivery) {
    let start = Instant::now();
    for attempt in 1..=policy.max_attempts {
        match post(client, d).await {
            Attempt::Delivered => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                counters.delivery_seconds.observe(start.elapsed());
                return;
            }
            Attempt::Retry(asked) if attempt < policy.max_attempts => {
                counters.retried.fetch_add(1, Ordering::Relaxed);
                let wait = policy.wait_after(attempt).max(asked.unwrap_or_default().min(MAX_RETRY_AFTER));
                tokio::time::sleep(wait).await;
            }
            Attempt::Retry(_) | Attempt::GiveUp => break,
        }
    }
    counters.failed.fetch_add(1, Ordering::Relaxed);
}

async fn post(client: &reqwest::Client, d: &Delivery) -> Attempt {
    let mut req = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, "finding")
        .header(DELIVERY_HEADER, &d.finding_id)
        .body(d.body.clone());
    if let Some(sig) = &d.signature {
        req = req.header(SIGNATURE_HEADER, sig);
    }
    match req.send().await {
        Ok(resp) => {
            let asked = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, jiff::Timestamp::now()));
            classify(resp.status().as_u16(), asked)
        }
        // Timeouts, refused and reset connections, TLS failures: all may pass.
        Err(_) => Attempt::Retry(None),
    }
}

fn classify(status: u16, retry_after: Option<Duration>) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered,
        408 | 429 | 500..=599 => Attempt::Retry(retry_after),
        _ => Attempt::GiveUp,
    }
}

/// The wait a `Retry-After` value asks for at `now`: delay-seconds or an HTTP date (RFC 9110
/// §10.2.3); a date in the past asks for none. Unreadable values are ignored.
fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits beyond u64 are still "a long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    let ms = at.as_millisecond().saturating_sub(now.as_millisecond());
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use axum::Router;
    use proptest::prelude::*;

    fn finding(session: &str, kind: &str, score: f64) -> Finding {
        let kind = kind.parse().unwrap();
        Finding {
            finding_id: Finding::id_for(&format!("{session}:0"), kind, "exact_repeat"),
            session: session.into(),
            window_id: format!("{session}:0"),
            kind,
            score,
            detector: "exact_repeat".into(),
            detectors: Vec::new(),
            rationale: "ran `make test` 5 times with the same error".into(),
            evidence: Vec::new(),
            judge: None,
            ts_ns: 1_700_000_000_000_000_000,
        }
    }

    fn rule(name: &str, url: &str) -> WebhookRule {
        WebhookRule {
            name: name.into(),
            url: url.into(),
            kind: None,
            min_score: 0.0,
            query: None,
            secret_env: None,
            cooldown_s: 600,
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn dispatcher(rules: Vec<WebhookRule>) -> Dispatcher {
        let config = WebhookConfig { rules, ..WebhookConfig::default() };
        config.dispatcher(&|v| (v == "HOOK_SECRET").then(|| "s3cret".to_string())).unwrap()
    }

    const SEC: u64 = 1_000_000_000;
    const ANY: &dyn Fn(&str) -> bool = &|_| true;

    #[test]
    fn kind_and_min_score_filter() {
        let mut r = rule("loops", "http://x/hook");
        r.kind = Some("loop".into());
        r.min_score = 0.8;
        let mut d = dispatcher(vec![r]);
        assert!(d.decide(&finding("a", "contradiction", 0.9), 0, ANY).is_empty());
        assert!(d.decide(&finding("b", "loop", 0.79), 0, ANY).is_empty());
        assert_eq!(d.decide(&finding("c", "loop", 0.8), 0, ANY).len(), 1);
        // Filtered findings are not "deduped".
        assert_eq!(d.counters().snapshot().deduped, 0);
    }

    #[test]
    fn any_kind_when_none() {
        let mut d = dispatcher(vec![rule("all", "http://x/hook")]);
        for kind in FindingKind::ALL {
            assert_eq!(d.decide(&finding("s", kind.as_str(), 0.1), 0, ANY).len(), 1);
        }
    }

    #[test]
    fn query_gates_and_is_only_asked_when_needed() {
        let mut r = rule("q", "http://x/hook");
        r.query = Some("make test".into());
        r.min_score = 0.5;
        let mut d = dispatcher(vec![r, rule("plain", "http://y/hook")]);
        let asked = std::cell::RefCell::new(Vec::new());
        let no = |q: &str| {
            asked.borrow_mut().push(q.to_string());
            false
        };
        let out = d.decide(&finding("s1", "loop", 0.9), 0, &no);
        assert_eq!(out.iter().map(|d| d.rule.as_str()).collect::<Vec<_>>(), ["plain"]);
        assert_eq!(*asked.borrow(), ["make test"]);
        // Below min_score the query is never evaluated.
        asked.borrow_mut().clear();
        d.decide(&finding("s2", "loop", 0.1), 0, &no);
        assert!(asked.borrow().is_empty());
        let yes = |q: &str| q == "make test";
        let out = d.decide(&finding("s3", "loop", 0.9), 0, &yes);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn one_delivery_per_anomaly_even_without_a_cooldown() {
        let mut r = rule("r", "http://x/hook");
        r.cooldown_s = 0;
        let mut d = dispatcher(vec![r]);
        let f = finding("s1", "loop", 0.9);
        assert_eq!(d.decide(&f, 1, &|_| true).len(), 1);
        let grown = Finding { window_id: "s1:2".into(), score: 0.95, ..f.clone() };
        assert!(d.decide(&grown, 2, &|_| true).is_empty(), "the same anomaly, seen again");
        let other = Finding { finding_id: "s1/loop/other-event".into(), ..f };
        assert_eq!(d.decide(&other, 3, &|_| true).len(), 1, "another anomaly alerts");
        assert_eq!(d.counters().snapshot().deduped, 1);
    }

    #[test]
    fn dedupe_within_cooldown_and_again_after() {
        let mut r = rule("r", "http://x/hook");
        r.cooldown_s = 600;
        let mut d = dispatcher(vec![r]);
        // Other anomalies of the same session and kind, one after the other.
        let f = |n: u32| Finding { finding_id: format!("s1/loop/e{n}"), ..finding("s1", "loop", 0.9) };
        let t0 = 1_000 * SEC;
        assert_eq!(d.decide(&f(1), t0, ANY).len(), 1);
        assert!(d.decide(&f(2), t0 + 599 * SEC, ANY).is_empty());
        // A clock stepping back does not reopen the gate.
        assert!(d.decide(&f(3), t0 - SEC, ANY).is_empty());
        assert_eq!(d.decide(&f(4), t0 + 600 * SEC, ANY).len(), 1);
        assert!(d.decide(&f(5), t0 + 601 * SEC, ANY).is_empty());
        assert_eq!(d.counters().snapshot().deduped, 3);
    }

    #[test]
    fn different_sessions_kinds_and_rules_are_not_deduped() {
        let mut d = dispatcher(vec![rule("a", "http://x/a"), rule("b", "http://x/b")]);
        assert_eq!(d.decide(&finding("s1", "loop", 0.9), 0, ANY).len(), 2);
        assert_eq!(d.decide(&finding("s2", "loop", 0.9), 1, ANY).len(), 2);
        assert_eq!(d.decide(&finding("s1", "contradiction", 0.9), 2, ANY).len(), 2);
        assert_eq!(d.counters().snapshot().deduped, 0);
    }

    #[test]
    fn zero_cooldown_sends_every_anomaly() {
        let mut r = rule("r", "http://x/hook");
        r.cooldown_s = 0;
        let mut d = dispatcher(vec![r]);
        let f = finding("s1", "loop", 0.9);
        let g = Finding { finding_id: "s1/loop/another".into(), ..f.clone() };
        assert_eq!(d.decide(&f, 5, ANY).len(), 1);
        assert_eq!(d.decide(&g, 5, ANY).len(), 1);
    }

    #[test]
    fn signature_is_hmac_of_the_exact_body() {
        let mut r = rule("signed", "https://x/hook");
        r.secret_env = Some("HOOK_SECRET".into());
        let mut d = dispatcher(vec![r, rule("unsigned", "https://y/hook")]);
        let out = d.decide(&finding("s1", "loop", 0.92), 0, ANY);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&out[0].body);
        mac.verify_slice(&hex::decode(out[0].signature.as_ref().unwrap().strip_prefix("sha256=").unwrap()).unwrap())
            .unwrap();
        assert_eq!(out[1].signature, None);
    }

    #[test]
    fn body_has_text_rule_session_and_the_full_finding() {
        let mut d = dispatcher(vec![rule("r", "http://x/hook")]);
        let mut f = finding("s1", "loop", 0.923);
        f.rationale = format!("line one\nline <two> {}", "x".repeat(300));
        let out = d.decide(&f, 0, ANY);
        let body: serde_json::Value = serde_json::from_slice(&out[0].body).unwrap();
        assert_eq!(body["rule"], "r");
        assert_eq!(body["session"], "s1");
        assert_eq!(out[0].finding_id, f.finding_id);
        let back: Finding = serde_json::from_value(body["finding"].clone()).unwrap();
        assert_eq!(back, f);
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("*loop* 0.92 in session `s1` — line one line &lt;two&gt; xx"));
        assert!(!text.contains('\n'));
        assert!(text.ends_with("x…"));
        let rationale_part = text.split(" — ").nth(1).unwrap();
        // 200 characters of rationale, with `<>` escaped to 4 each, plus the ellipsis.
        assert_eq!(rationale_part.chars().count(), 200 + 3 + 3 + 1);
        assert!(body.get("link").is_none(), "no public URL, no link");
    }

    #[test]
    fn with_a_public_url_the_body_links_to_the_finding_in_the_ui() {
        let config = WebhookConfig {
            rules: vec![rule("r", "http://x/hook")],
            public_url: Some("https://as.example.com/".into()),
            ..WebhookConfig::default()
        };
        let mut d = config.dispatcher(&no_env).unwrap();
        let mut f = finding("s 1", "loop", 0.9);
        f.finding_id = "s 1:0/loop/exact_repeat".into();
        let out = d.decide(&f, 0, ANY);
        let body: serde_json::Value = serde_json::from_slice(&out[0].body).unwrap();
        let link = "https://as.example.com/#/session/s%201?f=s%201%3A0%2Floop%2Fexact_repeat";
        assert_eq!(body["link"], link);
        assert!(body["text"].as_str().unwrap().ends_with(&format!(" <{link}|open>")), "{body}");

        let bad = WebhookConfig { public_url: Some("as.example.com".into()), ..WebhookConfig::default() };
        let err = bad.dispatcher(&no_env).unwrap_err().to_string();
        assert!(err.contains("public_url"), "{err}");
    }

    #[test]
    fn config_rejects_unknown_key() {
        let json = r#"{"rules": [{"name": "r", "url": "http://x", "min_scor": 0.5}]}"#;
        let err = serde_json::from_str::<WebhookConfig>(json).unwrap_err();
        assert!(err.to_string().contains("unknown field `min_scor`"), "{err}");
        let json = r#"{"rules": [], "timeout": 3}"#;
        assert!(serde_json::from_str::<WebhookConfig>(json).is_err());
    }

    #[test]
    fn config_defaults() {
        let c: WebhookConfig = serde_json::from_str(r#"{"rules": [{"name": "r", "url": "http://x"}]}"#).unwrap();
        assert_eq!((c.timeout_s, c.max_attempts, c.backoff_ms, c.queue), (10, 4, 500, 1024));
        assert_eq!(c.rules[0].cooldown_s, 600);
        assert_eq!(c.rules[0].kind, None);
    }

    fn invalid(c: WebhookConfig) -> String {
        c.dispatcher(&no_env).unwrap_err().to_string()
    }

    #[test]
    fn config_validation() {
        let with = |r: WebhookRule| WebhookConfig { rules: vec![r], ..WebhookConfig::default() };
        for url in ["not a url", "ftp://x/hook", "/relative", "http://"] {
            let e = invalid(with(rule("r", url)));
            assert!(e.contains("rule `r`: `url`"), "{url}: {e}");
        }
        // The URL may hold a credential: never echoed.
        let e = invalid(with(rule("r", "ftp://token123@x/")));
        assert!(!e.contains("token123"), "{e}");
        let mut r = rule("r", "http://x");
        r.min_score = 1.5;
        assert!(invalid(with(r)).contains("`min_score`"));
        let mut r = rule("r", "http://x");
        r.min_score = f64::NAN;
        assert!(invalid(with(r)).contains("`min_score`"));
        let mut r = rule("r", "http://x");
        r.kind = Some("loops".into());
        assert!(invalid(with(r)).contains("unknown `kind` `loops`"));
        let mut r = rule("r", "http://x");
        r.secret_env = Some("NOPE".into());
        assert!(invalid(with(r)).contains("`NOPE` is not set"));
        let twice =
            WebhookConfig { rules: vec![rule("r", "http://x"), rule("r", "http://y")], ..WebhookConfig::default() };
        assert!(invalid(twice).contains("two rules are named `r`"));
        let zero_queue = WebhookConfig { queue: 0, ..WebhookConfig::default() };
        assert!(invalid(zero_queue).contains("`queue`"));
        assert!(with(rule("r", "https://hooks.example.com/a/b")).dispatcher(&no_env).is_ok());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy { max_attempts: 100, backoff: Duration::from_millis(500) };
        let ms: Vec<u128> = (1..=4).map(|a| p.wait_after(a).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000]);
        assert_eq!(p.wait_after(60), MAX_BACKOFF);
    }

    #[test]
    fn prune_forgets_only_expired_entries() {
        let mut r = rule("r", "http://x");
        r.cooldown_s = 10;
        let mut d = dispatcher(vec![r]);
        for i in 0..PRUNE_MIN {
            d.decide(&finding(&format!("old{i}"), "loop", 1.0), 0, ANY);
        }
        d.decide(&finding("fresh", "loop", 1.0), 15 * SEC, ANY);
        // The sweep ran before "fresh" went in: only it is left.
        assert_eq!(d.last_sent.len(), 1);
        assert!(d.decide(&finding("fresh", "loop", 1.0), 16 * SEC, ANY).is_empty());
    }

    proptest! {
        /// Every matching finding is either sent or deduped, and sends of one (session, kind)
        /// are at least a cool-down apart.
        #[test]
        fn sent_plus_deduped_is_all_and_sends_are_spaced(
            steps in prop::collection::vec((0..3usize, 0..2usize, 0..400u64), 1..60),
        ) {
            let mut r = rule("r", "http://x");
            r.cooldown_s = 100;
            let mut d = dispatcher(vec![r]);
            let mut now = 0;
            let mut sent = 0;
            let mut last: HashMap<(usize, usize), u64> = HashMap::new();
            for (n, &(s, k, dt)) in steps.iter().enumerate() {
                now += dt * SEC / 4;
                // Every step is another anomaly (its own id).
                let f = Finding { finding_id: format!("s{s}/{}/e{n}", FindingKind::ALL[k]), ..finding(&format!("s{s}"), FindingKind::ALL[k].as_str(), 0.5) };
                let n = d.decide(&f, now, ANY).len();
                if n == 1 {
                    if let Some(prev) = last.insert((s, k), now) {
                        prop_assert!(now - prev >= 100 * SEC);
                    }
                    sent += 1;
                } else if let Some(prev) = last.get(&(s, k)) {
                    prop_assert!(now - prev < 100 * SEC);
                } else {
                    prop_assert!(false, "first finding of a key was not sent");
                }
            }
            prop_assert_eq!(sent + d.counters().snapshot().deduped as usize, steps.len());
        }
    }

    // Component tests against a real HTTP receiver on 127.0.0.1.

    #[derive(Debug)]
    struct Received {
        headers: HeaderMap,
        body: Vec<u8>,
        at: Instant,
    }

    #[derive(Debug, Default)]
    struct Receiver {
        requests: Mutex<Vec<Received>>,
        /// Statuses to answer, in order; 200 once they run out, unless `always`.
        script: Mutex<VecDeque<u16>>,
        always: Option<u16>,
        /// Sent as `Retry-After` with every answer that is not a 2xx.
        retry_after: Option<&'static str>,
    }

    async fn record(
        State(rx): State<Arc<Receiver>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        rx.requests.lock().unwrap().push(Received { headers, body: body.to_vec(), at: Instant::now() });
        let next = rx.script.lock().unwrap().pop_front();
        let status = StatusCode::from_u16(rx.always.or(next).unwrap_or(200)).unwrap();
        match rx.retry_after {
            Some(after) if !status.is_success() => (status, [("retry-after", after)]).into_response(),
            _ => status.into_response(),
        }
    }

    async fn receiver(rx: Receiver) -> (String, Arc<Receiver>) {
        let rx = Arc::new(rx);
        let app = Router::new().route("/hook", post(record)).with_state(Arc::clone(&rx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/hook"), rx)
    }

    fn stage(url: &str, secret: bool, max_attempts: u32, queue: usize) -> Webhooks {
        let mut r = rule("r", url);
        if secret {
            r.secret_env = Some("HOOK_SECRET".into());
        }
        WebhookConfig { rules: vec![r], timeout_s: 5, max_attempts, backoff_ms: 1, queue, public_url: None }
            .build_with_env(&|v| (v == "HOOK_SECRET").then(|| "s3cret".to_string()))
            .unwrap()
    }

    /// Offers `findings`, then drops the sender so `run` ends when the queue is empty.
    async fn send_all(hooks: Webhooks, findings: &[Finding]) -> WebhookCountersSnapshot {
        let counters = hooks.counters();
        let sender = hooks.sender();
        for f in findings {
            sender.try_send(f, ANY);
        }
        drop(sender);
        tokio::time::timeout(Duration::from_secs(30), hooks.run(std::future::pending())).await.unwrap();
        counters.snapshot()
    }

    #[tokio::test]
    async fn delivery_arrives_signed_with_the_full_finding() {
        let (url, rx) = receiver(Receiver::default()).await;
        let f = finding("s1", "loop", 0.92);
        let got = send_all(stage(&url, true, 4, 8), std::slice::from_ref(&f)).await;
        assert_eq!(got.delivered, 1);
        assert_eq!((got.failed, got.retried), (0, 0));
        let reqs = rx.requests.lock().unwrap();
        assert_eq!(reqs.len(), 1);
        let req = &reqs[0];
        assert_eq!(req.headers["content-type"], "application/json");
        assert_eq!(req.headers["x-agentsight-event"], "finding");
        assert_eq!(req.headers["x-agentsight-delivery"], f.finding_id.as_str());
        let sig = req.headers["x-agentsight-signature"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&req.body);
        mac.verify_slice(&hex::decode(sig.strip_prefix("sha256=").unwrap()).unwrap()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let back: Finding = serde_json::from_value(body["finding"].clone()).unwrap();
        assert_eq!(back, f);
    }

    #[tokio::test]
    async fn retries_after_500s_with_the_same_delivery_id() {
        let (url, rx) =
            receiver(Receiver { script: Mutex::new(VecDeque::from([500, 500])), ..Receiver::default() }).await;
        let got = send_all(stage(&url, false, 4, 8), &[finding("s1", "loop", 0.9)]).await;
        assert_eq!((got.delivered, got.retried, got.failed), (1, 2, 0));
        let reqs = rx.requests.lock().unwrap();
        assert_eq!(reqs.len(), 3);
        let ids: HashSet<_> = reqs.iter().map(|r| r.headers["x-agentsight-delivery"].clone()).collect();
        assert_eq!(ids.len(), 1);
        assert!(reqs.iter().all(|r| r.body == reqs[0].body));
        assert!(reqs[0].headers.get("x-agentsight-signature").is_none());
    }

    #[tokio::test]
    async fn webhook_honours_retry_after() {
        let (url, rx) = receiver(Receiver {
            script: Mutex::new(VecDeque::from([503, 429])),
            retry_after: Some("1"),
            ..Receiver::default()
        })
        .await;
        // The stage's own backoff is 1 ms: only the receiver's `Retry-After: 1` spaces the tries.
        let got = send_all(stage(&url, false, 4, 8), &[finding("s1", "loop", 0.9)]).await;
        assert_eq!((got.delivered, got.retried, got.failed), (1, 2, 0));
        let reqs = rx.requests.lock().unwrap();
        assert_eq!(reqs.len(), 3);
        for pair in reqs.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= Duration::from_millis(950), "retried after {gap:?}, asked to wait 1 s");
        }
    }

    #[test]
    fn retry_after_values() {
        let now: jiff::Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(retry_after("Sun, 01 Mar 2026 12:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now), Some(Duration::ZERO));
        for junk in ["", "-1", "1.5", "soon", "30 s"] {
            assert_eq!(retry_after(junk, now), None, "{junk}");
        }
        // However long a receiver asks for, a delivery waits at most `MAX_RETRY_AFTER`.
        let p = RetryPolicy { max_attempts: 4, backoff: Duration::from_millis(1) };
        let asked = retry_after("86400", now).unwrap();
        assert_eq!(p.wait_after(1).max(asked.min(MAX_RETRY_AFTER)), MAX_RETRY_AFTER);
    }

    #[tokio::test]
    async fn always_500_fails_after_max_attempts() {
        let (url, rx) = receiver(Receiver { always: Some(500), ..Receiver::default() }).await;
        let findings = [finding("s1", "loop", 0.9), finding("s2", "loop", 0.9)];
        let got = send_all(stage(&url, false, 3, 8), &findings).await;
        assert_eq!((got.delivered, got.retried, got.failed), (0, 4, 2));
        assert_eq!(rx.requests.lock().unwrap().len(), 6);
    }

    #[tokio::test]
    async fn client_error_is_not_retried() {
        let (url, rx) = receiver(Receiver { always: Some(404), ..Receiver::default() }).await;
        let got = send_all(stage(&url, false, 4, 8), &[finding("s1", "loop", 0.9)]).await;
        assert_eq!((got.delivered, got.retried, got.failed), (0, 0, 1));
        assert_eq!(rx.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn receiver_down_counts_failed() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/hook");
        let got = send_all(stage(&url, false, 3, 8), &[finding("s1", "loop", 0.9)]).await;
        assert_eq!((got.delivered, got.retried, got.failed), (0, 2, 1));
    }

    #[tokio::test]
    async fn full_queue_is_counted_and_starts_no_cooldown() {
        let hooks = stage("http://127.0.0.1:9/hook", false, 1, 1);
        let sender = hooks.sender();
        let f = finding("s1", "loop", 0.9);
        assert_eq!(sender.try_send_at(&finding("s0", "loop", 0.9), 0, ANY), 1);
        assert_eq!(sender.try_send_at(&f, 0, ANY), 0);
        let got = hooks.counters().snapshot();
        assert_eq!((got.dropped_queue_full, got.deduped), (1, 0));
        // The refused finding left no cool-down: once there is room it goes through.
        let mut rx = hooks.rx;
        rx.recv().await.unwrap();
        assert_eq!(sender.try_send_at(&f, 1, ANY), 1);
    }

    #[tokio::test]
    async fn shutdown_counts_what_is_left() {
        let (url, rx) = receiver(Receiver { always: Some(503), ..Receiver::default() }).await;
        let mut config = WebhookConfig { rules: vec![rule("r", &url)], backoff_ms: 60_000, ..WebhookConfig::default() };
        config.rules[0].cooldown_s = 0;
        let hooks = config.build().unwrap();
        let counters = hooks.counters();
        let sender = hooks.sender();
        for s in ["s1", "s2", "s3"] {
            assert_eq!(sender.try_send(&finding(s, "loop", 0.9), ANY), 1);
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(hooks.run(async {
            let _ = stopped.await;
        }));
        // Wait for the first attempt, which is then stuck in its long backoff.
        while rx.requests.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
        let got = counters.snapshot();
        assert_eq!((got.delivered, got.failed, got.dropped_shutdown), (0, 0, 3));
        // After shutdown the sender refuses and counts.
        assert_eq!(sender.try_send(&finding("s4", "loop", 0.9), ANY), 0);
        assert_eq!(counters.snapshot().dropped_shutdown, 4);
    }
}
