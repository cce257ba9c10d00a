//! Detection quality on labelled sessions: precision, recall and F1 per finding kind, and false
//! alarms on clean sessions (`evals/README.md` describes the set and its label format).
//!
//! A set is a directory of traces (`*.jsonl` or `*.jsonl.gz`, events as `record -o` writes them, one session
//! per file) and a `labels.jsonl` with one line per session: its file, whether it is clean, and
//! labels `{kind, turns: [first, last], note}`, turns counted from 1 over the session's
//! `llm_call`s. Each session goes through the path a recording takes: the windower with the
//! analyzer's window settings, then the detectors on every window, findings replaced by id as
//! the index replaces them.
//!
//! Scoring is per (session, kind). A label is found (a true positive) when a finding of its
//! kind cites an event in its turns, one turn of slack either side; otherwise it is missed (a
//! false negative). A session with findings of a kind that no label of that kind accounts for
//! has a false positive of that kind. A clean session with any finding is a false alarm.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use model::windower::WindowerConfig;
use model::{Event, EventBody, Finding, FindingKind};
use serde::{Deserialize, Serialize};

use crate::detect::Detectors;
use crate::{Error, Result};

/// One line of `labels.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLabels {
    /// The trace, relative to the set's directory.
    pub file: String,
    #[serde(default)]
    pub session: String,
    /// The agent whose shape the session has (`claude-code`, `gemini-cli`, ...).
    #[serde(default)]
    pub agent: String,
    /// A hard negative: no finding of any kind is right.
    pub clean: bool,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub note: String,
}

/// An anomaly a session holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub kind: String,
    /// First and last turn (1-based, over the session's `llm_call`s) it spans.
    pub turns: [usize; 2],
    #[serde(default)]
    pub note: String,
}

/// Counts and scores of one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindScore {
    pub labelled: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl KindScore {
    fn finish(&mut self) {
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        self.precision = ratio(self.true_positives, self.true_positives + self.false_positives);
        self.recall = ratio(self.true_positives, self.true_positives + self.false_negatives);
        self.f1 = if self.precision + self.recall == 0.0 {
            0.0
        } else {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        };
    }
}

/// What happened to one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionResult {
    pub file: String,
    pub agent: String,
    pub clean: bool,
    pub windows: usize,
    /// Labels no finding accounted for: `kind (turns a-b): note`.
    pub missed: Vec<String>,
    /// Findings no label accounted for (false positives, or extra findings of a kind whose
    /// label was found).
    pub unexpected: Vec<Finding>,
    /// Findings of the session.
    pub findings: Vec<Finding>,
}

/// What the judge said about one window, and what it cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judged {
    pub findings: Vec<Finding>,
    /// Prompts that got no valid answer.
    pub errors: usize,
    pub prompts: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub seconds: f64,
}

/// A judge for the eval: asked about every window with its deterministic findings.
pub type JudgeFn<'j> = &'j mut dyn FnMut(&model::Window, &[Finding]) -> Judged;

/// The judge's findings count from this score up (its answers come at every score).
pub const JUDGE_MIN_SCORE: f64 = 0.5;

/// What the judge cost over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JudgeCost {
    pub model: String,
    /// Windows the gate sent to the judge.
    pub windows: usize,
    pub prompts: usize,
    pub errors: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub seconds: f64,
    /// The agents' own tokens in the sessions run (their `usage`), for comparison.
    pub agent_tokens: u64,
}

/// The result of a run over a set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Set when a judge was asked too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeCost>,
    pub sessions: usize,
    pub clean_sessions: usize,
    /// Clean sessions with at least one finding.
    pub clean_with_findings: usize,
    pub false_alarm_rate: f64,
    pub windows: usize,
    /// Estimated tokens of the judge's digest per window: median, 95th percentile, largest.
    pub digest_tokens: [u64; 3],
    pub kinds: BTreeMap<String, KindScore>,
    pub results: Vec<SessionResult>,
}

/// Reads `labels.jsonl` of a set.
pub fn load_labels(dir: &Path) -> Result<Vec<SessionLabels>> {
    let path = dir.join("labels.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { op: "read", path: path.clone(), source })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let labels: SessionLabels = serde_json::from_str(line).map_err(|source| Error::Json {
            context: format!("read line {} of `{}`", n + 1, path.display()),
            source,
        })?;
        if let Some(l) =
            labels.labels.iter().find(|l| l.kind.parse::<FindingKind>().is_err() || l.turns[0] > l.turns[1])
        {
            return Err(Error::Config(format!(
                "line {} of `{}`: label kind `{}` turns {:?}: kind must be one of {:?} and turns [first, last]",
                n + 1,
                path.display(),
                l.kind,
                l.turns,
                FindingKind::ALL.map(FindingKind::as_str)
            )));
        }
        if labels.clean && !labels.labels.is_empty() {
            return Err(Error::Config(format!(
                "line {} of `{}`: a clean session has no labels",
                n + 1,
                path.display()
            )));
        }
        out.push(labels);
    }
    Ok(out)
}

