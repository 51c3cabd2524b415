//! The wall clock an operation is timed by, kept in 8 bytes.

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall-clock instant as nanoseconds since the Unix epoch (until the year 2554): half a
/// `SystemTime`, and the guard that holds it lives in every traced future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WallTime(NonZeroU64);

impl WallTime {
    /// Now; a clock set before 1970 reads as the epoch's first nanosecond.
    pub(super) fn now() -> Self {
        Self::from(SystemTime::now())
    }

    pub(super) fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0.get())
    }
}

impl From<SystemTime> for WallTime {
    fn from(time: SystemTime) -> Self {
        let nanos = time.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        });
        Self(NonZeroU64::new(nanos).unwrap_or(NonZeroU64::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nanoseconds() {
        let time = UNIX_EPOCH + Duration::new(1_764_570_000, 123_456_789);
        assert_eq!(WallTime::from(time).system_time(), time);
    }

    #[test]
    fn a_clock_before_the_epoch_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            WallTime::from(before).system_time(),
            UNIX_EPOCH + Duration::from_nanos(1)
        );
    }
}
