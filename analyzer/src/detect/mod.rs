//! Deterministic detectors: cheap, explainable checks over one [`Window`] that always run and
//! decide what the LLM judge gets to see.
//!
//! Kind `loop`: `exact_repeat`, `near_repeat`, `cycle`, `retry_same_error` (see [`loops`]).
//! Kind `contradiction`: `claim_vs_record` (see [`claims`]).
//! Kind `persona_drift`: `persona_rule` and `followed_injection` (see [`persona`]).
//!
//! A window is read with its history (the compacted turns before it, from its context), so an
//! anomaly that spans a window boundary is seen whole.
//!
//! Invariants:
//! - Pure and synchronous: the same window gives the same findings, whatever the session is
//!   called and whatever unrelated successful commands ran beside.
//! - One finding per anomaly: detectors that agree (their evidence shares an event) make one
//!   finding listing them all; its id is [`Finding::anomaly_id`] (named by its first event), so
//!   re-analysing a window, or the next window seeing the same anomaly, replaces it.
//! - Scores are in [0, 1]. Only events after the window's overlap count as new evidence (a
//!   finding needs one); the overlap is read as context.
//! - "No progress" needs proof: a repeat whose result is unknown neither breaks a stall nor
//!   proves one, so a successful command whose output nobody saw never makes a loop.

mod claims;
mod loops;
pub(crate) mod persona;
#[cfg(test)]
pub(crate) mod testkit;
pub(crate) mod view;

use std::collections::HashSet;

use model::{Evidence, Finding, FindingKind, Window};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

use claims::ClaimMatcher;
use loops::LoopMatcher;
use persona::PersonaMatcher;
use view::View;

/// Settings of the detectors, as read from the analyzer's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Occurrences that make an exact or near repeat, or a retry of the same error.
    pub min_repeats: usize,
    /// Full repetitions that make a cycle: A B A B is 2.
    pub min_cycle_reps: usize,
    /// The longest cycle looked for: 2 finds A B A B, 3 also A B C A B C.
    pub max_cycle_period: usize,
    /// How many words before a success claim are searched for a negation ("not fixed") or a
    /// hedge ("once it works").
    pub negation_words: usize,
    /// Extra success claims, as case-insensitive regexes; they score as vague claims.
    pub extra_claim_patterns: Vec<String>,
    /// Most evidence entries per finding (the first ones and the last are kept).
    pub max_evidence: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            min_repeats: 3,
            min_cycle_reps: 2,
            max_cycle_period: 3,
            negation_words: 4,
            extra_claim_patterns: Vec::new(),
            max_evidence: 12,
        }
    }
}

impl DetectConfig {
    /// Checks the settings and compiles the patterns.
    pub fn build(self) -> Result<Detectors> {
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::Config(format!("detect: {what}")))
            }
        };
        check(self.min_repeats >= 2, "`min_repeats` must be at least 2")?;
        check(self.min_cycle_reps >= 2, "`min_cycle_reps` must be at least 2")?;
        check((2..=6).contains(&self.max_cycle_period), "`max_cycle_period` must be 2 to 6")?;
        check(self.max_evidence >= 2, "`max_evidence` must be at least 2")?;
        Ok(Detectors {
            loops: LoopMatcher::new()?,
            claims: ClaimMatcher::new(&self.extra_claim_patterns, self.negation_words)?,
            persona: PersonaMatcher::new()?,
            config: self,
        })
    }
}

/// The detectors, ready to run on windows.
#[derive(Debug)]
pub struct Detectors {
    config: DetectConfig,
    loops: LoopMatcher,
    claims: ClaimMatcher,
    persona: PersonaMatcher,
}

/// What a window holds, in numbers the judge gate can weigh without reading it. Counts are
/// over the new part of the window (after the overlap); repeats look back into the overlap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// `llm_call`s.
    pub llm_turns: usize,
    /// Tool calls made in those turns' responses.
    pub tool_calls: usize,
    /// Share of those tool calls that exactly repeat an earlier one of the window (0 if none).
    pub repeated_tool_call_ratio: f64,
    /// The most times one exact tool call or command occurs in the whole window.
    pub max_repeats: usize,
    /// Top-level commands (what a tool call started, not its children) that ended or started.
    pub commands: usize,
    /// Of those, the ones that failed (exit status other than 0, or a signal).
    pub failed_commands: usize,
    /// A response says that something succeeded ("tests pass", "fixed", "done").
    pub success_claim: bool,
    /// The agent's system prompt is known (window context or a request).
    pub system_prompt_known: bool,
    pub counters: Counters,
}

/// Things in a window the detectors could not use, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// `exit` events with no `exec` of their pid before them (forks that never exec'd,
    /// processes started before the window).
    pub exits_unmatched: usize,
    /// Commands whose exit is not in the window: their result is unknown.
    pub commands_without_exit: usize,
    /// Tool results answering a tool call that is not in the window.
    pub tool_results_unmatched: usize,
    /// `llm_call`s kept raw (unknown API shape): no text or tool calls to read.
    pub undecoded_llm_calls: usize,
}

/// A finding before it is named: detectors return these, [`Detectors::run`] keeps the best.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub kind: FindingKind,
    pub detector: &'static str,
    pub score: f64,
    pub rationale: String,
    pub evidence: Vec<Evidence>,
    /// Events of the same anomaly that are not evidence (the `llm_call` whose tool call ran a
    /// command): candidates that share one are merged like those that share evidence.
    pub related: Vec<String>,
    /// Event index where it begins; the earlier of two equal scores wins.
    pub at: usize,
}