/// Reads the events of a trace, gzipped when its name ends in `.gz` (recordings of real agents
/// are large and compress ~20×). Blank lines are skipped; any other bad line is an error, since
/// a labelled set must be exact.
pub fn load_trace(path: &Path) -> Result<Vec<Event>> {
    let io = |source| Error::Io { op: "read", path: path.to_path_buf(), source };
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        let file = std::fs::File::open(path).map_err(io)?;
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text).map_err(io)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(io)?
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|source| Error::Json {
                context: format!("read event on line {} of `{}`", n + 1, path.display()),
                source,
            })
        })
        .collect()
}

/// The findings the analyzer ends with for a session's events: every window detected, a
/// finding replacing the one with its id.
pub fn session_findings(
    events: Vec<Event>,
    window: &WindowerConfig,
    detectors: &Detectors,
    mut judge: Option<(JudgeFn<'_>, &mut JudgeCost)>,
) -> (Vec<model::Window>, Vec<Finding>) {
    let mut windower = window.clone().build();
    let mut windows = Vec::new();
    for ev in events {
        windows.extend(windower.push(ev));
    }
    windows.extend(windower.finish());
    let mut by_id: BTreeMap<String, Finding> = BTreeMap::new();
    for w in &windows {
        let found = detectors.run(w);
        if let Some((ask, cost)) = judge.as_mut() {
            let judged = ask(w, &found);
            if judged.prompts > 0 {
                cost.windows += 1;
            }
            cost.prompts += judged.prompts;
            cost.errors += judged.errors;
            cost.input_tokens += judged.input_tokens;
            cost.output_tokens += judged.output_tokens;
            cost.seconds += judged.seconds;
            for f in judged.findings.into_iter().filter(|f| f.score >= JUDGE_MIN_SCORE) {
                by_id.insert(f.finding_id.clone(), f);
            }
        }
        for f in found {
            by_id.insert(f.finding_id.clone(), f);
        }
    }
    let mut findings: Vec<Finding> = by_id.into_values().collect();
    findings.sort_by(|a, b| b.score.total_cmp(&a.score));
    (windows, findings)
}

/// The turn (1-based; 0 before the first `llm_call`) of each event id of a session.
fn turns_of(events: &[Event]) -> HashMap<String, usize> {
    let mut turn = 0;
    events
        .iter()
        .map(|e| {
            if matches!(e.body, EventBody::LlmCall(_)) {
                turn += 1;
            }
            (e.id(), turn)
        })
        .collect()
}

/// Which sessions of a set to run, and a judge to ask as well.
#[derive(Default)]
pub struct Options<'j> {
    /// Run only this many sessions, evenly spaced over the set (a judge is slow).
    pub sample: Option<usize>,
    pub judge: Option<(String, JudgeFn<'j>)>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("sample", &self.sample)
            .field("judge", &self.judge.as_ref().map(|j| &j.0))
            .finish()
    }
}

