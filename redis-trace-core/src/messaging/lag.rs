//! How far behind a stream consumer is: an entry id starts with its creation time in
//! milliseconds, so each entry's lag is known when it is received, without another command.

use std::time::{SystemTime, UNIX_EPOCH};

/// Ids before 2015-01-01 are not creation times but explicit ids (`1-1`, `42-0`): no lag.
const EARLIEST_MS: u64 = 1_420_070_400_000;
/// How far an id's time may be ahead of this clock (the server's clock differs): more is not
/// a creation time either.
const AHEAD_TOLERANCE_MS: u64 = 60_000;

/// The lag, in seconds, of the entry `id` received at `now`; `None` for an id that is not
/// time-based. An entry from a clock slightly ahead has no negative lag: 0.
pub(crate) fn lag_of(id: &str, now: SystemTime) -> Option<f64> {
    let millis: u64 = id
        .split_once('-')
        .map_or(id, |(millis, _)| millis)
        .parse()
        .ok()?;
    let now = u64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    if millis < EARLIEST_MS || millis > now.saturating_add(AHEAD_TOLERANCE_MS) {
        return None;
    }
    Some(now.saturating_sub(millis) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_based_ids_have_a_lag_and_explicit_ones_none() {
        let now = UNIX_EPOCH + Duration::from_millis(1_764_500_000_000);
        assert_eq!(lag_of("1764499998000-0", now), Some(2.0));
        assert_eq!(lag_of("1764499999500-7", now), Some(0.5));
        assert_eq!(
            lag_of("1764500030000-0", now),
            Some(0.0),
            "a clock slightly ahead"
        );
        assert_eq!(lag_of("1764600000000-0", now), None, "too far ahead");
        assert_eq!(lag_of("1-1", now), None, "an explicit id");
        assert_eq!(lag_of("not-an-id", now), None);
        assert_eq!(lag_of("", now), None);
    }
}
