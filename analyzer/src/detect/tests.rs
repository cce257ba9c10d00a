//! Tests of the detectors as a whole: config, the one-finding-per-detector rule, features, and
//! the invariants (proptest) over arbitrary windows.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;

use super::testkit::WindowBuilder;
use super::*;

fn detectors() -> &'static Detectors {
    static DETECTORS: OnceLock<Detectors> = OnceLock::new();
    DETECTORS.get_or_init(|| DetectConfig::default().build().expect("default config builds"))
}

#[test]
fn config_defaults_and_unknown_keys() {
    let cfg: DetectConfig = serde_json::from_str("{}").expect("empty config");
    assert_eq!(cfg, DetectConfig::default());
    assert_eq!((cfg.min_repeats, cfg.min_cycle_reps), (3, 2));
    let cfg: DetectConfig = serde_json::from_str(r#"{"min_repeats": 4}"#).expect("one key");
    assert_eq!(cfg.min_repeats, 4);
    let err = serde_json::from_str::<DetectConfig>(r#"{"min_repeat": 4}"#).expect_err("typo");
    assert!(err.to_string().contains("unknown field `min_repeat`"), "{err}");
}

#[test]
fn config_values_are_checked() {
    let bad = [
        DetectConfig { min_repeats: 1, ..Default::default() },
        DetectConfig { min_cycle_reps: 1, ..Default::default() },
        DetectConfig { max_cycle_period: 1, ..Default::default() },
        DetectConfig { max_evidence: 1, ..Default::default() },
        DetectConfig { extra_claim_patterns: vec!["(unclosed".into()], ..Default::default() },
    ];
    for cfg in bad {
        let shown = format!("{cfg:?}");
        let err = cfg.build().expect_err(&shown);
        assert!(err.to_string().starts_with("invalid config: detect: "), "{err}");
    }
}

#[test]
fn extra_claim_patterns_are_vague_claims() {
    let d = DetectConfig { extra_claim_patterns: vec![r"\bship it\b".into()], ..Default::default() }
        .build()
        .expect("builds");
    let mut b = WindowBuilder::new();
    b.cmd(&["./release.sh"], 1);
    b.llm("Ship it!", &[]);
    let f = d.run(&b.build());
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].detector.as_str(), f[0].score), ("claim_vs_record", 0.45));
    assert!(detectors().run(&b.build()).is_empty(), "not a claim by default");
}

