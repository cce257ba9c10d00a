//! Windows: what the collector ships and the analyzer judges (`docs/DESIGN.md`, "Windows
//! and findings").
//!
//! A window is a few consecutive LLM turns of one session (a turn is one `llm_call` plus the
//! system actions until the next) with one turn of overlap with the window before, plus the
//! context the judge needs from earlier turns. Its id is `session:seq`, so a resend is idempotent.

use serde::{Deserialize, Serialize};

use crate::{Event, EventKind};

/// A slice of a session, ready to index and judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `session:seq`, see [`window_id`].
    pub window_id: String,
    pub session: String,
    /// 0, 1, 2, ... within the session.
    pub seq: u64,
    /// `ts_ns` of the first and last event.
    pub start_ns: u64,
    pub end_ns: u64,
    /// The events in time order; the first turn repeats the last turn of the window before
    /// (from the second window on: see `overlap_events`).
    pub events: Vec<Event>,
    /// How many events at the start of `events` were already in the window before.
    #[serde(default)]
    pub overlap_events: usize,
    #[serde(default)]
    pub context: WindowContext,
    /// Tool calls linked to the system actions they caused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Why the window was closed.
    pub closed_by: CloseReason,
}

/// The deterministic id of window `seq` of `session`.
pub fn window_id(session: &str, seq: u64) -> String {
    format!("{session}:{seq}")
}

/// What the judge needs from before this window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowContext {
    /// The session's system prompt (the agent's persona), from its first `llm_call` that had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// What the agent asserted in earlier windows (most recent last, bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_claims: Vec<Claim>,
    /// The command line of the session's root process, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// How many turns the session had before this window.
    #[serde(default)]
    pub turns_before: u64,
    /// The user messages of the first request of the session's main conversation (where
    /// agents put their project instructions: AGENTS.md, CLAUDE.md, ...), joined, cut at a cap. With `system_prompt` it
    /// is the agent's persona.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The working directory of the session's first `exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The turns just before the window, compacted (see `windower`): each `llm_call` with only
    /// the messages new to its request and long texts cut, and the `exec`, `exit` and
    /// file-changing events of its turn, oldest first. Detectors read them as context, so a
    /// loop or a claim that spans a window boundary is seen whole; they are never new evidence
    /// and are not indexed again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Event>,
}

/// Something the agent said in a response, kept for later windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub ts_ns: u64,
    /// The event the claim is in ([`Event::id`]).
    pub event: String,
    pub text: String,
}

/// A causal link: tool call `call_id` in the response of `llm_event` caused `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// [`Event::id`] of the `llm_call` whose response made the tool call.
    pub llm_event: String,
    pub call_id: String,
    pub tool: String,
    /// [`Event::id`] of the exec or file event.
    pub event: String,
    /// What matched.
    pub by: LinkBy,
}

/// How a tool call was matched to the event it caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkBy {
    /// An exec whose command line is in the call's arguments.
    Argv,
    /// A file event whose path is in the call's arguments.
    Path,
}

impl LinkBy {
    pub const ALL: [LinkBy; 2] = [LinkBy::Argv, LinkBy::Path];

    /// The string it serialises as.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkBy::Argv => "argv",
            LinkBy::Path => "path",
        }
    }
}

named!(LinkBy, "link match");

/// Why a window was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// It reached the configured number of turns.
    Turns,
    /// Its text reached the token budget.
    Tokens,
    /// No event arrived for the idle timeout.
    Idle,
    /// The session ended (or the trace did).
    SessionEnd,
}

/// An anomaly found in a window, by a detector or the judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Deterministic: `window_id/kind/detector`, so a re-analysis replaces rather than doubles.
    pub finding_id: String,
    pub session: String,
    pub window_id: String,
    pub kind: FindingKind,
    /// 0 (nothing wrong) to 1 (certain).
    pub score: f64,
    /// Which detector: e.g. `exact_repeat`, `retry_same_error`, `claim_vs_record`, `judge`.
    /// When several agree on one anomaly, the one whose score and rationale the finding has.
    pub detector: String,
    /// Every detector that found this anomaly, `detector` included (empty in findings made
    /// before detectors were merged: then `detector` alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<String>,
    pub rationale: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeInfo>,
    /// When the finding was made.
    pub ts_ns: u64,
}

/// What a finding says is wrong; also the name of the judge's prompt that asks about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The agent repeats itself without progress.
    Loop,
    /// The agent claims what the record contradicts.
    Contradiction,
    /// The agent acts against its persona (system prompt and instructions).
    PersonaDrift,
}

