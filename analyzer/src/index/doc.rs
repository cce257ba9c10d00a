//! The index schema and how an event or a finding becomes a tantivy document.
//!
//! One document per event and per finding. Text fields are not stored: search re-derives their
//! text from the stored `json` (the whole object) when it builds snippets, so each text lives
//! once in the doc store. Only the link fields, which come from the window rather than the
//! event, are stored as text.

use std::collections::HashMap;

use model::{Event, EventBody, Finding, Link, LlmCall};
use serde::Serialize;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::TantivyDocument;

use super::tokenizer::{KEYWORD, TOKENIZER};

/// `doc` of an event document.
pub(super) const DOC_EVENT: &str = "event";
/// `doc` of a finding document.
pub(super) const DOC_FINDING: &str = "finding";

/// The full-text fields, all tokenized with [`TOKENIZER`] and searched by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Text {
    /// An `llm_call`'s system prompt and request messages.
    Prompt,
    /// An `llm_call`'s response text (and error).
    Response,
    /// Names of the tools offered to the model and of the tool calls it made.
    Tool,
    /// Tool call arguments as compact JSON.
    Args,
    /// An exec's argv, joined with spaces.
    Argv,
    /// File paths, exec filename and cwd.
    Path,
    /// Connect address and port, the host of an `llm_call` url, `http` host and path.
    Host,
    /// A finding's rationale and evidence summaries.
    Rationale,
    /// On an exec or file event: the tool call (id and name) that caused it.
    CausedBy,
    /// On an `llm_call`: the ids of the events its tool calls caused.
    Causes,
}

impl Text {
    pub(super) const ALL: [Text; 10] = [
        Text::Prompt,
        Text::Response,
        Text::Tool,
        Text::Args,
        Text::Argv,
        Text::Path,
        Text::Host,
        Text::Rationale,
        Text::CausedBy,
        Text::Causes,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Text::Prompt => "prompt",
            Text::Response => "response",
            Text::Tool => "tool",
            Text::Args => "args",
            Text::Argv => "argv",
            Text::Path => "path",
            Text::Host => "host",
            Text::Rationale => "rationale",
            Text::CausedBy => "caused_by",
            Text::Causes => "causes",
        }
    }

    /// Link fields cannot be re-derived from the stored object, so they are stored.
    fn stored(self) -> bool {
        matches!(self, Text::CausedBy | Text::Causes)
    }
}

/// The schema's fields, by role.
#[derive(Debug, Clone)]
pub(super) struct Fields {
    /// `event` or `finding` (stored: it says how to parse `json`).
    pub doc: Field,
    /// [`Event::id`] or `finding_id`.
    pub id: Field,
    /// What a re-add replaces: `window/<window_id>` on events, `finding/<finding_id>` on
    /// findings. A separate field so that resending a window leaves its findings alone.
    pub key: Field,
    pub session: Field,
    pub window_id: Field,
    /// The event kind or the finding kind.
    pub kind: Field,
    /// The detectors of a finding: `detector` and every other one that agreed (`judge` for the
    /// judge's), lowercased, exact.
    pub detector: Field,
    /// An `llm_call`'s model, tokenized like the text fields (`model:claude` finds
    /// `claude-sonnet-4-5`); not searched by default.
    pub model: Field,
    /// An `llm_call`'s provider as recorded, plus the names it goes by ([`provider_names`]).
    pub provider: Field,
    /// An exit's code (128 + the signal's number when a signal killed the process).
    pub exit_code: Field,
    /// The process name of an event.
    pub comm: Field,
    pub pid: Field,
    pub ts_ns: Field,
    /// A finding's score.
    pub score: Field,
    /// The whole event or finding as JSON.
    pub json: Field,
    /// The full-text fields, in [`Text::ALL`] order.
    pub text: [Field; Text::ALL.len()],
}

impl Fields {
    pub(super) fn text(&self, t: Text) -> Field {
        self.text[t as usize]
    }

