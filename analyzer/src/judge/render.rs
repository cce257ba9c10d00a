//! Text helpers for the judge's prompts: fence codes, neutralising, clipping, and the signals
//! (the deterministic findings, as hints). The window itself is rendered by `digest`.
//!
//! Invariant: everything rendered from the trace passes [`neutralise`], so no trace text
//! contains `<<<`, the start of a fence marker: text in the trace can never close the fence the
//! prompt puts around it.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use model::{Finding, Window};

/// The smallest digest budget the layout is designed for (config validation enforces it).
pub(crate) const MIN_TRACE_CHARS: usize = 1000;

/// The rationale of one deterministic finding given as a signal.
const SIGNAL_CHARS: usize = 500;
const MAX_SIGNALS: usize = 20;

/// Makes `<<<` (how fence markers begin) impossible in untrusted text. The replacement holds no
/// `<`, so no new `<<<` can form around it.
pub(crate) fn neutralise(s: &str) -> String {
    s.replace("<<<", "‹‹‹")
}

/// A fresh fence nonce: 128 bits, hex. `RandomState` is seeded from the OS and differs per
/// instance, which is enough: the trace was written before the nonce existed.
pub(crate) fn nonce() -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    (0..2)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now);
            h.write_u8(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// `s` cut to at most `max` characters, with `…` marking a cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` clipped and JSON-quoted: newlines and quotes escaped, so it stays on one line.
fn quote(s: &str, max: usize) -> String {
    serde_json::Value::String(clip(s, max)).to_string()
}

/// The deterministic findings of this window, one line each, for the model to weigh; their
/// evidence is named by the digest's local ids (`local`: event id -> `e3`) where it has them.
pub(crate) fn signals(w: &Window, findings: &[Finding], local: &HashMap<String, String>) -> String {
    let lines: Vec<String> = findings
        .iter()
        .filter(|f| f.window_id == w.window_id)
        .take(MAX_SIGNALS)
        .map(|f| {
            let ids: Vec<String> =
                f.evidence.iter().filter_map(|e| local.get(&e.event)).map(|id| format!("[{id}]")).collect();
            format!(
                "- {} by {} (score {:.2}): {}; evidence: {}",
                f.kind,
                f.detector,
                f.score,
                quote(&f.rationale, SIGNAL_CHARS),
                if ids.is_empty() { "none".into() } else { ids.join(" ") }
            )
        })
        .collect();
    if lines.is_empty() {
        return "none".into();
    }
    neutralise(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::fixtures::*;
    use proptest::prelude::*;

    #[test]
    fn signals_list_this_windows_findings() {
        let w = window(vec![exec(1, 20, &["ls"])]);
        let none = HashMap::new();
        assert_eq!(signals(&w, &[], &none), "none");
        let mut other = finding(&w, "loop", 0.5);
        other.window_id = "other:1".into();
        let s = signals(&w, &[finding(&w, "loop", 0.8), other], &none);
        assert_eq!(s.lines().count(), 1, "{s}");
        assert!(s.starts_with("- loop by exact_repeat (score 0.80)"), "{s}");
    }

    #[test]
    fn nonces_are_fresh_128_bit_hex() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn neutralised_text_never_holds_a_marker_start(s in "[<a ]{0,40}") {
            prop_assert!(!neutralise(&s).contains("<<<"));
        }
    }
}
