//! OpenAI's two APIs: Chat Completions (`chat`, also spoken by vLLM, Ollama, llama.cpp and most
//! other servers) and Responses (`responses`).
//!
//! Chat: `system`/`developer` messages become the system prompt; assistant `tool_calls` (and the
//! legacy `function_call`) become tool calls with parsed arguments; `tool` messages keep their
//! `tool_call_id`. A stream's deltas are merged by choice 0: content concatenated, tool calls
//! assembled by `index` (id and name from the first delta that has them, argument text
//! concatenated and parsed at the end), the last `finish_reason`, and `usage` from the final
//! chunk (`stream_options.include_usage`).
//!
//! Responses: `instructions` and `system`/`developer` input messages become the system prompt;
//! `input` is a string or a list of items (`message`, `function_call`, `function_call_output`;
//! reasoning items are left out). A stream is assembled per output item from the `…added`,
//! `…delta`, `…done` events; the final `response.completed` (or `.incomplete`, `.failed`), when
//! it arrived, is the authority for output, usage and status.
//!
//! Invariants: no input panics; a body that is not an object of the known shape reads as `None`.

use std::collections::BTreeMap;

use model::{LlmRequest, Message, ToolCall};
use serde_json::Value;

use super::parts::{
    arguments_value, array_at, chat_tool_call, error_message, flatten, join_lines, merge_usage, parse_arguments,
    part_text, str_at, system_prompt, tool, usage,
};
use super::{RequestParts, ResponseParts};

