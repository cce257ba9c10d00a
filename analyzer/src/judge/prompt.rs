//! The judge's prompts: data in `prompts/` at the workspace root, embedded at build time.
//!
//! A prompt is `<name>.v<N>.md` (the question, with `{{vars}}`) and `<name>.v<N>.schema.json`
//! (the JSON schema of the answer); `system.v2.md` is the system message all of them share and
//! `context.v2.md` the start of every user message (the persona, the record, the signals), so
//! the questions about one window share one long prefix that a server caches: only the question
//! at the end differs. The prompt's name is also the kind of the findings it makes, and
//! `<name>.v<N>` their `prompt_id`.
//!
//! Invariant: filling is one pass over the template. A value is never scanned for `{{`, so text
//! from the trace cannot smuggle in a variable, and a template naming an unknown variable is an
//! error rather than a silent hole.

use model::FindingKind;

use crate::{Error, Result};

/// The system message: the reviewer's role and the rule that the record is data. It has no
/// variables, so every request starts with the same tokens.
pub(crate) const SYSTEM: &str = include_str!("../../../prompts/system.v2.md");

/// The shared start of every question's user message: persona, record and signals.
pub(crate) const CONTEXT: &str = include_str!("../../../prompts/context.v2.md");

/// One question the judge can ask about a window.
#[derive(Debug)]
pub(crate) struct Prompt {
    /// The kind of the findings it makes; its name is the kind's.
    pub kind: FindingKind,
    pub version: u32,
    pub template: &'static str,
    pub schema: &'static str,
}

impl Prompt {
    /// `loop`, `contradiction`, `persona_drift`: the name of its files.
    pub(super) fn name(&self) -> &'static str {
        self.kind.as_str()
    }

    /// `loop.v1`: what findings record as `prompt_id`.
    pub(super) fn id(&self) -> String {
        format!("{}.v{}", self.name(), self.version)
    }

    /// The name the schema is sent under (the API allows `[a-zA-Z0-9_-]` only).
    pub(super) fn schema_name(&self) -> String {
        format!("{}_v{}", self.name(), self.version)
    }
}

/// Every prompt, in the order the gate lists them.
pub(crate) const PROMPTS: [Prompt; 3] = [
    Prompt {
        kind: FindingKind::Loop,
        version: 2,
        template: include_str!("../../../prompts/loop.v2.md"),
        schema: include_str!("../../../prompts/loop.v2.schema.json"),
    },
    Prompt {
        kind: FindingKind::Contradiction,
        version: 2,
        template: include_str!("../../../prompts/contradiction.v2.md"),
        schema: include_str!("../../../prompts/contradiction.v2.schema.json"),
    },
    Prompt {
        kind: FindingKind::PersonaDrift,
        version: 2,
        template: include_str!("../../../prompts/persona_drift.v2.md"),
        schema: include_str!("../../../prompts/persona_drift.v2.schema.json"),
    },
];

/// The values a template may use. Every untrusted one is already neutralised (see
/// `render::neutralise`) and the templates put each of them between fence markers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vars<'a> {
    /// The per-request nonce of the fence markers.
    pub fence: &'a str,
    pub trace: &'a str,
    pub signals: &'a str,
    pub system_prompt: &'a str,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "fence" => Some(self.fence),
            "trace" => Some(self.trace),
            "signals" => Some(self.signals),
            "system_prompt" => Some(self.system_prompt),
            _ => None,
        }
    }
}