    /// The text field behind `field`, if it is one.
    pub(super) fn text_of(&self, field: Field) -> Option<Text> {
        self.text.iter().position(|f| *f == field).map(|i| Text::ALL[i])
    }
}

/// The schema and its fields.
pub(super) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let string_fast = STRING | FAST;
    let doc = b.add_text_field("doc", string_fast.clone() | STORED);
    let id = b.add_text_field("id", STRING);
    let key = b.add_text_field("key", STRING);
    let session = b.add_text_field("session", string_fast.clone());
    let window_id = b.add_text_field("window_id", STRING);
    let kind = b.add_text_field("kind", string_fast);
    // Lowercased but whole: `detector:Judge` finds `judge`, `provider:openai` not `openai-ish`.
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(KEYWORD).set_index_option(IndexRecordOption::Basic),
    );
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let detector = b.add_text_field("detector", keyword.clone());
    let comm = b.add_text_field("comm", STRING);
    let pid = b.add_u64_field("pid", INDEXED);
    let numeric_fast: NumericOptions = (INDEXED | FAST).into();
    let ts_ns = b.add_u64_field("ts_ns", numeric_fast.clone());
    let score = b.add_f64_field("score", numeric_fast.clone());
    let json = b.add_text_field("json", STORED);
    let text = Text::ALL.map(|t| {
        let mut options = words.clone();
        if t.stored() {
            options = options.set_stored();
        }
        b.add_text_field(t.name(), options)
    });
    // Added after the first schema: an index without them is rebuilt at open (`migrate`).
    let model = b.add_text_field("model", words);
    let provider = b.add_text_field("provider", keyword);
    let exit_code = b.add_i64_field("exit_code", numeric_fast);
    let fields = Fields {
        doc,
        id,
        key,
        session,
        window_id,
        kind,
        detector,
        model,
        provider,
        exit_code,
        comm,
        pid,
        ts_ns,
        score,
        json,
        text,
    };
    (b.build(), fields)
}

/// One searchable field, as the field reference lists it (`GET /v1/search/fields`, the UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldInfo {
    pub name: &'static str,
    /// `text` (words in any order, `"a phrase"` in quotes), `keyword` (the whole value),
    /// `integer` or `number` (both take ranges: `[a TO b]`, `>a`, `<=b`, `*` for open ends).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The documents that have it: `event`, `finding` or `both`.
    pub on: &'static str,
    /// Whether a word without `field:` searches it.
    pub default: bool,
    pub description: &'static str,
    /// A query that uses it.
    pub example: &'static str,
}

const fn field(
    name: &'static str,
    kind: &'static str,
    on: &'static str,
    default: bool,
    description: &'static str,
    example: &'static str,
) -> FieldInfo {
    FieldInfo { name, kind, on, default, description, example }
}

