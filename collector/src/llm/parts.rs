//! JSON helpers the API decoders share: flattening content to text, tools, tool-call
//! arguments, token usage and error messages.
//!
//! Invariants: every function takes any [`Value`] and never panics; a field of the wrong type
//! reads as absent.

use model::{Tool, ToolCall, Usage};
use serde_json::{Map, Value};

/// The string at `key`, if it is one.
pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The array at `key`, empty when absent or not an array.
pub(super) fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The value at `key` or, failing that, at `alt` (Gemini accepts camelCase and snake_case).
pub(super) fn either<'a>(v: &'a Value, key: &str, alt: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null()).or_else(|| v.get(alt).filter(|x| !x.is_null()))
}

/// Message content as text: a string as is; an array of parts with text parts joined by `\n`
/// and other parts as `[image]`, `[file]`, `[audio]` or `[<type>]`; reasoning parts left out.
pub(super) fn flatten(content: &Value) -> String {
    match content {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(parts) => join_lines(parts.iter().filter_map(part_text)),
        Value::Object(_) => part_text(content).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Join non-empty pieces with `\n` (parts of one message, blocks of one answer).
pub(super) fn join_lines<I, S>(pieces: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    join(pieces, "\n")
}

/// The system prompt: non-empty texts joined with blank lines, `None` when there is none.
pub(super) fn system_prompt<I, S>(pieces: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    Some(join(pieces, "\n\n")).filter(|s| !s.is_empty())
}

fn join<I, S>(pieces: I, sep: &str) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for piece in pieces {
        let piece = piece.as_ref();
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(sep);
        }
        out.push_str(piece);
    }
    out
}

/// One content part as text (OpenAI, Responses and Anthropic parts share the `type` + `text`
/// layout); `None` for parts that carry no visible content.
pub(super) fn part_text(part: &Value) -> Option<String> {
    let Value::Object(obj) = part else {
        return part.as_str().map(str::to_owned);
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    if matches!(kind, "thinking" | "redacted_thinking" | "reasoning") {
        return None;
    }
    if let Some(text) = obj.get("text").and_then(Value::as_str) {
        return Some(text.to_owned());
    }
    if let Some(refusal) = obj.get("refusal").and_then(Value::as_str) {
        return Some(refusal.to_owned());
    }
    Some(match kind {
        k if k.contains("image") => "[image]".to_owned(),
        "file" | "input_file" | "document" => "[file]".to_owned(),
        k if k.contains("audio") => "[audio]".to_owned(),
        "" => return None,
        k => format!("[{k}]"),
    })
}

/// Tool-call arguments as the model sent them: parsed JSON, else the text as a JSON string (a
/// cut stream leaves half an object).
pub(super) fn parse_arguments(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Arguments that may come as a JSON-encoded string (OpenAI) or as a value (some compatible
/// servers send the object itself).
pub(super) fn arguments_value(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => parse_arguments(s),
        Some(Value::Null) | None => Value::Object(Map::new()),
        Some(other) => other.clone(),
    }
}

/// A tool definition in any of the known layouts: OpenAI Chat `{type, function: {name,
/// description, parameters}}`, flat Responses / legacy `functions` `{name, description,
/// parameters}`, Anthropic `{name, description, input_schema}`, a Gemini function declaration
/// (`parameters` or `parametersJsonSchema`), or a built-in tool named by its `type`.
pub(super) fn tool(v: &Value) -> Option<Tool> {
    let f = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    let name = str_at(f, "name").or_else(|| str_at(v, "type"))?;
    let parameters = ["parameters", "input_schema", "parametersJsonSchema", "parameters_json_schema"]
        .iter()
        .find_map(|k| f.get(*k).filter(|p| !p.is_null()))
        .cloned()
        .unwrap_or(Value::Null);
    Some(Tool { name: name.to_owned(), description: str_at(f, "description").map(str::to_owned), parameters })
}

/// An OpenAI Chat tool call `{id, type, function: {name, arguments}}` (or the legacy
/// `function_call` `{name, arguments}`).
pub(super) fn chat_tool_call(v: &Value) -> Option<ToolCall> {
    let f = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    Some(ToolCall {
        id: str_at(v, "id").unwrap_or_default().to_owned(),
        name: str_at(f, "name")?.to_owned(),
        arguments: arguments_value(f.get("arguments")),
    })
}

fn count(v: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_u64))
}

/// Token usage under any API's names: `prompt_tokens`/`completion_tokens` (Chat),
/// `input_tokens`/`output_tokens` (Responses, Anthropic), `promptTokenCount`/
/// `candidatesTokenCount` (Gemini). `None` when neither count is there.
pub(super) fn usage(v: &Value) -> Option<Usage> {
    let input = count(v, &["prompt_tokens", "input_tokens", "promptTokenCount"]);
    let output = count(v, &["completion_tokens", "output_tokens", "candidatesTokenCount"]);
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(Usage { input_tokens: input.unwrap_or(0), output_tokens: output.unwrap_or(0) })
}