impl FindingKind {
    /// Every kind, in the order reports, rules and the judge's prompts list them.
    pub const ALL: [FindingKind; 3] = [FindingKind::Loop, FindingKind::Contradiction, FindingKind::PersonaDrift];

    /// The string it serialises as (and the index stores and filters on).
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::Loop => "loop",
            FindingKind::Contradiction => "contradiction",
            FindingKind::PersonaDrift => "persona_drift",
        }
    }
}

named!(FindingKind, "finding kind");

impl Finding {
    /// The id a finding of `kind` by `detector` in `window_id` gets (the judge's findings).
    pub fn id_for(window_id: &str, kind: FindingKind, detector: &str) -> String {
        format!("{window_id}/{kind}/{detector}")
    }

    /// The id of a deterministic finding: one anomaly of `kind` in `session`, named by the
    /// first event it cites. A later window that sees the same anomaly (through its overlap or
    /// history) gives the same id, so the finding is replaced, with its evidence grown, rather
    /// than doubled.
    pub fn anomaly_id(session: &str, kind: FindingKind, first_event: &str) -> String {
        format!("{session}/{kind}/{first_event}")
    }
}

/// An event a finding points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// [`Event::id`].
    pub event: String,
    pub ts_ns: u64,
    pub pid: u32,
    pub kind: EventKind,
    /// One line a person can read: the command and its exit, the claim, ...
    pub summary: String,
}

impl Evidence {
    pub fn of(ev: &Event, summary: impl Into<String>) -> Self {
        Evidence { event: ev.id(), ts_ns: ev.ts_ns, pid: ev.pid, kind: ev.body.event_kind(), summary: summary.into() }
    }
}

/// Who judged, with what, at what cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeInfo {
    pub model: String,
    /// `<prompt>.v<N>`, e.g. `loop.v1`.
    pub prompt_id: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The judge could not give a verdict on a window; recorded so that no answer is never read as
/// "no anomaly".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeError {
    pub session: String,
    pub window_id: String,
    pub prompt_id: String,
    /// What went wrong last, e.g. `429 Too Many Requests`, `answer is not valid JSON`.
    pub error: String,
    pub attempts: u32,
    pub ts_ns: u64,
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::str::FromStr;

    use super::*;

    /// The typed sets write the strings they replaced, so stored findings and windows still parse.
    #[test]
    fn closed_sets_serialise_as_their_names_and_parse_back() {
        fn check<T>(all: &[T], as_str: impl Fn(&T) -> &'static str)
        where
            T: Serialize + serde::de::DeserializeOwned + FromStr + PartialEq + fmt::Debug + fmt::Display,
            T::Err: fmt::Debug,
        {
            for k in all {
                let json = serde_json::to_string(k).expect("serialise");
                assert_eq!(json, format!("\"{}\"", as_str(k)));
                assert_eq!(&serde_json::from_str::<T>(&json).expect("parse"), k);
                assert_eq!(k.to_string(), as_str(k));
                assert_eq!(format!("{k:<16}|"), format!("{:<16}|", as_str(k)));
                assert_eq!(&as_str(k).parse::<T>().expect("from_str"), k);
            }
        }
        check(&FindingKind::ALL, |k| k.as_str());
        check(&EventKind::ALL, |k| k.as_str());
        check(&LinkBy::ALL, |k| k.as_str());
        let names: Vec<_> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["loop", "contradiction", "persona_drift"]);
    }

    #[test]
    fn an_unknown_name_says_what_is_known() {
        let e = "loops".parse::<FindingKind>().expect_err("not a kind");
        assert_eq!(e.to_string(), "unknown finding kind `loops` (known: loop, contradiction, persona_drift)");
        assert!("Loop".parse::<FindingKind>().is_err(), "names are case-sensitive, as in JSON");
    }

    /// A body's `EventKind` has the name of the body's `kind` tag.
    #[test]
    fn event_kinds_match_the_bodies_tags() {
        let ev = Event {
            ts_ns: 1,
            session: "s".into(),
            pid: 2,
            tid: 2,
            ppid: 1,
            comm: "sh".into(),
            body: crate::EventBody::Fork(crate::Fork { child_pid: 3 }),
        };
        assert_eq!(ev.body.event_kind(), EventKind::Fork);
        assert_eq!(ev.body.kind(), EventKind::Fork.as_str());
        assert_eq!(serde_json::to_value(&ev).expect("serialise")["kind"], "fork");
        let e = Evidence::of(&ev, "forked 3");
        assert_eq!(serde_json::to_value(&e).expect("serialise")["kind"], "fork");
    }
}
