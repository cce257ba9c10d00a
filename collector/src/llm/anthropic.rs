//! Anthropic Messages (`messages`).
//!
//! Request: the top-level `system` (a string or text blocks) is the system prompt; content
//! blocks are flattened (`text` joined, `image` as `[image]`, `document` as `[file]`, thinking
//! left out); `tool_use` blocks become the message's tool calls; each `tool_result` block becomes
//! its own `tool` message with `tool_call_id`, placed before the rest of its user message (the
//! API requires results first).
//!
//! Stream: `message_start` gives the model and input tokens; `content_block_start` opens a text
//! or `tool_use` block at its index; `content_block_delta` appends `text_delta` text or
//! `input_json_delta` partial JSON (concatenated per block, parsed at the end, kept as text when
//! a cut stream left it unparsable); `message_delta` gives the stop reason and output tokens.
//!
//! Invariants: no input panics; a body that is not an object of the known shape reads as `None`.

use std::collections::BTreeMap;

use model::{LlmRequest, LlmResponse, Message, ToolCall, Usage};
use serde_json::{Map, Value};

use super::parts::{
    array_at, flatten, join_lines, merge_usage, parse_arguments, part_text, str_at, system_prompt, tool, usage,
};
use super::{RequestParts, ResponseParts};

/// A Messages request body; `None` without a `messages` array.
pub(super) fn request(v: &Value) -> Option<RequestParts> {
    let list = v.get("messages")?.as_array()?;
    let system = match v.get("system") {
        Some(Value::Array(blocks)) => system_prompt(blocks.iter().filter_map(part_text)),
        Some(other) => system_prompt([flatten(other)]),
        None => None,
    };
    let mut messages = Vec::new();
    for m in list {
        push_message(m, &mut messages);
    }
    Some(RequestParts {
        request: LlmRequest {
            extends: None,
            system,
            messages,
            tools: array_at(v, "tools").iter().filter_map(tool).collect(),
        },
        model: str_at(v, "model").map(str::to_owned),
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn tool_use(block: &Value) -> ToolCall {
    ToolCall {
        id: str_at(block, "id").unwrap_or_default().to_owned(),
        name: str_at(block, "name").unwrap_or_default().to_owned(),
        arguments: block.get("input").cloned().unwrap_or_else(|| Value::Object(Map::new())),
    }
}

fn push_message(m: &Value, out: &mut Vec<Message>) {
    let role = str_at(m, "role").unwrap_or("user").to_owned();
    let Some(Value::Array(blocks)) = m.get("content") else {
        let content = flatten(m.get("content").unwrap_or(&Value::Null));
        out.push(Message { role, content, ..Message::default() });
        return;
    };
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut results = 0;
    for block in blocks {
        match str_at(block, "type") {
            Some("tool_use") => tool_calls.push(tool_use(block)),
            Some("tool_result") => {
                results += 1;
                out.push(Message {
                    role: "tool".to_owned(),
                    content: flatten(block.get("content").unwrap_or(&Value::Null)),
                    tool_call_id: str_at(block, "tool_use_id").map(str::to_owned),
                    ..Message::default()
                });
            }
            _ => texts.extend(part_text(block)),
        }
    }
    if results == 0 || !texts.is_empty() || !tool_calls.is_empty() {
        out.push(Message { role, content: join_lines(texts), tool_calls, tool_call_id: None });
    }
}

/// A Messages response body; `None` unless it is a `message` object or has `content` blocks.
pub(super) fn response(v: &Value) -> Option<ResponseParts> {
    let blocks = v.get("content").and_then(Value::as_array);
    if blocks.is_none() && str_at(v, "type") != Some("message") {
        return None;
    }
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for block in blocks.map(Vec::as_slice).unwrap_or_default() {
        match str_at(block, "type") {
            Some("text") => texts.extend(str_at(block, "text")),
            Some("tool_use") => tool_calls.push(tool_use(block)),
            _ => {}
        }
    }
    Some(ResponseParts {
        response: LlmResponse {
            text: join_lines(texts),
            tool_calls,
            stop_reason: str_at(v, "stop_reason").map(str::to_owned),
            error: None,
        },
        usage: v.get("usage").and_then(usage),
        model: str_at(v, "model").map(str::to_owned),
    })
}

/// A content block being streamed.
#[derive(Debug)]
enum Block {
    Text(String),
    ToolUse { id: String, name: String, start_input: Value, json: String },
    Other,
}

impl Block {
    /// A tool call whose start the capture missed.
    fn unnamed_call(json: String) -> Block {
        Block::ToolUse { id: String::new(), name: String::new(), start_input: Value::Null, json }
    }
}

/// Merges a Messages stream, event by event.
#[derive(Debug, Default)]
pub(super) struct Stream {
    blocks: BTreeMap<u64, Block>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
}

impl Stream {
    /// Take one event; returns whether it was a Messages event.
    pub(super) fn push(&mut self, event: Option<&str>, v: &Value) -> bool {
        let Some(kind) = str_at(v, "type").or(event) else {
            return false;
        };
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let message = v.get("message").unwrap_or(&Value::Null);
                self.model = str_at(message, "model").map(str::to_owned);
                merge_usage(&mut self.usage, message.get("usage").unwrap_or(&Value::Null));
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                let state = match str_at(block, "type") {
                    Some("text") => Block::Text(str_at(block, "text").unwrap_or_default().to_owned()),
                    Some("tool_use") => Block::ToolUse {
                        id: str_at(block, "id").unwrap_or_default().to_owned(),
                        name: str_at(block, "name").unwrap_or_default().to_owned(),
                        start_input: block.get("input").cloned().unwrap_or(Value::Null),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, state);
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let block = self.blocks.entry(index);
                match str_at(delta, "type") {
                    Some("text_delta") => {
                        let piece = str_at(delta, "text").unwrap_or_default();
                        match block.or_insert_with(|| Block::Text(String::new())) {
                            Block::Text(text) => text.push_str(piece),
                            other => *other = Block::Text(piece.to_owned()),
                        }
                    }
                    Some("input_json_delta") => {
                        let piece = str_at(delta, "partial_json").unwrap_or_default();
                        match block.or_insert_with(|| Block::unnamed_call(String::new())) {
                            Block::ToolUse { json, .. } => json.push_str(piece),
                            other => *other = Block::unnamed_call(piece.to_owned()),
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = v.get("delta").and_then(|d| str_at(d, "stop_reason")) {
                    self.stop_reason = Some(reason.to_owned());
                }
                merge_usage(&mut self.usage, v.get("usage").unwrap_or(&Value::Null));
            }
            "content_block_stop" | "message_stop" | "ping" => {}
            _ => return false,
        }
        true
    }

    pub(super) fn finish(self) -> ResponseParts {
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                Block::Text(text) => texts.push(text),
                Block::ToolUse { id, name, start_input, json } => {
                    let arguments = if json.is_empty() {
                        if start_input.is_null() {
                            Value::Object(Map::new())
                        } else {
                            start_input
                        }
                    } else {
                        parse_arguments(&json)
                    };
                    tool_calls.push(ToolCall { id, name, arguments });
                }
                Block::Other => {}
            }
        }
        ResponseParts {
            response: LlmResponse { text: join_lines(texts), tool_calls, stop_reason: self.stop_reason, error: None },
            usage: self.usage,
            model: self.model,
        }
    }
}