/// Update `into` with the counts `v` has, keeping the others (Anthropic streams the input count
/// first and the output count last).
pub(super) fn merge_usage(into: &mut Option<Usage>, v: &Value) {
    let input = count(v, &["prompt_tokens", "input_tokens", "promptTokenCount"]);
    let output = count(v, &["completion_tokens", "output_tokens", "candidatesTokenCount"]);
    if input.is_none() && output.is_none() {
        return;
    }
    let u = into.get_or_insert_with(Usage::default);
    if let Some(i) = input {
        u.input_tokens = i;
    }
    if let Some(o) = output {
        u.output_tokens = o;
    }
}

/// The message of an error object as the APIs send it: `{"error": {"message": ...}}` (OpenAI,
/// Anthropic, Gemini, also inside a Gemini array), `{"error": "..."}` (Ollama), `{"type":
/// "error", "message": ...}` (Responses stream). With `lenient` (a body that came with an error
/// status) also a top-level `message` or `detail`.
pub(super) fn error_message(v: &Value, lenient: bool) -> Option<String> {
    if let Value::Array(items) = v {
        return items.first().and_then(|first| error_message(first, lenient));
    }
    match v.get("error") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(e @ Value::Object(_)) => {
            let text = str_at(e, "message")
                .or_else(|| str_at(e, "type"))
                .or_else(|| str_at(e, "code"))
                .or_else(|| str_at(e, "status"));
            return Some(text.map(str::to_owned).unwrap_or_else(|| e.to_string()));
        }
        _ => {}
    }
    if str_at(v, "type") == Some("error") || lenient {
        if let Some(m) = str_at(v, "message").or_else(|| str_at(v, "detail")) {
            return Some(m.to_owned());
        }
        if let Some(d) = v.get("detail").filter(|d| !d.is_null()) {
            return Some(d.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_joins_text_and_marks_other_parts() {
        let content = json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:..."}},
            {"type": "input_file", "file_id": "f"},
            {"type": "thinking", "thinking": "hidden"},
            {"type": "input_text", "text": "and this"},
            {"type": "refusal", "refusal": "no"},
            {"type": "server_tool_use"}
        ]);
        assert_eq!(flatten(&content), "look\n[image]\n[file]\nand this\nno\n[server_tool_use]");
        assert_eq!(flatten(&json!(null)), "");
        assert_eq!(flatten(&json!("hi")), "hi");
    }

    #[test]
    fn tools_in_every_layout() {
        let chat = json!({"type": "function", "function": {"name": "a", "description": "d", "parameters": {"type": "object"}}});
        let flat = json!({"type": "function", "name": "b", "parameters": {"type": "object"}});
        let anthropic = json!({"name": "c", "input_schema": {"type": "object"}});
        let builtin = json!({"type": "web_search"});
        let names: Vec<_> = [chat, flat, anthropic, builtin].iter().filter_map(tool).map(|t| t.name).collect();
        assert_eq!(names, ["a", "b", "c", "web_search"]);
        assert!(tool(&json!(3)).is_none());
    }

    #[test]
    fn arguments_parse_or_stay_text() {
        assert_eq!(parse_arguments("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(parse_arguments("{\"a\":"), json!("{\"a\":"));
        assert_eq!(arguments_value(Some(&json!({"x": 1}))), json!({"x": 1}));
    }

    #[test]
    fn usage_names() {
        assert_eq!(
            usage(&json!({"prompt_tokens": 3, "completion_tokens": 4})),
            Some(Usage { input_tokens: 3, output_tokens: 4 })
        );
        assert_eq!(usage(&json!({"promptTokenCount": 5})), Some(Usage { input_tokens: 5, output_tokens: 0 }));
        assert_eq!(usage(&json!(null)), None);
        let mut u = None;
        merge_usage(&mut u, &json!({"input_tokens": 10, "output_tokens": 1}));
        merge_usage(&mut u, &json!({"output_tokens": 7}));
        assert_eq!(u, Some(Usage { input_tokens: 10, output_tokens: 7 }));
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message(&json!({"error": {"message": "slow down"}}), false).as_deref(), Some("slow down"));
        assert_eq!(
            error_message(&json!([{"error": {"code": 429, "message": "quota"}}]), false).as_deref(),
            Some("quota")
        );
        assert_eq!(error_message(&json!({"error": "model not found"}), false).as_deref(), Some("model not found"));
        assert_eq!(error_message(&json!({"type": "error", "message": "m"}), false).as_deref(), Some("m"));
        assert_eq!(error_message(&json!({"detail": "bad"}), true).as_deref(), Some("bad"));
        assert_eq!(error_message(&json!({"detail": "bad"}), false), None);
        assert_eq!(error_message(&json!({"error": null, "id": 1}), false), None);
    }
}
