//! Redaction of credentials at capture, before anything is written, shipped or judged.
//!
//! A [`Redactor`] is built once from a [`RedactConfig`] and applied to every captured header
//! list and body before it is decoded, then to every string field of every event
//! ([`Redactor::event`]: paths, cwd, argv, addresses, decoded LLM text, loss reasons) before the
//! event leaves the collector, so no credential reaches the store, the network or an LLM judge;
//! there is no "unredacted" mode downstream. Both passes, because the body pass sees structure
//! the fields lose (a `"password": "..."` pair) and the field pass sees what decoding makes
//! (JSON `\u` escapes resolved, paths joined to their cwd).
//!
//! What is redacted:
//! - the values of credential headers (`authorization`, `cookie`, `x-api-key`, ... and the
//!   configured `extra_headers`), as `[REDACTED]`; the `Authorization` scheme and cookie names are
//!   kept (`Bearer [REDACTED]`, `session=[REDACTED]`) so a reader still knows what was sent;
//! - secrets of a known shape anywhere in text: OpenAI, Anthropic, AWS, GitHub, Google, Slack,
//!   Stripe, Hugging Face, GitLab and npm keys, JWTs, `Bearer` tokens, PEM private keys, URL
//!   passwords and webhook URLs;
//! - the value of a credential-named assignment (`password`, `secret`, `token`, `api_key`, ...) in
//!   query strings, env lines, argv flags, JSON (also JSON embedded in a JSON string) and code;
//! - whatever the configured `extra_patterns` match.
//!
//! Invariants:
//! - A secret in text becomes `[REDACTED:<kind>]`, which holds no quote, backslash or control
//!   character, so a secret inside a JSON string leaves the JSON valid. Overlapping matches are
//!   merged, so no tail of a secret survives next to a marker.
//! - Redacting twice equals redacting once: markers are never matched again.
//! - Nothing panics on any input; text without a secret costs one scan of the combined pattern
//!   set and no allocation.
//! - Patterns want realistic lengths (and a digit where keys always have one) so prose, code, git
//!   hashes, UUIDs and base64 data pass through unchanged.

use std::borrow::Cow;
use std::cmp::Reverse;

use model::{Event, EventBody, LlmCall, Message, ToolCall};
use regex::{Regex, RegexSet, RegexSetBuilder};

/// Words that name a credential in an assignment. Matched anywhere in a name, so `DB_PASSWORD`,
/// `OPENAI_API_KEY` and `client_secret` count, but the word must end the name (`max_tokens` and
/// `token_count` do not).
macro_rules! kw {
    () => {
        r"(?i:pass(?:word|wd|phrase)|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key)"
    };
}

/// [`kw!`] for JSON keys, where a bare `token` is the text of a token (logprobs, tokenizers) and
/// only a qualified one (`access_token`, `sessionToken`) is a credential.
macro_rules! json_kw {
    () => {
        r"(?i:pass(?:word|wd|phrase)|secret|[A-Za-z0-9_-]token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key)"
    };
}

/// An optional quote after a label, plain or escaped inside a JSON string.
macro_rules! q {
    () => {
        r#"(?:\\?["'])?"#
    };
}

/// The rest of a string quoted inside a JSON string (after its opening `\"`): the content as
/// group 1, then the closing `\"`. Inside, `\\` is a backslash and `\"` a quote of the outer
/// string, so a backslash escapes the next of those (`\\\"` is a quote inside the value).
macro_rules! escaped_string {
    () => {
        r#"((?:[^"\\]|\\[^"\\]|\\\\(?:[^"\\]|\\[^"\\]|\\\\|\\"))+)\\""#
    };
}

/// One line of a PEM body: base64, whitespace (real or JSON-escaped) and the encryption headers.
macro_rules! pem_body {
    () => {
        r"(?:[A-Za-z0-9+/=\s]|\\+[nrt]|(?:Proc-Type|DEK-Info|Version|Comment):[^\n\\]*)"
    };
}

/// What a credential header's value becomes.
const HEADER_MARKER: &str = "[REDACTED]";
/// Every marker starts with this; a match that starts here was redacted already.
const MARKER_PREFIX: &str = "[REDACTED";
/// The kind of a match of a user-supplied pattern.
const CUSTOM_KIND: &str = "custom";

/// Headers whose whole value is a credential (names lower-case).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "x-auth-token",
];

/// What to redact besides the built-in credentials: the configuration file's `[redact]` table.
/// Both lists are empty by default.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Extra regex patterns (user supplied). A match is replaced by `[REDACTED:custom]`; when the
    /// pattern has capture groups, only the first group that took part is replaced.
    #[serde(default)]
    pub extra_patterns: Vec<String>,
    /// Extra header names whose values are credentials (any case).
    #[serde(default)]
    pub extra_headers: Vec<String>,
}

/// Why a [`RedactConfig`] did not build.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid extra redaction pattern `{pattern}`: {source}")]
    InvalidPattern { pattern: String, source: regex::Error },
    #[error("invalid extra redaction header `{name}`: a header name is a non-empty token")]
    InvalidHeader { name: String },
    #[error("failed to compile the built-in redaction pattern for `{kind}`: {source}")]
    Builtin { kind: &'static str, source: regex::Error },
    #[error("failed to compile the combined redaction pattern set: {source}")]
    PatternSet { source: regex::Error },
}

impl RedactConfig {
    /// Checks that every extra pattern compiles and every extra header is a header name (without
    /// compiling the built-in set, so that commands that never capture pay nothing); the error
    /// names the pattern or header at fault.
    pub fn validate(&self) -> Result<(), RedactError> {
        for pattern in &self.extra_patterns {
            extra_pattern(pattern)?;
        }
        for name in &self.extra_headers {
            extra_header(name)?;
        }
        Ok(())
    }

    /// Compile the built-in patterns and the extra ones into a [`Redactor`].
    pub fn build(&self) -> Result<Redactor, RedactError> {
        let mut rules = Vec::with_capacity(BUILTIN.len() + self.extra_patterns.len());
        for b in BUILTIN {
            let regex = Regex::new(b.pattern).map_err(|source| RedactError::Builtin { kind: b.kind.name(), source })?;
            rules.push(Rule { kind: b.kind, check: b.check, glued: b.glued, regex });
        }
        for pattern in &self.extra_patterns {
            let regex = extra_pattern(pattern)?;
            rules.push(Rule { kind: Kind::Fixed(CUSTOM_KIND), check: Check::None, glued: Glued::Allowed, regex });
        }
        let set = RegexSetBuilder::new(rules.iter().map(|r| r.regex.as_str()))
            .size_limit(64 << 20)
            .build()
            .map_err(|source| RedactError::PatternSet { source })?;

        let mut headers: Vec<String> = CREDENTIAL_HEADERS.iter().map(|h| (*h).to_owned()).collect();
        for name in &self.extra_headers {
            headers.push(extra_header(name)?);
        }

        let markers = Regex::new(r"\[REDACTED(?::[a-z0-9-]+)?\]")
            .map_err(|source| RedactError::Builtin { kind: "marker", source })?;
        let flag = Regex::new(concat!("^--?[A-Za-z0-9_-]*", kw!(), "$"))
            .map_err(|source| RedactError::Builtin { kind: "argv-flag", source })?;
        Ok(Redactor { rules, set, markers, flag, headers })
    }
}

fn extra_pattern(pattern: &str) -> Result<Regex, RedactError> {
    Regex::new(pattern).map_err(|source| RedactError::InvalidPattern { pattern: pattern.to_owned(), source })
}

/// An extra header name, lower-cased: a non-empty token (no space, control byte or colon).
fn extra_header(name: &str) -> Result<String, RedactError> {
    let name = name.trim();
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
        return Err(RedactError::InvalidHeader { name: name.to_owned() });
    }
    Ok(name.to_ascii_lowercase())
}