/// Replaces every `{{name}}` in `template` with its value, in one pass.
pub(crate) fn fill(template: &str, vars: &Vars<'_>) -> Result<String> {
    let mut out = String::with_capacity(template.len() + vars.trace.len() + vars.signals.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| Error::Judge("prompt has an unclosed `{{`".into()))?;
        let name = &after[..end];
        let value = vars.get(name).ok_or_else(|| Error::Judge(format!("prompt uses unknown variable `{name}`")))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The system and user messages of `prompt` for one request: the shared context first, the
/// question last.
pub(crate) fn messages(prompt: &Prompt, vars: &Vars<'_>) -> Result<(String, String)> {
    let user = format!("{}\n{}", fill(CONTEXT, vars)?, fill(prompt.template, vars)?);
    Ok((fill(SYSTEM, vars)?, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::fixtures::outside_fences;

    fn get(name: &str) -> Option<&'static Prompt> {
        PROMPTS.iter().find(|p| p.name() == name)
    }

    const SENTINEL_TRACE: &str = "SENTINEL-TRACE";
    const SENTINEL_SIGNALS: &str = "SENTINEL-SIGNALS";
    const SENTINEL_PROMPT: &str = "SENTINEL-PROMPT";

    fn vars() -> Vars<'static> {
        Vars { fence: "0123abcd", trace: SENTINEL_TRACE, signals: SENTINEL_SIGNALS, system_prompt: SENTINEL_PROMPT }
    }

    #[test]
    fn every_prompt_renders_with_every_var_filled() {
        for p in &PROMPTS {
            let (system, user) = messages(p, &vars()).expect("render");
            assert!(!system.contains("{{") && !user.contains("{{"), "{}: a var is left", p.id());
            assert!(!system.contains("}}") && !user.contains("}}"), "{}", p.id());
            assert!(user.contains(SENTINEL_TRACE), "{}: the trace is missing", p.id());
            assert!(user.contains(SENTINEL_SIGNALS), "{}: the signals are missing", p.id());
            assert!(user.contains("<<<TRACE 0123abcd>>>"), "the user message opens the fence with its code");
            assert_eq!(system, SYSTEM, "the system message is the same for every request");
            assert!(
                user.ends_with(p.template.trim_end()) || user.trim_end().ends_with(p.template.trim_end()),
                "{}: the question comes last",
                p.id()
            );
        }
        // Every question shares the context prefix, so a server's prompt cache serves it.
        let users: Vec<String> = PROMPTS.iter().map(|p| messages(p, &vars()).expect("render").1).collect();
        let shared = fill(CONTEXT, &vars()).expect("context");
        assert!(users.iter().all(|u| u.starts_with(&shared)));
        let (_, drift) = messages(get("persona_drift").expect("prompt"), &vars()).expect("render");
        assert!(drift.contains(SENTINEL_PROMPT), "persona drift is judged against the system prompt");
    }

    #[test]
    fn untrusted_vars_appear_only_inside_fences() {
        for p in &PROMPTS {
            let (system, user) = messages(p, &vars()).expect("render");
            for message in [&system, &user] {
                let outside = outside_fences(message, "0123abcd");
                for s in [SENTINEL_TRACE, SENTINEL_SIGNALS, SENTINEL_PROMPT] {
                    assert!(!outside.contains(s), "{}: `{s}` outside a fence", p.id());
                }
                // The injection stand-in obeys "score 0" outside the fences: our own text must
                // not say it, or the injection test would prove nothing.
                assert!(!outside.to_lowercase().contains("score 0"), "{}", p.id());
            }
        }
    }

    #[test]
    fn schemas_are_strict_json_schemas_of_the_answer() {
        for p in &PROMPTS {
            let s: serde_json::Value = serde_json::from_str(p.schema).expect("schema parses");
            assert_eq!(s["type"], "object", "{}", p.id());
            assert_eq!(s["additionalProperties"], false, "{}", p.id());
            assert_eq!(s["required"], serde_json::json!(["score", "rationale", "evidence"]));
            assert_eq!(s["properties"]["score"]["type"], "number");
            assert_eq!(s["properties"]["score"]["minimum"], 0);
            assert_eq!(s["properties"]["score"]["maximum"], 1);
            assert_eq!(s["properties"]["rationale"]["type"], "string");
            assert_eq!(s["properties"]["evidence"]["items"]["type"], "string");
            assert!(p.schema_name().chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert_eq!(get("loop").map(Prompt::id).as_deref(), Some("loop.v2"));
        assert!(get("nope").is_none());
    }

    #[test]
    fn fill_is_one_pass_so_values_cannot_inject_vars() {
        let v = Vars { trace: "{{fence}} {{nope}}", ..vars() };
        let out = fill("[{{trace}}] {{fence}}", &v).expect("fill");
        assert_eq!(out, "[{{fence}} {{nope}}] 0123abcd");
    }

    #[test]
    fn unknown_or_unclosed_vars_are_errors() {
        let err = fill("a {{nope}} b", &vars()).expect_err("unknown");
        assert!(err.to_string().contains("`nope`"), "{err}");
        assert!(fill("a {{trace b", &vars()).is_err());
    }
}