/// Every field a query can name, with its type, what it holds and an example: the full-text
/// fields first (searched by default, in the order of `Text::ALL`), then the others.
pub fn search_fields() -> &'static [FieldInfo] {
    const FIELDS: &[FieldInfo] = &[
        field("prompt", "text", "event", true, "an `llm_call`'s system prompt and request messages", "prompt:\"run the tests\""),
        field("response", "text", "event", true, "an `llm_call`'s answer text, and its error if any", "response:passed"),
        field("tool", "text", "event", true, "names of the tools offered to the model and of those it called", "tool:bash"),
        field("args", "text", "event", true, "the arguments of the tool calls an `llm_call` made, as JSON text", "args:pytest"),
        field("argv", "text", "event", true, "an exec's command line", "argv:pytest"),
        field("path", "text", "event", true, "a file event's paths; an exec's filename and working directory", "path:\"src/main.rs\""),
        field("host", "text", "event", true, "a connect's address and port, an `llm_call`'s host, an `http` request's host and path", "host:api.openai.com"),
        field("rationale", "text", "finding", true, "a finding's rationale and the summaries of its evidence", "rationale:loop"),
        field("caused_by", "text", "event", true, "on an exec or file event: the id and name of the tool call that caused it", "caused_by:bash"),
        field("causes", "text", "event", true, "on an `llm_call`: the ids of the events its tool calls caused", "causes:exec"),
        field("model", "text", "event", false, "an `llm_call`'s model; a word matches a part (`model:claude` finds `claude-sonnet-4-5`)", "model:gpt-4o"),
        field("provider", "keyword", "event", false, "an `llm_call`'s provider: `openai`, `anthropic`, `google` (also `gemini`) or `unknown`, which also goes by its service when the host is a well-known one (`openrouter`, `deepseek`, `mistral`, `groq`, `together`, `xai`, `fireworks`, `cerebras`, `azure`, `ollama`)", "provider:anthropic"),
        field("exit_code", "integer", "event", false, "an exit event's code, 128 + the signal's number when a signal killed the process; a query cannot only exclude, so write `kind:exit AND NOT exit_code:0`, not `NOT exit_code:0`", "exit_code:[1 TO 255]"),
        field("detector", "keyword", "finding", false, "what made a finding: a detector (`exact_repeat`, `cycle`, `retry_same_error`, `claim_vs_record`, `followed_injection`, ...) or `judge`; every detector that agreed matches", "detector:judge"),
        field("kind", "keyword", "both", false, "an event's kind (`exec`, `exit`, `fork`, `file`, `connect`, `http`, `llm_call`, `loss`) or a finding's (`loop`, `contradiction`, `persona_drift`)", "kind:exec AND argv:pytest"),
        field("doc", "keyword", "both", false, "`event` or `finding`", "doc:finding AND rationale:tests"),
        field("id", "keyword", "both", false, "an event's id (`ts_ns-tid-kind`) or a finding's id", "id:\"1700000000000000000-20-exec\""),
        field("session", "keyword", "both", false, "the recording session", "session:demo AND kind:llm_call"),
        field("window_id", "keyword", "both", false, "the window an event or finding belongs to (`session:seq`)", "window_id:\"demo:0\""),
        field("comm", "keyword", "event", false, "the process name, at most 15 bytes as the kernel keeps it (case matters)", "comm:node"),
        field("pid", "integer", "event", false, "the process id", "pid:4242"),
        field("ts_ns", "integer", "both", false, "nanoseconds since the Unix epoch: when the event happened or the finding was made", "ts_ns:[1700000000000000000 TO *]"),
        field("score", "number", "finding", false, "a finding's score, from 0 (nothing wrong) to 1 (certain)", "score:[0.8 TO *]"),
    ];
    FIELDS
}

/// The `key` of the event documents of window `window_id`.
pub(super) fn window_key(window_id: &str) -> String {
    format!("window/{window_id}")
}

/// The `key` of finding `finding_id`.
pub(super) fn finding_key(finding_id: &str) -> String {
    format!("finding/{finding_id}")
}

/// The link texts of a window's own events: `caused_by` and `causes` by event id.
#[derive(Debug, Default)]
pub(super) struct LinkTexts {
    by_event: HashMap<String, (String, String)>,
}

impl LinkTexts {
    /// Both sides of every link. A link whose end is an overlap event was indexed with the
    /// window before, which holds the whole overlap turn and its links.
    pub(super) fn of(links: &[Link]) -> Self {
        let mut by_event: HashMap<String, (String, String)> = HashMap::new();
        for l in links {
            push_line(&mut by_event.entry(l.event.clone()).or_default().0, &format!("{} {}", l.call_id, l.tool));
            push_line(&mut by_event.entry(l.llm_event.clone()).or_default().1, &l.event);
        }
        LinkTexts { by_event }
    }

    /// Sets the link texts of one event (as stored in an older index).
    pub(super) fn insert(&mut self, event_id: String, caused_by: &str, causes: &str) {
        if !caused_by.is_empty() || !causes.is_empty() {
            self.by_event.insert(event_id, (caused_by.to_string(), causes.to_string()));
        }
    }