/// Removes credentials from headers, text and bytes. Build it with [`RedactConfig::build`].
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Built-ins first, most specific first (the order breaks ties between overlapping matches),
    /// then the extra patterns.
    rules: Vec<Rule>,
    /// The same patterns as `rules`, for the one-scan fast path and to pick the rules to run.
    set: RegexSet,
    /// Markers already in the text: a match that overlaps one is dropped, so redacting twice
    /// equals redacting once (a marker's `:` could otherwise complete a URL password).
    markers: Regex,
    /// An argv flag whose next argument is a credential (`--password`).
    flag: Regex,
    /// Credential header names, lower-case.
    headers: Vec<String>,
}

impl Redactor {
    /// Replace the values of credential headers: `authorization`, `proxy-authorization`,
    /// `x-api-key`, `api-key`, `x-goog-api-key`, `cookie`, `set-cookie`, `x-auth-token`, plus
    /// `extra_headers` (any case). The `Authorization` scheme stays (`Bearer [REDACTED]`) and so do
    /// cookie names and `set-cookie` attributes. Other headers get [`Redactor::text`], so a key
    /// in a `referer` URL goes too. Returns how many values were changed.
    pub fn headers(&self, headers: &mut [(String, String)]) -> usize {
        let mut changed = 0;
        for (name, value) in headers.iter_mut() {
            let name = name.trim();
            let redacted = if self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                credential_header(name, value)
            } else {
                match self.text(value) {
                    (Cow::Owned(v), _) => Some(v),
                    (Cow::Borrowed(_), _) => None,
                }
            };
            if let Some(v) = redacted {
                if v != *value {
                    *value = v;
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Replace secrets in free text (bodies, argv, URLs) by `[REDACTED:<kind>]`. Returns the text,
    /// borrowed when nothing matched, and how many secrets were replaced.
    pub fn text<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        if !self.set.is_match(text) {
            return (Cow::Borrowed(text), 0);
        }
        let spans = self.spans(text);
        if spans.is_empty() {
            return (Cow::Borrowed(text), 0);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for span in &spans {
            out.push_str(&text[last..span.start]);
            push_marker(&mut out, span.kind);
            last = span.end;
        }
        out.push_str(&text[last..]);
        (Cow::Owned(out), spans.len())
    }

    /// [`Redactor::text`] for bytes that may not be UTF-8 (bodies). Bytes that are not UTF-8 are
    /// kept as they are, unless they sit inside a secret; they never join two pieces of text into
    /// a secret. Returns how many secrets were replaced.
    pub fn bytes(&self, body: &mut Vec<u8>) -> usize {
        let spans = match std::str::from_utf8(body) {
            Ok(text) => {
                if !self.set.is_match(text) {
                    return 0;
                }
                self.spans(text)
            }
            Err(_) => {
                // Same length as `body`, so the spans found in it are offsets into `body`; NUL
                // ends every token shape, so no secret is made up across an invalid byte.
                let mut text = String::with_capacity(body.len());
                for chunk in body.utf8_chunks() {
                    text.push_str(chunk.valid());
                    text.extend(std::iter::repeat_n('\0', chunk.invalid().len()));
                }
                if !self.set.is_match(&text) {
                    return 0;
                }
                self.spans(&text)
            }
        };
        if spans.is_empty() {
            return 0;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut last = 0;
        for span in &spans {
            out.extend_from_slice(&body[last..span.start]);
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(span.kind.as_bytes());
            out.push(b']');
            last = span.end;
        }
        out.extend_from_slice(&body[last..]);
        *body = out;
        spans.len()
    }

    /// [`Redactor::text`] on each argument, and also the argument after a credential flag given
    /// on its own (`--password hunter2`, `--api-key KEY`), which text alone cannot see. Returns how
    /// many secrets were replaced.
    pub fn argv(&self, args: &mut [String]) -> usize {
        let mut count = 0;
        let mut after_flag: Option<&'static str> = None;
        for arg in args.iter_mut() {
            if let Some(kind) = after_flag.take() {
                if !arg.is_empty() && !arg.starts_with('-') && !arg.starts_with(MARKER_PREFIX) {
                    let mut marker = String::new();
                    push_marker(&mut marker, kind);
                    *arg = marker;
                    count += 1;
                    continue;
                }
            }
            if let (Cow::Owned(redacted), n) = self.text(arg) {
                *arg = redacted;
                count += n;
            }
            if self.flag.is_match(arg) {
                after_flag = Some(keyword_kind(arg));
            }
        }
        count
    }

    /// Redact every string field of `event` in place: whatever a traced program can put in a
    /// path, an argument, an address or a message. Returns how many secrets were replaced.
    pub fn event(&self, event: &mut Event) -> usize {
        let mut n = self.string(&mut event.session) + self.string(&mut event.comm);
        n += match &mut event.body {
            EventBody::Exec(e) => {
                self.argv(&mut e.argv)
                    + self.string(&mut e.filename)
                    + self.string(&mut e.cwd)
                    + self.strings(&mut e.truncated)
            }
            EventBody::File(f) => {
                self.string(&mut f.path)
                    + f.new_path.as_mut().map_or(0, |p| self.string(p))
                    + f.flags_text.as_mut().map_or(0, |t| self.string(t))
                    + f.error.as_mut().map_or(0, |e| self.string(e))
                    + self.strings(&mut f.truncated)
            }
            EventBody::Connect(c) => {
                self.string(&mut c.family) + self.string(&mut c.addr) + c.error.as_mut().map_or(0, |e| self.string(e))
            }
            EventBody::LlmCall(call) => self.llm_call(call),
            EventBody::Http(h) => {
                self.string(&mut h.method)
                    + self.string(&mut h.host)
                    + self.string(&mut h.path)
                    + h.content_type.as_mut().map_or(0, |t| self.string(t))
            }
            EventBody::Loss(l) => self.string(&mut l.source) + self.string(&mut l.reason),
            EventBody::Fork(_) | EventBody::Exit(_) => 0,
        };
        n
    }

    fn llm_call(&self, call: &mut LlmCall) -> usize {
        let mut n = self.string(&mut call.provider)
            + self.string(&mut call.api)
            + self.string(&mut call.url)
            + call.model.as_mut().map_or(0, |m| self.string(m));
        let req = &mut call.request;
        n += req.system.as_mut().map_or(0, |s| self.string(s));
        for m in &mut req.messages {
            n += self.message(m);
        }
        for t in &mut req.tools {
            n += self.string(&mut t.name)
                + t.description.as_mut().map_or(0, |d| self.string(d))
                + self.json(&mut t.parameters);
        }
        let resp = &mut call.response;
        n += self.string(&mut resp.text)
            + self.tool_calls(&mut resp.tool_calls)
            + resp.stop_reason.as_mut().map_or(0, |s| self.string(s))
            + resp.error.as_mut().map_or(0, |e| self.string(e));
        if let Some(raw) = call.raw.as_mut() {
            n += raw.request.as_mut().map_or(0, |r| self.string(r))
                + raw.response.as_mut().map_or(0, |r| self.string(r))
                + self.string(&mut raw.reason);
        }
        n
    }

    fn message(&self, m: &mut Message) -> usize {
        self.string(&mut m.role)
            + self.string(&mut m.content)
            + self.tool_calls(&mut m.tool_calls)
            + m.tool_call_id.as_mut().map_or(0, |id| self.string(id))
    }

    fn tool_calls(&self, calls: &mut [ToolCall]) -> usize {
        calls.iter_mut().map(|c| self.string(&mut c.id) + self.string(&mut c.name) + self.json(&mut c.arguments)).sum()
    }

    /// A JSON value redacted as its text, so that a `"password": "..."` pair is seen whole; a
    /// marker keeps JSON valid, so the text parses back.
    fn json(&self, value: &mut serde_json::Value) -> usize {
        if let serde_json::Value::String(s) = value {
            return self.string(s);
        }
        if value.is_null() {
            return 0;
        }
        let Ok(text) = serde_json::to_string(value) else {
            return 0;
        };
        let (Cow::Owned(redacted), n) = self.text(&text) else {
            return 0;
        };
        // should a marker ever break the JSON, the redacted text is kept rather than the secret
        *value = serde_json::from_str(&redacted).unwrap_or(serde_json::Value::String(redacted));
        n
    }

    fn string(&self, s: &mut String) -> usize {
        match self.text(s) {
            (Cow::Owned(redacted), n) => {
                *s = redacted;
                n
            }
            (Cow::Borrowed(_), _) => 0,
        }
    }

    fn strings(&self, list: &mut [String]) -> usize {
        list.iter_mut().map(|s| self.string(s)).sum()
    }

    /// The merged, ordered spans to replace in `text`, each with the kind of its first match.
    fn spans(&self, text: &str) -> Vec<Span> {
        let markers: Vec<(usize, usize)> = if text.contains(MARKER_PREFIX) {
            self.markers.find_iter(text).map(|m| (m.start(), m.end())).collect()
        } else {
            Vec::new()
        };
        let mut found = Vec::new();
        let mut doubtful = Vec::new();
        for index in self.set.matches(text).iter() {
            let Some(rule) = self.rules.get(index) else {
                continue;
            };
            let mut at = 0;
            let mut resumed = 0;
            while at <= text.len() {
                let Some(caps) = rule.regex.captures_at(text, at) else { break };
                let Some(whole) = caps.get(0) else { break };
                at = if whole.is_empty() { next_char(text, whole.end()) } else { whole.end() };
                let secret = (1..caps.len()).find_map(|g| caps.get(g)).unwrap_or(whole);
                let (start, end) = (secret.start(), secret.end());
                let over_marker = markers.iter().filter(|&&(s, e)| start < e && s < end).map(|&(_, e)| e).max();
                if let Some(marker_end) = over_marker {
                    // dropped for holding a marker, it must not hide the matches after that
                    // marker which it swallowed (`password='a [REDACTED:x] password='b'` takes
                    // the second quote as its end): search again from the marker's end, a
                    // bounded number of times (each is another scan of the rest)
                    if resumed < MAX_RESUMES && marker_end < whole.end() {
                        resumed += 1;
                        at = marker_end;
                    }
                    continue;
                }
                if start == end || self.markers.find(secret.as_str()).is_some_and(|m| m.range() == (0..end - start)) {
                    continue;
                }
                let label = &text[whole.start()..start];
                let kind = match rule.kind {
                    Kind::Fixed(kind) => kind,
                    Kind::Keyword => keyword_kind(label),
                };
                let span = Span { start, end, kind, rank: index };
                let glued_ok =
                    rule.glued == Glued::Allowed || !is_glued(text, whole.start()) || looks_random(whole.as_str());
                if glued_ok && rule.check.passes(whole.as_str(), label, secret.as_str()) {
                    found.push(span);
                } else {
                    doubtful.push(span);
                }
            }
        }
        let mut merged = merge(found);
        // A match that looked harmless but overlaps a secret goes with it (`token=a.<key>.token`
        // is not code): else the second pass would see a different, shorter value.
        loop {
            let (overlapping, rest): (Vec<Span>, Vec<Span>) =
                doubtful.into_iter().partition(|d| merged.iter().any(|m| d.start < m.end && m.start < d.end));
            doubtful = rest;
            if overlapping.is_empty() {
                return merged;
            }
            merged.extend(overlapping);
            merged = merge(merged);
        }
    }
}

/// How many times one rule's search resumes inside a match it dropped (see [`Redactor::spans`]):
/// enough for any real text, and a bound on the extra scans hostile text can cause.
const MAX_RESUMES: usize = 64;

/// The char boundary after `i` (or the end).
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(text.len() + 1, |c| i + c.len_utf8())
}

/// Union of overlapping spans, in order. Each is named after its earliest, then longest, then
/// most specific match.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start, Reverse(s.end), s.rank));
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// A byte range of text to replace.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    kind: &'static str,
    rank: usize,
}

#[derive(Debug, Clone)]
struct Rule {
    kind: Kind,
    check: Check,
    glued: Glued,
    regex: Regex,
}

/// Key shapes are matched anywhere, not only after a word boundary: keys arrive glued to other
/// text (`x_sk-ant-...`, `%3Dghp_...`, a JSON-escaped `\nsk-proj-...`, `id1AKIA...`). What a
/// match glued to a word must also pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glued {
    /// The prefix is distinctive enough (`sk-ant-`, `ghp_`, `AKIA`): no more than at a boundary.
    Allowed,
    /// Words end in this prefix (`task-`, `risk_test_`, `pnpm_`): only a random-looking key.
    Random,
}

/// Whether the match at `start` follows a word character, or a marker (which stands for one, so
/// that the second pass decides as the first did).
fn is_glued(text: &str, start: usize) -> bool {
    text.as_bytes()
        .get(..start)
        .and_then(<[u8]>::last)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b']')
}

