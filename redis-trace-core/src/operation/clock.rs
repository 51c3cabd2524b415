//! The wall clock an operation is timed by, kept in 8 bytes.

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall-clock instant as nanoseconds since the Unix epoch (until the year 2554): half a
/// `SystemTime`, and the guard that holds it lives in every traced future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct WallTime(NonZeroU64);

impl WallTime {
    /// The instant `time`; a clock set before 1970 reads as the epoch's first nanosecond.
    pub(super) fn of(time: SystemTime) -> Self {
        let nanos = time.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        });
        Self(NonZeroU64::new(nanos).unwrap_or(NonZeroU64::MIN))
    }

    pub(super) fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0.get())
    }
}

/// How long a call took and when it ended, read from the same clock as its start so the span
/// and the histogram agree; a clock stepping back gives a zero, never a negative, duration
/// (and an end at the start).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    seconds: f64,
    ended_at: SystemTime,
}

impl Timing {
    /// A call that started at `started` (an annotated function's 8-byte start) and ends now.
    pub(super) fn ending_now(started: WallTime) -> Self {
        let now = SystemTime::now();
        let ended = WallTime::of(now);
        if ended < started {
            return Self {
                seconds: 0.0,
                ended_at: started.system_time(),
            };
        }
        // Exact below 2^53 ns (104 days).
        #[allow(clippy::cast_precision_loss)]
        let nanos = (ended.0.get() - started.0.get()) as f64;
        Self {
            seconds: nanos / 1e9,
            ended_at: now,
        }
    }

    /// A call that started at `started` (a command's start, kept whole in its description:
    /// one subtraction instead of two conversions) and ends now.
    pub(super) fn since(started: SystemTime) -> Self {
        let now = SystemTime::now();
        match now.duration_since(started) {
            Ok(elapsed) => Self {
                seconds: elapsed.as_secs_f64(),
                ended_at: now,
            },
            Err(_) => Self {
                seconds: 0.0,
                ended_at: started,
            },
        }
    }

    pub(super) fn seconds(&self) -> f64 {
        self.seconds
    }

    pub(super) fn ended_at(&self) -> SystemTime {
        self.ended_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nanoseconds() {
        let time = UNIX_EPOCH + Duration::new(1_764_570_000, 123_456_789);
        assert_eq!(WallTime::of(time).system_time(), time);
    }

    #[test]
    fn a_clock_before_the_epoch_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            WallTime::of(before).system_time(),
            UNIX_EPOCH + Duration::from_nanos(1)
        );
    }

    #[test]
    fn a_clock_stepping_back_gives_a_zero_duration() {
        let later = SystemTime::now() + Duration::from_secs(3_600);
        let timing = Timing::ending_now(WallTime::of(later));
        assert_eq!(timing.seconds(), 0.0);
        assert_eq!(timing.ended_at(), WallTime::of(later).system_time());
        let timing = Timing::since(later);
        assert_eq!(timing.seconds(), 0.0);
        assert_eq!(timing.ended_at(), later);
    }

    #[test]
    fn the_duration_is_the_difference() {
        let started = SystemTime::now() - Duration::from_millis(1_500);
        for timing in [
            Timing::ending_now(WallTime::of(started)),
            Timing::since(started),
        ] {
            assert!(
                (1.5..60.0).contains(&timing.seconds()),
                "{}",
                timing.seconds()
            );
            let elapsed = timing.ended_at().duration_since(started).unwrap();
            assert!((elapsed.as_secs_f64() - timing.seconds()).abs() < 1e-6);
        }
    }
}