    fn get(&self, event_id: &str) -> Option<&(String, String)> {
        self.by_event.get(event_id)
    }
}

fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
}

/// The document of `ev`, one of the own events of window `window_id`.
pub(super) fn event_doc(f: &Fields, window_id: &str, ev: &Event, json: &str, links: &LinkTexts) -> TantivyDocument {
    let id = ev.id();
    let mut d = TantivyDocument::new();
    d.add_text(f.doc, DOC_EVENT);
    d.add_text(f.key, window_key(window_id));
    d.add_text(f.session, &ev.session);
    d.add_text(f.window_id, window_id);
    d.add_text(f.kind, ev.body.kind());
    d.add_text(f.comm, &ev.comm);
    d.add_u64(f.pid, u64::from(ev.pid));
    d.add_u64(f.ts_ns, ev.ts_ns);
    d.add_text(f.json, json);
    match &ev.body {
        EventBody::LlmCall(c) => {
            if let Some(model) = &c.model {
                d.add_text(f.model, model);
            }
            for name in provider_names(c) {
                d.add_text(f.provider, name);
            }
        }
        EventBody::Exit(e) => d.add_i64(f.exit_code, i64::from(e.exit_code)),
        _ => {}
    }
    for (t, text) in event_texts(ev) {
        d.add_text(f.text(t), text);
    }
    if let Some((caused_by, causes)) = links.get(&id) {
        if !caused_by.is_empty() {
            d.add_text(f.text(Text::CausedBy), caused_by);
        }
        if !causes.is_empty() {
            d.add_text(f.text(Text::Causes), causes);
        }
    }
    d.add_text(f.id, id);
    d
}

/// The document of a finding.
pub(super) fn finding_doc(f: &Fields, finding: &Finding, json: &str) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_text(f.doc, DOC_FINDING);
    d.add_text(f.id, &finding.finding_id);
    d.add_text(f.key, finding_key(&finding.finding_id));
    d.add_text(f.session, &finding.session);
    d.add_text(f.window_id, &finding.window_id);
    d.add_text(f.kind, finding.kind.as_str());
    d.add_text(f.detector, &finding.detector);
    for other in finding.detectors.iter().filter(|d| **d != finding.detector) {
        d.add_text(f.detector, other);
    }
    d.add_u64(f.ts_ns, finding.ts_ns);
    d.add_f64(f.score, finding.score);
    d.add_text(f.json, json);
    d.add_text(f.text(Text::Rationale), finding_rationale(finding));
    d
}

/// The derived full-text fields of an event (those with text).
pub(super) fn event_texts(ev: &Event) -> Vec<(Text, String)> {
    let mut out = Vec::new();
    match &ev.body {
        EventBody::Exec(e) => {
            out.push((Text::Argv, e.argv.join(" ")));
            out.push((Text::Path, format!("{}\n{}", e.filename, e.cwd)));
        }
        EventBody::File(e) => {
            let mut path = e.path.clone();
            if let Some(new) = &e.new_path {
                push_line(&mut path, new);
            }
            out.push((Text::Path, path));
        }
        EventBody::Connect(c) => {
            let host = if c.port == 0 { c.addr.clone() } else { format!("{} {}", c.addr, c.port) };
            out.push((Text::Host, host));
        }
        EventBody::Http(h) => out.push((Text::Host, format!("{}{}", h.host, h.path))),
        EventBody::LlmCall(c) => {
            let mut prompt = c.request.system.clone().unwrap_or_default();
            for m in &c.request.messages {
                push_line(&mut prompt, &m.content);
            }
            let mut response = c.response.text.clone();
            if let Some(error) = &c.response.error {
                push_line(&mut response, error);
            }
            // Bodies the decoder could not parse are still worth finding.
            if let Some(raw) = &c.raw {
                if let Some(r) = &raw.request {
                    push_line(&mut prompt, r);
                }
                if let Some(r) = &raw.response {
                    push_line(&mut response, r);
                }
            }
            let mut tools = String::new();
            for name in c.request.tools.iter().map(|t| &t.name) {
                push_line(&mut tools, name);
            }
            let mut args = String::new();
            for call in &c.response.tool_calls {
                push_line(&mut tools, &call.name);
                match &call.arguments {
                    serde_json::Value::String(s) => push_line(&mut args, s),
                    v => push_line(&mut args, &v.to_string()),
                }
            }
            out.push((Text::Prompt, prompt));
            out.push((Text::Response, response));
            out.push((Text::Tool, tools));
            out.push((Text::Args, args));
            out.push((Text::Host, url_host(&c.url).to_string()));
        }
        EventBody::Fork(_) | EventBody::Exit(_) | EventBody::Loss(_) => {}
    }
    out.retain(|(_, text)| !text.is_empty());
    out
}