/// A run of at least 16 letters and digits with a capital, a small letter and a digit: a key's
/// random body, not a kebab-case name or a word.
fn looks_random(secret: &str) -> bool {
    secret.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        run.len() >= 16
            && run.bytes().any(|b| b.is_ascii_uppercase())
            && run.bytes().any(|b| b.is_ascii_lowercase())
            && run.bytes().any(|b| b.is_ascii_digit())
    })
}

/// What a rule's marker says.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Fixed(&'static str),
    /// Named after the credential word in the label (`password`, `secret`, `token`, ...).
    Keyword,
}

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Kind::Fixed(kind) => kind,
            Kind::Keyword => "assignment",
        }
    }
}

/// A test on a match that a regex cannot express cheaply.
#[derive(Debug, Clone, Copy)]
enum Check {
    None,
    /// Real keys of this shape always hold a digit; a word like `sk-some-long-css-class` does not.
    Digit,
    /// An unquoted value: skip the ones that are code, not secrets (`token=None`,
    /// `password=self.password`).
    BareValue,
}

impl Check {
    fn passes(self, whole: &str, label: &str, secret: &str) -> bool {
        match self {
            Check::None => true,
            Check::Digit => whole.bytes().any(|b| b.is_ascii_digit()),
            Check::BareValue => {
                let code = ["none", "null", "nil", "true", "false", "undefined"];
                if code.iter().any(|c| secret.eq_ignore_ascii_case(c)) {
                    return false;
                }
                // `password=password`, `token=args.token`, `api_key=API_KEY`: a name, not a value
                let identifier = secret.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
                if !identifier {
                    return true;
                }
                let name = label.trim_start_matches([' ', '\t', '-']);
                let name = normalise(name.split(['=', ' ', '\t']).next().unwrap_or_default());
                let secret = normalise(secret);
                !KEYWORDS.iter().any(|k| name.ends_with(k) && secret.ends_with(k))
            }
        }
    }
}

/// The credential words of [`kw!`], as [`normalise`] writes them.
const KEYWORDS: &[&str] =
    &["password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "privatekey", "authkey"];

/// Lower-case, without `_` and `-`: `API_KEY`, `api-key` and `apiKey` are one name.
fn normalise(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '_' | '-')).map(|c| c.to_ascii_lowercase()).collect()
}

/// The kind of an assignment, from the label before its value.
fn keyword_kind(label: &str) -> &'static str {
    let lower = label.to_ascii_lowercase();
    if lower.contains("pass") {
        "password"
    } else if lower.contains("secret") {
        "secret"
    } else if lower.contains("token") {
        "token"
    } else if lower.contains("private") {
        "private-key"
    } else {
        "api-key"
    }
}

fn push_marker(out: &mut String, kind: &str) {
    out.push_str("[REDACTED:");
    out.push_str(kind);
    out.push(']');
}

