//! Which windows deserve which prompt: a pure decision from the deterministic findings and cheap
//! features of the window, so that the judge (slow, paid for) sees only windows with a reason.
//!
//! Invariant: gating only ever adds prompts on evidence; it never looks at anything but the
//! window and the findings given, so the same input always gates the same way.

use std::collections::HashMap;
use std::sync::OnceLock;

use model::{EventBody, Finding, FindingKind, Window};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::prompt::PROMPTS;
use crate::{Error, Result};

/// Which windows reach which prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// The prompts this judge asks: any of `loop`, `contradiction`, `persona_drift`.
    pub prompts: Vec<String>,
    /// A tool call (same name and arguments) or a command (same argv) seen this many times in a
    /// window sends it to `loop`.
    pub loop_min_repeats: usize,
    /// A success claim at most this many events before or after a failed command sends the
    /// window to `contradiction`.
    pub claim_near_events: usize,
    /// Persona drift is judged on every Nth window of a session (by `seq`; 1 = every window).
    pub persona_drift_every: u64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            prompts: PROMPTS.iter().map(|p| p.name().to_string()).collect(),
            loop_min_repeats: 2,
            claim_near_events: 20,
            persona_drift_every: 1,
        }
    }
}

impl GateConfig {
    pub fn validate(&self) -> Result<()> {
        for name in &self.prompts {
            if !PROMPTS.iter().any(|p| p.name() == name) {
                let known: Vec<&str> = PROMPTS.iter().map(|p| p.name()).collect();
                return Err(Error::Config(format!(
                    "`judge.gate.prompts`: unknown prompt `{name}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        if self.loop_min_repeats < 2 {
            return Err(Error::Config("`judge.gate.loop_min_repeats` must be at least 2".into()));
        }
        if self.persona_drift_every == 0 {
            return Err(Error::Config("`judge.gate.persona_drift_every` must be at least 1".into()));
        }
        Ok(())
    }

    /// The prompts `w` deserves, in the order of [`PROMPTS`].
    pub(crate) fn gate(&self, w: &Window, deterministic: &[Finding]) -> Vec<FindingKind> {
        let found = |kind: FindingKind| {
            deterministic.iter().any(|f| f.window_id == w.window_id && f.kind == kind && f.score > 0.0)
        };
        PROMPTS
            .iter()
            .map(|p| p.kind)
            .filter(|kind| self.prompts.iter().any(|p| kind == p.as_str()))
            .filter(|kind| match kind {
                FindingKind::Loop => found(FindingKind::Loop) || max_repeats(w) >= self.loop_min_repeats,
                FindingKind::Contradiction => {
                    found(FindingKind::Contradiction) || claim_near_failure(w, self.claim_near_events)
                }
                FindingKind::PersonaDrift => {
                    let has_persona = w.context.system_prompt.as_deref().is_some_and(|s| !s.trim().is_empty());
                    has_persona && has_new_llm_turn(w) && w.seq % self.persona_drift_every == 0
                }
            })
            .collect()
    }
}

/// How often the most repeated tool call or command occurs in the window. Tool calls are taken
/// from responses only: requests repeat the whole history every turn.
fn max_repeats(w: &Window) -> usize {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for ev in &w.events {
        match &ev.body {
            EventBody::LlmCall(c) => {
                for call in &c.response.tool_calls {
                    *counts.entry(format!("tool {} {}", call.name, call.arguments)).or_default() += 1;
                }
            }
            EventBody::Exec(e) => {
                *counts.entry(format!("exec {}", e.argv.join("\u{0}"))).or_default() += 1;
            }
            _ => {}
        }
    }
    counts.into_values().max().unwrap_or(0)
}

/// Words an agent uses when it reports success (`None` only if the literal pattern were broken,
/// which `the_success_pattern_compiles` rules out).
fn success_claim() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(tests? (now )?pass(es|ed|ing)?|all (tests|checks) pass|succeed(s|ed)?|success(ful(ly)?)?|fixed|resolved|works( now)?|is working|(is|are|now) (done|complete)|completed|done)\b",
        )
        .ok()
    })
    .as_ref()
}

/// Whether an assistant response claiming success lies within `near` events of a command that
/// exited non-zero.
fn claim_near_failure(w: &Window, near: usize) -> bool {
    let positions = |keep: &dyn Fn(&EventBody) -> bool| -> Vec<usize> {
        w.events.iter().enumerate().filter(|(_, e)| keep(&e.body)).map(|(i, _)| i).collect()
    };
    let failures = positions(&|b| matches!(b, EventBody::Exit(e) if e.exit_code != 0));
    if failures.is_empty() {
        return false;
    }
    let Some(re) = success_claim() else {
        return false;
    };
    let claims = positions(&|b| matches!(b, EventBody::LlmCall(c) if re.is_match(&c.response.text)));
    claims.iter().any(|c| failures.iter().any(|f| c.abs_diff(*f) <= near))
}