fn stream_flag(v: &Value) -> bool {
    v.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

/// A Chat Completions request body; `None` without a `messages` array.
pub(super) fn chat_request(v: &Value) -> Option<RequestParts> {
    let list = v.get("messages")?.as_array()?;
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in list {
        let role = str_at(m, "role").unwrap_or("user");
        let content = flatten(m.get("content").unwrap_or(&Value::Null));
        if matches!(role, "system" | "developer") {
            system.push(content);
            continue;
        }
        let mut tool_calls: Vec<ToolCall> = array_at(m, "tool_calls").iter().filter_map(chat_tool_call).collect();
        tool_calls.extend(m.get("function_call").and_then(chat_tool_call));
        messages.push(Message {
            role: role.to_owned(),
            content,
            tool_calls,
            tool_call_id: str_at(m, "tool_call_id").map(str::to_owned),
        });
    }
    let tools = array_at(v, "tools").iter().chain(array_at(v, "functions")).filter_map(tool).collect();
    Some(RequestParts {
        request: LlmRequest { extends: None, system: system_prompt(system), messages, tools },
        model: str_at(v, "model").map(str::to_owned),
        stream: stream_flag(v),
    })
}

/// A Chat Completions response body; `None` without a `choices` array.
pub(super) fn chat_response(v: &Value) -> Option<ResponseParts> {
    let choices = v.get("choices")?.as_array()?;
    let mut parts = ResponseParts {
        usage: v.get("usage").and_then(usage),
        model: str_at(v, "model").map(str::to_owned),
        ..ResponseParts::default()
    };
    let choice = choices.iter().find(|c| choice_index(c) == 0).or_else(|| choices.first());
    if let Some(c) = choice {
        let message = c.get("message").unwrap_or(&Value::Null);
        let r = &mut parts.response;
        r.text = flatten(message.get("content").unwrap_or(&Value::Null));
        if r.text.is_empty() {
            // a refusal, or a legacy completions choice
            r.text = str_at(message, "refusal").or_else(|| str_at(c, "text")).unwrap_or_default().to_owned();
        }
        r.tool_calls = array_at(message, "tool_calls").iter().filter_map(chat_tool_call).collect();
        r.tool_calls.extend(message.get("function_call").and_then(chat_tool_call));
        r.stop_reason = str_at(c, "finish_reason").map(str::to_owned);
    }
    Some(parts)
}

fn choice_index(c: &Value) -> u64 {
    c.get("index").and_then(Value::as_u64).unwrap_or(0)
}

/// A tool call being assembled from deltas.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

impl PartialCall {
    fn finish(self) -> ToolCall {
        ToolCall { id: self.id, name: self.name, arguments: parse_arguments(&self.arguments) }
    }
}

/// Merges a Chat Completions stream, chunk by chunk.
#[derive(Debug, Default)]
pub(super) struct ChatStream {
    text: String,
    refusal: String,
    calls: BTreeMap<u64, PartialCall>,
    stop_reason: Option<String>,
    usage: Option<model::Usage>,
    model: Option<String>,
}

impl ChatStream {
    /// Take one chunk; returns whether it looked like a Chat chunk.
    pub(super) fn push(&mut self, v: &Value) -> bool {
        let mut known = false;
        if let Some(u) = v.get("usage").and_then(usage) {
            self.usage = Some(u);
            known = true;
        }
        if self.model.is_none() {
            self.model = str_at(v, "model").map(str::to_owned);
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return known;
        };
        for c in choices.iter().filter(|c| choice_index(c) == 0) {
            let delta = c.get("delta").or_else(|| c.get("message")).unwrap_or(&Value::Null);
            if let Some(text) = delta.get("content").filter(|t| !t.is_null()) {
                self.text.push_str(&flatten(text));
            }
            if let Some(refusal) = str_at(delta, "refusal") {
                self.refusal.push_str(refusal);
            }
            for (pos, tc) in array_at(delta, "tool_calls").iter().enumerate() {
                let index = tc.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
                self.add_call_delta(index, tc);
            }
            if let Some(fc) = delta.get("function_call").filter(|f| f.is_object()) {
                self.add_call_delta(0, fc);
            }
            if let Some(reason) = str_at(c, "finish_reason") {
                self.stop_reason = Some(reason.to_owned());
            }
        }
        true
    }

    fn add_call_delta(&mut self, index: u64, tc: &Value) {
        let f = tc.get("function").filter(|f| f.is_object()).unwrap_or(tc);
        let call = self.calls.entry(index).or_default();
        if call.id.is_empty() {
            call.id = str_at(tc, "id").unwrap_or_default().to_owned();
        }
        if call.name.is_empty() {
            call.name = str_at(f, "name").unwrap_or_default().to_owned();
        }
        match f.get("arguments") {
            Some(Value::String(s)) => call.arguments.push_str(s),
            Some(Value::Null) | None => {}
            // servers that send the arguments whole, as an object
            Some(other) => call.arguments = other.to_string(),
        }
    }

    pub(super) fn finish(self) -> ResponseParts {
        let text = if self.text.is_empty() { self.refusal } else { self.text };
        ResponseParts {
            response: model::LlmResponse {
                text,
                tool_calls: self.calls.into_values().map(PartialCall::finish).collect(),
                stop_reason: self.stop_reason,
                error: None,
            },
            usage: self.usage,
            model: self.model,
        }
    }
}

/// A Responses request body; `None` unless it is an object with an `input` (string or list)
/// or at least a `model`.
pub(super) fn responses_request(v: &Value) -> Option<RequestParts> {
    let mut system: Vec<String> = str_at(v, "instructions").map(str::to_owned).into_iter().collect();
    let mut messages = Vec::new();
    match v.get("input") {
        Some(Value::String(s)) => messages.push(text_message("user", s.clone())),
        Some(Value::Array(items)) => {
            for item in items {
                input_item(item, &mut system, &mut messages);
            }
        }
        Some(Value::Null) | None if v.get("model").is_some_and(Value::is_string) => {}
        _ => return None,
    }
    Some(RequestParts {
        request: LlmRequest {
            extends: None,
            system: system_prompt(system),
            messages,
            tools: array_at(v, "tools").iter().filter_map(tool).collect(),
        },
        model: str_at(v, "model").map(str::to_owned),
        stream: stream_flag(v),
    })
}

fn text_message(role: &str, content: String) -> Message {
    Message { role: role.to_owned(), content, ..Message::default() }
}

/// A `function_call` (or `custom_tool_call`) item as a tool call.
fn item_call(item: &Value) -> ToolCall {
    ToolCall {
        id: str_at(item, "call_id").or_else(|| str_at(item, "id")).unwrap_or_default().to_owned(),
        name: str_at(item, "name").unwrap_or_default().to_owned(),
        arguments: arguments_value(item.get("arguments").or_else(|| item.get("input"))),
    }
}

fn input_item(item: &Value, system: &mut Vec<String>, messages: &mut Vec<Message>) {
    let kind = str_at(item, "type").unwrap_or(if item.get("role").is_some() { "message" } else { "" });
    match kind {
        "message" => {
            let role = str_at(item, "role").unwrap_or("user");
            let content = flatten(item.get("content").unwrap_or(&Value::Null));
            if matches!(role, "system" | "developer") {
                system.push(content);
            } else {
                messages.push(text_message(role, content));
            }
        }
        "function_call" | "custom_tool_call" => {
            let call = item_call(item);
            // calls right after an assistant message belong to it, as in Chat
            match messages.last_mut() {
                Some(last) if last.role == "assistant" => last.tool_calls.push(call),
                _ => messages.push(Message {
                    role: "assistant".to_owned(),
                    tool_calls: vec![call],
                    ..Message::default()
                }),
            }
        }
        "function_call_output" | "custom_tool_call_output" => messages.push(Message {
            role: "tool".to_owned(),
            content: flatten(item.get("output").unwrap_or(&Value::Null)),
            tool_call_id: str_at(item, "call_id").map(str::to_owned),
            ..Message::default()
        }),
        // hidden reasoning and references to stored items carry no text of their own
        "reasoning" | "item_reference" | "" => {}
        other => {
            // built-in tool calls (web search, computer use, ...): keep that they happened
            let content = part_text(item).unwrap_or_else(|| format!("[{other}]"));
            messages.push(text_message("assistant", content));
        }
    }
}

/// A Responses response object (the JSON body, or the `response` of a final stream event);
/// `None` without an `output` array.
pub(super) fn responses_response(r: &Value) -> Option<ResponseParts> {
    let output = r.get("output")?.as_array()?;
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for item in output {
        match str_at(item, "type") {
            Some("message") => texts.push(flatten(item.get("content").unwrap_or(&Value::Null))),
            Some("function_call" | "custom_tool_call") => tool_calls.push(item_call(item)),
            _ => {}
        }
    }
    let stop_reason = r
        .get("incomplete_details")
        .and_then(|d| str_at(d, "reason"))
        .or_else(|| str_at(r, "status"))
        .map(str::to_owned);
    Some(ResponseParts {
        response: model::LlmResponse {
            text: join_lines(texts),
            tool_calls,
            stop_reason,
            error: error_message(r, false),
        },
        usage: r.get("usage").and_then(usage),
        model: str_at(r, "model").map(str::to_owned),
    })
}

/// One output item of a Responses stream, as assembled so far.
#[derive(Debug)]
enum Item {
    Message(String),
    Call { id: String, name: String, arguments: String },
    Other,
}

#[derive(Debug)]
struct Slot {
    item_id: Option<String>,
    item: Item,
}

/// Merges a Responses stream, event by event.
#[derive(Debug, Default)]
pub(super) struct ResponsesStream {
    /// By output index.
    slots: BTreeMap<u64, Slot>,
    /// The response of the final event, when one arrived.
    last: Option<ResponseParts>,
    model: Option<String>,
    usage: Option<model::Usage>,
}

impl ResponsesStream {
    /// Take one event; returns whether it was a Responses event.
    pub(super) fn push(&mut self, event: Option<&str>, v: &Value) -> bool {
        let Some(kind) = str_at(v, "type").or(event) else {
            return false;
        };
        match kind {
            "response.output_item.added" | "response.output_item.done" => {
                let item = v.get("item").unwrap_or(&Value::Null);
                let state = item_state(item);
                self.slot(v, str_at(item, "id")).item = state;
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let delta = str_at(v, "delta").unwrap_or_default();
                match &mut self.slot(v, None).item {
                    Item::Message(text) => text.push_str(delta),
                    other => *other = Item::Message(delta.to_owned()),
                }
            }
            "response.output_text.done" => {
                if let Item::Message(text) = &mut self.slot(v, None).item {
                    if text.is_empty() {
                        str_at(v, "text").unwrap_or_default().clone_into(text);
                    }
                }
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                let done = kind.ends_with(".done");
                let piece = str_at(v, if done { "arguments" } else { "delta" }).unwrap_or_default();
                let slot = self.slot(v, None);
                match &mut slot.item {
                    Item::Call { arguments, .. } if done => piece.clone_into(arguments),
                    Item::Call { arguments, .. } => arguments.push_str(piece),
                    other => {
                        *other = Item::Call { id: String::new(), name: String::new(), arguments: piece.to_owned() }
                    }
                }
            }
            "response.created" | "response.in_progress" => {
                if let Some(r) = v.get("response") {
                    self.model = str_at(r, "model").map(str::to_owned).or(self.model.take());
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let r = v.get("response").unwrap_or(&Value::Null);
                merge_usage(&mut self.usage, r.get("usage").unwrap_or(&Value::Null));
                self.last = responses_response(r);
            }
            k => return k.starts_with("response."),
        }
        true
    }

    /// The slot an event refers to: by `output_index`, else by item id, else a new one.
    fn slot(&mut self, v: &Value, item_id: Option<&str>) -> &mut Slot {
        let item_id = item_id.or_else(|| str_at(v, "item_id"));
        let key = v
            .get("output_index")
            .and_then(Value::as_u64)
            .or_else(|| {
                let id = item_id?;
                self.slots.iter().find(|(_, s)| s.item_id.as_deref() == Some(id)).map(|(k, _)| *k)
            })
            .unwrap_or_else(|| self.slots.keys().next_back().map_or(0, |k| k.saturating_add(1)));
        let slot = self.slots.entry(key).or_insert(Slot { item_id: None, item: Item::Other });
        if slot.item_id.is_none() {
            slot.item_id = item_id.map(str::to_owned);
        }
        slot
    }

    pub(super) fn finish(self) -> ResponseParts {
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for slot in self.slots.into_values() {
            match slot.item {
                Item::Message(text) => texts.push(text),
                Item::Call { id, name, arguments } => {
                    tool_calls.push(ToolCall { id, name, arguments: parse_arguments(&arguments) })
                }
                Item::Other => {}
            }
        }
        let mut parts = ResponseParts {
            response: model::LlmResponse { text: join_lines(texts), tool_calls, ..Default::default() },
            usage: self.usage,
            model: self.model,
        };
        if let Some(last) = self.last {
            let r = last.response;
            if !r.text.is_empty() || !r.tool_calls.is_empty() {
                parts.response.text = r.text;
                parts.response.tool_calls = r.tool_calls;
            }
            parts.response.stop_reason = r.stop_reason;
            parts.response.error = r.error;
            parts.model = last.model.or(parts.model);
        }
        parts
    }
}

/// The state an `output_item.added`/`.done` item starts (or ends) its slot with.
fn item_state(item: &Value) -> Item {
    match str_at(item, "type") {
        Some("message") => Item::Message(flatten(item.get("content").unwrap_or(&Value::Null))),
        Some("function_call" | "custom_tool_call") => Item::Call {
            id: str_at(item, "call_id").or_else(|| str_at(item, "id")).unwrap_or_default().to_owned(),
            name: str_at(item, "name").unwrap_or_default().to_owned(),
            arguments: match item.get("arguments").or_else(|| item.get("input")) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
        },
        _ => Item::Other,
    }
}
