//! Google Gemini `generateContent` and `streamGenerateContent` (`gemini`).
//!
//! Request: `systemInstruction` is the system prompt; `contents[].parts` are flattened (`text`
//! joined, `inlineData`/`fileData` as `[image]` or `[file]` by MIME type, thought parts left
//! out); role `model` is written `assistant`; `functionCall` parts become tool calls and each
//! `functionResponse` part a `tool` message. Gemini calls carry no id unless the server sent one,
//! so a `tool` message's `tool_call_id` is then the function's name. Both camelCase and
//! snake_case field names are read, as the API accepts both.
//!
//! Response: a JSON chunk, an array of chunks (`streamGenerateContent` without `alt=sse`, read up
//! to its last whole chunk when cut), or server-sent chunks. Chunks merge alike: text of
//! candidate 0 concatenated, `functionCall` parts appended, the last `finishReason` and
//! `usageMetadata` kept.
//!
//! Invariants: no input panics; a body that is not an object of the known shape reads as `None`.

use model::{LlmRequest, LlmResponse, Message, Tool, ToolCall, Usage};
use serde_json::{Map, Value};

use super::parts::{either, join_lines, merge_usage, str_at, system_prompt, tool};
use super::{RequestParts, ResponseParts};

fn list<'a>(v: &'a Value, key: &str, alt: &str) -> &'a [Value] {
    either(v, key, alt).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// A generateContent request body; `None` without a `contents` array. The model and the
/// stream flag come from the path, not from here.
pub(super) fn request(v: &Value) -> Option<RequestParts> {
    let contents = v.get("contents")?.as_array()?;
    let system = either(v, "systemInstruction", "system_instruction").and_then(|s| match s {
        Value::String(text) => system_prompt([text]),
        other => system_prompt(list(other, "parts", "parts").iter().filter_map(part_text)),
    });
    let mut messages = Vec::new();
    for content in contents {
        push_content(content, &mut messages);
    }
    Some(RequestParts {
        request: LlmRequest { extends: None, system, messages, tools: tools(v) },
        model: None,
        stream: false,
    })
}

fn tools(v: &Value) -> Vec<Tool> {
    let mut out = Vec::new();
    for t in list(v, "tools", "tools") {
        let declarations = either(t, "functionDeclarations", "function_declarations");
        if let Some(Value::Array(fns)) = declarations {
            out.extend(fns.iter().filter_map(tool));
        } else if let Value::Object(obj) = t {
            // built-in tools (`googleSearch`, `codeExecution`, ...) are named by their key
            out.extend(obj.keys().map(|k| Tool { name: k.clone(), description: None, parameters: Value::Null }));
        }
    }
    out
}

/// A part's visible text; `None` for thoughts and for calls and responses (read apart).
fn part_text(part: &Value) -> Option<String> {
    if part.get("thought").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    if let Some(text) = str_at(part, "text") {
        return Some(text.to_owned());
    }
    if let Some(data) = either(part, "inlineData", "inline_data").or_else(|| either(part, "fileData", "file_data")) {
        let mime = str_at(data, "mimeType").or_else(|| str_at(data, "mime_type")).unwrap_or_default();
        return Some(if mime.starts_with("image/") { "[image]" } else { "[file]" }.to_owned());
    }
    if let Some(code) = either(part, "executableCode", "executable_code") {
        return str_at(code, "code").map(str::to_owned);
    }
    if let Some(result) = either(part, "codeExecutionResult", "code_execution_result") {
        return str_at(result, "output").map(str::to_owned);
    }
    None
}

fn function_call(part: &Value) -> Option<ToolCall> {
    let call = either(part, "functionCall", "function_call")?;
    Some(ToolCall {
        id: str_at(call, "id").unwrap_or_default().to_owned(),
        name: str_at(call, "name").unwrap_or_default().to_owned(),
        arguments: call.get("args").filter(|a| !a.is_null()).cloned().unwrap_or_else(|| Value::Object(Map::new())),
    })
}

