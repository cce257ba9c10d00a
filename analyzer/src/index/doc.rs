//! The index schema and how an event or a finding becomes a tantivy document.
//!
//! One document per event and per finding. Text fields are not stored: search re-derives their
//! text from the stored `json` (the whole object) when it builds snippets, so each text lives
//! once in the doc store. Only the link fields, which come from the window rather than the
//! event, are stored as text.

use std::collections::HashMap;

use model::{Event, EventBody, Finding, Link, Window};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::TantivyDocument;

use super::tokenizer::TOKENIZER;

/// `doc` of an event document.
pub const DOC_EVENT: &str = "event";
/// `doc` of a finding document.
pub const DOC_FINDING: &str = "finding";

/// The full-text fields, all tokenized with [`TOKENIZER`] and searched by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Text {
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
    pub const ALL: [Text; 10] = [
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

    pub fn name(self) -> &'static str {
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
pub struct Fields {
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
    /// The detector of a finding.
    pub detector: Field,
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
    pub fn text(&self, t: Text) -> Field {
        self.text[t as usize]
    }

    /// The text field behind `field`, if it is one.
    pub fn text_of(&self, field: Field) -> Option<Text> {
        self.text
            .iter()
            .position(|f| *f == field)
            .map(|i| Text::ALL[i])
    }
}

/// The schema and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let string_fast = STRING | FAST;
    let doc = b.add_text_field("doc", string_fast.clone() | STORED);
    let id = b.add_text_field("id", STRING);
    let key = b.add_text_field("key", STRING);
    let session = b.add_text_field("session", string_fast.clone());
    let window_id = b.add_text_field("window_id", STRING);
    let kind = b.add_text_field("kind", string_fast);
    let detector = b.add_text_field("detector", STRING);
    let comm = b.add_text_field("comm", STRING);
    let pid = b.add_u64_field("pid", INDEXED);
    let numeric_fast: NumericOptions = (INDEXED | FAST).into();
    let ts_ns = b.add_u64_field("ts_ns", numeric_fast.clone());
    let score = b.add_f64_field("score", numeric_fast);
    let json = b.add_text_field("json", STORED);
    let text = Text::ALL.map(|t| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let mut options = TextOptions::default().set_indexing_options(indexing);
        if t.stored() {
            options = options.set_stored();
        }
        b.add_text_field(t.name(), options)
    });
    let fields = Fields {
        doc,
        id,
        key,
        session,
        window_id,
        kind,
        detector,
        comm,
        pid,
        ts_ns,
        score,
        json,
        text,
    };
    (b.build(), fields)
}

/// The `key` of the event documents of window `window_id`.
pub fn window_key(window_id: &str) -> String {
    format!("window/{window_id}")
}

/// The `key` of finding `finding_id`.
pub fn finding_key(finding_id: &str) -> String {
    format!("finding/{finding_id}")
}

/// The link texts of a window's own events: `caused_by` and `causes` by event id.
#[derive(Debug, Default)]
pub struct LinkTexts {
    by_event: HashMap<String, (String, String)>,
}

impl LinkTexts {
    /// Both sides of every link. A link whose end is an overlap event was indexed with the
    /// window before, which holds the whole overlap turn and its links.
    pub fn of(links: &[Link]) -> Self {
        let mut by_event: HashMap<String, (String, String)> = HashMap::new();
        for l in links {
            push_line(
                &mut by_event.entry(l.event.clone()).or_default().0,
                &format!("{} {}", l.call_id, l.tool),
            );
            push_line(
                &mut by_event.entry(l.llm_event.clone()).or_default().1,
                &l.event,
            );
        }
        LinkTexts { by_event }
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

/// The document of `ev`, one of `w`'s own events.
pub fn event_doc(
    f: &Fields,
    w: &Window,
    ev: &Event,
    json: &str,
    links: &LinkTexts,
) -> TantivyDocument {
    let id = ev.id();
    let mut d = TantivyDocument::new();
    d.add_text(f.doc, DOC_EVENT);
    d.add_text(f.key, window_key(&w.window_id));
    d.add_text(f.session, &ev.session);
    d.add_text(f.window_id, &w.window_id);
    d.add_text(f.kind, ev.body.kind());
    d.add_text(f.comm, &ev.comm);
    d.add_u64(f.pid, u64::from(ev.pid));
    d.add_u64(f.ts_ns, ev.ts_ns);
    d.add_text(f.json, json);
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
pub fn finding_doc(f: &Fields, finding: &Finding, json: &str) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_text(f.doc, DOC_FINDING);
    d.add_text(f.id, &finding.finding_id);
    d.add_text(f.key, finding_key(&finding.finding_id));
    d.add_text(f.session, &finding.session);
    d.add_text(f.window_id, &finding.window_id);
    d.add_text(f.kind, &finding.kind);
    d.add_text(f.detector, &finding.detector);
    d.add_u64(f.ts_ns, finding.ts_ns);
    d.add_f64(f.score, finding.score);
    d.add_text(f.json, json);
    d.add_text(f.text(Text::Rationale), finding_rationale(finding));
    d
}

/// The derived full-text fields of an event (those with text).
pub fn event_texts(ev: &Event) -> Vec<(Text, String)> {
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
            let host = if c.port == 0 {
                c.addr.clone()
            } else {
                format!("{} {}", c.addr, c.port)
            };
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
pub fn finding_rationale(f: &Finding) -> String {
    let mut text = f.rationale.clone();
    for e in &f.evidence {
        push_line(&mut text, &e.summary);
    }
    text
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

    #[test]
    fn url_host_strips_scheme_port_and_path() {
        assert_eq!(
            url_host("https://api.openai.com/v1/chat/completions"),
            "api.openai.com"
        );
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
            by: "argv".into(),
        };
        let texts = LinkTexts::of(&[link]);
        assert_eq!(
            texts.get("2-5-exec").map(|t| t.0.as_str()),
            Some("call_7 bash")
        );
        assert_eq!(
            texts.get("1-1-llm_call").map(|t| t.1.as_str()),
            Some("2-5-exec")
        );
    }
}
