//! Loop detectors: the agent does the same thing again and again and learns nothing new.
//!
//! Two sequences are read: the tool calls of the turns (`name(canonical arguments)`) and the
//! top-level commands (what a tool call started; the children of a command are its detail).
//! An occurrence's *result* is the tool output (masked of timestamps, durations and long hex
//! ids, which change on every run), or for a command its exit status plus the output of the
//! tool call that ran it. A result is unknown when the call was not answered in the window (it
//! fits any other); a command that exited 0 with its output unseen has a result that differs
//! from a failure but proves nothing: exit 0 alone shows no stall.
//!
//! A *stall* is a run of occurrences of one call whose results are all equal; a different
//! result is progress. A loop is a stall the agent never got out of in this window: the last
//! stall of its call, with `min_repeats - 1` results that prove it (the last occurrence may
//! still wait for its answer).
//!
//! - `exact_repeat`: one call or argv, `min_repeats` times in its last stall.
//! - `near_repeat`: the same after [`LoopMatcher::normalize`] (numbers, hex ids, paths, case
//!   and spacing), at least two different spellings, in a stall whose result is a failure (an
//!   error, nothing found, a non-zero exit). Variants that all succeed are usually different
//!   work (writing `part1.txt`, `part2.txt`), not guessing. Scores below exact.
//! - `cycle`: A B A B (or A B C A B C) over either sequence, `min_cycle_reps` full rounds,
//!   the results of each step repeating too, and no later different result of one of its
//!   steps.
//! - `retry_same_error`: one argv failing with one status `min_repeats` times in a row (other
//!   commands in between are fine), never succeeding later in the window.
//!
//! Each needs its last occurrence after the overlap, so a loop already reported by the window
//! before is reported again only if it went on.

use std::collections::BTreeMap;

use model::{Evidence, FindingKind};
use regex::Regex;

use super::view::{display_argv, mask_ids, one_line, Command, View};
use super::{Candidate, DetectConfig};
use crate::{Error, Result};

const EXACT_SCORE: f64 = 0.7;
const NEAR_SCORE: f64 = 0.5;
const CYCLE_SCORE: f64 = 0.6;
const RETRY_SCORE: f64 = 0.75;
/// Each occurrence (or round) past the minimum adds this much, up to the cap.
const SCORE_STEP: f64 = 0.05;
const SCORE_CAP: f64 = 0.95;

/// The patterns the loop detectors use, compiled once.
#[derive(Debug)]
pub(crate) struct LoopMatcher {
    /// Parts of tool output that change on every run without meaning progress.
    volatile: Vec<Regex>,
    path: Regex,
    hex: Regex,
    number: Regex,
    /// Tool output that reports a failure or nothing found.
    failure: Regex,
    /// A fenced code block.
    code_block: Regex,
    /// The user asking for repetition: "run it 5 times", "keep polling", "rerun".
    repeat_request: Regex,
}