/// The redacted value of a credential header, or `None` when there is nothing left to hide.
fn credential_header(name: &str, value: &str) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed == HEADER_MARKER {
        return None;
    }
    if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization") {
        // keep a scheme that looks like one (`Bearer`, `Basic`, `AWS4-HMAC-SHA256`), not a
        // prefix of the credential itself
        if let Some((scheme, rest)) = trimmed.split_once([' ', '\t']) {
            let is_scheme = scheme.len() <= 24
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if is_scheme {
                let rest = rest.trim();
                if rest.is_empty() || rest == HEADER_MARKER {
                    return None;
                }
                return Some(format!("{scheme} {HEADER_MARKER}"));
            }
        }
        return Some(HEADER_MARKER.to_owned());
    }
    if name.eq_ignore_ascii_case("cookie") {
        let pairs: Vec<String> =
            trimmed.split(';').map(str::trim).filter(|p| !p.is_empty()).map(redact_cookie_pair).collect();
        return Some(pairs.join("; "));
    }
    if name.eq_ignore_ascii_case("set-cookie") {
        // only the first pair is the cookie; `Path`, `Expires`, `HttpOnly` are kept
        let (pair, attributes) = match trimmed.split_once(';') {
            Some((pair, attributes)) => (pair, Some(attributes)),
            None => (trimmed, None),
        };
        let mut out = redact_cookie_pair(pair.trim());
        if let Some(attributes) = attributes {
            out.push(';');
            out.push_str(attributes);
        }
        return Some(out);
    }
    Some(HEADER_MARKER.to_owned())
}

fn redact_cookie_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) => format!("{}={HEADER_MARKER}", name.trim()),
        None => HEADER_MARKER.to_owned(),
    }
}

/// A built-in rule.
struct Builtin {
    kind: Kind,
    check: Check,
    glued: Glued,
    /// The first capture group that takes part, if any, is what gets replaced.
    pattern: &'static str,
}

impl Builtin {
    const fn random_when_glued(self) -> Builtin {
        Builtin { glued: Glued::Random, ..self }
    }
}

const fn rule(kind: &'static str, check: Check, pattern: &'static str) -> Builtin {
    Builtin { kind: Kind::Fixed(kind), check, glued: Glued::Allowed, pattern }
}

const fn assignment(check: Check, pattern: &'static str) -> Builtin {
    Builtin { kind: Kind::Keyword, check, glued: Glued::Allowed, pattern }
}

