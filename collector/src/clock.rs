//! Boot-time to wall-clock conversion.
//!
//! The kernel stamps records with CLOCK_BOOTTIME (it keeps counting across suspend, unlike
//! CLOCK_MONOTONIC); events carry CLOCK_REALTIME nanoseconds. The offset between the two is
//! sampled when the clock is made and re-sampled on `refresh`, so a wall-clock step (NTP, a
//! manual change) shows up in later events instead of skewing the whole trace.

use rustix::time::{clock_gettime, ClockId};

/// Converts CLOCK_BOOTTIME nanoseconds to CLOCK_REALTIME nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// realtime - boottime, in nanoseconds.
    offset_ns: i128,
}

fn nanos(ts: rustix::time::Timespec) -> i128 {
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl Clock {
    /// A clock with a known offset (tests, replays).
    #[cfg(test)]
    pub(crate) fn with_offset(offset_ns: i128) -> Self {
        Clock { offset_ns }
    }

    /// Sample the offset now: the tightest of a few (boot, real, boot) readings.
    pub(crate) fn sample() -> Self {
        let mut best: Option<(i128, i128)> = None; // (gap, offset)
        for _ in 0..5 {
            let b0 = nanos(clock_gettime(ClockId::Boottime));
            let real = nanos(clock_gettime(ClockId::Realtime));
            let b1 = nanos(clock_gettime(ClockId::Boottime));
            let gap = b1 - b0;
            let offset = real - (b0 + gap / 2);
            if best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, offset));
            }
        }
        Clock { offset_ns: best.map_or(0, |(_, o)| o) }
    }

    /// Re-sample the offset (call now and then; cheap).
    pub(crate) fn refresh(&mut self) {
        *self = Clock::sample();
    }

    /// Wall-clock nanoseconds since the Unix epoch for a CLOCK_BOOTTIME reading.
    pub(crate) fn to_wall_ns(self, boot_ns: u64) -> u64 {
        let wall = i128::from(boot_ns) + self.offset_ns;
        wall.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// CLOCK_BOOTTIME now, in nanoseconds.
    pub(crate) fn boot_now_ns() -> u64 {
        nanos(clock_gettime(ClockId::Boottime)).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_with_offset_and_saturates() {
        let c = Clock::with_offset(1_000);
        assert_eq!(c.to_wall_ns(5), 1_005);
        assert_eq!(Clock::with_offset(-10).to_wall_ns(5), 0);
        assert_eq!(Clock::with_offset(10).to_wall_ns(u64::MAX), u64::MAX);
    }

    #[test]
    fn sampled_clock_agrees_with_system_time() {
        let clock = Clock::sample();
        let wall = clock.to_wall_ns(Clock::boot_now_ns());
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_nanos()
                as u64;
        let diff = now.abs_diff(wall);
        assert!(diff < 50_000_000, "boot->wall conversion off by {diff} ns");
    }
}
