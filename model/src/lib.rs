//! The shared vocabulary of AgentSight: the events the collector records, as they appear in
//! JSON Lines traces (`docs/DESIGN.md`, "Events").
//!
//! This crate is serde types and nothing else (no I/O), so the analyzer, the index and the web UI
//! build without clang or libbpf. Fields are additive: new ones may appear, existing ones keep
//! their meaning, and optional ones are left out of the JSON when empty.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `Display`, `FromStr` (with [`UnknownName`]) and comparison with the name for a closed set
/// that has `ALL` and `as_str`.
macro_rules! named {
    ($t:ty, $what:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, so that `{:<14}` lines up as it did with strings.
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::UnknownName;

            fn from_str(s: &str) -> Result<Self, $crate::UnknownName> {
                $crate::UnknownName::find($what, s, &Self::ALL, Self::as_str)
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, name: &str) -> bool {
                self.as_str() == name
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, name: &&str) -> bool {
                self.as_str() == *name
            }
        }
    };
}

pub mod backoff;
pub mod conversation;
#[cfg(any(test, feature = "testsuite"))]
pub mod testing;
pub mod window;
pub mod windower;

pub use window::{
    window_id, Claim, CloseReason, Evidence, Finding, FindingKind, JudgeError, JudgeInfo, Link, LinkBy, Window,
    WindowContext,
};

/// One thing that happened, with who did it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The recording session this event belongs to.
    pub session: String,
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The parent's process id at the time of the event.
    pub ppid: u32,
    /// The process's command name (at most 15 bytes, as the kernel keeps it).
    pub comm: String,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// A reference to this event that findings, links and the index use:
    /// `ts_ns-tid-kind`, plus the source and a hash of the reason for `loss` events (several
    /// may be published at one instant).
    pub fn id(&self) -> String {
        let kind = self.body.kind();
        match &self.body {
            EventBody::Loss(l) => {
                format!("{}-{}-{kind}-{}-{:08x}", self.ts_ns, self.tid, l.source, fnv1a(l.reason.as_bytes()))
            }
            _ => format!("{}-{}-{kind}", self.ts_ns, self.tid),
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// What happened; serialised as the `kind` field plus the kind's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Exec(Exec),
    Fork(Fork),
    Exit(Exit),
    File(FileEvent),
    Connect(Connect),
    LlmCall(Box<LlmCall>),
    Http(Http),
    Loss(Loss),
}

impl EventBody {
    /// The `kind` string this body serialises with.
    pub fn kind(&self) -> &'static str {
        self.event_kind().as_str()
    }

    /// The kind of this body, typed.
    pub fn event_kind(&self) -> EventKind {
        match self {
            EventBody::Exec(_) => EventKind::Exec,
            EventBody::Fork(_) => EventKind::Fork,
            EventBody::Exit(_) => EventKind::Exit,
            EventBody::File(_) => EventKind::File,
            EventBody::Connect(_) => EventKind::Connect,
            EventBody::LlmCall(_) => EventKind::LlmCall,
            EventBody::Http(_) => EventKind::Http,
            EventBody::Loss(_) => EventKind::Loss,
        }
    }
}

/// The `kind` of an event, without its fields: what [`Evidence`] records of the event it cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Exec,
    Fork,
    Exit,
    File,
    Connect,
    LlmCall,
    Http,
    Loss,
}

impl EventKind {
    /// Every kind, in the order of [`EventBody`]'s variants.
    pub const ALL: [EventKind; 8] = [
        EventKind::Exec,
        EventKind::Fork,
        EventKind::Exit,
        EventKind::File,
        EventKind::Connect,
        EventKind::LlmCall,
        EventKind::Http,
        EventKind::Loss,
    ];

    /// The string the kind serialises as.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Exec => "exec",
            EventKind::Fork => "fork",
            EventKind::Exit => "exit",
            EventKind::File => "file",
            EventKind::Connect => "connect",
            EventKind::LlmCall => "llm_call",
            EventKind::Http => "http",
            EventKind::Loss => "loss",
        }
    }
}

named!(EventKind, "event kind");

/// A name outside a closed set (a finding kind, an event kind, a link's `by`), as a
/// [`FromStr`](std::str::FromStr) error: "unknown finding kind `loops` (known: loop, contradiction, persona_drift)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named, e.g. `finding kind`.
    pub what: &'static str,
    pub name: String,
    /// The names the set has, in its order.
    pub known: Vec<&'static str>,
}

