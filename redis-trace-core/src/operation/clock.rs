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

/// When a call started and ended, read from the same clock so the span and the histogram
/// agree; a clock stepping back gives a zero, never a negative, duration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    started: WallTime,
    ended: WallTime,
    /// The end as read (the start when the clock stepped back): a span's end timestamp
    /// without converting back.
    ended_at: SystemTime,
}

impl Timing {
    /// A call that started at `started` and ends now.
    pub(super) fn ending_now(started: WallTime) -> Self {
        let now = SystemTime::now();
        let ended = WallTime::of(now);
        if ended < started {
            return Self {
                started,
                ended: started,
                ended_at: started.system_time(),
            };
        }
        Self {
            started,
            ended,
            ended_at: now,
        }
    }

    pub(super) fn seconds(&self) -> f64 {
        // Exact below 2^53 ns (104 days).
        #[allow(clippy::cast_precision_loss)]
        let nanos = (self.ended.0.get() - self.started.0.get()) as f64;
        nanos / 1e9
    }

    pub(super) fn started_at(&self) -> SystemTime {
        self.started.system_time()
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
        let future = WallTime::of(SystemTime::now() + Duration::from_secs(3_600));
        let timing = Timing::ending_now(future);
        assert_eq!(timing.seconds(), 0.0);
        assert_eq!(timing.ended_at(), timing.started_at());
    }

    #[test]
    fn the_duration_is_the_difference() {
        let started = WallTime::of(SystemTime::now() - Duration::from_millis(1_500));
        let timing = Timing::ending_now(started);
        assert!(
            (1.5..60.0).contains(&timing.seconds()),
            "{}",
            timing.seconds()
        );
        assert_eq!(timing.started_at(), started.system_time());
    }
}