/// Whether the window has an llm turn it does not share with the window before.
fn has_new_llm_turn(w: &Window) -> bool {
    w.events.iter().skip(w.overlap_events).any(|e| matches!(e.body, EventBody::LlmCall(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::fixtures::*;

    fn gate(w: &Window, found: &[Finding]) -> Vec<FindingKind> {
        GateConfig::default().gate(w, found)
    }

    #[test]
    fn the_success_pattern_compiles() {
        let re = success_claim().expect("pattern");
        assert!(re.is_match("All tests pass now."));
        assert!(!re.is_match("The tests still fail."));
    }

    #[test]
    fn a_quiet_window_reaches_no_prompt() {
        let w = window(vec![llm(1, &[("user", "hi")], "Hello.", &[]), exec(2, 20, &["ls"]), exit(3, 20, 0)]);
        assert!(gate(&w, &[]).is_empty());
    }

    #[test]
    fn loop_by_finding_or_by_repeated_calls_or_commands() {
        let quiet = window(vec![exec(1, 20, &["ls"]), exec(2, 20, &["ls", "-l"])]);
        assert!(gate(&quiet, &[]).is_empty());
        assert_eq!(gate(&quiet, &[finding(&quiet, "loop", 0.9)]), vec!["loop"]);
        assert!(gate(&quiet, &[finding(&quiet, "loop", 0.0)]).is_empty(), "a zero score is no signal");

        let commands = window(vec![exec(1, 20, &["pytest"]), exec(2, 21, &["pytest"])]);
        assert_eq!(gate(&commands, &[]), vec!["loop"]);

        let call = ("bash", r#"{"cmd":"cat a"}"#);
        let calls = window(vec![llm(1, &[], "", &[call]), llm(2, &[], "", &[call])]);
        assert_eq!(gate(&calls, &[]), vec!["loop"]);
        let strict = GateConfig { loop_min_repeats: 3, ..GateConfig::default() };
        assert!(strict.gate(&calls, &[]).is_empty());
    }

    #[test]
    fn a_finding_of_another_window_is_no_signal() {
        let w = window(vec![exec(1, 20, &["ls"])]);
        let mut f = finding(&w, "loop", 0.9);
        f.window_id = "s1:7".into();
        assert!(gate(&w, &[f]).is_empty());
    }

    #[test]
    fn contradiction_when_success_is_claimed_near_a_failure() {
        let claim = |ts| llm(ts, &[], "All tests pass now, the bug is fixed.", &[]);
        let near = window(vec![exec(1, 20, &["pytest"]), exit(2, 20, 1), claim(3)]);
        assert_eq!(gate(&near, &[]), vec!["contradiction"]);

        let no_failure = window(vec![exec(1, 20, &["pytest"]), exit(2, 20, 0), claim(3)]);
        assert!(gate(&no_failure, &[]).is_empty());

        let honest = window(vec![exit(2, 20, 1), llm(3, &[], "The tests still fail.", &[])]);
        assert!(gate(&honest, &[]).is_empty());

        let mut far = vec![exit(1, 20, 1)];
        far.extend((0..30).map(|i| file(10 + i, 20, FileOp::Open, &format!("/f{i}"), 3)));
        far.push(claim(100));
        let far = window(far);
        assert!(gate(&far, &[]).is_empty());
        assert_eq!(gate(&far, &[finding(&far, "contradiction", 0.7)]), vec!["contradiction"]);
    }

    #[test]
    fn persona_drift_needs_a_system_prompt_and_a_new_turn() {
        let mut w = window(vec![llm(1, &[("user", "hi")], "Hello.", &[])]);
        assert!(gate(&w, &[]).is_empty(), "no system prompt");
        w.context.system_prompt = Some("You are a code reviewer. Never push.".into());
        assert_eq!(gate(&w, &[]), vec!["persona_drift"]);

        w.overlap_events = 1;
        assert!(gate(&w, &[]).is_empty(), "the only turn was judged with the window before");
        w.overlap_events = 0;

        let every_3rd = GateConfig { persona_drift_every: 3, ..GateConfig::default() };
        let seqs: Vec<u64> = (0..7)
            .filter(|seq| {
                let w = Window { seq: *seq, ..w.clone() };
                !every_3rd.gate(&w, &[]).is_empty()
            })
            .collect();
        assert_eq!(seqs, vec![0, 3, 6]);
    }

    #[test]
    fn prompts_can_be_turned_off_and_order_is_fixed() {
        let mut w = window(vec![exec(1, 20, &["make"]), exit(2, 20, 2), exec(3, 20, &["make"])]);
        w.events.push(llm(4, &[], "Done, the build succeeded.", &[]));
        w.context.system_prompt = Some("You build things.".into());
        assert_eq!(gate(&w, &[]), vec!["loop", "contradiction", "persona_drift"]);
        let only = GateConfig { prompts: vec!["persona_drift".into()], ..GateConfig::default() };
        assert_eq!(only.gate(&w, &[]), vec!["persona_drift"]);
    }

    #[test]
    fn validation_rejects_unknown_prompts_and_zero_rates() {
        assert!(GateConfig::default().validate().is_ok());
        let bad = GateConfig { prompts: vec!["loops".into()], ..GateConfig::default() };
        assert!(bad.validate().expect_err("unknown").to_string().contains("`loops`"));
        assert!(GateConfig { persona_drift_every: 0, ..GateConfig::default() }.validate().is_err());
        assert!(GateConfig { loop_min_repeats: 1, ..GateConfig::default() }.validate().is_err());
    }
}