impl UnknownName {
    /// The member of `all` named `name`, or the error that lists `all`.
    pub(crate) fn find<T: Copy>(
        what: &'static str,
        name: &str,
        all: &[T],
        as_str: impl Fn(T) -> &'static str,
    ) -> Result<T, UnknownName> {
        all.iter().copied().find(|k| as_str(*k) == name).ok_or_else(|| UnknownName {
            what,
            name: name.to_owned(),
            known: all.iter().map(|k| as_str(*k)).collect(),
        })
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}` (known: {})", self.what, self.name, self.known.join(", "))
    }
}

impl std::error::Error for UnknownName {}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A successful execve: the process now runs `filename`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exec {
    /// The path the kernel executed, as passed to execve (may be relative).
    pub filename: String,
    /// The arguments, `argv[0]` first, up to the collector's cap.
    pub argv: Vec<String>,
    /// The working directory at the time of the exec (absolute).
    pub cwd: String,
    /// The real user id.
    pub uid: u32,
    /// True when `argv` was cut at the cap; `argv_bytes` then gives the full size.
    #[serde(default, skip_serializing_if = "is_false")]
    pub argv_truncated: bool,
    /// Total size of the arguments in bytes (NUL separators included), truncated or not.
    /// Derived, so not in the event contract: a trace without it reads as 0 (`ingest` then
    /// computes it from an `argv` that was not cut).
    #[serde(default)]
    pub argv_bytes: u32,
    /// Names of the fields that were cut at their cap (e.g. `cwd`, `filename`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
    /// True when some bytes were not valid UTF-8 and were written as `\xNN` escapes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub non_utf8: bool,
}

/// A new process (not a thread) forked by `pid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fork {
    pub child_pid: u32,
}

/// The last thread of a process exited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// The exit status, or 128 + the signal's number when a signal killed the process
    /// (the shell's convention).
    pub exit_code: i32,
    /// The signal that killed the process, 0 if it exited by itself.
    pub signal: u32,
    /// True when the kill dumped core.
    #[serde(default, skip_serializing_if = "is_false")]
    pub core_dumped: bool,
    /// How long the process lived, from its fork to this exit.
    pub duration_ns: u64,
}

/// A file-system operation on a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEvent {
    pub op: FileOp,
    /// The absolute path (relative paths are resolved against the cwd or directory fd).
    pub path: String,
    /// The target of a rename.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    /// Open flags (`O_*`), rename flags or unlinkat flags, as numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
    /// The open flags spelled out, e.g. `O_WRONLY|O_CREAT|O_TRUNC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags_text: Option<String>,
    /// Bytes written (op `write`): the sum over the whole life of the (process, fd) pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Number of write calls summed into `bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<u32>,
    /// The file descriptor written to (op `write`), or returned by an open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    /// The syscall's result: a file descriptor, 0, or a negative errno.
    pub result: i64,
    /// The errno's name when `result` is an error, e.g. `ENOENT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Names of the fields cut at their cap or unreadable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub non_utf8: bool,
}

impl FileEvent {
    /// An event for `op` on `path` with `result` and every optional field empty.
    pub fn new(op: FileOp, path: impl Into<String>, result: i64) -> Self {
        FileEvent {
            op,
            path: path.into(),
            new_path: None,
            flags: None,
            flags_text: None,
            bytes: None,
            writes: None,
            fd: None,
            result,
            error: None,
            truncated: Vec::new(),
            non_utf8: false,
        }
    }
}

/// What was done to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOp {
    Open,
    Write,
    Unlink,
    Rmdir,
    Rename,
    Mkdir,
}

impl FileOp {
    pub fn as_str(self) -> &'static str {
        match self {
            FileOp::Open => "open",
            FileOp::Write => "write",
            FileOp::Unlink => "unlink",
            FileOp::Rmdir => "rmdir",
            FileOp::Rename => "rename",
            FileOp::Mkdir => "mkdir",
        }
    }
}

/// An outgoing connection attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connect {
    /// `inet`, `inet6` or `unix`.
    pub family: String,
    /// The address: an IP address, or a socket path (`@name` for abstract sockets).
    pub addr: String,
    /// The port (0 for unix sockets).
    pub port: u16,
    /// 0, or a negative errno (`-115`, EINPROGRESS, for a non-blocking connect).
    pub result: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One exchange with an LLM API, captured in plaintext at the TLS boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    /// `openai`, `anthropic`, `google`, or `unknown` (an OpenAI-compatible server elsewhere).
    pub provider: String,
    /// `chat` (Chat Completions), `responses` (OpenAI Responses), `messages` (Anthropic) or
    /// `gemini` (generateContent / streamGenerateContent).
    pub api: String,
    /// `https://host/path` of the request (`http://` when it went over plaintext HTTP; query
    /// strings with keys are redacted).
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub request: LlmRequest,
    pub response: LlmResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Whether the response was streamed (server-sent events).
    pub stream: bool,
    /// HTTP status of the response (0 when none arrived).
    pub status: u16,
    /// Time from the end of the request to the first byte of the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time from the first byte of the request to the last byte of the response.
    pub latency_ms: f64,
    /// True when the exchange was cut off (connection closed or capture stopped mid-stream):
    /// what arrived is here, the rest is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub incomplete: bool,
    /// The request or response body did not match the API's known shape: the raw body, cut at
    /// a cap and redacted, so nothing vanishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawBodies>,
}