impl LoopMatcher {
    pub(super) fn new() -> Result<Self> {
        let re = |p: &str| Regex::new(p).map_err(|e| Error::Config(format!("detect: `{p}`: {e}")));
        Ok(LoopMatcher {
            volatile: vec![
                // timings a harness reports as fields: `"duration_seconds":12.3`, `took=5`
                re(r#"(?i)"?\b(?:duration|elapsed|time|took|latency|wall)\w*"?\s*[:=]\s*\d+(?:\.\d+)?"#)?,
                // process ids and ports a harness prints with each run
                re(r"(?i)\b(?:pgid|pids?|process\s+(?:group\s+)?(?:pgid|id)|port)\s*[:=#]?\s*\d+")?,
                re(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")?,
                re(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b")?,
                re(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds)\b")?,
                re(r"(?i)\b0x[0-9a-f]+\b")?,
                re(r"(?i)\b[0-9a-f]*(?:\d[a-f]|[a-f]\d)[0-9a-f]*\b")?,
            ],
            path: re(r"(?:[\w.~-]*/)+([\w.-]+)")?,
            hex: re(r"\b(?:0x[0-9a-f]+|[0-9a-f]*(?:\d[a-f]|[a-f]\d)[0-9a-f]*)\b")?,
            number: re(r"\d+(?:\.\d+)?")?,
            code_block: re(r"(?s)```.*?(?:```|$)")?,
            repeat_request: re(concat!(
                r"(?i)\b(?:\d+|two|three|four|five|ten|several|multiple|a\s+few|many|a\s+couple\s+of)\s+times\b|\b(?:re-?run|run)\s+(?:it|them|this|that|the\s+\w+(?:\s+\w+)?)\s+(?:again|repeatedly)\b|",
                r"\brepeat(?:edly)?\b|\bkeep\s+(?:running|trying|polling|checking|retrying)\b|",
                r"\bevery\s+\d+\s*(?:s|sec|secs|seconds|minutes?|min)\b|\bwatch\s+(?:it|the)\b|\bstress[- ]test\b",
            ))?,
            failure: re(concat!(
                r"(?i)\b(?:error|errno|exception|traceback|fail(?:ed|ure)?|fatal|denied|refused|",
                r"not found|no such|cannot|can't|could not|couldn't|unable|invalid|timed? ?out|",
                r"panic(?:ked)?|no match(?:es)?|no results?|0 results)\b"
            ))?,
        })
    }

    /// Output with its run-to-run noise masked: temp names and random ids ([`mask_ids`]),
    /// times, durations, pids and long hex words (8+ characters).
    fn mask(&self, output: &str) -> String {
        let mut text = mask_ids(output);
        for (i, re) in self.volatile.iter().enumerate() {
            let is_hex_word = i + 1 == self.volatile.len();
            text = re
                .replace_all(
                    &text,
                    |c: &regex::Captures<'_>| {
                        if is_hex_word && c[0].len() < 8 {
                            c[0].to_string()
                        } else {
                            "~".to_string()
                        }
                    },
                )
                .into_owned();
        }
        text
    }

    /// The shape of a call: case-folded, paths as their basename, hex ids as `H`, numbers as
    /// `N`, whitespace runs as one space.
    pub(super) fn normalize(&self, text: &str) -> String {
        let lower = text.to_lowercase();
        let no_paths = self.path.replace_all(&lower, "$1");
        let no_hex = self.hex.replace_all(&no_paths, |c: &regex::Captures<'_>| {
            // Short hex-looking words are ordinary words or numbers ("a1", "3f"); left to `N`.
            if c[0].len() >= 6 || c[0].starts_with("0x") {
                "H".to_string()
            } else {
                c[0].to_string()
            }
        });
        let no_numbers = self.number.replace_all(&no_hex, "N");
        no_numbers.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// What one occurrence returned.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Not answered in the window: fits any result.
    Unknown,
    /// A result that tells progress apart but proves no stall: a command's exit 0, its output
    /// unseen.
    Bare(String),
    /// A result seen in full.
    Known(String),
}

impl Outcome {
    fn text(&self) -> Option<&str> {
        match self {
            Outcome::Unknown => None,
            Outcome::Bare(t) | Outcome::Known(t) => Some(t),
        }
    }

    fn fits(&self, other: &Outcome) -> bool {
        match (self.text(), other.text()) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    fn proves(&self) -> bool {
        matches!(self, Outcome::Known(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Tool,
    Command,
    /// A reply with no tool call (agents such as aider edit through their replies).
    Reply,
}

/// One tool call or top-level command, as the loop detectors see it.
#[derive(Debug)]
struct Item {
    source: Source,
    key: String,
    near: String,
    outcome: Outcome,
    /// How a person would write it: `read_file {"path":"a"}`, `pytest -q`.
    label: String,
    /// The result is a failure: a non-zero exit, or output that says so (or is empty).
    failed: bool,
    first_idx: usize,
    is_new: bool,
    evidence: Vec<Evidence>,
    /// The `llm_call` of the turn a command ran in (see `Candidate::related`).
    related: Option<String>,
}

fn tool_items(view: &View<'_>, m: &LoopMatcher) -> Vec<Item> {
    view.uses
        .iter()
        .map(|u| {
            let turn = &view.turns[u.turn];
            let label = one_line(&format!("{} {}", u.call.name, u.args), 100);
            let said = match u.result {
                Some(r) => format!("called {label} -> {}", one_line(r, 80)),
                None => format!("called {label} (no result in this window)"),
            };
            Item {
                source: Source::Tool,
                near: m.normalize(&u.key),
                key: u.key.clone(),
                outcome: u.result.map_or(Outcome::Unknown, |r| Outcome::Known(m.mask(r))),
                label,
                failed: u.result.is_some_and(|r| r.trim().is_empty() || m.failure.is_match(r)),
                first_idx: turn.idx,
                is_new: turn.is_new,
                evidence: vec![Evidence::of(turn.event, said)],
                related: None,
            }
        })
        .collect()
}

fn command_items(view: &View<'_>, m: &LoopMatcher) -> Vec<Item> {
    let events = &view.events;
    view.commands
        .iter()
        .enumerate()
        .filter(|(i, c)| c.is_top(*i) && !view.is_housekeeping(c))
        .map(|(_, c)| {
            let label = display_argv(c.argv);
            let outcome = match (c.status, view.command_output(c)) {
                (None, _) => Outcome::Unknown,
                (Some(status), Some(out)) => Outcome::Known(format!("{status:?}\n{}", m.mask(out))),
                (Some(status), None) if status != (0, 0) => Outcome::Known(format!("{status:?}")),
                (Some(status), None) => Outcome::Bare(format!("{status:?}")),
            };
            let mut evidence = vec![Evidence::of(events[c.last_exec()], format!("ran {label}"))];
            evidence.extend(c.exit.map(|x| Evidence::of(events[x], c.outcome_line())));
            // The tool call that ran it is part of what it is: a wrapper script at a new temp
            // path for every call is one argv shape doing different work.
            let near = m.normalize(&mask_ids(&c.argv.join(" ")));
            let near = match c.tool_use {
                Some(u) => format!("{near}|{}", m.normalize(&view.uses[u].key)),
                None => near,
            };
            Item {
                source: Source::Command,
                key: mask_ids(&c.argv.join("\0")),
                near,
                outcome,
                label,
                failed: c.status.is_some_and(|s| s != (0, 0)),
                first_idx: c.execs[0],
                is_new: view.is_new(c.last_idx()),
                evidence,
                related: c.turn.map(|t| view.turns[t].event.id()),
            }
        })
        .collect()
}

/// Replies that call no tool, long enough to be work (an edit, a plan), with what the next
/// request brought back (the harness's or the user's answer).
fn reply_items(view: &View<'_>, m: &LoopMatcher) -> Vec<Item> {
    const MIN_CHARS: usize = 60;
    view.turns
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            !t.side && t.call.response.tool_calls.is_empty() && t.call.response.text.trim().chars().count() >= MIN_CHARS
        })
        .map(|(i, t)| {
            let answer: Option<String> = view.turns.get(i + 1).and_then(|next| {
                // The harness's answer comes first; what the person adds after it is not the
                // result of the reply.
                next.call.request.new_messages().first().map(|m| m.content.clone())
            });
            let text = &t.call.response.text;
            let label = one_line(text, 100);
            // An edit sent as code blocks is the same edit whatever is said around it.
            let blocks: Vec<&str> = m.code_block.find_iter(text).map(|c| c.as_str()).collect();
            let what = if blocks.is_empty() { text.clone() } else { blocks.join("\n") };
            Item {
                source: Source::Reply,
                key: m.normalize(&mask_ids(&what)),
                near: m.normalize(&mask_ids(&what)),
                outcome: answer.as_deref().map_or(Outcome::Unknown, |a| Outcome::Known(m.mask(a))),
                failed: answer.as_deref().is_some_and(|a| m.failure.is_match(a)),
                first_idx: t.idx,
                is_new: t.is_new,
                evidence: vec![Evidence::of(t.event, format!("replied \"{label}\""))],
                label,
                related: None,
            }
        })
        .collect()
}

/// Whether the user asked for the repetition: then repeating is doing as told.
fn user_asked_to_repeat(view: &View<'_>, m: &LoopMatcher) -> bool {
    let instructions = view.window.context.instructions.as_deref().into_iter();
    let said = view
        .turns
        .iter()
        .flat_map(|t| t.call.request.messages.iter().filter(|msg| msg.role == "user").map(|msg| msg.content.as_str()));
    instructions.chain(said).any(|text| m.repeat_request.is_match(text))
}

/// All loop findings of a window.
pub(crate) fn detect(view: &View<'_>, m: &LoopMatcher, cfg: &DetectConfig) -> Vec<Candidate> {
    let mut out = Vec::new();
    if user_asked_to_repeat(view, m) {
        return out;
    }
    out.extend(repeats(&reply_items(view, m), cfg.min_repeats, false));
    for items in [tool_items(view, m), command_items(view, m)] {
        out.extend(repeats(&items, cfg.min_repeats, false));
        out.extend(repeats(&items, cfg.min_repeats, true));
        out.extend(cycles(&items, cfg));
    }
    out.extend(retry_same_error(view, m, cfg.min_repeats));
    out
}

/// The most times one exact tool call or command occurs in the window.
pub(crate) fn max_repeats(view: &View<'_>) -> usize {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for u in &view.uses {
        *counts.entry(u.key.clone()).or_default() += 1;
    }
    for (i, c) in view.commands.iter().enumerate() {
        if c.is_top(i) {
            *counts.entry(format!("$ {}", c.argv.join("\0"))).or_default() += 1;
        }
    }
    counts.into_values().max().unwrap_or(0)
}

/// The last stall of one call's occurrences: from the last change of result to the end.
fn last_stall<'g, 'i>(occurrences: &'g [&'i Item]) -> &'g [&'i Item] {
    let mut start = 0;
    let mut seen: Option<&str> = None;
    for (pos, item) in occurrences.iter().enumerate() {
        if let Some(text) = item.outcome.text() {
            if seen.is_some_and(|s| s != text) {
                start = pos;
            }
            seen = Some(text);
        }
    }
    &occurrences[start..]
}

/// `exact_repeat` (`near` false) or `near_repeat` (`near` true) over one sequence.
fn repeats(items: &[Item], min: usize, near: bool) -> Vec<Candidate> {
    let mut groups: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for item in items {
        let key = if near { &item.near } else { &item.key };
        groups.entry(key).or_default().push(item);
    }
    let mut out = Vec::new();
    for group in groups.values() {
        let stall = last_stall(group);
        let proofs = stall.iter().filter(|i| i.outcome.proves()).count();
        let Some(last) = stall.last() else { continue };
        if stall.len() < min || proofs + 1 < min || !last.is_new {
            continue;
        }
        let n = stall.len();
        let first = stall[0];
        let mut spellings: Vec<&str> = stall.iter().map(|i| i.key.as_str()).collect();
        spellings.sort_unstable();
        spellings.dedup();
        let what = match first.source {
            Source::Tool => "tool call",
            Source::Command => "command",
            Source::Reply => "reply",
        };
        let (detector, score, rationale) = if near {
            let failed = stall.iter().any(|i| i.failed);
            if spellings.len() < 2 || !failed {
                continue; // one spelling is `exact_repeat`'s; see the module docs on success
            }
            (
                    "near_repeat",
                    score(NEAR_SCORE, n - min, 0.75),
                    format!(
                        "The {what} `{}` and {} variants differing only in numbers, ids, paths or case ran {n} times with the same result each time.",
                        first.label,
                        spellings.len() - 1
                    ),
                )
        } else {
            (
                "exact_repeat",
                score(EXACT_SCORE, n - min, SCORE_CAP),
                format!(
                    "The {what} `{}` ran {n} times with the same result each time, so the agent made no progress.",
                    first.label
                ),
            )
        };
        out.push(Candidate {
            kind: FindingKind::Loop,
            detector,
            score,
            rationale,
            evidence: stall.iter().flat_map(|i| i.evidence.iter().cloned()).collect(),
            related: stall.iter().filter_map(|i| i.related.clone()).collect(),
            at: first.first_idx,
        });
    }
    out
}

/// `cycle`: the longest run where every step equals the step one period before (same call,
/// compatible result), over at least `min_cycle_reps` full periods.
fn cycles(items: &[Item], cfg: &DetectConfig) -> Vec<Candidate> {
    let mut out = Vec::new();
    for period in 2..=cfg.max_cycle_period {
        let mut start = 0;
        while start + period <= items.len() {
            let first_round = &items[start..start + period];
            let mut keys: Vec<&str> = first_round.iter().map(|i| i.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            let mut end = start + period;
            let mut known_equal = 0;
            while end < items.len() {
                let (a, b) = (&items[end - period], &items[end]);
                if a.key != b.key || !a.outcome.fits(&b.outcome) {
                    break;
                }
                known_equal += usize::from(a.outcome.proves() && b.outcome.proves());
                end += 1;
            }
            let rounds = (end - start) / period;
            let span = &items[start..start + rounds * period];
            // A period of one repeated call is a repeat, not a cycle; the results must be
            // seen to repeat, not merely be unknown.
            let proven = known_equal >= (period - 1).max(1);
            // A later occurrence of one of its steps with another result got out of it.
            let escaped = items[start + rounds * period..]
                .iter()
                .any(|later| span.iter().any(|step| step.key == later.key && !step.outcome.fits(&later.outcome)));
            if keys.len() >= 2
                && !escaped
                && rounds >= cfg.min_cycle_reps
                && proven
                && span.last().is_some_and(|i| i.is_new)
            {
                let steps: Vec<String> = first_round.iter().map(|i| format!("`{}`", i.label)).collect();
                out.push(Candidate {
                    kind: FindingKind::Loop,
                    detector: "cycle",
                    score: score(CYCLE_SCORE, (rounds - cfg.min_cycle_reps) * 2, 0.9),
                    rationale: format!(
                        "The agent went round the same {period} steps {rounds} times ({}) with the same results each round.",
                        steps.join(" -> ")
                    ),
                    evidence: span.iter().flat_map(|i| i.evidence.iter().cloned()).collect(),
                    related: span.iter().filter_map(|i| i.related.clone()).collect(),
                    at: span[0].first_idx,
                });
                start += rounds * period;
            } else {
                start += 1;
            }
        }
    }
    out
}

/// `retry_same_error`: per argv, streaks of failures with one status (unknown results skipped),
/// with no success of that argv after the streak.
fn retry_same_error(view: &View<'_>, m: &LoopMatcher, min: usize) -> Vec<Candidate> {
    let mut by_argv: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in view.commands.iter().enumerate() {
        if c.is_top(i) && !view.is_housekeeping(c) {
            by_argv.entry(mask_ids(&c.argv.join("\0"))).or_default().push(i);
        }
    }
    let events = &view.events;
    let mut out = Vec::new();
    for runs in by_argv.values() {
        let cmds: Vec<_> = runs.iter().map(|&i| &view.commands[i]).collect();
        let mut streaks: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for (pos, c) in cmds.iter().enumerate() {
            match c.failed() {
                None => {}
                Some(false) => streaks.push(std::mem::take(&mut current)),
                Some(true) => {
                    // A different status, or different output, is a different failure.
                    let output = |c: &Command<'_>| view.command_output(c).map(|o| m.mask(o));
                    let changed = current.last().is_some_and(|&p| {
                        cmds[p].status != c.status
                            || matches!((output(cmds[p]), output(c)), (Some(a), Some(b)) if a != b)
                    });
                    if changed {
                        streaks.push(std::mem::take(&mut current));
                    }
                    current.push(pos);
                }
            }
        }
        streaks.push(current);
        for streak in streaks {
            let (Some(&first), Some(&last)) = (streak.first(), streak.last()) else {
                continue;
            };
            let succeeded_later = cmds[last + 1..].iter().any(|c| c.failed() == Some(false));
            if streak.len() < min || succeeded_later || !view.is_new(cmds[last].last_idx()) {
                continue;
            }
            let c = cmds[first];
            let status = match c.status {
                Some((_, signal)) if signal != 0 => format!("killed by signal {signal}"),
                Some((code, _)) => format!("exit {code}"),
                None => String::new(),
            };
            let evidence = streak
                .iter()
                .flat_map(|&p| {
                    let c = cmds[p];
                    c.exit.map(|x| Evidence::of(events[x], c.outcome_line()))
                })
                .collect();
            out.push(Candidate {
                kind: FindingKind::Loop,
                detector: "retry_same_error",
                score: score(RETRY_SCORE, streak.len() - min, SCORE_CAP),
                rationale: format!(
                    "The command `{}` failed {} times in a row with the same status ({status}) and did not succeed later in this window.",
                    display_argv(c.argv),
                    streak.len()
                ),
                evidence,
                related: streak
                    .iter()
                    .filter_map(|&p| cmds[p].turn.map(|t| view.turns[t].event.id()))
                    .collect(),
                at: c.execs[0],
            });
        }
    }
    out
}

fn score(base: f64, extra: usize, cap: f64) -> f64 {
    (base + SCORE_STEP * extra as f64).min(cap)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testkit::WindowBuilder;
    use super::super::DetectConfig;
    use super::*;

    /// The strongest candidate of each loop detector, before candidates are merged into
    /// findings (`super::super::tests` covers the merge), by detector name.
    fn run(b: &WindowBuilder) -> Vec<Candidate> {
        let w = b.build();
        let view = View::new(&w);
        let m = LoopMatcher::new().expect("patterns");
        let mut best: Vec<Candidate> = Vec::new();
        for c in detect(&view, &m, &DetectConfig::default()) {
            match best.iter_mut().find(|b| b.detector == c.detector) {
                Some(b) if c.beats(b) => *b = c,
                Some(_) => {}
                None => best.push(c),
            }
        }
        best.sort_by_key(|c| c.detector);
        best
    }

    /// (detector, score) of each loop detector's strongest candidate.
    fn found(b: &WindowBuilder) -> Vec<(String, f64)> {
        run(b).into_iter().map(|f| (f.detector.to_string(), f.score)).collect()
    }

    fn detectors_found(b: &WindowBuilder) -> Vec<String> {
        found(b).into_iter().map(|(d, _)| d).collect()
    }

    fn read(path: &str) -> (&'static str, serde_json::Value) {
        ("read_file", json!({ "path": path }))
    }

    #[test]
    fn mask_hides_times_durations_and_long_hex_only() {
        let m = LoopMatcher::new().expect("patterns");
        assert_eq!(
            m.mask("3 failed in 0.52s at 2024-05-01T10:00:01Z id deadbeef42 ptr 0x7ffd"),
            "3 failed in ~ at ~ id ~ ptr ~"
        );
        assert_eq!(m.mask("2/3 ready (a1 b2)"), "2/3 ready (a1 b2)");
    }

    #[test]
    fn normalize_folds_numbers_hex_paths_case_and_spaces() {
        let m = LoopMatcher::new().expect("patterns");
        assert_eq!(m.normalize("curl  http://LOCALHOST:8001/health"), m.normalize("curl http://localhost:8002/health"));
        assert_eq!(m.normalize("cat /tmp/run-42/out.txt"), "cat out.txt");
        assert_eq!(m.normalize("cat ./out.txt"), "cat out.txt");
        assert_eq!(m.normalize("git show A3F9C2E1"), "git show H");
        assert_eq!(m.normalize("sleep 5 &&   kubectl get pods"), "sleep N && kubectl get pods");
    }

    #[test]
    fn exact_repeat_of_a_tool_call_with_the_same_result() {
        let mut b = WindowBuilder::new();
        for _ in 0..3 {
            b.llm("", &[read("/src/missing.py")]);
            b.result("Error: no such file");
        }
        b.llm("", &[]);
        let f = run(&b);
        let exact: Vec<_> = f.iter().filter(|f| f.detector == "exact_repeat").collect();
        assert_eq!(exact.len(), 1);
        assert_eq!(exact[0].kind, "loop");
        assert_eq!(exact[0].score, EXACT_SCORE);
        assert!(exact[0].rationale.contains(r#"read_file {"path":"/src/missing.py"}"#), "{}", exact[0].rationale);
        assert_eq!(exact[0].evidence.len(), 3);
        assert!(exact[0].evidence[0].summary.contains("Error: no such file"));
    }

    #[test]
    fn the_last_unanswered_repeat_still_counts_but_two_known_results_are_needed() {
        let mut b = WindowBuilder::new();
        b.llm("", &[read("a")]);
        b.result("same");
        b.llm("", &[read("a")]);
        b.result("same");
        b.llm("", &[read("a")]);
        assert_eq!(detectors_found(&b), vec!["exact_repeat"]);

        let mut b = WindowBuilder::new();
        b.llm("", &[read("a")]);
        b.result("same");
        b.llm("", &[read("a")]);
        b.llm("", &[read("a")]);
        assert!(found(&b).is_empty(), "one known result proves no stall");
    }

    #[test]
    fn more_repeats_score_higher() {
        let mut b = WindowBuilder::new();
        for _ in 0..6 {
            b.llm("", &[read("a")]);
            b.result("same");
        }
        b.llm("", &[]);
        assert_eq!(found(&b), vec![("exact_repeat".into(), EXACT_SCORE + 3.0 * SCORE_STEP)]);
    }

    #[test]
    fn hard_negative_polling_with_progress_is_not_a_loop() {
        let mut b = WindowBuilder::new();
        let poll = || ("bash", json!({"command": "kubectl get pods"}));
        for ready in ["1/3 ready", "2/3 ready", "2/3 ready", "3/3 ready"] {
            b.llm("", &[poll()]);
            b.cmd(&["kubectl", "get", "pods"], 0);
            b.result(ready);
        }
        b.llm("The pods are up.", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn a_stall_after_progress_is_a_loop() {
        let mut b = WindowBuilder::new();
        for out in ["1/3 ready", "2/3 ready", "2/3 ready", "2/3 ready"] {
            b.llm("", &[("bash", json!({"command": "kubectl get pods"}))]);
            b.cmd(&["kubectl", "get", "pods"], 0);
            b.result(out);
        }
        b.llm("", &[]);
        let f = run(&b);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].detector, "exact_repeat");
        assert_eq!(f[0].evidence.len(), 3, "the tool calls of the stall (they came first)");
    }

    #[test]
    fn hard_negative_read_only_command_with_changing_results() {
        let mut b = WindowBuilder::new();
        for n in 0..4 {
            b.llm("", &[("bash", json!({"command": "tail -n 5 build.log"}))]);
            b.cmd(&["tail", "-n", "5", "build.log"], 0);
            b.result(&format!("compiling crate {n} of 40"));
        }
        b.llm("", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn hard_negative_two_different_commands_each_run_once() {
        let mut b = WindowBuilder::new();
        b.llm("", &[("bash", json!({"command": "cargo build"}))]);
        b.cmd(&["cargo", "build"], 101);
        b.result("error[E0425]");
        b.llm("", &[("bash", json!({"command": "cargo test"}))]);
        b.cmd(&["cargo", "test"], 101);
        b.result("error[E0425]");
        b.llm("", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn successful_commands_with_unknown_output_are_no_loop() {
        let mut b = WindowBuilder::new();
        for _ in 0..5 {
            b.cmd(&["git", "status", "--porcelain"], 0);
        }
        assert!(found(&b).is_empty());
    }

    #[test]
    fn a_loop_entirely_in_the_overlap_was_reported_before() {
        let mut b = WindowBuilder::new();
        for _ in 0..3 {
            b.llm("", &[read("a")]);
            b.result("same");
        }
        b.mark_overlap();
        b.llm("", &[read("b")]);
        assert!(found(&b).is_empty());
    }

    #[test]
    fn near_repeat_of_variants_with_the_same_result() {
        let mut b = WindowBuilder::new();
        for port in ["8001", "8002", "8003"] {
            b.llm("", &[("bash", json!({"command": format!("curl localhost:{port}/health")}))]);
            b.result("curl: (7) Failed to connect: Connection refused");
        }
        b.llm("", &[]);
        let f = run(&b);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].detector, "near_repeat");
        assert_eq!(f[0].score, NEAR_SCORE);
        assert!(f[0].score < EXACT_SCORE);
        assert!(f[0].rationale.contains("2 variants"), "{}", f[0].rationale);
    }

    #[test]
    fn hard_negative_variants_that_all_succeed_are_different_work() {
        let mut b = WindowBuilder::new();
        for n in 1..=4 {
            b.llm("", &[("write_file", json!({"path": format!("part{n}.txt"), "text": "x"}))]);
            b.result("wrote 1 line");
        }
        b.llm("", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn hard_negative_paging_through_a_file_is_progress() {
        let mut b = WindowBuilder::new();
        for (range, text) in [("1,50p", "fn a"), ("51,100p", "fn b"), ("101,150p", "fn c")] {
            b.llm("", &[("bash", json!({"command": format!("sed -n {range} src/lib.rs")}))]);
            b.result(text);
        }
        b.llm("", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn cycle_of_two_tool_calls_with_repeating_results() {
        let mut b = WindowBuilder::new();
        let edit = || ("edit_file", json!({"path": "a.py", "old": "x = 1", "new": "x = 2"}));
        let test = || ("bash", json!({"command": "pytest -q"}));
        for _ in 0..2 {
            b.llm("", &[edit()]);
            b.result("edited");
            b.llm("", &[test()]);
            b.result("1 failed");
        }
        b.llm("", &[]);
        let f = run(&b);
        assert_eq!(detectors_found(&b), vec!["cycle"], "{f:?}");
        assert_eq!(f[0].score, CYCLE_SCORE);
        assert!(f[0].rationale.contains("2 steps 2 times"), "{}", f[0].rationale);
        assert_eq!(f[0].evidence.len(), 4);
    }

    #[test]
    fn hard_negative_a_cycle_the_agent_got_out_of() {
        let mut b = WindowBuilder::new();
        for code in [1, 1, 0] {
            b.cmd(&["python", "fix.py"], 0);
            b.cmd(&["pytest", "-q"], code);
        }
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn cycle_of_three_commands() {
        let mut b = WindowBuilder::new();
        for _ in 0..3 {
            b.cmd(&["make", "clean"], 2);
            b.cmd(&["make"], 2);
            b.cmd(&["./run.sh"], 127);
        }
        let f = run(&b);
        let cycle = f.iter().find(|f| f.detector == "cycle").expect("a cycle");
        assert!(cycle.rationale.contains("3 steps 3 times"), "{}", cycle.rationale);
        assert_eq!(cycle.score, CYCLE_SCORE + 2.0 * SCORE_STEP);
    }

    #[test]
    fn hard_negative_cycle_whose_results_change() {
        let mut b = WindowBuilder::new();
        for n in 0..3 {
            b.llm("", &[("edit_file", json!({"path": "a.py", "new": format!("x = {n}")}))]);
            b.result("edited");
            b.llm("", &[("bash", json!({"command": "pytest -q"}))]);
            b.result(&format!("{} failed", 3 - n));
        }
        b.llm("", &[]);
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn retry_same_error_with_unrelated_commands_between() {
        let mut b = WindowBuilder::new();
        for _ in 0..3 {
            b.cmd(&["cargo", "build"], 101);
            b.cmd(&["cat", "src/main.rs"], 0);
        }
        let f = run(&b);
        let retry = f.iter().find(|f| f.detector == "retry_same_error").expect("retry");
        assert_eq!(retry.score, RETRY_SCORE);
        assert!(retry.rationale.contains("`cargo build` failed 3 times"), "{}", retry.rationale);
        assert_eq!(retry.evidence[0].summary, "cargo build exited 101");
    }

    #[test]
    fn hard_negative_a_retry_that_then_succeeds() {
        let mut b = WindowBuilder::new();
        for code in [101, 101, 101, 0] {
            b.cmd(&["cargo", "build"], code);
        }
        assert!(found(&b).is_empty(), "{:?}", found(&b));
    }

    #[test]
    fn different_exit_codes_are_different_errors() {
        let mut b = WindowBuilder::new();
        for code in [1, 2, 1, 2] {
            b.cmd(&["npm", "test"], code);
        }
        assert!(!detectors_found(&b).contains(&"retry_same_error".to_string()));
    }

    #[test]
    fn max_repeats_counts_tool_calls_and_top_level_commands() {
        let mut b = WindowBuilder::new();
        b.llm("", &[read("a"), read("a")]);
        for _ in 0..3 {
            b.cmd(&["ls"], 0);
        }
        let w = b.build();
        assert_eq!(max_repeats(&View::new(&w)), 3);
    }
}