#[test]
fn separate_loops_are_separate_findings_stamped_with_the_window() {
    let mut b = WindowBuilder::new();
    for _ in 0..3 {
        b.llm("", &[("read_file", json!({"path": "a"}))]);
        b.result("same");
    }
    for _ in 0..4 {
        b.llm("", &[("read_file", json!({"path": "b"}))]);
        b.result("same");
    }
    b.llm("", &[]);
    let w = b.build();
    let f = detectors().run(&w);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f[0].rationale.contains(r#""path":"a""#), "in order of their first event");
    assert!(f[1].rationale.contains(r#""path":"b""#));
    for f in &f {
        assert_eq!(f.detector, "exact_repeat");
        assert_eq!(f.ts_ns, w.end_ns);
        assert_eq!((f.session.as_str(), f.window_id.as_str()), ("s1", "s1:1"));
        assert_eq!(f.finding_id, Finding::anomaly_id("s1", FindingKind::Loop, &f.evidence[0].event));
        assert!(f.judge.is_none());
    }
}

#[test]
fn agreeing_detectors_make_one_finding_that_lists_them() {
    let mut b = WindowBuilder::new();
    for _ in 0..3 {
        b.llm("", &[("bash", json!({"command": "cargo build"}))]);
        b.cmd(&["cargo", "build"], 101);
        b.result("error[E0425]: cannot find value `x`");
    }
    b.llm("", &[]);
    let f = detectors().run(&b.build());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].detector, "retry_same_error", "the strongest speaks");
    assert_eq!(f[0].detectors, vec!["exact_repeat", "retry_same_error"]);
    let kinds: Vec<&str> = f[0].evidence.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["llm_call", "exec", "exit"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

#[test]
fn a_loop_across_a_window_boundary_is_one_finding_that_grows() {
    // Cut a session into windows as the collector does; the loop starts in the first window
    // and goes on in the second, which sees its start through its history.
    let mut b = WindowBuilder::new();
    for _ in 0..7 {
        b.llm("", &[("bash", json!({"command": "pytest -q"}))]);
        b.cmd(&["pytest", "-q"], 1);
        b.result("1 failed, 4 passed");
    }
    b.llm("Still failing.", &[]);
    let mut windower = model::windower::WindowerConfig::default().build();
    let mut windows = Vec::new();
    for ev in b.build().events {
        windows.extend(windower.push(ev));
    }
    windows.extend(windower.finish());
    assert!(windows.len() >= 2, "{} windows", windows.len());
    let findings: Vec<Vec<Finding>> = windows.iter().map(|w| detectors().run(w)).collect();
    let first = &findings[0];
    let (at, later) = findings.iter().enumerate().rev().find(|(_, f)| !f.is_empty()).expect("findings");
    assert!(at > 0, "a later window sees the loop go on: {findings:?}");
    assert_eq!((first.len(), later.len()), (1, 1), "{findings:?}");
    assert_eq!(first[0].finding_id, later[0].finding_id, "the same anomaly");
    assert!(later[0].evidence.len() > first[0].evidence.len(), "its evidence grew");
    assert!(later[0].rationale.contains("7 times"), "{}", later[0].rationale);
}

#[test]
fn long_loops_keep_the_first_and_last_evidence() {
    let mut b = WindowBuilder::new();
    for _ in 0..20 {
        b.cmd(&["make"], 2);
    }
    let w = b.build();
    let f = detectors().run(&w);
    let retry = f.iter().find(|f| f.detectors.iter().any(|d| d == "retry_same_error")).expect("retry");
    assert_eq!(retry.detectors, vec!["exact_repeat", "retry_same_error"]);
    assert_eq!(retry.evidence.len(), 12);
    let last_exit = w.events.last().expect("events");
    assert_eq!(retry.evidence[11].event, last_exit.id());
    assert!(retry.rationale.contains("20 times"), "{}", retry.rationale);
}

#[test]
fn features_count_the_new_part_of_the_window() {
    let mut b = WindowBuilder::new();
    b.llm("", &[("read_file", json!({"path": "a"}))]);
    b.result("x");
    b.cmd(&["pytest"], 1);
    b.mark_overlap();
    b.llm("", &[("read_file", json!({"path": "a"})), ("bash", json!({"command": "ls"}))]);
    b.result("x");
    b.result("y");
    b.cmd(&["ls"], 0);
    b.cmd(&["pytest"], 1);
    let pid = b.exec(&["sleep", "100"], 1);
    b.exit(9999, 0);
    b.llm("All tests pass.", &[]);
    let _ = pid;
    let w = b.build();
    let f = detectors().features(&w);
    assert_eq!(f.llm_turns, 2);
    assert_eq!(f.tool_calls, 2);
    assert_eq!(f.repeated_tool_call_ratio, 0.5, "read_file a repeats the overlap's call");
    assert_eq!(f.max_repeats, 2);
    assert_eq!((f.commands, f.failed_commands), (3, 1));
    assert!(f.success_claim);
    assert!(f.system_prompt_known);
    assert_eq!(
        f.counters,
        Counters { exits_unmatched: 1, commands_without_exit: 1, tool_results_unmatched: 0, undecoded_llm_calls: 0 }
    );
    let json = serde_json::to_value(&f).expect("serialise");
    assert_eq!(json["failed_commands"], 1);
}

#[test]
fn empty_window_has_no_findings() {
    let w = WindowBuilder::new().build();
    assert!(detectors().run(&w).is_empty());
    assert_eq!(detectors().features(&w), Features::default());
}

// --- invariants over arbitrary windows -------------------------------------------------------

const TEXTS: &[&str] = &[
    "",
    "All tests pass now.",
    "The tests failed, I will fix them.",
    "Done.",
    "Fixed the bug. It works now!",
    "测试通过。",
    "未完成",
    "Is it fixed?",
    "```\ndone\n```",
    "Build succeeded; no errors.",
    "ok",
];
const NAMES: &[&str] = &["bash", "read_file", "edit_file", "search"];
const RESULTS: &[&str] = &["same", "error: not found", "2/3 ready", "3/3 ready", "", "1 failed in 0.5s"];
const ARGVS: &[&[&str]] = &[
    &["pytest", "-q"],
    &["cargo", "build"],
    &["bash", "-c", "npm test"],
    &["ls", "/tmp/a1"],
    &["ls", "/tmp/a2"],
    &["grep", "x", "f"],
    &["make"],
];

/// Commands unrelated to everything in the pools (distinct words, no digits).
const UNRELATED: &[&str] = &["whoami", "uname", "hostname", "date", "id", "uptime"];

#[derive(Debug, Clone)]
enum Step {
    Llm {
        text: usize,
        calls: Vec<(usize, usize)>,
    },
    Result(usize),
    Cmd {
        argv: usize,
        code: i32,
    },
    Exec {
        pid: u32,
        ppid: u32,
        argv: usize,
    },
    Exit {
        pid: u32,
        code: i32,
        signal: u32,
    },
    Overlap,
    /// Links the last `Cmd` or `Exec` to the first tool call of the last turn.
    Link,
    /// A successful unrelated command (never generated, only inserted).
    Unrelated(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..TEXTS.len(), prop::collection::vec((0..NAMES.len(), 0..3usize), 0..3))
            .prop_map(|(text, calls)| Step::Llm { text, calls }),
        3 => (0..RESULTS.len()).prop_map(Step::Result),
        4 => (0..ARGVS.len(), prop_oneof![Just(0), Just(1), Just(2), Just(101)])
            .prop_map(|(argv, code)| Step::Cmd { argv, code }),
        1 => (2..60u32, 1..60u32, 0..ARGVS.len())
            .prop_map(|(pid, ppid, argv)| Step::Exec { pid, ppid, argv }),
        1 => (2..60u32, 0..3i32, prop_oneof![Just(0u32), Just(9)])
            .prop_map(|(pid, code, signal)| Step::Exit { pid, code, signal }),
        1 => Just(Step::Overlap),
        1 => Just(Step::Link),
    ]
}

/// Plays the steps; `Cmd` pids come from the builder (above any explicit pid).
fn play(steps: &[Step], session: &str) -> Window {
    let mut b = WindowBuilder::new();
    b.session(session);
    let mut overlap_done = false;
    let mut last_exec = None;
    for s in steps {
        match s {
            Step::Llm { text, calls } => {
                let calls: Vec<(&str, serde_json::Value)> =
                    calls.iter().map(|&(n, a)| (NAMES[n], json!({ "arg": a }))).collect();
                b.llm(TEXTS[*text], &calls);
            }
            Step::Result(r) => {
                b.result(RESULTS[*r]);
            }
            Step::Cmd { argv, code } => {
                b.cmd(ARGVS[*argv], *code);
                last_exec = Some(b.len() - 2);
            }
            Step::Exec { pid, ppid, argv } => {
                b.exec_as(*pid, *ppid, ARGVS[*argv]);
                last_exec = Some(b.len() - 1);
            }
            Step::Exit { pid, code, signal: 0 } => {
                b.exit(*pid, *code);
            }
            Step::Exit { pid, signal, .. } => {
                b.kill(*pid, *signal);
            }
            Step::Overlap if !overlap_done => {
                overlap_done = true;
                b.mark_overlap();
            }
            Step::Overlap => {}
            Step::Link => {
                if let Some(e) = last_exec {
                    b.link_exec(e, 0);
                }
            }
            Step::Unrelated(n) => {
                b.cmd(&[UNRELATED[*n]], 0);
            }
        }
    }
    b.build()
}

/// What a finding says, without the names of its session and window.
fn essence(f: &Finding) -> (FindingKind, String, u64, String, Vec<Evidence>) {
    (f.kind, f.detector.clone(), f.score.to_bits(), f.rationale.clone(), f.evidence.clone())
}

proptest! {
    #[test]
    fn findings_are_well_formed_on_any_window(steps in prop::collection::vec(step(), 0..40)) {
        let w = play(&steps, "s1");
        let findings = detectors().run(&w);
        let mut ids = std::collections::HashSet::new();
        let mut cited = std::collections::HashSet::new();
        for f in &findings {
            prop_assert!((0.0..=1.0).contains(&f.score), "{f:?}");
            prop_assert!(ids.insert(f.finding_id.clone()), "two findings {}", f.finding_id);
            prop_assert!(f.detectors.contains(&f.detector));
            let prefix = format!("{}/{}/", w.session, f.kind);
            prop_assert!(f.finding_id.starts_with(&prefix), "{}", f.finding_id);
            for e in &f.evidence {
                prop_assert!(cited.insert((f.kind, e.event.clone())), "two {} findings cite {}", f.kind, e.event);
            }
            prop_assert!(!f.evidence.is_empty() && f.evidence.len() <= 12);
            prop_assert!(!f.rationale.is_empty());
        }
        let features = detectors().features(&w);
        prop_assert!((0.0..=1.0).contains(&features.repeated_tool_call_ratio));
    }

    #[test]
    fn session_names_do_not_change_results(steps in prop::collection::vec(step(), 0..40)) {
        let a = play(&steps, "alpha");
        let b = play(&steps, "a-completely-different-session-7");
        let fa: Vec<_> = detectors().run(&a).iter().map(essence).collect();
        let fb: Vec<_> = detectors().run(&b).iter().map(essence).collect();
        prop_assert_eq!(fa, fb);
        prop_assert_eq!(detectors().features(&a), detectors().features(&b));
    }

    #[test]
    fn unrelated_successful_commands_create_no_findings(
        steps in prop::collection::vec(step(), 0..40),
        inserts in prop::collection::vec(0..41usize, 1..=UNRELATED.len()),
    ) {
        let before: Vec<_> = detectors().run(&play(&steps, "s1"))
            .into_iter().map(|f| f.detector).collect();
        let mut more = steps.clone();
        for (n, at) in inserts.into_iter().enumerate() {
            more.insert(at.min(more.len()), Step::Unrelated(n));
        }
        let after: Vec<_> = detectors().run(&play(&more, "s1"))
            .into_iter().map(|f| f.detector).collect();
        for d in &after {
            prop_assert!(before.contains(d), "{d} appeared; before: {before:?}");
        }
    }
}