fn push_content(content: &Value, out: &mut Vec<Message>) {
    let role = match str_at(content, "role") {
        Some("model") => "assistant",
        Some(role) => role,
        None => "user",
    };
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut results = 0;
    for part in list(content, "parts", "parts") {
        if let Some(call) = function_call(part) {
            tool_calls.push(call);
        } else if let Some(resp) = either(part, "functionResponse", "function_response") {
            results += 1;
            let body = resp.get("response").filter(|r| !r.is_null());
            out.push(Message {
                role: "tool".to_owned(),
                content: match body {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                tool_call_id: str_at(resp, "id").or_else(|| str_at(resp, "name")).map(str::to_owned),
                ..Message::default()
            });
        } else {
            texts.extend(part_text(part));
        }
    }
    if results == 0 || !texts.is_empty() || !tool_calls.is_empty() {
        out.push(Message { role: role.to_owned(), content: join_lines(texts), tool_calls, tool_call_id: None });
    }
}

/// Merges response chunks (one for a plain response).
#[derive(Debug, Default)]
pub(super) struct Stream {
    text: String,
    tool_calls: Vec<ToolCall>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
}

impl Stream {
    /// Take one chunk; returns whether it looked like a Gemini response.
    pub(super) fn push(&mut self, v: &Value) -> bool {
        let candidates = v.get("candidates").and_then(Value::as_array);
        let usage = either(v, "usageMetadata", "usage_metadata");
        let feedback = either(v, "promptFeedback", "prompt_feedback");
        if candidates.is_none() && usage.is_none() && feedback.is_none() {
            return false;
        }
        if let Some(c) = candidates.and_then(|c| c.first()) {
            let content = c.get("content").unwrap_or(&Value::Null);
            for part in list(content, "parts", "parts") {
                if let Some(call) = function_call(part) {
                    self.tool_calls.push(call);
                } else if let Some(text) = part_text(part) {
                    // parts of a response, and chunks of a stream, are pieces of one text
                    self.text.push_str(&text);
                }
            }
            if let Some(reason) = str_at(c, "finishReason").or_else(|| str_at(c, "finish_reason")) {
                self.stop_reason = Some(reason.to_owned());
            }
        }
        if let Some(blocked) = feedback.and_then(|f| str_at(f, "blockReason").or_else(|| str_at(f, "block_reason"))) {
            self.stop_reason.get_or_insert_with(|| blocked.to_owned());
        }
        if let Some(u) = usage {
            merge_usage(&mut self.usage, u);
        }
        if let Some(m) = str_at(v, "modelVersion").or_else(|| str_at(v, "model_version")) {
            self.model = Some(m.to_owned());
        }
        true
    }

    pub(super) fn finish(self) -> ResponseParts {
        ResponseParts {
            response: LlmResponse {
                text: self.text,
                tool_calls: self.tool_calls,
                stop_reason: self.stop_reason,
                error: None,
            },
            usage: self.usage,
            model: self.model,
        }
    }
}

/// The whole objects of a JSON array that may be cut anywhere; whether the array was closed.
pub(super) fn array_chunks(body: &[u8]) -> (Vec<Value>, bool) {
    let mut chunks = Vec::new();
    let Some(open) = body.iter().position(|&b| b == b'[') else {
        return (chunks, false);
    };
    let mut rest = body.get(open + 1..).unwrap_or_default();
    loop {
        let skip = rest.iter().position(|b| !b.is_ascii_whitespace() && *b != b',').unwrap_or(rest.len());
        rest = rest.get(skip..).unwrap_or_default();
        match rest.first() {
            Some(b']') => return (chunks, true),
            Some(b'{') => {}
            _ => return (chunks, false),
        }
        let Some(len) = object_len(rest) else {
            return (chunks, false);
        };
        let (object, after) = rest.split_at(len.min(rest.len()));
        match serde_json::from_slice(object) {
            Ok(v) => chunks.push(v),
            Err(_) => return (chunks, false),
        }
        rest = after;
    }
}

/// The length of the JSON object `bytes` starts with, if it is closed.
fn object_len(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn array_chunks_reads_whole_objects_of_a_cut_array() {
        let body = br#"[{"a": "x}]"},
{"b": [1, {"c": "\"}"}]}
,{"d": "#;
        let (chunks, complete) = array_chunks(body);
        assert_eq!(chunks, vec![json!({"a": "x}]"}), json!({"b": [1, {"c": "\"}"}]})]);
        assert!(!complete);
        assert_eq!(array_chunks(b"[{}, {}]"), (vec![json!({}), json!({})], true));
        assert_eq!(array_chunks(b"[]"), (vec![], true));
        assert_eq!(array_chunks(b"nope"), (vec![], false));
    }
}