impl Candidate {
    fn beats(&self, other: &Candidate) -> bool {
        self.score > other.score || (self.score == other.score && self.at < other.at)
    }
}

impl Detectors {
    /// Findings for a window: one per anomaly. Candidates of one kind that cite a common
    /// event are one anomaly (several detectors agreeing, or one detector seeing it twice):
    /// the finding takes the strongest one's score, detector and rationale, lists every
    /// detector, and joins their evidence. Its id is [`Finding::anomaly_id`], so a later window
    /// that sees the same anomaly replaces the finding instead of adding one.
    pub fn run(&self, w: &Window) -> Vec<Finding> {
        let view = View::new(w);
        let mut candidates = loops::detect(&view, &self.loops, &self.config);
        candidates.extend(claims::claim_vs_record(&view, &self.claims));
        candidates.extend(persona::drift(&view, &self.persona));

        let mut findings: Vec<Finding> = merge(candidates).into_iter().map(|group| self.finding(w, group)).collect();
        findings.sort_by(|a, b| {
            (a.kind.as_str(), a.evidence.first().map(|e| e.ts_ns))
                .cmp(&(b.kind.as_str(), b.evidence.first().map(|e| e.ts_ns)))
        });
        findings
    }

    /// One finding from a group of candidates of one anomaly (the strongest first).
    fn finding(&self, w: &Window, group: Vec<Candidate>) -> Finding {
        let mut detectors: Vec<String> = group.iter().map(|c| c.detector.to_string()).collect();
        detectors.sort();
        detectors.dedup();
        let mut evidence: Vec<Evidence> = Vec::new();
        for c in &group {
            for e in &c.evidence {
                if !evidence.iter().any(|have| have.event == e.event) {
                    evidence.push(e.clone());
                }
            }
        }
        let first = evidence
            .iter()
            .min_by_key(|e| (e.ts_ns, e.event.clone()))
            .map_or_else(|| w.window_id.clone(), |e| e.event.clone());
        let best = &group[0];
        Finding {
            finding_id: Finding::anomaly_id(&w.session, best.kind, &first),
            session: w.session.clone(),
            window_id: w.window_id.clone(),
            kind: best.kind,
            score: best.score.clamp(0.0, 1.0),
            detector: best.detector.to_string(),
            detectors,
            rationale: best.rationale.clone(),
            evidence: cap_evidence(evidence, self.config.max_evidence),
            judge: None,
            ts_ns: w.end_ns,
        }
    }

    /// Cheap numbers about a window for the judge gate.
    pub fn features(&self, w: &Window) -> Features {
        let view = View::new(w);
        let (mut tool_calls, mut repeated) = (0, 0);
        let mut seen = std::collections::HashSet::new();
        for u in &view.uses {
            let again = !seen.insert(u.key.as_str());
            if view.turns[u.turn].is_new {
                tool_calls += 1;
                repeated += usize::from(again);
            }
        }
        let new_tops: Vec<_> = view
            .commands
            .iter()
            .enumerate()
            .filter(|(i, c)| c.is_top(*i) && view.is_new(c.last_idx()))
            .map(|(_, c)| c)
            .collect();
        Features {
            llm_turns: view.turns.iter().filter(|t| t.is_new).count(),
            tool_calls,
            repeated_tool_call_ratio: if tool_calls == 0 { 0.0 } else { repeated as f64 / tool_calls as f64 },
            max_repeats: loops::max_repeats(&view),
            commands: new_tops.len(),
            failed_commands: new_tops.iter().filter(|c| c.failed() == Some(true)).count(),
            success_claim: view
                .turns
                .iter()
                .filter(|t| t.is_new)
                .any(|t| !self.claims.claims(&t.call.response.text).is_empty()),
            system_prompt_known: w.context.system_prompt.is_some()
                || view.turns.iter().any(|t| t.call.request.system.as_deref().is_some_and(|s| !s.trim().is_empty())),
            counters: view.counters,
        }
    }
}

/// Groups candidates into anomalies: of one kind, linked by a common evidence event (directly
/// or through others). Each group is sorted strongest first; groups in order of their
/// strongest candidate's position.
fn merge(candidates: Vec<Candidate>) -> Vec<Vec<Candidate>> {
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    fn ids(c: &Candidate) -> impl Iterator<Item = &str> {
        c.evidence.iter().map(|e| e.event.as_str()).chain(c.related.iter().map(String::as_str))
    }
    for c in candidates {
        let events: HashSet<&str> = ids(&c).collect();
        let (joined, apart): (Vec<Vec<Candidate>>, Vec<Vec<Candidate>>) = std::mem::take(&mut groups)
            .into_iter()
            .partition(|g| g[0].kind == c.kind && g.iter().any(|o| ids(o).any(|e| events.contains(e))));
        groups = apart;
        let mut group: Vec<Candidate> = joined.into_iter().flatten().collect();
        group.push(c);
        groups.push(group);
    }
    for g in &mut groups {
        g.sort_by(|a, b| {
            if a.beats(b) {
                std::cmp::Ordering::Less
            } else if b.beats(a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
    groups
}

/// Keeps the first `max - 1` entries and the latest one, so a long loop still shows where it
/// ended.
fn cap_evidence(mut evidence: Vec<Evidence>, max: usize) -> Vec<Evidence> {
    if evidence.len() > max {
        let latest = evidence.iter().enumerate().max_by_key(|(i, e)| (e.ts_ns, *i)).map(|(i, _)| i).unwrap_or_default();
        let last = evidence.remove(latest);
        evidence.truncate(max.saturating_sub(1));
        evidence.push(last);
    }
    evidence
}

#[cfg(test)]
mod tests;