/// A finding's `rationale` text: the rationale and what each piece of evidence says.
pub(super) fn finding_rationale(f: &Finding) -> String {
    let mut text = f.rationale.clone();
    for e in &f.evidence {
        push_line(&mut text, &e.summary);
    }
    text
}

/// The names an `llm_call`'s provider is searched by: the recorded one (`openai`, `anthropic`,
/// `google`, `unknown`), `gemini` beside `google`, and for `unknown` the service its host
/// belongs to, when it is a well-known OpenAI-compatible one (the collector names only the
/// three first-party APIs).
pub(super) fn provider_names(c: &LlmCall) -> Vec<String> {
    let recorded = c.provider.to_ascii_lowercase();
    let mut names = vec![recorded.clone()];
    if recorded == "google" {
        names.push("gemini".into());
    }
    if recorded == "unknown" {
        if let Some(name) = provider_of_host(url_host(&c.url), url_port(&c.url)) {
            names.push(name.into());
        }
    }
    names
}

/// Hosts of OpenAI-compatible services, by the name users call them.
const KNOWN_HOSTS: &[(&str, &str)] = &[
    ("openrouter.ai", "openrouter"),
    ("api.deepseek.com", "deepseek"),
    ("api.mistral.ai", "mistral"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together"),
    ("api.together.ai", "together"),
    ("api.x.ai", "xai"),
    ("api.fireworks.ai", "fireworks"),
    ("api.cerebras.ai", "cerebras"),
    ("openai.azure.com", "azure"),
];

/// The service behind `host` (a suffix match on a dot boundary), or `ollama` on its port.
fn provider_of_host(host: &str, port: Option<u16>) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let known = KNOWN_HOSTS
        .iter()
        .find(|(suffix, _)| host == *suffix || host.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('.')));
    match known {
        Some((_, name)) => Some(name),
        None if port == Some(11434) => Some("ollama"),
        None => None,
    }
}

/// The explicit port of `scheme://host:port/path`, if any.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (_, port) = rest[..end].rsplit_once(':')?;
    port.parse().ok()
}

/// `host` of `scheme://host[:port]/path`.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // IPv6 literals keep their brackets; anything else loses the port.
    match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => &authority[..i],
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::LinkBy;

    #[test]
    fn url_host_strips_scheme_port_and_path() {
        assert_eq!(url_host("https://api.openai.com/v1/chat/completions"), "api.openai.com");
        assert_eq!(url_host("http://127.0.0.1:8080/v1?key=x"), "127.0.0.1");
        assert_eq!(url_host("https://[::1]/v1"), "[::1]");
        assert_eq!(url_host("localhost:11434"), "localhost");
    }

    #[test]
    fn link_texts_land_on_both_sides() {
        let link = Link {
            llm_event: "1-1-llm_call".into(),
            call_id: "call_7".into(),
            tool: "bash".into(),
            event: "2-5-exec".into(),
            by: LinkBy::Argv,
        };
        let texts = LinkTexts::of(&[link]);
        assert_eq!(texts.get("2-5-exec").map(|t| t.0.as_str()), Some("call_7 bash"));
        assert_eq!(texts.get("1-1-llm_call").map(|t| t.1.as_str()), Some("2-5-exec"));
    }
}