/// Runs the detectors (and a judge, if given) over a set and scores them.
pub fn run(
    dir: &Path,
    window: &WindowerConfig,
    detectors: &Detectors,
    mut options: Options<'_>,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Report> {
    let mut sets = load_labels(dir)?;
    if let Some(n) = options.sample.filter(|&n| n > 0 && n < sets.len()) {
        let step = sets.len() as f64 / n as f64;
        let picked: Vec<usize> = (0..n).map(|i| (i as f64 * step) as usize).collect();
        sets = picked.into_iter().map(|i| sets[i].clone()).collect();
    }
    let mut cost = options.judge.as_ref().map(|(model, _)| JudgeCost { model: model.clone(), ..JudgeCost::default() });
    let mut report = Report::default();
    let mut kinds: BTreeMap<String, KindScore> =
        FindingKind::ALL.iter().map(|k| (k.to_string(), KindScore::default())).collect();
    let mut digest_tokens: Vec<u64> = Vec::new();
    for (n, labels) in sets.iter().enumerate() {
        progress(n, sets.len(), &labels.file);
        let path: PathBuf = dir.join(&labels.file);
        let events = load_trace(&path)?;
        let turns = turns_of(&events);
        if let Some(c) = cost.as_mut() {
            c.agent_tokens += events
                .iter()
                .filter_map(|e| match &e.body {
                    EventBody::LlmCall(call) => call.usage.map(|u| u.input_tokens + u.output_tokens),
                    _ => None,
                })
                .sum::<u64>();
        }
        let judge = match (options.judge.as_mut(), cost.as_mut()) {
            (Some((_, ask)), Some(c)) => Some((&mut **ask as JudgeFn<'_>, c)),
            _ => None,
        };
        let (all_windows, findings) = session_findings(events, window, detectors, judge);
        let windows = all_windows.len();
        digest_tokens.extend(all_windows.iter().map(crate::judge::digest_tokens));
        report.windows += windows;
        let mut result = SessionResult {
            file: labels.file.clone(),
            agent: labels.agent.clone(),
            clean: labels.clean,
            windows,
            findings: findings.clone(),
            ..SessionResult::default()
        };
        let cites = |f: &Finding, l: &Label| {
            f.evidence.iter().filter_map(|e| turns.get(&e.event)).any(|&t| t + 1 >= l.turns[0] && t <= l.turns[1] + 1)
        };
        let mut accounted: BTreeSet<String> = BTreeSet::new();
        for kind in FindingKind::ALL {
            let score = kinds.entry(kind.to_string()).or_default();
            let of_kind: Vec<&Label> = labels.labels.iter().filter(|l| l.kind == kind.as_str()).collect();
            let found: Vec<&Finding> = findings.iter().filter(|f| f.kind == kind).collect();
            if !of_kind.is_empty() {
                score.labelled += 1;
                let hits: Vec<&&Finding> = found.iter().filter(|f| of_kind.iter().any(|l| cites(f, l))).collect();
                if hits.is_empty() {
                    score.false_negatives += 1;
                    result.missed.extend(
                        of_kind.iter().map(|l| format!("{kind} (turns {}-{}): {}", l.turns[0], l.turns[1], l.note)),
                    );
                } else {
                    score.true_positives += 1;
                }
                accounted.extend(hits.iter().map(|f| f.finding_id.clone()));
            }
            // A finding no label accounts for is a false positive of its kind in this session,
            // unless a label of the kind was found: then it counts as more detail of it (and is
            // still listed).
            let stray: Vec<&Finding> = found.into_iter().filter(|f| !accounted.contains(&f.finding_id)).collect();
            let labelled_and_found = !of_kind.is_empty() && !result.missed.iter().any(|m| m.starts_with(kind.as_str()));
            if !stray.is_empty() && !labelled_and_found {
                score.false_positives += 1;
            }
            result.unexpected.extend(stray.into_iter().cloned());
        }
        report.sessions += 1;
        if labels.clean {
            report.clean_sessions += 1;
            report.clean_with_findings += usize::from(!findings.is_empty());
        }
        report.results.push(result);
    }
    for score in kinds.values_mut() {
        score.finish();
    }
    report.kinds = kinds;
    report.judge = cost;
    digest_tokens.sort_unstable();
    let at = |q: f64| {
        digest_tokens.get(((digest_tokens.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0)
    };
    report.digest_tokens = [at(0.5), at(0.95), digest_tokens.last().copied().unwrap_or(0)];
    report.false_alarm_rate =
        if report.clean_sessions == 0 { 0.0 } else { report.clean_with_findings as f64 / report.clean_sessions as f64 };
    Ok(report)
}

/// The least a run must score: `evals/floors.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floors {
    /// The least F1 per kind.
    pub f1: BTreeMap<String, f64>,
    /// The most clean sessions with a finding, as a share.
    pub max_false_alarm_rate: f64,
}

impl Floors {
    pub fn parse(text: &str) -> Result<Floors> {
        toml::from_str(text).map_err(|e| Error::Config(format!("floors: {e}")))
    }

    /// What falls short, one line each; empty when the report meets every floor.
    pub fn check(&self, report: &Report) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, floor) in &self.f1 {
            let f1 = report.kinds.get(kind).map_or(0.0, |k| k.f1);
            if f1 < *floor {
                out.push(format!("{kind}: F1 {f1:.3} is below its floor {floor:.3}"));
            }
        }
        if report.false_alarm_rate > self.max_false_alarm_rate {
            out.push(format!(
                "clean sessions: {:.1} % have a finding, above the most allowed {:.1} %",
                100.0 * report.false_alarm_rate,
                100.0 * self.max_false_alarm_rate
            ));
        }
        out
    }
}

/// The report as a table and the misses, for a terminal.
pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let by = match &report.judge {
        Some(j) => format!("deterministic detectors and the judge `{}`", j.model),
        None => "deterministic detectors".to_string(),
    };
    out.push_str(&format!(
        "{} sessions ({} clean), {} windows, {by}\n\n",
        report.sessions, report.clean_sessions, report.windows
    ));
    out.push_str("kind            labelled   TP   FP   FN  precision  recall     F1\n");
    for kind in FindingKind::ALL {
        let k = report.kinds.get(kind.as_str()).cloned().unwrap_or_default();
        out.push_str(&format!(
            "{kind:<15} {:>8} {:>4} {:>4} {:>4}  {:>9.3}  {:>6.3}  {:>5.3}\n",
            k.labelled, k.true_positives, k.false_positives, k.false_negatives, k.precision, k.recall, k.f1
        ));
    }
    if let Some(j) = &report.judge {
        let per = |x: f64| if j.windows == 0 { 0.0 } else { x / j.windows as f64 };
        out.push_str(&format!(
            "\njudge: {} windows judged ({} prompts, {} errors); per judged window {:.0} tokens in, {:.0} out, {:.1} s; judge tokens are {:.1} % of the agents' own\n",
            j.windows,
            j.prompts,
            j.errors,
            per(j.input_tokens as f64),
            per(j.output_tokens as f64),
            per(j.seconds),
            if j.agent_tokens == 0 { 0.0 } else { 100.0 * (j.input_tokens + j.output_tokens) as f64 / j.agent_tokens as f64 }
        ));
    }
    let [p50, p95, max] = report.digest_tokens;
    out.push_str(&format!("\njudge digest per window: p50 {p50}, p95 {p95}, max {max} tokens (estimated)\n"));
    out.push_str(&format!(
        "clean sessions with a finding: {} of {} ({:.1} %)\n",
        report.clean_with_findings,
        report.clean_sessions,
        100.0 * report.false_alarm_rate
    ));
    let missed: Vec<&SessionResult> = report.results.iter().filter(|r| !r.missed.is_empty()).collect();
    if !missed.is_empty() {
        out.push_str("\nmissed:\n");
        for r in missed {
            for m in &r.missed {
                out.push_str(&format!("  {} [{}] {m}\n", r.file, r.agent));
            }
        }
    }
    let wrong: Vec<&SessionResult> = report.results.iter().filter(|r| !r.unexpected.is_empty()).collect();
    if !wrong.is_empty() {
        out.push_str("\nfalse alarms:\n");
        for r in wrong {
            for f in &r.unexpected {
                out.push_str(&format!(
                    "  {} [{}] {} {:.2} [{}] {}\n",
                    r.file,
                    r.agent,
                    f.kind,
                    f.score,
                    detectors(f),
                    f.rationale
                ));
            }
        }
    }
    if verbose {
        out.push_str("\nall findings:\n");
        for r in &report.results {
            for f in &r.findings {
                out.push_str(&format!("  {} {} {:.2} [{}] {}\n", r.file, f.kind, f.score, detectors(f), f.rationale));
            }
        }
    }
    out
}