/// Most specific first: on overlapping matches of the same extent the earlier rule names it.
const BUILTIN: &[Builtin] = &[
    rule(
        "private-key",
        Check::None,
        concat!(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:",
            pem_body!(),
            r"*-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|",
            // cut off before its end (a truncated body): the key material that did arrive
            r"(?:[A-Za-z0-9+/=\s]|\\+[nrt]){64,})",
        ),
    ),
    rule("anthropic-key", Check::Digit, r"sk-ant-[A-Za-z0-9_-]{20,}"),
    // project, service-account and admin keys: a prefix no word ends in
    rule("openai-key", Check::Digit, r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"),
    // `task-runner-2024-01-01-final` ends in this shape too: glued to a word, only a random body
    rule("openai-key", Check::Digit, r"sk-[A-Za-z0-9_-]{20,}").random_when_glued(),
    rule(
        "aws-access-key",
        Check::None,
        // exactly 20 characters: not the middle of a longer run of capitals
        // (a marker's `[` is not an end: a run redacted at its tail is not cut into a new key)
        r"((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?:[^A-Z0-9\[]|$)",
    ),
    rule(
        "aws-secret-key",
        Check::None,
        concat!(
            r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)",
            q!(),
            r"(?:[ \t]*[:=][ \t]*|[ \t]+)",
            q!(),
            r"([A-Za-z0-9/+]{30,}={0,2})",
        ),
    ),
    rule("github-token", Check::None, r"(?:gh[pousr]_[A-Za-z0-9_]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    rule("google-api-key", Check::None, r"AIza[0-9A-Za-z_-]{35,}"),
    rule("slack-token", Check::Digit, r"(?:xox[abposer]|xapp)-[A-Za-z0-9-]{10,}"),
    rule("slack-webhook", Check::None, r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_-]{20,})"),
    rule("discord-webhook", Check::None, r"discord(?:app)?\.com/api/webhooks/([0-9]+/[A-Za-z0-9_-]{20,})"),
    rule("stripe-key", Check::None, r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})")
        // `risk_test_integrationsuite`
        .random_when_glued(),
    rule("huggingface-token", Check::None, r"hf_[A-Za-z0-9]{30,}"),
    rule("gitlab-token", Check::Digit, r"glpat-[A-Za-z0-9_-]{20,}"),
    rule("npm-token", Check::None, r"npm_[A-Za-z0-9]{36,}")
        // `pnpm_...`
        .random_when_glued(),
    rule("jwt", Check::None, r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    rule("bearer-token", Check::None, r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/=-]{16,})"),
    rule(
        "basic-auth",
        Check::None,
        concat!(r"(?i:authorization)", q!(), r"[ \t]*[:=][ \t]*", q!(), r"(?i:basic)[ \t]+([A-Za-z0-9+/]{4,}={0,2})"),
    ),
    rule(
        "authorization",
        Check::None,
        concat!(
            r"(?i:authorization)",
            q!(),
            r"[ \t]*:[ \t]*",
            q!(),
            r"(?:(?i:token|bot|apikey|key|sso-key|ssws)[ \t]+)?([A-Za-z0-9._~+/=:-]{12,})",
        ),
    ),
    rule(
        "api-key",
        Check::None,
        concat!(
            r"(?i:(?:x-)?(?:goog-)?api-key|x-auth-token|x-access-token)",
            q!(),
            r"[ \t]*:[ \t]*",
            q!(),
            r"([A-Za-z0-9._~+/=-]{8,})",
        ),
    ),
    rule("url-password", Check::None, r#"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"'\\<>\[\]]+:([^/\s@"'\\<>]+)@"#),
    // `"password": "..."`
    assignment(Check::None, concat!(json_kw!(), r#""[ \t]*:[ \t]*"((?:[^"\\\n]|\\.)+)""#)),
    // `\"password\": \"...\"`: JSON inside a JSON string (tool-call arguments)
    assignment(Check::None, concat!(json_kw!(), r#"\\"[ \t]*:[ \t]*\\""#, escaped_string!())),
    // `'password': '...'`
    assignment(Check::None, concat!(json_kw!(), r#"'[ \t]*:[ \t]*'((?:[^'\\\n]|\\.)+)'"#)),
    // `password = "..."`, `password: "..."`. A value does not start with a space or `,:]}`:
    // in `{"a": "token=", "b": 1}` the quote after `=` closes a JSON string, it opens nothing.
    assignment(
        Check::None,
        concat!(kw!(), r#"[ \t]*[:=][ \t]*"([^"\\\n\s,:\]}](?:[^"\\\n]|\\.)*|\\.(?:[^"\\\n]|\\.)*)""#),
    ),
    assignment(
        Check::None,
        concat!(kw!(), r#"[ \t]*[:=][ \t]*'([^'\\\n\s,:\]}](?:[^'\\\n]|\\.)*|\\.(?:[^'\\\n]|\\.)*)'"#),
    ),
    assignment(Check::None, concat!(kw!(), r#"[ \t]*[:=][ \t]*\\""#, escaped_string!())),
    // `password=...` in query strings, env lines and flags
    assignment(Check::BareValue, concat!(kw!(), r#"=([^\s&"'<>,;()\[\]{}\\`]+)"#)),
    // `--password ...` in a command line
    assignment(Check::BareValue, concat!(r"(?:^|[ \t])--?[A-Za-z0-9_-]*", kw!(), r#"[ \t]+([^\s"'\\\[-][^\s"'\\]*)"#)),
];

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;

    static REDACTOR: LazyLock<Redactor> =
        LazyLock::new(|| RedactConfig::default().build().expect("built-in patterns compile"));

    /// Fake secrets of every shape, put together at run time so that no secret scanner flags
    /// this file.
    fn fake(prefix: &str, body: &str) -> String {
        [prefix, body].concat()
    }

    /// Found by fuzzing (`fuzz/artifacts/redact/crash-cf6f99b6…` and four more): a match dropped
    /// because it holds a marker swallowed the opening quote of the next assignment, whose
    /// password was left in the text; a second pass then found it.
    #[test]
    fn a_match_dropped_for_holding_a_marker_hides_no_secret_after_it() {
        let text = "x PASSWORD='one [REDACTED:openai] two B_PASSWORD='hunter2x' end";
        let (once, n) = REDACTOR.text(text);
        assert!(!once.contains("hunter2x"), "{once}");
        assert_eq!(n, 1, "{once}");
        assert_eq!(REDACTOR.text(&once).1, 0, "a second pass finds nothing in {once}");
    }

    /// Found by fuzzing (`crash-3d3880bb…`): a key at the tail of a longer run of capitals was
    /// redacted, and the marker's `[` then ended the run before it, which a second pass took for
    /// another key.
    #[test]
    fn a_run_of_capitals_redacted_at_its_tail_is_stable() {
        let text = ["id1", "AKIAIOSFODNN7EXAMPL1", "AKIAIOSFODNN7EXAMPLE"].concat();
        let (once, n) = REDACTOR.text(&text);
        assert_eq!(n, 1, "{once}");
        assert!(once.ends_with("[REDACTED:aws-access-key]"), "{once}");
        assert_eq!(REDACTOR.text(&once).1, 0, "a second pass finds nothing in {once}");
    }

    fn openai() -> String {
        fake("sk-proj-", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d_KLzdocJ2isAjIhKtJ0RlgLKOmxg")
    }
    fn openai_legacy() -> String {
        fake("sk-", "KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpY")
    }
    fn openai_svcacct() -> String {
        fake("sk-svcacct-", "lSXpfKtHF4vUCsMehGAkWvj7FAc9QeWJKY40uvSw")
    }
    fn openai_admin() -> String {
        fake("sk-admin-", "q9wMxEhh2FDEEtfjgVvVqE1SkHbn88HxjSI6bWHt")
    }
    fn anthropic() -> String {
        fake(
            "sk-ant-api03-",
            "6yYTWmE4lBYOvfZ8UzDzV8fUkkibjL5DZPjN0MEQ7wjJJibaZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQL05HA064GiIj-AA",
        )
    }
    fn anthropic_admin() -> String {
        fake("sk-ant-admin01-", "GvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9wCZ7Uw9xfogoEmvnEN5N1aE6PwZPf1Qh")
    }
    fn aws_id() -> String {
        fake("AKIA", "IOSFODNN7EXAMPLE")
    }
    fn aws_session_id() -> String {
        fake("ASIA", "Y34FZKBOKMUTVV7A")
    }
    fn aws_secret() -> String {
        fake("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY")
    }
    fn github() -> String {
        fake("ghp_", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d")
    }
    fn github_oauth() -> String {
        fake("gho_", "qE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXoIIX")
    }
    fn github_pat() -> String {
        fake("github_pat_", "11ABCDEFG0_MFLZDe1f8rESQedUStPKR0CsTy4Qwb8DwkNhFdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfl")
    }
    fn google() -> String {
        fake("AIza", "SyqsajAIxNKu8iS2G8NPRVdD53X83RZJzzz")
    }
    fn slack() -> String {
        fake("xoxb-", "1234567890123-1234567890123-EOzdmenCkhvMdgaKjIg8xNbe")
    }
    fn stripe() -> String {
        fake("sk_live_", "51HqLyjWDarjtT1zdp7dcEOzdmenCkhvMdgaKjIg8xN")
    }
    fn stripe_restricted() -> String {
        fake("rk_live_", "51HqLyjWDarjtT1zdp7dcq9wMxEhh2FDEEtfjgVvV")
    }
    fn jwt() -> String {
        fake(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
            "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        )
    }
    fn huggingface() -> String {
        fake("hf_", "EOzdmenCkhvMdgaKjIg8xNbe3nNyjOq9wM")
    }
    fn gitlab() -> String {
        fake("glpat-", "x2Vb8Qm4Rt6Yw9Zp1Ks3")
    }
    fn npm() -> String {
        fake("npm_", "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c")
    }
    fn opaque() -> String {
        fake("ya29.", "a0AfH6SMBx-q9wMxEhh2FDEEtfjgVvVqE1SkHbn88")
    }
    fn pem() -> String {
        fake(
            "-----BEGIN RSA PRIVATE KEY-----\n",
            "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi+xGIlvxxNpE8gT0sQhzNyQp1V\n\
             2ZEpUtwZexuCh5cBHfDsxzmCRZ6aLb5DuzPlb0cqxu1GQDk5WUvzH9ZSbTkhTGk+\n\
             -----END RSA PRIVATE KEY-----",
        )
    }

    fn assert_redacted(input: &str, secret: &str, kind: &str) {
        let (out, n) = REDACTOR.text(input);
        assert!(!out.contains(secret), "`{secret}` left in `{out}`");
        let marker = format!("[REDACTED:{kind}]");
        assert!(out.contains(&marker), "no `{marker}` in `{out}`");
        assert!(n >= 1);
        assert_eq!(REDACTOR.text(&out), (Cow::Borrowed(&*out), 0), "not idempotent on `{out}`");
    }

    #[test]
    fn planted_secrets_of_every_shape_are_gone() {
        let cases: Vec<(String, String, &str)> = vec![
            // JSON bodies
            (format!(r#"{{"api_key": "{}"}}"#, openai()), openai(), "openai-key"),
            (
                format!(r#"{{"messages":[{{"role":"user","content":"my key is {} ok"}}]}}"#, openai_legacy()),
                openai_legacy(),
                "openai-key",
            ),
            (format!(r#"{{"key":"{}"}}"#, openai_svcacct()), openai_svcacct(), "openai-key"),
            (format!("admin key {} rotated", openai_admin()), openai_admin(), "openai-key"),
            (format!(r#"{{"x":"{}"}}"#, anthropic()), anthropic(), "anthropic-key"),
            (format!("ANTHROPIC_ADMIN_KEY={}", anthropic_admin()), anthropic_admin(), "anthropic-key"),
            (
                format!(r#"{{"AccessKeyId": "{}", "Expiration": 1}}"#, aws_session_id()),
                aws_session_id(),
                "aws-access-key",
            ),
            (format!("[default]\naws_access_key_id = {}\n", aws_id()), aws_id(), "aws-access-key"),
            (format!("[default]\naws_secret_access_key = {}\n", aws_secret()), aws_secret(), "aws-secret-key"),
            (format!(r#"{{"content": "token {} here"}}"#, github()), github(), "github-token"),
            (format!("Authorization: token {}", github_oauth()), github_oauth(), "github-token"),
            (format!("GH_TOKEN={} gh pr list", github_pat()), github_pat(), "github-token"),
            (format!(r#"{{"text": "{}\nnext"}}"#, slack()), slack(), "slack-token"),
            (format!("stripe.api_key = '{}'", stripe()), stripe(), "stripe-key"),
            (format!("key: {}", stripe_restricted()), stripe_restricted(), "stripe-key"),
            (format!(r#"{{"id_token":"{}"}}"#, jwt()), jwt(), "jwt"),
            (format!("HF_TOKEN={}", huggingface()), huggingface(), "huggingface-token"),
            // argv strings
            (
                format!(r#"curl -H "Authorization: Bearer {}" https://api.openai.com/v1/models"#, opaque()),
                opaque(),
                "bearer-token",
            ),
            (format!("curl -H 'x-api-key: {}' https://api.anthropic.com", anthropic()), anthropic(), "anthropic-key"),
            ("mysql -u root --password hunter2hunter2 -h db".to_owned(), "hunter2hunter2".to_owned(), "password"),
            ("psql --db-password=s3cr3t-Pa55 app".to_owned(), "s3cr3t-Pa55".to_owned(), "password"),
            (format!("export OPENAI_API_KEY={}", openai()), openai(), "openai-key"),
            (format!("git clone https://x-access-token:{}@github.com/o/r.git", github()), github(), "github-token"),
            // URLs
            (
                format!("https://generativelanguage.googleapis.com/v1/models?key={}&alt=sse", google()),
                google(),
                "google-api-key",
            ),
            ("GET /cb?code=1&access_token=a8f7Gh2kLm9QpZ&state=x".to_owned(), "a8f7Gh2kLm9QpZ".to_owned(), "token"),
            ("postgres://app:Sup3rS3cret!@db.internal:5432/app".to_owned(), "Sup3rS3cret!".to_owned(), "url-password"),
            (
                "https://hooks.slack.com/services/T0000FAKE/B0000FAKE/XXXXXXXXXXXXXXXXXXXXXXXX".to_owned(),
                "T0000FAKE/B0000FAKE/XXXXXXXXXXXXXXXXXXXXXXXX".to_owned(),
                "slack-webhook",
            ),
            // generic assignments
            (
                r#"{"username": "bob", "password": "correct horse battery staple"}"#.to_owned(),
                "correct horse battery staple".to_owned(),
                "password",
            ),
            (r#"{"client_secret":"Zm9vYmFyYmF6cXV4"}"#.to_owned(), "Zm9vYmFyYmF6cXV4".to_owned(), "secret"),
            ("DB_PASSWORD=pa55w0rd\nDEBUG=1".to_owned(), "pa55w0rd".to_owned(), "password"),
            ("config = {'api_key': 'abc123def456'}".to_owned(), "abc123def456".to_owned(), "api-key"),
            ("password = \"hunter2\"".to_owned(), "hunter2".to_owned(), "password"),
            (r#"{"arguments": "{\"password\": \"tr0ub4dor&3\"}"}"#.to_owned(), "tr0ub4dor&3".to_owned(), "password"),
            ("SECRET=topsecretvalue".to_owned(), "topsecretvalue".to_owned(), "secret"),
            (
                r#"{"headers": {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}}"#.to_owned(),
                "dXNlcjpwYXNzd29yZA==".to_owned(),
                "basic-auth",
            ),
            // PEM
            (format!("key:\n{}\nend", pem()), pem(), "private-key"),
        ];
        assert!(cases.len() >= 20);
        for (input, secret, kind) in &cases {
            assert_redacted(input, secret, kind);
        }
    }

    #[test]
    fn authorization_keeps_its_scheme_and_headers_are_counted() {
        let mut headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", openai())),
            ("proxy-authorization".to_owned(), "Basic dXNlcjpwYXNz".to_owned()),
            ("x-api-key".to_owned(), anthropic()),
            ("api-key".to_owned(), "0123456789abcdef".to_owned()),
            ("x-goog-api-key".to_owned(), google()),
            ("cookie".to_owned(), "session=abc123; theme=dark".to_owned()),
            ("set-cookie".to_owned(), "sid=xyz789; Path=/; HttpOnly".to_owned()),
            ("x-auth-token".to_owned(), "tok".to_owned()),
            ("X-Custom-Secret".to_owned(), "custom-value".to_owned()),
            ("referer".to_owned(), format!("https://x.test/?api_key={}", github())),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), "claude-cli/1.0.0 (external, cli)".to_owned()),
        ];
        let config = RedactConfig { extra_headers: vec!["x-custom-secret".to_owned()], ..Default::default() };
        let redactor = config.build().expect("builds");
        assert_eq!(redactor.headers(&mut headers), 10);
        let value = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(value("authorization"), Some("Bearer [REDACTED]"));
        assert_eq!(value("proxy-authorization"), Some("Basic [REDACTED]"));
        assert_eq!(value("x-api-key"), Some("[REDACTED]"));
        assert_eq!(value("api-key"), Some("[REDACTED]"));
        assert_eq!(value("x-goog-api-key"), Some("[REDACTED]"));
        assert_eq!(value("cookie"), Some("session=[REDACTED]; theme=[REDACTED]"));
        assert_eq!(value("set-cookie"), Some("sid=[REDACTED]; Path=/; HttpOnly"));
        assert_eq!(value("x-auth-token"), Some("[REDACTED]"));
        assert_eq!(value("X-Custom-Secret"), Some("[REDACTED]"));
        assert_eq!(value("referer"), Some("https://x.test/?api_key=[REDACTED:github-token]"));
        assert_eq!(value("content-type"), Some("application/json"));
        assert_eq!(value("user-agent"), Some("claude-cli/1.0.0 (external, cli)"));

        let again = headers.clone();
        assert_eq!(redactor.headers(&mut headers), 0, "redacting headers twice changes nothing");
        assert_eq!(headers, again);
    }

    #[test]
    fn authorization_without_a_scheme_or_with_a_secret_first_word_is_wholly_redacted() {
        let mut headers = vec![
            ("authorization".to_owned(), openai()),
            ("authorization".to_owned(), "sk-ant/part1 part2".to_owned()),
            ("authorization".to_owned(), String::new()),
        ];
        assert_eq!(REDACTOR.headers(&mut headers), 2);
        assert_eq!(headers[0].1, "[REDACTED]");
        assert_eq!(headers[1].1, "[REDACTED]");
        assert_eq!(headers[2].1, "");
    }

    #[test]
    fn json_body_stays_valid_and_loses_every_secret() {
        let body = serde_json::json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": format!("Use {} for AWS and aws_secret_access_key={} / {}", aws_id(), aws_secret(), openai())},
                {"role": "user", "content": format!("here is my key:\n{}\nand a token \"{}\"", pem(), jwt())},
                {"role": "assistant", "tool_calls": [{"function": {"name": "login",
                    "arguments": serde_json::json!({"user": "bob", "password": "p\"a\\ss", "api_key": slack()}).to_string()}}]},
            ],
            "max_tokens": 1024,
            "metadata": {"auth_token": huggingface(), "session\"Token": "x"},
        });
        let text = body.to_string();
        let (out, n) = REDACTOR.text(&text);
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        for secret in [aws_id(), aws_secret(), openai(), pem(), jwt(), slack(), huggingface()] {
            assert!(!out.contains(&secret), "`{secret}` left in `{out}`");
        }
        assert!(!out.contains("MIIEpAIBAAKCAQEA"));
        assert!(!out.contains(r#"p\\\"a\\\\ss"#), "escaped password left in `{out}`");
        assert!(n >= 8, "{n} redactions in `{out}`");
        assert_eq!(parsed["max_tokens"], 1024);
        assert_eq!(parsed["metadata"]["auth_token"], "[REDACTED:huggingface-token]");
        let args: serde_json::Value = serde_json::from_str(
            parsed["messages"][2]["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or_default(),
        )
        .expect("arguments still JSON");
        assert_eq!(args["password"], "[REDACTED:password]");
        assert_eq!(args["user"], "bob");
    }

    #[test]
    fn pem_keys_go_whole_raw_escaped_and_truncated() {
        let raw = format!("before\n{}\nafter", pem());
        let (out, _) = REDACTOR.text(&raw);
        assert_eq!(out, "before\n[REDACTED:private-key]\nafter");

        let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\\nQyNTUxOQAAACDw\\n-----END OPENSSH PRIVATE KEY-----\\n";
        let (out, n) = REDACTOR.text(openssh);
        assert_eq!((out.as_ref(), n), ("[REDACTED:private-key]\\n", 1));

        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nMIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkqhkiG9w0BBQwwDgQI\n-----END ENCRYPTED PRIVATE KEY-----";
        assert_eq!(REDACTOR.text(encrypted).0, "[REDACTED:private-key]");

        let cut = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ";
        let (out, n) = REDACTOR.text(cut);
        assert_eq!((out.as_ref(), n), ("[REDACTED:private-key]", 1));
    }

    #[test]
    fn a_value_that_only_looks_like_a_marker_is_redacted() {
        // found by fuzzing: a value starting with `[REDACTED` was taken for a marker
        let (out, n) = REDACTOR.text(r#"password="[REDACTEDhunter2""#);
        assert!(!out.contains("hunter2") && n == 1, "{out}");
        let input = "APIKEY=PASSWD='[REDACTEDtoken='='";
        let once = REDACTOR.text(input).0.into_owned();
        assert_eq!(REDACTOR.text(&once).0, once, "redacting twice equals redacting once");
        let (out, n) = REDACTOR.text(r#"password="[REDACTED:password]""#);
        assert_eq!((out.as_ref(), n), (r#"password="[REDACTED:password]""#, 0), "a real marker stays");
    }

    #[test]
    fn a_keyword_ending_a_json_string_does_not_swallow_its_quote() {
        // found by fuzzing: the quote after `token=` closes the string, so `", "` is no value
        for body in [r#"{"a": "token=", "b": 1}"#, r#"{'a': 'password=', 'b': 1}"#] {
            let (out, n) = REDACTOR.text(body);
            assert_eq!((out.as_ref(), n), (body, 0));
        }
        let (out, _) = REDACTOR.text(r#"{"env": "password=\"hunter2-secret\""}"#);
        assert!(!out.contains("hunter2"), "{out}");
        let (out, _) = REDACTOR.text(r#"password = "hunter2-secret""#);
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn redacts_secret_glued_to_a_word() {
        // what came before a key in the traces that leaked it: a name, a URL-encoded `=`, a
        // JSON-escaped newline, an id
        let before = ["x_", "%3D", "\\n", "id1", "a", "9", "_", "key=", "\"", " "];
        let after = ["", "\\n", "x", "&b=1", "\"", " tail"];
        let secrets = [
            openai(),
            openai_legacy(),
            openai_svcacct(),
            openai_admin(),
            anthropic(),
            anthropic_admin(),
            aws_id(),
            aws_session_id(),
            github(),
            github_oauth(),
            github_pat(),
            google(),
            slack(),
            stripe(),
            stripe_restricted(),
            jwt(),
            huggingface(),
            gitlab(),
            npm(),
        ];
        let mut planted = 0;
        let mut left = Vec::new();
        for secret in &secrets {
            for b in before {
                for a in after {
                    planted += 1;
                    let text = format!("{b}{secret}{a}");
                    let (out, n) = REDACTOR.text(&text);
                    assert_eq!(REDACTOR.text(&out).1, 0, "not idempotent on `{out}`");
                    if out.contains(secret.as_str()) || n == 0 {
                        left.push(text.clone());
                    }
                }
            }
        }
        assert!(left.is_empty(), "{} of {planted} left: {left:#?}", left.len());
        let glued = format!("\\nBearer {}", opaque());
        assert_eq!(REDACTOR.text(&glued).0, "\\nBearer [REDACTED:bearer-token]");
    }

    #[test]
    fn redacts_every_string_field_of_an_llm_call() {
        let call = LlmCall {
            provider: "openai".into(),
            api: "chat".into(),
            url: format!("https://api.openai.com/v1/chat/completions#{}", github()),
            model: Some("gpt-4o".into()),
            request: model::LlmRequest {
                extends: None,
                system: Some(format!("deploy with {}", stripe())),
                messages: vec![Message {
                    role: "assistant".into(),
                    content: format!("x_{}", anthropic()),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "bash".into(),
                        // what a body's `\u0070assword` escape decodes to
                        arguments: serde_json::json!({"password": "hunter2hunter2", "n": 1}),
                    }],
                    tool_call_id: None,
                }],
                tools: vec![model::Tool {
                    name: "login".into(),
                    description: Some(format!("uses {}", aws_id())),
                    parameters: serde_json::json!({"default": openai()}),
                }],
            },
            response: model::LlmResponse {
                text: format!("\\n{}", huggingface()),
                tool_calls: vec![ToolCall {
                    id: "call_2".into(),
                    name: "fetch".into(),
                    arguments: serde_json::Value::String(format!("%3D{}", google())),
                }],
                stop_reason: None,
                error: Some(format!("invalid key {}", openai_legacy())),
            },
            usage: None,
            stream: false,
            status: 200,
            ttft_ms: None,
            latency_ms: 1.0,
            incomplete: false,
            raw: Some(model::RawBodies {
                request: Some(format!("id1{}", aws_session_id())),
                response: None,
                reason: "unknown shape".into(),
                truncated: false,
            }),
        };
        let mut event = Event {
            ts_ns: 1,
            session: "s".into(),
            pid: 1,
            tid: 1,
            ppid: 0,
            comm: "node".into(),
            body: EventBody::LlmCall(Box::new(call)),
        };
        assert_eq!(REDACTOR.event(&mut event), 10);
        let json = serde_json::to_string(&event).expect("json");
        for secret in [
            github(),
            stripe(),
            anthropic(),
            aws_id(),
            openai(),
            huggingface(),
            google(),
            openai_legacy(),
            aws_session_id(),
            "hunter2hunter2".to_owned(),
        ] {
            assert!(!json.contains(&secret), "`{secret}` left in {json}");
        }
        let EventBody::LlmCall(call) = &event.body else { panic!("llm_call") };
        assert_eq!(
            call.request.messages[0].tool_calls[0].arguments,
            serde_json::json!({"password": "[REDACTED:password]", "n": 1})
        );
        assert_eq!(REDACTOR.event(&mut event), 0);
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg+/eyJhbGciOiJIUzI1NiJ9AKIAIOSFODNN7EXAMPLEAIzaSyqsajAIxNKu8iS2G8NPRVdD53X83RZJ";
        let texts = [
            "Refactor the task-list component; see sk- prefix handling in keys.rs.",
            "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nAuthor: A <a@b.c>",
            "id 123e4567-e89b-12d3-a456-426614174000 and sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            png,
            r#"{"model":"claude-sonnet-4","max_tokens":4096,"messages":[{"role":"user","content":"Count the tokens in this password policy: passwords must be 12+ chars."}]}"#,
            r#"{"logprobs":{"content":[{"token":"Hello","logprob":-0.1},{"token":" world","logprob":-0.2}]}}"#,
            "def login(user, password=None, token=token, api_key=API_KEY):\n    return auth(password=password)",
            "let token = tokenizer.next();\nif let Some(secret) = vault.get(&name) { use_it(secret) }",
            "fn parse(bearer: &str) -> Option<Token> { bearer.strip_prefix(\"Bearer \") }",
            "Bearer authentication (also called token authentication) is an HTTP scheme.",
            "cat /etc/passwd | grep root; echo $PWD; git log --max-tokens 10 --token-file ./t",
            "The Authorization header carries credentials; cookies too.",
            "https://example.com/path?q=rust+regex&page=2#results",
            "https://user@example.com:8443/path",
            "sk-ant- alone, xoxb- alone, AKIA alone, ghp_ alone, AIza alone, eyJ alone.",
            "risk-assessment-framework-for-production-systems and desk-booking-service-v",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "if line.starts_with(\"-----BEGIN RSA PRIVATE KEY-----\") { pem = true }",
            "日本語のテキスト: パスワードは秘密です。token と secret の話。",
            // words that end in a key prefix, with a digit: not keys
            "task-runner-2024-01-01-nightly-build and disk-usage-monitor-v2-final",
            "risk_test_integrationsuite1 and pnpm_store_path_for_workspace_packages_2",
            "RISK-ASSESSMENT-2024-QUARTERLY-REVIEW",
        ];
        for text in texts {
            let (out, n) = REDACTOR.text(text);
            assert!(matches!(out, Cow::Borrowed(_)) && n == 0, "changed `{text}` into `{out}`");
        }
    }

    #[test]
    fn bytes_keep_invalid_utf8_and_lose_secrets() {
        let mut body = b"\xff\xfe{\"api_key\": \"".to_vec();
        body.extend_from_slice(openai().as_bytes());
        body.extend_from_slice(b"\"}\x80 tail");
        assert_eq!(REDACTOR.bytes(&mut body), 1);
        assert_eq!(body, b"\xff\xfe{\"api_key\": \"[REDACTED:openai-key]\"}\x80 tail".to_vec());

        let mut plain = format!("token={}", github()).into_bytes();
        assert_eq!(REDACTOR.bytes(&mut plain), 1);
        assert_eq!(plain, b"token=[REDACTED:github-token]".to_vec());

        // an invalid byte does not join two halves into one key
        let mut split = b"sk-proj-abc\xffdef0123456789012345678901234".to_vec();
        let before = split.clone();
        assert_eq!(REDACTOR.bytes(&mut split), 0);
        assert_eq!(split, before);
    }

    #[test]
    fn argv_redacts_the_value_after_a_credential_flag() {
        let mut argv: Vec<String> =
            ["mysql", "--password", "hunter2", "-h", "db", "--api-key", "abcdef", "--max-tokens", "100"]
                .map(String::from)
                .to_vec();
        argv.push(format!("--header=Authorization: Bearer {}", opaque()));
        assert_eq!(REDACTOR.argv(&mut argv), 3);
        assert_eq!(argv[2], "[REDACTED:password]");
        assert_eq!(argv[6], "[REDACTED:api-key]");
        assert_eq!(argv[8], "100");
        assert_eq!(argv[9], "--header=Authorization: Bearer [REDACTED:bearer-token]");
        assert_eq!(REDACTOR.argv(&mut argv), 0);
    }

    #[test]
    fn extra_patterns_redact_the_group_or_the_match() {
        let config = RedactConfig {
            extra_patterns: vec![r"ACME-[0-9]{6}".to_owned(), r"employee_id=(\d+)".to_owned()],
            ..Default::default()
        };
        let redactor = config.build().expect("builds");
        let (out, n) = redactor.text("ticket ACME-123456 for employee_id=998877.");
        assert_eq!((out.as_ref(), n), ("ticket [REDACTED:custom] for employee_id=[REDACTED:custom].", 2));
        assert_eq!(redactor.text(&out).1, 0);
    }

    #[test]
    fn an_extra_pattern_matching_the_marker_does_not_break_idempotence() {
        let config = RedactConfig { extra_patterns: vec!["REDACTED|a*".to_owned()], ..Default::default() };
        let redactor = config.build().expect("builds");
        let (once, _) = redactor.text("x [REDACTED] y password=p");
        let (twice, n) = redactor.text(&once);
        assert_eq!((twice.as_ref(), n), (once.as_ref(), 0));
    }

    #[test]
    fn invalid_extra_pattern_is_named_in_the_error() {
        let config =
            RedactConfig { extra_patterns: vec!["ok".to_owned(), "secret-(unclosed".to_owned()], ..Default::default() };
        let err = config.build().expect_err("must fail");
        assert!(matches!(&err, RedactError::InvalidPattern { pattern, .. } if pattern == "secret-(unclosed"));
        assert!(err.to_string().starts_with("invalid extra redaction pattern `secret-(unclosed`"), "{err}");
    }

    #[test]
    fn invalid_extra_header_is_rejected() {
        for name in ["", "x api key", "x-key:"] {
            let config = RedactConfig { extra_headers: vec![name.to_owned()], ..Default::default() };
            assert!(matches!(config.build(), Err(RedactError::InvalidHeader { .. })), "{name:?}");
        }
    }

    #[test]
    fn config_rejects_unknown_keys_and_defaults_missing_ones() {
        let err = serde_json::from_str::<RedactConfig>(r#"{"extra_pattern": ["x"]}"#).expect_err("wrong key");
        assert!(err.to_string().contains("unknown field `extra_pattern`"), "{err}");
        let config: RedactConfig = serde_json::from_str(r#"{"extra_headers": ["X-Tenant-Key"]}"#).expect("parses");
        assert!(config.extra_patterns.is_empty());
        assert_eq!(config.extra_headers, ["X-Tenant-Key"]);
    }

    #[test]
    fn validate_names_the_bad_pattern_or_header_as_build_does() {
        RedactConfig::default().validate().expect("no extras");
        let bad = RedactConfig { extra_patterns: vec!["ok".to_owned(), "(unclosed".to_owned()], ..Default::default() };
        let err = bad.validate().expect_err("bad pattern").to_string();
        assert!(err.contains("`(unclosed`"), "{err}");
        assert_eq!(err, bad.build().expect_err("build agrees").to_string());
        let bad = RedactConfig { extra_headers: vec!["X Key".to_owned()], ..Default::default() };
        assert!(matches!(bad.validate(), Err(RedactError::InvalidHeader { name }) if name == "X Key"));
    }

    #[test]
    fn marker_colon_does_not_complete_a_url_password() {
        let text = "https://sk-eyJhbGciOiJIUzI1NiJ9\0\0?0(\0@\0";
        let (once, n) = REDACTOR.text(text);
        assert_eq!((once.as_ref(), n), ("https://[REDACTED:openai-key]\0\0?0(\0@\0", 1));
        assert_eq!(REDACTOR.text(&once).1, 0);
    }

    #[test]
    fn code_looking_value_that_holds_a_key_is_redacted_whole() {
        let text = format!("token=a.{}.token", github());
        assert_eq!(REDACTOR.text(&text).0, "token=[REDACTED:token]");
        let text = "api_key=:sk-ant-api03-api_keyapi-key\"";
        let (once, _) = REDACTOR.text(text);
        assert_eq!(once, "api_key=[REDACTED:api-key]\"");
        assert_eq!(REDACTOR.text(&once).1, 0);
    }

    /// Pieces that make secrets, half-secrets, markers and their delimiters when strung together.
    const PIECES: &[&str] = &[
        "sk-",
        "sk-proj-",
        "sk-ant-api03-",
        "abcdefghij0123456789",
        "ABCDEFGHIJKLMNOP",
        "AKIA",
        "ghp_",
        "AIza",
        "xoxb-",
        "eyJ",
        "eyJhbGciOiJIUzI1NiJ9",
        ".",
        "Bearer ",
        "bearer\t",
        "Basic ",
        "Authorization: ",
        "authorization\": \"",
        "x-api-key: ",
        "password",
        "token",
        "api_key",
        "secret",
        "=",
        ": ",
        "\"",
        "'",
        "\\\"",
        "\\",
        "\\n",
        "\n",
        " ",
        "&",
        "--",
        "-",
        "_",
        "[REDACTED",
        "[REDACTED:openai-key]",
        "]",
        ":",
        "https://",
        "user",
        "@",
        "/",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi+xGIlvxxNpE8gT0sQhzNyQp1V",
        "None",
        "é",
        "{",
        "}",
        "(",
        "hooks.slack.com/services/",
        "aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "\0",
        "?",
        "x]",
        "[REDACTED:password]",
        "[REDACTED]",
        "REDACTED",
        "api-key",
        "-----",
        "==",
        "x_",
        "%3D",
        "id1",
        "task-",
        "ABCDEFGHIJKLMNOP0123",
        "Ab3dEf6hIj9kLm2nOp5q",
    ];

    fn soup() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn any_text_redacts_without_panic_and_idempotently(text in any::<String>()) {
            let (once, _) = REDACTOR.text(&text);
            let (twice, n) = REDACTOR.text(&once);
            prop_assert_eq!(twice.as_ref(), once.as_ref());
            prop_assert_eq!(n, 0);
        }

        #[test]
        fn secret_soup_redacts_idempotently(text in soup()) {
            let (once, _) = REDACTOR.text(&text);
            let (twice, n) = REDACTOR.text(&once);
            prop_assert_eq!(twice.as_ref(), once.as_ref(), "from {:?}", text);
            prop_assert_eq!(n, 0);
        }

        #[test]
        fn any_bytes_redact_without_panic_and_idempotently(
            mut body in prop::collection::vec(any::<u8>(), 0..256),
            text in soup(),
            at in any::<prop::sample::Index>(),
        ) {
            let at = at.index(body.len() + 1);
            body.splice(at..at, text.into_bytes());
            REDACTOR.bytes(&mut body);
            let once = body.clone();
            prop_assert_eq!(REDACTOR.bytes(&mut body), 0);
            prop_assert_eq!(body, once);
        }

        #[test]
        fn headers_redact_idempotently(
            values in prop::collection::vec((prop::sample::select(CREDENTIAL_HEADERS), soup()), 0..8),
        ) {
            let mut headers: Vec<(String, String)> =
                values.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
            REDACTOR.headers(&mut headers);
            let once = headers.clone();
            prop_assert_eq!(REDACTOR.headers(&mut headers), 0);
            prop_assert_eq!(headers, once);
        }
    }
}
