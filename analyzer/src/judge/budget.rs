//! The daily token budget: tokens spent per UTC day, checked before each judge request.
//!
//! [`Budget`] is pure: the caller passes the time, so the day rollover is testable. Usage comes
//! from the API's `usage`, capped by [`cap_usage`] so that a server cannot claim more than a
//! request and its answer can have cost; when an answer has none, its tokens are estimated at
//! four characters a token.
//!
//! A judge built for a data directory keeps the day's spend in [`BUDGET_FILE`] there, written
//! after every charged reply (temporary file, fsync, rename: a crash leaves the old file or the
//! new one), so a restart of `serve` does not hand out the day's budget again. A file from an
//! earlier day counts as nothing spent.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Nanoseconds in a day. Unix time has no leap seconds, so `ts_ns / DAY_NS` is the UTC day.
const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// The file in the data directory that holds the day's spend.
pub(crate) const BUDGET_FILE: &str = "judge_budget.json";

/// Tokens a chat template may add around the messages of a request.
const TEMPLATE_TOKENS: u64 = 1024;

/// Output tokens a reply may claim beyond its visible answer: reasoning models bill tokens they
/// do not return.
const HIDDEN_OUTPUT_TOKENS: u64 = 32_768;

/// The token estimate for `chars` characters of text.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// The usage a reply may claim, and whether its claim was over. A token stands for at least one
/// byte of text, so a request of `request_bytes` cannot have read more input tokens than that
/// (plus a chat template), nor an answer of `answer_bytes` have written more output tokens
/// (plus hidden reasoning). A server that claims 10^12 tokens would otherwise spend the day's
/// budget, and the sums over attempts, in one reply.
pub(crate) fn cap_usage((input, output): (u64, u64), request_bytes: usize, answer_bytes: usize) -> ((u64, u64), bool) {
    let max_input = (request_bytes as u64).saturating_add(TEMPLATE_TOKENS);
    let max_output = (answer_bytes as u64).saturating_add(HIDDEN_OUTPUT_TOKENS);
    let capped = (input.min(max_input), output.min(max_output));
    (capped, capped != (input, output))
}

/// Tokens spent on the current UTC day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Budget {
    /// Days since 1970-01-01, UTC.
    #[serde(rename = "utc_day")]
    day: u64,
    #[serde(rename = "input_tokens")]
    input: u64,
    #[serde(rename = "output_tokens")]
    output: u64,
}

impl Budget {
    /// Whether a request of `estimate` input tokens fits in `limit` tokens a day.
    pub(super) fn allows(&mut self, now_ns: u64, estimate: u64, limit: u64) -> bool {
        self.roll(now_ns);
        self.input.saturating_add(self.output).saturating_add(estimate) <= limit
    }

    pub(super) fn spend(&mut self, now_ns: u64, input: u64, output: u64) {
        self.roll(now_ns);
        self.input = self.input.saturating_add(input);
        self.output = self.output.saturating_add(output);
    }

    /// (input, output) tokens spent today.
    pub(super) fn today(&self, now_ns: u64) -> (u64, u64) {
        if now_ns / DAY_NS == self.day {
            (self.input, self.output)
        } else {
            (0, 0)
        }
    }

    /// The spend saved in `path`; nothing saved yet is a fresh budget. A file that cannot be
    /// read or parsed is an error rather than a fresh budget, which would spend the day twice.
    pub(super) fn load(path: &Path) -> Result<Budget> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Budget::default()),
            Err(source) => return Err(Error::Io { op: "read the judge's budget", path: path.to_path_buf(), source }),
        };
        serde_json::from_str(&text).map_err(|source| Error::Json {
            context: format!("parse the judge's budget `{}` (delete it to count the day from zero)", path.display()),
            source,
        })
    }

    /// Writes the spend to `path` atomically: a temporary file beside it, synced, renamed over.
    pub(super) fn save(&self, path: &Path) -> Result<()> {
        let io = |op: &'static str, p: &Path| {
            let path = p.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec(self)
            .map_err(|source| Error::Json { context: "serialise the judge's budget".into(), source })?;
        let mut file = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
        file.write_all(&json).and_then(|()| file.sync_all()).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("rename into place", path))
    }

    fn roll(&mut self, now_ns: u64) {
        let day = now_ns / DAY_NS;
        if day != self.day {
            *self = Budget { day, input: 0, output: 0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-05-01T23:59:00Z.
    const LATE: u64 = 1_714_607_940 * 1_000_000_000;
    const NEXT_DAY: u64 = LATE + 120 * 1_000_000_000;

    #[test]
    fn spending_counts_until_the_limit() {
        let mut b = Budget::default();
        assert!(b.allows(LATE, 900, 1000));
        b.spend(LATE, 700, 200);
        assert_eq!(b.today(LATE), (700, 200));
        assert!(b.allows(LATE, 100, 1000), "exactly at the limit is allowed");
        assert!(!b.allows(LATE, 101, 1000));
    }

    #[test]
    fn a_new_utc_day_starts_from_zero() {
        let mut b = Budget::default();
        b.spend(LATE, 1000, 0);
        assert!(!b.allows(LATE, 1, 1000));
        assert_eq!(b.today(NEXT_DAY), (0, 0), "reported as zero before any request");
        assert!(b.allows(NEXT_DAY, 1000, 1000));
        b.spend(NEXT_DAY, 10, 5);
        assert_eq!(b.today(NEXT_DAY), (10, 5));
    }

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(1), 1);
        assert_eq!(estimate_tokens(8), 2);
        assert_eq!(estimate_tokens(9), 3);
    }

    #[test]
    fn claims_are_capped_by_the_bytes_sent_and_answered() {
        assert_eq!(cap_usage((900, 40), 4000, 100), ((900, 40), false));
        let max = (4000 + TEMPLATE_TOKENS, 100 + HIDDEN_OUTPUT_TOKENS);
        assert_eq!(cap_usage((10u64.pow(12), 40), 4000, 100), ((max.0, 40), true));
        assert_eq!(cap_usage((u64::MAX, u64::MAX), 4000, 100), (max, true));
    }

    #[test]
    fn the_spend_survives_a_save_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(BUDGET_FILE);
        assert_eq!(Budget::load(&path).expect("none yet"), Budget::default());
        let mut b = Budget::default();
        b.spend(LATE, 700, 200);
        b.save(&path).expect("save");
        let loaded = Budget::load(&path).expect("load");
        assert_eq!(loaded.today(LATE), (700, 200));
        assert_eq!(loaded.today(NEXT_DAY), (0, 0));
        assert!(!path.with_extension("json.tmp").exists(), "renamed into place");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, r#"{"utc_day":19844,"input_tokens":700,"output_tokens":200}"#);

        std::fs::write(&path, "{\"utc_day\": 1").expect("write");
        let err = Budget::load(&path).expect_err("a damaged file is not a fresh budget");
        assert!(err.to_string().contains(BUDGET_FILE), "{err}");
    }
}
