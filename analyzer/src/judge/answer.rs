//! The model's answer, checked by hand against the prompts' schema (`prompts/*.schema.json`:
//! `score` a number in [0, 1], `rationale` a string, `evidence` an array of strings, nothing
//! else). Servers that ignore `response_format` exist, so the schema is never taken on trust.
//!
//! Invariant: an answer that fails is an error to retry, never a verdict; evidence ids that are
//! not events of the window are dropped (and counted by the caller), never passed on.

use std::collections::HashSet;

use serde_json::Value;

use super::Failure;

const FIELDS: [&str; 3] = ["score", "rationale", "evidence"];

/// A valid answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub score: f64,
    pub rationale: String,
    /// Ids of events of the window, in the model's order, each once.
    pub evidence: Vec<String>,
    /// How many ids were dropped: not events of the window.
    pub dropped: usize,
}

/// Parses and validates `content`; `known` says whether an id is an event of the window.
pub(crate) fn parse(content: &str, known: &dyn Fn(&str) -> bool) -> Result<Answer, Failure> {
    let text = strip_code_fence(content.trim());
    let value: Value = serde_json::from_str(text).map_err(|e| Failure::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(Failure::Schema("the answer is not a JSON object".into()));
    };
    if let Some(extra) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Failure::Schema(format!("unexpected field `{extra}`")));
    }
    let field = |name: &str| map.get(name).ok_or_else(|| Failure::Schema(format!("missing `{name}`")));

    let score = field("score")?.as_f64().ok_or_else(|| Failure::Schema("`score` is not a number".into()))?;
    if !(0.0..=1.0).contains(&score) {
        return Err(Failure::Schema(format!("`score` {score} is outside [0, 1]")));
    }
    let rationale =
        field("rationale")?.as_str().ok_or_else(|| Failure::Schema("`rationale` is not a string".into()))?.to_string();
    let ids = field("evidence")?.as_array().ok_or_else(|| Failure::Schema("`evidence` is not an array".into()))?;

    let mut seen = HashSet::new();
    let mut evidence = Vec::new();
    let mut dropped = 0;
    for id in ids {
        let id = id.as_str().ok_or_else(|| Failure::Schema("`evidence` holds something other than a string".into()))?;
        if !known(id) {
            dropped += 1;
        } else if seen.insert(id) {
            evidence.push(id.to_string());
        }
    }
    Ok(Answer { score, rationale, evidence, dropped })
}

/// Some local models wrap JSON in a Markdown code fence even when asked for JSON only.
fn strip_code_fence(text: &str) -> &str {
    let Some(inner) = text.strip_prefix("```") else {
        return text;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn known(id: &str) -> bool {
        id.starts_with("ev")
    }

    fn check(content: &str) -> Result<Answer, Failure> {
        parse(content, &known)
    }

    #[test]
    fn a_good_answer_parses() {
        let a = check(r#"{"score": 0.75, "rationale": " loops ", "evidence": ["ev1", "ev2"]}"#).expect("ok");
        assert_eq!(a.score, 0.75);
        assert_eq!(a.rationale, " loops ", "trimming is the finding's business");
        assert_eq!(a.evidence, vec!["ev1", "ev2"]);
        assert_eq!(a.dropped, 0);
        assert_eq!(check(r#"{"score": 0, "rationale": "", "evidence": []}"#).expect("ok").score, 0.0);
        assert_eq!(check(r#"{"score": 1, "rationale": "", "evidence": []}"#).expect("ok").score, 1.0);
    }

    #[test]
    fn unknown_evidence_ids_are_dropped_and_duplicates_kept_once() {
        let a = check(r#"{"score": 0.5, "rationale": "r", "evidence": ["ev1", "made-up", "ev1"]}"#).expect("ok");
        assert_eq!(a.evidence, vec!["ev1"]);
        assert_eq!(a.dropped, 1);
    }

    #[test]
    fn not_json_is_invalid_json() {
        for bad in ["", "I think the score is 0.5", "{\"score\": 0.5,"] {
            let err = check(bad).expect_err(bad);
            assert!(matches!(err, Failure::InvalidJson(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn answers_outside_the_schema_are_schema_errors() {
        let cases = [
            (r#"{"score": 7, "rationale": "r", "evidence": []}"#, "outside [0, 1]"),
            (r#"{"score": -0.1, "rationale": "r", "evidence": []}"#, "outside [0, 1]"),
            (r#"{"score": "0.5", "rationale": "r", "evidence": []}"#, "not a number"),
            (r#"{"rationale": "r", "evidence": []}"#, "missing `score`"),
            (r#"{"score": 0.5, "rationale": 3, "evidence": []}"#, "`rationale`"),
            (r#"{"score": 0.5, "rationale": "r", "evidence": "ev1"}"#, "not an array"),
            (r#"{"score": 0.5, "rationale": "r", "evidence": [1]}"#, "other than a string"),
            (r#"{"score": 0.5, "rationale": "r", "evidence": [], "mood": "x"}"#, "`mood`"),
            (r#"[0.5]"#, "not a JSON object"),
        ];
        for (content, says) in cases {
            let err = check(content).expect_err(content);
            assert!(matches!(err, Failure::Schema(_)), "{content}: {err}");
            assert!(err.to_string().contains(says), "{content}: {err}");
        }
    }

    #[test]
    fn a_json_code_fence_is_tolerated() {
        let a = check("```json\n{\"score\": 0.2, \"rationale\": \"r\", \"evidence\": []}\n```").expect("ok");
        assert_eq!(a.score, 0.2);
    }

    proptest! {
        #[test]
        fn only_scores_in_range_pass_and_only_known_ids_survive(
            score in (-200i32..300).prop_map(|n| f64::from(n) / 100.0),
            ids in proptest::collection::vec("(ev|zz)[0-9]", 0..8),
        ) {
            let content = serde_json::json!({"score": score, "rationale": "r", "evidence": ids});
            match check(&content.to_string()) {
                Ok(a) => {
                    prop_assert!((0.0..=1.0).contains(&score));
                    // serde_json's float parsing may be one ulp off.
                    prop_assert!((a.score - score).abs() < 1e-9);
                    prop_assert!(a.evidence.iter().all(|id| known(id)));
                    prop_assert_eq!(a.dropped, ids.iter().filter(|id| !known(id)).count());
                }
                Err(e) => {
                    prop_assert!(!(0.0..=1.0).contains(&score));
                    prop_assert!(matches!(e, Failure::Schema(_)));
                }
            }
        }
    }
}