/// What the agent sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// The system prompt (Anthropic `system`, OpenAI `system`/`developer` messages, Gemini
    /// `systemInstruction`), texts joined with blank lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Set when the request continues an earlier `llm_call` of the same conversation: then
    /// `messages` holds only the messages after the ones it shares with that call, and
    /// `system` and `tools` are that call's (left out here). `conversation::full_request`
    /// puts the whole request back together. Absent: the request is whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<conversation::Extends>,
}

impl LlmRequest {
    /// Whether the request offers the model tools (its own, or, when compact, the earlier
    /// call's it extends).
    pub fn offers_tools(&self) -> bool {
        !self.tools.is_empty() || self.extends.as_ref().is_some_and(|e| e.tools > 0)
    }

    /// The messages after the last `assistant` one: what this request brings that the
    /// conversation did not have (tool results, the user's new words). Agents resend the whole
    /// conversation with every request; these are the new part.
    pub fn new_messages(&self) -> &[Message] {
        let from = self.messages.iter().rposition(|m| m.role == "assistant").map_or(0, |i| i + 1);
        &self.messages[from..]
    }
}

/// One message of the conversation, flattened to text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user`, `assistant`, `tool`, ...
    pub role: String,
    /// The text parts joined; non-text parts as `[image]`, `[file]`.
    pub content: String,
    /// Tool calls the assistant made in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of its parameters.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub parameters: serde_json::Value,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    pub name: String,
    /// The parsed arguments; a string when they are not valid JSON (as the model sent them).
    pub arguments: serde_json::Value,
}

/// What the model answered (streamed answers merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// An error the API returned (status >= 400), as its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Token counts as the API reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Raw bodies kept when decoding failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawBodies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Why the bodies are raw, e.g. `unknown response shape`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

/// Any other HTTPS exchange, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Http {
    pub method: String,
    pub host: String,
    pub path: String,
    /// 0 when no response arrived.
    pub status: u16,
    pub request_bytes: u64,
    pub response_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

/// Something was not recorded; `count` says how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loss {
    /// Where: `ringbuf`, `kernel`, `decode`, ...
    pub source: String,
    pub count: u64,
    /// Why, e.g. `ring buffer full (exec)`, `traced map full`.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            ts_ns: 1_700_000_000_000_000_000,
            session: "s1".into(),
            pid: 10,
            tid: 10,
            ppid: 1,
            comm: "bash".into(),
            body: EventBody::Exit(Exit { exit_code: 3, signal: 0, core_dumped: false, duration_ns: 5 }),
        }
    }

    #[test]
    fn event_serialises_flat_with_kind() {
        let json = serde_json::to_value(sample()).expect("serialise");
        assert_eq!(json["kind"], "exit");
        assert_eq!(json["exit_code"], 3);
        assert_eq!(json["pid"], 10);
        assert!(json.get("core_dumped").is_none(), "false flags are left out");
    }

    #[test]
    fn event_round_trips() {
        let ev = sample();
        let text = serde_json::to_string(&ev).expect("serialise");
        let back: Event = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, ev);
        assert_eq!(back.body.kind(), "exit");
    }

    #[test]
    fn event_ids_tell_apart_losses_at_one_instant() {
        let loss = |reason: &str| Event {
            body: EventBody::Loss(Loss { source: "kernel".into(), count: 1, reason: reason.into() }),
            ..sample()
        };
        assert_eq!(sample().id(), "1700000000000000000-10-exit");
        assert_ne!(loss("ring buffer full (exec)").id(), loss("traced map full").id());
    }

    /// `argv_bytes` is derived, not in the event contract: an exec without it is an exec.
    #[test]
    fn exec_without_argv_bytes_is_accepted() {
        let line = r#"{"ts_ns":1,"session":"s","pid":2,"tid":2,"ppid":1,"comm":"sh","kind":"exec","filename":"/bin/ls","argv":["ls","-l"],"cwd":"/","uid":0}"#;
        let ev: Event = serde_json::from_str(line).expect("an exec that meets the contract");
        match ev.body {
            EventBody::Exec(e) => assert_eq!((e.argv, e.argv_bytes), (vec!["ls".to_string(), "-l".to_string()], 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_event_round_trips_with_optional_fields() {
        let ev = Event {
            body: EventBody::File(FileEvent {
                new_path: Some("/tmp/b".into()),
                ..FileEvent::new(FileOp::Rename, "/tmp/a", 0)
            }),
            ..sample()
        };
        let json = serde_json::to_value(&ev).expect("serialise");
        assert_eq!(json["op"], "rename");
        assert_eq!(json["new_path"], "/tmp/b");
        let back: Event = serde_json::from_value(json).expect("parse");
        assert_eq!(back, ev);
    }
}
