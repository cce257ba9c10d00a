//! The daily token budget: tokens spent per UTC day, checked before each judge request.
//!
//! Pure: the caller passes the time, so the day rollover is testable. Usage comes from the API's
//! `usage`; when an answer has none, its tokens are estimated at four characters a token.

/// Nanoseconds in a day. Unix time has no leap seconds, so `ts_ns / DAY_NS` is the UTC day.
const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// The token estimate for `chars` characters of text.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// Tokens spent on the current UTC day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    day: u64,
    input: u64,
    output: u64,
}

impl Budget {
    /// Whether a request of `estimate` input tokens fits in `limit` tokens a day.
    pub fn allows(&mut self, now_ns: u64, estimate: u64, limit: u64) -> bool {
        self.roll(now_ns);
        self.input
            .saturating_add(self.output)
            .saturating_add(estimate)
            <= limit
    }

    pub fn spend(&mut self, now_ns: u64, input: u64, output: u64) {
        self.roll(now_ns);
        self.input = self.input.saturating_add(input);
        self.output = self.output.saturating_add(output);
    }

    /// (input, output) tokens spent today.
    pub fn today(&self, now_ns: u64) -> (u64, u64) {
        if now_ns / DAY_NS == self.day {
            (self.input, self.output)
        } else {
            (0, 0)
        }
    }

    fn roll(&mut self, now_ns: u64) {
        let day = now_ns / DAY_NS;
        if day != self.day {
            *self = Budget {
                day,
                input: 0,
                output: 0,
            };
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
        assert_eq!(
            b.today(NEXT_DAY),
            (0, 0),
            "reported as zero before any request"
        );
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
}