/// The detectors of a finding, comma-separated (`judge` for the judge's).
fn detectors(f: &Finding) -> String {
    if f.detectors.is_empty() {
        f.detector.clone()
    } else {
        f.detectors.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_per_session_and_kind() {
        let mut k = KindScore { true_positives: 8, false_positives: 2, false_negatives: 2, ..KindScore::default() };
        k.finish();
        assert_eq!((k.precision, k.recall), (0.8, 0.8));
        assert!((k.f1 - 0.8).abs() < 1e-9);
        let mut empty = KindScore::default();
        empty.finish();
        assert_eq!(empty.f1, 1.0, "nothing labelled and nothing found is perfect");
    }

    #[test]
    fn floors_name_what_falls_short() {
        let floors = Floors::parse("max_false_alarm_rate = 0.03\n[f1]\nloop = 0.9\n").expect("floors");
        let mut report = Report { false_alarm_rate: 0.05, ..Report::default() };
        report.kinds.insert("loop".into(), KindScore { f1: 0.8, ..KindScore::default() });
        let short = floors.check(&report);
        assert_eq!(short.len(), 2, "{short:?}");
        assert!(short[0].contains("loop: F1 0.800 is below its floor 0.900"));
        report.kinds.insert("loop".into(), KindScore { f1: 0.95, ..KindScore::default() });
        report.false_alarm_rate = 0.0;
        assert!(floors.check(&report).is_empty());
        assert!(Floors::parse("[f1]\nloop = 0.9\nmax_false = 1\n").is_err(), "unknown keys are refused");
    }

    #[test]
    fn labels_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("labels.jsonl"),
            r#"{"file":"a.jsonl","clean":false,"labels":[{"kind":"loops","turns":[1,2]}]}"#,
        )
        .expect("write");
        let err = load_labels(dir.path()).expect_err("bad kind");
        assert!(err.to_string().contains("`loops`"), "{err}");
        std::fs::write(
            dir.path().join("labels.jsonl"),
            r#"{"file":"a.jsonl","clean":true,"labels":[{"kind":"loop","turns":[1,2]}]}"#,
        )
        .expect("write");
        assert!(load_labels(dir.path()).is_err(), "clean with labels");
    }
}
