//! The one retry schedule: the collector's shipper, the webhook stage and the LLM judge wait
//! by it after a failed attempt. Pure (it says how long; the caller sleeps), so each caller's
//! own rules (`Retry-After`, a deadline, an attempt limit) stay beside its loop.
//!
//! Invariant: the waits start at `first`, double after each failure and never pass `max`, for
//! any number of attempts (no overflow).

use std::time::Duration;

/// Exponential backoff without jitter: `first`, `2 first`, `4 first`, ..., at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait, whatever the doubling says.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Backoff { first, max }
    }

    /// The wait after failed attempt `attempt` (1-based; 0 counts as 1).
    pub fn after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(factor).min(self.max)
    }

    /// The waits after the first, second, ... failure, without end; a caller that succeeds
    /// starts again with a fresh `delays()`.
    pub fn delays(&self) -> Delays {
        Delays { backoff: *self, failures: 0 }
    }
}

/// The waits of a [`Backoff`], one per failure.
#[derive(Debug, Clone)]
pub struct Delays {
    backoff: Backoff,
    failures: u32,
}

impl Delays {
    /// The wait after one more failure (the iterator never ends, so this needs no `Option`).
    pub fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.backoff.after(self.failures)
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_wait())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn waits_double_from_first_and_stop_at_max() {
        let b = Backoff::new(20 * MS, 100 * MS);
        let waits: Vec<u128> = b.delays().take(6).map(|d| d.as_millis()).collect();
        assert_eq!(waits, [20, 40, 80, 100, 100, 100]);
        assert_eq!([0, 1, 2, 3].map(|a| b.after(a).as_millis()), [20, 20, 40, 80]);
    }

    #[test]
    fn no_attempt_count_overflows() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        for a in [32, 40, 64, 1000, u32::MAX] {
            assert_eq!(b.after(a), b.max, "attempt {a}");
        }
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.after(3), Duration::MAX);
        let mut d = b.delays();
        d.failures = u32::MAX - 1;
        assert_eq!((d.next(), d.next()), (Some(b.max), Some(b.max)));
    }
}
